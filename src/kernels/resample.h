/* resample.h — nearest-neighbour 2× upsampling.
 *
 * F.interpolate(x, scale_factor=2.0, mode="nearest") as diffusers'
 * Upsample2D calls it: out[n, c, y, x] = in[n, c, y/2, x/2] (integer
 * division). (Downsampling is a stride-2 convolution: kernels/conv2d.h.)
 */
#ifndef LDM_KERNELS_RESAMPLE_H
#define LDM_KERNELS_RESAMPLE_H

#include <stdint.h>

#include "kernels/layout.h"

/* out [n, c, 2h, 2w] from in [n, c, h, w], both in `layout`; no overlap. */
void ldm_upsample_nearest2x(float *out, const float *in, int64_t n, int64_t c, int64_t h,
                            int64_t w, ldm_layout layout);

#endif
