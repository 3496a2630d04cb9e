/* vae_encoder.c — AutoencoderKL's Encoder and quant_conv (diffusers vae.py).
 *
 *   x [n, in, H, W] → conv_in → for each level i: layers_per_block resnets
 *   (block_out_channels[i-1] → [i]), then, except at the last level, a
 *   stride-2 conv with pad (0, 1, 0, 1) → mid block → GroupNorm → SiLU →
 *   conv_out (2·latent channels: double_z) → quant_conv (1×1)
 */
#include <stdio.h>

#include "kernels/layout.h"
#include "kernels/norm.h"
#include "models/vae_internal.h"

enum { NAME_LEN = 256 };

ldm_status ldm_vae_encoder_walk(const ldm_vae_config *cfg, int64_t n, int64_t lh, int64_t lw,
                                ldm_spec_list *list, const ldm_weights *w, ldm_vae_coder *coder)
{
    ldm_status st = LDM_OK;
    char name[NAME_LEN];
    int64_t f = (int64_t)1 << (cfg->levels - 1);
    int64_t h = lh * f, wd = lw * f;
    int64_t c0 = cfg->block_out_channels[0], clast = cfg->block_out_channels[cfg->levels - 1];
    int64_t lat2 = 2 * cfg->latent_channels;
    if (coder) {
        coder->n = n;
        coder->in_h = h;
        coder->in_w = wd;
        coder->in_c = cfg->in_channels;
        coder->in_rows = h;
        coder->nlevels = cfg->levels;
        coder->groups = cfg->norm_num_groups;
        ldm_vae_track(coder, n * h * wd * cfg->in_channels, 0);
    }
    ldm_conv2d_desc cd = ldm_vae_conv_desc(n, cfg->in_channels, h, wd, c0, 3);
    LDM_CHECK(ldm_vae_conv("encoder.conv_in", &cd, 1, list, w, coder,
                           coder ? &coder->conv_in : NULL));
    int64_t cin = c0;
    for (int i = 0; i < cfg->levels; i++) {
        int64_t cout = cfg->block_out_channels[i];
        ldm_vae_level *lv = coder ? &coder->levels[i] : NULL;
        snprintf(name, sizeof name, "encoder.down_blocks.%d", i);
        LDM_CHECK(ldm_vae_level_resnets(name, (int)cfg->layers_per_block, cin, cout, cfg, n, h, wd,
                                        1, list, w, coder, lv));
        cin = cout;
        if (i == cfg->levels - 1)
            break;
        snprintf(name, sizeof name, "encoder.down_blocks.%d.downsamplers.0", i);
        ldm_downsample_desc dd = {.prefix = name, .channels = cout, .out_channels = cout,
                                  .padding = 0, .batch = n, .h = h, .w = wd};
        if (list)
            LDM_CHECK(ldm_downsample_specs(&dd, list));
        if (lv) {
            LDM_CHECK(ldm_downsample_create(&dd, w, &lv->down));
            ldm_vae_track(coder, 0, ldm_downsample_arena_bytes(lv->down));
        }
        LDM_CHECK(ldm_downsample_out_size(&dd, &h, &wd));
    }
    LDM_CHECK(ldm_vae_mid_walk("encoder.mid_block", cfg, n, h, wd, clast, 1, list, w, coder));
    if (coder)
        coder->norm_c = clast;
    LDM_CHECK(ldm_vae_norm("encoder.conv_norm_out", clast, list, coder ? w : NULL,
                           coder ? &coder->norm_g : NULL, coder ? &coder->norm_b : NULL));
    cd = ldm_vae_conv_desc(n, clast, h, wd, lat2, 3);
    LDM_CHECK(ldm_vae_conv("encoder.conv_out", &cd, 1, list, w, coder,
                           coder ? &coder->conv_out : NULL));
    if (cfg->use_quant_conv) {
        cd = ldm_vae_conv_desc(n, lat2, h, wd, lat2, 1);
        LDM_CHECK(ldm_vae_conv("quant_conv", &cd, 1, list, w, coder, coder ? &coder->post : NULL));
    }
    if (coder) {
        coder->out_h = h;
        coder->out_rows = h;
        coder->out_w = wd;
        coder->out_c = lat2;
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

ldm_status ldm_vae_encoder_forward(ldm_vae_coder *e, const float *image, ldm_arena *arena,
                                   const float **result)
{
    ldm_status st = LDM_OK;
    float *cur = NULL, *oth = NULL; /* ping-pong [max_act] */
    int64_t n = e->n;
    *result = NULL;
    LDM_CHECK(ldm_arena_push_f32(arena, e->max_act, "VAE encoder activations", &cur));
    LDM_CHECK(ldm_arena_push_f32(arena, e->max_act, "VAE encoder activations", &oth));
    /* image NCHW → NHWC */
    ldm_layout_convert(cur, LDM_LAYOUT_NHWC, image, LDM_LAYOUT_NCHW, n, e->in_c, e->in_h, e->in_w);
    size_t mark = ldm_arena_mark(arena);
    void *scratch = NULL;
    LDM_CHECK(ldm_arena_push(arena, e->temp_bytes, "VAE conv scratch", &scratch));
    LDM_CHECK(ldm_model_conv_run(e->conv_in, oth, cur, scratch));
    ldm_arena_reset_to(arena, mark);
    swap(&cur, &oth);
    for (int i = 0; i < e->nlevels; i++) {
        ldm_vae_level *lv = &e->levels[i];
        for (int j = 0; j < lv->nres; j++) {
            LDM_CHECK(ldm_resnet_forward(lv->res[j], oth, cur, NULL, arena));
            swap(&cur, &oth);
        }
        if (lv->down) {
            LDM_CHECK(ldm_downsample_forward(lv->down, oth, cur, arena));
            swap(&cur, &oth);
        }
    }
    LDM_CHECK(ldm_vae_mid_forward(e, &cur, &oth, arena));
    int64_t hw = e->mid_h * e->mid_w;
    LDM_CHECK(ldm_group_norm(oth, cur, e->norm_g, e->norm_b, n, e->norm_c, hw, e->groups, 1e-6,
                             LDM_LAYOUT_NHWC, 1));
    swap(&cur, &oth);
    LDM_CHECK(ldm_arena_push(arena, e->temp_bytes, "VAE conv scratch", &scratch));
    LDM_CHECK(ldm_model_conv_run(e->conv_out, oth, cur, scratch));
    swap(&cur, &oth);
    if (e->post) {
        LDM_CHECK(ldm_model_conv_run(e->post, oth, cur, scratch));
        swap(&cur, &oth);
    }
    ldm_arena_reset_to(arena, mark);
    *result = cur;
cleanup:
    return st;
}
