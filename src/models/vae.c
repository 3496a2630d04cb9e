/* vae.c — AutoencoderKL: create, decode, encode (see vae.h), and the module
 * helpers the encoder/decoder walks share (vae_internal.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/layout.h"
#include "models/vae_internal.h"

enum { NAME_LEN = 256 };

struct ldm_vae {
    ldm_vae_config cfg;
    int64_t n, lh, lw;      /* the whole latent */
    ldm_model_parallel par_store; /* the decoder's split (borrowed communicators) */
    ldm_vae_coder *enc;     /* owned, or NULL */
    ldm_vae_coder *dec;     /* owned, or NULL */
    ldm_arena arena;        /* owned: activations of either half */
};

/* ---- module helpers ------------------------------------------------------ */

static size_t round64(size_t b)
{
    return (b + 63) / 64 * 64;
}

void ldm_vae_track(ldm_vae_coder *coder, int64_t act_floats, size_t temp_bytes)
{
    if (act_floats > coder->max_act)
        coder->max_act = act_floats;
    if (round64(temp_bytes) > coder->temp_bytes)
        coder->temp_bytes = round64(temp_bytes);
}

int64_t ldm_vae_rows(const ldm_vae_coder *coder, int64_t h, int64_t align)
{
    int64_t r0, r1;
    ldm_model_parallel_rows(coder ? coder->par : NULL, h, align, &r0, &r1);
    return r1 - r0;
}

ldm_status ldm_vae_level_resnets(const char *block, int count, int64_t cin, int64_t cout,
                                 const ldm_vae_config *cfg, int64_t n, int64_t h, int64_t w,
                                 int64_t align, ldm_spec_list *list, const ldm_weights *wts,
                                 ldm_vae_coder *coder, ldm_vae_level *lv)
{
    ldm_status st = LDM_OK;
    char name[128];
    for (int j = 0; j < count; j++) {
        snprintf(name, sizeof name, "%s.resnets.%d", block, j);
        ldm_resnet_desc d = {.prefix = name, .in_channels = j ? cout : cin,
                             .out_channels = cout, .groups = cfg->norm_num_groups,
                             .eps = 1e-6, .output_scale_factor = 1.0, .use_in_shortcut = -1,
                             .batch = n, .h = h, .w = w, .parallel = coder ? coder->par : NULL,
                             .align = align};
        if (list)
            LDM_CHECK(ldm_resnet_specs(&d, list));
        if (lv) {
            LDM_CHECK(ldm_resnet_create(&d, wts, &lv->res[j]));
            lv->nres = j + 1;
            ldm_vae_track(coder, n * ldm_vae_rows(coder, h, align) * w * (cin > cout ? cin : cout),
                          ldm_resnet_arena_bytes(lv->res[j]));
        }
    }
cleanup:
    return st;
}

ldm_conv2d_desc ldm_vae_conv_desc(int64_t n, int64_t c_in, int64_t h, int64_t w, int64_t c_out,
                                  int64_t k)
{
    int64_t p = k / 2;
    return (ldm_conv2d_desc){.n = n, .c_in = c_in, .h = h, .w = w, .c_out = c_out, .kh = k,
                             .kw = k, .stride_h = 1, .stride_w = 1, .pad_top = p,
                             .pad_bottom = p, .pad_left = p, .pad_right = p,
                             .layout = LDM_LAYOUT_NHWC, .algo = LDM_CONV_AUTO};
}

