/* test_unet.c — models/unet.h against diffusers' UNet2DConditionModel:
 * the tiny-ldm UNet (tests/fixtures/tiny-ldm/unet) at two timesteps and a
 * non-square latent, batch 2 with different uncond/cond contexts; cfg_a
 * (3 levels like the real model, layers_per_block 2, attention_head_dim as
 * a list, linear projections, center_input_sample, 12×20 latent, per-entry
 * timesteps); cfg_b (latent 10×14, not a multiple of 4: forced upsample
 * sizes; downsample padding 0, flip_sin_to_cos false, freq_shift 1, kernel
 * sizes 1 and 5, time_embedding_dim, mid_block_scale_factor, upcast_attention,
 * layers_per_block list, fp16-stored weights). Also: the real
 * ldm-text2im-large-256 config parses to the known architecture, in-place
 * and repeated forwards, and every unsupported config value / bad weight /
 * bad size fails with a message naming it; failed allocations in create. */
#include "models/unet.h"

#include "kernels/threads.h"
#include "test_unet_golden.h"

#define TINY_DIR LDM_FIXTURES "/tiny-ldm/unet"
#define REAL_CONFIG LDM_FIXTURES "/../../models/ldm-text2im-large-256-config/unet/config.json"

static void model_dir(const char *model, char *buf, size_t cap)
{
    if (strcmp(model, "tiny-ldm") == 0)
        snprintf(buf, cap, "%s", TINY_DIR);
    else
        snprintf(buf, cap, "%s/%s", UNET_DIR, model);
}

static void test_case(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    char model[64], dir[512], path[600];
    golden_string(line, "model", model, sizeof model);
    model_dir(model, dir, sizeof dir);
    int64_t b = golden_int(line, "batch"), h = golden_int(line, "h"), w = golden_int(line, "w");
    int64_t cin = golden_int(line, "cin"), cout = golden_int(line, "cout");
    int64_t cross = golden_int(line, "cross");
    int64_t nx = b * cin * h * w, ny = b * cout * h * w;
    float *x = golden_load(name, "x", nx), *t = golden_load(name, "t", b);
    float *ctx = golden_load(name, "context", b * 77 * cross), *y = golden_load(name, "y", ny);
    float *out = golden_nan_buffer(ny), *out2 = golden_nan_buffer(ny);
    ldm_config cfg = {0};
    ldm_weights *wt = NULL;
    ldm_unet *u = NULL;
    if (!x || !t || !ctx || !y)
        goto done;
    snprintf(path, sizeof path, "%s/config.json", dir);
    CHECK_MSG(ldm_config_load(path, &cfg) == LDM_OK, "%s", ldm_error_message());
    CHECK_MSG(ldm_weights_open_dir(dir, &wt) == LDM_OK, "%s", ldm_error_message());
    if (!cfg.root || !wt)
        goto done;
    ldm_status st = ldm_unet_create(&cfg, wt, b, h, w, 77, &u);
    CHECK_MSG(st == LDM_OK, "%s create: %s", name, ldm_error_message());
    if (st != LDM_OK)
        goto done;
    int64_t gb, gh, gw, gl;
    ldm_unet_get_shape(u, &gb, &gh, &gw, &gl);
    CHECK(gb == b && gh == h && gw == w && gl == 77);
    CHECK(ldm_unet_get_config(u)->cross_attention_dim == cross);
    st = ldm_unet_forward(u, x, t, ctx, out);
    CHECK_MSG(st == LDM_OK, "%s forward: %s", name, ldm_error_message());
    char label[128];
    snprintf(label, sizeof label, "%s (%d threads, %.1f MB act.)", name, ldm_kernels_threads(),
             (double)ldm_unet_activation_bytes(u) / 1e6);
    golden_compare(label, out, y, ny, GOLDEN_TOL);
    /* again, and in place when in and out channels agree: identical output */
    CHECK(ldm_unet_forward(u, x, t, ctx, out2) == LDM_OK);
    CHECK(memcmp(out, out2, (size_t)ny * sizeof(float)) == 0);
    /* the cross-attention k/v follow the context's contents, not its address:
     * swap the two entries' contexts in place, then restore them */
    if (b == 2) {
        int64_t half = 77 * cross;
        float *tmp = malloc((size_t)half * sizeof(float));
        memcpy(tmp, ctx, (size_t)half * sizeof(float));
        memmove(ctx, ctx + half, (size_t)half * sizeof(float));
        memcpy(ctx + half, tmp, (size_t)half * sizeof(float));
        CHECK(ldm_unet_forward(u, x, t, ctx, out2) == LDM_OK);
        CHECK(memcmp(out, out2, (size_t)ny * sizeof(float)) != 0);
        memcpy(ctx + half, ctx, (size_t)half * sizeof(float));
        memcpy(ctx, tmp, (size_t)half * sizeof(float));
        free(tmp);
        CHECK(ldm_unet_forward(u, x, t, ctx, out2) == LDM_OK);
        CHECK(memcmp(out, out2, (size_t)ny * sizeof(float)) == 0);
    }
    if (cin == cout) {
        float *io = malloc((size_t)nx * sizeof(float));
        memcpy(io, x, (size_t)nx * sizeof(float));
        CHECK(ldm_unet_forward(u, io, t, ctx, io) == LDM_OK);
        CHECK(memcmp(out, io, (size_t)ny * sizeof(float)) == 0);
        free(io);
    }
done:
    ldm_unet_destroy(&u);
    CHECK(u == NULL);
    ldm_weights_close(&wt);
    ldm_config_free(&cfg);
    free(x);
    free(t);
    free(ctx);
    free(y);
    free(out);
    free(out2);
}

