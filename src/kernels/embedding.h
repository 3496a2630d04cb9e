/* embedding.h — sinusoidal timestep embedding.
 *
 * Exactly diffusers' get_timestep_embedding(timesteps, embedding_dim,
 * flip_sin_to_cos, downscale_freq_shift, scale, max_period), with its
 * float32 order of operations (half = dim / 2):
 *   exponent[i] = (float)(-ln(max_period)) · (float)i        (float32)
 *   exponent[i] = exponent[i] / (float)(half − shift)         (float32)
 *   emb[b, i]   = timesteps[b] · exp(exponent[i]) · scale      (float32)
 *   out[b]      = [sin(emb[b]), cos(emb[b])]  (cos first if flip_sin_to_cos)
 *   odd dim: one trailing zero.
 */
#ifndef LDM_KERNELS_EMBEDDING_H
#define LDM_KERNELS_EMBEDDING_H

#include <stdint.h>

#include "core/status.h"

/* out [n, dim] from timesteps [n] (already converted to float, as
 * timesteps.float() does). LDM_EINPUT if n < 1, dim < 2 or
 * half − shift == 0 (diffusers would divide by zero). */
ldm_status ldm_timestep_embedding(float *out, const float *timesteps, int64_t n, int64_t dim,
                                  int flip_sin_to_cos, double downscale_freq_shift,
                                  double scale, double max_period);

#endif
