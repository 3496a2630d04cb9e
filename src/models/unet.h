/* unet.h — diffusers' UNet2DConditionModel (0.27.2) in C.
 *
 *   sample [B, in, h, w] (NCHW), timesteps [B], context [B, L, cross_dim]
 *   (center_input_sample: sample = 2·sample − 1)
 *   emb = TimestepEmbedding(Timesteps(timesteps))                 [B, time_embed_dim]
 *   h = conv_in(sample); residuals = [h]
 *   down blocks (CrossAttnDownBlock2D / DownBlock2D): h, residuals += …
 *   mid block (UNetMidBlock2DCrossAttn)
 *   up blocks (UpBlock2D / CrossAttnUpBlock2D): each takes its residuals
 *     from the end of the list; when h or w is not a multiple of
 *     2^(levels − 1), upsamplers resize to the next residual's size
 *     (diffusers' forward_upsample_size)
 *   out = conv_out(SiLU(conv_norm_out(h)))                          [B, out, h, w]
 *
 * See unet_blocks.h and transformer2d.h for the blocks. Inside, activations
 * are channels-last (NHWC); every plan and the one activation arena are made
 * by create for the given batch and latent size, so forward allocates
 * nothing. Batch 2 is classifier-free guidance (uncond ‖ cond).
 *
 * Config keys (every key diffusers' class takes; missing keys take its
 * defaults). Implemented: sample_size (recorded only), in_channels,
 * out_channels, center_input_sample, flip_sin_to_cos, freq_shift,
 * down_block_types / up_block_types (CrossAttnDownBlock2D, DownBlock2D /
 * CrossAttnUpBlock2D, UpBlock2D, also with diffusers' "UNetRes" prefix),
 * mid_block_type (UNetMidBlock2DCrossAttn), block_out_channels,
 * layers_per_block (int or list), downsample_padding,
 * mid_block_scale_factor, act_fn (silu/swish), norm_num_groups, norm_eps,
 * cross_attention_dim (int, or a list of equal values: there is one
 * context), attention_head_dim (int or list; the number of heads, as
 * diffusers reads it when num_attention_heads is null),
 * use_linear_projection, upcast_attention (no effect in fp32),
 * conv_in_kernel, conv_out_kernel (odd), time_embedding_dim,
 * transformer_layers_per_block (1, or a list of 1s), only_cross_attention
 * (false or all false), dropout (inference: ignored).
 * Accepted only at their defaults (any other value is an error naming the
 * file, key and value): num_attention_heads (diffusers 0.27.2 rejects it too),
 * dual_cross_attention, class_embed_type, num_class_embeds,
 * class_embeddings_concat, addition_embed_type, encoder_hid_dim,
 * encoder_hid_dim_type, time_embedding_type ("positional"),
 * time_embedding_act_fn, timestep_post_act, time_cond_proj_dim,
 * resnet_time_scale_shift ("default"), attention_type ("default"),
 * reverse_transformer_layers_per_block.
 * Ignored, as diffusers ignores them for these block types:
 * addition_time_embed_dim, addition_embed_type_num_heads,
 * projection_class_embeddings_input_dim, mid_block_only_cross_attention,
 * cross_attention_norm, resnet_skip_time_act, resnet_out_scale_factor.
 *
 * Thread safety: one forward at a time per ldm_unet (plans and arena are
 * reused); kernels use the thread count of kernels/threads.h.
 */
#ifndef LDM_MODELS_UNET_H
#define LDM_MODELS_UNET_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/config.h"
#include "io/weights.h"
#include "models/parallel.h"
#include "models/resnet.h"

enum { LDM_UNET_MAX_LEVELS = 8 };

/* A parsed unet/config.json (per level: the down block's index; the up
 * block of the same level is up block levels − 1 − i). */
typedef struct ldm_unet_config {
    int64_t sample_size;             /* 0 when absent or not an int */
    int64_t in_channels, out_channels;
    int center_input_sample;
    int flip_sin_to_cos;
    double freq_shift;
    int levels;                      /* number of down (and up) blocks */
    int down_cross[LDM_UNET_MAX_LEVELS];   /* 1: CrossAttnDownBlock2D, 0: DownBlock2D */
    int up_cross[LDM_UNET_MAX_LEVELS];     /* up block i: 1 CrossAttnUpBlock2D, 0 UpBlock2D */
    int64_t block_out_channels[LDM_UNET_MAX_LEVELS];
    int64_t layers_per_block[LDM_UNET_MAX_LEVELS];
    int64_t heads[LDM_UNET_MAX_LEVELS];    /* attention heads of level i */
    int64_t cross_attention_dim;
    int use_linear_projection;
    int upcast_attention;
    int64_t norm_num_groups;
    double norm_eps;
    int64_t downsample_padding;
    double mid_block_scale_factor;
    int64_t conv_in_kernel, conv_out_kernel;
    int64_t time_embed_dim;          /* time_embedding_dim or 4 · block_out_channels[0] */
} ldm_unet_config;

