/* bench_kernels.c — speed of the kernels on UNet/VAE/LDMBert shapes, and of
 * the alternatives they were chosen over (docs/performance.md).
 *
 *   bench_kernels [--threads N] [--min-time S] [--only conv|linear|attn|mem|peak]
 *
 * Every number is the median of repeated runs (at least 3, and at least
 * --min-time seconds, default 0.3) after one warm-up run; all buffers are
 * allocated and touched before timing. Each line prints ms, GFLOP/s (or GB/s
 * for memory-bound kernels), the fraction of the FMA peak measured in the
 * same run, and the ratio of the baseline's time to this one (>1: faster).
 *
 *   conv    baseline: oneDNN direct, NHWC. Also: direct on NCHW (with the
 *           plan's reorders), Winograd on NHWC (plan reorders to 16-channel
 *           blocks and back), AUTO, and im2col + OpenBLAS sgemm (NHWC).
 *   linear  baseline: ldm_linear plan (oneDNN matmul, packed weights). Also
 *           dnnl_sgemm and OpenBLAS sgemm on the unpacked torch weights.
 *   attn    baseline: ldm_attention with one tile holding the whole score
 *           matrix of a (batch, head) (what a non-streaming implementation
 *           does: QKᵀ, softmax, PV). Also the default and other tile sizes.
 *   mem     GroupNorm (+SiLU), GEGLU, SiLU, upsample, layout conversion.
 *
 * Threads: OpenMP (kernels and oneDNN) and OpenBLAS are both set to N; they
 * never run at the same time. N defaults to the cores available.
 */
#include <cblas.h>
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "kernels/attention.h"
#include "kernels/conv2d.h"
#include "kernels/elementwise.h"
#include "kernels/layout.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "kernels/resample.h"
#include "kernels/threads.h"

#include <dnnl.h>

static double min_time = 0.3;
static double peak_gflops = 0.0;

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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* CPU seconds of the last time_it (median), to tell a contended machine
 * from a slow kernel: on an idle machine cpu ≈ wall × threads. */
static double last_cpu;
static int bench_threads = 1;

