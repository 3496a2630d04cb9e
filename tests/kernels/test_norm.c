/* test_norm.c — kernels/norm.h against torch's F.group_norm / F.layer_norm
 * goldens: both layouts, fused SiLU, in place, the split moments/merge/apply
 * path a distributed caller uses; bad input. */
#include "golden.h"
#include "kernels/layout.h"
#include "kernels/norm.h"
#include "kernels/threads.h"

static const char *const GN_CASES[] = {"groupnorm_c32_g8", "groupnorm_c64_g32",
                                       "groupnorm_c12_g3_offset", "groupnorm_c6_g1",
                                       "groupnorm_c640_g32",      "groupnorm_c520_g2"};
static const char *const LN_CASES[] = {"layernorm_5x40", "layernorm_77x64_offset",
                                       "layernorm_3x1280"};

/* The moments of each batch entry computed from two spatial halves (NHWC
 * rows [0, split) and [split, hw)) and merged, as a strip-split run would. */
static void split_moments(ldm_moments *m, const float *x, int64_t n, int64_t c, int64_t hw,
                          int64_t groups)
{
    int64_t split = hw / 3;
    ldm_moments part[64];
    for (int64_t b = 0; b < n; b++) {
        const float *xb = x + b * hw * c;
        ldm_group_norm_moments(m + b * groups, xb, 1, c, split, groups, LDM_LAYOUT_NHWC);
        ldm_group_norm_moments(part, xb + split * c, 1, c, hw - split, groups, LDM_LAYOUT_NHWC);
        for (int64_t g = 0; g < groups; g++)
            ldm_moments_merge(&m[b * groups + g], &part[g]);
    }
}

static void test_group_norm(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    int64_t n = golden_int(line, "n"), c = golden_int(line, "c");
    int64_t hw = golden_int(line, "h") * golden_int(line, "w"), groups = golden_int(line, "groups");
    double eps = golden_double(line, "eps");
    int64_t count = n * c * hw;
    float *x = golden_load(name, "x", count), *gamma = golden_load(name, "gamma", c);
    float *beta = golden_load(name, "beta", c), *y = golden_load(name, "y", count);
    float *ys = golden_load(name, "y_silu", count);
    float *xl = malloc((size_t)count * sizeof(float)), *out = golden_nan_buffer(count);
    float *back = golden_nan_buffer(count);
    char label[160];
    for (int l = 0; x && gamma && beta && y && ys && l < 2; l++) {
        ldm_layout layout = l ? LDM_LAYOUT_NHWC : LDM_LAYOUT_NCHW;
        const char *ln = l ? "nhwc" : "nchw";
        ldm_layout_convert(xl, layout, x, LDM_LAYOUT_NCHW, n, c, 1, hw);
        for (int silu = 0; silu < 2; silu++) {
            CHECK(ldm_group_norm(out, xl, gamma, beta, n, c, hw, groups, eps, layout, silu) ==
                  LDM_OK);
            ldm_layout_convert(back, LDM_LAYOUT_NCHW, out, layout, n, c, 1, hw);
            snprintf(label, sizeof label, "%s %s%s t%d", name, ln, silu ? " +silu" : "",
                     ldm_kernels_threads());
            golden_compare(label, back, silu ? ys : y, count, GOLDEN_TOL);
        }
        /* in place */
        memcpy(out, xl, (size_t)count * sizeof(float));
        CHECK(ldm_group_norm(out, out, gamma, beta, n, c, hw, groups, eps, layout, 0) == LDM_OK);
        ldm_layout_convert(back, LDM_LAYOUT_NCHW, out, layout, n, c, 1, hw);
        snprintf(label, sizeof label, "%s %s in place", name, ln);
        golden_compare(label, back, y, count, GOLDEN_TOL);
    }
    if (x && gamma && beta && y && groups <= 64 && n * groups <= 64) {
        ldm_moments m[64];
        ldm_layout_convert(xl, LDM_LAYOUT_NHWC, x, LDM_LAYOUT_NCHW, n, c, 1, hw);
        split_moments(m, xl, n, c, hw, groups);
        ldm_group_norm_apply(out, xl, m, gamma, beta, eps, n, c, hw, groups, LDM_LAYOUT_NHWC, 0);
        ldm_layout_convert(back, LDM_LAYOUT_NCHW, out, LDM_LAYOUT_NHWC, n, c, 1, hw);
        snprintf(label, sizeof label, "%s split moments + merge", name);
        golden_compare(label, back, y, count, GOLDEN_TOL);
    }
    free(x), free(gamma), free(beta), free(y), free(ys), free(xl), free(out), free(back);
}

