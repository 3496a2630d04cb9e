/* vae_attention.c — UNetMidBlock2D of the VAE: resnet, self-attention, resnet.
 *
 * The attention is diffusers' Attention built with _from_deprecated_attn_block
 * (AttnProcessor2_0 on a 4-D input): x [n, c, h, w] is viewed as tokens
 * [n, h·w, c] — which is NHWC as it stands — then
 *   out = (to_out.0(sdpa(to_q(gn), to_k(gn), to_v(gn))) + x) / rescale_output_factor
 * with gn = GroupNorm(groups, c, eps 1e-6)(x), heads = c / attention_head_dim
 * = 1 (the VAE passes attention_head_dim = c) and rescale_output_factor 1.
 * to_q/to_k/to_v are fused into one [3c, c] projection (one GEMM).
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "kernels/threads.h"
#include "mpi/gather.h"
#include "mpi/util.h"
#include "models/vae_internal.h"

enum { NAME_LEN = 512 };

struct ldm_vae_attn {
    char *prefix;                 /* owned */
    int64_t n, l, c, groups;      /* tokens l = h·w of this rank's rows */
    int64_t l_all;                /* tokens of every strip (the keys) */
    const ldm_model_parallel *par; /* borrowed, or NULL */
    ldm_row_gather *gather;       /* spatial split: q/k/v of every strip, or NULL */
    float *gn_g, *gn_b;           /* group_norm [c] */
    ldm_linear_plan *qkv;         /* [3c, c]: to_q ‖ to_k ‖ to_v */
    ldm_linear_plan *proj;        /* to_out.0 [c, c] */
    ldm_attention_desc ad;
    size_t scratch_bytes;         /* max of the linear and attention scratch */
    size_t arena_bytes;
};

/* diffusers' names and the deprecated ones _convert_deprecated_attention_blocks maps. */
static const char *const NEW_NAMES[4] = {"to_q", "to_k", "to_v", "to_out.0"};
static const char *const OLD_NAMES[4] = {"query", "key", "value", "proj_attn"};

/* The name of tensor `which` (0..3) / `suffix` the weights use: the old
 * name when the file has it (diffusers renames it on load), else the new. */
static void attn_name(char *out, const char *prefix, int which, const char *suffix,
                      const ldm_weights *w)
{
    snprintf(out, NAME_LEN, "%s.%s.%s", prefix, OLD_NAMES[which], suffix);
    if (w && ldm_weights_find(w, out, NULL))
        return;
    snprintf(out, NAME_LEN, "%s.%s.%s", prefix, NEW_NAMES[which], suffix);
}

ldm_status ldm_vae_attn_specs(const char *prefix, int64_t c, const ldm_weights *w,
                              ldm_spec_list *list)
{
    ldm_status st = LDM_OK;
    char name[NAME_LEN];
    int64_t mat[2] = {c, c};
    LDM_CHECK(ldm_spec_list_add(list, 1, &c, "%s.group_norm.weight", prefix));
    LDM_CHECK(ldm_spec_list_add(list, 1, &c, "%s.group_norm.bias", prefix));
    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < 2; b++) {
            const char *suffix = b ? "bias" : "weight";
            attn_name(name, prefix, i, suffix, w);
            LDM_CHECK(ldm_spec_list_add(list, b ? 1 : 2, mat, "%s", name));
            /* both names present: diffusers keeps the old one's values */
            char newname[NAME_LEN];
            snprintf(newname, sizeof newname, "%s.%s.%s", prefix, NEW_NAMES[i], suffix);
            if (strcmp(name, newname) != 0 && w && ldm_weights_find(w, newname, NULL))
                LDM_CHECK(ldm_spec_list_add(list, -1, NULL, "%s", newname));
        }
    }
cleanup:
    return st;
}

/* to_q, to_k, to_v stacked into w [3c, c] and b [3c]. */
static ldm_status read_qkv(const char *prefix, int64_t c, const ldm_weights *wts, float *w,
                           float *b)
{
    ldm_status st = LDM_OK;
    char name[NAME_LEN];
    int64_t mat[2] = {c, c};
    for (int i = 0; i < 3; i++) {
        attn_name(name, prefix, i, "weight", wts);
        LDM_CHECK(ldm_weights_read_f32(wts, name, mat, 2, w + i * c * c));
        attn_name(name, prefix, i, "bias", wts);
        LDM_CHECK(ldm_weights_read_f32(wts, name, &c, 1, b + i * c));
    }
cleanup:
    return st;
}

/* Temporaries of the forward, in push order. */
static ldm_status attn_push(const ldm_vae_attn *a, ldm_arena *arena, float **gn, float **qkv,
                            float **all, void **scratch)
{
    ldm_status st = LDM_OK;
    *all = NULL;
    LDM_CHECK(ldm_arena_push_f32(arena, a->n * a->l * a->c, "VAE attention norm", gn));
    LDM_CHECK(ldm_arena_push_f32(arena, a->n * a->l * 3 * a->c, "VAE attention qkv", qkv));
    if (a->gather)
        LDM_CHECK(ldm_arena_push_f32(arena, a->n * a->l_all * 3 * a->c, "VAE attention q/k/v",
                                     all));
    LDM_CHECK(ldm_arena_push(arena, a->scratch_bytes, "VAE attention scratch", scratch));
cleanup:
    return st;
}