/* Median wall seconds of fn(ctx) over at least 3 runs and min_time seconds. */
typedef void (*bench_fn)(void *ctx);
static double time_it(bench_fn fn, void *ctx)
{
    double t[201], c[201];
    int n = 0;
    fn(ctx);   /* warm-up: first-touch, JIT, caches */
    double start = now();
    while (n < 201 && (n < 3 || now() - start < min_time)) {
        double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = now();
        fn(ctx);
        t[n] = now() - t0;
        c[n++] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    qsort(c, (size_t)n, sizeof c[0], cmp_double);
    last_cpu = c[n / 2];
    return t[n / 2];
}

/* One result line: wall ms and GFLOP/s; the same rate on CPU time per
 * thread (what the kernel achieves while it runs: robust on a shared
 * machine, but it counts OpenMP spin-waits as work); % of the FMA peak on
 * that rate; "busy" = CPU time / (wall × threads), well below 100% meaning
 * the machine was shared; and the baseline's wall time over this one. */
static void report(const char *what, double sec, double flop, double base_sec)
{
    double gf = flop / sec * 1e-9, cpu_gf = flop / (last_cpu / bench_threads) * 1e-9;
    printf("  %-44s %9.3f ms %7.1f GFLOP/s | cpu %7.1f GFLOP/s %4.0f%% peak | busy %3.0f%%", what,
           sec * 1e3, gf, cpu_gf, peak_gflops > 0 ? 100.0 * cpu_gf / peak_gflops : 0.0,
           100.0 * last_cpu / (sec * bench_threads));
    if (base_sec > 0)
        printf(" | x%.2f", base_sec / sec);
    printf("\n");
}

static float *buffer(size_t count)
{
    void *p = NULL;
    if (ldm_alloc(count * sizeof(float), "bench buffer", &p) != LDM_OK) {
        fprintf(stderr, "%s\n", ldm_error_message());
        exit(2);
    }
    float *f = p;
    for (size_t i = 0; i < count; i++)
        f[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    return f;
}

/* ---- FMA peak ------------------------------------------------------- */

/* 12 independent FMA chains: enough to cover the FMA latency on two ports. */
static volatile float fma_sink;   /* a side effect: the loop cannot be moved */

__attribute__((target("avx512f,fma"), noinline)) static void fma_loop(long iters)
{
    __m512 b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(1e-4f);
    __m512 a0 = _mm512_set1_ps(0.f), a1 = _mm512_set1_ps(1.f), a2 = _mm512_set1_ps(2.f);
    __m512 a3 = _mm512_set1_ps(3.f), a4 = _mm512_set1_ps(4.f), a5 = _mm512_set1_ps(5.f);
    __m512 a6 = _mm512_set1_ps(6.f), a7 = _mm512_set1_ps(7.f), a8 = _mm512_set1_ps(8.f);
    __m512 a9 = _mm512_set1_ps(9.f), a10 = _mm512_set1_ps(10.f), a11 = _mm512_set1_ps(11.f);
    for (long it = 0; it < iters; it++) {
        a0 = _mm512_fmadd_ps(a0, b, c), a1 = _mm512_fmadd_ps(a1, b, c);
        a2 = _mm512_fmadd_ps(a2, b, c), a3 = _mm512_fmadd_ps(a3, b, c);
        a4 = _mm512_fmadd_ps(a4, b, c), a5 = _mm512_fmadd_ps(a5, b, c);
        a6 = _mm512_fmadd_ps(a6, b, c), a7 = _mm512_fmadd_ps(a7, b, c);
        a8 = _mm512_fmadd_ps(a8, b, c), a9 = _mm512_fmadd_ps(a9, b, c);
        a10 = _mm512_fmadd_ps(a10, b, c), a11 = _mm512_fmadd_ps(a11, b, c);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    fma_sink = _mm512_reduce_add_ps(s);
}

/* Peak from thread CPU time, so a shared machine does not lower it. */
static void bench_peak(int threads)
{
    if (!__builtin_cpu_supports("avx512f")) {
        printf("peak: no AVX-512 on this CPU, %% of peak not shown\n");
        return;
    }
    long iters = 20000000;
    double best = 0.0;
    for (int rep = 0; rep < 3; rep++) {
        double rate = 0.0;
#pragma omp parallel num_threads(threads) reduction(+ : rate)
        {
            double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
            fma_loop(iters);
            rate += (double)iters * 12 * 16 * 2 / (clock_s(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e-9;
        }
        best = fmax(best, rate);
    }
    peak_gflops = best;
    printf("peak: AVX-512 FMA loop, %d thread(s): %.1f GFLOP/s (%.1f per thread, on CPU time)\n",
           threads, peak_gflops, peak_gflops / threads);
}

/* ---- convolution ------------------------------------------------------ */

typedef struct conv_ctx {
    ldm_conv2d_plan *plan;
    float *in, *out;
    void *scratch;
    /* im2col */
    ldm_conv2d_desc d;
    int64_t oh, ow;
    float *col, *wt, *bias;
    int64_t chunk;
} conv_ctx;

static void run_conv(void *p)
{
    conv_ctx *c = p;
    if (ldm_conv2d_run(c->plan, c->out, c->in, c->scratch) != LDM_OK) {
        fprintf(stderr, "conv: %s\n", ldm_error_message());
        exit(2);
    }
}

/* NHWC im2col of output rows [r0, r0 + rows) into col [rows, kh·kw·cin]. */
static void im2col(const conv_ctx *c, int64_t r0, int64_t rows)
{
    const ldm_conv2d_desc *d = &c->d;
    int64_t kk = d->kh * d->kw * d->c_in;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        int64_t idx = r0 + r, n = idx / (c->oh * c->ow), oy = idx / c->ow % c->oh, ox = idx % c->ow;
        float *dst = c->col + r * kk;
        for (int64_t ky = 0; ky < d->kh; ky++)
            for (int64_t kx = 0; kx < d->kw; kx++, dst += d->c_in) {
                int64_t y = oy * d->stride_h + ky - d->pad_top, x = ox * d->stride_w + kx - d->pad_left;
                if (y < 0 || y >= d->h || x < 0 || x >= d->w)
                    memset(dst, 0, (size_t)d->c_in * sizeof(float));
                else
                    memcpy(dst, c->in + ((n * d->h + y) * d->w + x) * d->c_in,
                           (size_t)d->c_in * sizeof(float));
            }
    }
}

static void run_im2col(void *p)
{
    conv_ctx *c = p;
    const ldm_conv2d_desc *d = &c->d;
    int64_t total = d->n * c->oh * c->ow, kk = d->kh * d->kw * d->c_in;
    for (int64_t r0 = 0; r0 < total; r0 += c->chunk) {
        int64_t rows = total - r0 < c->chunk ? total - r0 : c->chunk;
        im2col(c, r0, rows);
        float *out = c->out + r0 * d->c_out;
        for (int64_t r = 0; r < rows; r++)   /* C starts as the bias */
            memcpy(out + r * d->c_out, c->bias, (size_t)d->c_out * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)d->c_out, (int)kk,
                    1.0f, c->col, (int)kk, c->wt, (int)d->c_out, 1.0f, out, (int)d->c_out);
    }
}

/* Relative L2 error of an NHWC 3x3 pad-1 stride-1 output against the exact
 * (double) convolution at 4096 sampled output points. */
static double conv_error(const float *out, const float *in, const float *w, const float *b,
                         int64_t n, int64_t ch, int64_t hw)
{
    double num = 0.0, den = 0.0;
    uint64_t s = 12345;
    for (int i = 0; i < 4096; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        uint64_t r = s >> 11;
        int64_t bn = (int64_t)(r % (uint64_t)n), oy = (int64_t)(r / 7 % (uint64_t)hw);
        int64_t ox = (int64_t)(r / 1031 % (uint64_t)hw), co = (int64_t)(r / 65537 % (uint64_t)ch);
        double acc = b[co];
        for (int64_t ky = 0; ky < 3; ky++)
            for (int64_t kx = 0; kx < 3; kx++) {
                int64_t y = oy + ky - 1, x = ox + kx - 1;
                if (y < 0 || y >= hw || x < 0 || x >= hw)
                    continue;
                const float *px = in + ((bn * hw + y) * hw + x) * ch;
                for (int64_t ci = 0; ci < ch; ci++)
                    acc += (double)px[ci] * (double)w[(co * ch + ci) * 9 + ky * 3 + kx];
            }
        double d = (double)out[((bn * hw + oy) * hw + ox) * ch + co] - acc;
        num += d * d;
        den += acc * acc;
    }
    return sqrt(num / den);
}

static double conv_variant(const char *name, ldm_conv2d_desc d, ldm_layout layout,
                           ldm_conv_algo algo, const float *w, const float *b, float *in,
                           float *out, double flop, double base)
{
    conv_ctx c = {0};
    d.layout = layout;
    d.algo = algo;
    ldm_error_clear();
    if (ldm_conv2d_plan_create(&d, w, b, &c.plan) != LDM_OK) {
        printf("  %-44s n/a (%s)\n", name, ldm_error_message());
        ldm_error_clear();
        return 0;
    }
    c.in = in;
    c.out = out;
    size_t sb = ldm_conv2d_scratch_bytes(c.plan);
    c.scratch = sb ? buffer(sb / sizeof(float) + 1) : NULL;
    double t = time_it(run_conv, &c);
    char label[96];
    snprintf(label, sizeof label, "%s [%s]", name, ldm_conv2d_plan_impl(c.plan));
    report(label, t, flop, base);
    if (layout == LDM_LAYOUT_NHWC)
        printf("  %-44s rel. L2 error vs exact (double): %.2e\n", "",
               conv_error(out, in, w, b, d.n, d.c_in, d.h));
    ldm_free(c.scratch);
    ldm_conv2d_plan_destroy(&c.plan);
    return t;
}

static void bench_conv_shape(int64_t n, int64_t ch, int64_t hw, int threads)
{
    ldm_conv2d_desc d = {.n = n, .c_in = ch, .h = hw, .w = hw, .c_out = ch, .kh = 3, .kw = 3,
                         .stride_h = 1, .stride_w = 1, .pad_top = 1, .pad_bottom = 1,
                         .pad_left = 1, .pad_right = 1};
    double flop = 2.0 * n * hw * hw * ch * ch * 9;
    printf("conv 3x3 %lld->%lld @ %lldx%lld, batch %lld (%.2f GFLOP)\n", (long long)ch,
           (long long)ch, (long long)hw, (long long)hw, (long long)n, flop * 1e-9);
    size_t act = (size_t)(n * ch * hw * hw);
    float *w = buffer((size_t)(ch * ch * 9)), *b = buffer((size_t)ch);
    float *in = buffer(act), *out = buffer(act);
    double base = conv_variant("direct nhwc (baseline)", d, LDM_LAYOUT_NHWC, LDM_CONV_DIRECT, w,
                               b, in, out, flop, 0);
    conv_variant("direct nchw", d, LDM_LAYOUT_NCHW, LDM_CONV_DIRECT, w, b, in, out, flop, base);
    conv_variant("winograd nhwc", d, LDM_LAYOUT_NHWC, LDM_CONV_WINOGRAD, w, b, in, out, flop, base);
    conv_variant("auto nhwc", d, LDM_LAYOUT_NHWC, LDM_CONV_AUTO, w, b, in, out, flop, base);
    /* im2col + OpenBLAS */
    conv_ctx c = {.d = d, .oh = hw, .ow = hw, .in = in, .out = out, .bias = b};
    int64_t kk = 9 * ch;
    c.chunk = 4096;
    c.col = buffer((size_t)(c.chunk * kk));
    c.wt = buffer((size_t)(kk * ch));   /* [(ky,kx,ci), co] from [co, ci, ky, kx] */
    for (int64_t co = 0; co < ch; co++)
        for (int64_t ci = 0; ci < ch; ci++)
            for (int64_t k = 0; k < 9; k++)
                c.wt[(k * ch + ci) * ch + co] = w[(co * ch + ci) * 9 + k];
    openblas_set_num_threads(threads);
    report("im2col + openblas sgemm nhwc", time_it(run_im2col, &c), flop, base);
    printf("  %-44s rel. L2 error vs exact (double): %.2e\n", "", conv_error(out, in, w, b, n, ch, hw));
    ldm_free(c.col), ldm_free(c.wt), ldm_free(w), ldm_free(b), ldm_free(in), ldm_free(out);
}

/* ---- linear ------------------------------------------------------------ */

typedef struct lin_ctx {
    ldm_linear_plan *plan;
    void *scratch;
    float *x, *w, *y;
    int64_t m, k, n;
} lin_ctx;

static void run_plan(void *p)
{
    lin_ctx *c = p;
    if (ldm_linear_run(c->plan, c->y, c->x, c->scratch) != LDM_OK)
        exit(2);
}

static void run_dnnl_sgemm(void *p)
{
    lin_ctx *c = p;
    dnnl_sgemm('N', 'T', c->m, c->n, c->k, 1.0f, c->x, c->k, c->w, c->k, 0.0f, c->y, c->n);
}

static void run_openblas(void *p)
{
    lin_ctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c->m, (int)c->n, (int)c->k, 1.0f,
                c->x, (int)c->k, c->w, (int)c->k, 0.0f, c->y, (int)c->n);
}

static void bench_linear_shape(const char *what, int64_t m, int64_t k, int64_t n, int threads)
{
    double flop = 2.0 * m * k * n;
    printf("linear %s: [%lld, %lld] x [%lld, %lld]^T (%.2f GFLOP)\n", what, (long long)m,
           (long long)k, (long long)n, (long long)k, flop * 1e-9);
    lin_ctx c = {.m = m, .k = k, .n = n};
    c.x = buffer((size_t)(m * k));
    c.w = buffer((size_t)(n * k));
    c.y = buffer((size_t)(m * n));
    ldm_linear_desc d = {.m = m, .k = k, .n = n};
    if (ldm_linear_plan_create(&d, c.w, NULL, &c.plan) != LDM_OK)
        exit(2);
    size_t sb = ldm_linear_scratch_bytes(c.plan);
    c.scratch = sb ? buffer(sb / sizeof(float) + 1) : NULL;
    char label[96];
    snprintf(label, sizeof label, "plan (baseline) [%s]", ldm_linear_plan_impl(c.plan));
    double base = time_it(run_plan, &c);
    report(label, base, flop, 0);
    report("dnnl_sgemm (unpacked)", time_it(run_dnnl_sgemm, &c), flop, base);
    openblas_set_num_threads(threads);
    report("openblas sgemm", time_it(run_openblas, &c), flop, base);
    ldm_linear_plan_destroy(&c.plan);
    ldm_free(c.scratch), ldm_free(c.x), ldm_free(c.w), ldm_free(c.y);
}

/* ---- attention -------------------------------------------------------- */

typedef struct attn_ctx {
    ldm_attention_desc d;
    float *q, *k, *v, *out;
    void *scratch;
    size_t scratch_bytes;
} attn_ctx;

static void run_attention(void *p)
{
    attn_ctx *c = p;
    if (ldm_attention(&c->d, c->out, c->q, c->k, c->v, c->scratch, c->scratch_bytes) != LDM_OK) {
        fprintf(stderr, "attention: %s\n", ldm_error_message());
        exit(2);
    }
}

static void bench_attention_shape(const char *what, int64_t b, int64_t heads, int64_t lq,
                                  int64_t lk, int64_t hd, int threads)
{
    double flop = 4.0 * b * heads * lq * lk * hd;
    printf("attention %s: batch %lld, %lld heads, %lld x %lld tokens, head_dim %lld "
           "(%.2f GFLOP)\n", what, (long long)b, (long long)heads, (long long)lq, (long long)lk,
           (long long)hd, flop * 1e-9);
    int64_t inner = heads * hd;
    attn_ctx c = {.d = {.batch = b, .heads = heads, .lq = lq, .lk = lk, .head_dim = hd}};
    c.q = buffer((size_t)(b * lq * inner));
    c.k = buffer((size_t)(b * lk * inner));
    c.v = buffer((size_t)(b * lk * inner));
    c.out = buffer((size_t)(b * lq * inner));
    const int64_t tiles[][2] = {{lq, lk}, {0, 0},     {64, 256},  {64, 512},
                                {128, 256}, {128, 1024}, {256, 512}, {256, 1024}};
    double base = 0;
    for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++) {
        c.d.block_q = tiles[i][0];
        c.d.block_k = tiles[i][1];
        c.scratch_bytes = ldm_attention_scratch_bytes(&c.d, threads);
        c.scratch = buffer(c.scratch_bytes / sizeof(float) + 1);
        char label[96];
        if (i == 0)
            snprintf(label, sizeof label, "one tile = whole score matrix (baseline)");
        else if (i == 1)
            snprintf(label, sizeof label, "default tiles");
        else
            snprintf(label, sizeof label, "tiles %lldx%lld",
                     (long long)tiles[i][0], (long long)tiles[i][1]);
        double t = time_it(run_attention, &c);
        report(label, t, flop, base);
        base = i == 0 ? t : base;
        ldm_free(c.scratch);
    }
    ldm_free(c.q), ldm_free(c.k), ldm_free(c.v), ldm_free(c.out);
}

/* ---- memory-bound kernels -------------------------------------------- */

typedef struct mem_ctx {
    int op;
    float *a, *b, *g, *beta;
    int64_t n, c, hw;
    ldm_layout layout;
} mem_ctx;

static void run_mem(void *p)
{
    mem_ctx *m = p;
    switch (m->op) {
    case 0: ldm_group_norm(m->b, m->a, m->g, m->beta, m->n, m->c, m->hw, 32, 1e-5, m->layout, 0); break;
    case 1: ldm_group_norm(m->b, m->a, m->g, m->beta, m->n, m->c, m->hw, 32, 1e-5, m->layout, 1); break;
    case 2: ldm_silu(m->b, m->a, m->n * m->c * m->hw); break;
    case 3: ldm_geglu(m->b, m->a, m->n * m->hw, m->c / 2); break;
    case 4: ldm_upsample_nearest2x(m->b, m->a, m->n, m->c, 32, 32, m->layout); break;
    case 5: ldm_layout_convert(m->b, LDM_LAYOUT_NHWC, m->a, LDM_LAYOUT_NCHW, m->n, m->c, 1, m->hw); break;
    default: break;
    }
}

static void bench_mem(void)
{
    printf("memory-bound kernels (GB/s counts bytes read + written once)\n");
    int64_t n = 2, c = 320, hw = 32 * 32, count = n * c * hw;
    mem_ctx m = {.n = n, .c = c, .hw = hw};
    m.a = buffer((size_t)count * 4);
    m.b = buffer((size_t)count * 4);
    m.g = buffer((size_t)c);
    m.beta = buffer((size_t)c);
    const struct { const char *name; int op; ldm_layout layout; double bytes; } cases[] = {
        {"group_norm nchw [2,320,32,32]", 0, LDM_LAYOUT_NCHW, 8.0 * count},
        {"group_norm nhwc [2,320,32,32]", 0, LDM_LAYOUT_NHWC, 8.0 * count},
        {"group_norm+silu nhwc [2,320,32,32]", 1, LDM_LAYOUT_NHWC, 8.0 * count},
        {"silu [2,320,32,32]", 2, LDM_LAYOUT_NHWC, 8.0 * count},
        {"geglu [2048, 2x160]", 3, LDM_LAYOUT_NHWC, 6.0 * count},
        {"upsample2x nchw [2,320,32,32]", 4, LDM_LAYOUT_NCHW, 20.0 * count},
        {"upsample2x nhwc [2,320,32,32]", 4, LDM_LAYOUT_NHWC, 20.0 * count},
        {"nchw->nhwc [2,320,32,32]", 5, LDM_LAYOUT_NHWC, 8.0 * count},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        m.op = cases[i].op;
        m.layout = cases[i].layout;
        double t = time_it(run_mem, &m);
        printf("  %-44s %9.3f ms %7.1f GB/s | cpu %7.1f GB/s | busy %3.0f%%\n", cases[i].name,
               t * 1e3, cases[i].bytes / t * 1e-9, cases[i].bytes / (last_cpu / bench_threads) * 1e-9,
               100.0 * last_cpu / (t * bench_threads));
    }
    ldm_free(m.a), ldm_free(m.b), ldm_free(m.g), ldm_free(m.beta);
}

int main(int argc, char **argv)
{
    int threads = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-time") && i + 1 < argc)
            min_time = atof(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--threads N] [--min-time S] "
                    "[--only conv|linear|attn|mem|peak]\n", argv[0]);
            return 1;
        }
    }
    threads = ldm_kernels_set_threads(threads);
    bench_threads = threads;
    openblas_set_num_threads(threads);
    const char *ct = getenv("OPENBLAS_CORETYPE"), *l2 = getenv("OPENBLAS_L2_SIZE");
    printf("threads %d (of %d cores); OpenBLAS %s, core %s; OPENBLAS_CORETYPE=%s "
           "OPENBLAS_L2_SIZE=%s\n", threads, ldm_kernels_cores(), openblas_get_config(),
           openblas_get_corename(), ct ? ct : "(unset)", l2 ? l2 : "(unset)");
    bench_peak(threads);
