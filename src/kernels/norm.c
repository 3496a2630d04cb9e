/* norm.c — GroupNorm and LayerNorm (see norm.h).
 *
 * The OpenMP regions only distribute rows; the arithmetic is in the small
 * LDM_CLONES row functions below, so it is vectorised for the CPU at hand
 * (OpenMP's outlined bodies would not be cloned). */
#include "kernels/norm.h"
#include "core/timers.h"

#include <math.h>
#include <string.h>

#include "simd.h"

/* Σ x over `rows` segments of `len` floats, `stride` apart, in double. */
static LDM_CLONES double sum_rows(const float *x, int64_t rows, int64_t len, int64_t stride)
{
    double s = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const float *row = x + r * stride;
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < len; i++)
            s += (double)row[i];
    }
    return s;
}

/* Σ (x − mean)² over the same segments. */
static LDM_CLONES double dev2_rows(const float *x, int64_t rows, int64_t len, int64_t stride,
                                   double mean)
{
    double s = 0.0;
    for (int64_t r = 0; r < rows; r++) {
        const float *row = x + r * stride;
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < len; i++) {
            double d = (double)row[i] - mean;
            s += d * d;
        }
    }
    return s;
}

static ldm_moments moments_of(const float *x, int64_t rows, int64_t len, int64_t stride)
{
    ldm_moments m;
    m.count = (double)rows * (double)len;
    m.mean = sum_rows(x, rows, len, stride) / m.count;
    m.m2 = dev2_rows(x, rows, len, stride, m.mean);
    return m;
}

/* out = x·a + b with one (a, b) for the row [then SiLU]. */
static LDM_CLONES void affine_scalar(float *out, const float *x, float a, float b, int64_t len,
                                     int silu)
{
    if (silu) {
#pragma omp simd
        for (int64_t i = 0; i < len; i++)
            out[i] = ldm_vsilu(x[i] * a + b);
    } else {
#pragma omp simd
        for (int64_t i = 0; i < len; i++)
            out[i] = x[i] * a + b;
    }
}

/* out = x·a[i] + b[i] [then SiLU]. */
static LDM_CLONES void affine_vector(float *out, const float *x, const float *a, const float *b,
                                     int64_t len, int silu)
{
    if (silu) {
#pragma omp simd
        for (int64_t i = 0; i < len; i++)
            out[i] = ldm_vsilu(x[i] * a[i] + b[i]);
    } else {
#pragma omp simd
        for (int64_t i = 0; i < len; i++)
            out[i] = x[i] * a[i] + b[i];
    }
}

/* acc[i] += x[i] and acc[i] += (x[i] − mean[i])², in double. */
static LDM_CLONES void sum_into(double *acc, const float *x, int64_t len)
{
#pragma omp simd
    for (int64_t i = 0; i < len; i++)
        acc[i] += (double)x[i];
}

static LDM_CLONES void dev2_into(double *acc, const float *x, const double *mean, int64_t len)
{
#pragma omp simd
    for (int64_t i = 0; i < len; i++) {
        double d = (double)x[i] - mean[i];
        acc[i] += d * d;
    }
}

enum { NHWC_CHUNK = 256 };   /* channels per NHWC task (whole groups) */

/* NHWC: moments of `ng` consecutive groups of cpg channels starting at x
 * (one batch entry), over hw pixels c apart. Per-channel sums run along
 * each contiguous pixel row (vectorised), then fold into groups. */
static void nhwc_moments(ldm_moments *out, const float *x, int64_t c, int64_t hw, int64_t cpg,
                         int64_t ng)
{
    double acc[NHWC_CHUNK], mean[NHWC_CHUNK];
    int64_t len = ng * cpg;
    memset(acc, 0, sizeof acc);
    for (int64_t p = 0; p < hw; p++)
        sum_into(acc, x + p * c, len);
    for (int64_t g = 0; g < ng; g++) {
        double s = 0.0;
        for (int64_t j = 0; j < cpg; j++)
            s += acc[g * cpg + j];
        out[g].count = (double)hw * (double)cpg;
        out[g].mean = s / out[g].count;
        for (int64_t j = 0; j < cpg; j++)
            mean[g * cpg + j] = out[g].mean;
    }
    memset(acc, 0, sizeof acc);
    for (int64_t p = 0; p < hw; p++)
        dev2_into(acc, x + p * c, mean, len);
    for (int64_t g = 0; g < ng; g++) {
        double s = 0.0;
        for (int64_t j = 0; j < cpg; j++)
            s += acc[g * cpg + j];
        out[g].m2 = s;
    }
}

