/* vae_config.c — AutoencoderKL's config.json keys (see vae.h). */
#include <string.h>

#include "models/vae.h"

/* A list of block type names that must all be `want`; absent: one entry. */
static ldm_status block_types(const ldm_config *c, const char *key, const char *want, int *n)
{
    const char *types[LDM_VAE_MAX_LEVELS];
    *n = 1;
    if (!ldm_config_has(c, key))
        return LDM_OK; /* diffusers' default: (want,) */
    ldm_status st = ldm_config_string_list(c, key, types, LDM_VAE_MAX_LEVELS, n);
    if (st != LDM_OK)
        return st;
    for (int i = 0; i < *n; i++)
        if (strcmp(types[i], want) != 0)
            return ldm_error(LDM_EINPUT, "%s: unsupported \"%s\": \"%s\" (only %s)", c->path, key,
                             types[i], want);
    return LDM_OK;
}

static ldm_status positive(const ldm_config *c, const char *key, long long def, int64_t *out)
{
    long long v;
    ldm_status st = ldm_config_int(c, key, def, &v);
    if (st != LDM_OK)
        return st;
    if (v <= 0)
        return ldm_error(LDM_EINPUT, "%s: \"%s\": %lld must be positive", c->path, key, v);
    *out = v;
    return LDM_OK;
}

ldm_status ldm_vae_config_read(const ldm_config *c, ldm_vae_config *out)
{
    ldm_status st = LDM_OK;
    ldm_vae_config v;
    memset(&v, 0, sizeof v);
    memset(out, 0, sizeof *out);
    LDM_CHECK(positive(c, "in_channels", 3, &v.in_channels));
    LDM_CHECK(positive(c, "out_channels", 3, &v.out_channels));
    LDM_CHECK(positive(c, "latent_channels", 4, &v.latent_channels));
    LDM_CHECK(positive(c, "layers_per_block", 1, &v.layers_per_block));
    if (v.layers_per_block > LDM_VAE_MAX_LAYERS)
        return ldm_error(LDM_EINPUT, "%s: unsupported \"layers_per_block\": %lld (at most %d)",
                         c->path, (long long)v.layers_per_block, LDM_VAE_MAX_LAYERS);
    LDM_CHECK(positive(c, "norm_num_groups", 32, &v.norm_num_groups));

    long long ch[LDM_VAE_MAX_LEVELS] = {64};
    v.levels = 1;
    if (ldm_config_has(c, "block_out_channels"))
        LDM_CHECK(ldm_config_int_list(c, "block_out_channels", 0, 0, ch, LDM_VAE_MAX_LEVELS,
                                      &v.levels));
    if (v.levels < 1)
        return ldm_error(LDM_EINPUT, "%s: \"block_out_channels\" is empty", c->path);
    for (int i = 0; i < v.levels; i++) {
        if (ch[i] <= 0 || ch[i] % v.norm_num_groups)
            return ldm_error(LDM_EINPUT,
                             "%s: \"block_out_channels\": %lld must be a positive multiple of "
                             "\"norm_num_groups\" (%lld)",
                             c->path, ch[i], (long long)v.norm_num_groups);
        v.block_out_channels[i] = ch[i];
    }
    int ndown, nup;
    LDM_CHECK(block_types(c, "down_block_types", "DownEncoderBlock2D", &ndown));
    LDM_CHECK(block_types(c, "up_block_types", "UpDecoderBlock2D", &nup));
    if (ndown != v.levels || nup != v.levels)
        return ldm_error(LDM_EINPUT,
                         "%s: \"down_block_types\" (%d) and \"up_block_types\" (%d) must have as "
                         "many entries as \"block_out_channels\" (%d)",
                         c->path, ndown, nup, v.levels);

    const char *act;
    LDM_CHECK(ldm_config_string(c, "act_fn", "silu", &act));
    if (strcmp(act, "silu") != 0 && strcmp(act, "swish") != 0)
        return ldm_error(LDM_EINPUT, "%s: unsupported \"act_fn\": \"%s\" (only silu)", c->path,
                         act);
    LDM_CHECK(ldm_config_double(c, "scaling_factor", 0.18215, &v.scaling_factor));
    if (!(v.scaling_factor > 0.0))
        return ldm_error(LDM_EINPUT, "%s: \"scaling_factor\": %g must be positive", c->path,
                         v.scaling_factor);
    /* later diffusers releases; 0.27.2 always has all three */
    LDM_CHECK(ldm_config_bool(c, "use_quant_conv", 1, &v.use_quant_conv));
    LDM_CHECK(ldm_config_bool(c, "use_post_quant_conv", 1, &v.use_post_quant_conv));
    LDM_CHECK(ldm_config_bool(c, "mid_block_add_attention", 1, &v.mid_block_add_attention));
    *out = v;
cleanup:
    return st;
}
