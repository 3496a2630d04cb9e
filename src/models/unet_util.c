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

ldm_status ldm_unet_run_linear(ldm_unet_exec *ex, ldm_model_linear *layer, float *y,
                               const float *x)
{
    if (ldm_unet_measuring(ex))
        return LDM_OK;
    return ldm_model_linear_run(layer, y, x, ex->scratch);
}

ldm_status ldm_unet_run_conv(ldm_unet_exec *ex, ldm_model_conv *layer, float *out,
                             const float *in)
{
    if (ldm_unet_measuring(ex))
        return LDM_OK;
    return ldm_model_conv_run(layer, out, in, ex->scratch);
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

/* "<module>.weight" (and "<module>.bias") names into w[512] and b[512]. */
static ldm_status names(char *w, char *b, const char *module)
{
    ldm_status st = ldm_unet_name(w, 512, module, "weight");
    return st != LDM_OK ? st : ldm_unet_name(b, 512, module, "bias");
}

static ldm_status load_linear(const ldm_model_parallel *p, const ldm_weights *w,
                              const char *module, int has_bias, int ndim,
                              const ldm_linear_desc *desc, size_t *scratch_need,
                              ldm_model_linear **out)
{
    char wn[512], bn[512];
    const char *parts[1] = {wn};
    *out = NULL;
    ldm_status st = names(wn, bn, module);
    if (st == LDM_OK)
        st = ldm_model_linear_create(p, desc, w, parts, &desc->n, 1, ndim, has_bias ? bn : NULL,
                                     out);
    if (st == LDM_OK)
        grow(scratch_need, ldm_model_linear_scratch_bytes(*out));
    return st;
}

ldm_status ldm_unet_load_linear(const ldm_model_parallel *p, const ldm_weights *w,
                                const char *module, int has_bias, const ldm_linear_desc *desc,
                                size_t *scratch_need, ldm_model_linear **out)
{
    return load_linear(p, w, module, has_bias, 2, desc, scratch_need, out);
}

ldm_status ldm_unet_load_conv(const ldm_model_parallel *p, int64_t align, const ldm_weights *w,
                              const char *module, const ldm_conv2d_desc *desc,
                              size_t *scratch_need, ldm_model_conv **out)
{
    ldm_status st = ldm_model_conv_create(p, align, desc, w, module, 1, out);
    if (st == LDM_OK)
        grow(scratch_need, ldm_model_conv_scratch_bytes(*out));
    return st;
}

ldm_status ldm_unet_load_linear_1x1(const ldm_model_parallel *p, const ldm_weights *w,
                                    const char *module, const ldm_linear_desc *desc,
                                    size_t *scratch_need, ldm_model_linear **out)
{
    /* the weight [n, k, 1, 1] is read as the rows of a [n, k] matrix */
    return load_linear(p, w, module, 1, 4, desc, scratch_need, out);
}

ldm_status ldm_unet_load_linear_stacked(const ldm_model_parallel *p, const ldm_weights *w,
                                        const char *prefix, const char *const *names_,
                                        const int64_t *rows, int count,
                                        const ldm_linear_desc *desc, size_t *scratch_need,
                                        ldm_model_linear **out)
{
    enum { MAX_PARTS = 4 };
    char module[512], full[MAX_PARTS][512];
    const char *parts[MAX_PARTS];
    ldm_status st = LDM_OK;
    *out = NULL;
    if (count < 1 || count > MAX_PARTS)
        return ldm_error(LDM_ERUNTIME, "%s: %d stacked parts (1 to %d)", prefix, count,
                         MAX_PARTS);
    for (int i = 0; i < count; i++) {
        LDM_CHECK(ldm_unet_name(module, sizeof module, prefix, names_[i]));
        LDM_CHECK(ldm_unet_name(full[i], sizeof full[i], module, "weight"));
        parts[i] = full[i];
    }
    LDM_CHECK(ldm_model_linear_create(p, desc, w, parts, rows, count, 2, NULL, out));
    grow(scratch_need, ldm_model_linear_scratch_bytes(*out));
cleanup:
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
