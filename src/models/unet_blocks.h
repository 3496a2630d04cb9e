/* unet_blocks.h — the blocks of diffusers' UNet2DConditionModel (0.27.2,
 * models/unets/unet_2d_blocks.py, models/embeddings.py), channels-last.
 *
 *   time embedding   Timesteps(C0, flip_sin_to_cos, freq_shift) →
 *                    TimestepEmbedding: linear_1, SiLU, linear_2
 *   down block       CrossAttnDownBlock2D / DownBlock2D:
 *                    num_layers × (ResnetBlock2D [→ Transformer2DModel]),
 *                    then Downsample2D (conv, downsample_padding) unless last;
 *                    every layer's output and the downsampler's are residuals
 *   mid block        UNetMidBlock2DCrossAttn: resnet, attention, resnet
 *                    (resnets with output_scale_factor = mid_block_scale_factor)
 *   up block         CrossAttnUpBlock2D / UpBlock2D: num_layers ×
 *                    (cat(h, skip) on channels → ResnetBlock2D [→ attention]),
 *                    skips taken from the end of the residual list, then
 *                    Upsample2D (nearest to 2× or a forced size, conv) unless last
 *
 * Resnets (models/resnet.h) use `groups` and `eps` (norm_eps), SiLU and
 * temb; the attentions are Transformer2DModel with `heads` heads of
 * out_channels / heads, one BasicTransformerBlock, GroupNorm `groups`.
 *
 * Each block is built for one input shape; activations are NHWC; the
 * forward takes temporaries from the execution context (models/unet_util.h)
 * and gives them back; it allocates nothing.
 */
#ifndef LDM_MODELS_UNET_BLOCKS_H
#define LDM_MODELS_UNET_BLOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/weights.h"
#include "models/resnet.h"
#include "models/unet_util.h"

/* ---- time embedding ----------------------------------------------------- */

typedef struct ldm_unet_time_desc {
    int64_t batch;
    int64_t channels;        /* sinusoid size: block_out_channels[0] */
    int64_t dim;             /* time_embed_dim (time_embedding_dim or 4·channels) */
    int flip_sin_to_cos;
    double freq_shift;
    const ldm_model_parallel *parallel; /* borrowed, or NULL: channel split of the linears */
} ldm_unet_time_desc;

typedef struct ldm_unet_time ldm_unet_time;

/* Tensors "<prefix>.linear_1.*", "<prefix>.linear_2.*" (prefix "time_embedding"). */
ldm_status ldm_unet_time_specs(const ldm_unet_time_desc *desc, const char *prefix,
                               ldm_spec_list *list);
ldm_status ldm_unet_time_create(const ldm_unet_time_desc *desc, const ldm_weights *w,
                                const char *prefix, size_t *scratch_need, ldm_unet_time **out);
/* emb [batch, dim] from timesteps [batch] (float, as timesteps.float()). */
ldm_status ldm_unet_time_forward(ldm_unet_time *t, ldm_unet_exec *ex, float *emb,
                                 const float *timesteps);
void ldm_unet_time_destroy(ldm_unet_time **t);

/* ---- blocks --------------------------------------------------------------- */

typedef struct ldm_unet_block_desc {
    int cross_attn;                /* 1: CrossAttn*Block2D / the mid block; 0: Down/UpBlock2D */
    int64_t batch, h, w;           /* input [batch, h, w, ·] */
    int64_t num_layers;            /* resnets (down/up); attentions of the mid block (1) */
    int64_t in_channels;           /* down: input; up: the last skip's channels; mid: all */
    int64_t out_channels;          /* down/up */
    int64_t prev_output_channels;  /* up: channels of the input hidden state */
    int64_t temb_channels;
    int64_t groups;                /* norm_num_groups */
    double eps;                    /* norm_eps (resnets) */
    double output_scale_factor;    /* resnets: 1, or mid_block_scale_factor */
    int64_t heads;                 /* num_attention_heads (cross_attn blocks) */
    int64_t cross_dim, context_tokens;
    int use_linear_projection;
    int add_sampler;               /* downsampler / upsampler */
    int64_t downsample_padding;    /* down */
    int64_t up_h, up_w;            /* up: upsampler output size; 0, 0 = 2h × 2w */
    const ldm_model_parallel *parallel; /* borrowed, or NULL (models/parallel.h): h counts
                                      every strip's rows; the block works on this rank's */
    int64_t align;                 /* the strip alignment of the block's input level (0 = 1) */
} ldm_unet_block_desc;