ldm_status ldm_vae_conv(const char *name, const ldm_conv2d_desc *desc, int64_t align,
                        ldm_spec_list *list, const ldm_weights *w, ldm_vae_coder *coder,
                        ldm_model_conv **plan)
{
    ldm_status st = LDM_OK;
    int64_t shape[4] = {desc->c_out, desc->c_in, desc->kh, desc->kw};
    if (list) {
        LDM_CHECK(ldm_spec_list_add(list, 4, shape, "%s.weight", name));
        LDM_CHECK(ldm_spec_list_add(list, 1, &desc->c_out, "%s.bias", name));
    }
    if (plan) {
        LDM_CHECK(ldm_model_conv_create(coder ? coder->par : NULL, align, desc, w, name, 1, plan));
        int64_t oh, ow;
        LDM_CHECK(ldm_conv2d_out_size(desc, &oh, &ow));
        if (coder) {
            ldm_vae_track(coder, desc->n * ldm_model_conv_in_rows(*plan) * desc->w * desc->c_in,
                          ldm_model_conv_scratch_bytes(*plan));
            ldm_vae_track(coder, desc->n * ldm_model_conv_out_rows(*plan) * ow * desc->c_out, 0);
        }
    }
cleanup:
    return st;
}

ldm_status ldm_vae_norm(const char *name, int64_t c, ldm_spec_list *list, const ldm_weights *w,
                        float **gamma, float **beta)
{
    ldm_status st = LDM_OK;
    char full[NAME_LEN * 2];
    if (list) {
        LDM_CHECK(ldm_spec_list_add(list, 1, &c, "%s.weight", name));
        LDM_CHECK(ldm_spec_list_add(list, 1, &c, "%s.bias", name));
    }
    if (gamma) {
        snprintf(full, sizeof full, "%s.weight", name);
        LDM_CHECK(ldm_model_read(w, full, 1, &c, gamma));
        snprintf(full, sizeof full, "%s.bias", name);
        LDM_CHECK(ldm_model_read(w, full, 1, &c, beta));
    }
cleanup:
    return st;
}

size_t ldm_vae_coder_arena_bytes(const ldm_vae_coder *coder)
{
    return 2 * round64((size_t)coder->max_act * sizeof(float)) + coder->temp_bytes;
}

void ldm_vae_coder_free(ldm_vae_coder *c)
{
    if (!c)
        return;
    ldm_model_conv_destroy(&c->pre);
    ldm_model_conv_destroy(&c->conv_in);
    for (int i = 0; i < LDM_VAE_MAX_LEVELS; i++) {
        for (int j = 0; j <= LDM_VAE_MAX_LAYERS; j++)
            ldm_resnet_destroy(&c->levels[i].res[j]);
        ldm_downsample_destroy(&c->levels[i].down);
        ldm_upsample_destroy(&c->levels[i].up);
    }
    ldm_resnet_destroy(&c->mid_res[0]);
    ldm_resnet_destroy(&c->mid_res[1]);
    ldm_vae_attn_destroy(&c->mid_attn);
    ldm_free(c->norm_g);
    ldm_free(c->norm_b);
    ldm_model_conv_destroy(&c->conv_out);
    ldm_model_conv_destroy(&c->post);
    memset(c, 0, sizeof *c);
}

/* ---- the model ------------------------------------------------------------ */

/* Every tensor of the state dict, both halves. */
static ldm_status check_weights(const ldm_vae_config *cfg, int64_t n, int64_t lh, int64_t lw,
                                const ldm_weights *w)
{
    ldm_status st = LDM_OK;
    ldm_spec_list list = {0};
    LDM_CHECK(ldm_vae_encoder_walk(cfg, n, lh, lw, &list, w, NULL));
    LDM_CHECK(ldm_vae_decoder_walk(cfg, n, lh, lw, &list, w, NULL));
    LDM_CHECK(ldm_spec_list_check(&list, w));
cleanup:
    ldm_spec_list_free(&list);
    return st;
}

ldm_status ldm_vae_weight_specs(const ldm_config *config, ldm_spec_list *list)
{
    ldm_status st = LDM_OK;
    ldm_vae_config cfg;
    LDM_CHECK(ldm_vae_config_read(config, &cfg));
    /* no weights to look at: the attention gets diffusers' current names;
     * the tensors do not depend on the latent size */
    LDM_CHECK(ldm_vae_encoder_walk(&cfg, 1, 1, 1, list, NULL, NULL));
    LDM_CHECK(ldm_vae_decoder_walk(&cfg, 1, 1, 1, list, NULL, NULL));
cleanup:
    return st;
}

