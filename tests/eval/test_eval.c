/* test_eval.c — the C evaluator against tools/train/evaluate.py.
 *
 * tests/fixtures/eval/judgments.json (tools/reference/make_eval_goldens.py)
 * holds evaluate.py's analysis and judgments of 50-odd images; every one must
 * come out identical here: background, objects (colour, shape, area, and the
 * centroid and fill as the same doubles), the five judgments, and the
 * summaries. Plus the caption grammar (all held-out captions, variants, and
 * one message per kind of bad caption) and the analysis' bad inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "eval_run.h"
#include "harness.h"
#include "io/config.h"
#include "io/png.h"

#define DIR LDM_FIXTURES "/eval"

static int colour_index(const char *name)
{
    for (int i = 0; i < LDM_EVAL_COLOURS; i++)
        if (name && strcmp(name, ldm_eval_colour_name(i)) == 0)
            return i;
    return -1;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* The tables of data.py / evaluate.py the fixtures were made with. */
static void test_tables(const cJSON *root)
{
    CHECK(num(root, "min_area") == LDM_EVAL_MIN_AREA);
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(root, "colours");
    CHECK(cJSON_GetArraySize(cols) == LDM_EVAL_COLOURS);
    int i = 0;
    for (const cJSON *c = cols ? cols->child : NULL; c; c = c->next, i++) {
        CHECK_MSG(i < LDM_EVAL_COLOURS && strcmp(c->string, ldm_eval_colour_name(i)) == 0,
                  "colour %d is \"%s\"", i, c->string);
        for (int ch = 0; ch < 3 && i < LDM_EVAL_COLOURS; ch++)
            CHECK(cJSON_GetArrayItem(c, ch)->valueint == ldm_eval_palette[i][ch]);
    }
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(root, "attributes");
    CHECK(cJSON_GetArraySize(attrs) == LDM_EVAL_ATTRS);
    for (int a = 0; a < LDM_EVAL_ATTRS; a++)
        CHECK(strcmp(cJSON_GetArrayItem(attrs, a)->valuestring, ldm_eval_attr_name((ldm_eval_attr)a)) == 0);
}

/* One fixture image: analysis and judgments identical to evaluate.py's. */
static void test_file(const cJSON *f, ldm_eval_tally *tally)
{
    const char *file = str(f, "file"), *caption = str(f, "caption");
    char *path = NULL, *got_caption = NULL;
    ldm_eval_caption c;
    ldm_eval_analysis an;
    ldm_eval_score s;
    CHECK(file && caption);
    CHECK(ldm_path_join(DIR, file, &path) == LDM_OK);
    ldm_status st = ldm_eval_png(path, &got_caption, &c, &an, &s);
    CHECK_MSG(st == LDM_OK, "%s: %s", file, ldm_error_message());
    ldm_free(path);
    if (st != LDM_OK)
        return;
    CHECK_MSG(strcmp(got_caption, caption) == 0, "%s: prompt chunk \"%s\"", file, got_caption);
    CHECK_MSG(strcmp(ldm_eval_kind_name(c.kind), str(f, "kind")) == 0, "%s: kind %s", file,
              ldm_eval_kind_name(c.kind));
    CHECK_MSG(an.background == colour_index(str(f, "background")), "%s: background %s, evaluate.py %s", file,
              ldm_eval_colour_name(an.background), str(f, "background"));
    const cJSON *objs = cJSON_GetObjectItemCaseSensitive(f, "objects");
    CHECK_MSG(an.n_objects == cJSON_GetArraySize(objs), "%s: %d objects, evaluate.py %d", file, an.n_objects,
              cJSON_GetArraySize(objs));
    for (int i = 0; i < an.n_objects && i < cJSON_GetArraySize(objs); i++) {
        const cJSON *o = cJSON_GetArrayItem(objs, i);
        const ldm_eval_object *g = &an.objects[i];
        CHECK_MSG(g->colour == colour_index(str(o, "colour")) &&
                  strcmp(ldm_eval_shape_name(g->shape), str(o, "shape")) == 0 &&
                  (double)g->area == num(o, "area") && g->cx == num(o, "cx") && g->cy == num(o, "cy") &&
                  g->fill == num(o, "fill"),
                  "%s object %d: %s %s %lld (%.17g, %.17g) fill %.17g; evaluate.py %s %s %g (%.17g, %.17g) "
                  "fill %.17g", file, i, ldm_eval_colour_name(g->colour), ldm_eval_shape_name(g->shape),
                  (long long)g->area, g->cx, g->cy, g->fill, str(o, "colour"), str(o, "shape"),
                  num(o, "area"), num(o, "cx"), num(o, "cy"), num(o, "fill"));
    }
    const cJSON *score = cJSON_GetObjectItemCaseSensitive(f, "score");
    for (int a = 0; a < LDM_EVAL_ATTRS; a++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(score, ldm_eval_attr_name((ldm_eval_attr)a));
        int want = v ? cJSON_IsTrue(v) : -1;
        CHECK_MSG(s.ok[a] == want, "%s: %s %d, evaluate.py %d", file, ldm_eval_attr_name((ldm_eval_attr)a),
                  s.ok[a], want);
    }
    ldm_eval_tally_add(tally, c.kind, &s);
    ldm_eval_analysis_free(&an);
    ldm_free(got_caption);
}

