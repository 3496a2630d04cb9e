/* test_vae.c — AutoencoderKL (models/vae.h) against diffusers 0.27.2.
 *
 * Goldens from tools/reference/make_vae_goldens.py (tests/fixtures/vae):
 * decode and encode (mean, clamped logvar, sample given noise) of the
 * tiny-ldm vqvae (batch 2, latent 8×8), of a 3-level random VAE (vae3:
 * layers_per_block 2, latent_channels 3, batch 2, non-square 6×10 latent),
 * of the tiny vqvae saved with the deprecated attention names and of the
 * tiny vqvae as a PyTorch .bin (tests/fixtures/tiny-ldm-bin). Then the
 * config keys and bad input, and allocation failures during create. */
#include <stdlib.h>

#include "core/alloc.h"
#include "harness.h"
#include "io/config.h"
#include "io/npy.h"
#include "io/weights.h"
#include "kernels/golden.h"
#include "models/vae.h"

#define VAE_DIR LDM_FIXTURES "/vae"
#define TINY_DIR LDM_FIXTURES "/tiny-ldm/vqvae"

static int load(const char *tag, const char *tensor, int64_t numel, ldm_npy *out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%s.npy", VAE_DIR, tag, tensor);
    ldm_status st = ldm_npy_read(path, out);
    CHECK_MSG(st == LDM_OK, "%s: %s", path, ldm_error_message());
    if (st != LDM_OK)
        return 0;
    CHECK_MSG(out->numel == numel, "%s: %lld elements, want %lld", path, (long long)out->numel,
              (long long)numel);
    return out->numel == numel;
}

static int open_model(const char *dir, ldm_config *cfg, ldm_weights **w)
{
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    ldm_status st = ldm_config_load(path, cfg);
    if (st == LDM_OK)
        st = ldm_weights_open_dir(dir, w);
    if (st != LDM_OK && strstr(ldm_error_message(), "not supported by this build")) {
        /* the PyTorch .bin reader (io/torch_bin.c) is a separate module */
        printf("  %s: skipped: %s\n", dir, ldm_error_message());
        ldm_error_clear();
        return 0;
    }
    CHECK_MSG(st == LDM_OK, "%s: %s", dir, ldm_error_message());
    return st == LDM_OK;
}

/* Decode and encode goldens `tag` of the model in `dir` (the old-name copy
 * is checked against the original's goldens: it must give the same). */
static void golden_case_vae(const char *label, const char *dir, const char *tag, int64_t n,
                            int64_t lh, int64_t lw, int64_t f, double scaling)
{
    ldm_config cfg = {0};
    ldm_weights *w = NULL;
    ldm_vae *vae = NULL;
    ldm_npy z = {0}, dec = {0}, img = {0}, mean = {0}, logvar = {0}, noise = {0}, sample = {0};
    float *out = NULL, *m = NULL, *lv = NULL, *s = NULL;
    if (!open_model(dir, &cfg, &w))
        goto done;
    ldm_status st = ldm_vae_create(&cfg, w, n, lh, lw, LDM_VAE_DECODER | LDM_VAE_ENCODER, &vae);
    CHECK_MSG(st == LDM_OK, "%s: create: %s", label, ldm_error_message());
    if (st != LDM_OK)
        goto done;
    ldm_weights_close(&w); /* the model needs no weights after create */
    const ldm_vae_config *c = ldm_vae_get_config(vae);
    CHECK(ldm_vae_downsample_factor(vae) == f);
    CHECK(ldm_vae_scaling_factor(vae) == scaling);
    printf("  %s: arena %.2f MiB\n", label, (double)ldm_vae_arena_bytes(vae) / (1 << 20));
    int64_t lat = n * c->latent_channels * lh * lw;
    int64_t pix_out = n * c->out_channels * lh * f * lw * f;
    int64_t pix_in = n * c->in_channels * lh * f * lw * f;
    if (!load(tag, "z", lat, &z) || !load(tag, "decoded", pix_out, &dec) ||
        !load(tag, "image", pix_in, &img) || !load(tag, "mean", lat, &mean) ||
        !load(tag, "logvar", lat, &logvar) || !load(tag, "noise", lat, &noise) ||
        !load(tag, "sample", lat, &sample))
        goto done;
    out = golden_nan_buffer(pix_out);
    m = golden_nan_buffer(lat);
    lv = golden_nan_buffer(lat);
    s = golden_nan_buffer(lat);
    char what[128];
    for (int rep = 0; rep < 2; rep++) { /* a model is reusable */
        CHECK_MSG(ldm_vae_decode(vae, z.data, out) == LDM_OK, "%s", ldm_error_message());
        snprintf(what, sizeof what, "%s decode (run %d)", label, rep + 1);
        golden_compare(what, out, dec.data, pix_out, GOLDEN_TOL);
        CHECK_MSG(ldm_vae_encode(vae, img.data, m, lv) == LDM_OK, "%s", ldm_error_message());
        snprintf(what, sizeof what, "%s encode mean (run %d)", label, rep + 1);
        golden_compare(what, m, mean.data, lat, GOLDEN_TOL);
        snprintf(what, sizeof what, "%s encode logvar (run %d)", label, rep + 1);
        golden_compare(what, lv, logvar.data, lat, GOLDEN_TOL);
    }
    ldm_vae_posterior_sample(s, m, lv, noise.data, lat);
    snprintf(what, sizeof what, "%s posterior sample", label);
    golden_compare(what, s, sample.data, lat, GOLDEN_TOL);
    /* NULL outputs are allowed */
    CHECK(ldm_vae_encode(vae, img.data, NULL, lv) == LDM_OK);
    CHECK(ldm_vae_encode(vae, img.data, m, NULL) == LDM_OK);
done:
    ldm_vae_destroy(&vae);
    CHECK(vae == NULL);
    ldm_weights_close(&w);
    ldm_config_free(&cfg);
    ldm_npy_free(&z);
    ldm_npy_free(&dec);
    ldm_npy_free(&img);
    ldm_npy_free(&mean);
    ldm_npy_free(&logvar);
    ldm_npy_free(&noise);
    ldm_npy_free(&sample);
    free(out);
    free(m);
    free(lv);
    free(s);
}

