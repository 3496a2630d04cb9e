/* sampling.h — diffusers' Downsample2D and Upsample2D in channels-last (NHWC).
 *
 * Downsample2D (models/downsampling.py), use_conv=True (the form every
 * DownBlock of the LDM UNet and the VAE encoder uses; the AvgPool form is
 * not implemented): a 3×3 stride-2 conv with `padding` on every side, except
 * padding 0, where diffusers first pads right and bottom by one
 * (F.pad(x, (0, 1, 0, 1))). Output size: (h + 2p − 3) / 2 + 1 for p > 0,
 * (h − 2) / 2 + 1 for p = 0 (integer division).
 *   Tensors: <prefix>.conv.weight [out, ch, 3, 3], <prefix>.conv.bias [out]
 *   (prefix "down_blocks.0.downsamplers.0": the blocks build it with
 *   name="op", whose module is `conv`).
 *
 * Upsample2D (models/upsampling.py), without conv transpose or norm:
 * F.interpolate(x, scale_factor=2, mode="nearest"), or to an explicit
 * output size (the UNet's `upsample_size` when the latent is not a multiple
 * of its downsampling factor; torch's nearest rule src = floor(dst · in/out)),
 * then, when use_conv, a 3×3 conv with padding 1.
 *   Tensors: <prefix>.conv.weight [out, ch, 3, 3], <prefix>.conv.bias [out]
 *
 * Lifecycle as ResnetBlock2D (resnet.h): *_specs, *_create (for one input
 * shape), *_arena_bytes, *_forward (no allocation; temporaries from the
 * arena, returned before it ends), *_destroy. out must not overlap in.
 */
#ifndef LDM_MODELS_SAMPLING_H
#define LDM_MODELS_SAMPLING_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "io/weights.h"
#include "models/parallel.h"
#include "models/resnet.h"

/* ---- Downsample2D ----------------------------------------------------- */

typedef struct ldm_downsample_desc {
    const char *prefix;       /* "down_blocks.0.downsamplers.0" (copied) */
    int64_t channels;
    int64_t out_channels;     /* 0 = channels */
    int64_t padding;          /* >= 0; 0 = diffusers' asymmetric (0, 1, 0, 1) */
    int64_t batch, h, w;      /* input [batch, h, w, channels] (all strips' rows) */
    const ldm_model_parallel *parallel; /* borrowed, or NULL (models/parallel.h) */
    int64_t align;            /* the input level's strip alignment (even when split) */
} ldm_downsample_desc;

typedef struct ldm_downsample ldm_downsample;

/* Output height and width; LDM_EINPUT naming the prefix for a bad desc. */
ldm_status ldm_downsample_out_size(const ldm_downsample_desc *desc, int64_t *oh, int64_t *ow);
ldm_status ldm_downsample_specs(const ldm_downsample_desc *desc, ldm_spec_list *list);
ldm_status ldm_downsample_create(const ldm_downsample_desc *desc, const ldm_weights *w,
                                 ldm_downsample **out);
size_t ldm_downsample_arena_bytes(const ldm_downsample *block);
/* out [batch, oh, ow, out_channels] from in [batch, h, w, channels]
 * (under a spatial split: this rank's strips of both, collective). */
ldm_status ldm_downsample_forward(ldm_downsample *block, float *out, const float *in,
                                  ldm_arena *arena);
void ldm_downsample_destroy(ldm_downsample **block);

/* ---- Upsample2D ------------------------------------------------------- */

typedef struct ldm_upsample_desc {
    const char *prefix;       /* "up_blocks.0.upsamplers.0" (copied) */
    int64_t channels;
    int64_t out_channels;     /* 0 = channels; must equal channels without conv */
    int use_conv;             /* 1: conv 3×3 after interpolation; 0: none (no tensors) */
    int64_t batch, h, w;      /* input [batch, h, w, channels] */
    int64_t out_h, out_w;     /* 0, 0: 2h × 2w; else F.interpolate(size=(out_h, out_w)) */
    const ldm_model_parallel *parallel; /* borrowed, or NULL (models/parallel.h) */
    int64_t align;            /* the input level's strip alignment; the output's is 2·align */
} ldm_upsample_desc;

typedef struct ldm_upsample ldm_upsample;

ldm_status ldm_upsample_specs(const ldm_upsample_desc *desc, ldm_spec_list *list);
ldm_status ldm_upsample_create(const ldm_upsample_desc *desc, const ldm_weights *w,
                               ldm_upsample **out);
size_t ldm_upsample_arena_bytes(const ldm_upsample *block);
/* out [batch, out_h, out_w, out_channels] from in [batch, h, w, channels]
 * (under a spatial split: this rank's strips of both, collective; the
 * output strip's rows come from the input strip alone). */
ldm_status ldm_upsample_forward(ldm_upsample *block, float *out, const float *in,
                                ldm_arena *arena);
void ldm_upsample_destroy(ldm_upsample **block);

/* Nearest-neighbour resize as F.interpolate(mode="nearest", size=(oh, ow)):
 * out [n, oh, ow, c] from in [n, h, w, c] (NHWC), no overlap. */
void ldm_resize_nearest_nhwc(float *out, const float *in, int64_t n, int64_t c, int64_t h,
                             int64_t w, int64_t oh, int64_t ow);

/* The same for strips: out rows [o0, o1) of the oh-row output from in rows
 * [i0, i1) of the h-row input (the rows must cover every source row, as
 * the strip rule guarantees: LDM_EINPUT otherwise). out [n, o1 − o0, ow, c],
 * in [n, i1 − i0, w, c]. */
ldm_status ldm_resize_nearest_rows(float *out, const float *in, int64_t n, int64_t c, int64_t h,
                                   int64_t i0, int64_t i1, int64_t w, int64_t oh, int64_t o0,
                                   int64_t o1, int64_t ow);

#endif
