/* test_conv2d.c — kernels/conv2d.h against torch's F.conv2d goldens, every
 * case in NCHW and NHWC and with each algorithm, with and without bias, on
 * 1 and 2 threads; bad descriptions. */
#include "core/alloc.h"
#include "golden.h"
#include "kernels/conv2d.h"
#include "kernels/layout.h"
#include "kernels/threads.h"

static const char *const CASES[] = {
    "conv3x3_s1_p1",   "conv3x3_s1_p1_c32", "conv3x3_s2_p0101", "conv3x3_s2_p0101_odd",
    "conv3x3_s2_p1",   "conv1x1",           "conv1x1_c64",          "conv3x3_s1_p1_c64_16x16",
};

static const char *algo_name(ldm_conv_algo a)
{
    return a == LDM_CONV_DIRECT ? "direct" : a == LDM_CONV_WINOGRAD ? "winograd" : "auto";
}

/* Run one plan on x (NCHW) and compare with ref (NCHW). */
static void run_plan(const char *name, const ldm_conv2d_desc *desc, const float *x,
                     const float *w, const float *bias, const float *ref, int64_t oh, int64_t ow)
{
    char label[160];
    snprintf(label, sizeof label, "%s %s %s%s t%d", name,
             desc->layout == LDM_LAYOUT_NHWC ? "nhwc" : "nchw", algo_name(desc->algo),
             bias ? "" : " no-bias", ldm_kernels_threads());
    ldm_conv2d_plan *plan = NULL;
    ldm_error_clear();
    ldm_status st = ldm_conv2d_plan_create(desc, w, bias, &plan);
    if (desc->algo == LDM_CONV_WINOGRAD && st == LDM_ERUNTIME) {
        /* only 3x3 stride 1 has Winograd (and only on AVX-512 CPUs) */
        CHECK_MSG(strstr(ldm_error_message(), "Winograd") != NULL, "%s: %s", label,
                  ldm_error_message());
        CHECK(plan == NULL);
        printf("  %-48s no Winograd for this shape\n", label);
        ldm_error_clear();
        return;
    }
    CHECK_MSG(st == LDM_OK, "%s: plan: %s", label, ldm_error_message());
    if (st != LDM_OK)
        return;
    int64_t n = desc->n, cin = desc->c_in, cout = desc->c_out;
    int64_t in_count = n * cin * desc->h * desc->w, out_count = n * cout * oh * ow;
    float *in = malloc((size_t)in_count * sizeof(float));
    float *out = golden_nan_buffer(out_count);
    float *back = golden_nan_buffer(out_count);
    void *scratch = NULL;
    CHECK(ldm_alloc(ldm_conv2d_scratch_bytes(plan), "scratch", &scratch) == LDM_OK);
    ldm_layout_convert(in, desc->layout, x, LDM_LAYOUT_NCHW, n, cin, desc->h, desc->w);
    for (int rep = 0; rep < 2; rep++)   /* a plan is reusable */
        CHECK_MSG(ldm_conv2d_run(plan, out, in, scratch) == LDM_OK, "%s: run: %s", label,
                  ldm_error_message());
    ldm_layout_convert(back, LDM_LAYOUT_NCHW, out, desc->layout, n, cout, oh, ow);
    golden_compare(label, back, ref, out_count, GOLDEN_TOL);
    CHECK(ldm_conv2d_plan_algo(plan) != LDM_CONV_AUTO);
    if (desc->algo != LDM_CONV_AUTO)
        CHECK(ldm_conv2d_plan_algo(plan) == desc->algo);
    printf("  %-48s impl %s\n", "", ldm_conv2d_plan_impl(plan));
    ldm_free(scratch);
    free(in);
    free(out);
    free(back);
    ldm_conv2d_plan_destroy(&plan);
    CHECK(plan == NULL);
}

