/* The whole pipeline against diffusers' LDMTextToImagePipeline on the tiny
 * fixture model (goldens: tools/reference/make_pipeline_goldens.py).
 * With arguments `FIXTURE_SUBDIR MODEL_DIR` it runs only the golden cases of
 * another model: test_shipped_parity uses it for models/ldm-shapes
 * (make_pipeline_goldens.py --shipped).
 * Contract (DESIGN.md §3): image max 3 levels of 255 and ≥ 99% of pixels
 * within 1 level; the final latents are also compared (rel. L2 ≤ 1e-4) so a
 * drift shows before it reaches the pixels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "harness.h"
#include "io/config.h"
#include "sample/pipeline.h"

static void *read_all(const char *path, size_t *len)
{
    char *data = NULL;
    if (ldm_read_file(path, &data, len) != LDM_OK)
        return NULL;
    return data;
}

/* The fixture subdirectory holding index.json and the per-case files. */
static const char *g_cases_dir = "pipeline";

static void run_case(ldm_pipeline *p, const cJSON *c)
{
    const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
    const cJSON *prompts = cJSON_GetObjectItem(c, "prompts");
    const char *texts[8];
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, prompts) texts[n++] = it->valuestring;
    const char *neg = cJSON_GetObjectItem(c, "negative")->valuestring;
    ldm_txt2img_request req = {
        .prompts = texts,
        .n_prompts = n,
        .images_per_prompt = 1,
        .negative_prompt = neg[0] ? neg : NULL,
        .steps = cJSON_GetObjectItem(c, "steps")->valueint,
        .guidance_scale = cJSON_GetObjectItem(c, "guidance")->valuedouble,
        .eta = cJSON_GetObjectItem(c, "eta")->valuedouble,
        .seed = (uint64_t)cJSON_GetObjectItem(c, "seed")->valuedouble,
        .noise_seed = 67280421310721ULL,
        .height = cJSON_GetObjectItem(c, "height")->valueint,
        .width = cJSON_GetObjectItem(c, "width")->valueint,
        .scheduler = cJSON_GetObjectItem(c, "scheduler")->valuestring,
    };
    int count, h, w;
    CHECK(ldm_pipeline_output_shape(p, &req, &count, &h, &w) == LDM_OK);
    const cJSON *ishape = cJSON_GetObjectItem(c, "image_shape");
    CHECK_MSG(count == cJSON_GetArrayItem(ishape, 0)->valueint && h == cJSON_GetArrayItem(ishape, 1)->valueint &&
                  w == cJSON_GetArrayItem(ishape, 2)->valueint,
              "%s: output shape %dx%dx%d", name, count, h, w);

    char path[1024];
    size_t img_len = 0, lat_len = 0;
    snprintf(path, sizeof path, "%s/%s/%s.image.u8", LDM_FIXTURES, g_cases_dir, name);
    uint8_t *want_img = read_all(path, &img_len);
    snprintf(path, sizeof path, "%s/%s/%s.latents.f32", LDM_FIXTURES, g_cases_dir, name);
    float *want_lat = read_all(path, &lat_len);
    CHECK(want_img && want_lat && img_len == (size_t)count * h * w * 3);
    uint8_t *img = malloc(img_len);
    float *lat = malloc(lat_len);
    ldm_error_clear();
    ldm_txt2img_output out = { .images = img, .final_latents = lat };
    ldm_status st = ldm_pipeline_txt2img(p, &req, NULL, NULL, &out);
    CHECK_MSG(st == LDM_OK, "%s: %s", name, ldm_error_message());
    if (st == LDM_OK && want_img && want_lat) {
        double num = 0, den = 0;
        for (size_t i = 0; i < lat_len / 4; i++) {
            num += ((double)lat[i] - want_lat[i]) * ((double)lat[i] - want_lat[i]);
            den += (double)want_lat[i] * want_lat[i];
        }
        double rel = sqrt(num / (den > 0 ? den : 1));
        int maxdiff = 0;
        size_t within1 = 0;
        for (size_t i = 0; i < img_len; i++) {
            int dlt = abs((int)img[i] - (int)want_img[i]);
            maxdiff = dlt > maxdiff ? dlt : maxdiff;
            within1 += dlt <= 1;
        }
        double frac = (double)within1 / (double)img_len;
        printf("%-18s latents rel L2 %.2e, image max diff %d, within 1: %.4f\n", name, rel, maxdiff, frac);
        CHECK_MSG(rel <= 1e-4, "%s: latents rel L2 %.3e", name, rel);
        CHECK_MSG(maxdiff <= 3 && frac >= 0.99, "%s: image max diff %d, %.4f within 1", name, maxdiff, frac);
    }
    free(img);
    free(lat);
    ldm_free(want_img);
    ldm_free(want_lat);
}

/* Stop after `stop` steps, save the state, throw the run away; a new run of
 * the same request restored from the state ends with the same bits. */
