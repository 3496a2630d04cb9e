/* test_model_quality.c — does the shipped ldm-shapes model still draw what
 * its captions say? (label slow)
 *
 * Generates the first `captions_per_kind` held-out captions of each kind
 * (tests/fixtures/eval/heldout_captions.txt = evaluate.test_captions()) for
 * seeds 0..seeds-1, `steps` steps of the folder's scheduler (DDIM), eta 0,
 * one thread, and asserts each overall accuracy ≥ its minimum.
 *
 * Model: models/ldm-shapes/ of this tree, or $LDM_SHAPES_MODEL; absent →
 * skipped (77). Settings: <model>/eval_thresholds.json, or
 * $LDM_SHAPES_THRESHOLDS; every key optional:
 *   {"guidance": 5, "captions_per_kind": 8, "seeds": 2, "steps": 50,
 *    "min_accuracy": {"background": 0.9, "colour": 0.8, "shape": 0.6,     (example numbers)
 *                     "count": 0.6, "placement": 0.4}}
 * min_accuracy keys are evaluate.ATTRS names (others are an error); an
 * attribute without one is printed, not asserted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/file.h"
#include "eval_run.h"
#include "harness.h"
#include "io/config.h"
#include "kernels/threads.h"

typedef struct settings {
    double guidance;
    long long per_kind, seeds, steps;
    double min[LDM_EVAL_ATTRS]; /* < 0: not asserted */
} settings;

static ldm_status read_settings(const char *path, settings *s)
{
    ldm_status st = LDM_OK;
    ldm_config cfg = { 0 };
    *s = (settings){ .guidance = 5.0, .per_kind = 8, .seeds = 2, .steps = 50 };
    for (int a = 0; a < LDM_EVAL_ATTRS; a++)
        s->min[a] = -1.0;
    if (!ldm_is_file(path))
        return LDM_OK;
    LDM_CHECK(ldm_config_load(path, &cfg));
    LDM_CHECK(ldm_config_double(&cfg, "guidance", 5.0, &s->guidance));
    LDM_CHECK(ldm_config_int(&cfg, "captions_per_kind", 8, &s->per_kind));
    LDM_CHECK(ldm_config_int(&cfg, "seeds", 2, &s->seeds));
    LDM_CHECK(ldm_config_int(&cfg, "steps", 50, &s->steps));
    if (s->per_kind < 1 || s->per_kind > 32 || s->seeds < 1 || s->seeds > 64 || s->steps < 1) {
        st = ldm_error(LDM_EINPUT, "%s: captions_per_kind must be 1..32, seeds 1..64, steps >= 1", path);
        goto cleanup;
    }
    const cJSON *mins = cJSON_GetObjectItemCaseSensitive(cfg.root, "min_accuracy");
    if (mins && !cJSON_IsObject(mins) && !cJSON_IsNull(mins)) {
        st = ldm_error(LDM_EINPUT, "%s: \"min_accuracy\" must be an object", path);
        goto cleanup;
    }
    for (const cJSON *m = cJSON_IsObject(mins) ? mins->child : NULL; m; m = m->next) {
        int a = 0;
        while (a < LDM_EVAL_ATTRS && strcmp(m->string, ldm_eval_attr_name((ldm_eval_attr)a)) != 0)
            a++;
        if (a == LDM_EVAL_ATTRS) {
            st = ldm_error(LDM_EINPUT, "%s: \"min_accuracy\": unknown attribute \"%s\" (background, colour, "
                           "shape, count, placement)", path, m->string);
            goto cleanup;
        }
        if (!cJSON_IsNumber(m) || !(m->valuedouble >= 0.0 && m->valuedouble <= 1.0)) {
            st = ldm_error(LDM_EINPUT, "%s: \"min_accuracy\".\"%s\" must be a number from 0 to 1", path,
                           m->string);
            goto cleanup;
        }
        s->min[a] = m->valuedouble;
    }
cleanup:
    ldm_config_free(&cfg);
    return st;
}

static void on_image(void *ctx, int ci, uint64_t seed, const uint8_t *rgb, int w, int h,
                     const ldm_eval_analysis *an, const ldm_eval_score *s)
{
    const ldm_eval_captions *caps = ctx;
    char label[32];
    (void)rgb, (void)w, (void)h;
    snprintf(label, sizeof label, "seed %llu #%d", (unsigned long long)seed, ci);
    ldm_eval_print_image(stdout, label, caps->text[ci], an, s);
}

int main(void)
{
    const char *model = getenv("LDM_SHAPES_MODEL");
    char *index = NULL, *thresholds = NULL;
    model = model && *model ? model : LDM_FIXTURES "/../../models/ldm-shapes";
    if (ldm_path_join(model, "model_index.json", &index) != LDM_OK || !ldm_is_file(index)) {
        printf("skipped: %s has no model_index.json (the trained ldm-shapes model is not in this tree)\n", model);
        ldm_free(index);
        return 77;
    }
    ldm_free(index);
    const char *tpath = getenv("LDM_SHAPES_THRESHOLDS");
    if (!(tpath && *tpath)) {
        CHECK(ldm_path_join(model, "eval_thresholds.json", &thresholds) == LDM_OK);
        tpath = thresholds;
    }
    settings set;
    ldm_status st = read_settings(tpath, &set);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st != LDM_OK)
        return ldm_test_finish();
    if (!ldm_is_file(tpath))
        printf("note: no %s: guidance 5, nothing asserted beyond running\n", tpath);

    ldm_kernels_set_threads(1);
    ldm_eval_captions caps;
    ldm_pipeline *p = NULL;
    st = ldm_eval_captions_read(LDM_FIXTURES "/eval/heldout_captions.txt", (int)set.per_kind, &caps);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st == LDM_OK) {
        st = ldm_pipeline_open(model, &p);
        CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    }
    if (st != LDM_OK) {
        ldm_free(thresholds);
        return ldm_test_finish();
    }
    uint64_t seeds[64];
    for (int s = 0; s < set.seeds; s++)
        seeds[s] = (uint64_t)s;
    ldm_eval_gen g = { .model_dir = model, .steps = (int)set.steps, .guidance = set.guidance,
                       .seeds = seeds, .n_seeds = (int)set.seeds, .batch = 8 };
    ldm_eval_tally t = { 0 };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    printf("%s: %d captions x %lld seeds, %lld steps, guidance %g, 1 thread\n", model, caps.n, set.seeds,
           set.steps, set.guidance);
    st = ldm_eval_generate(p, &g, &caps, on_image, &caps, &t);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    char label[32];
    snprintf(label, sizeof label, "%g", set.guidance);
    ldm_eval_print_table(stdout, label, &t, 1, 1);
    printf("%.1f s\n", (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    CHECK(ldm_eval_tally_judged(&t, -1, LDM_EVAL_ATTR_BACKGROUND) == (int64_t)caps.n * set.seeds);
    for (int a = 0; a < LDM_EVAL_ATTRS; a++) {
        if (set.min[a] < 0)
            continue;
        double acc = ldm_eval_tally_accuracy(&t, -1, (ldm_eval_attr)a);
        CHECK_MSG(acc >= set.min[a], "%s accuracy %.3f < %.3f (%s)", ldm_eval_attr_name((ldm_eval_attr)a), acc,
                  set.min[a], tpath);
    }
    ldm_pipeline_close(&p);
    ldm_eval_captions_free(&caps);
    ldm_free(thresholds);
    return ldm_test_finish();
}