static void check_summary(const cJSON *sum, const ldm_eval_tally *t, int kind, const char *what)
{
    for (int a = 0; a < LDM_EVAL_ATTRS; a++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(sum, ldm_eval_attr_name((ldm_eval_attr)a));
        double got = ldm_eval_tally_accuracy(t, kind, (ldm_eval_attr)a);
        if (cJSON_IsNull(v))
            CHECK_MSG(isnan(got), "%s %s: %g, evaluate.py NaN", what, ldm_eval_attr_name((ldm_eval_attr)a), got);
        else
            CHECK_MSG(cJSON_IsNumber(v) && got == v->valuedouble, "%s %s: %.17g, evaluate.py %.17g", what,
                      ldm_eval_attr_name((ldm_eval_attr)a), got, v ? v->valuedouble : NAN);
    }
}

static void test_goldens(void)
{
    ldm_config cfg;
    ldm_eval_tally t = { 0 };
    ldm_status st = ldm_config_load(DIR "/judgments.json", &cfg);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st != LDM_OK)
        return;
    test_tables(cfg.root);
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(cfg.root, "files");
    CHECK(cJSON_GetArraySize(files) >= 40);
    for (const cJSON *f = files ? files->child : NULL; f; f = f->next)
        test_file(f, &t);
    check_summary(cJSON_GetObjectItemCaseSensitive(cfg.root, "summary"), &t, -1, "summary");
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(cfg.root, "per_kind");
    for (int k = 0; k < LDM_EVAL_KINDS; k++)
        check_summary(cJSON_GetObjectItemCaseSensitive(pk, ldm_eval_kind_name((ldm_eval_kind)k)), &t, k,
                      ldm_eval_kind_name((ldm_eval_kind)k));
    ldm_config_free(&cfg);
}

static void test_heldout_captions(void)
{
    ldm_eval_captions caps;
    ldm_status st = ldm_eval_captions_read(DIR "/heldout_captions.txt", 0, &caps);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st != LDM_OK)
        return;
    CHECK(caps.n == 96);
    for (int i = 0; i < caps.n; i++) /* 32 of each kind, in data.KINDS order */
        CHECK_MSG(caps.parsed[i].kind == (ldm_eval_kind)(i / 32), "caption %d \"%s\"", i, caps.text[i]);
    ldm_eval_captions_free(&caps);
    st = ldm_eval_captions_read(DIR "/heldout_captions.txt", 4, &caps);
    CHECK(st == LDM_OK && caps.n == 12);
    for (int i = 0; st == LDM_OK && i < caps.n; i++)
        CHECK(caps.parsed[i].kind == (ldm_eval_kind)(i / 4));
    ldm_eval_captions_free(&caps);
    CHECK_FAILS_WITH(ldm_eval_captions_read("/nonexistent/caps.txt", 0, &caps), LDM_EINPUT,
                     "/nonexistent/caps.txt");
}

