/* unet_config.c — reading UNet2DConditionModel's config.json (see unet.h for
 * the keys). Defaults are those of diffusers 0.27.2's __init__. */
#include <stdio.h>
#include <string.h>

#include "models/unet.h"

/* The item of `key`, NULL when absent or JSON null (diffusers' None). */
static const cJSON *item(const ldm_config *c, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(c->root, key);
    return it && !cJSON_IsNull(it) ? it : NULL;
}

/* `<file>: unsupported "<key>": <value as JSON>` */
static ldm_status unsupported(const ldm_config *c, const char *key, const cJSON *value)
{
    char *text = value ? cJSON_PrintUnformatted(value) : NULL;
    ldm_status st = ldm_error(LDM_EINPUT, "%s: unsupported \"%s\": %s", c->path, key,
                              text ? text : "null");
    cJSON_free(text);
    return st;
}

/* Keys whose only supported value is null / absent. */
static ldm_status want_null(const ldm_config *c, const char *key)
{
    const cJSON *it = item(c, key);
    return it ? unsupported(c, key, it) : LDM_OK;
}

/* Keys whose only supported value is false (a bool, or a list of bools when
 * list_ok). */
static ldm_status want_false(const ldm_config *c, const char *key, int list_ok)
{
    const cJSON *it = item(c, key);
    if (!it || cJSON_IsFalse(it))
        return LDM_OK;
    if (list_ok && cJSON_IsArray(it)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, it)
        {
            if (!cJSON_IsFalse(e))
                return unsupported(c, key, it);
        }
        return LDM_OK;
    }
    return unsupported(c, key, it);
}

/* String keys with one supported value (`def`, diffusers' default) or an
 * alias `alt` (may be NULL). Present but null is unsupported too: diffusers
 * reads None as "no such layer" or fails. */
static ldm_status want_string(const ldm_config *c, const char *key, const char *def,
                              const char *alt)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(c->root, key);
    if (!it)
        return LDM_OK;
    if (cJSON_IsString(it) &&
        (strcmp(it->valuestring, def) == 0 || (alt && strcmp(it->valuestring, alt) == 0)))
        return LDM_OK;
    return unsupported(c, key, it);
}

/* An "int or list" key as `levels` values (default `def` when absent). */
static ldm_status int_per_level(const ldm_config *c, const char *key, long long def, int levels,
                                int64_t *vals)
{
    if (!item(c, key)) {
        for (int i = 0; i < levels; i++)
            vals[i] = def;
        return LDM_OK;
    }
    long long tmp[LDM_UNET_MAX_LEVELS];
    int n = 0;
    ldm_status st = ldm_config_int_list(c, key, 1, levels, tmp, LDM_UNET_MAX_LEVELS, &n);
    if (st != LDM_OK)
        return st;
    if (n != levels)
        return ldm_error(LDM_EINPUT, "%s: \"%s\" has %d entries, down_block_types has %d",
                         c->path, key, n, levels);
    for (int i = 0; i < levels; i++)
        vals[i] = tmp[i];
    return LDM_OK;
}

/* Block type lists: `cross[i]` = 1 for the cross-attention type. */
static ldm_status block_types(const ldm_config *c, const char *key, const char *cross_name,
                              const char *plain_name, const char *const *defaults, int *cross,
                              int *n)
{
    const cJSON *it = item(c, key);
    if (!it) {
        for (*n = 0; *n < 4; (*n)++)
            cross[*n] = strcmp(defaults[*n], cross_name) == 0;
        return LDM_OK;
    }
    if (!cJSON_IsArray(it))
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be a list of block names", c->path, key);
    *n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, it)
    {
        if (*n == LDM_UNET_MAX_LEVELS)
            return ldm_error(LDM_EINPUT, "%s: \"%s\": more than %d blocks", c->path, key,
                             LDM_UNET_MAX_LEVELS);
        const char *s = cJSON_IsString(e) ? e->valuestring : NULL;
        if (s && strncmp(s, "UNetRes", 7) == 0) /* diffusers strips this prefix */
            s += 7;
        if (s && strcmp(s, cross_name) == 0)
            cross[*n] = 1;
        else if (s && strcmp(s, plain_name) == 0)
            cross[*n] = 0;
        else {
            char *text = cJSON_PrintUnformatted(e);
            ldm_status st = ldm_error(LDM_EINPUT, "%s: unsupported \"%s\"[%d]: %s (supported: "
                                      "%s, %s)", c->path, key, *n, text ? text : "?",
                                      cross_name, plain_name);
            cJSON_free(text);
            return st;
        }
        (*n)++;
    }
    if (*n == 0)
        return ldm_error(LDM_EINPUT, "%s: \"%s\" is empty", c->path, key);
    return LDM_OK;
}