/* Spatial split: the plan gathering every strip's q/k/v rows [n, l, 3c]. */
static ldm_status make_gather(ldm_vae_attn *a, int64_t h, int64_t w, int64_t align)
{
    ldm_status st = LDM_OK;
    int size = ldm_model_parallel_spatial_size(a->par);
    int64_t *starts = NULL;
    if (size <= 1)
        return LDM_OK;
    LDM_CHECK(ldm_alloc(sizeof *starts * (size_t)(size + 1), "strip starts", (void **)&starts));
    ldm_mpi_partition_starts(h, size, align > 0 ? align : 1, w, starts);
    LDM_CHECK(ldm_row_gather_create(a->par->spatial, starts, a->n, 3 * a->c, &a->gather));
cleanup:
    ldm_free(starts);
    return st;
}

ldm_status ldm_vae_attn_create(const char *prefix, int64_t c, int64_t groups, int64_t n, int64_t h,
                               int64_t w, const ldm_model_parallel *par, int64_t align,
                               const ldm_weights *wts, ldm_vae_attn **out)
{
    ldm_status st = LDM_OK;
    ldm_vae_attn *a = NULL;
    float *wqkv = NULL, *bqkv = NULL;
    char name[NAME_LEN];
    *out = NULL;
    LDM_CHECK(ldm_calloc(sizeof *a, "VAE attention", (void **)&a));
    LDM_CHECK(ldm_strdup(prefix, &a->prefix));
    a->n = n;
    a->par = par;
    int64_t r0, r1;
    ldm_model_parallel_rows(par, h, align, &r0, &r1);
    a->l = (r1 - r0) * w;
    a->l_all = h * w;
    a->c = c;
    LDM_CHECK(make_gather(a, h, w, align));
    a->groups = groups;
    snprintf(name, sizeof name, "%s.group_norm", prefix);
    LDM_CHECK(ldm_vae_norm(name, c, NULL, wts, &a->gn_g, &a->gn_b));
    LDM_CHECK(ldm_alloc((size_t)(3 * c * c) * sizeof(float), "to_q/to_k/to_v", (void **)&wqkv));
    LDM_CHECK(ldm_alloc((size_t)(3 * c) * sizeof(float), "to_q/to_k/to_v bias", (void **)&bqkv));
    LDM_CHECK(read_qkv(prefix, c, wts, wqkv, bqkv));
    ldm_linear_desc ld = {.m = n * a->l, .k = c, .n = 3 * c};
    LDM_CHECK(ldm_linear_plan_create(&ld, wqkv, bqkv, &a->qkv));
    /* to_out.0 reuses the buffers: [c, c] and [c] */
    attn_name(name, prefix, 3, "weight", wts);
    LDM_CHECK(ldm_weights_read_f32(wts, name, (int64_t[]){c, c}, 2, wqkv));
    attn_name(name, prefix, 3, "bias", wts);
    LDM_CHECK(ldm_weights_read_f32(wts, name, &c, 1, bqkv));
    ld.n = c;
    LDM_CHECK(ldm_linear_plan_create(&ld, wqkv, bqkv, &a->proj));
    a->ad = (ldm_attention_desc){.batch = n, .heads = 1, .lq = a->l, .lk = a->l_all, .head_dim = c,
                                 .ldq = 3 * c, .ldk = 3 * c, .ldv = 3 * c, .ldo = c};
    size_t attn_bytes = ldm_attention_scratch_bytes(&a->ad, ldm_kernels_threads());
    if (attn_bytes == 0) {
        st = ldm_error(LDM_ERUNTIME, "%s: bad attention description", prefix);
        goto cleanup;
    }
    a->scratch_bytes = attn_bytes;
    if (ldm_linear_scratch_bytes(a->qkv) > a->scratch_bytes)
        a->scratch_bytes = ldm_linear_scratch_bytes(a->qkv);
    if (ldm_linear_scratch_bytes(a->proj) > a->scratch_bytes)
        a->scratch_bytes = ldm_linear_scratch_bytes(a->proj);
    ldm_arena measure;
    ldm_arena_init_measure(&measure);
    float *f1, *f2, *f3;
    void *s;
    LDM_CHECK(attn_push(a, &measure, &f1, &f2, &f3, &s));
    a->arena_bytes = measure.peak;
    *out = a;
    a = NULL;
cleanup:
    ldm_free(wqkv);
    ldm_free(bqkv);
    ldm_vae_attn_destroy(&a);
    return st;
}

