/* test_resnet.c — ResnetBlock2D, Downsample2D and Upsample2D (models/resnet.h,
 * models/sampling.h) against diffusers' modules: every case of
 * tests/fixtures/vae/blocks.json (tools/reference/make_vae_goldens.py), with
 * the weights of blocks.safetensors; then the weight list and bad input. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "harness.h"
#include "io/config.h"
#include "io/npy.h"
#include "io/weights.h"
#include "kernels/golden.h"
#include "kernels/layout.h"
#include "models/resnet.h"
#include "models/sampling.h"

#define VAE_DIR LDM_FIXTURES "/vae"

static int64_t jint(const cJSON *c, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
    CHECK_MSG(cJSON_IsNumber(v), "blocks.json: %s missing", key);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static double jdouble(const cJSON *c, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
    CHECK_MSG(cJSON_IsNumber(v), "blocks.json: %s missing", key);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

/* <case>.<tensor>.npy, NCHW, with `numel` elements (0: any). */
static int load(const char *name, const char *tensor, int64_t numel, ldm_npy *out)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%s.npy", VAE_DIR, name, tensor);
    ldm_status st = ldm_npy_read(path, out);
    CHECK_MSG(st == LDM_OK, "%s: %s", path, ldm_error_message());
    if (st != LDM_OK)
        return 0;
    CHECK_MSG(numel == 0 || out->numel == numel, "%s: %lld elements, want %lld", path,
              (long long)out->numel, (long long)numel);
    return numel == 0 || out->numel == numel;
}

static ldm_resnet_desc resnet_desc(const cJSON *c)
{
    return (ldm_resnet_desc){
        .prefix = cJSON_GetObjectItemCaseSensitive(c, "prefix")->valuestring,
        .in_channels = jint(c, "in_channels"), .out_channels = jint(c, "out_channels"),
        .temb_channels = jint(c, "temb_channels"), .groups = jint(c, "groups"),
        .eps = jdouble(c, "eps"), .output_scale_factor = jdouble(c, "output_scale_factor"),
        .use_in_shortcut = (int)jint(c, "use_in_shortcut"), .batch = jint(c, "batch"),
        .h = jint(c, "h"), .w = jint(c, "w")};
}

static ldm_downsample_desc down_desc(const cJSON *c)
{
    return (ldm_downsample_desc){
        .prefix = cJSON_GetObjectItemCaseSensitive(c, "prefix")->valuestring,
        .channels = jint(c, "channels"), .out_channels = jint(c, "out_channels"),
        .padding = jint(c, "padding"), .batch = jint(c, "batch"), .h = jint(c, "h"),
        .w = jint(c, "w")};
}

static ldm_upsample_desc up_desc(const cJSON *c)
{
    int explicit_size = (int)jint(c, "explicit_size");
    return (ldm_upsample_desc){
        .prefix = cJSON_GetObjectItemCaseSensitive(c, "prefix")->valuestring,
        .channels = jint(c, "channels"), .out_channels = jint(c, "out_channels"),
        .use_conv = (int)jint(c, "use_conv"), .batch = jint(c, "batch"), .h = jint(c, "h"),
        .w = jint(c, "w"), .out_h = explicit_size ? jint(c, "out_h") : 0,
        .out_w = explicit_size ? jint(c, "out_w") : 0};
}

/* Run one case: create, forward twice (a block is reusable) on an arena of
 * exactly the declared size above the two activations, compare. */
