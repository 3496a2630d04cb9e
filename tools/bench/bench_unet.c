/* bench_unet.c — time UNet2DConditionModel forwards at real size without
 * a checkpoint.
 *
 *   bench_unet [config.json] [batch] [latent_h] [latent_w] [threads] [iters]
 *
 * Defaults: models/ldm-text2im-large-256-config/unet/config.json (the real
 * CompVis/ldm-text2im-large-256 UNet, 872 M parameters), batch 2
 * (classifier-free guidance), a 32 × 32 latent (256² images), all cores,
 * 3 timed forwards after one warm-up.
 *
 * Weights come from a synthetic weight file (io/weight_file.h) that
 * generates every tensor of ldm_unet_weight_specs on demand: uniform values
 * scaled like PyTorch's default init (±1/√fan_in), norm weights near 1 and
 * small biases, so activations stay finite and the timing is representative
 * (no denormals). Nothing is read from disk; create still packs ~3.5 GB of
 * fp32 weights into the kernel plans.
 *
 * Prints the create time, each forward's wall time and the process CPU time
 * it took (on a shared machine, wall time is inflated whenever another job
 * holds a core; with one thread the CPU time is the undisturbed estimate;
 * with several it also counts OpenMP spin-waiting), and the best and mean.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "io/config.h"
#include "io/weight_file.h"
#include "io/weights.h"
#include "kernels/threads.h"
#include "models/unet.h"

#ifndef LDM_SOURCE_DIR
#define LDM_SOURCE_DIR "."
#endif

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* A value in [-1, 1) from (tensor, element): splitmix64. */
static float uniform(uint64_t tensor, uint64_t i)
{
    uint64_t z = (tensor << 40) ^ i ^ 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static ldm_status synth_read(const ldm_weight_file *f, int storage, uint64_t offset, size_t nbytes,
                             void *dst)
{
    const ldm_tensor_entry *e = &f->tensors[storage];
    float *out = dst;
    uint64_t first = offset / sizeof(float);
    size_t n = nbytes / sizeof(float);
    float scale, base = 0.0f;
    if (e->ndim >= 2) {
        int64_t fan_in = 1;
        for (int d = 1; d < e->ndim; d++)
            fan_in *= e->shape[d];
        scale = 1.0f / sqrtf((float)fan_in);
    } else if (strstr(e->name, "norm") && strstr(e->name, ".weight")) {
        base = 1.0f;
        scale = 0.05f;
    } else {
        scale = 0.02f;
    }
    for (size_t k = 0; k < n; k++)
        out[k] = base + scale * uniform((uint64_t)storage, first + k);
    return LDM_OK;
}

static void synth_close(ldm_weight_file *f)
{
    (void)f;
}

static const ldm_weight_file_ops SYNTH_OPS = {.read = synth_read, .close = synth_close};

/* A weight file holding every tensor of `list` (fp32, generated). */
static ldm_status synth_file(const ldm_spec_list *list, ldm_weight_file **out)
{
    ldm_status st = LDM_OK;
    ldm_weight_file *f = NULL;
    *out = NULL;
    LDM_CHECK(ldm_calloc(sizeof *f, "synthetic weights", (void **)&f));
    LDM_CHECK(ldm_strdup("<synthetic UNet weights>", &f->path));
    f->format = "synthetic";
    f->ops = &SYNTH_OPS;
    LDM_CHECK(ldm_calloc((size_t)list->count * sizeof *f->tensors, "synthetic entries",
                         (void **)&f->tensors));
    for (int i = 0; i < list->count; i++) {
        const ldm_weight_spec *s = &list->items[i];
        ldm_tensor_entry *e = &f->tensors[i];
        LDM_CHECK(ldm_strdup(s->name, &e->name));
        f->count = i + 1;
        e->dtype = LDM_DTYPE_F32;
        e->ndim = s->ndim;
        int64_t stride = 1;
        for (int d = s->ndim - 1; d >= 0; d--) {
            e->shape[d] = s->shape[d];
            e->stride[d] = stride;
            stride *= s->shape[d];
        }
        e->storage = i;
        e->offset = 0;
        e->storage_bytes = (uint64_t)stride * sizeof(float);
    }
    *out = f;
    f = NULL;
cleanup:
    ldm_weight_file_close(&f);
    return st;
}

int main(int argc, char **argv)
{
    const char *config_path = argc > 1 ? argv[1]
        : LDM_SOURCE_DIR "/models/ldm-text2im-large-256-config/unet/config.json";
    int64_t batch = argc > 2 ? atoll(argv[2]) : 2;
    int64_t lh = argc > 3 ? atoll(argv[3]) : 32;
    int64_t lw = argc > 4 ? atoll(argv[4]) : lh;
    int threads = ldm_kernels_set_threads(argc > 5 ? atoi(argv[5]) : 0);
    int iters = argc > 6 ? atoi(argv[6]) : 3;
    ldm_config cfg = {0};
    ldm_spec_list list = {0};
    ldm_weight_file *file = NULL;
    ldm_weights *w = NULL;
    ldm_unet *u = NULL;
    float *x = NULL, *ctx = NULL, *out = NULL;
    ldm_status st = LDM_OK;

    if (batch < 1 || batch > 16) {
        fprintf(stderr, "bench_unet: batch %lld (1 to 16)\n", (long long)batch);
        return 1;
    }
    LDM_CHECK(ldm_config_load(config_path, &cfg));
    LDM_CHECK(ldm_unet_weight_specs(&cfg, &list));
    LDM_CHECK(synth_file(&list, &file));
    LDM_CHECK(ldm_weights_from_files(&file, 1, &w));
    int64_t params = 0;
    for (int i = 0; i < list.count; i++) {
        int64_t n = 1;
        for (int d = 0; d < list.items[i].ndim; d++)
            n *= list.items[i].shape[d];
        params += n;
    }
    printf("config %s: %d tensors, %lld parameters\n", config_path, list.count,
           (long long)params);
    double t0 = now();
    LDM_CHECK(ldm_unet_create(&cfg, w, batch, lh, lw, 77, &u));
    printf("create: %.2f s (batch %lld, latent %lldx%lld, %d threads, %.1f MB activations)\n",
           now() - t0, (long long)batch, (long long)lh, (long long)lw, threads,
           (double)ldm_unet_activation_bytes(u) / 1e6);
    const ldm_unet_config *c = ldm_unet_get_config(u);
    int64_t nx = batch * c->in_channels * lh * lw, nctx = batch * 77 * c->cross_attention_dim;
    LDM_CHECK(ldm_alloc((size_t)nx * sizeof(float), "bench sample", (void **)&x));
    LDM_CHECK(ldm_alloc((size_t)nctx * sizeof(float), "bench context", (void **)&ctx));
    LDM_CHECK(ldm_alloc((size_t)(batch * c->out_channels * lh * lw) * sizeof(float), "bench out",
                        (void **)&out));
    for (int64_t i = 0; i < nx; i++)
        x[i] = uniform(1u << 20, (uint64_t)i);
    for (int64_t i = 0; i < nctx; i++)
        ctx[i] = uniform(1u << 21, (uint64_t)i);
    float t[16];
    for (int i = 0; i < 16; i++)
        t[i] = 500.0f;
    double best = 1e30, sum = 0.0;
    for (int it = -1; it < iters; it++) {
        double s = now(), cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        LDM_CHECK(ldm_unet_forward(u, x, t, ctx, out));
        double dt = now() - s;
        cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu;
        printf("forward%s: %.3f s wall, %.3f s CPU (busy %.0f%%)  out[0] = %g\n",
               it < 0 ? " (warm-up)" : "", dt, cpu, 100.0 * cpu / (dt * threads),
               (double)out[0]);
        if (it >= 0) {
            best = dt < best ? dt : best;
            sum += dt;
        }
    }
    if (iters > 0)
        printf("best %.3f s, mean %.3f s over %d forwards\n", best, sum / iters, iters);
cleanup:
    if (st != LDM_OK)
        fprintf(stderr, "bench_unet: %s\n", ldm_error_message());
    ldm_free(x);
    ldm_free(ctx);
    ldm_free(out);
    ldm_unet_destroy(&u);
    ldm_weights_close(&w);
    ldm_weight_file_close(&file);
    ldm_spec_list_free(&list);
    ldm_config_free(&cfg);
    return st == LDM_OK ? 0 : (int)st;
}