static void test_real_config(void)
{
    ldm_config cfg = {0};
    ldm_unet_config u;
    if (ldm_config_load(REAL_CONFIG, &cfg) != LDM_OK) {
        CHECK_MSG(0, "%s", ldm_error_message());
        return;
    }
    CHECK_MSG(ldm_unet_config_parse(&cfg, &u) == LDM_OK, "%s", ldm_error_message());
    const int64_t ch[4] = {320, 640, 1280, 1280};
    CHECK(u.levels == 4 && u.in_channels == 4 && u.out_channels == 4 && u.sample_size == 32);
    for (int i = 0; i < 4; i++) {
        CHECK(u.block_out_channels[i] == ch[i]);
        CHECK(u.layers_per_block[i] == 2);
        CHECK(u.heads[i] == 8); /* attention_head_dim 8 means 8 heads (legacy naming) */
        CHECK(u.down_cross[i] == (i < 3) && u.up_cross[i] == (i > 0));
    }
    CHECK(u.cross_attention_dim == 1280 && u.time_embed_dim == 1280);
    CHECK(u.norm_num_groups == 32 && u.norm_eps == 1e-5 && u.downsample_padding == 1);
    CHECK(u.flip_sin_to_cos == 1 && u.freq_shift == 0.0 && !u.use_linear_projection);
    CHECK(u.conv_in_kernel == 3 && u.conv_out_kernel == 3 && u.mid_block_scale_factor == 1.0);
    ldm_config_free(&cfg);
}

/* The tiny config with `key` set to the JSON `value` (NULL: removed). */
static int tiny_with(const char *key, const char *value, ldm_config *out)
{
    ldm_config base = {0};
    if (ldm_config_load(TINY_DIR "/config.json", &base) != LDM_OK)
        return 0;
    cJSON_DeleteItemFromObjectCaseSensitive(base.root, key);
    if (value)
        cJSON_AddItemToObject(base.root, key, cJSON_Parse(value));
    char *text = cJSON_PrintUnformatted(base.root);
    ldm_status st = ldm_config_parse("unet/config.json", text, strlen(text), out);
    cJSON_free(text);
    ldm_config_free(&base);
    return st == LDM_OK;
}

static void expect_config_error(ldm_weights *w, const char *key, const char *value,
                                const char *needle)
{
    ldm_config cfg = {0};
    ldm_unet *u = NULL;
    CHECK(tiny_with(key, value, &cfg));
    CHECK_FAILS_WITH(ldm_unet_create(&cfg, w, 2, 8, 8, 77, &u), LDM_EINPUT, needle);
    CHECK(u == NULL);
    ldm_config_free(&cfg);
}

