/* test_unet_blocks.c — models/unet_blocks.h against diffusers
 * (tests/fixtures/unet): the time embedding (Timesteps + TimestepEmbedding,
 * both flip_sin_to_cos settings and freq_shift 0/1), CrossAttnDownBlock2D
 * (every residual output), DownBlock2D (downsample padding 0, odd size),
 * UNetMidBlock2DCrossAttn (output_scale_factor 1.25, linear projections),
 * CrossAttnUpBlock2D (upsample to a forced size) and UpBlock2D. Each block's
 * expected-tensor list must equal its state dict; bad descriptions fail. */
#include "models/unet_blocks.h"

#include "test_unet_golden.h"

/* Measure the arena with `fwd` on a measuring context, then build a real one. */
typedef ldm_status (*fwd_fn)(void *ctx, ldm_unet_exec *ex);

typedef struct runner {
    ldm_arena arena;
    void *scratch;
    ldm_unet_exec ex;
} runner;

static int runner_init(runner *r, size_t need, fwd_fn f, void *ctx)
{
    ldm_arena measure;
    ldm_arena_init_measure(&measure);
    ldm_unet_exec ex = {.arena = &measure};
    memset(r, 0, sizeof *r);
    ldm_status st = f(ctx, &ex);
    CHECK_MSG(st == LDM_OK && measure.used == 0, "measuring: %s", ldm_error_message());
    if (ldm_arena_create(&r->arena, measure.peak, "test arena") != LDM_OK ||
        ldm_alloc(need ? need : 64, "scratch", &r->scratch) != LDM_OK)
        return 0;
    r->ex = (ldm_unet_exec){.arena = &r->arena, .scratch = r->scratch, .scratch_bytes = need};
    return 1;
}

static void runner_free(runner *r)
{
    ldm_arena_destroy(&r->arena);
    ldm_free(r->scratch);
}

/* ---- time embedding ---- */

typedef struct temb_ctx {
    ldm_unet_time *t;
    float *emb;
    const float *ts;
} temb_ctx;

static ldm_status temb_fwd(void *p, ldm_unet_exec *ex)
{
    temb_ctx *c = p;
    return ldm_unet_time_forward(c->t, ex, c->emb, c->ts);
}

static void test_temb(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    ldm_unet_time_desc d = {.batch = golden_int(line, "batch"), .channels = golden_int(line, "c0"),
                            .dim = golden_int(line, "tdim"),
                            .flip_sin_to_cos = (int)golden_int(line, "flip"),
                            .freq_shift = golden_double(line, "shift")};
    float *t = golden_load(name, "t", d.batch), *y = golden_load(name, "y", d.batch * d.dim);
    ldm_weights *w = golden_weights(name);
    ldm_spec_list specs = {0};
    ldm_unet_time *te = NULL;
    size_t need = 0;
    float *emb = golden_nan_buffer(d.batch * d.dim);
    runner r = {0};
    if (!t || !y || !w)
        goto done;
    CHECK(ldm_unet_time_specs(&d, "", &specs) == LDM_OK);
    CHECK_MSG(ldm_spec_list_check(&specs, w) == LDM_OK, "%s", ldm_error_message());
    CHECK_MSG(ldm_unet_time_create(&d, w, "", &need, &te) == LDM_OK, "%s", ldm_error_message());
    if (!te)
        goto done;
    temb_ctx c = {.t = te, .emb = emb, .ts = t};
    if (runner_init(&r, need, temb_fwd, &c)) {
        CHECK_MSG(temb_fwd(&c, &r.ex) == LDM_OK, "%s", ldm_error_message());
        golden_compare(name, emb, y, d.batch * d.dim, GOLDEN_TOL);
    }
done:
    runner_free(&r);
    ldm_unet_time_destroy(&te);
    ldm_spec_list_free(&specs);
    ldm_weights_close(&w);
    free(t);
    free(y);
    free(emb);
}

/* ---- blocks ---- */

typedef struct blk_ctx {
    int kind; /* 0 down, 1 mid, 2 up */
    ldm_unet_block *b;
    float *const *states;
    float *out;
    const float *x, *temb, *context;
    const float *const *skips;
} blk_ctx;

