/* test_transformer2d.c — models/transformer2d.h against diffusers'
 * Transformer2DModel (tests/fixtures/unet t2d_conv: 1×1-conv projections,
 * two BasicTransformerBlocks, heads·head_dim != in_channels; t2d_linear:
 * use_linear_projection, 13 context tokens). Checks the expected-tensor list
 * against the state dict exactly, the forward out of place and in place,
 * that the arena is returned, and bad descriptions / weights. */
#include "models/transformer2d.h"

#include "kernels/threads.h"
#include "test_unet_golden.h"

static ldm_transformer2d_desc desc_of(const char *line)
{
    return (ldm_transformer2d_desc){
        .batch = golden_int(line, "batch"), .height = golden_int(line, "h"),
        .width = golden_int(line, "w"), .in_channels = golden_int(line, "c"),
        .heads = golden_int(line, "heads"), .head_dim = golden_int(line, "head_dim"),
        .num_layers = golden_int(line, "layers"), .cross_dim = golden_int(line, "cross"),
        .context_tokens = golden_int(line, "ctx"), .groups = golden_int(line, "groups"),
        .use_linear_projection = (int)golden_int(line, "linear")};
}

static void test_case(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    ldm_transformer2d_desc d = desc_of(line);
    int64_t n = d.batch * d.in_channels * d.height * d.width;
    float *x = golden_load(name, "x", n), *y = golden_load(name, "y", n);
    float *ctx = golden_load(name, "context", d.batch * d.context_tokens * d.cross_dim);
    ldm_weights *w = golden_weights(name);
    ldm_spec_list specs = {0};
    ldm_transformer2d *t = NULL;
    ldm_arena arena = {0}, measure;
    void *scratch = NULL;
    size_t need = 0;
    float *xh = NULL, *out = NULL, *got = NULL;
    if (!x || !y || !ctx || !w)
        goto done;
    /* the expected-tensor list is exactly the module's state dict */
    CHECK_MSG(ldm_transformer2d_specs(&d, "", &specs) == LDM_OK, "%s", ldm_error_message());
    CHECK_MSG(ldm_spec_list_check(&specs, w) == LDM_OK, "%s: %s", name, ldm_error_message());
    ldm_status st = ldm_transformer2d_create(&d, w, "", &need, &t);
    CHECK_MSG(st == LDM_OK, "%s create: %s", name, ldm_error_message());
    if (st != LDM_OK)
        goto done;
    ldm_arena_init_measure(&measure);
    ldm_unet_exec ex = {.arena = &measure};
    CHECK(ldm_transformer2d_set_context(t, &ex, NULL) == LDM_OK);
    CHECK(ldm_transformer2d_forward(t, &ex, NULL, NULL) == LDM_OK);
    CHECK(measure.used == 0 && measure.peak > 0);
    CHECK(ldm_arena_create(&arena, measure.peak, "test arena") == LDM_OK);
    CHECK(ldm_alloc(need ? need : 64, "scratch", &scratch) == LDM_OK);
    ex = (ldm_unet_exec){.arena = &arena, .scratch = scratch, .scratch_bytes = need};

    xh = to_nhwc(x, d.batch, d.in_channels, d.height, d.width);
    out = golden_nan_buffer(n);
    CHECK_FAILS_WITH(ldm_transformer2d_forward(t, &ex, out, xh), LDM_ERUNTIME,
                     "forward before set_context");
    st = ldm_transformer2d_set_context(t, &ex, ctx);
    CHECK_MSG(st == LDM_OK, "%s set_context: %s", name, ldm_error_message());
    st = ldm_transformer2d_forward(t, &ex, out, xh);
    CHECK_MSG(st == LDM_OK, "%s forward: %s", name, ldm_error_message());
    CHECK(arena.used == 0);
    got = to_nchw(out, d.batch, d.in_channels, d.height, d.width);
    char label[128];
    snprintf(label, sizeof label, "%s (%d threads)", name, ldm_kernels_threads());
    golden_compare(label, got, y, n, GOLDEN_TOL);
    free(got);
    /* in place, and a second run with the same plans */
    st = ldm_transformer2d_forward(t, &ex, xh, xh);
    CHECK_MSG(st == LDM_OK, "%s forward in place: %s", name, ldm_error_message());
    got = to_nchw(xh, d.batch, d.in_channels, d.height, d.width);
    snprintf(label, sizeof label, "%s in place", name);
    golden_compare(label, got, y, n, GOLDEN_TOL);
done:
    free(got);
    free(out);
    free(xh);
    free(x);
    free(y);
    free(ctx);
    ldm_free(scratch);
    ldm_arena_destroy(&arena);
    ldm_transformer2d_destroy(&t);
    CHECK(t == NULL);
    ldm_spec_list_free(&specs);
    ldm_weights_close(&w);
}

static void test_bad_input(void)
{
    const char *line = golden_case("t2d_conv");
    ldm_weights *w = golden_weights("t2d_conv");
    if (!line || !w)
        return;
    ldm_transformer2d_desc d = desc_of(line);
    ldm_transformer2d *t = NULL;
    ldm_spec_list specs = {0};
    size_t need = 0;

    ldm_transformer2d_desc bad = d;
    bad.groups = 5; /* does not divide 24 */
    CHECK_FAILS_WITH(ldm_transformer2d_create(&bad, w, "", &need, &t), LDM_EINPUT,
                     "norm_num_groups 5 does not divide 24 channels");
    CHECK_FAILS_WITH(ldm_transformer2d_specs(&bad, "", &specs), LDM_EINPUT, "norm_num_groups");
    bad = d;
    bad.heads = 0;
    CHECK_FAILS_WITH(ldm_transformer2d_create(&bad, w, "", &need, &t), LDM_EINPUT, "heads = 0");
    bad = d;
    bad.use_linear_projection = 1; /* 3·6 = 18 != 24: diffusers cannot reshape either */
    CHECK_FAILS_WITH(ldm_transformer2d_create(&bad, w, "", &need, &t), LDM_EINPUT,
                     "use_linear_projection needs heads·head_dim (18) == in_channels (24)");
    bad = d;
    bad.cross_dim = 16; /* the file's to_k is [18, 20] */
    CHECK_FAILS_WITH(ldm_transformer2d_create(&bad, w, "", &need, &t), LDM_EINPUT,
                     "transformer_blocks.0.attn2.to_k.weight\" has shape [18, 20], "
                     "expected [18, 16]");
    bad = d;
    bad.num_layers = 3; /* the file has two blocks */
    CHECK_FAILS_WITH(ldm_transformer2d_create(&bad, w, "", &need, &t), LDM_EINPUT,
                     "transformer_blocks.2.norm1.weight\" is missing");
    CHECK_FAILS_WITH(ldm_transformer2d_create(&d, w, "mid_block.attentions.0", &need, &t),
                     LDM_EINPUT, "mid_block.attentions.0.norm.weight");
    /* one block fewer than the file: the check reports the extra tensors */
    bad = d;
    bad.num_layers = 1;
    CHECK(ldm_transformer2d_specs(&bad, "", &specs) == LDM_OK);
    CHECK_FAILS_WITH(ldm_spec_list_check(&specs, w), LDM_EINPUT,
                     "unexpected tensor \"transformer_blocks.1.");
    CHECK(t == NULL);
    ldm_spec_list_free(&specs);
    ldm_weights_close(&w);
}

int main(void)
{
    test_case("t2d_conv");
    test_case("t2d_linear");
    test_bad_input();
    return ldm_test_finish();
}
