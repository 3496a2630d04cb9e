/* vae_internal.h — the pieces of AutoencoderKL shared by vae*.c (not public).
 *
 * Each half (encoder, decoder) is described once by a "walk" over its
 * modules in forward order. A walk appends each module's tensors to `list`
 * (when not NULL) and creates the module into `coder` (when not NULL), so
 * the expected-tensor list and the built model cannot drift apart.
 */
#ifndef LDM_MODELS_VAE_INTERNAL_H
#define LDM_MODELS_VAE_INTERNAL_H

#include "core/arena.h"
#include "kernels/conv2d.h"
#include "models/resnet.h"
#include "models/parallel.h"
#include "models/sampling.h"
#include "models/vae.h"

/* UNetMidBlock2D's self-attention (diffusers Attention, _from_deprecated_attn_block). */
typedef struct ldm_vae_attn ldm_vae_attn;

/* One level of the encoder (resnets, then a downsample unless last) or of
 * the decoder (resnets, then an upsample unless last). */
typedef struct ldm_vae_level {
    int nres;
    ldm_resnet *res[LDM_VAE_MAX_LAYERS + 1];
    ldm_downsample *down;          /* encoder, or NULL */
    ldm_upsample *up;              /* decoder, or NULL */
} ldm_vae_level;

/* Encoder or decoder, built for one input shape. NHWC inside. */
typedef struct ldm_vae_coder {
    const ldm_model_parallel *par; /* borrowed, or NULL: the split (decoder only) */
    int64_t align;                 /* strip alignment of the input level (>= 1) */
    int64_t n;                     /* batch */
    int64_t in_h, in_w, in_c;      /* input [n, in_c, in_h, in_w] (NCHW at the boundary) */
    int64_t out_h, out_w, out_c;   /* output of conv_out (+ quant_conv) */
    int64_t in_rows, out_rows;     /* this rank's strips of input and output (in_h, out_h) */
    ldm_model_conv *pre;           /* decoder: post_quant_conv, or NULL */
    ldm_model_conv *conv_in;
    int nlevels;
    ldm_vae_level levels[LDM_VAE_MAX_LEVELS];
    ldm_resnet *mid_res[2];
    ldm_vae_attn *mid_attn;        /* NULL without mid_block_add_attention */
    int64_t mid_h, mid_w, mid_c;
    float *norm_g, *norm_b;        /* conv_norm_out [norm_c] */
    int64_t norm_c, groups;
    ldm_model_conv *conv_out;
    ldm_model_conv *post;          /* encoder: quant_conv, or NULL */
    int64_t max_act;               /* floats of the largest activation */
    size_t temp_bytes;             /* largest arena bytes of one module */
} ldm_vae_coder;

/* This rank's rows of an h-row level with alignment `align` under the
 * coder's split (h when coder is NULL or not split). */
int64_t ldm_vae_rows(const ldm_vae_coder *coder, int64_t h, int64_t align);

/* Append "<name>.weight" [c_out, c_in, kh, kw] and "<name>.bias" [c_out]
 * to list (if not NULL) and create the layer (if plan not NULL; desc is the
 * whole conv, align its input level's, split as coder->par says); keeps
 * coder->temp_bytes (if coder not NULL) above the layer's scratch. */
ldm_status ldm_vae_conv(const char *name, const ldm_conv2d_desc *desc, int64_t align,
                        ldm_spec_list *list, const ldm_weights *w, ldm_vae_coder *coder,
                        ldm_model_conv **plan);
/* The same for a GroupNorm's weight and bias [c]. */
ldm_status ldm_vae_norm(const char *name, int64_t c, ldm_spec_list *list, const ldm_weights *w,
                        float **gamma, float **beta);
/* A 3×3 (pad 1) or 1×1 stride-1 NHWC conv description. */
ldm_conv2d_desc ldm_vae_conv_desc(int64_t n, int64_t c_in, int64_t h, int64_t w, int64_t c_out,
                                  int64_t k);