static ldm_status blk_fwd(void *p, ldm_unet_exec *ex)
{
    blk_ctx *c = p;
    ldm_status st = ldm_unet_block_set_context(c->b, ex, c->context);
    if (st != LDM_OK)
        return st;
    if (c->kind == 0)
        return ldm_unet_down_forward(c->b, ex, c->states, c->x, c->temb);
    if (c->kind == 1)
        return ldm_unet_mid_forward(c->b, ex, c->out, c->x, c->temb);
    return ldm_unet_up_forward(c->b, ex, c->out, c->x, c->skips, c->temb);
}

static ldm_unet_block_desc common_desc(const char *line)
{
    return (ldm_unet_block_desc){
        .batch = golden_int(line, "batch"), .h = golden_int(line, "h"), .w = golden_int(line, "w"),
        .temb_channels = golden_int(line, "temb"), .groups = golden_int(line, "groups"),
        .eps = 1e-5, .output_scale_factor = 1.0, .heads = golden_int(line, "heads"),
        .cross_dim = golden_int(line, "cross"), .context_tokens = 77, .add_sampler = 1};
}

/* Specs equal the state dict, create, measure, run; NULL on failure. */
static ldm_unet_block *make_block(const char *name, int kind, const ldm_unet_block_desc *d,
                                  ldm_weights *w, size_t *need)
{
    ldm_spec_list specs = {0};
    ldm_unet_block *b = NULL;
    ldm_status st = kind == 0 ? ldm_unet_down_specs(d, "", &specs)
                  : kind == 1 ? ldm_unet_mid_specs(d, "", &specs)
                              : ldm_unet_up_specs(d, "", &specs);
    CHECK_MSG(st == LDM_OK, "%s specs: %s", name, ldm_error_message());
    st = ldm_spec_list_check(&specs, w);
    CHECK_MSG(st == LDM_OK, "%s: %s", name, ldm_error_message());
    ldm_spec_list_free(&specs);
    st = kind == 0 ? ldm_unet_down_create(d, w, "", need, &b)
       : kind == 1 ? ldm_unet_mid_create(d, w, "", need, &b)
                   : ldm_unet_up_create(d, w, "", need, &b);
    CHECK_MSG(st == LDM_OK, "%s create: %s", name, ldm_error_message());
    return b;
}

static void test_down(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    ldm_unet_block_desc d = common_desc(line);
    d.cross_attn = (int)golden_int(line, "cross_attn");
    d.num_layers = golden_int(line, "layers");
    d.in_channels = golden_int(line, "cin");
    d.out_channels = golden_int(line, "cout");
    d.downsample_padding = golden_int(line, "pad");
    int64_t nres = golden_int(line, "nres");
    int64_t yh = golden_int(line, "yh"), yw = golden_int(line, "yw");
    CHECK(ldm_unet_down_states(&d) == nres);
    int64_t oh, ow;
    CHECK(ldm_unet_block_out_size(&d, 0, &oh, &ow) == LDM_OK && oh == yh && ow == yw);
    int64_t nx = d.batch * d.in_channels * d.h * d.w;
    float *x = golden_load(name, "x", nx);
    float *temb = golden_load(name, "temb", d.batch * d.temb_channels);
    float *ctx = golden_load(name, "context", d.batch * 77 * d.cross_dim);
    ldm_weights *w = golden_weights(name);
    size_t need = 0;
    ldm_unet_block *b = w ? make_block(name, 0, &d, w, &need) : NULL;
    float *states[8] = {0};
    float *xh = NULL;
    runner r = {0};
    if (!x || !temb || !ctx || !b)
        goto done;
    xh = to_nhwc(x, d.batch, d.in_channels, d.h, d.w);
    for (int64_t i = 0; i < nres; i++) {
        int64_t h = i < d.num_layers ? d.h : yh, wd = i < d.num_layers ? d.w : yw;
        states[i] = golden_nan_buffer(d.batch * d.out_channels * h * wd);
    }
    blk_ctx c = {.kind = 0, .b = b, .states = states, .x = xh, .temb = temb, .context = ctx};
    if (runner_init(&r, need, blk_fwd, &c)) {
        CHECK_MSG(blk_fwd(&c, &r.ex) == LDM_OK, "%s: %s", name, ldm_error_message());
        CHECK(r.arena.used == 0);
        for (int64_t i = 0; i < nres; i++) {
            int64_t h = i < d.num_layers ? d.h : yh, wd = i < d.num_layers ? d.w : yw;
            int64_t n = d.batch * d.out_channels * h * wd;
            char tn[32], label[96];
            snprintf(tn, sizeof tn, "res%lld", (long long)i);
            snprintf(label, sizeof label, "%s %s", name, tn);
            float *ref = golden_load(name, tn, n);
            float *got = to_nchw(states[i], d.batch, d.out_channels, h, wd);
            if (ref)
                golden_compare(label, got, ref, n, GOLDEN_TOL);
            if (i == nres - 1) {
                float *y = golden_load(name, "y", n);
                CHECK(y && memcmp(y, ref, (size_t)n * sizeof(float)) == 0);
                free(y);
            }
            free(ref);
            free(got);
        }
    }
done:
    runner_free(&r);
    for (int i = 0; i < 8; i++)
        free(states[i]);
    ldm_unet_block_destroy(&b);
    ldm_weights_close(&w);
    free(x);
    free(xh);
    free(temb);
    free(ctx);
}