static void group_norm_moments_impl(ldm_moments *out, const float *x, int64_t n, int64_t c, int64_t hw,
                                    int64_t groups, ldm_layout layout)
{
    int64_t cpg = c / groups;
    if (layout == LDM_LAYOUT_NHWC && cpg <= NHWC_CHUNK) {
        int64_t gpc = NHWC_CHUNK / cpg;                  /* groups per task */
        int64_t chunks = (groups + gpc - 1) / gpc;
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < n * chunks; t++) {
            int64_t b = t / chunks, g0 = (t % chunks) * gpc;
            int64_t ng = groups - g0 < gpc ? groups - g0 : gpc;
            nhwc_moments(out + b * groups + g0, x + b * hw * c + g0 * cpg, c, hw, cpg, ng);
        }
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t ng = 0; ng < n * groups; ng++) {
        int64_t b = ng / groups, g = ng % groups;
        if (layout == LDM_LAYOUT_NCHW)   /* one contiguous block of cpg·hw */
            out[ng] = moments_of(x + (b * c + g * cpg) * hw, 1, cpg * hw, 0);
        else                             /* hw segments of cpg (> NHWC_CHUNK), c apart */
            out[ng] = moments_of(x + b * hw * c + g * cpg, hw, cpg, c);
    }
}

void ldm_moments_merge(ldm_moments *acc, const ldm_moments *other)
{
    double n = acc->count + other->count;
    if (other->count == 0.0)
        return;
    if (acc->count == 0.0) {
        *acc = *other;
        return;
    }
    double delta = other->mean - acc->mean;
    acc->mean += delta * (other->count / n);
    acc->m2 += other->m2 + delta * delta * (acc->count * other->count / n);
    acc->count = n;
}

/* Per-channel scale and shift: y = (x − mean)·rstd·γ + β = x·a + b. */
static void channel_affine(float *a, float *b, const ldm_moments *m, const float *gamma,
                           const float *beta, double eps, int64_t c0, int64_t len, int64_t cpg)
{
    for (int64_t j = 0; j < len; j++) {
        int64_t ch = c0 + j;
        const ldm_moments *gm = &m[ch / cpg];
        double rstd = 1.0 / sqrt(gm->m2 / gm->count + eps);
        double scale = rstd * (gamma ? gamma[ch] : 1.0);
        a[j] = (float)scale;
        b[j] = (float)((beta ? beta[ch] : 0.0) - gm->mean * scale);
    }
}

static void group_norm_apply_impl(float *out, const float *x, const ldm_moments *moments,
                                  const float *gamma, const float *beta, double eps, int64_t n,
                                  int64_t c, int64_t hw, int64_t groups, ldm_layout layout, int silu)
{
    int64_t cpg = c / groups;
    if (layout == LDM_LAYOUT_NCHW) {
#pragma omp parallel for schedule(static)
        for (int64_t nc = 0; nc < n * c; nc++) {
            float a, b;
            channel_affine(&a, &b, moments + (nc / c) * groups, gamma, beta, eps, nc % c, 1, cpg);
            affine_scalar(out + nc * hw, x + nc * hw, a, b, hw, silu);
        }
        return;
    }
    enum { CHUNK = 512 };
#pragma omp parallel
    {
        float a[CHUNK], b[CHUNK];
        for (int64_t bi = 0; bi < n; bi++)
            for (int64_t c0 = 0; c0 < c; c0 += CHUNK) {
                int64_t len = c - c0 < CHUNK ? c - c0 : CHUNK;
                channel_affine(a, b, moments + bi * groups, gamma, beta, eps, c0, len, cpg);
#pragma omp for schedule(static) nowait
                for (int64_t p = 0; p < hw; p++) {
                    int64_t off = (bi * hw + p) * c + c0;
                    affine_vector(out + off, x + off, a, b, len, silu);
                }
            }
    }
}