#define WANT(s) (!only || !strcmp(only, s))
    if (WANT("conv")) {
        bench_conv_shape(2, 320, 32, threads);
        bench_conv_shape(2, 640, 16, threads);
        bench_conv_shape(2, 1280, 8, threads);
        bench_conv_shape(2, 1280, 4, threads);
        bench_conv_shape(1, 128, 256, threads);
    }
    if (WANT("linear")) {
        bench_linear_shape("UNet 32x32 q/k/v/out", 2048, 320, 320, threads);
        bench_linear_shape("UNet 32x32 GEGLU proj", 2048, 320, 2560, threads);
        bench_linear_shape("UNet 32x32 FF out", 2048, 1280, 320, threads);
        bench_linear_shape("UNet 8x8 GEGLU proj", 128, 1280, 10240, threads);
        bench_linear_shape("UNet cross k/v", 154, 1280, 320, threads);
        bench_linear_shape("LDMBert FFN in", 154, 1280, 5120, threads);
        bench_linear_shape("LDMBert FFN out", 154, 5120, 1280, threads);
    }
    if (WANT("attn")) {
        bench_attention_shape("UNet 32x32 self", 2, 8, 1024, 1024, 40, threads);
        bench_attention_shape("UNet 32x32 cross", 2, 8, 1024, 77, 40, threads);
        bench_attention_shape("UNet 16x16 self", 2, 8, 256, 256, 80, threads);
        bench_attention_shape("UNet 8x8 self", 2, 8, 64, 64, 160, threads);
        bench_attention_shape("VAE mid 32x32", 1, 1, 1024, 1024, 512, threads);
        bench_attention_shape("64x64 latents self", 2, 8, 4096, 4096, 40, threads);
        bench_attention_shape("LDMBert self", 2, 8, 77, 77, 64, threads);
    }
    if (WANT("mem"))
        bench_mem();
    return 0;
}
