/* transformer2d.h — diffusers' Transformer2DModel for continuous input, as
 * the UNet's cross-attention blocks use it (diffusers 0.27.2,
 * models/transformers/transformer_2d.py, attention.py, attention_processor.py):
 *
 *   residual = x                                     x: [B, C, H, W]
 *   h = GroupNorm(groups, C, eps 1e-6)(x)
 *   h = proj_in(h)           1×1 conv, or Linear when use_linear_projection
 *   tokens [B, H·W, inner]   inner = heads · head_dim
 *   num_layers × BasicTransformerBlock (norm_type "layer_norm"):
 *     h = attn1(norm1(h)) + h          self-attention: to_q/to_k/to_v (no bias), to_out.0
 *     h = attn2(norm2(h), context) + h cross-attention: k, v from context [B, L, cross_dim]
 *     h = ff(norm3(h)) + h             FeedForward: GEGLU proj (inner → 2·4·inner) → Linear
 *   out = proj_out(h) + residual       1×1 conv or Linear, inner → C
 *
 * Attention is softmax(q kᵀ / √head_dim) v per head (AttnProcessor2_0);
 * LayerNorms have eps `layer_norm_eps` (1e-5 in the UNet). upcast_attention
 * only matters for fp16 and is not represented here.
 *
 * Layout: activations are channels-last (NHWC), which for a Transformer2D is
 * [B, H·W, C] tokens, so the permutes of the PyTorch code disappear and both
 * projections are linear layers over pixels (a 1×1 convolution over NHWC
 * pixels is exactly a linear layer).
 *
 * Implementation notes: q, k and v of the self-attention come from one fused
 * [3·inner, inner] projection; k and v of the cross-attention from one fused
 * [2·inner, cross_dim] projection of the context, computed by
 * ldm_transformer2d_set_context and kept in the module: a sampler calls the
 * UNet 50 times with the same text context, and the projections do not
 * depend on the image. Activation memory comes from the execution context
 * (models/unet_util.h): nothing is allocated in forward.
 */
#ifndef LDM_MODELS_TRANSFORMER2D_H
#define LDM_MODELS_TRANSFORMER2D_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/weights.h"
#include "models/unet_util.h"

typedef struct ldm_transformer2d_desc {
    int64_t batch, height, width; /* input [batch, in_channels, height, width] (height: all
                                     strips' rows) */
    int64_t in_channels;
    int64_t heads, head_dim;      /* inner = heads · head_dim */
    int64_t num_layers;           /* BasicTransformerBlocks (>= 1) */
    int64_t cross_dim;            /* context features (cross_attention_dim) */
    int64_t context_tokens;       /* context length L (77) */
    int64_t groups;               /* GroupNorm groups (norm_num_groups) */
    int use_linear_projection;    /* 0: 1×1 convolutions, 1: Linear proj_in/proj_out */
    double layer_norm_eps;        /* 0 = 1e-5, BasicTransformerBlock's default */
    const ldm_model_parallel *parallel; /* borrowed, or NULL (models/parallel.h): under a
                                     spatial split the module works on this rank's rows and
                                     self-attention gathers every strip's keys and values
                                     (or, with LDM_ATTENTION=ring, passes them around a
                                     ring: models/ring_attention.h) */
    int64_t align;                /* the level's strip alignment (0 = 1) */
} ldm_transformer2d_desc;

typedef struct ldm_transformer2d ldm_transformer2d;

/* Append the module's tensors (diffusers' names under `prefix`, e.g.
 * "down_blocks.0.attentions.0"; "" for a module's own state dict) to
 * `list`. LDM_EINPUT for a bad desc. */
ldm_status ldm_transformer2d_specs(const ldm_transformer2d_desc *desc, const char *prefix,
                                   ldm_spec_list *list);

/* Build plans from the weights under `prefix` (shapes checked). `scratch_need`
 * grows to the largest kernel scratch the forward needs (for the shared
 * scratch of ldm_unet_exec). */
ldm_status ldm_transformer2d_create(const ldm_transformer2d_desc *desc, const ldm_weights *w,
                                    const char *prefix, size_t *scratch_need,
                                    ldm_transformer2d **out);

/* Project the context [B, L, cross_dim] to every block's cross-attention
 * keys and values, kept until the next call (memory owned by the module). */
ldm_status ldm_transformer2d_set_context(ldm_transformer2d *t, ldm_unet_exec *ex,
                                         const float *context);

/* out [B, H, W, C] (NHWC) = Transformer2D(x [B, H, W, C]) (H: this rank's
 * strip; collective under a split) with the context
 * of the last ldm_transformer2d_set_context (LDM_ERUNTIME if there was none).
 * out may equal x. Temporaries come from ex->arena and are released before
 * returning. */
ldm_status ldm_transformer2d_forward(ldm_transformer2d *t, ldm_unet_exec *ex, float *out,
                                     const float *x);

/* Free everything; NULL is fine; nulls the handle. */
void ldm_transformer2d_destroy(ldm_transformer2d **t);

#endif