/* Track the largest activation / module temporaries of a coder. */
void ldm_vae_track(ldm_vae_coder *coder, int64_t act_floats, size_t temp_bytes);

/* The resnets of one level, "<block>.resnets.0" … "<block>.resnets.<count-1>"
 * at [n, h, w]: the first cin → cout, the rest cout → cout. Appends their
 * tensors to list (if not NULL); creates them into lv->res (if lv not NULL). */
ldm_status ldm_vae_level_resnets(const char *block, int count, int64_t cin, int64_t cout,
                                 const ldm_vae_config *cfg, int64_t n, int64_t h, int64_t w,
                                 int64_t align, ldm_spec_list *list, const ldm_weights *wts,
                                 ldm_vae_coder *coder, ldm_vae_level *lv);

/* The mid block "<prefix>" (resnets.0, attentions.0, resnets.1) at
 * [n, h, w, c]; names resolved against `w` (old attention names). */
ldm_status ldm_vae_mid_walk(const char *prefix, const ldm_vae_config *cfg, int64_t n, int64_t h,
                            int64_t w, int64_t c, int64_t align, ldm_spec_list *list,
                            const ldm_weights *wts, ldm_vae_coder *coder);
/* The mid block on the ping-pong pair: reads *cur, leaves its result in
 * *cur (the pointers are swapped as modules write into *oth). */
ldm_status ldm_vae_mid_forward(ldm_vae_coder *coder, float **cur, float **oth, ldm_arena *arena);

ldm_status ldm_vae_attn_specs(const char *prefix, int64_t c, const ldm_weights *w,
                              ldm_spec_list *list);
/* h: all strips' rows; under a spatial split of `par` the module works on
 * this rank's rows (align: the level's) and gathers every strip's keys and
 * values (the linears are not channel-split). */
ldm_status ldm_vae_attn_create(const char *prefix, int64_t c, int64_t groups, int64_t n, int64_t h,
                               int64_t w, const ldm_model_parallel *par, int64_t align,
                               const ldm_weights *wts, ldm_vae_attn **out);
size_t ldm_vae_attn_arena_bytes(const ldm_vae_attn *a);
/* out [n, h·w, c] = in + to_out(attention(group_norm(in))); out != in
 * (h: this rank's rows; collective under a split). */
ldm_status ldm_vae_attn_forward(ldm_vae_attn *a, float *out, const float *in, ldm_arena *arena);
void ldm_vae_attn_destroy(ldm_vae_attn **a);

/* Encoder ("encoder." + quant_conv) and decoder (post_quant_conv +
 * "decoder."): walk for latent size lh × lw. */
ldm_status ldm_vae_encoder_walk(const ldm_vae_config *cfg, int64_t n, int64_t lh, int64_t lw,
                                ldm_spec_list *list, const ldm_weights *w, ldm_vae_coder *coder);
ldm_status ldm_vae_decoder_walk(const ldm_vae_config *cfg, int64_t n, int64_t lh, int64_t lw,
                                ldm_spec_list *list, const ldm_weights *w, ldm_vae_coder *coder);
/* The forwards take the coder's input in NCHW, push two buffers of max_act
 * floats (ping-pong) on the arena and leave them there: *result [n, out_h,
 * out_w, out_c] (NHWC) points into them, valid until the caller resets the
 * arena. */
ldm_status ldm_vae_encoder_forward(ldm_vae_coder *coder, const float *image, ldm_arena *arena,
                                   const float **result);
ldm_status ldm_vae_decoder_forward(ldm_vae_coder *coder, const float *latents, ldm_arena *arena,
                                   const float **result);
/* Arena bytes a coder's forward needs: two buffers of max_act floats and
 * the largest module temporaries. */
size_t ldm_vae_coder_arena_bytes(const ldm_vae_coder *coder);
void ldm_vae_coder_free(ldm_vae_coder *coder);

#endif