static void test_case(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    ldm_conv2d_desc d = {
        .n = golden_int(line, "n"), .c_in = golden_int(line, "cin"), .h = golden_int(line, "h"),
        .w = golden_int(line, "w"), .c_out = golden_int(line, "cout"),
        .kh = golden_int(line, "k"), .kw = golden_int(line, "k"),
        .stride_h = golden_int(line, "stride"), .stride_w = golden_int(line, "stride"),
        .pad_top = golden_int(line, "pt"), .pad_bottom = golden_int(line, "pb"),
        .pad_left = golden_int(line, "pl"), .pad_right = golden_int(line, "pr"),
    };
    int64_t oh = 0, ow = 0;
    CHECK(ldm_conv2d_out_size(&d, &oh, &ow) == LDM_OK);
    CHECK(oh == golden_int(line, "oh") && ow == golden_int(line, "ow"));
    int64_t out_count = d.n * d.c_out * oh * ow;
    float *x = golden_load(name, "x", d.n * d.c_in * d.h * d.w);
    float *w = golden_load(name, "weight", d.c_out * d.c_in * d.kh * d.kw);
    float *b = golden_load(name, "bias", d.c_out);
    float *y = golden_load(name, "y", out_count);
    if (x && w && b && y) {
        const ldm_conv_algo algos[] = {LDM_CONV_DIRECT, LDM_CONV_WINOGRAD, LDM_CONV_AUTO};
        for (int l = 0; l < 2; l++)
            for (int a = 0; a < 3; a++) {
                d.layout = l ? LDM_LAYOUT_NHWC : LDM_LAYOUT_NCHW;
                d.algo = algos[a];
                run_plan(name, &d, x, w, b, y, oh, ow);
            }
        /* without bias: torch's y minus its bias */
        float *nob = malloc((size_t)out_count * sizeof(float));
        for (int64_t i = 0; i < out_count; i++)
            nob[i] = y[i] - b[(i / (oh * ow)) % d.c_out];
        d.layout = LDM_LAYOUT_NHWC;
        d.algo = LDM_CONV_AUTO;
        run_plan(name, &d, x, w, NULL, nob, oh, ow);
        free(nob);
    }
    free(x);
    free(w);
    free(b);
    free(y);
}

static void test_bad_input(void)
{
    float w[9 * 4] = {0};
    ldm_conv2d_plan *plan = (ldm_conv2d_plan *)&plan;   /* must be reset to NULL */
    ldm_conv2d_desc d = {.n = 1, .c_in = 2, .h = 4, .w = 4, .c_out = 2, .kh = 3, .kw = 3,
                         .stride_h = 1, .stride_w = 1};
    ldm_conv2d_desc bad = d;
    bad.c_in = 0;
    CHECK_FAILS_WITH(ldm_conv2d_plan_create(&bad, w, NULL, &plan), LDM_EINPUT, "c_in = 0");
    CHECK(plan == NULL);
    bad = d;
    bad.pad_left = -1;
    CHECK_FAILS_WITH(ldm_conv2d_plan_create(&bad, w, NULL, &plan), LDM_EINPUT, "pad_left");
    bad = d;
    bad.stride_w = 0;
    CHECK_FAILS_WITH(ldm_conv2d_plan_create(&bad, w, NULL, &plan), LDM_EINPUT, "stride_w");
    bad = d;
    bad.h = 2;
    CHECK_FAILS_WITH(ldm_conv2d_plan_create(&bad, w, NULL, &plan), LDM_EINPUT,
                     "larger than padded input");
    bad = d;
    bad.layout = (ldm_layout)7;
    CHECK_FAILS_WITH(ldm_conv2d_plan_create(&bad, w, NULL, &plan), LDM_EINPUT, "layout");
    CHECK_FAILS_WITH(ldm_conv2d_plan_create(&d, NULL, NULL, &plan), LDM_EINPUT, "weight");
    bad = d;
    bad.stride_h = bad.stride_w = 2;
    bad.algo = LDM_CONV_WINOGRAD;
    CHECK_FAILS_WITH(ldm_conv2d_plan_create(&bad, w, NULL, &plan), LDM_ERUNTIME, "Winograd");
    CHECK(plan == NULL);
    /* allocation failure inside plan creation is reported, not a crash */
    ldm_alloc_fail_after(1);
    CHECK_FAILS_WITH(ldm_conv2d_plan_create(&d, w, NULL, &plan), LDM_ERUNTIME, "conv2d plan");
    ldm_alloc_fail_after(2);
    ldm_status st = ldm_conv2d_plan_create(&d, w, NULL, &plan);
    CHECK(st == LDM_ERUNTIME && plan == NULL);
    ldm_error_clear();
    ldm_alloc_fail_after(0);
    ldm_conv2d_plan_destroy(NULL);
    ldm_conv2d_plan_destroy(&plan);
}

int main(void)
{
    for (int t = 1; t <= 2; t++) {
        if (t > ldm_kernels_cores())
            break;
        CHECK(ldm_kernels_set_threads(t) == t);
        for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
            test_case(CASES[i]);
    }
    test_bad_input();
    return ldm_test_finish();
}