static void check_resume(ldm_pipeline *p, const char *scheduler, double eta, int stop)
{
    const char *prompts[] = { "a red circle", "two green squares" };
    ldm_txt2img_request req = { .prompts = prompts, .n_prompts = 2, .images_per_prompt = 1,
                                .steps = 6, .guidance_scale = 5.0, .eta = eta, .seed = 21,
                                .noise_seed = 67280421310721ULL, .height = 64, .width = 64,
                                .scheduler = scheduler };
    enum { LAT = 2 * 4 * 8 * 8, IMG = 2 * 16 * 16 * 3 };
    float lat_a[LAT], lat_b[LAT];
    uint8_t img_a[IMG], img_b[IMG];
    ldm_txt2img_output a = { .images = img_a, .final_latents = lat_a };
    ldm_txt2img_output b = { .images = img_b, .final_latents = lat_b };
    CHECK(ldm_pipeline_txt2img(p, &req, NULL, NULL, &a) == LDM_OK);

    ldm_txt2img_run *run = NULL;
    void *state = NULL;
    size_t bytes = 0;
    CHECK(ldm_txt2img_begin(p, &req, &run) == LDM_OK);
    for (int s = 0; run && s < stop; s++)
        CHECK(ldm_txt2img_step(run) == LDM_OK);
    if (run) {
        bytes = ldm_txt2img_state_bytes(run);
        state = malloc(bytes);
        CHECK(ldm_txt2img_state_save(run, state, bytes) == LDM_OK);
        ldm_txt2img_end(&run);
    }
    CHECK(ldm_txt2img_begin(p, &req, &run) == LDM_OK);
    if (run && state) {
        CHECK_FAILS_WITH(ldm_txt2img_state_restore(run, state, bytes - 1), LDM_EINPUT, "checkpoint state");
        CHECK(ldm_txt2img_state_restore(run, state, bytes) == LDM_OK);
        CHECK(ldm_txt2img_steps_done(run) == stop);
        while (ldm_txt2img_steps_done(run) < ldm_txt2img_steps_total(run))
            CHECK(ldm_txt2img_step(run) == LDM_OK);
        CHECK(ldm_txt2img_finish(run, &b) == LDM_OK);
        CHECK_MSG(memcmp(lat_a, lat_b, sizeof lat_a) == 0 && memcmp(img_a, img_b, sizeof img_a) == 0,
                  "%s eta %g: resumed after step %d differs from the uninterrupted run", scheduler, eta, stop);
    }
    ldm_txt2img_end(&run);
    free(state);
}

int main(int argc, char **argv)
{
    const char *model = LDM_FIXTURES "/tiny-ldm";
    if (argc == 3) {
        g_cases_dir = argv[1];
        model = argv[2];
    }
    char index_path[1024];
    snprintf(index_path, sizeof index_path, "%s/%s/index.json", LDM_FIXTURES, g_cases_dir);
    ldm_config index;
    if (ldm_config_load(index_path, &index) != LDM_OK) {
        fprintf(stderr, "%s\n", ldm_error_message());
        return 1;
    }
    ldm_pipeline *p = NULL;
    ldm_status st = ldm_pipeline_open(model, &p);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st == LDM_OK) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(index.root, "cases")) run_case(p, c);
    }
    if (argc == 3) {
        ldm_pipeline_close(&p);
        ldm_config_free(&index);
        return ldm_test_finish();
    }

    /* Resume from a saved state: bit-identical (eta > 0 checks the noise
     * generator, PNDM and LMS their step history). */
    check_resume(p, "ddim", 0.3, 3);
    check_resume(p, "pndm", 0.0, 2);
    check_resume(p, "lms", 0.0, 4);

    /* Bad requests: clear messages naming the flag. */
    const char *one[] = { "a red circle" };
    ldm_txt2img_request bad = { .prompts = one, .n_prompts = 1, .images_per_prompt = 1, .steps = 3,
                                .guidance_scale = 1, .height = 64, .width = 64, .scheduler = "euler" };
    uint8_t img[16 * 16 * 3];
    ldm_txt2img_output out = { .images = img };
    CHECK_FAILS_WITH(ldm_pipeline_txt2img(p, &bad, NULL, NULL, &out), LDM_EINPUT, "euler");
    bad.scheduler = NULL;
    const float four[4] = { 0 };
    bad.latents = four;
    bad.latents_count = 4;
    CHECK_FAILS_WITH(ldm_pipeline_txt2img(p, &bad, NULL, NULL, &out), LDM_EINPUT,
                     "--latents: expected 256 values ([1, 4, 8, 8]), got 4");
    bad.latents = NULL;
    const char *invalid[] = { "caf\xc3" };
    bad.prompts = invalid;
    CHECK_FAILS_WITH(ldm_pipeline_txt2img(p, &bad, NULL, NULL, &out), LDM_EINPUT,
                     "prompt 1: ");
    ldm_pipeline_close(&p);
    ldm_config_free(&index);
    return ldm_test_finish();
}