static void run_case(const cJSON *c, const ldm_weights *w)
{
    const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
    const char *kind = cJSON_GetObjectItemCaseSensitive(c, "kind")->valuestring;
    int64_t n = jint(c, "batch"), h = jint(c, "h"), wd = jint(c, "w");
    int is_res = strcmp(kind, "resnet") == 0, is_down = strcmp(kind, "downsample") == 0;
    int64_t cin = is_res ? jint(c, "in_channels") : jint(c, "channels");
    int64_t cout = jint(c, "out_channels");
    int64_t oh = is_res ? h : jint(c, "out_h"), ow = is_res ? wd : jint(c, "out_w");
    int64_t temb_ch = is_res ? jint(c, "temb_channels") : 0;
    ldm_npy x = {0}, y = {0}, temb = {0};
    ldm_resnet *res = NULL;
    ldm_downsample *down = NULL;
    ldm_upsample *up = NULL;
    ldm_arena arena = {0};
    float *xin = NULL, *yout = NULL, *back = NULL;
    if (!load(name, "x", n * cin * h * wd, &x) || !load(name, "y", n * cout * oh * ow, &y))
        goto done;
    if (temb_ch && !load(name, "temb", n * temb_ch, &temb))
        goto done;
    ldm_status st;
    size_t bytes;
    if (is_res) {
        ldm_resnet_desc d = resnet_desc(c);
        st = ldm_resnet_create(&d, w, &res);
        bytes = res ? ldm_resnet_arena_bytes(res) : 0;
    } else if (is_down) {
        ldm_downsample_desc d = down_desc(c);
        int64_t gh = 0, gw = 0;
        CHECK(ldm_downsample_out_size(&d, &gh, &gw) == LDM_OK && gh == oh && gw == ow);
        st = ldm_downsample_create(&d, w, &down);
        bytes = down ? ldm_downsample_arena_bytes(down) : 0;
    } else {
        ldm_upsample_desc d = up_desc(c);
        st = ldm_upsample_create(&d, w, &up);
        bytes = up ? ldm_upsample_arena_bytes(up) : 0;
    }
    CHECK_MSG(st == LDM_OK, "%s: create: %s", name, ldm_error_message());
    if (st != LDM_OK)
        goto done;
    size_t in_bytes = (size_t)(n * cin * h * wd) * sizeof(float);
    size_t out_bytes = (size_t)(n * cout * oh * ow) * sizeof(float);
    CHECK(ldm_arena_create(&arena, (in_bytes + 63) / 64 * 64 + (out_bytes + 63) / 64 * 64 + bytes,
                           "test arena") == LDM_OK);
    CHECK(ldm_arena_push(&arena, in_bytes, "x", (void **)&xin) == LDM_OK);
    CHECK(ldm_arena_push(&arena, out_bytes, "y", (void **)&yout) == LDM_OK);
    back = golden_nan_buffer(n * cout * oh * ow);
    ldm_layout_convert(xin, LDM_LAYOUT_NHWC, x.data, LDM_LAYOUT_NCHW, n, cin, h, wd);
    for (int rep = 0; rep < 2; rep++) {
        for (int64_t i = 0; i < n * cout * oh * ow; i++)
            yout[i] = NAN;
        size_t used = arena.used;
        if (res)
            st = ldm_resnet_forward(res, yout, xin, temb.data, &arena);
        else if (down)
            st = ldm_downsample_forward(down, yout, xin, &arena);
        else
            st = ldm_upsample_forward(up, yout, xin, &arena);
        CHECK_MSG(st == LDM_OK, "%s: forward: %s", name, ldm_error_message());
        CHECK_MSG(arena.used == used, "%s: forward did not return the arena", name);
    }
    ldm_layout_convert(back, LDM_LAYOUT_NCHW, yout, LDM_LAYOUT_NHWC, n, cout, oh, ow);
    golden_compare(name, back, y.data, n * cout * oh * ow, GOLDEN_TOL);
done:
    ldm_resnet_destroy(&res);
    ldm_downsample_destroy(&down);
    ldm_upsample_destroy(&up);
    CHECK(res == NULL && down == NULL && up == NULL);
    ldm_arena_destroy(&arena);
    ldm_npy_free(&x);
    ldm_npy_free(&y);
    ldm_npy_free(&temb);
    free(back);
}

