/* resnet.h — diffusers' ResnetBlock2D in channels-last (NHWC), and the small
 * helpers every model module uses to list, check and read its weights.
 *
 * ResnetBlock2D (diffusers 0.27.2 models/resnet.py), the form the LDM UNet
 * and AutoencoderKL use: pre-norm, time_embedding_norm "default", SiLU,
 * groups_out = groups, conv_shortcut_bias True, no up/down inside:
 *
 *   h   = conv1(silu(norm1(x)))                    norm1: GroupNorm(groups, in)
 *   h  += time_emb_proj(silu(temb))[:, :, None, None]      (when temb_channels > 0)
 *   h   = conv2(silu(norm2(h)))                    norm2: GroupNorm(groups, out)
 *   out = (shortcut(x) + h) / output_scale_factor  shortcut: 1×1 conv_shortcut
 *                                                   when use_in_shortcut, else x
 *
 * Tensors (state-dict names under `prefix`, e.g. "down_blocks.0.resnets.1"):
 *   norm1.weight/bias [in]      conv1.weight [out, in, 3, 3], conv1.bias [out]
 *   norm2.weight/bias [out]     conv2.weight [out, out, 3, 3], conv2.bias [out]
 *   time_emb_proj.weight [out, temb], .bias [out]      (temb_channels > 0)
 *   conv_shortcut.weight [out, in, 1, 1], .bias [out]  (use_in_shortcut)
 * (diffusers' `conv_shortcut=True` flag changes nothing in 0.27.2: the
 * shortcut is the 1×1 conv either way, so it is not a field here.)
 *
 * Lifecycle: a block is built for one input shape (batch, h, w), like the
 * conv plans it holds:
 *   ldm_resnet_specs(&desc, &list)        append its expected tensors
 *   ldm_resnet_create(&desc, w, &block)   read norms, pack conv/linear plans
 *   ldm_resnet_arena_bytes(block)         arena bytes its forward pushes
 *   ldm_resnet_forward(block, out, in, temb, arena)   no allocation, no I/O
 *   ldm_resnet_destroy(&block)
 *
 * Activations are NHWC: x [batch, h, w, in_channels], out [batch, h, w,
 * out_channels]. The forward takes its temporaries from the caller's arena
 * (ldm_arena_push) and returns the arena to where it found it; the caller
 * keeps ldm_resnet_arena_bytes free above its own buffers.
 *
 * Thread safety: a block runs on one thread at a time (its plans do).
 */
#ifndef LDM_MODELS_RESNET_H
#define LDM_MODELS_RESNET_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "io/weights.h"
#include "kernels/conv2d.h"
#include "kernels/linear.h"
#include "models/parallel.h"

/* ---- weight lists and reading (shared by the model modules) ---------- */

/* A growing list of expected tensors; names are owned by the list. */
typedef struct ldm_spec_list {
    ldm_weight_spec *items; /* owned, `count` of `cap` */
    int count;
    int cap;
} ldm_spec_list;

/* Append a tensor of shape shape[0..ndim) whose name is printf(fmt, ...).
 * ndim < 0: accept any shape (a tensor the file may carry but the model does
 * not use). LDM_ERUNTIME only when memory runs out. */
ldm_status ldm_spec_list_add(ldm_spec_list *list, int ndim, const int64_t *shape,
                             const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* ldm_weights_check(w, list): missing, unexpected, misshapen tensors. */
ldm_status ldm_spec_list_check(const ldm_spec_list *list, const ldm_weights *w);
/* Free the names and the array; the list is empty afterwards. */
void ldm_spec_list_free(ldm_spec_list *list);

/* Read tensor `name` (shape checked against shape[0..ndim)) as fp32 into a
 * new ldm_alloc'ed buffer *out. Errors name the tensor and the file. */
ldm_status ldm_model_read(const ldm_weights *w, const char *name, int ndim, const int64_t *shape,
                          float **out);

/* A conv plan from "<prefix>.weight" [c_out, c_in, kh, kw] and
 * "<prefix>.bias" [c_out] (has_bias nonzero), for `desc`. */
ldm_status ldm_model_conv_plan(const ldm_weights *w, const char *prefix,
                               const ldm_conv2d_desc *desc, int has_bias, ldm_conv2d_plan **out);

/* A linear plan from "<prefix>.weight" [n, k] and "<prefix>.bias" [n]. */
ldm_status ldm_model_linear_plan(const ldm_weights *w, const char *prefix,
                                 const ldm_linear_desc *desc, int has_bias,
                                 ldm_linear_plan **out);

/* ---- ResnetBlock2D ---------------------------------------------------- */

typedef struct ldm_resnet_desc {
    const char *prefix;          /* "down_blocks.0.resnets.1" (copied) */
    int64_t in_channels;
    int64_t out_channels;        /* 0 = in_channels (diffusers' None) */
    int64_t temb_channels;       /* 0 = no time_emb_proj (diffusers' None) */
    int64_t groups;              /* GroupNorm groups of norm1 and norm2 */
    double eps;                  /* GroupNorm eps (UNet: norm_eps, VAE: 1e-6) */
    double output_scale_factor;  /* > 0; 1.0 in the LDM models */
    int use_in_shortcut;         /* -1: in != out (diffusers' None); 0 or 1 */
    int64_t batch, h, w;         /* input shape [batch, h, w, in_channels] (the whole
                                    activation: h counts every strip's rows) */
    const ldm_model_parallel *parallel; /* borrowed, or NULL: the split (models/parallel.h);
                                    the block then works on this rank's strip */
    int64_t align;               /* the strip alignment of this level (0 = 1) */
} ldm_resnet_desc;

typedef struct ldm_resnet ldm_resnet;

/* Append the block's tensors to `list`. LDM_EINPUT (message naming the
 * prefix and field) for a bad description. */
ldm_status ldm_resnet_specs(const ldm_resnet_desc *desc, ldm_spec_list *list);

/* Check the description, read the norms, pack conv1/conv2/conv_shortcut
 * and time_emb_proj into plans for the desc's shape. *out is NULL on error. */
ldm_status ldm_resnet_create(const ldm_resnet_desc *desc, const ldm_weights *w,
                             ldm_resnet **out);

/* Bytes ldm_resnet_forward pushes on the arena (at most). */
size_t ldm_resnet_arena_bytes(const ldm_resnet *block);

/* out [batch, h, w, out_channels] = ResnetBlock2D(in [batch, h, w,
 * in_channels], temb [batch, temb_channels]); under a spatial split h is
 * this rank's strip (ldm_resnet_rows) and the call is collective. temb is required when
 * temb_channels > 0 (LDM_EINPUT without it) and ignored otherwise. out must
 * not overlap in or temb. LDM_ERUNTIME if the arena is too small or a kernel
 * fails. */
ldm_status ldm_resnet_forward(ldm_resnet *block, float *out, const float *in, const float *temb,
                              ldm_arena *arena);

/* Rows of this rank's strip (h without a spatial split). */
int64_t ldm_resnet_rows(const ldm_resnet *block);

/* Free everything (NULL is fine) and set *block to NULL. */
void ldm_resnet_destroy(ldm_resnet **block);

#endif