static void test_layer_norm(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    int64_t m = golden_int(line, "m"), d = golden_int(line, "d");
    double eps = golden_double(line, "eps");
    float *x = golden_load(name, "x", m * d), *gamma = golden_load(name, "gamma", d);
    float *beta = golden_load(name, "beta", d), *y = golden_load(name, "y", m * d);
    float *out = golden_nan_buffer(m * d);
    char label[160];
    if (x && gamma && beta && y) {
        CHECK(ldm_layer_norm(out, x, gamma, beta, m, d, eps) == LDM_OK);
        snprintf(label, sizeof label, "%s t%d", name, ldm_kernels_threads());
        golden_compare(label, out, y, m * d, GOLDEN_TOL);
        CHECK(ldm_layer_norm(x, x, gamma, beta, m, d, eps) == LDM_OK);
        snprintf(label, sizeof label, "%s in place", name);
        golden_compare(label, x, y, m * d, GOLDEN_TOL);
    }
    free(x), free(gamma), free(beta), free(y), free(out);
}

static void test_merge(void)
{
    /* {1, 2} ∪ {3, 4, 5}: mean 3, M2 = 4+1+0+1+4 = 10 */
    ldm_moments a = {2, 1.5, 0.5}, b = {3, 4.0, 2.0}, empty = {0, 0, 0};
    ldm_moments_merge(&a, &b);
    CHECK_CLOSE(a.count, 5.0, 1e-15);
    CHECK_CLOSE(a.mean, 3.0, 1e-15);
    CHECK_CLOSE(a.m2, 10.0, 1e-15);
    ldm_moments_merge(&a, &empty);
    CHECK_CLOSE(a.m2, 10.0, 1e-15);
    ldm_moments_merge(&empty, &b);
    CHECK_CLOSE(empty.mean, 4.0, 1e-15);
}

static void test_bad_input(void)
{
    float x[12] = {0};
    CHECK_FAILS_WITH(ldm_group_norm(x, x, NULL, NULL, 1, 6, 2, 4, 1e-5, LDM_LAYOUT_NCHW, 0),
                     LDM_EINPUT, "num_groups 4 does not divide 6 channels");
    CHECK_FAILS_WITH(ldm_group_norm(x, x, NULL, NULL, 1, 6, 0, 3, 1e-5, LDM_LAYOUT_NCHW, 0),
                     LDM_EINPUT, "hw=0");
    CHECK_FAILS_WITH(ldm_group_norm(x, x, NULL, NULL, 1, 6, 2, 3, 1e-5, (ldm_layout)9, 0),
                     LDM_EINPUT, "layout");
    CHECK_FAILS_WITH(ldm_layer_norm(x, x, NULL, NULL, 3, 0, 1e-5), LDM_EINPUT, "dim=0");
    /* without affine parameters: zero mean, unit variance */
    float v[4] = {1, 2, 3, 4}, o[4];
    CHECK(ldm_layer_norm(o, v, NULL, NULL, 1, 4, 0.0) == LDM_OK);
    CHECK_CLOSE(o[0], -1.5 / sqrt(1.25), 1e-6);
    CHECK_CLOSE(o[3], 1.5 / sqrt(1.25), 1e-6);
}

int main(void)
{
    for (int t = 1; t <= 2 && t <= ldm_kernels_cores(); t++) {
        ldm_kernels_set_threads(t);
        for (size_t i = 0; i < sizeof GN_CASES / sizeof GN_CASES[0]; i++)
            test_group_norm(GN_CASES[i]);
        for (size_t i = 0; i < sizeof LN_CASES / sizeof LN_CASES[0]; i++)
            test_layer_norm(LN_CASES[i]);
    }
    test_merge();
    test_bad_input();
    return ldm_test_finish();
}