static void test_grammar(void)
{
    ldm_eval_caption c;
    CHECK(ldm_eval_parse_caption("a red circle on a blue background", &c) == LDM_OK);
    CHECK(c.kind == LDM_EVAL_KIND_SINGLE && c.count == 1 && c.colour[0] == 0 &&
          c.shape[0] == LDM_EVAL_SHAPE_CIRCLE && c.background == 2 && c.relation == LDM_EVAL_REL_NONE);
    CHECK(ldm_eval_parse_caption("  Three ORANGE Triangles\ton an  orange background\n", &c) == LDM_OK);
    CHECK(c.kind == LDM_EVAL_KIND_COUNT && c.count == 3 && c.colour[0] == 7 &&
          c.shape[0] == LDM_EVAL_SHAPE_TRIANGLE && c.background == 7);
    CHECK(ldm_eval_parse_caption("two white squares on a black background", &c) == LDM_OK);
    CHECK(c.kind == LDM_EVAL_KIND_COUNT && c.count == 2 && c.colour[0] == 4 && c.shape[0] == LDM_EVAL_SHAPE_SQUARE);
    CHECK(ldm_eval_parse_caption("a yellow triangle left of a green square on a black background", &c) == LDM_OK);
    CHECK(c.kind == LDM_EVAL_KIND_PAIR && c.count == 2 && c.colour[0] == 3 && c.shape[0] == LDM_EVAL_SHAPE_TRIANGLE &&
          c.relation == LDM_EVAL_REL_LEFT_OF && c.colour[1] == 1 && c.shape[1] == LDM_EVAL_SHAPE_SQUARE &&
          c.background == 5);
    const char *rels[] = { "right of", "above", "below" };
    for (int r = 0; r < 3; r++) {
        char buf[128];
        snprintf(buf, sizeof buf, "an orange circle %s a purple circle on a white background", rels[r]);
        CHECK(ldm_eval_parse_caption(buf, &c) == LDM_OK && (int)c.relation == LDM_EVAL_REL_RIGHT_OF + r &&
              c.colour[0] == 7 && c.colour[1] == 6);
    }
    CHECK_FAILS_WITH(ldm_eval_parse_caption("", &c), LDM_EINPUT, "caption \"\": empty");
    CHECK_FAILS_WITH(ldm_eval_parse_caption("one red circle on a blue background", &c), LDM_EINPUT,
                     "word 1 \"one\": expected \"a\", \"an\", \"two\" or \"three\"");
    CHECK_FAILS_WITH(ldm_eval_parse_caption("a pink circle on a blue background", &c), LDM_EINPUT,
                     "word 2 \"pink\": expected a colour (red, green");
    CHECK_FAILS_WITH(ldm_eval_parse_caption("a red circles on a blue background", &c), LDM_EINPUT,
                     "word 3 \"circles\": expected a shape (circle, square, triangle)");
    CHECK_FAILS_WITH(ldm_eval_parse_caption("two red circle on a blue background", &c), LDM_EINPUT,
                     "word 3 \"circle\": expected a plural shape");
    CHECK_FAILS_WITH(ldm_eval_parse_caption("a red circle near a blue square on a white background", &c), LDM_EINPUT,
                     "word 4 \"near\": expected \"on\" or a relation");
    CHECK_FAILS_WITH(ldm_eval_parse_caption("a red circle left a blue square on a white background", &c), LDM_EINPUT,
                     "word 5 \"a\": expected \"of\"");
    CHECK_FAILS_WITH(ldm_eval_parse_caption("a red circle on a blue", &c), LDM_EINPUT,
                     "ends after word 6, expected \"background\"");
    CHECK_FAILS_WITH(ldm_eval_parse_caption("a red circle on a blue background please", &c), LDM_EINPUT,
                     "word 8 \"please\": expected the end after \"background\"");
    CHECK_FAILS_WITH(ldm_eval_parse_caption("a red circle", &c), LDM_EINPUT,
                     "ends after word 3, expected \"on\" or a relation");
    CHECK_FAILS_WITH(ldm_eval_parse_caption("a a a a a a a a a a a a a a a a a", &c), LDM_EINPUT,
                     "more than 16 words");
    char long_text[600];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    CHECK_FAILS_WITH(ldm_eval_parse_caption(long_text, &c), LDM_EINPUT, "longer than 512 bytes");
}