ldm_status ldm_vae_create(const ldm_config *config, const ldm_weights *w, int64_t batch,
                          int64_t latent_h, int64_t latent_w, unsigned parts, ldm_vae **out)
{
    return ldm_vae_create_parallel(config, w, batch, latent_h, latent_w, parts, NULL, 1, out);
}

ldm_status ldm_vae_create_parallel(const ldm_config *config, const ldm_weights *w, int64_t batch,
                                   int64_t latent_h, int64_t latent_w, unsigned parts,
                                   const ldm_model_parallel *parallel, int64_t latent_align,
                                   ldm_vae **out)
{
    ldm_status st = LDM_OK;
    ldm_vae *v = NULL;
    *out = NULL;
    if (batch <= 0 || latent_h <= 0 || latent_w <= 0)
        return ldm_error(LDM_EINPUT, "AutoencoderKL: batch %lld and latent size %lld x %lld must "
                         "be positive", (long long)batch, (long long)latent_h, (long long)latent_w);
    if (!(parts & (LDM_VAE_DECODER | LDM_VAE_ENCODER)) || (parts & ~3u))
        return ldm_error(LDM_EINPUT, "AutoencoderKL: parts 0x%x: want LDM_VAE_DECODER and/or "
                         "LDM_VAE_ENCODER", parts);
    LDM_CHECK(ldm_calloc(sizeof *v, "AutoencoderKL", (void **)&v));
    LDM_CHECK(ldm_vae_config_read(config, &v->cfg));
    v->n = batch;
    v->lh = latent_h;
    v->lw = latent_w;
    if (parallel && (ldm_model_parallel_spatial_size(parallel) > 1 ||
                     ldm_model_parallel_channel_size(parallel) > 1))
        v->par_store = *parallel;
    else
        parallel = NULL;
    if (latent_align < 1) {
        st = ldm_error(LDM_EINPUT, "AutoencoderKL: latent strip alignment %lld must be >= 1",
                       (long long)latent_align);
        goto cleanup;
    }
    /* every strip needs a row: at most ceil(latent_h / align) spatial ranks */
    int64_t units = (latent_h + latent_align - 1) / latent_align;
    if (ldm_model_parallel_spatial_size(parallel) > units) {
        st = ldm_error(LDM_EINPUT, "AutoencoderKL: %d spatial ranks for a latent of %lld rows "
                       "in strips aligned to %lld: use at most %lld spatial ranks",
                       ldm_model_parallel_spatial_size(parallel), (long long)latent_h,
                       (long long)latent_align, (long long)units);
        goto cleanup;
    }
    LDM_CHECK(check_weights(&v->cfg, batch, latent_h, latent_w, w));
    size_t bytes = 0;
    if (parts & LDM_VAE_ENCODER) {
        LDM_CHECK(ldm_calloc(sizeof *v->enc, "VAE encoder", (void **)&v->enc));
        LDM_CHECK(ldm_vae_encoder_walk(&v->cfg, batch, latent_h, latent_w, NULL, w, v->enc));
        bytes = ldm_vae_coder_arena_bytes(v->enc);
    }
    if (parts & LDM_VAE_DECODER) {
        LDM_CHECK(ldm_calloc(sizeof *v->dec, "VAE decoder", (void **)&v->dec));
        v->dec->par = parallel ? &v->par_store : NULL;
        v->dec->align = latent_align;
        LDM_CHECK(ldm_vae_decoder_walk(&v->cfg, batch, latent_h, latent_w, NULL, w, v->dec));
        if (ldm_vae_coder_arena_bytes(v->dec) > bytes)
            bytes = ldm_vae_coder_arena_bytes(v->dec);
    }
    LDM_CHECK(ldm_arena_create(&v->arena, bytes, "VAE activations"));
    *out = v;
    v = NULL;
cleanup:
    if (st != LDM_OK)
        ldm_error_context("AutoencoderKL: ");
    ldm_vae_destroy(&v);
    return st;
}

