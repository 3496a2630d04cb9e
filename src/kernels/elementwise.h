/* elementwise.h — activations and element-wise arithmetic (torch semantics, fp32).
 *
 * All functions work in place (out == in) as well as out of place; counts are
 * element counts. Accuracy: SiLU ≤ 3 ulp of x·sigmoid(x); GELU is the exact
 * erf form (F.gelu default, approximate="none") with relative error ≤ 2e-7,
 * below the error of torch's own vectorised GELU.
 */
#ifndef LDM_KERNELS_ELEMENTWISE_H
#define LDM_KERNELS_ELEMENTWISE_H

#include <stdint.h>

#include "kernels/layout.h"

/* out = x · sigmoid(x)   (F.silu) */
void ldm_silu(float *out, const float *x, int64_t count);

/* out = x · Φ(x) = 0.5 · x · (1 + erf(x / √2))   (F.gelu) */
void ldm_gelu(float *out, const float *x, int64_t count);

/* diffusers' GEGLU after its projection: x [rows, 2·dim] is chunked on the
 * last dimension into hidden = x[:, :dim] and gate = x[:, dim:];
 * out [rows, dim] = hidden · gelu(gate). out must not overlap x. */
void ldm_geglu(float *out, const float *x, int64_t rows, int64_t dim);

/* out = a + b   (residual add; out may equal a or b) */
void ldm_add(float *out, const float *a, const float *b, int64_t count);

/* out = (a + b) / divisor, rounded as torch does: the sum is rounded to
 * float first, then divided (ResnetBlock2D's output_scale_factor). */
void ldm_add_div(float *out, const float *a, const float *b, float divisor, int64_t count);

/* out = x · s */
void ldm_scale(float *out, const float *x, float s, int64_t count);

/* x [n, c, h·w] += bias[n, c] broadcast over space (ResnetBlock2D adds the
 * projected time embedding as temb[:, :, None, None]). In place. */
void ldm_add_channel_bias(float *x, const float *bias, int64_t n, int64_t c, int64_t hw,
                          ldm_layout layout);

#endif