/* The tiny weights with a config given as text. */
static ldm_status create_with(const char *json, const ldm_weights *w, unsigned parts,
                              ldm_vae **vae)
{
    ldm_config cfg = {0};
    ldm_status st = ldm_config_parse("vqvae/config.json", json, strlen(json), &cfg);
    if (st == LDM_OK)
        st = ldm_vae_create(&cfg, w, 1, 4, 4, parts, vae);
    ldm_config_free(&cfg);
    return st;
}

#define TINY_KEYS                                                                          \
    "\"block_out_channels\": [8, 16], \"norm_num_groups\": 4, "                            \
    "\"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\"], "             \
    "\"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\"]"
#define TINY "{" TINY_KEYS ", \"layers_per_block\": 2"

static void test_config(void)
{
    ldm_config cfg = {0};
    ldm_vae_config v;
    CHECK(ldm_config_parse("c.json", "{}", 2, &cfg) == LDM_OK);
    CHECK(ldm_vae_config_read(&cfg, &v) == LDM_OK);
    /* diffusers' defaults */
    CHECK(v.in_channels == 3 && v.out_channels == 3 && v.latent_channels == 4);
    CHECK(v.levels == 1 && v.block_out_channels[0] == 64 && v.layers_per_block == 1);
    CHECK(v.norm_num_groups == 32 && v.scaling_factor == 0.18215);
    CHECK(v.use_quant_conv && v.use_post_quant_conv && v.mid_block_add_attention);
    ldm_config_free(&cfg);

    ldm_weights *w = NULL;
    ldm_vae *vae = NULL;
    CHECK(ldm_weights_open_dir(TINY_DIR, &w) == LDM_OK);
    CHECK_FAILS_WITH(create_with(TINY ", \"act_fn\": \"gelu\"}", w, 1, &vae), LDM_EINPUT,
                     "vqvae/config.json: unsupported \"act_fn\": \"gelu\"");
    CHECK_FAILS_WITH(create_with("{\"block_out_channels\": [8, 16], \"norm_num_groups\": 4, "
                                 "\"down_block_types\": [\"DownEncoderBlock2D\", "
                                 "\"AttnDownEncoderBlock2D\"]}", w, 1, &vae),
                     LDM_EINPUT, "unsupported \"down_block_types\": \"AttnDownEncoderBlock2D\"");
    CHECK_FAILS_WITH(create_with("{\"block_out_channels\": [8, 16], \"norm_num_groups\": 4, "
                                 "\"up_block_types\": [\"UpDecoderBlock2D\", \"UpBlock2D\"]}",
                                 w, 1, &vae),
                     LDM_EINPUT, "unsupported \"up_block_types\": \"UpBlock2D\"");
    CHECK_FAILS_WITH(create_with("{\"block_out_channels\": [8, 16], \"norm_num_groups\": 4}", w, 1,
                                 &vae),
                     LDM_EINPUT, "must have as many entries as \"block_out_channels\"");
    CHECK_FAILS_WITH(create_with("{\"block_out_channels\": [8, 12], \"norm_num_groups\": 8}", w, 1,
                                 &vae),
                     LDM_EINPUT, "\"block_out_channels\": 12 must be a positive multiple");
    CHECK_FAILS_WITH(create_with("{" TINY_KEYS ", \"layers_per_block\": 0}", w, 1, &vae),
                     LDM_EINPUT, "\"layers_per_block\": 0 must be positive");
    CHECK_FAILS_WITH(create_with(TINY ", \"scaling_factor\": \"x\"}", w, 1, &vae),
                     LDM_EINPUT, "scaling_factor");
    /* keys that change the tensors: the weights no longer fit */
    CHECK_FAILS_WITH(create_with(TINY ", \"latent_channels\": 8}", w, 1, &vae),
                     LDM_EINPUT, "encoder.conv_out.weight\" has shape [8, 16, 3, 3], expected "
                                 "[16, 16, 3, 3]");
    CHECK_FAILS_WITH(create_with(TINY ", \"mid_block_add_attention\": false}", w, 1, &vae),
                     LDM_EINPUT, "unexpected tensor \"decoder.mid_block.attentions.0.group_norm");
    CHECK_FAILS_WITH(create_with(TINY ", \"use_quant_conv\": false}", w, 1, &vae),
                     LDM_EINPUT, "unexpected tensor \"quant_conv.");
    CHECK_FAILS_WITH(create_with("{" TINY_KEYS ", \"layers_per_block\": 3}", w, 1, &vae),
                     LDM_EINPUT, "down_blocks.0.resnets.2.norm1.weight\" is missing");
    CHECK_FAILS_WITH(create_with(TINY "}", w, 0, &vae), LDM_EINPUT, "parts");
    CHECK(vae == NULL);
    /* ignored keys (sample_size as a list, latents_mean, force_upcast) */
    CHECK_MSG(create_with(TINY ", \"sample_size\": [16, 16], \"force_upcast\": false, "
                          "\"latents_mean\": [1, 2, 3, 4], \"act_fn\": \"swish\"}",
                          w, LDM_VAE_DECODER, &vae) == LDM_OK, "%s", ldm_error_message());
    /* a decoder-only model cannot encode */
    float img[3 * 8 * 8] = {0}, lat[4 * 4 * 4];
    CHECK_FAILS_WITH(ldm_vae_encode(vae, img, lat, lat), LDM_EINPUT, "LDM_VAE_ENCODER");
    ldm_vae_destroy(&vae);
    CHECK(create_with(TINY "}", w, LDM_VAE_ENCODER, &vae) == LDM_OK);
    CHECK_FAILS_WITH(ldm_vae_decode(vae, lat, img), LDM_EINPUT, "LDM_VAE_DECODER");
    ldm_vae_destroy(&vae);

    ldm_config tiny = {0};
    CHECK(ldm_config_load(TINY_DIR "/config.json", &tiny) == LDM_OK);
    CHECK_FAILS_WITH(ldm_vae_create(&tiny, w, 0, 4, 4, LDM_VAE_DECODER, &vae), LDM_EINPUT,
                     "must be positive");
    /* every allocation of create can fail: a clean error, nothing leaked */
    int failures = 0;
    for (long k = 1; k < 100000; k++) {
        ldm_error_clear();
        ldm_alloc_fail_after(k);
        ldm_status st = ldm_vae_create(&tiny, w, 1, 4, 4, LDM_VAE_DECODER | LDM_VAE_ENCODER, &vae);
        ldm_alloc_fail_after(0);
        if (st == LDM_OK)
            break;
        failures++;
        CHECK_MSG(st == LDM_ERUNTIME && vae == NULL, "allocation %ld: status %d: %s", k, (int)st,
                  ldm_error_message());
    }
    CHECK(vae != NULL);
    printf("  create survived %d injected allocation failures\n", failures);
    ldm_vae_destroy(&vae);
    ldm_config_free(&tiny);
    ldm_weights_close(&w);
    ldm_error_clear();
}

int main(void)
{
    golden_case_vae("tiny", TINY_DIR, "tiny", 2, 8, 8, 2, 0.18215);
    golden_case_vae("vae3", VAE_DIR "/vae3", "vae3", 2, 6, 10, 4, 0.5);
    golden_case_vae("old attention names", VAE_DIR "/oldnames", "tiny", 2, 8, 8, 2, 0.18215);
    /* the same weights as a PyTorch .bin (the real checkpoint's format) */
    golden_case_vae("tiny .bin", LDM_FIXTURES "/tiny-ldm-bin/vqvae", "tiny", 2, 8, 8, 2, 0.18215);
    test_config();
    return ldm_test_finish();
}
