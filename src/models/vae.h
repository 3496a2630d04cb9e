/* vae.h — diffusers' AutoencoderKL (the pipeline's `vqvae`): decoder and encoder.
 *
 * Specification: diffusers 0.27.2 models/autoencoders/autoencoder_kl.py and
 * vae.py (Encoder, Decoder, DiagonalGaussianDistribution), with the blocks of
 * unets/unet_2d_blocks.py (DownEncoderBlock2D, UpDecoderBlock2D,
 * UNetMidBlock2D with one self-attention: GroupNorm, one head of
 * head_dim = channels, residual connection, rescale_output_factor 1).
 *
 *   decode: z [B, latent_channels, h, w] → post_quant_conv → conv_in → mid
 *           → up blocks (layers_per_block + 1 resnets, nearest 2× + conv)
 *           → GroupNorm → SiLU → conv_out → image [B, out_channels, f·h, f·w]
 *   encode: x [B, in_channels, f·h, f·w] → conv_in → down blocks
 *           (layers_per_block resnets, stride-2 conv with diffusers' (0,1,0,1)
 *           pad) → mid → GroupNorm → SiLU → conv_out → quant_conv → moments;
 *           mean, logvar = chunk(moments, 2, dim=1), logvar clamped to [-30, 20]
 * with f = 2^(len(block_out_channels) − 1) (ldm_vae_downsample_factor).
 *
 * Inputs and outputs are NCHW as in diffusers; inside, activations are NHWC
 * and live in one arena allocated (and pre-faulted) by ldm_vae_create, sized
 * for the largest level (two ping-pong buffers of the largest activation plus
 * the largest block's temporaries). decode/encode allocate nothing.
 *
 * Config keys (config.json of the vqvae folder; missing keys take diffusers'
 * defaults): in_channels 3, out_channels 3, down_block_types
 * ["DownEncoderBlock2D"] (no other type), up_block_types
 * ["UpDecoderBlock2D"] (no other type), block_out_channels [64],
 * layers_per_block 1, act_fn "silu" ("swish" is the same), latent_channels
 * 4, norm_num_groups 32, scaling_factor 0.18215. Ignored as diffusers does
 * (they do not change the forward): sample_size, force_upcast, latents_mean,
 * latents_std. From later diffusers releases, honoured as they define them:
 * use_quant_conv, use_post_quant_conv, mid_block_add_attention (all
 * default true; 0.27.2 has none of them). Any other value is an error
 * naming the file, key and value.
 *
 * Weights: the state dict of AutoencoderKL, checked as a whole (missing,
 * unexpected, misshapen tensors are errors naming file and tensor), for both
 * halves even when only one is built. The mid-block attention may use either
 * diffusers' current names (to_q, to_k, to_v, to_out.0) or the deprecated
 * ones of older checkpoints such as CompVis/ldm-text2im-large-256 (query,
 * key, value, proj_attn), mapped as diffusers'
 * ModelMixin._convert_deprecated_attention_blocks does.
 */
#ifndef LDM_MODELS_VAE_H
#define LDM_MODELS_VAE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/config.h"
#include "io/weights.h"
#include "models/parallel.h"
#include "models/resnet.h"

enum { LDM_VAE_MAX_LEVELS = 8, LDM_VAE_MAX_LAYERS = 16 };

/* Which halves ldm_vae_create builds (plans, weights in memory). */
enum { LDM_VAE_DECODER = 1, LDM_VAE_ENCODER = 2 };

/* The config keys the model uses, with defaults applied. */
typedef struct ldm_vae_config {
    int64_t in_channels, out_channels, latent_channels;
    int levels;                                    /* len(block_out_channels) */
    int64_t block_out_channels[LDM_VAE_MAX_LEVELS];
    int64_t layers_per_block;
    int64_t norm_num_groups;
    double scaling_factor;
    int use_quant_conv, use_post_quant_conv, mid_block_add_attention;
} ldm_vae_config;

typedef struct ldm_vae ldm_vae;

/* Read and check the config (errors name the file, key and value). */
ldm_status ldm_vae_config_read(const ldm_config *config, ldm_vae_config *out);

