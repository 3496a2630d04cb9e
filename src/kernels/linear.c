/* linear.c — linear plans on oneDNN matmul, and the SGEMM wrapper (see linear.h). */
#include "kernels/linear.h"
#include "core/timers.h"

#include <string.h>

#include "core/alloc.h"
#include "dnnl_util.h"

struct ldm_linear_plan {
    ldm_linear_desc desc;           /* ldx, ldy resolved (never 0) */
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t matmul;
    dnnl_memory_t x, y;             /* handles set per run */
    dnnl_memory_t weights, bias, scratchpad;
    float *weights_data;            /* owned: Wᵀ [k, n] in the primitive's format */
    float *bias_data;               /* owned: [n] or NULL */
    size_t pad_bytes;
};

static ldm_status check_desc(const ldm_linear_desc *d, ldm_linear_desc *out)
{
    const struct { const char *name; int64_t v, min; } f[] = {
        {"m", d->m, 1}, {"k", d->k, 1}, {"n", d->n, 1},
        {"ldx", d->ldx ? d->ldx : d->k, d->k}, {"ldy", d->ldy ? d->ldy : d->n, d->n},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < f[i].min)
            return ldm_error(LDM_EINPUT, "linear: %s = %lld (must be >= %lld)", f[i].name,
                             (long long)f[i].v, (long long)f[i].min);
    *out = *d;
    out->ldx = d->ldx ? d->ldx : d->k;
    out->ldy = d->ldy ? d->ldy : d->n;
    return LDM_OK;
}

static ldm_status make_matmul(ldm_linear_plan *p)
{
    ldm_status st = LDM_OK;
    const ldm_linear_desc *d = &p->desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_memory_desc_t x, w, b, y;
    dnnl_dims_t x_dims = {d->m, d->k}, x_strides = {d->ldx, 1};
    dnnl_dims_t w_dims = {d->k, d->n}, b_dims = {1, d->n};
    dnnl_dims_t y_dims = {d->m, d->n}, y_strides = {d->ldy, 1};
    dnnl_matmul_desc_t md;
    LDM_CHECK(ldm_dnnl_attr_create(&attr));
    LDM_DNNL("linear x", dnnl_memory_desc_init_by_strides(&x, 2, x_dims, dnnl_f32, x_strides));
    LDM_DNNL("linear w", dnnl_memory_desc_init_by_tag(&w, 2, w_dims, dnnl_f32, dnnl_format_tag_any));
    LDM_DNNL("linear b", dnnl_memory_desc_init_by_tag(&b, 2, b_dims, dnnl_f32, dnnl_ab));
    LDM_DNNL("linear y", dnnl_memory_desc_init_by_strides(&y, 2, y_dims, dnnl_f32, y_strides));
    LDM_DNNL("linear matmul_desc_init",
             dnnl_matmul_desc_init(&md, &x, &w, p->bias_data ? &b : NULL, &y));
    LDM_DNNL("linear primitive_desc_create", dnnl_primitive_desc_create(&p->pd, &md, attr,
                                                                        p->engine, NULL));
    LDM_DNNL("linear primitive_create", dnnl_primitive_create(&p->matmul, p->pd));
    LDM_DNNL("linear x", dnnl_memory_create(&p->x, &x, p->engine, DNNL_MEMORY_NONE));
    LDM_DNNL("linear y", dnnl_memory_create(&p->y, &y, p->engine, DNNL_MEMORY_NONE));
    if (p->bias_data)
        LDM_DNNL("linear bias", dnnl_memory_create(&p->bias, &b, p->engine, p->bias_data));
    const dnnl_memory_desc_t *pad = dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0);
    p->pad_bytes = pad ? ldm_align64(dnnl_memory_desc_get_size(pad)) : 0;
    if (p->pad_bytes)
        LDM_DNNL("linear scratchpad", dnnl_memory_create(&p->scratchpad, pad, p->engine,
                                                         DNNL_MEMORY_NONE));
cleanup:
    dnnl_primitive_attr_destroy(attr);
    return st;
}

/* Pack torch's W [n, k] (= Wᵀ [k, n] with strides {1, k}) into the matmul's
 * weight format, once. */
static ldm_status pack_weights(ldm_linear_plan *p, const float *weight)
{
    ldm_status st = LDM_OK;
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(p->pd, dnnl_query_weights_md, 0);
    dnnl_memory_desc_t user_md;
    dnnl_dims_t dims = {p->desc.k, p->desc.n};
    dnnl_memory_t user = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    LDM_CHECK(ldm_alloc(dnnl_memory_desc_get_size(wmd), "linear weights",
                        (void **)&p->weights_data));
    LDM_DNNL("linear weights", dnnl_memory_create(&p->weights, wmd, p->engine, p->weights_data));
    LDM_DNNL("linear weights", dnnl_memory_desc_init_by_tag(&user_md, 2, dims, dnnl_f32, dnnl_ba));
    LDM_DNNL("linear weights", dnnl_memory_create(&user, &user_md, p->engine, (void *)weight));
    LDM_DNNL("linear weight reorder", dnnl_reorder_primitive_desc_create(
                                          &rpd, &user_md, p->engine, wmd, p->engine, NULL));
    LDM_DNNL("linear weight reorder", dnnl_primitive_create(&reorder, rpd));
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, p->weights}};
    LDM_CHECK(ldm_dnnl_execute(reorder, p->stream, 2, args, "linear weight reorder"));