typedef struct ldm_unet_block ldm_unet_block;

/* Rows of this rank's strip of an h-row level with alignment `align`. */
int64_t ldm_unet_block_rows(const ldm_unet_block_desc *desc, int64_t h, int64_t align);

/* Number of residual states a down block outputs (layers + its downsampler). */
int64_t ldm_unet_down_states(const ldm_unet_block_desc *desc);
/* Spatial size after the block (the downsampler's / upsampler's output). */
ldm_status ldm_unet_block_out_size(const ldm_unet_block_desc *desc, int is_up, int64_t *oh,
                                   int64_t *ow);
/* Channels of the skip up-block layer i concatenates (diffusers:
 * in_channels for the last layer, out_channels otherwise). */
int64_t ldm_unet_up_skip_channels(const ldm_unet_block_desc *desc, int64_t i);

/* Tensors under `prefix` ("down_blocks.1", "mid_block", "up_blocks.0"; "" for
 * a block's own state dict). */
ldm_status ldm_unet_down_specs(const ldm_unet_block_desc *d, const char *prefix,
                               ldm_spec_list *list);
ldm_status ldm_unet_mid_specs(const ldm_unet_block_desc *d, const char *prefix,
                              ldm_spec_list *list);
ldm_status ldm_unet_up_specs(const ldm_unet_block_desc *d, const char *prefix,
                             ldm_spec_list *list);

ldm_status ldm_unet_down_create(const ldm_unet_block_desc *d, const ldm_weights *w,
                                const char *prefix, size_t *scratch_need, ldm_unet_block **out);
ldm_status ldm_unet_mid_create(const ldm_unet_block_desc *d, const ldm_weights *w,
                               const char *prefix, size_t *scratch_need, ldm_unet_block **out);
ldm_status ldm_unet_up_create(const ldm_unet_block_desc *d, const ldm_weights *w,
                              const char *prefix, size_t *scratch_need, ldm_unet_block **out);

/* Project the context [batch, L, cross_dim] into the keys and values of
 * the block's cross-attentions (kept until the next call; a no-op without
 * attention). The forwards below use the last context set. */
ldm_status ldm_unet_block_set_context(ldm_unet_block *b, ldm_unet_exec *ex,
                                      const float *context);

/* Down: states[i] gets residual i (ldm_unet_down_states of them: each
 * layer's output [batch, h, w, out], then the downsampler's [batch, oh, ow,
 * out]); the last one is the block's output. x [batch, h, w, in] must not
 * be one of the states. temb [batch, temb_channels]. */
ldm_status ldm_unet_down_forward(ldm_unet_block *b, ldm_unet_exec *ex, float *const *states,
                                 const float *x, const float *temb);
/* Mid: out [batch, h, w, c] from x [batch, h, w, c]; out != x. */
ldm_status ldm_unet_mid_forward(ldm_unet_block *b, ldm_unet_exec *ex, float *out,
                                const float *x, const float *temb);
/* Up: out [batch, oh, ow, out] from x [batch, h, w, prev_output_channels]
 * and skips[0..num_layers) in diffusers' res_hidden_states_tuple order
 * (layer i uses skips[num_layers − 1 − i], [batch, h, w,
 * ldm_unet_up_skip_channels(i)]). out must not overlap the inputs. */
ldm_status ldm_unet_up_forward(ldm_unet_block *b, ldm_unet_exec *ex, float *out,
                               const float *x, const float *const *skips, const float *temb);

void ldm_unet_block_destroy(ldm_unet_block **b);

#endif