static void test_bad_config(void)
{
    ldm_weights *w = NULL;
    if (ldm_weights_open_dir(TINY_DIR, &w) != LDM_OK) {
        CHECK_MSG(0, "%s", ldm_error_message());
        return;
    }
    const struct { const char *key, *value, *needle; } cases[] = {
        {"resnet_time_scale_shift", "\"scale_shift\"",
         "unet/config.json: unsupported \"resnet_time_scale_shift\": \"scale_shift\""},
        {"num_attention_heads", "8", "unsupported \"num_attention_heads\": 8"},
        {"class_embed_type", "\"timestep\"", "unsupported \"class_embed_type\": \"timestep\""},
        {"num_class_embeds", "10", "unsupported \"num_class_embeds\": 10"},
        {"addition_embed_type", "\"text\"", "unsupported \"addition_embed_type\": \"text\""},
        {"encoder_hid_dim", "64", "unsupported \"encoder_hid_dim\": 64"},
        {"encoder_hid_dim_type", "\"text_proj\"", "unsupported \"encoder_hid_dim_type\""},
        {"time_embedding_type", "\"fourier\"", "unsupported \"time_embedding_type\": \"fourier\""},
        {"time_embedding_act_fn", "\"silu\"", "unsupported \"time_embedding_act_fn\": \"silu\""},
        {"timestep_post_act", "\"silu\"", "unsupported \"timestep_post_act\": \"silu\""},
        {"time_cond_proj_dim", "16", "unsupported \"time_cond_proj_dim\": 16"},
        {"mid_block_type", "null", "unsupported \"mid_block_type\": null"},
        {"mid_block_type", "\"UNetMidBlock2D\"",
         "unsupported \"mid_block_type\": \"UNetMidBlock2D\""},
        {"attention_type", "\"gated\"", "unsupported \"attention_type\": \"gated\""},
        {"dual_cross_attention", "true", "unsupported \"dual_cross_attention\": true"},
        {"only_cross_attention", "[false,true]",
         "unsupported \"only_cross_attention\": [false,true]"},
        {"class_embeddings_concat", "true", "unsupported \"class_embeddings_concat\": true"},
        {"transformer_layers_per_block", "2", "unsupported \"transformer_layers_per_block\": 2"},
        {"transformer_layers_per_block", "[[1],[1]]",
         "unsupported \"transformer_layers_per_block\""},
        {"reverse_transformer_layers_per_block", "[[1],[1]]",
         "unsupported \"reverse_transformer_layers_per_block\""},
        {"act_fn", "\"gelu\"", "unsupported \"act_fn\": \"gelu\""},
        {"norm_num_groups", "null", "unsupported \"norm_num_groups\": null"},
        {"norm_num_groups", "5", "norm_num_groups 5 does not divide block_out_channels[0] = 16"},
        {"conv_in_kernel", "2", "unsupported \"conv_in_kernel\": 2"},
        {"_class_name", "\"UNet2DModel\"", "unsupported \"_class_name\": \"UNet2DModel\""},
        {"down_block_types", "[\"CrossAttnDownBlock2D\",\"AttnDownBlock2D\"]",
         "unsupported \"down_block_types\"[1]: \"AttnDownBlock2D\""},
        {"up_block_types", "[\"UpBlock2D\"]", "1 up_block_types for 2 down_block_types"},
        {"block_out_channels", "[16,32,64]", "3 block_out_channels for 2 down_block_types"},
        {"attention_head_dim", "[4,4,4]", "\"attention_head_dim\" has 3 entries"},
        {"cross_attention_dim", "[32,16]", "unsupported \"cross_attention_dim\": [32,16]"},
        {"layers_per_block", "0", "\"layers_per_block[0]\" must be positive"},
        {"layers_per_block", "\"two\"", "\"layers_per_block\" must be a list of integers"},
        {"center_input_sample", "1", "\"center_input_sample\" must be true or false"},
        /* valid configs whose tensors the tiny file does not have */
        {"cross_attention_dim", "64",
         "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight\" has shape [16, 32], "
         "expected [16, 64]"},
        {"layers_per_block", "2", "tensor \"down_blocks.0.resnets.1.norm1.weight\" is missing"},
        {"use_linear_projection", "true",
         "\"down_blocks.0.attentions.0.proj_in.weight\" has shape [16, 16, 1, 1], "
         "expected [16, 16]"},
        {"time_embedding_dim", "32", "time_embedding.linear_1.weight\" has shape [64, 16], "
         "expected [32, 16]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_config_error(w, cases[i].key, cases[i].value, cases[i].needle);

    /* accepted keys at non-default values that change nothing here */
    const struct { const char *key, *value; } fine[] = {
        {"upcast_attention", "true"}, {"act_fn", "\"swish\""}, {"dropout", "0.1"},
        {"transformer_layers_per_block", "[1,1]"}, {"only_cross_attention", "[false,false]"},
        {"resnet_skip_time_act", "true"}, {"cross_attention_norm", "\"group_norm\""},
        {"addition_time_embed_dim", "256"}, {"sample_size", "[8, 12]"},
        {"down_block_types", "[\"UNetResCrossAttnDownBlock2D\",\"DownBlock2D\"]"},
    };
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        ldm_config cfg = {0};
        ldm_unet *u = NULL;
        CHECK(tiny_with(fine[i].key, fine[i].value, &cfg));
        ldm_status st = ldm_unet_create(&cfg, w, 1, 8, 8, 77, &u);
        CHECK_MSG(st == LDM_OK, "%s = %s: %s", fine[i].key, fine[i].value, ldm_error_message());
        ldm_unet_destroy(&u);
        ldm_config_free(&cfg);
    }

    /* bad sizes */
    ldm_config cfg = {0};
    ldm_unet *u = NULL;
    CHECK(tiny_with("sample_size", NULL, &cfg));
    CHECK_FAILS_WITH(ldm_unet_create(&cfg, w, 0, 8, 8, 77, &u), LDM_EINPUT,
                     "UNet: batch 0, latent 8 x 8");
    CHECK_FAILS_WITH(ldm_unet_create(&cfg, w, 1, 8, 0, 77, &u), LDM_EINPUT, "latent 8 x 0");
    CHECK_FAILS_WITH(ldm_unet_forward(NULL, NULL, NULL, NULL, NULL), LDM_EINPUT, "NULL argument");
    ldm_config_free(&cfg);
    ldm_weights_close(&w);

    /* cfg_b (downsample padding 0, 3 levels) cannot take a 2×2 latent */
    if (ldm_config_load(UNET_DIR "/cfg_b/config.json", &cfg) == LDM_OK &&
        ldm_weights_open_dir(UNET_DIR "/cfg_b", &w) == LDM_OK) {
        CHECK_FAILS_WITH(ldm_unet_create(&cfg, w, 1, 2, 2, 77, &u), LDM_EINPUT,
                         "latent 2 x 2, down_blocks.1");
        ldm_weights_close(&w);
    }
    ldm_config_free(&cfg);
    CHECK(u == NULL);
}

/* Fail the n-th allocation of create for a spread of n: every failure is
 * LDM_ERUNTIME naming what was being allocated, nothing leaks (run under
 * ASan to see), and a create after that works. */
static void test_alloc_failures(void)
{
    ldm_config cfg = {0};
    ldm_weights *w = NULL;
    if (ldm_config_load(TINY_DIR "/config.json", &cfg) != LDM_OK ||
        ldm_weights_open_dir(TINY_DIR, &w) != LDM_OK) {
        CHECK_MSG(0, "%s", ldm_error_message());
        ldm_config_free(&cfg);
        return;
    }
    int failures = 0, step = 1;
    for (long n = 1; n < 100000; n += step) {
        ldm_unet *u = NULL;
        ldm_error_clear();
        ldm_alloc_fail_after(n);
        ldm_status st = ldm_unet_create(&cfg, w, 2, 8, 8, 77, &u);
        ldm_alloc_fail_after(0);
        if (st == LDM_OK) {
            ldm_unet_destroy(&u);
            break;
        }
        failures++;
        CHECK_MSG(st == LDM_ERUNTIME && u == NULL, "allocation %ld: status %d, %s", n, (int)st,
                  ldm_error_message());
        if (n >= 64)
            step = 29; /* the early ones cover every kind of object; then sample */
    }
    CHECK(failures > 20);
    ldm_error_clear();
    ldm_config_free(&cfg);
    ldm_weights_close(&w);
}

int main(void)
{
    test_real_config();
    test_case("tiny_t981");
    test_case("tiny_t1");
    test_case("tiny_rect");
    test_case("cfg_a_12x20");
    test_case("cfg_b_10x14");
    test_case("cfg_b_8x8");
    test_bad_config();
    test_alloc_failures();
    return ldm_test_finish();
}
