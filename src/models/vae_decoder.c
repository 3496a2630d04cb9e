/* vae_decoder.c — post_quant_conv and AutoencoderKL's Decoder (diffusers vae.py).
 *
 *   z [n, latent, h, w] → post_quant_conv (1×1) → conv_in → mid block →
 *   for each level i (block_out_channels reversed): layers_per_block + 1
 *   resnets, then, except at the last level, nearest 2× + 3×3 conv →
 *   GroupNorm → SiLU → conv_out → image [n, out, f·h, f·w]
 *
 * The widest activation is at full resolution: the first resnet of the
 * last level reads reversed[levels-2] channels at f·h × f·w (256 channels
 * at 256² for the real model, 64 MiB per image); the arena holds two such
 * buffers plus that resnet's temporaries.
 */
#include <stdio.h>

#include "kernels/layout.h"
#include "kernels/norm.h"
#include "models/vae_internal.h"

enum { NAME_LEN = 256 };

ldm_status ldm_vae_decoder_walk(const ldm_vae_config *cfg, int64_t n, int64_t lh, int64_t lw,
                                ldm_spec_list *list, const ldm_weights *w, ldm_vae_coder *coder)
{
    ldm_status st = LDM_OK;
    char name[NAME_LEN];
    int64_t lat = cfg->latent_channels, h = lh, wd = lw;
    int64_t c0 = cfg->block_out_channels[0], clast = cfg->block_out_channels[cfg->levels - 1];
    /* strip alignment of the latent level; each upsampling doubles it */
    int64_t align = coder && coder->align > 0 ? coder->align : 1;
    if (coder) {
        coder->n = n;
        coder->in_h = h;
        coder->in_w = wd;
        coder->in_c = lat;
        coder->in_rows = ldm_vae_rows(coder, h, align);
        coder->nlevels = cfg->levels;
        coder->groups = cfg->norm_num_groups;
        ldm_vae_track(coder, n * coder->in_rows * wd * lat, 0);
    }
    ldm_conv2d_desc cd;
    if (cfg->use_post_quant_conv) {
        cd = ldm_vae_conv_desc(n, lat, h, wd, lat, 1);
        LDM_CHECK(ldm_vae_conv("post_quant_conv", &cd, align, list, w, coder,
                               coder ? &coder->pre : NULL));
    }
    cd = ldm_vae_conv_desc(n, lat, h, wd, clast, 3);
    LDM_CHECK(ldm_vae_conv("decoder.conv_in", &cd, align, list, w, coder,
                           coder ? &coder->conv_in : NULL));
    LDM_CHECK(ldm_vae_mid_walk("decoder.mid_block", cfg, n, h, wd, clast, align, list, w,
                               coder));
    int64_t cin = clast;
    for (int i = 0; i < cfg->levels; i++) {
        int64_t cout = cfg->block_out_channels[cfg->levels - 1 - i];
        ldm_vae_level *lv = coder ? &coder->levels[i] : NULL;
        snprintf(name, sizeof name, "decoder.up_blocks.%d", i);
        LDM_CHECK(ldm_vae_level_resnets(name, (int)cfg->layers_per_block + 1, cin, cout, cfg, n,
                                        h, wd, align, list, w, coder, lv));
        cin = cout;
        if (i == cfg->levels - 1)
            break;
        snprintf(name, sizeof name, "decoder.up_blocks.%d.upsamplers.0", i);
        ldm_upsample_desc ud = {.prefix = name, .channels = cout, .out_channels = cout,
                                .use_conv = 1, .batch = n, .h = h, .w = wd,
                                .parallel = coder ? coder->par : NULL, .align = align};
        if (list)
            LDM_CHECK(ldm_upsample_specs(&ud, list));
        h *= 2;
        wd *= 2;
        align *= 2;
        if (lv) {
            LDM_CHECK(ldm_upsample_create(&ud, w, &lv->up));
            ldm_vae_track(coder, n * ldm_vae_rows(coder, h, align) * wd * cout,
                          ldm_upsample_arena_bytes(lv->up));
        }
    }
    if (coder)
        coder->norm_c = c0;
    LDM_CHECK(ldm_vae_norm("decoder.conv_norm_out", c0, list, coder ? w : NULL,
                           coder ? &coder->norm_g : NULL, coder ? &coder->norm_b : NULL));
    cd = ldm_vae_conv_desc(n, c0, h, wd, cfg->out_channels, 3);
    LDM_CHECK(ldm_vae_conv("decoder.conv_out", &cd, align, list, w, coder,
                           coder ? &coder->conv_out : NULL));
    if (coder) {
        coder->out_h = h;
        coder->out_rows = ldm_vae_rows(coder, h, align);
        coder->out_w = wd;
        coder->out_c = cfg->out_channels;
    }
cleanup:
    return st;
}

static void swap(float **a, float **b)
{
    float *t = *a;
    *a = *b;
    *b = t;
}

ldm_status ldm_vae_decoder_forward(ldm_vae_coder *d, const float *latents, ldm_arena *arena,
                                   const float **result)
{
    ldm_status st = LDM_OK;
    float *cur = NULL, *oth = NULL; /* ping-pong [max_act] */
    int64_t n = d->n;
    *result = NULL;
    LDM_CHECK(ldm_arena_push_f32(arena, d->max_act, "VAE decoder activations", &cur));
    LDM_CHECK(ldm_arena_push_f32(arena, d->max_act, "VAE decoder activations", &oth));
    /* latents NCHW → NHWC */
    ldm_layout_convert(cur, LDM_LAYOUT_NHWC, latents, LDM_LAYOUT_NCHW, n, d->in_c, d->in_rows,
                       d->in_w);
    size_t mark = ldm_arena_mark(arena);
    void *scratch = NULL;
    LDM_CHECK(ldm_arena_push(arena, d->temp_bytes, "VAE conv scratch", &scratch));
    if (d->pre) {
        LDM_CHECK(ldm_model_conv_run(d->pre, oth, cur, scratch));
        swap(&cur, &oth);
    }
    LDM_CHECK(ldm_model_conv_run(d->conv_in, oth, cur, scratch));
    swap(&cur, &oth);
    ldm_arena_reset_to(arena, mark);
    LDM_CHECK(ldm_vae_mid_forward(d, &cur, &oth, arena));
    for (int i = 0; i < d->nlevels; i++) {
        ldm_vae_level *lv = &d->levels[i];
        for (int j = 0; j < lv->nres; j++) {
            LDM_CHECK(ldm_resnet_forward(lv->res[j], oth, cur, NULL, arena));
            swap(&cur, &oth);
        }
        if (lv->up) {
            LDM_CHECK(ldm_upsample_forward(lv->up, oth, cur, arena));
            swap(&cur, &oth);
        }
    }
    LDM_CHECK(ldm_model_group_norm(d->par, oth, cur, d->norm_g, d->norm_b, n, d->norm_c,
                                   d->out_rows * d->out_w, d->groups, 1e-6, 1));
    swap(&cur, &oth);
    LDM_CHECK(ldm_arena_push(arena, d->temp_bytes, "VAE conv scratch", &scratch));
    LDM_CHECK(ldm_model_conv_run(d->conv_out, oth, cur, scratch));
    swap(&cur, &oth);
    ldm_arena_reset_to(arena, mark);
    *result = cur;
cleanup:
    return st;
}
