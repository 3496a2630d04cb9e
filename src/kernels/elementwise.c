/* elementwise.c — activations and element-wise arithmetic (see elementwise.h).
 * Parallel loops split the range into chunks; each chunk runs a vectorised
 * LDM_CLONES row function. */
#include "kernels/elementwise.h"
#include "core/timers.h"

#include "simd.h"

/* Below this many elements a parallel region costs more than it saves. */
enum { CHUNK = 16384 };

static LDM_CLONES void silu_row(float *out, const float *x, int64_t len)
{
#pragma omp simd
    for (int64_t i = 0; i < len; i++)
        out[i] = ldm_vsilu(x[i]);
}

static LDM_CLONES void gelu_row(float *out, const float *x, int64_t len)
{
#pragma omp simd
    for (int64_t i = 0; i < len; i++)
        out[i] = ldm_vgelu(x[i]);
}

static LDM_CLONES void geglu_row(float *out, const float *hidden, const float *gate, int64_t len)
{
#pragma omp simd
    for (int64_t i = 0; i < len; i++)
        out[i] = hidden[i] * ldm_vgelu(gate[i]);
}

static LDM_CLONES void add_row(float *out, const float *a, const float *b, int64_t len)
{
#pragma omp simd
    for (int64_t i = 0; i < len; i++)
        out[i] = a[i] + b[i];
}

static LDM_CLONES void add_div_row(float *out, const float *a, const float *b, float d,
                                   int64_t len)
{
#pragma omp simd
    for (int64_t i = 0; i < len; i++)
        out[i] = (a[i] + b[i]) / d;
}

static LDM_CLONES void scale_row(float *out, const float *x, float s, int64_t len)
{
#pragma omp simd
    for (int64_t i = 0; i < len; i++)
        out[i] = x[i] * s;
}

static LDM_CLONES void add_scalar_row(float *x, float v, int64_t len)
{
#pragma omp simd
    for (int64_t i = 0; i < len; i++)
        x[i] += v;
}

/* Run `row(off, len)` over [0, count) in CHUNK pieces, in parallel when
 * there is more than one piece. */
#define FOR_CHUNKS(count, row)                                            \
    do {                                                                  \
        int64_t nchunks_ = ((count) + CHUNK - 1) / CHUNK;                 \
        _Pragma("omp parallel for schedule(static) if (nchunks_ > 1)")   \
        for (int64_t k_ = 0; k_ < nchunks_; k_++) {                       \
            int64_t off = k_ * CHUNK;                                     \
            int64_t len = (count) - off < CHUNK ? (count) - off : CHUNK;  \
            row;                                                          \
        }                                                                 \
    } while (0)

static void silu_impl(float *out, const float *x, int64_t count)
{
    FOR_CHUNKS(count, silu_row(out + off, x + off, len));
}

static void gelu_impl(float *out, const float *x, int64_t count)
{
    FOR_CHUNKS(count, gelu_row(out + off, x + off, len));
}

static void geglu_impl(float *out, const float *x, int64_t rows, int64_t dim)
{
#pragma omp parallel for schedule(static) if (rows * dim > CHUNK)
    for (int64_t r = 0; r < rows; r++)
        geglu_row(out + r * dim, x + r * 2 * dim, x + r * 2 * dim + dim, dim);
}

static void add_impl(float *out, const float *a, const float *b, int64_t count)
{
    FOR_CHUNKS(count, add_row(out + off, a + off, b + off, len));
}

static void add_div_impl(float *out, const float *a, const float *b, float divisor, int64_t count)
{
    FOR_CHUNKS(count, add_div_row(out + off, a + off, b + off, divisor, len));
}

static void scale_impl(float *out, const float *x, float s, int64_t count)
{
    FOR_CHUNKS(count, scale_row(out + off, x + off, s, len));
}

static void add_channel_bias_impl(float *x, const float *bias, int64_t n, int64_t c, int64_t hw,
                                  ldm_layout layout)
{
    if (layout == LDM_LAYOUT_NCHW) {
#pragma omp parallel for schedule(static) if (n * c * hw > CHUNK)
        for (int64_t nc = 0; nc < n * c; nc++)
            add_scalar_row(x + nc * hw, bias[nc], hw);
        return;
    }
#pragma omp parallel for collapse(2) schedule(static) if (n * c * hw > CHUNK)
    for (int64_t b = 0; b < n; b++)
        for (int64_t p = 0; p < hw; p++)
            add_row(x + (b * hw + p) * c, x + (b * hw + p) * c, bias + b * c, c);
}

/* Public entry points: one timer entry per call (core/timers.h). */
void ldm_silu(float *out, const float *x, int64_t count)
{
    const double t0 = ldm_timer_now();
    silu_impl(out, x, count);
    ldm_timer_add(LDM_T_ELEMENTWISE, ldm_timer_now() - t0, 0);
}

void ldm_gelu(float *out, const float *x, int64_t count)
{
    const double t0 = ldm_timer_now();
    gelu_impl(out, x, count);
    ldm_timer_add(LDM_T_ELEMENTWISE, ldm_timer_now() - t0, 0);
}

void ldm_geglu(float *out, const float *x, int64_t rows, int64_t dim)
{
    const double t0 = ldm_timer_now();
    geglu_impl(out, x, rows, dim);
    ldm_timer_add(LDM_T_ELEMENTWISE, ldm_timer_now() - t0, 0);
}

void ldm_add(float *out, const float *a, const float *b, int64_t count)
{
    const double t0 = ldm_timer_now();
    add_impl(out, a, b, count);
    ldm_timer_add(LDM_T_ELEMENTWISE, ldm_timer_now() - t0, 0);
}

void ldm_add_div(float *out, const float *a, const float *b, float divisor, int64_t count)
{
    const double t0 = ldm_timer_now();
    add_div_impl(out, a, b, divisor, count);
    ldm_timer_add(LDM_T_ELEMENTWISE, ldm_timer_now() - t0, 0);
}

void ldm_scale(float *out, const float *x, float s, int64_t count)
{
    const double t0 = ldm_timer_now();
    scale_impl(out, x, s, count);
    ldm_timer_add(LDM_T_ELEMENTWISE, ldm_timer_now() - t0, 0);
}

void ldm_add_channel_bias(float *x, const float *bias, int64_t n, int64_t c, int64_t hw,
                          ldm_layout layout)
{
    const double t0 = ldm_timer_now();
    add_channel_bias_impl(x, bias, n, c, hw, layout);
    ldm_timer_add(LDM_T_ELEMENTWISE, ldm_timer_now() - t0, 0);
}