static ldm_status group_norm_impl(float *out, const float *x, const float *gamma, const float *beta,
                                  int64_t n, int64_t c, int64_t hw, int64_t groups, double eps,
                                  ldm_layout layout, int silu)
{
    if (n < 1 || c < 1 || hw < 1 || groups < 1)
        return ldm_error(LDM_EINPUT, "group_norm: sizes must be positive (n=%lld c=%lld "
                         "hw=%lld groups=%lld)", (long long)n, (long long)c, (long long)hw,
                         (long long)groups);
    if (c % groups != 0)
        return ldm_error(LDM_EINPUT, "group_norm: num_groups %lld does not divide %lld channels",
                         (long long)groups, (long long)c);
    if (layout != LDM_LAYOUT_NCHW && layout != LDM_LAYOUT_NHWC)
        return ldm_error(LDM_EINPUT, "group_norm: unknown layout %d", (int)layout);
    /* At most a few thousand groups per call: the moments live on the
     * stack in chunks of batch entries, so nothing is allocated. */
    enum { MAX_MOMENTS = 1024 };
    if (groups > MAX_MOMENTS)
        return ldm_error(LDM_EINPUT, "group_norm: %lld groups (at most %d)", (long long)groups,
                         MAX_MOMENTS);
    ldm_moments m[MAX_MOMENTS];
    int64_t per = MAX_MOMENTS / groups;   /* batch entries per chunk */
    for (int64_t b0 = 0; b0 < n; b0 += per) {
        int64_t nb = n - b0 < per ? n - b0 : per;
        group_norm_moments_impl(m, x + b0 * c * hw, nb, c, hw, groups, layout);
        group_norm_apply_impl(out + b0 * c * hw, x + b0 * c * hw, m, gamma, beta, eps, nb, c, hw,
                             groups, layout, silu);
    }
    return LDM_OK;
}

/* out = (x − mean)·rstd·γ + β over one row. */
static LDM_CLONES void layer_norm_row(float *out, const float *x, const float *gamma,
                                      const float *beta, float mean, float rstd, int64_t dim)
{
#pragma omp simd
    for (int64_t i = 0; i < dim; i++) {
        float y = (x[i] - mean) * rstd;
        out[i] = y * (gamma ? gamma[i] : 1.0f) + (beta ? beta[i] : 0.0f);
    }
}

static ldm_status layer_norm_impl(float *out, const float *x, const float *gamma, const float *beta,
                                  int64_t rows, int64_t dim, double eps)
{
    if (rows < 1 || dim < 1)
        return ldm_error(LDM_EINPUT, "layer_norm: sizes must be positive (rows=%lld dim=%lld)",
                         (long long)rows, (long long)dim);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        ldm_moments m = moments_of(x + r * dim, 1, dim, 0);
        double rstd = 1.0 / sqrt(m.m2 / m.count + eps);
        layer_norm_row(out + r * dim, x + r * dim, gamma, beta, (float)m.mean, (float)rstd, dim);
    }
    return LDM_OK;
}

/* Public entry points: one timer entry per call (core/timers.h). */
void ldm_group_norm_moments(ldm_moments *out, const float *x, int64_t n, int64_t c, int64_t hw,
                            int64_t groups, ldm_layout layout)
{
    const double t0 = ldm_timer_now();
    group_norm_moments_impl(out, x, n, c, hw, groups, layout);
    ldm_timer_add(LDM_T_NORM, ldm_timer_now() - t0, 0);
}

void ldm_group_norm_apply(float *out, const float *x, const ldm_moments *moments,
                          const float *gamma, const float *beta, double eps, int64_t n,
                          int64_t c, int64_t hw, int64_t groups, ldm_layout layout, int silu)
{
    const double t0 = ldm_timer_now();
    group_norm_apply_impl(out, x, moments, gamma, beta, eps, n, c, hw, groups, layout, silu);
    ldm_timer_add(LDM_T_NORM, ldm_timer_now() - t0, 0);
}

ldm_status ldm_group_norm(float *out, const float *x, const float *gamma, const float *beta,
                          int64_t n, int64_t c, int64_t hw, int64_t groups, double eps,
                          ldm_layout layout, int silu)
{
    const double t0 = ldm_timer_now();
    ldm_status st = group_norm_impl(out, x, gamma, beta, n, c, hw, groups, eps, layout, silu);
    ldm_timer_add(LDM_T_NORM, ldm_timer_now() - t0, 0);
    return st;
}

ldm_status ldm_layer_norm(float *out, const float *x, const float *gamma, const float *beta,
                          int64_t rows, int64_t dim, double eps)
{
    const double t0 = ldm_timer_now();
    ldm_status st = layer_norm_impl(out, x, gamma, beta, rows, dim, eps);
    ldm_timer_add(LDM_T_NORM, ldm_timer_now() - t0, 0);
    return st;
}