size_t ldm_vae_attn_arena_bytes(const ldm_vae_attn *a)
{
    return a->arena_bytes;
}

ldm_status ldm_vae_attn_forward(ldm_vae_attn *a, float *out, const float *in, ldm_arena *arena)
{
    ldm_status st = LDM_OK;
    size_t mark = ldm_arena_mark(arena);
    float *gn = NULL, *qkv = NULL, *all = NULL; /* [n, l, c], [n, l, 3c], [n, l_all, 3c] */
    void *scratch = NULL;
    LDM_CHECK(attn_push(a, arena, &gn, &qkv, &all, &scratch));
    LDM_CHECK(ldm_model_group_norm(a->par, gn, in, a->gn_g, a->gn_b, a->n, a->c, a->l, a->groups,
                                   1e-6, 0));
    LDM_CHECK(ldm_linear_run(a->qkv, qkv, gn, scratch));
    /* every query attends to the keys of every strip (in the global order) */
    const float *kv = qkv;
    if (a->gather) {
        LDM_CHECK(ldm_row_gather_run(a->gather, qkv, all));
        kv = all;
    }
    /* the attention output [n, l, c] goes where gn was */
    LDM_CHECK(ldm_attention(&a->ad, gn, qkv, kv + a->c, kv + 2 * a->c, scratch,
                            a->scratch_bytes));
    LDM_CHECK(ldm_linear_run(a->proj, out, gn, scratch));
    ldm_add(out, out, in, a->n * a->l * a->c); /* residual; rescale_output_factor 1 */
cleanup:
    ldm_arena_reset_to(arena, mark);
    if (st != LDM_OK)
        ldm_error_context("%s: ", a->prefix);
    return st;
}

void ldm_vae_attn_destroy(ldm_vae_attn **pa)
{
    if (!pa || !*pa)
        return;
    ldm_vae_attn *a = *pa;
    ldm_linear_plan_destroy(&a->qkv);
    ldm_linear_plan_destroy(&a->proj);
    ldm_row_gather_destroy(&a->gather);
    ldm_free(a->gn_g);
    ldm_free(a->gn_b);
    ldm_free(a->prefix);
    ldm_free(a);
    *pa = NULL;
}

/* ---- UNetMidBlock2D ----------------------------------------------------- */

ldm_status ldm_vae_mid_walk(const char *prefix, const ldm_vae_config *cfg, int64_t n, int64_t h,
                            int64_t w, int64_t c, int64_t align, ldm_spec_list *list,
                            const ldm_weights *wts, ldm_vae_coder *coder)
{
    const ldm_model_parallel *par = coder ? coder->par : NULL;
    const int64_t rows = ldm_vae_rows(coder, h, align);
    ldm_status st = LDM_OK;
    char name[NAME_LEN];
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "%s.resnets.%d", prefix, i);
        ldm_resnet_desc d = {.prefix = name, .in_channels = c, .out_channels = c,
                             .groups = cfg->norm_num_groups, .eps = 1e-6,
                             .output_scale_factor = 1.0, .use_in_shortcut = -1, .batch = n,
                             .h = h, .w = w, .parallel = par, .align = align};
        if (list)
            LDM_CHECK(ldm_resnet_specs(&d, list));
        if (coder) {
            LDM_CHECK(ldm_resnet_create(&d, wts, &coder->mid_res[i]));
            ldm_vae_track(coder, n * rows * w * c, ldm_resnet_arena_bytes(coder->mid_res[i]));
        }
    }
    if (cfg->mid_block_add_attention) {
        snprintf(name, sizeof name, "%s.attentions.0", prefix);
        if (list)
            LDM_CHECK(ldm_vae_attn_specs(name, c, wts, list));
        if (coder) {
            LDM_CHECK(ldm_vae_attn_create(name, c, cfg->norm_num_groups, n, h, w, par, align, wts,
                                          &coder->mid_attn));
            ldm_vae_track(coder, n * rows * w * c, ldm_vae_attn_arena_bytes(coder->mid_attn));
        }
    }
    if (coder) {
        coder->mid_h = h;
        coder->mid_w = w;
        coder->mid_c = c;
    }
cleanup:
    return st;
}

static void swap(float **a, float **b)
{
    float *t = *a;
    *a = *b;
    *b = t;
}

ldm_status ldm_vae_mid_forward(ldm_vae_coder *coder, float **cur, float **oth, ldm_arena *arena)
{
    ldm_status st = LDM_OK;
    LDM_CHECK(ldm_resnet_forward(coder->mid_res[0], *oth, *cur, NULL, arena));
    swap(cur, oth);
    if (coder->mid_attn) {
        LDM_CHECK(ldm_vae_attn_forward(coder->mid_attn, *oth, *cur, arena));
        swap(cur, oth);
    }
    LDM_CHECK(ldm_resnet_forward(coder->mid_res[1], *oth, *cur, NULL, arena));
    swap(cur, oth);
cleanup:
    return st;
}
