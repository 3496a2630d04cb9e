/* test_vae_real.c — the decoder at the real model's size, against diffusers.
 *
 * Needs a folder made by
 *   /opt/ldmref/bin/python tools/reference/make_vae_goldens.py --real DIR [--old-names]
 * (a random AutoencoderKL of the CompVis/ldm-text2im-large-256 config, 335 MB,
 * with z.npy and diffusers' decoded.npy) named by LDM_VAE_REAL_DIR; skipped
 * (77) without it. Checks relative L2 ≤ 1e-5 and prints the decode time. */
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "io/config.h"
#include "io/npy.h"
#include "io/weights.h"
#include "kernels/golden.h"
#include "kernels/threads.h"
#include "models/vae.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(void)
{
    const char *dir = getenv("LDM_VAE_REAL_DIR");
    if (!dir || !*dir) {
        printf("LDM_VAE_REAL_DIR not set: skipped\n");
        return 77;
    }
    char path[1024];
    ldm_config cfg = {0};
    ldm_weights *w = NULL;
    ldm_vae *vae = NULL;
    ldm_npy z = {0}, ref = {0};
    float *img = NULL;
    snprintf(path, sizeof path, "%s/config.json", dir);
    CHECK_MSG(ldm_config_load(path, &cfg) == LDM_OK, "%s", ldm_error_message());
    CHECK_MSG(ldm_weights_open_dir(dir, &w) == LDM_OK, "%s", ldm_error_message());
    snprintf(path, sizeof path, "%s/z.npy", dir);
    CHECK_MSG(ldm_npy_read(path, &z) == LDM_OK, "%s", ldm_error_message());
    snprintf(path, sizeof path, "%s/decoded.npy", dir);
    CHECK_MSG(ldm_npy_read(path, &ref) == LDM_OK, "%s", ldm_error_message());
    if (!w || z.ndim != 4 || ref.ndim != 4)
        goto done;
    ldm_kernels_set_threads(0);
    double t0 = now();
    ldm_status st = ldm_vae_create(&cfg, w, z.shape[0], z.shape[2], z.shape[3], LDM_VAE_DECODER,
                                   &vae);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st != LDM_OK)
        goto done;
    double t1 = now();
    printf("  create %.2f s, arena %.1f MiB, %d threads\n", t1 - t0,
           (double)ldm_vae_arena_bytes(vae) / (1 << 20), ldm_kernels_threads());
    img = golden_nan_buffer(ref.numel);
    for (int rep = 0; rep < 2; rep++) {
        t0 = now();
        CHECK_MSG(ldm_vae_decode(vae, z.data, img) == LDM_OK, "%s", ldm_error_message());
        printf("  decode %lldx%lld -> %lldx%lld: %.2f s\n", (long long)z.shape[2],
               (long long)z.shape[3], (long long)ref.shape[2], (long long)ref.shape[3], now() - t0);
    }
    golden_compare("real-size decode", img, ref.data, ref.numel, GOLDEN_TOL);
done:
    ldm_vae_destroy(&vae);
    ldm_weights_close(&w);
    ldm_config_free(&cfg);
    ldm_npy_free(&z);
    ldm_npy_free(&ref);
    free(img);
    return ldm_test_finish();
}
