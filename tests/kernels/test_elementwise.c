/* test_elementwise.c — kernels/elementwise.h and kernels/layout.h against
 * torch goldens (F.silu, F.gelu, diffusers' GEGLU formula, add, (a+b)/d,
 * channel-broadcast add, permute, torch.cat on channels), out of place and in place, on 1 and 2
 * threads, plus a long array so the parallel chunking is exercised. */
#include "golden.h"
#include "kernels/elementwise.h"
#include "kernels/layout.h"
#include "kernels/threads.h"

static void test_activations(void)
{
    const char *line = golden_case("activations");
    int64_t n = line ? golden_int(line, "n") : 0;
    float *x = golden_load("activations", "x", n), *silu = golden_load("activations", "silu", n);
    float *gelu = golden_load("activations", "gelu", n);
    float *out = golden_nan_buffer(n);
    if (x && silu && gelu) {
        ldm_silu(out, x, n);
        golden_compare("silu", out, silu, n, GOLDEN_TOL);
        ldm_gelu(out, x, n);
        golden_compare("gelu", out, gelu, n, GOLDEN_TOL);
        /* elementwise too: torch's own GELU is off by up to ~1e-6 absolute */
        int close = 1;
        for (int64_t i = 0; i < n; i++)
            close &= fabsf(out[i] - gelu[i]) <= 2e-6f + 1e-6f * fabsf(gelu[i]);
        CHECK_MSG(close, "gelu differs from torch elementwise");
        CHECK(out[0] == 0.0f && out[1] == 0.0f);     /* gelu(±0) */
        CHECK(out[6] == 30.0f && out[7] == -0.0f);   /* gelu(30), gelu(-30) */
        /* a long input: many parallel chunks, in place */
        int64_t big = 100003;
        float *xs = malloc((size_t)big * sizeof(float)), *ref = malloc((size_t)big * sizeof(float));
        for (int64_t i = 0; i < big; i++) {
            xs[i] = x[i % n];
            ref[i] = silu[i % n];
        }
        ldm_silu(xs, xs, big);
        golden_compare("silu, 100003 elements in place", xs, ref, big, GOLDEN_TOL);
        free(xs);
        free(ref);
    }
    free(x), free(silu), free(gelu), free(out);
}

static void test_geglu(void)
{
    const char *line = golden_case("geglu");
    int64_t m = line ? golden_int(line, "m") : 0, dim = line ? golden_int(line, "dim") : 0;
    float *x = golden_load("geglu", "x", m * 2 * dim), *y = golden_load("geglu", "y", m * dim);
    float *out = golden_nan_buffer(m * dim);
    if (x && y) {
        ldm_geglu(out, x, m, dim);
        golden_compare("geglu", out, y, m * dim, GOLDEN_TOL);
    }
    free(x), free(y), free(out);
}

static void test_add(void)
{
    const char *line = golden_case("add_div");
    int64_t n = line ? golden_int(line, "n") : 0;
    float divisor = line ? (float)golden_double(line, "divisor") : 1.0f;
    float *a = golden_load("add_div", "a", n), *b = golden_load("add_div", "b", n);
    float *sum = golden_load("add_div", "sum", n), *y = golden_load("add_div", "y", n);
    float *out = golden_nan_buffer(n);
    if (a && b && sum && y) {
        ldm_add(out, a, b, n);
        golden_compare("add", out, sum, n, 0.0);
        ldm_add_div(out, a, b, divisor, n);
        golden_compare("add_div (output_scale_factor 1.5)", out, y, n, 0.0);
        ldm_scale(out, sum, 1.0f / divisor, n);
        golden_compare("scale by 1/1.5", out, y, n, 1e-6);
        ldm_add(a, a, b, n);   /* in place */
        golden_compare("add in place", a, sum, n, 0.0);
    }
    free(a), free(b), free(sum), free(y), free(out);
}