static void test_mid(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    ldm_unet_block_desc d = common_desc(line);
    d.cross_attn = 1;
    d.num_layers = 1;
    d.in_channels = golden_int(line, "c");
    d.output_scale_factor = golden_double(line, "scale");
    d.use_linear_projection = (int)golden_int(line, "linear");
    d.add_sampler = 0;
    int64_t n = d.batch * d.in_channels * d.h * d.w;
    float *x = golden_load(name, "x", n), *y = golden_load(name, "y", n);
    float *temb = golden_load(name, "temb", d.batch * d.temb_channels);
    float *ctx = golden_load(name, "context", d.batch * 77 * d.cross_dim);
    ldm_weights *w = golden_weights(name);
    size_t need = 0;
    ldm_unet_block *b = w ? make_block(name, 1, &d, w, &need) : NULL;
    float *xh = NULL, *out = golden_nan_buffer(n), *got = NULL;
    runner r = {0};
    if (!x || !y || !temb || !ctx || !b)
        goto done;
    xh = to_nhwc(x, d.batch, d.in_channels, d.h, d.w);
    blk_ctx c = {.kind = 1, .b = b, .out = out, .x = xh, .temb = temb, .context = ctx};
    if (runner_init(&r, need, blk_fwd, &c)) {
        CHECK_MSG(blk_fwd(&c, &r.ex) == LDM_OK, "%s: %s", name, ldm_error_message());
        got = to_nchw(out, d.batch, d.in_channels, d.h, d.w);
        golden_compare(name, got, y, n, GOLDEN_TOL);
    }
done:
    runner_free(&r);
    ldm_unet_block_destroy(&b);
    ldm_weights_close(&w);
    free(x);
    free(xh);
    free(y);
    free(temb);
    free(ctx);
    free(out);
    free(got);
}

