/* unet_util.c — execution wrappers, weight-spec lists and plan loading for
 * the UNet modules (see unet_util.h). */
#include "models/unet_util.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

ldm_status ldm_unet_push(ldm_unet_exec *ex, int64_t count, const char *what, float **out)
{
    return ldm_arena_push_f32(ex->arena, count, what, out);
}

ldm_status ldm_unet_run_linear(ldm_unet_exec *ex, ldm_linear_plan *plan, float *y,
                               const float *x)
{
    if (ldm_unet_measuring(ex))
        return LDM_OK;
    return ldm_linear_run(plan, y, x, ex->scratch);
}

ldm_status ldm_unet_run_conv(ldm_unet_exec *ex, ldm_conv2d_plan *plan, float *out,
                             const float *in)
{
    if (ldm_unet_measuring(ex))
        return LDM_OK;
    return ldm_conv2d_run(plan, out, in, ex->scratch);
}

ldm_status ldm_unet_run_attention(ldm_unet_exec *ex, const ldm_attention_desc *d, float *out,
                                  const float *q, const float *k, const float *v)
{
    if (ldm_unet_measuring(ex))
        return LDM_OK;
    return ldm_attention(d, out, q, k, v, ex->scratch, ex->scratch_bytes);
}

ldm_status ldm_unet_name(char *buf, size_t cap, const char *prefix, const char *name)
{
    const char *p = prefix ? prefix : "";
    int n = snprintf(buf, cap, "%s%s%s", p, *p ? "." : "", name);
    if (n < 0 || (size_t)n >= cap)
        return ldm_error(LDM_EINPUT, "tensor name too long: %s.%s", p, name);
    return LDM_OK;
}

static void grow(size_t *need, size_t bytes)
{
    if (need && bytes > *need)
        *need = bytes;
}

ldm_status ldm_unet_load_linear(const ldm_weights *w, const char *module, int has_bias,
                                const ldm_linear_desc *desc, size_t *scratch_need,
                                ldm_linear_plan **out)
{
    ldm_status st = ldm_model_linear_plan(w, module, desc, has_bias, out);
    if (st == LDM_OK)
        grow(scratch_need, ldm_linear_scratch_bytes(*out));
    return st;
}

ldm_status ldm_unet_load_conv(const ldm_weights *w, const char *module,
                              const ldm_conv2d_desc *desc, size_t *scratch_need,
                              ldm_conv2d_plan **out)
{
    ldm_status st = ldm_model_conv_plan(w, module, desc, 1, out);
    if (st == LDM_OK)
        grow(scratch_need, ldm_conv2d_scratch_bytes(*out));
    return st;
}

ldm_status ldm_unet_load_linear_1x1(const ldm_weights *w, const char *module,
                                    const ldm_linear_desc *desc, size_t *scratch_need,
                                    ldm_linear_plan **out)
{
    ldm_status st = LDM_OK;
    char name[512];
    float *weight = NULL, *bias = NULL;
    const int64_t shape[4] = {desc->n, desc->k, 1, 1};
    *out = NULL;
    LDM_CHECK(ldm_unet_name(name, sizeof name, module, "weight"));
    LDM_CHECK(ldm_model_read(w, name, 4, shape, &weight));
    LDM_CHECK(ldm_unet_name(name, sizeof name, module, "bias"));
    LDM_CHECK(ldm_model_read(w, name, 1, shape, &bias));
    st = ldm_linear_plan_create(desc, weight, bias, out);
    if (st != LDM_OK) {
        ldm_error_context("%s: ", module);
        goto cleanup;
    }
    grow(scratch_need, ldm_linear_scratch_bytes(*out));
cleanup:
    ldm_free(weight);
    ldm_free(bias);
    return st;
}

ldm_status ldm_unet_load_linear_stacked(const ldm_weights *w, const char *prefix,
                                        const char *const *names, const int64_t *rows,
                                        int count, const ldm_linear_desc *desc,
                                        size_t *scratch_need, ldm_linear_plan **out)
{
    ldm_status st = LDM_OK;
    char module[512], name[512];
    float *weight = NULL, *part = NULL;
    *out = NULL;
    LDM_CHECK(ldm_alloc((size_t)(desc->n * desc->k) * sizeof(float), "stacked weight",
                        (void **)&weight));
    int64_t row = 0;
    for (int i = 0; i < count; i++) {
        const int64_t shape[2] = {rows[i], desc->k};
        LDM_CHECK(ldm_unet_name(module, sizeof module, prefix, names[i]));
        LDM_CHECK(ldm_unet_name(name, sizeof name, module, "weight"));
        LDM_CHECK(ldm_model_read(w, name, 2, shape, &part));
        if (row + rows[i] > desc->n) {
            st = ldm_error(LDM_ERUNTIME, "%s: stacked rows exceed n = %lld", name,
                           (long long)desc->n);
            goto cleanup;
        }
        memcpy(weight + row * desc->k, part, (size_t)(rows[i] * desc->k) * sizeof(float));
        ldm_free(part);
        part = NULL;
        row += rows[i];
    }
    if (row != desc->n) {
        st = ldm_error(LDM_ERUNTIME, "%s: stacked rows %lld != n %lld", prefix,
                       (long long)row, (long long)desc->n);
        goto cleanup;
    }
    LDM_CHECK(ldm_linear_plan_create(desc, weight, NULL, out));
    grow(scratch_need, ldm_linear_scratch_bytes(*out));
cleanup:
    ldm_free(part);
    ldm_free(weight);
    return st;
}

ldm_status ldm_unet_load_vector(const ldm_weights *w, const char *prefix, const char *name,
                                int64_t n, float **out)
{
    char full[512];
    ldm_status st = ldm_unet_name(full, sizeof full, prefix, name);
    if (st != LDM_OK)
        return st;
    return ldm_model_read(w, full, 1, &n, out);
}