ldm_status ldm_vae_decode(ldm_vae *v, const float *latents, float *image)
{
    ldm_status st = LDM_OK;
    const float *res = NULL;
    if (!v->dec)
        return ldm_error(LDM_EINPUT, "AutoencoderKL: decode needs a model created with "
                         "LDM_VAE_DECODER");
    ldm_arena_reset_to(&v->arena, 0);
    LDM_CHECK(ldm_vae_decoder_forward(v->dec, latents, &v->arena, &res));
    /* [n, H, W, out] → [n, out, H, W] */
    ldm_layout_convert(image, LDM_LAYOUT_NCHW, res, LDM_LAYOUT_NHWC, v->n, v->dec->out_c,
                       v->dec->out_rows, v->dec->out_w);
cleanup:
    ldm_arena_reset_to(&v->arena, 0);
    if (st != LDM_OK)
        ldm_error_context("AutoencoderKL decode: ");
    return st;
}

ldm_status ldm_vae_encode(ldm_vae *v, const float *image, float *mean, float *logvar)
{
    ldm_status st = LDM_OK;
    const float *mom = NULL;
    if (!v->enc)
        return ldm_error(LDM_EINPUT, "AutoencoderKL: encode needs a model created with "
                         "LDM_VAE_ENCODER");
    ldm_arena_reset_to(&v->arena, 0);
    LDM_CHECK(ldm_vae_encoder_forward(v->enc, image, &v->arena, &mom));
    /* moments [n, h, w, 2L] NHWC: channels [0, L) are the mean, [L, 2L) the
     * log-variance (torch.chunk(moments, 2, dim=1)) */
    int64_t lc = v->cfg.latent_channels, hw = v->lh * v->lw;
    for (int64_t b = 0; b < v->n; b++) {
        for (int64_t c = 0; c < lc; c++) {
            for (int64_t p = 0; p < hw; p++) {
                const float *m = mom + (b * hw + p) * 2 * lc;
                int64_t o = (b * lc + c) * hw + p;
                if (mean)
                    mean[o] = m[c];
                if (logvar)
                    logvar[o] = fminf(fmaxf(m[lc + c], -30.0f), 20.0f);
            }
        }
    }
cleanup:
    ldm_arena_reset_to(&v->arena, 0);
    if (st != LDM_OK)
        ldm_error_context("AutoencoderKL encode: ");
    return st;
}

void ldm_vae_posterior_sample(float *sample, const float *mean, const float *logvar,
                              const float *noise, int64_t count)
{
    /* std = exp(0.5 * logvar) in float, as torch computes it */
    for (int64_t i = 0; i < count; i++)
        sample[i] = mean[i] + expf(0.5f * logvar[i]) * noise[i];
}

double ldm_vae_scaling_factor(const ldm_vae *v)
{
    return v->cfg.scaling_factor;
}

int64_t ldm_vae_downsample_factor(const ldm_vae *v)
{
    return (int64_t)1 << (v->cfg.levels - 1);
}

const ldm_vae_config *ldm_vae_get_config(const ldm_vae *v)
{
    return &v->cfg;
}

void ldm_vae_get_rows(const ldm_vae *v, int64_t *r0, int64_t *r1)
{
    ldm_model_parallel_rows(v->dec ? v->dec->par : NULL, v->lh, v->dec ? v->dec->align : 1, r0,
                            r1);
}

size_t ldm_vae_arena_bytes(const ldm_vae *v)
{
    return v->arena.size;
}

void ldm_vae_destroy(ldm_vae **pv)
{
    if (!pv || !*pv)
        return;
    ldm_vae *v = *pv;
    ldm_vae_coder_free(v->enc);
    ldm_free(v->enc);
    ldm_vae_coder_free(v->dec);
    ldm_free(v->dec);
    ldm_arena_destroy(&v->arena);
    ldm_free(v);
    *pv = NULL;
}