static void test_up(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    ldm_unet_block_desc d = common_desc(line);
    d.cross_attn = (int)golden_int(line, "cross_attn");
    d.num_layers = golden_int(line, "layers");
    d.in_channels = golden_int(line, "cin");
    d.out_channels = golden_int(line, "cout");
    d.prev_output_channels = golden_int(line, "prev");
    int64_t yh = golden_int(line, "yh"), yw = golden_int(line, "yw");
    if (yh != 2 * d.h || yw != 2 * d.w) {
        d.up_h = yh;
        d.up_w = yw;
    }
    int64_t pix = d.batch * d.h * d.w, ny = d.batch * d.out_channels * yh * yw;
    float *x = golden_load(name, "x", pix * d.prev_output_channels);
    float *y = golden_load(name, "y", ny);
    float *temb = golden_load(name, "temb", d.batch * d.temb_channels);
    float *ctx = golden_load(name, "context", d.batch * 77 * d.cross_dim);
    ldm_weights *w = golden_weights(name);
    size_t need = 0;
    ldm_unet_block *b = w ? make_block(name, 2, &d, w, &need) : NULL;
    float *skips[8] = {0}, *xh = NULL, *out = golden_nan_buffer(ny), *got = NULL;
    runner r = {0};
    if (!x || !y || !temb || !ctx || !b)
        goto done;
    xh = to_nhwc(x, d.batch, d.prev_output_channels, d.h, d.w);
    for (int64_t i = 0; i < d.num_layers; i++) {
        /* skip i is consumed by layer num_layers − 1 − i */
        int64_t ch = ldm_unet_up_skip_channels(&d, d.num_layers - 1 - i);
        char tn[32];
        snprintf(tn, sizeof tn, "skip%lld", (long long)i);
        float *s = golden_load(name, tn, pix * ch);
        if (!s)
            goto done;
        skips[i] = to_nhwc(s, d.batch, ch, d.h, d.w);
        free(s);
    }
    blk_ctx c = {.kind = 2, .b = b, .out = out, .x = xh, .temb = temb, .context = ctx,
                 .skips = (const float *const *)skips};
    if (runner_init(&r, need, blk_fwd, &c)) {
        CHECK_MSG(blk_fwd(&c, &r.ex) == LDM_OK, "%s: %s", name, ldm_error_message());
        CHECK(r.arena.used == 0);
        got = to_nchw(out, d.batch, d.out_channels, yh, yw);
        golden_compare(name, got, y, ny, GOLDEN_TOL);
    }
done:
    runner_free(&r);
    for (int i = 0; i < 8; i++)
        free(skips[i]);
    ldm_unet_block_destroy(&b);
    ldm_weights_close(&w);
    free(x);
    free(xh);
    free(y);
    free(temb);
    free(ctx);
    free(out);
    free(got);
}

static void test_bad_input(void)
{
    ldm_weights *w = golden_weights("blk_mid");
    const char *line = golden_case("blk_mid");
    if (!w || !line)
        return;
    ldm_unet_block_desc d = common_desc(line);
    d.cross_attn = 1;
    d.num_layers = 1;
    d.in_channels = 32;
    d.output_scale_factor = 1.25;
    d.use_linear_projection = 1;
    d.add_sampler = 0;
    ldm_unet_block *b = NULL;
    size_t need = 0;
    ldm_unet_block_desc bad = d;
    bad.num_layers = 2;
    CHECK_FAILS_WITH(ldm_unet_mid_create(&bad, w, "", &need, &b), LDM_EINPUT,
                     "UNetMidBlock2DCrossAttn: only one attention layer");
    bad = d;
    bad.heads = 64;
    CHECK_FAILS_WITH(ldm_unet_mid_create(&bad, w, "", &need, &b), LDM_EINPUT,
                     "64 attention heads for 32 channels");
    bad = d;
    bad.use_linear_projection = 0; /* the file has linear [32, 32] projections */
    CHECK_FAILS_WITH(ldm_unet_mid_create(&bad, w, "", &need, &b), LDM_EINPUT,
                     "attentions.0.proj_in.weight\" has shape [32, 32], expected [32, 32, 1, 1]");
    bad = d;
    bad.temb_channels = 0;
    CHECK_FAILS_WITH(ldm_unet_mid_create(&bad, w, "", &need, &b), LDM_EINPUT, "temb_channels = 0");
    ldm_unet_time_desc td = {.batch = 1, .channels = 4, .dim = 8, .freq_shift = 2};
    ldm_unet_time *t = NULL;
    CHECK_FAILS_WITH(ldm_unet_time_create(&td, w, "", &need, &t), LDM_EINPUT,
                     "freq_shift 2 equals half the channels");
    CHECK(b == NULL && t == NULL);
    ldm_weights_close(&w);
}

int main(void)
{
    test_temb("temb_a");
    test_temb("temb_b");
    test_down("blk_crossdown");
    test_down("blk_down");
    test_mid("blk_mid");
    test_up("blk_crossup");
    test_up("blk_up");
    test_bad_input();
    return ldm_test_finish();
}
