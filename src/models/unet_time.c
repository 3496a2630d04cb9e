/* unet_time.c — the UNet's time embedding: diffusers' Timesteps
 * (get_timestep_embedding, kernels/embedding.h) followed by
 * TimestepEmbedding (linear_1 → SiLU → linear_2). See unet_blocks.h. */
#include "models/unet_blocks.h"

#include <string.h>

#include "core/alloc.h"
#include "kernels/elementwise.h"
#include "kernels/embedding.h"

struct ldm_unet_time {
    ldm_unet_time_desc d;
    ldm_model_linear *linear_1;  /* [dim, channels] + bias */
    ldm_model_linear *linear_2;  /* [dim, dim] + bias */
};

static ldm_status check(const ldm_unet_time_desc *d)
{
    if (d->batch < 1 || d->channels < 2 || d->dim < 1)
        return ldm_error(LDM_EINPUT, "time embedding: batch %lld, channels %lld, dim %lld",
                         (long long)d->batch, (long long)d->channels, (long long)d->dim);
    if ((double)(d->channels / 2) - d->freq_shift == 0.0)
        return ldm_error(LDM_EINPUT, "time embedding: freq_shift %g equals half the channels "
                         "(diffusers would divide by zero)", d->freq_shift);
    return LDM_OK;
}

ldm_status ldm_unet_time_specs(const ldm_unet_time_desc *d, const char *prefix,
                               ldm_spec_list *list)
{
    ldm_status st = LDM_OK;
    char p[512];
    LDM_CHECK(check(d));
    const int64_t l1[2] = {d->dim, d->channels}, l2[2] = {d->dim, d->dim};
    LDM_CHECK(ldm_unet_name(p, sizeof p, prefix, "linear_1"));
    LDM_CHECK(ldm_spec_list_add(list, 2, l1, "%s.weight", p));
    LDM_CHECK(ldm_spec_list_add(list, 1, &d->dim, "%s.bias", p));
    LDM_CHECK(ldm_unet_name(p, sizeof p, prefix, "linear_2"));
    LDM_CHECK(ldm_spec_list_add(list, 2, l2, "%s.weight", p));
    LDM_CHECK(ldm_spec_list_add(list, 1, &d->dim, "%s.bias", p));
cleanup:
    return st;
}

ldm_status ldm_unet_time_create(const ldm_unet_time_desc *d, const ldm_weights *w,
                                const char *prefix, size_t *scratch_need, ldm_unet_time **out)
{
    ldm_status st = LDM_OK;
    ldm_unet_time *t = NULL;
    char name[512];
    *out = NULL;
    LDM_CHECK(check(d));
    LDM_CHECK(ldm_calloc(sizeof *t, "time embedding", (void **)&t));
    t->d = *d;
    ldm_linear_desc l = {.m = d->batch, .k = d->channels, .n = d->dim};
    LDM_CHECK(ldm_unet_name(name, sizeof name, prefix, "linear_1"));
    LDM_CHECK(ldm_unet_load_linear(d->parallel, w, name, 1, &l, scratch_need, &t->linear_1));
    l.k = d->dim;
    LDM_CHECK(ldm_unet_name(name, sizeof name, prefix, "linear_2"));
    LDM_CHECK(ldm_unet_load_linear(d->parallel, w, name, 1, &l, scratch_need, &t->linear_2));
    *out = t;
    t = NULL;
cleanup:
    ldm_unet_time_destroy(&t);
    return st;
}

ldm_status ldm_unet_time_forward(ldm_unet_time *t, ldm_unet_exec *ex, float *emb,
                                 const float *timesteps)
{
    ldm_status st = LDM_OK;
    const size_t mark = ldm_arena_mark(ex->arena);
    const int64_t n = t->d.batch;
    float *proj = NULL, *hid = NULL;
    LDM_CHECK(ldm_unet_push(ex, n * t->d.channels, "time proj", &proj));   /* [B, C0] */
    LDM_CHECK(ldm_unet_push(ex, n * t->d.dim, "time hidden", &hid));       /* [B, T] */
    if (!ldm_unet_measuring(ex))
        LDM_CHECK(ldm_timestep_embedding(proj, timesteps, n, t->d.channels,
                                         t->d.flip_sin_to_cos, t->d.freq_shift, 1.0, 10000.0));
    LDM_CHECK(ldm_unet_run_linear(ex, t->linear_1, hid, proj));
    if (!ldm_unet_measuring(ex))
        ldm_silu(hid, hid, n * t->d.dim);
    LDM_CHECK(ldm_unet_run_linear(ex, t->linear_2, emb, hid));
cleanup:
    ldm_arena_reset_to(ex->arena, mark);
    return st;
}

void ldm_unet_time_destroy(ldm_unet_time **tp)
{
    if (!tp || !*tp)
        return;
    ldm_model_linear_destroy(&(*tp)->linear_1);
    ldm_model_linear_destroy(&(*tp)->linear_2);
    ldm_free(*tp);
    *tp = NULL;
}