/* The keys this port accepts only at diffusers' defaults. */
static ldm_status unsupported_features(const ldm_config *c)
{
    ldm_status st = LDM_OK;
    static const char *const null_keys[] = {
        "num_attention_heads", "class_embed_type", "num_class_embeds", "addition_embed_type",
        "encoder_hid_dim", "encoder_hid_dim_type", "time_embedding_act_fn",
        "timestep_post_act", "time_cond_proj_dim", "reverse_transformer_layers_per_block"};
    for (size_t i = 0; i < sizeof null_keys / sizeof null_keys[0]; i++)
        LDM_CHECK(want_null(c, null_keys[i]));
    LDM_CHECK(want_false(c, "dual_cross_attention", 0));
    LDM_CHECK(want_false(c, "class_embeddings_concat", 0));
    LDM_CHECK(want_false(c, "only_cross_attention", 1));
    LDM_CHECK(want_string(c, "time_embedding_type", "positional", NULL));
    LDM_CHECK(want_string(c, "resnet_time_scale_shift", "default", NULL));
    LDM_CHECK(want_string(c, "attention_type", "default", NULL));
    LDM_CHECK(want_string(c, "mid_block_type", "UNetMidBlock2DCrossAttn", NULL));
    LDM_CHECK(want_string(c, "act_fn", "silu", "swish"));
    const cJSON *cls = item(c, "_class_name");
    if (cls && !(cJSON_IsString(cls) && strcmp(cls->valuestring, "UNet2DConditionModel") == 0))
        return unsupported(c, "_class_name", cls);
    /* transformer_layers_per_block: 1, or a flat list of 1s */
    const cJSON *tl = item(c, "transformer_layers_per_block");
    if (tl) {
        int ok = cJSON_IsNumber(tl) && tl->valuedouble == 1.0;
        if (cJSON_IsArray(tl)) {
            ok = 1;
            const cJSON *e;
            cJSON_ArrayForEach(e, tl)
            {
                ok = ok && cJSON_IsNumber(e) && e->valuedouble == 1.0;
            }
        }
        if (!ok)
            return unsupported(c, "transformer_layers_per_block", tl);
    }
cleanup:
    return st;
}

static ldm_status positive(const ldm_config *c, const char *key, int64_t v)
{
    if (v < 1)
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be positive (got %lld)", c->path, key,
                         (long long)v);
    return LDM_OK;
}

static ldm_status kernel_size(const ldm_config *c, const char *key, int64_t *out)
{
    long long v;
    ldm_status st = ldm_config_int(c, key, 3, &v);
    if (st != LDM_OK)
        return st;
    if (v < 1 || v % 2 == 0) /* padding (k − 1) / 2 keeps the size only for odd k */
        return unsupported(c, key, item(c, key));
    *out = v;
    return LDM_OK;
}

static ldm_status scalars(const ldm_config *c, ldm_unet_config *u)
{
    ldm_status st = LDM_OK;
    long long v;
    double dropout;
    const cJSON *ss = item(c, "sample_size");
    u->sample_size = ss && cJSON_IsNumber(ss) ? (int64_t)ss->valuedouble : 0;
    LDM_CHECK(ldm_config_int(c, "in_channels", 4, &v));
    u->in_channels = v;
    LDM_CHECK(ldm_config_int(c, "out_channels", 4, &v));
    u->out_channels = v;
    LDM_CHECK(positive(c, "in_channels", u->in_channels));
    LDM_CHECK(positive(c, "out_channels", u->out_channels));
    LDM_CHECK(ldm_config_bool(c, "center_input_sample", 0, &u->center_input_sample));
    LDM_CHECK(ldm_config_bool(c, "flip_sin_to_cos", 1, &u->flip_sin_to_cos));
    LDM_CHECK(ldm_config_double(c, "freq_shift", 0.0, &u->freq_shift));
    LDM_CHECK(ldm_config_int(c, "downsample_padding", 1, &v));
    u->downsample_padding = v;
    if (v < 0)
        return unsupported(c, "downsample_padding", item(c, "downsample_padding"));
    LDM_CHECK(ldm_config_double(c, "mid_block_scale_factor", 1.0, &u->mid_block_scale_factor));
    if (!(u->mid_block_scale_factor != 0.0))
        return unsupported(c, "mid_block_scale_factor", item(c, "mid_block_scale_factor"));
    LDM_CHECK(ldm_config_double(c, "dropout", 0.0, &dropout)); /* eval mode: no effect */
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(c->root, "norm_num_groups");
    if (g && cJSON_IsNull(g)) /* diffusers' resnets cannot be built without groups */
        return unsupported(c, "norm_num_groups", g);
    LDM_CHECK(ldm_config_int(c, "norm_num_groups", 32, &v));
    u->norm_num_groups = v;
    LDM_CHECK(positive(c, "norm_num_groups", u->norm_num_groups));
    LDM_CHECK(ldm_config_double(c, "norm_eps", 1e-5, &u->norm_eps));
    if (!(u->norm_eps > 0.0))
        return ldm_error(LDM_EINPUT, "%s: \"norm_eps\" must be positive", c->path);
    LDM_CHECK(ldm_config_bool(c, "use_linear_projection", 0, &u->use_linear_projection));
    LDM_CHECK(ldm_config_bool(c, "upcast_attention", 0, &u->upcast_attention));
    LDM_CHECK(kernel_size(c, "conv_in_kernel", &u->conv_in_kernel));
    LDM_CHECK(kernel_size(c, "conv_out_kernel", &u->conv_out_kernel));
cleanup:
    return st;
}