/* Every case's specs together name exactly the tensors of blocks.safetensors. */
static void test_specs(const cJSON *cases, const ldm_weights *w)
{
    ldm_spec_list list = {0};
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *kind = cJSON_GetObjectItemCaseSensitive(c, "kind")->valuestring;
        ldm_status st;
        if (strcmp(kind, "resnet") == 0) {
            ldm_resnet_desc d = resnet_desc(c);
            st = ldm_resnet_specs(&d, &list);
        } else if (strcmp(kind, "downsample") == 0) {
            ldm_downsample_desc d = down_desc(c);
            st = ldm_downsample_specs(&d, &list);
        } else {
            ldm_upsample_desc d = up_desc(c);
            st = ldm_upsample_specs(&d, &list);
        }
        CHECK(st == LDM_OK);
    }
    CHECK_MSG(ldm_spec_list_check(&list, w) == LDM_OK, "%s", ldm_error_message());
    CHECK(list.count == ldm_weights_count(w));
    /* one case short: its tensors are unexpected */
    ldm_spec_list_free(&list);
    CHECK(list.count == 0 && list.items == NULL);
    ldm_resnet_desc d = resnet_desc(cJSON_GetArrayItem(cases, 0));
    CHECK(ldm_resnet_specs(&d, &list) == LDM_OK);
    CHECK_FAILS_WITH(ldm_spec_list_check(&list, w), LDM_EINPUT, "unexpected tensor");
    /* a spec for a tensor the file lacks */
    CHECK(ldm_spec_list_add(&list, 1, (int64_t[]){4}, "%s.nothing", "x") == LDM_OK);
    CHECK_FAILS_WITH(ldm_spec_list_check(&list, w), LDM_EINPUT, "x.nothing");
    ldm_spec_list_free(&list);
}