static void test_rules(void)
{
    /* Rule 1 ties: exact midpoints go to the first name. */
    CHECK(ldm_eval_nearest_colour(125, 100, 35) == 0);  /* red | green */
    CHECK(ldm_eval_nearest_colour(30, 115, 130) == 1);  /* green | blue */
    CHECK(ldm_eval_nearest_colour(85, 50, 200) == 2);   /* blue | purple */
    CHECK(ldm_eval_nearest_colour(0, 0, 0) == 5);
    for (int i = 0; i < LDM_EVAL_COLOURS; i++)
        CHECK(ldm_eval_nearest_colour(ldm_eval_palette[i][0], ldm_eval_palette[i][1], ldm_eval_palette[i][2]) == i);

    /* A 1x1 image: its pixel is the whole border (counted twice, as numpy does). */
    uint8_t px[3] = { 250, 140, 20 };
    ldm_eval_analysis an;
    CHECK(ldm_eval_analyse(px, 1, 1, &an) == LDM_OK && an.background == 7 && an.n_objects == 0);
    ldm_eval_analysis_free(&an);
    ldm_eval_analysis_free(&an); /* twice is fine */
    ldm_eval_analysis_free(NULL);

    CHECK_FAILS_WITH(ldm_eval_analyse(px, 0, 1, &an), LDM_EINPUT, "image size 0x1");
    CHECK_FAILS_WITH(ldm_eval_analyse(px, 1, 5000, &an), LDM_EINPUT, "expected sides from 1 to 4096");
    ldm_alloc_fail_after(3);
    CHECK_FAILS_WITH(ldm_eval_analyse(px, 1, 1, &an), LDM_ERUNTIME, "flood-fill stack");
    ldm_alloc_fail_after(0);
    CHECK(an.objects == NULL && an.n_objects == 0);

    /* Scores of an analysis with no objects: nothing but the background can be right. */
    ldm_eval_caption c;
    ldm_eval_score s;
    ldm_eval_analysis none = { .background = 2 };
    CHECK(ldm_eval_parse_caption("a red circle below a green circle on a blue background", &c) == LDM_OK);
    ldm_eval_score_image(&c, &none, &s);
    CHECK(s.ok[0] == 1 && s.ok[1] == 0 && s.ok[2] == 0 && s.ok[3] == 0 && s.ok[4] == 0);
    ldm_eval_tally t = { 0 };
    CHECK(isnan(ldm_eval_tally_accuracy(&t, -1, LDM_EVAL_ATTR_BACKGROUND)));
    ldm_eval_tally_add(&t, c.kind, &s);
    CHECK(ldm_eval_tally_accuracy(&t, -1, LDM_EVAL_ATTR_BACKGROUND) == 1.0);
    CHECK(ldm_eval_tally_accuracy(&t, LDM_EVAL_KIND_PAIR, LDM_EVAL_ATTR_PLACEMENT) == 0.0);
    CHECK(isnan(ldm_eval_tally_accuracy(&t, LDM_EVAL_KIND_SINGLE, LDM_EVAL_ATTR_BACKGROUND)));
    CHECK(ldm_eval_colour_name(8) == NULL && ldm_eval_shape_name(LDM_EVAL_SHAPES) == NULL);
}

static void test_png_errors(void)
{
    char *cap;
    ldm_eval_caption c;
    ldm_eval_analysis an;
    ldm_eval_score s;
    CHECK_FAILS_WITH(ldm_eval_png("/nonexistent/x.png", &cap, &c, &an, &s), LDM_EINPUT, "/nonexistent/x.png");
    CHECK_FAILS_WITH(ldm_eval_png(DIR "/judgments.json", &cap, &c, &an, &s), LDM_EINPUT, "judgments.json");
    /* A PNG without a prompt, and one whose prompt is not a caption. */
    uint8_t rgb[8 * 8 * 3] = { 0 };
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", LDM_TEST_TMP);
    CHECK(system(cmd) == 0);
    ldm_png_text bad = { "prompt", "a painting of a squirrel" };
    CHECK(ldm_png_write(LDM_TEST_TMP "/none.png", rgb, 8, 8, NULL, 0) == LDM_OK);
    CHECK(ldm_png_write(LDM_TEST_TMP "/bad.png", rgb, 8, 8, &bad, 1) == LDM_OK);
    CHECK_FAILS_WITH(ldm_eval_png(LDM_TEST_TMP "/none.png", &cap, &c, &an, &s), LDM_EINPUT,
                     "none.png: no \"prompt\" text chunk");
    CHECK_FAILS_WITH(ldm_eval_png(LDM_TEST_TMP "/bad.png", &cap, &c, &an, &s), LDM_EINPUT,
                     "bad.png: caption \"a painting of a squirrel\": word 2 \"painting\": expected a colour");
}

int main(void)
{
    test_goldens();
    test_heldout_captions();
    test_grammar();
    test_rules();
    test_png_errors();
    return ldm_test_finish();
}