cleanup:
    dnnl_primitive_destroy(reorder);
    dnnl_primitive_desc_destroy(rpd);
    dnnl_memory_destroy(user);
    return st;
}

ldm_status ldm_linear_plan_create(const ldm_linear_desc *desc, const float *weight,
                                  const float *bias, ldm_linear_plan **out)
{
    ldm_status st = LDM_OK;
    ldm_linear_plan *p = NULL;
    ldm_linear_desc d;
    *out = NULL;
    LDM_CHECK(check_desc(desc, &d));
    if (!weight) {
        st = ldm_error(LDM_EINPUT, "linear: weight is NULL");
        goto cleanup;
    }
    LDM_CHECK(ldm_calloc(sizeof *p, "linear plan", (void **)&p));
    p->desc = d;
    if (bias) {
        LDM_CHECK(ldm_alloc((size_t)d.n * sizeof(float), "linear bias", (void **)&p->bias_data));
        memcpy(p->bias_data, bias, (size_t)d.n * sizeof(float));
    }
    LDM_CHECK(ldm_dnnl_engine_create(&p->engine, &p->stream));
    LDM_CHECK(make_matmul(p));
    LDM_CHECK(pack_weights(p, weight));
    *out = p;
    p = NULL;
cleanup:
    ldm_linear_plan_destroy(&p);
    return st;
}

size_t ldm_linear_scratch_bytes(const ldm_linear_plan *plan)
{
    return plan->pad_bytes;
}

static ldm_status linear_run_impl(ldm_linear_plan *p, float *y, const float *x, void *scratch)
{
    ldm_status st = LDM_OK;
    LDM_DNNL("linear set x", dnnl_memory_set_data_handle(p->x, (void *)x));
    LDM_DNNL("linear set y", dnnl_memory_set_data_handle(p->y, y));
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, p->x}, {DNNL_ARG_WEIGHTS, p->weights},
                               {DNNL_ARG_DST, p->y}};
    int nargs = 3;
    if (p->bias)
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, p->bias};
    if (p->scratchpad) {
        LDM_DNNL("linear set scratchpad", dnnl_memory_set_data_handle(p->scratchpad, scratch));
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratchpad};
    }
    LDM_CHECK(ldm_dnnl_execute(p->matmul, p->stream, nargs, args, "linear execute"));
cleanup:
    return st;
}

const char *ldm_linear_plan_impl(const ldm_linear_plan *plan)
{
    const char *name = NULL;
    if (dnnl_primitive_desc_query(plan->pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success)
        return "unknown";
    return name;
}

void ldm_linear_plan_destroy(ldm_linear_plan **plan)
{
    ldm_linear_plan *p = plan ? *plan : NULL;
    if (!p)
        return;
    dnnl_primitive_destroy(p->matmul);
    dnnl_primitive_desc_destroy(p->pd);
    dnnl_memory_destroy(p->x);
    dnnl_memory_destroy(p->y);
    dnnl_memory_destroy(p->weights);
    dnnl_memory_destroy(p->bias);
    dnnl_memory_destroy(p->scratchpad);
    if (p->stream)
        dnnl_stream_destroy(p->stream);
    if (p->engine)
        dnnl_engine_destroy(p->engine);
    ldm_free(p->weights_data);
    ldm_free(p->bias_data);
    ldm_free(p);
    *plan = NULL;
}

static ldm_status gemm_impl(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                            const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                            float *c, int64_t ldc)
{
    /* Row-major: A is stored with rows of length (trans_a ? m : k), etc. */
    int64_t a_cols = trans_a ? m : k, b_cols = trans_b ? k : n;
    if (m < 0 || n < 0 || k < 0)
        return ldm_error(LDM_EINPUT, "gemm: negative size m=%lld n=%lld k=%lld", (long long)m,
                         (long long)n, (long long)k);
    if (lda < (a_cols > 1 ? a_cols : 1) || ldb < (b_cols > 1 ? b_cols : 1) ||
        ldc < (n > 1 ? n : 1))
        return ldm_error(LDM_EINPUT, "gemm: leading dimension too small (lda=%lld ldb=%lld "
                         "ldc=%lld for m=%lld n=%lld k=%lld)", (long long)lda, (long long)ldb,
                         (long long)ldc, (long long)m, (long long)n, (long long)k);
    if (m == 0 || n == 0)
        return LDM_OK;
    return ldm_dnnl_status(dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha,
                                      a, lda, b, ldb, beta, c, ldc), "sgemm");
}

/* Public entry points: one timer entry per call (core/timers.h). */
ldm_status ldm_linear_run(ldm_linear_plan *p, float *y, const float *x, void *scratch)
{
    const double t0 = ldm_timer_now();
    ldm_status st = linear_run_impl(p, y, x, scratch);
    ldm_timer_add(LDM_T_LINEAR, ldm_timer_now() - t0, 0);
    return st;
}

ldm_status ldm_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                    float *c, int64_t ldc)
{
    const double t0 = ldm_timer_now();
    ldm_status st = gemm_impl(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    ldm_timer_add(LDM_T_LINEAR, ldm_timer_now() - t0, 0);
    return st;
}