static void test_channel_bias(void)
{
    const char *line = golden_case("channel_bias");
    if (!line)
        return;
    int64_t n = golden_int(line, "n"), c = golden_int(line, "c");
    int64_t hw = golden_int(line, "h") * golden_int(line, "w"), count = n * c * hw;
    float *x = golden_load("channel_bias", "x", count), *bias = golden_load("channel_bias", "bias", n * c);
    float *y = golden_load("channel_bias", "y", count);
    float *y_nhwc = golden_load("channel_bias", "y_nhwc", count);
    float *buf = malloc((size_t)count * sizeof(float));
    if (x && bias && y && y_nhwc) {
        memcpy(buf, x, (size_t)count * sizeof(float));
        ldm_add_channel_bias(buf, bias, n, c, hw, LDM_LAYOUT_NCHW);
        golden_compare("channel bias nchw", buf, y, count, 0.0);
        ldm_layout_convert(buf, LDM_LAYOUT_NHWC, x, LDM_LAYOUT_NCHW, n, c, 1, hw);
        ldm_add_channel_bias(buf, bias, n, c, hw, LDM_LAYOUT_NHWC);
        golden_compare("channel bias nhwc", buf, y_nhwc, count, 0.0);
    }
    free(x), free(bias), free(y), free(y_nhwc), free(buf);
}

static void test_permute(void)
{
    const char *line = golden_case("permute");
    if (!line)
        return;
    int64_t n = golden_int(line, "n"), c = golden_int(line, "c"), h = golden_int(line, "h");
    int64_t w = golden_int(line, "w"), count = n * c * h * w;
    float *x = golden_load("permute", "x", count), *y = golden_load("permute", "y", count);
    float *out = golden_nan_buffer(count), *back = golden_nan_buffer(count);
    if (x && y) {
        ldm_layout_convert(out, LDM_LAYOUT_NHWC, x, LDM_LAYOUT_NCHW, n, c, h, w);
        golden_compare("nchw -> nhwc (permute(0,2,3,1))", out, y, count, 0.0);
        ldm_layout_convert(back, LDM_LAYOUT_NCHW, out, LDM_LAYOUT_NHWC, n, c, h, w);
        golden_compare("nhwc -> nchw", back, x, count, 0.0);
        ldm_layout_convert(back, LDM_LAYOUT_NHWC, y, LDM_LAYOUT_NHWC, n, c, h, w);
        golden_compare("nhwc -> nhwc (copy)", back, y, count, 0.0);
    }
    free(x), free(y), free(out), free(back);
}

static void test_concat(void)
{
    const char *line = golden_case("concat");
    if (!line)
        return;
    int64_t n = golden_int(line, "n"), ca = golden_int(line, "ca"), cb = golden_int(line, "cb");
    int64_t hw = golden_int(line, "h") * golden_int(line, "w"), count = n * (ca + cb) * hw;
    const char *names[2][3] = {{"a", "b", "y"}, {"a_nhwc", "b_nhwc", "y_nhwc"}};
    for (int l = 0; l < 2; l++) {
        float *a = golden_load("concat", names[l][0], n * ca * hw);
        float *b = golden_load("concat", names[l][1], n * cb * hw);
        float *y = golden_load("concat", names[l][2], count);
        float *out = golden_nan_buffer(count);
        if (a && b && y) {
            ldm_concat_channels(out, a, ca, b, cb, n, hw, l ? LDM_LAYOUT_NHWC : LDM_LAYOUT_NCHW);
            golden_compare(l ? "concat channels nhwc" : "concat channels nchw", out, y, count, 0.0);
        }
        free(a), free(b), free(y), free(out);
    }
}

int main(void)
{
    for (int t = 1; t <= 2 && t <= ldm_kernels_cores(); t++) {
        ldm_kernels_set_threads(t);
        printf("threads %d\n", t);
        test_activations();
        test_geglu();
        test_add();
        test_channel_bias();
        test_permute();
        test_concat();
    }
    CHECK(ldm_kernels_set_threads(0) == ldm_kernels_cores());
    CHECK(ldm_kernels_set_threads(100000) == ldm_kernels_cores());
    CHECK(ldm_kernels_set_threads(1) == 1 && ldm_kernels_threads() == 1);
    return ldm_test_finish();
}
