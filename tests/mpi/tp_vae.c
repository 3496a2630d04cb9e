/* tp_vae.c (test_tp_vae): the VAE decoder split over a Pc × Ps grid = the
 * single-process decoder.
 *
 * Every rank decodes the whole latent with the unsplit model
 * (ldm_vae_create), then its strip with the split one
 * (ldm_vae_create_parallel); the image strip must match the same rows of
 * the unsplit image within 1e-5 relative L2. Cases at the world's rank
 * count P: the tiny-ldm fixture VAE (f = 2, its diffusers weights) on a
 * 12 × 10 latent with strip alignment 1 and on 9 × 7 with alignment 2 (the
 * tiny UNet's); a 3-level VAE (f = 4, synthetic weights) on 13 × 7 with
 * alignment 4 (uneven strips, a 1-row last strip at np 4); each with Ps = P, then
 * Pc = P, then 2 × 2 at P = 4; and the error for more spatial ranks than
 * latent rows. Expected: "N ranks: P passed, 0 failed" at np 1-4. */
#include <stdio.h>
#include <stdlib.h>

#include "io/config.h"
#include "models/vae.h"
#include "mpi_harness.h"
#include "tp_synth.h"

static const char THREE_LEVELS[] =
    "{\"_class_name\": \"AutoencoderKL\", \"block_out_channels\": [8, 8, 16],"
    " \"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\","
    " \"DownEncoderBlock2D\"], \"up_block_types\": [\"UpDecoderBlock2D\","
    " \"UpDecoderBlock2D\", \"UpDecoderBlock2D\"], \"layers_per_block\": 1,"
    " \"norm_num_groups\": 4, \"latent_channels\": 4, \"in_channels\": 3, \"out_channels\": 3}";

typedef struct tp_case {
    const char *name;
    const ldm_config *cfg;
    const ldm_weights *weights;
    int64_t batch, h, w, align;
} tp_case;

static void run(const tp_case *tc, int pc, int ps)
{
    ldm_model_parallel par;
    ldm_vae *ref = NULL, *v = NULL;
    tp_grid(pc, ps, &par);
    CHECK(ldm_vae_create(tc->cfg, tc->weights, tc->batch, tc->h, tc->w, LDM_VAE_DECODER, &ref) ==
          LDM_OK);
    ldm_status st = ldm_vae_create_parallel(tc->cfg, tc->weights, tc->batch, tc->h, tc->w,
                                            LDM_VAE_DECODER, &par, tc->align, &v);
    CHECK_MSG(st == LDM_OK, "%s: %s", tc->name, ldm_error_message());
    if (!ref || !v)
        goto cleanup;
    const ldm_vae_config *c = ldm_vae_get_config(ref);
    const int64_t f = ldm_vae_downsample_factor(ref);
    const int64_t nz = tc->batch * c->latent_channels, ni = tc->batch * c->out_channels;
    float *z = malloc(sizeof(float) * (size_t)(nz * tc->h * tc->w));
    float *img = malloc(sizeof(float) * (size_t)(ni * f * tc->h * f * tc->w));
    ldm_mpi_test_fill(z, nz * tc->h * tc->w, 31, 0.0f);
    CHECK(ldm_vae_decode(ref, z, img) == LDM_OK);

    int64_t r0, r1;
    ldm_vae_get_rows(v, &r0, &r1);
    const int64_t rows = r1 - r0, pix = f * rows * f * tc->w;
    float *zs = malloc(sizeof(float) * (size_t)(nz * rows * tc->w));
    float *is = malloc(sizeof(float) * (size_t)(ni * pix));
    float *ir = malloc(sizeof(float) * (size_t)(ni * pix));
    tp_strip(zs, z, nz, tc->h, tc->w, r0, r1, 0);
    tp_strip(ir, img, ni, f * tc->h, f * tc->w, f * r0, f * r1, 0);
    st = ldm_vae_decode(v, zs, is);
    CHECK_MSG(st == LDM_OK, "%s: %s", tc->name, ldm_error_message());
    double max_abs, rms, rel = tp_rel_l2(is, ir, ni * pix, &max_abs, &rms);
    if (ldm_mpi_test_rank == 0)
        printf("  %-24s Pc %d x Ps %d  latent rows [%lld, %lld)  rel L2 %.2e  max abs %.2e  "
               "(image rms %.3f)\n", tc->name, pc, ps, (long long)r0, (long long)r1, rel,
               max_abs, rms);
    CHECK_MSG(rel <= 1e-5, "%s Pc %d Ps %d: rel L2 %g", tc->name, pc, ps, rel);
    CHECK(rms > 1e-3);
    free(z);
    free(img);
    free(zs);
    free(is);
    free(ir);
cleanup:
    ldm_vae_destroy(&ref);
    ldm_vae_destroy(&v);
    tp_grid_free(&par);
}

static void too_many_ranks(const ldm_config *cfg, const ldm_weights *w)
{
    int p = ldm_mpi_test_size;
    if (p < 2)
        return;
    ldm_model_parallel par;
    ldm_vae *v = NULL;
    tp_grid(1, p, &par);
    CHECK_FAILS_WITH(ldm_vae_create_parallel(cfg, w, 1, p - 1, 4, LDM_VAE_DECODER, &par, 1, &v),
                     LDM_EINPUT, "spatial ranks");
    CHECK(v == NULL);
    tp_grid_free(&par);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    const int p = ldm_mpi_test_size;
    ldm_config tiny = {0}, three = {0};
    ldm_weights *tiny_w = NULL, *three_w = NULL;
    ldm_spec_list list = {0};
    CHECK(ldm_config_load(LDM_FIXTURES "/tiny-ldm/vqvae/config.json", &tiny) == LDM_OK);
    CHECK(ldm_weights_open_dir(LDM_FIXTURES "/tiny-ldm/vqvae", &tiny_w) == LDM_OK);
    CHECK(ldm_config_parse("three-levels/config.json", THREE_LEVELS, sizeof THREE_LEVELS - 1,
                           &three) == LDM_OK);
    CHECK(ldm_vae_weight_specs(&three, &list) == LDM_OK);
    CHECK(tp_synth_weights(&list, &three_w) == LDM_OK);
    if (!tiny_w || !three_w)
        return ldm_mpi_test_finish();
    const tp_case cases[] = {
        {"tiny-ldm 1x12x10 align 1", &tiny, tiny_w, 1, 12, 10, 1},
        {"tiny-ldm 2x9x7 align 2", &tiny, tiny_w, 2, 9, 7, 2},
        {"3 levels 1x13x7 align 4", &three, three_w, 1, 13, 7, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run(&cases[i], 1, p);
        run(&cases[i], p, 1);
    }
    if (p == 4)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            run(&cases[i], 2, 2);
    too_many_ranks(&tiny, tiny_w);
    ldm_weights_close(&tiny_w);
    ldm_weights_close(&three_w);
    ldm_spec_list_free(&list);
    ldm_config_free(&tiny);
    ldm_config_free(&three);
    return ldm_mpi_test_finish();
}
