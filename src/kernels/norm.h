/* norm.h — GroupNorm and LayerNorm (torch semantics, fp32 in and out).
 *
 * Statistics are accumulated in double, two-pass (mean, then the sum of
 * squared deviations), so the result matches torch to ~1e-7 relative even
 * for inputs with a large mean. Variance is the biased one (divide by the
 * count), as torch's normalisation layers use.
 *
 * GroupNorm is split in two so a spatially distributed caller (mpi/) can
 * reduce partial statistics between the steps:
 *   ldm_group_norm_moments  per (batch, group) count/mean/M2 of a local part
 *   ldm_moments_merge       Chan et al.'s exact pairwise combination
 *   ldm_group_norm_apply    y = (x − mean)·rstd·gamma + beta [then SiLU]
 * ldm_group_norm does all three for one process.
 *
 * `silu` nonzero fuses the SiLU that follows most GroupNorms in diffusers'
 * ResnetBlock2D (norm1 → nonlinearity), saving one pass over memory.
 * out may equal x (in place). gamma/beta may be NULL (1 and 0).
 */
#ifndef LDM_KERNELS_NORM_H
#define LDM_KERNELS_NORM_H

#include <stdint.h>

#include "core/status.h"
#include "kernels/layout.h"

/* Moments of a set of values: count, mean, and M2 = Σ (x − mean)². */
typedef struct ldm_moments {
    double count;
    double mean;
    double m2;
} ldm_moments;

/* out[n * groups]: moments over each (batch, group) of x [n, c, hw] in
 * `layout` (hw = h·w, the local spatial extent). c % groups == 0. */
void ldm_group_norm_moments(ldm_moments *out, const float *x, int64_t n, int64_t c, int64_t hw,
                            int64_t groups, ldm_layout layout);

/* acc ← moments of the union of the two sets (exact up to rounding). */
void ldm_moments_merge(ldm_moments *acc, const ldm_moments *other);

/* out = GroupNorm(x) given the full moments[n * groups] (var = m2 / count). */
void ldm_group_norm_apply(float *out, const float *x, const ldm_moments *moments,
                          const float *gamma, const float *beta, double eps, int64_t n,
                          int64_t c, int64_t hw, int64_t groups, ldm_layout layout, int silu);

/* out [n, c, hw] = F.group_norm(x, groups, gamma, beta, eps) [then F.silu].
 * LDM_EINPUT if sizes are not positive, groups does not divide c, or
 * groups > 1024 (the statistics live on the stack; diffusers uses 32). */
ldm_status ldm_group_norm(float *out, const float *x, const float *gamma, const float *beta,
                          int64_t n, int64_t c, int64_t hw, int64_t groups, double eps,
                          ldm_layout layout, int silu);

/* out [rows, dim] = F.layer_norm(x, (dim,), gamma, beta, eps) over the last
 * dimension. LDM_EINPUT if sizes are not positive. */
ldm_status ldm_layer_norm(float *out, const float *x, const float *gamma, const float *beta,
                          int64_t rows, int64_t dim, double eps);

#endif
