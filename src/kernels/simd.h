/* simd.h — internal: vectorisable math for the element-wise kernels.
 *
 * The loops in norm.c, elementwise.c and attention.c are plain C that GCC
 * vectorises. libm's expf/erff are scalar calls that block vectorisation, so
 * exp and erfc are written out here (Cody–Waite range reduction and a
 * polynomial). Accuracy: ldm_vexpf_neg ≤ 2 ulp over [-87.3, 0] (smaller
 * arguments give ~1e-38 instead of 0, harmless where it is used: softmax and
 * sigmoid); ldm_verfc relative error ≤ 1.2e-7 (Numerical Recipes' erfcc,
 * evaluated in double), which is below torch's own GELU error.
 *
 * LDM_CLONES marks a function to be compiled for AVX-512, AVX2 and baseline
 * x86-64, the best chosen at load time; no -march flag is needed, so one
 * binary runs on any node of a cluster.
 */
#ifndef LDM_KERNELS_SIMD_H
#define LDM_KERNELS_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(LDM_NO_CLONES)
#define LDM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LDM_CLONES
#endif

/* e^x in float for x <= 0 (softmax after subtracting the row max, sigmoid
 * of -|x|): only the lower clamp is needed, which keeps the loop free of
 * blends. Below -87.3 it returns ~1e-38 instead of 0. */
static inline float ldm_vexpf_neg(float x)
{
    x = x > -87.33654f ? x : -87.33654f;
    /* n = round(x / ln 2) by the 1.5·2^23 trick (vectorises, unlike rintf) */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145751953125f;        /* ln2 high part, exact product */
    r = r - n * 1.428606765330187e-06f;          /* ln2 low part */
    /* Taylor to degree 7 on |r| <= 0.347: truncation 5e-9 relative */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* e^x in double, for |result| in double's normal range (x clamped). */
static inline double ldm_vexp(double x)
{
    x = x > -708.0 ? x : -708.0;
    x = x < 709.0 ? x : 709.0;
    double n = (x * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0;
    double r = x - n * 0.6931471803691238;       /* ln2 high (28 bits) */
    r = r - n * 1.9082149292705877e-10;          /* ln2 low */
    double p = 1.0 / 39916800.0;                 /* Taylor to degree 11 */
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    int64_t bits = ((int64_t)n + 1023) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* erfc(z) for any z, relative error < 1.2e-7 (Numerical Recipes erfcc). */
static inline double ldm_verfc(double z)
{
    double a = z < 0 ? -z : z;
    double t = 1.0 / (1.0 + 0.5 * a);
    double poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
                  t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
                  t * (-0.82215223 + t * 0.17087277))))))));
    double r = t * ldm_vexp(-a * a + poly);
    return z < 0 ? 2.0 - r : r;
}

/* GELU, exact (erf) form as torch's F.gelu(approximate="none"):
 * x·Φ(x) = 0.5·x·erfc(-x/√2). */
static inline float ldm_vgelu(float x)
{
    return (float)(0.5 * (double)x * ldm_verfc(-(double)x * 0.70710678118654752440));
}

/* SiLU as torch: x·sigmoid(x) = x / (1 + e^-x), evaluated with e = e^-|x|
 * (never overflows) as x / (1 + e) for x >= 0 and x·e / (1 + e) for x < 0:
 * one division, no blends around it. */
static inline float ldm_vsilu(float x)
{
    float neg_abs = x < 0.0f ? x : -x;
    float e = ldm_vexpf_neg(neg_abs);
    float num = x < 0.0f ? x * e : x;
    return num / (1.0f + e);
}

#endif
