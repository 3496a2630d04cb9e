/* The real CompVis/ldm-text2im-large-256 (about 6 GB, not downloadable on
 * the CI machines): runs only when LDM_REAL_MODEL names a download of it,
 * else exits 77 (skipped). It reproduces diffusers' own slow test
 * (tests/pipelines/latent_diffusion/test_latent_diffusion.py,
 * test_ldm_default_ddim): the squirrel prompt, latents
 * numpy.random.RandomState(0).standard_normal((1,4,32,32)), 3 steps,
 * guidance 6, expected image[0, -3:, -3:, -1] within 1e-3. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "io/npy.h"
#include "sample/pipeline.h"

int main(void)
{
    const char *dir = getenv("LDM_REAL_MODEL");
    if (!dir || !dir[0]) {
        printf("LDM_REAL_MODEL is not set: skipped (needs CompVis/ldm-text2im-large-256)\n");
        return 77;
    }
    static const double expected[9] = { 0.51825, 0.52850, 0.52543, 0.54258, 0.52304,
                                        0.52569, 0.54363, 0.55276, 0.56878 };
    ldm_npy lat = { 0 };
    ldm_pipeline *p = NULL;
    CHECK_MSG(ldm_npy_read(LDM_FIXTURES "/npy/squirrel_latents.npy", &lat) == LDM_OK, "%s",
              ldm_error_message());
    CHECK_MSG(ldm_pipeline_open(dir, &p) == LDM_OK, "%s", ldm_error_message());
    if (p && lat.data) {
        const char *prompt[] = { "A painting of a squirrel eating a burger" };
        ldm_txt2img_request req = { .prompts = prompt, .n_prompts = 1, .images_per_prompt = 1,
                                    .steps = 3, .guidance_scale = 6.0, .eta = 0.0,
                                    .noise_seed = 67280421310721ULL, .latents = lat.data,
                                    .latents_count = lat.numel };
        static uint8_t img[256 * 256 * 3];
        static float f32[256 * 256 * 3];
        ldm_txt2img_output out = { .images = img, .images_f32 = f32 };
        ldm_status st = ldm_pipeline_txt2img(p, &req, NULL, NULL, &out);
        CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
        if (st == LDM_OK) {
            /* image[0, -3:, -3:, -1]: rows 253..255, columns 253..255, blue */
            int k = 0;
            double maxdiff = 0;
            for (int y = 253; y < 256; y++)
                for (int x = 253; x < 256; x++, k++) {
                    double v = f32[(y * 256 + x) * 3 + 2];
                    maxdiff = fmax(maxdiff, fabs(v - expected[k]));
                    printf("%.5f (diffusers %.5f)\n", v, expected[k]);
                }
            CHECK_MSG(maxdiff < 1e-3, "max diff %.2e", maxdiff);
        }
    }
    ldm_pipeline_close(&p);
    ldm_npy_free(&lat);
    return ldm_test_finish();
}