typedef struct ldm_unet ldm_unet;

/* Parse and check a unet/config.json. Errors name the file, the key and the
 * value: `unet/config.json: unsupported "resnet_time_scale_shift": "scale_shift"`. */
ldm_status ldm_unet_config_parse(const ldm_config *config, ldm_unet_config *out);

/* Append every tensor the config implies (diffusers' state-dict names and
 * shapes) to `list` (models/resnet.h), e.g. to make weights for a benchmark
 * or to describe a checkpoint. */
ldm_status ldm_unet_weight_specs(const ldm_config *config, ldm_spec_list *list);

/* Build the UNet for `batch` samples of latent_h × latent_w and contexts of
 * `context_tokens` tokens (77): parse the config, check the weights against
 * the full list of tensors the config implies (missing, unexpected and
 * misshapen tensors are errors naming the file and tensor), pack every
 * convolution and linear layer into a plan, and allocate the activation
 * arena (sized by a measuring pass of the forward). Errors: LDM_EINPUT for
 * a bad config, weights or size (e.g. a latent too small for the
 * downsamplers), LDM_ERUNTIME for memory or oneDNN failures. */
ldm_status ldm_unet_create(const ldm_config *config, const ldm_weights *weights, int64_t batch,
                           int64_t latent_h, int64_t latent_w, int64_t context_tokens,
                           ldm_unet **out);

/* The same over a Pc × Ps grid of ranks (models/parallel.h). Collective on
 * parallel->spatial and parallel->channel (every rank of both calls it with
 * the same arguments). latent_h × latent_w is the WHOLE latent; this rank
 * works on rows [r0, r1) = ldm_model_parallel_rows(parallel, latent_h,
 * ldm_unet_latent_align(config), …) (ldm_unet_get_rows). Under a channel
 * split every convolution and linear layer holds only its share of output
 * channels (weights read as row slices). parallel NULL (or communicators of
 * one rank): exactly ldm_unet_create. The communicators must outlive the
 * UNet. LDM_EINPUT when the spatial ranks outnumber the rows of the
 * coarsest level (message: the counts). A layer with fewer output channels
 * than channel ranks (conv_out) is not split. */
ldm_status ldm_unet_create_parallel(const ldm_config *config, const ldm_weights *weights,
                                    int64_t batch, int64_t latent_h, int64_t latent_w,
                                    int64_t context_tokens, const ldm_model_parallel *parallel,
                                    ldm_unet **out);

/* The strip alignment of the latent: 2^(levels − 1) (8 for the real UNet). */
int64_t ldm_unet_latent_align(const ldm_unet_config *cfg);

/* This rank's latent rows [r0, r1) ([0, latent_h) without a spatial split). */
void ldm_unet_get_rows(const ldm_unet *unet, int64_t *r0, int64_t *r1);

/* out [B, out_channels, h, w] = UNet(sample [B, in_channels, h, w],
 * timesteps [B] (float, as diffusers' timesteps.float()), context
 * [B, context_tokens, cross_attention_dim]), all in diffusers' layout (NCHW,
 * row-major). out may equal sample. No allocation, no I/O. The
 * cross-attention keys and values of the context are kept between calls and
 * recomputed only when the context's bytes change (a sampler passes the same
 * text embedding at every step). LDM_ERUNTIME if a kernel fails. */
ldm_status ldm_unet_forward(ldm_unet *unet, const float *sample, const float *timesteps,
                            const float *context, float *out);
/* Under a spatial split (ldm_unet_create_parallel) the forward is collective,
 * and sample and out are this rank's strips [B, C, r1 − r0, w] (NCHW, rows
 * [r0, r1) of ldm_unet_get_rows); timesteps and context are whole and the
 * same on every rank. */

/* The parsed config, and the shapes the UNet was built for. */
const ldm_unet_config *ldm_unet_get_config(const ldm_unet *unet);
void ldm_unet_get_shape(const ldm_unet *unet, int64_t *batch, int64_t *latent_h,
                        int64_t *latent_w, int64_t *context_tokens);

/* Activation arena and kernel scratch bytes (for logs and memory planning). */
size_t ldm_unet_activation_bytes(const ldm_unet *unet);

/* Free everything; NULL is fine; nulls the handle. */
void ldm_unet_destroy(ldm_unet **unet);

#endif
