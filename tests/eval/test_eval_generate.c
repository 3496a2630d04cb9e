/* test_eval_generate.c — ldm_eval_generate on the tiny fixture model.
 *
 * What evaluate.py does: one image per (seed, caption), seeds outer, each
 * with its own torch.Generator().manual_seed(seed) — in diffusers a list of
 * generators draws each image's latents as if it were alone. So every image
 * of a batched evaluation must be the image a single-prompt request with that
 * seed gives (the pipeline itself is checked against diffusers in
 * test_pipeline), within one level for the batch's float rounding, and its
 * judgments must be those of the image. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "eval_run.h"
#include "harness.h"

#define MODEL LDM_FIXTURES "/tiny-ldm"

enum { MAX_JOBS = 8, SIDE = 16 }; /* tiny-ldm decodes 64x64 requests to 16x16 */

typedef struct seen {
    int n;
    int caption[MAX_JOBS];
    uint64_t seed[MAX_JOBS];
    uint8_t rgb[MAX_JOBS][SIDE * SIDE * 3];
    ldm_eval_score score[MAX_JOBS];
    int width, height;
} seen;

static void on_image(void *ctx, int ci, uint64_t seed, const uint8_t *rgb, int w, int h,
                     const ldm_eval_analysis *an, const ldm_eval_score *s)
{
    seen *v = ctx;
    (void)an;
    if (v->n >= MAX_JOBS || w * h > SIDE * SIDE)
        return;
    v->caption[v->n] = ci;
    v->seed[v->n] = seed;
    memcpy(v->rgb[v->n], rgb, (size_t)w * h * 3);
    v->score[v->n] = *s;
    v->width = w;
    v->height = h;
    v->n++;
}

int main(void)
{
    ldm_pipeline *p = NULL;
    ldm_eval_captions caps;
    ldm_status st = ldm_eval_captions_read(LDM_FIXTURES "/eval/heldout_captions.txt", 1, &caps);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    st = ldm_pipeline_open(MODEL, &p);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st != LDM_OK || caps.n != 3)
        return ldm_test_finish();

    const uint64_t seeds[2] = { 0, 7 };
    ldm_eval_gen g = { .model_dir = MODEL, .steps = 4, .guidance = 3.0, .seeds = seeds, .n_seeds = 2,
                       .batch = 4, .height = 64, .width = 64 };
    ldm_eval_tally t = { 0 };
    static seen v;
    st = ldm_eval_generate(p, &g, &caps, on_image, &v, &t);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    CHECK(v.n == 6 && v.width == SIDE && v.height == SIDE);
    CHECK(ldm_eval_tally_judged(&t, -1, LDM_EVAL_ATTR_BACKGROUND) == 6);
    CHECK(ldm_eval_tally_judged(&t, LDM_EVAL_KIND_PAIR, LDM_EVAL_ATTR_PLACEMENT) == 2);

    uint8_t single[SIDE * SIDE * 3];
    int64_t right[LDM_EVAL_ATTRS] = { 0 };
    for (int j = 0; j < v.n; j++) {
        /* evaluate.py's job order: for s in seeds: for c in captions. */
        CHECK(v.caption[j] == j % 3 && v.seed[j] == seeds[j / 3]);
        const char *prompt = caps.text[v.caption[j]];
        ldm_txt2img_request req = { .prompts = &prompt, .n_prompts = 1, .images_per_prompt = 1,
                                    .steps = 4, .guidance_scale = 3.0, .eta = 0.0, .seed = v.seed[j],
                                    .height = 64, .width = 64 };
        ldm_txt2img_output out = { .images = single };
        st = ldm_pipeline_txt2img(p, &req, NULL, NULL, &out);
        CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
        int maxd = 0;
        for (int i = 0; i < SIDE * SIDE * 3; i++) {
            int d = abs((int)single[i] - (int)v.rgb[j][i]);
            maxd = d > maxd ? d : maxd;
        }
        CHECK_MSG(maxd <= 1, "image %d (seed %llu, \"%s\"): max difference %d from a single run", j,
                  (unsigned long long)v.seed[j], prompt, maxd);
        ldm_eval_analysis an;
        ldm_eval_score s;
        CHECK(ldm_eval_analyse(v.rgb[j], SIDE, SIDE, &an) == LDM_OK);
        ldm_eval_score_image(&caps.parsed[v.caption[j]], &an, &s);
        CHECK(memcmp(&s, &v.score[j], sizeof s) == 0);
        for (int a = 0; a < LDM_EVAL_ATTRS; a++)
            right[a] += s.ok[a] > 0;
        ldm_eval_analysis_free(&an);
    }
    for (int a = 0; a < LDM_EVAL_ATTRS; a++) {
        int64_t want = 0;
        for (int k = 0; k < LDM_EVAL_KINDS; k++)
            want += t.right[k][a];
        CHECK(right[a] == want);
    }

    /* Seeds differ → images differ (the seed reaches the latents). */
    CHECK(memcmp(v.rgb[0], v.rgb[3], sizeof v.rgb[0]) != 0);

    g.batch = 0;
    CHECK_FAILS_WITH(ldm_eval_generate(p, &g, &caps, NULL, NULL, &t), LDM_EINPUT, "at least 1");
    g.batch = 2;
    g.height = 60;
    CHECK_FAILS_WITH(ldm_eval_generate(p, &g, &caps, NULL, NULL, &t), LDM_EINPUT, "multiples of 8");

    ldm_pipeline_close(&p);
    ldm_eval_captions_free(&caps);
    return ldm_test_finish();
}