static void test_bad_input(const cJSON *cases, const ldm_weights *w)
{
    ldm_resnet *r = NULL;
    ldm_resnet_desc d = resnet_desc(cJSON_GetArrayItem(cases, 1)); /* res_temb_shortcut */
    ldm_resnet_desc bad = d;
    bad.groups = 5;
    CHECK_FAILS_WITH(ldm_resnet_create(&bad, w, &r), LDM_EINPUT, "groups 5 must divide");
    CHECK(r == NULL);
    bad = d;
    bad.prefix = "down_blocks.9.resnets.0";
    CHECK_FAILS_WITH(ldm_resnet_create(&bad, w, &r), LDM_EINPUT,
                     "down_blocks.9.resnets.0.norm1.weight");
    bad = d;
    bad.temb_channels = 47; /* shape mismatch of time_emb_proj.weight */
    CHECK_FAILS_WITH(ldm_resnet_create(&bad, w, &r), LDM_EINPUT, "time_emb_proj.weight");
    bad = d;
    bad.use_in_shortcut = 0;
    CHECK_FAILS_WITH(ldm_resnet_create(&bad, w, &r), LDM_EINPUT, "use_in_shortcut 0");
    bad = d;
    bad.output_scale_factor = 0.0;
    CHECK_FAILS_WITH(ldm_resnet_create(&bad, w, &r), LDM_EINPUT, "output_scale_factor");
    bad = d;
    bad.h = 0;
    CHECK_FAILS_WITH(ldm_resnet_create(&bad, w, &r), LDM_EINPUT, "input shape");

    /* a forward without temb, and on a too small arena */
    CHECK(ldm_resnet_create(&d, w, &r) == LDM_OK);
    ldm_arena arena;
    int64_t px = d.batch * d.h * d.w;
    /* x, y, temb (multiples of 64 bytes here) and one cache line less than the block needs */
    size_t own = (size_t)(px * (d.in_channels + d.out_channels) + d.batch * d.temb_channels) * 4;
    CHECK(own % 64 == 0);
    CHECK(ldm_arena_create(&arena, own + ldm_resnet_arena_bytes(r) - 64, "small") == LDM_OK);
    float *x = NULL, *y = NULL, *temb = NULL;
    CHECK(ldm_arena_push_f32(&arena, px * d.in_channels, "x", &x) == LDM_OK);
    CHECK(ldm_arena_push_f32(&arena, px * d.out_channels, "y", &y) == LDM_OK);
    CHECK(ldm_arena_push_f32(&arena, d.batch * d.temb_channels, "temb", &temb) == LDM_OK);
    memset(x, 0, (size_t)(px * d.in_channels) * sizeof *x);
    memset(temb, 0, (size_t)(d.batch * d.temb_channels) * sizeof *temb);
    size_t used = arena.used;
    CHECK_FAILS_WITH(ldm_resnet_forward(r, y, x, NULL, &arena), LDM_EINPUT, "temb is required");
    CHECK_FAILS_WITH(ldm_resnet_forward(r, y, x, temb, &arena), LDM_ERUNTIME, "arena too small");
    CHECK(arena.used == used);
    ldm_arena_destroy(&arena);
    ldm_resnet_destroy(&r);
    ldm_resnet_destroy(&r); /* NULL is fine */

    ldm_downsample *down = NULL;
    ldm_downsample_desc dd = {.prefix = "down_blocks.0.downsamplers.0", .channels = 16,
                              .padding = -1, .batch = 1, .h = 4, .w = 4};
    CHECK_FAILS_WITH(ldm_downsample_create(&dd, w, &down), LDM_EINPUT, "padding -1");
    dd.padding = 0;
    dd.h = 1; /* (1 + 1 - 3) / 2 + 1 has no output row */
    CHECK_FAILS_WITH(ldm_downsample_create(&dd, w, &down), LDM_EINPUT,
                     "Downsample2D down_blocks.0");
    CHECK(down == NULL);
    ldm_upsample *up = NULL;
    ldm_upsample_desc ud = {.prefix = "up.upsamplers.0", .channels = 8, .out_channels = 4,
                            .use_conv = 0, .batch = 1, .h = 2, .w = 2};
    CHECK_FAILS_WITH(ldm_upsample_create(&ud, w, &up), LDM_EINPUT, "without a conv");
    ud.out_channels = 0;
    ud.out_h = -3;
    ud.out_w = 4;
    CHECK_FAILS_WITH(ldm_upsample_create(&ud, w, &up), LDM_EINPUT, "output size");
    CHECK(up == NULL);
}

/* torch's nearest rule for sizes that are not 2× (F.interpolate size=...):
 * src = min(floor(dst * (float)in / out), in - 1). */
static void test_resize(void)
{
    float in[5], out[9];
    for (int i = 0; i < 5; i++)
        in[i] = (float)i;
    ldm_resize_nearest_nhwc(out, in, 1, 1, 1, 5, 1, 9);
    const float want[9] = {0, 0, 1, 1, 2, 2, 3, 3, 4}; /* floor(i * 5/9) */
    CHECK(memcmp(out, want, sizeof want) == 0);
    ldm_resize_nearest_nhwc(out, in, 1, 1, 5, 1, 3, 1); /* downsizing: 0, 1.67, 3.33 */
    CHECK(out[0] == 0 && out[1] == 1 && out[2] == 3);
}

int main(void)
{
    ldm_config cfg = {0};
    ldm_weights *w = NULL;
    if (ldm_config_load(VAE_DIR "/blocks.json", &cfg) != LDM_OK ||
        ldm_weights_open_path(VAE_DIR "/blocks.safetensors", &w) != LDM_OK) {
        CHECK_MSG(0, "fixtures: %s", ldm_error_message());
        return ldm_test_finish();
    }
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(cfg.root, "cases");
    const cJSON *c;
    cJSON_ArrayForEach(c, cases)
        run_case(c, w);
    test_specs(cases, w);
    test_bad_input(cases, w);
    test_resize();
    ldm_weights_close(&w);
    ldm_config_free(&cfg);
    return ldm_test_finish();
}
