/* eval_run.c — captions files, PNG judging, generation and printed tables
 * for the ldm-shapes evaluator. */
#include "eval_run.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "io/model_folder.h"
#include "io/png.h"
#include "sample/rng.h"

void ldm_eval_captions_free(ldm_eval_captions *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++)
        ldm_free(c->text[i]);
    ldm_free(c->text);
    ldm_free(c->parsed);
    memset(c, 0, sizeof *c);
}

ldm_status ldm_eval_captions_read(const char *path, int per_kind, ldm_eval_captions *out)
{
    ldm_status st = LDM_OK;
    char *data = NULL;
    size_t len = 0;
    ldm_eval_captions c = { 0 };
    int kept[LDM_EVAL_KINDS] = { 0 };
    memset(out, 0, sizeof *out);
    LDM_CHECK(ldm_read_file(path, &data, &len));
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += data[i] == '\n';
    LDM_CHECK(ldm_calloc(lines * sizeof *c.text, "captions", (void **)&c.text));
    LDM_CHECK(ldm_calloc(lines * sizeof *c.parsed, "parsed captions", (void **)&c.parsed));
    int lineno = 0;
    for (char *line = data; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
            line[--n] = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line && *line != '#') {
            ldm_eval_caption cap;
            st = ldm_eval_parse_caption(line, &cap);
            if (st != LDM_OK) {
                ldm_error_context("%s:%d: ", path, lineno);
                goto cleanup;
            }
            if (per_kind <= 0 || kept[cap.kind] < per_kind) {
                kept[cap.kind]++;
                LDM_CHECK(ldm_strdup(line, &c.text[c.n]));
                c.parsed[c.n++] = cap;
            }
        }
        line = next;
    }
    if (c.n == 0) {
        st = ldm_error(LDM_EINPUT, "%s: no captions", path);
        goto cleanup;
    }
    *out = c;
    memset(&c, 0, sizeof c);
cleanup:
    ldm_eval_captions_free(&c);
    ldm_free(data);
    return st;
}

ldm_status ldm_eval_png(const char *path, char **caption, ldm_eval_caption *parsed,
                        ldm_eval_analysis *an, ldm_eval_score *score)
{
    ldm_status st = LDM_OK;
    uint8_t *rgb = NULL;
    ldm_png_text *texts = NULL;
    int w = 0, h = 0, nt = 0;
    const char *prompt = NULL;
    *caption = NULL;
    memset(an, 0, sizeof *an);
    LDM_CHECK(ldm_png_read(path, &rgb, &w, &h, &texts, &nt));
    for (int i = 0; i < nt && !prompt; i++)
        if (strcmp(texts[i].key, "prompt") == 0)
            prompt = texts[i].value;
    if (!prompt) {
        st = ldm_error(LDM_EINPUT, "%s: no \"prompt\" text chunk (the caption to judge against)", path);
        goto cleanup;
    }
    st = ldm_eval_parse_caption(prompt, parsed);
    if (st != LDM_OK) {
        ldm_error_context("%s: ", path);
        goto cleanup;
    }
    st = ldm_eval_analyse(rgb, w, h, an);
    if (st != LDM_OK) {
        ldm_error_context("%s: ", path);
        goto cleanup;
    }
    ldm_eval_score_image(parsed, an, score);
    LDM_CHECK(ldm_strdup(prompt, caption));
cleanup:
    if (st != LDM_OK)
        ldm_eval_analysis_free(an);
    ldm_png_texts_free(texts, nt);
    ldm_free(rgb);
    return st;
}

/* unet in_channels of the folder (diffusers' default 4). */
static ldm_status latent_channels(const char *model_dir, long long *out)
{
    ldm_status st = LDM_OK;
    ldm_model_folder *mf = NULL;
    const ldm_component *unet = NULL;
    LDM_CHECK(ldm_model_folder_open(model_dir, &mf));
    LDM_CHECK(ldm_model_folder_component(mf, "unet", &unet));
    LDM_CHECK(ldm_config_int(&unet->config, "in_channels", 4, out));
cleanup:
    ldm_model_folder_close(&mf);
    return st;
}

