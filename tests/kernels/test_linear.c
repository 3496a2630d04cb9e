/* test_linear.c — kernels/linear.h (plans and ldm_gemm) against torch's
 * F.linear goldens, dense and with strided rows; bad descriptions. */
#include "core/alloc.h"
#include "golden.h"
#include "kernels/linear.h"
#include "kernels/threads.h"

static const char *const CASES[] = {"linear_7x24x10", "linear_77x64x48", "linear_nobias_33x40x17"};

/* Plan with row strides ldx/ldy (0 = dense); x is copied into a wider
 * buffer and y read back from one, with guard values in the gaps. */
static void run_plan(const char *name, int64_t m, int64_t k, int64_t n, int64_t ldx, int64_t ldy,
                     const float *x, const float *w, const float *b, const float *y)
{
    char label[160];
    snprintf(label, sizeof label, "%s ldx=%lld ldy=%lld t%d", name, (long long)ldx,
             (long long)ldy, ldm_kernels_threads());
    ldm_linear_desc d = {.m = m, .k = k, .n = n, .ldx = ldx, .ldy = ldy};
    int64_t sx = ldx ? ldx : k, sy = ldy ? ldy : n;
    float *xs = golden_nan_buffer(m * sx);   /* NaN in the gaps must not be read */
    float *ys = malloc((size_t)(m * sy) * sizeof(float));
    float *got = malloc((size_t)(m * n) * sizeof(float));
    for (int64_t i = 0; i < m; i++)
        memcpy(xs + i * sx, x + i * k, (size_t)k * sizeof(float));
    for (int64_t i = 0; i < m * sy; i++)
        ys[i] = -12345.0f;
    ldm_linear_plan *plan = NULL;
    void *scratch = NULL;
    ldm_status st = ldm_linear_plan_create(&d, w, b, &plan);
    CHECK_MSG(st == LDM_OK, "%s: plan: %s", label, ldm_error_message());
    if (st == LDM_OK) {
        CHECK(ldm_alloc(ldm_linear_scratch_bytes(plan), "scratch", &scratch) == LDM_OK);
        for (int rep = 0; rep < 2; rep++)
            CHECK_MSG(ldm_linear_run(plan, ys, xs, scratch) == LDM_OK, "%s: run: %s", label,
                      ldm_error_message());
        for (int64_t i = 0; i < m; i++)
            memcpy(got + i * n, ys + i * sy, (size_t)n * sizeof(float));
        golden_compare(label, got, y, m * n, GOLDEN_TOL);
        int gaps_kept = 1;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = n; j < sy; j++)
                gaps_kept &= ys[i * sy + j] == -12345.0f;
        CHECK_MSG(gaps_kept, "%s: wrote between rows of y", label);
        printf("  %-48s impl %s\n", "", ldm_linear_plan_impl(plan));
    }
    ldm_free(scratch);
    ldm_linear_plan_destroy(&plan);
    CHECK(plan == NULL);
    free(xs);
    free(ys);
    free(got);
}

/* The same product through ldm_gemm: y = x · Wᵀ (+ b as the initial C). */
static void run_gemm(const char *name, int64_t m, int64_t k, int64_t n, const float *x,
                     const float *w, const float *b, const float *y)
{
    float *c = malloc((size_t)(m * n) * sizeof(float));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * n + j] = b ? b[j] : 0.0f;
    CHECK(ldm_gemm(0, 1, m, n, k, 1.0f, x, k, w, k, 1.0f, c, n) == LDM_OK);
    char label[160];
    snprintf(label, sizeof label, "%s gemm(N,T)", name);
    golden_compare(label, c, y, m * n, GOLDEN_TOL);
    /* and transposed operands: (W xᵀ)ᵀ computed as gemm(T, N) on xᵀ */
    float *xt = malloc((size_t)(m * k) * sizeof(float));
    float *wt = malloc((size_t)(n * k) * sizeof(float));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < k; j++)
            xt[j * m + i] = x[i * k + j];
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++)
            wt[j * n + i] = w[i * k + j];
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * n + j] = b ? b[j] : 0.0f;
    CHECK(ldm_gemm(1, 0, m, n, k, 1.0f, xt, m, wt, n, 1.0f, c, n) == LDM_OK);
    snprintf(label, sizeof label, "%s gemm(T,N)", name);
    golden_compare(label, c, y, m * n, GOLDEN_TOL);
    free(xt);
    free(wt);
    free(c);
}

static void test_case(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    int64_t m = golden_int(line, "m"), k = golden_int(line, "k"), n = golden_int(line, "n");
    int has_bias = (int)golden_int(line, "bias");
    float *x = golden_load(name, "x", m * k);
    float *w = golden_load(name, "weight", n * k);
    float *b = has_bias ? golden_load(name, "bias", n) : NULL;
    float *y = golden_load(name, "y", m * n);
    if (x && w && y && (b || !has_bias)) {
        run_plan(name, m, k, n, 0, 0, x, w, b, y);
        run_plan(name, m, k, n, k + 5, 3 * n, x, w, b, y);
        run_gemm(name, m, k, n, x, w, b, y);
    }
    free(x);
    free(w);
    free(b);
    free(y);
}

static void test_bad_input(void)
{
    float w[16] = {0}, c[4] = {0};
    ldm_linear_plan *plan = NULL;
    ldm_linear_desc d = {.m = 2, .k = 4, .n = 4};
    ldm_linear_desc bad = d;
    bad.m = 0;
    CHECK_FAILS_WITH(ldm_linear_plan_create(&bad, w, NULL, &plan), LDM_EINPUT, "m = 0");
    bad = d;
    bad.ldx = 3;
    CHECK_FAILS_WITH(ldm_linear_plan_create(&bad, w, NULL, &plan), LDM_EINPUT, "ldx = 3");
    bad = d;
    bad.ldy = 2;
    CHECK_FAILS_WITH(ldm_linear_plan_create(&bad, w, NULL, &plan), LDM_EINPUT, "ldy = 2");
    CHECK_FAILS_WITH(ldm_linear_plan_create(&d, NULL, NULL, &plan), LDM_EINPUT, "weight");
    CHECK(plan == NULL);
    ldm_alloc_fail_after(1);
    CHECK_FAILS_WITH(ldm_linear_plan_create(&d, w, NULL, &plan), LDM_ERUNTIME, "linear plan");
    ldm_alloc_fail_after(2);
    CHECK_FAILS_WITH(ldm_linear_plan_create(&d, w, NULL, &plan), LDM_ERUNTIME, "linear weights");
    ldm_alloc_fail_after(0);
    CHECK(plan == NULL);
    CHECK_FAILS_WITH(ldm_gemm(0, 0, -1, 2, 2, 1.0f, w, 2, w, 2, 0.0f, c, 2), LDM_EINPUT,
                     "negative size");
    CHECK_FAILS_WITH(ldm_gemm(0, 0, 2, 2, 4, 1.0f, w, 3, w, 2, 0.0f, c, 2), LDM_EINPUT,
                     "leading dimension");
    CHECK(ldm_gemm(0, 0, 0, 2, 2, 1.0f, w, 2, w, 2, 0.0f, c, 2) == LDM_OK);
    ldm_linear_plan_destroy(NULL);
}

int main(void)
{
    for (int t = 1; t <= 2 && t <= ldm_kernels_cores(); t++) {
        ldm_kernels_set_threads(t);
        for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
            test_case(CASES[i]);
    }
    test_bad_input();
    return ldm_test_finish();
}