/* Append every tensor of AutoencoderKL's state dict (both halves) with the
 * shape the config implies to `list` (models/resnet.h); the mid-block
 * attention under diffusers' current names (to_q, to_k, to_v, to_out.0),
 * as save_pretrained writes them. Errors: as ldm_vae_config_read. */
ldm_status ldm_vae_weight_specs(const ldm_config *config, ldm_spec_list *list);

/* Build the model for `batch` latents of latent_h × latent_w (images of
 * f·latent_h × f·latent_w). parts: LDM_VAE_DECODER and/or LDM_VAE_ENCODER.
 * Reads the config, checks every tensor of `w`, reads the weights of the
 * requested parts into conv/linear plans, allocates the activation arena.
 * `w` is not needed after this returns. *out is NULL on failure. */
ldm_status ldm_vae_create(const ldm_config *config, const ldm_weights *w, int64_t batch,
                          int64_t latent_h, int64_t latent_w, unsigned parts, ldm_vae **out);

/* The same with the decoder split over a Pc × Ps grid (models/parallel.h;
 * collective on both communicators). latent_h × latent_w is the whole
 * latent; the decoder works on latent rows [r0, r1) =
 * ldm_model_parallel_rows(parallel, latent_h, latent_align) (ldm_vae_get_rows:
 * pass ldm_unet_latent_align so the UNet's strips feed it directly) and
 * image rows [f·r0, f·r1). The encoder, when requested, is not split (every
 * rank runs it whole). parallel NULL or of one rank: exactly ldm_vae_create
 * (latent_align is then unused, but must be >= 1). LDM_EINPUT when the
 * spatial ranks outnumber the latent rows. The communicators must outlive
 * the model. */
ldm_status ldm_vae_create_parallel(const ldm_config *config, const ldm_weights *w, int64_t batch,
                                   int64_t latent_h, int64_t latent_w, unsigned parts,
                                   const ldm_model_parallel *parallel, int64_t latent_align,
                                   ldm_vae **out);

/* The decoder's latent rows [r0, r1) on this rank ([0, latent_h) unsplit). */
void ldm_vae_get_rows(const ldm_vae *vae, int64_t *r0, int64_t *r1);

/* image [B, out_channels, f·h, f·w] = decoder(post_quant_conv(latents)),
 * latents [B, latent_channels, h, w] already divided by the scaling factor
 * (as the pipeline does). Output in roughly [-1, 1], not clamped.
 * LDM_EINPUT if the decoder was not built. Under a spatial split: latents
 * [B, latent_channels, r1 − r0, w] and image [B, out, f·(r1 − r0), f·w] are
 * this rank's strips, and the call is collective. */
ldm_status ldm_vae_decode(ldm_vae *vae, const float *latents, float *image);

/* The posterior of image [B, in_channels, f·h, f·w]: mean and logvar
 * [B, latent_channels, h, w] (logvar clamped to [-30, 20]). Either output
 * may be NULL. The pipeline's latent is the mean (the distribution's mode),
 * times the scaling factor. LDM_EINPUT if the encoder was not built. */
ldm_status ldm_vae_encode(ldm_vae *vae, const float *image, float *mean, float *logvar);

/* DiagonalGaussianDistribution.sample with given noise:
 * sample = mean + exp(0.5 · logvar) · noise, `count` elements. */
void ldm_vae_posterior_sample(float *sample, const float *mean, const float *logvar,
                              const float *noise, int64_t count);

/* scaling_factor from the config (0.18215 when absent). */
double ldm_vae_scaling_factor(const ldm_vae *vae);
/* f = 2^(len(block_out_channels) − 1): image size / latent size. */
int64_t ldm_vae_downsample_factor(const ldm_vae *vae);
/* The resolved config. */
const ldm_vae_config *ldm_vae_get_config(const ldm_vae *vae);
/* Bytes of the activation arena. */
size_t ldm_vae_arena_bytes(const ldm_vae *vae);

/* Free everything (NULL is fine) and set *vae to NULL. */
void ldm_vae_destroy(ldm_vae **vae);

#endif