ldm_status ldm_eval_generate(ldm_pipeline *p, const ldm_eval_gen *g, const ldm_eval_captions *caps,
                             ldm_eval_image_fn fn, void *ctx, ldm_eval_tally *tally)
{
    ldm_status st = LDM_OK;
    const char **prompts = NULL;
    float *latents = NULL;
    uint8_t *images = NULL;
    ldm_eval_analysis an = { 0 };
    long long channels = 4;
    int height, width, count, oh, ow;
    if (g->batch < 1 || g->n_seeds < 1 || g->steps < 1)
        return ldm_error(LDM_EINPUT, "evaluation: batch, seeds and steps must be at least 1");
    LDM_CHECK(latent_channels(g->model_dir, &channels));
    ldm_pipeline_default_size(p, &height, &width);
    height = g->height ? g->height : height;
    width = g->width ? g->width : width;
    const int64_t per = (int64_t)channels * (height / 8) * (width / 8); /* latents per image */
    ldm_txt2img_request req = {
        .images_per_prompt = 1, .steps = g->steps, .guidance_scale = g->guidance, .eta = 0.0,
        .height = height, .width = width, .scheduler = g->scheduler,
    };
    req.n_prompts = g->batch;
    LDM_CHECK(ldm_pipeline_output_shape(p, &req, &count, &oh, &ow));
    const size_t image_bytes = (size_t)oh * (size_t)ow * 3;
    LDM_CHECK(ldm_alloc((size_t)g->batch * sizeof *prompts, "prompt list", (void **)&prompts));
    LDM_CHECK(ldm_alloc((size_t)g->batch * (size_t)per * sizeof *latents, "latents", (void **)&latents));
    LDM_CHECK(ldm_alloc((size_t)g->batch * image_bytes, "images", (void **)&images));

    const int64_t jobs = (int64_t)g->n_seeds * caps->n;
    for (int64_t first = 0; first < jobs; first += g->batch) {
        int chunk = (int)(jobs - first < g->batch ? jobs - first : g->batch);
        for (int k = 0; k < chunk; k++) {
            int64_t j = first + k;
            ldm_rng rng;
            ldm_rng_seed(&rng, g->seeds[j / caps->n]);
            ldm_rng_randn_f32(&rng, latents + k * per, per);
            prompts[k] = caps->text[j % caps->n];
        }
        req.prompts = prompts;
        req.n_prompts = chunk;
        req.latents = latents;
        req.latents_count = chunk * per;
        ldm_txt2img_output out = { .images = images };
        LDM_CHECK(ldm_pipeline_txt2img(p, &req, NULL, NULL, &out));
        for (int k = 0; k < chunk; k++) {
            int64_t j = first + k;
            int ci = (int)(j % caps->n);
            ldm_eval_score s;
            LDM_CHECK(ldm_eval_analyse(images + k * image_bytes, ow, oh, &an));
            ldm_eval_score_image(&caps->parsed[ci], &an, &s);
            ldm_eval_tally_add(tally, caps->parsed[ci].kind, &s);
            if (fn)
                fn(ctx, ci, g->seeds[j / caps->n], images + k * image_bytes, ow, oh, &an, &s);
            ldm_eval_analysis_free(&an);
        }
    }
cleanup:
    ldm_eval_analysis_free(&an);
    ldm_free(images);
    ldm_free(latents);
    ldm_free(prompts);
    return st;
}

static void print_row(FILE *f, const char *label, const char *kind, const ldm_eval_tally *t, int k)
{
    fprintf(f, "| %s | %s | %lld |", label, kind,
            (long long)ldm_eval_tally_judged(t, k, LDM_EVAL_ATTR_BACKGROUND));
    for (int a = 0; a < LDM_EVAL_ATTRS; a++) {
        double v = ldm_eval_tally_accuracy(t, k, (ldm_eval_attr)a);
        if (isnan(v))
            fprintf(f, " - |");
        else
            fprintf(f, " %.1f%% |", 100.0 * v);
    }
    fputc('\n', f);
}

void ldm_eval_print_table(FILE *f, const char *label, const ldm_eval_tally *t, int header, int per_kind)
{
    if (header) {
        fprintf(f, "| guidance | kind | images |");
        for (int a = 0; a < LDM_EVAL_ATTRS; a++)
            fprintf(f, " %s |", ldm_eval_attr_name((ldm_eval_attr)a));
        fprintf(f, "\n|---|---|---|");
        for (int a = 0; a < LDM_EVAL_ATTRS; a++)
            fprintf(f, "---|");
        fputc('\n', f);
    }
    print_row(f, label, "all", t, -1);
    for (int k = 0; per_kind && k < LDM_EVAL_KINDS; k++)
        if (ldm_eval_tally_judged(t, k, LDM_EVAL_ATTR_BACKGROUND) > 0)
            print_row(f, label, ldm_eval_kind_name((ldm_eval_kind)k), t, k);
}

double ldm_eval_tally_mean(const ldm_eval_tally *t)
{
    double sum = 0.0;
    int n = 0;
    for (int a = 0; a < LDM_EVAL_ATTRS; a++) {
        double v = ldm_eval_tally_accuracy(t, -1, (ldm_eval_attr)a);
        if (!isnan(v)) {
            sum += v;
            n++;
        }
    }
    return n ? sum / n : NAN;
}

void ldm_eval_print_image(FILE *f, const char *label, const char *caption, const ldm_eval_analysis *an,
                          const ldm_eval_score *s)
{
    fprintf(f, "%s", label);
    for (int a = 0; a < LDM_EVAL_ATTRS; a++)
        fprintf(f, " %s=%s", ldm_eval_attr_name((ldm_eval_attr)a),
                s->ok[a] < 0 ? "-" : s->ok[a] ? "1" : "0");
    fprintf(f, " \"%s\": found %s background,", caption, ldm_eval_colour_name(an->background));
    if (an->n_objects == 0)
        fprintf(f, " no object");
    for (int i = 0; i < an->n_objects; i++) {
        const ldm_eval_object *o = &an->objects[i];
        fprintf(f, "%s %s %s (%lld px at %.1f,%.1f)", i ? ";" : "", ldm_eval_colour_name(o->colour),
                ldm_eval_shape_name(o->shape), (long long)o->area, o->cx, o->cy);
    }
    fputc('\n', f);
}