static ldm_status per_level(const ldm_config *c, ldm_unet_config *u)
{
    ldm_status st = LDM_OK;
    static const char *const down_def[] = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                                           "CrossAttnDownBlock2D", "DownBlock2D"};
    static const char *const up_def[] = {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                                         "CrossAttnUpBlock2D"};
    int n_up = 0;
    LDM_CHECK(block_types(c, "down_block_types", "CrossAttnDownBlock2D", "DownBlock2D", down_def,
                          u->down_cross, &u->levels));
    LDM_CHECK(block_types(c, "up_block_types", "CrossAttnUpBlock2D", "UpBlock2D", up_def,
                          u->up_cross, &n_up));
    if (n_up != u->levels)
        return ldm_error(LDM_EINPUT, "%s: %d up_block_types for %d down_block_types", c->path,
                         n_up, u->levels);
    if (item(c, "block_out_channels")) {
        long long tmp[LDM_UNET_MAX_LEVELS];
        int n = 0;
        LDM_CHECK(ldm_config_int_list(c, "block_out_channels", 0, 0, tmp, LDM_UNET_MAX_LEVELS, &n));
        if (n != u->levels)
            return ldm_error(LDM_EINPUT, "%s: %d block_out_channels for %d down_block_types",
                             c->path, n, u->levels);
        for (int i = 0; i < n; i++)
            u->block_out_channels[i] = tmp[i];
    } else {
        const int64_t def[4] = {320, 640, 1280, 1280};
        if (u->levels != 4)
            return ldm_error(LDM_EINPUT, "%s: %d down_block_types need \"block_out_channels\"",
                             c->path, u->levels);
        memcpy(u->block_out_channels, def, sizeof def);
    }
    LDM_CHECK(int_per_level(c, "layers_per_block", 2, u->levels, u->layers_per_block));
    LDM_CHECK(int_per_level(c, "attention_head_dim", 8, u->levels, u->heads));
    int64_t cross[LDM_UNET_MAX_LEVELS];
    LDM_CHECK(int_per_level(c, "cross_attention_dim", 1280, u->levels, cross));
    for (int i = 1; i < u->levels; i++)
        if (cross[i] != cross[0]) /* one context tensor feeds every block */
            return unsupported(c, "cross_attention_dim", item(c, "cross_attention_dim"));
    u->cross_attention_dim = cross[0];
    LDM_CHECK(positive(c, "cross_attention_dim", u->cross_attention_dim));
    for (int i = 0; i < u->levels; i++) {
        char key[64];
        snprintf(key, sizeof key, "block_out_channels[%d]", i);
        LDM_CHECK(positive(c, key, u->block_out_channels[i]));
        snprintf(key, sizeof key, "layers_per_block[%d]", i);
        LDM_CHECK(positive(c, key, u->layers_per_block[i]));
        snprintf(key, sizeof key, "attention_head_dim[%d]", i);
        LDM_CHECK(positive(c, key, u->heads[i]));
        if (u->block_out_channels[i] % u->norm_num_groups != 0)
            return ldm_error(LDM_EINPUT, "%s: norm_num_groups %lld does not divide "
                             "block_out_channels[%d] = %lld", c->path,
                             (long long)u->norm_num_groups, i,
                             (long long)u->block_out_channels[i]);
    }
    long long ted;
    LDM_CHECK(ldm_config_int(c, "time_embedding_dim", 4 * u->block_out_channels[0], &ted));
    u->time_embed_dim = ted;
    LDM_CHECK(positive(c, "time_embedding_dim", u->time_embed_dim));
cleanup:
    return st;
}

ldm_status ldm_unet_config_parse(const ldm_config *c, ldm_unet_config *u)
{
    ldm_status st = LDM_OK;
    memset(u, 0, sizeof *u);
    LDM_CHECK(unsupported_features(c));
    LDM_CHECK(scalars(c, u));
    LDM_CHECK(per_level(c, u));
cleanup:
    return st;
}
