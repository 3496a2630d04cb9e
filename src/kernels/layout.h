/* layout.h — activation layouts and conversion between them.
 *
 * diffusers' activations are NCHW. Inside the network the fast convolution
 * path wants channels-last (NHWC): oneDNN's direct convolution reaches ~90%
 * of peak on NHWC and 45–75% on NCHW (docs/performance.md). Every kernel that
 * sees a 4-D activation takes its layout explicitly.
 *
 *   LDM_LAYOUT_NCHW  element (n, c, y, x) at ((n·C + c)·H + y)·W + x
 *   LDM_LAYOUT_NHWC  element (n, c, y, x) at ((n·H + y)·W + x)·C + c
 *
 * NHWC with H·W tokens is also the [B, L, C] layout attention and linear
 * layers use, so a Transformer2DModel needs no permute in NHWC.
 */
#ifndef LDM_KERNELS_LAYOUT_H
#define LDM_KERNELS_LAYOUT_H

#include <stdint.h>

typedef enum ldm_layout {
    LDM_LAYOUT_NCHW = 0,
    LDM_LAYOUT_NHWC = 1
} ldm_layout;

/* Copy a [n, c, h, w] tensor from one layout to another.
 * out and in must not overlap; with equal layouts this is a copy. */
void ldm_layout_convert(float *out, ldm_layout out_layout, const float *in,
                        ldm_layout in_layout, int64_t n, int64_t c, int64_t h, int64_t w);

/* out [n, ca + cb, hw] = torch.cat([a, b], dim=1) for a [n, ca, hw] and
 * b [n, cb, hw], all in `layout` (the skip connections of UNet up blocks).
 * out must not overlap a or b. */
void ldm_concat_channels(float *out, const float *a, int64_t ca, const float *b, int64_t cb,
                         int64_t n, int64_t hw, ldm_layout layout);

#endif
