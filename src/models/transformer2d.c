/* transformer2d.c — Transformer2DModel (continuous input) in NHWC; see
 * transformer2d.h for the computation. */
#include "models/transformer2d.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/elementwise.h"
#include "kernels/norm.h"
#include "kernels/threads.h"
#include "mpi/gather.h"
#include "mpi/util.h"
#include "models/ring_attention.h"

/* One BasicTransformerBlock. */
typedef struct tblock {
    float *norm_w[3], *norm_b[3];  /* norm1..3: [inner] each */
    ldm_model_linear *qkv;         /* attn1 to_q;to_k;to_v fused: [M, inner] → [M, 3·inner_r]
                                      (inner_r = inner unless split by heads) */
    ldm_model_linear *out1;         /* attn1.to_out.0: inner → inner, bias */
    ldm_model_linear *q2;          /* attn2.to_q: inner → inner_r */
    ldm_model_linear *kv2;         /* attn2 to_k;to_v fused: [B·L, cross] → [B·L, 2·inner_r] */
    float *kv;                     /* owned: [B·L, 2·inner_r] keys ‖ values of the context */
    ldm_model_linear *out2;         /* attn2.to_out.0 */
    ldm_model_linear *ff_in;        /* ff.net.0.proj: inner → 2·ff_r (hidden ‖ gate), bias */
    ldm_model_linear *ff_out;       /* ff.net.2: ff_r → inner, bias (input split: allreduce) */
} tblock;

struct ldm_transformer2d {
    ldm_transformer2d_desc d;
    int64_t inner, tokens, rows;   /* heads·head_dim, this rank's H·W, B·H·W */
    int64_t all_tokens;            /* H·W of every strip: the self-attention keys */
    ldm_row_gather *gather;        /* spatial split, LDM_ATTENTION=gather (default): k ‖ v
                                      of every strip, or NULL */
    ldm_ring_attention *ring;      /* spatial split, LDM_ATTENTION=ring: K/V blocks passed
                                      around the strips (models/ring_attention.h), or NULL */
    int64_t h0, nh, inner_r;       /* this rank's heads [h0, h0 + nh), nh·head_dim */
    int by_heads;                  /* channel split by heads: q/k/v of this rank's heads,
                                      to_out split by input (partial sums, allreduce) */
    int64_t ff0, ff_r;             /* this rank's GEGLU features [ff0, ff0 + ff_r) of 4·inner */
    float *gn_w, *gn_b;            /* norm: [C] */
    ldm_model_linear *proj_in;      /* C → inner, bias */
    ldm_model_linear *proj_out;     /* inner → C, bias */
    tblock *blocks;                /* num_layers */
    int has_context;               /* set_context has filled every block's kv */
};

static ldm_status check_desc(const ldm_transformer2d_desc *d)
{
    const struct { const char *name; int64_t v; } f[] = {
        {"batch", d->batch}, {"height", d->height}, {"width", d->width},
        {"in_channels", d->in_channels}, {"heads", d->heads}, {"head_dim", d->head_dim},
        {"num_layers", d->num_layers}, {"cross_dim", d->cross_dim},
        {"context_tokens", d->context_tokens}, {"groups", d->groups},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < 1)
            return ldm_error(LDM_EINPUT, "Transformer2DModel: %s = %lld (must be >= 1)",
                             f[i].name, (long long)f[i].v);
    if (d->in_channels % d->groups != 0)
        return ldm_error(LDM_EINPUT,
                         "Transformer2DModel: norm_num_groups %lld does not divide %lld channels",
                         (long long)d->groups, (long long)d->in_channels);
    if (d->use_linear_projection && d->heads * d->head_dim != d->in_channels)
        /* diffusers reshapes proj_out's [B, HW, C] output with inner_dim and fails */
        return ldm_error(LDM_EINPUT,
                         "Transformer2DModel: use_linear_projection needs heads·head_dim "
                         "(%lld) == in_channels (%lld)",
                         (long long)(d->heads * d->head_dim), (long long)d->in_channels);
    return LDM_OK;
}

/* "<prefix>.transformer_blocks.<i>" (or without the prefix) into buf[512]. */
static ldm_status block_prefix(char *buf, const char *prefix, int64_t i)
{
    char sub[64];
    snprintf(sub, sizeof sub, "transformer_blocks.%lld", (long long)i);
    return ldm_unet_name(buf, 512, prefix, sub);
}

static ldm_status add(ldm_spec_list *s, const char *prefix, const char *name, int ndim,
                      int64_t d0, int64_t d1)
{
    char full[512];
    const int64_t shape[4] = {d0, d1, 1, 1};
    ldm_status st = ldm_unet_name(full, sizeof full, prefix, name);
    if (st != LDM_OK)
        return st;
    return ldm_spec_list_add(s, ndim, shape, "%s", full);
}

ldm_status ldm_transformer2d_specs(const ldm_transformer2d_desc *d, const char *prefix,
                                   ldm_spec_list *s)
{
    ldm_status st = LDM_OK;
    LDM_CHECK(check_desc(d));
    const int64_t c = d->in_channels, inner = d->heads * d->head_dim, x = d->cross_dim;
    const int proj_dims = d->use_linear_projection ? 2 : 4;
    LDM_CHECK(add(s, prefix, "norm.weight", 1, c, 0));
    LDM_CHECK(add(s, prefix, "norm.bias", 1, c, 0));
    LDM_CHECK(add(s, prefix, "proj_in.weight", proj_dims, inner, c));
    LDM_CHECK(add(s, prefix, "proj_in.bias", 1, inner, 0));
    for (int64_t i = 0; i < d->num_layers; i++) {
        char p[512];
        LDM_CHECK(block_prefix(p, prefix, i));
        static const char *const norms[] = {"norm1.weight", "norm1.bias", "norm2.weight",
                                            "norm2.bias", "norm3.weight", "norm3.bias"};
        for (int k = 0; k < 6; k++)
            LDM_CHECK(add(s, p, norms[k], 1, inner, 0));
        LDM_CHECK(add(s, p, "attn1.to_q.weight", 2, inner, inner));
        LDM_CHECK(add(s, p, "attn1.to_k.weight", 2, inner, inner));
        LDM_CHECK(add(s, p, "attn1.to_v.weight", 2, inner, inner));
        LDM_CHECK(add(s, p, "attn1.to_out.0.weight", 2, inner, inner));
        LDM_CHECK(add(s, p, "attn1.to_out.0.bias", 1, inner, 0));
        LDM_CHECK(add(s, p, "attn2.to_q.weight", 2, inner, inner));
        LDM_CHECK(add(s, p, "attn2.to_k.weight", 2, inner, x));
        LDM_CHECK(add(s, p, "attn2.to_v.weight", 2, inner, x));
        LDM_CHECK(add(s, p, "attn2.to_out.0.weight", 2, inner, inner));
        LDM_CHECK(add(s, p, "attn2.to_out.0.bias", 1, inner, 0));
        LDM_CHECK(add(s, p, "ff.net.0.proj.weight", 2, 8 * inner, inner));
        LDM_CHECK(add(s, p, "ff.net.0.proj.bias", 1, 8 * inner, 0));
        LDM_CHECK(add(s, p, "ff.net.2.weight", 2, inner, 4 * inner));
        LDM_CHECK(add(s, p, "ff.net.2.bias", 1, inner, 0));
    }
    LDM_CHECK(add(s, prefix, "proj_out.weight", proj_dims, c, inner));
    LDM_CHECK(add(s, prefix, "proj_out.bias", 1, c, 0));
cleanup:
    return st;
}

static void grow_need(size_t *need, size_t bytes)
{
    if (need && bytes > *need)
        *need = bytes;
}

/* The layer after a channel-split one: its input features [k0, k0 + d->k)
 * of full_k (all of them, unsplit), weight "<p>.<module>.weight", bias
 * "<p>.<module>.bias"; partial sums reduced over `channel`. */
static ldm_status input_split(const ldm_transformer2d *t, const ldm_weights *w, const char *p,
                              const char *module, const ldm_linear_desc *d, int64_t full_k,
                              int64_t k0, size_t *need, ldm_model_linear **out)
{
    ldm_status st = LDM_OK;
    char name[512], wn[512], bn[512];
    LDM_CHECK(ldm_unet_name(name, sizeof name, p, module));
    LDM_CHECK(ldm_unet_name(wn, sizeof wn, name, "weight"));
    LDM_CHECK(ldm_unet_name(bn, sizeof bn, name, "bias"));
    if (d->k == full_k) /* input not split: the layer splits its output, if anything */
        LDM_CHECK(ldm_unet_load_linear(t->d.parallel, w, name, 1, d, need, out));
    else
        LDM_CHECK(ldm_model_linear_create_cols(t->d.parallel, d, w, wn, full_k, k0, bn, out));
    grow_need(need, ldm_model_linear_scratch_bytes(*out));
cleanup:
    return st;
}

/* Channel split by heads: a local linear of this rank's heads of the
 * weights "<p>.<names[i]>.weight" [inner, k] stacked (no bias, no
 * communication: the attention runs on those heads only). */
static ldm_status head_slices(const ldm_transformer2d *t, const ldm_weights *w, const char *p,
                              const char *const *names, int count, const ldm_linear_desc *d,
                              size_t *need, ldm_model_linear **out)
{
    ldm_status st = LDM_OK;
    char module[512], full[3][512];
    const char *parts[3];
    int64_t all[3], row0[3], nrows[3];
    for (int i = 0; i < count; i++) {
        LDM_CHECK(ldm_unet_name(module, sizeof module, p, names[i]));
        LDM_CHECK(ldm_unet_name(full[i], sizeof full[i], module, "weight"));
        parts[i] = full[i];
        all[i] = t->inner;
        row0[i] = t->h0 * t->d.head_dim;
        nrows[i] = t->inner_r;
    }
    LDM_CHECK(ldm_model_linear_create_slices(d, w, parts, NULL, all, row0, nrows, count, 2, out));
    if (need && ldm_model_linear_scratch_bytes(*out) > *need)
        *need = ldm_model_linear_scratch_bytes(*out);
cleanup:
    return st;
}

static ldm_status block_create(ldm_transformer2d *t, const ldm_weights *w, const char *p,
                               size_t *need, tblock *b)
{
    ldm_status st = LDM_OK;
    char name[512];
    const int64_t inner = t->inner, m = t->rows;
    const int64_t kv_rows = t->d.batch * t->d.context_tokens;
    static const char *const nw[] = {"norm1.weight", "norm2.weight", "norm3.weight"};
    static const char *const nb[] = {"norm1.bias", "norm2.bias", "norm3.bias"};
    for (int k = 0; k < 3; k++) {
        LDM_CHECK(ldm_unet_load_vector(w, p, nw[k], inner, &b->norm_w[k]));
        LDM_CHECK(ldm_unet_load_vector(w, p, nb[k], inner, &b->norm_b[k]));
    }
    static const char *const qkv[] = {"attn1.to_q", "attn1.to_k", "attn1.to_v"};
    static const char *const kv[] = {"attn2.to_k", "attn2.to_v"};
    static const char *const q[] = {"attn2.to_q"};
    const int64_t rows3[] = {inner, inner, inner}, ir = t->inner_r;
    ldm_linear_desc d = {.m = m, .k = inner, .n = 3 * ir};
    if (t->by_heads) {
        LDM_CHECK(head_slices(t, w, p, qkv, 3, &d, need, &b->qkv));
        d = (ldm_linear_desc){.m = m, .k = inner, .n = ir};
        LDM_CHECK(head_slices(t, w, p, q, 1, &d, need, &b->q2));
        d = (ldm_linear_desc){.m = kv_rows, .k = t->d.cross_dim, .n = 2 * ir};
        LDM_CHECK(head_slices(t, w, p, kv, 2, &d, need, &b->kv2));
    } else {
        LDM_CHECK(ldm_unet_load_linear_stacked(t->d.parallel, w, p, qkv, rows3, 3, &d, need,
                                               &b->qkv));
        d = (ldm_linear_desc){.m = m, .k = inner, .n = inner};
        LDM_CHECK(ldm_unet_name(name, sizeof name, p, "attn2.to_q"));
        LDM_CHECK(ldm_unet_load_linear(t->d.parallel, w, name, 0, &d, need, &b->q2));
        d = (ldm_linear_desc){.m = kv_rows, .k = t->d.cross_dim, .n = 2 * inner};
        LDM_CHECK(ldm_unet_load_linear_stacked(t->d.parallel, w, p, kv, rows3, 2, &d, need,
                                               &b->kv2));
    }
    d = (ldm_linear_desc){.m = m, .k = ir, .n = inner};
    LDM_CHECK(input_split(t, w, p, "attn1.to_out.0", &d, inner, t->h0 * t->d.head_dim, need,
                          &b->out1));
    LDM_CHECK(input_split(t, w, p, "attn2.to_out.0", &d, inner, t->h0 * t->d.head_dim, need,
                          &b->out2));
    LDM_CHECK(ldm_alloc((size_t)(kv_rows * 2 * ir) * sizeof(float), "cross-attention k/v",
                        (void **)&b->kv));
    /* GEGLU: this rank's hidden features and the same gate features, then
     * ff.net.2 by input features (one allreduce) */
    char wn[512], bn[512];
    LDM_CHECK(ldm_unet_name(name, sizeof name, p, "ff.net.0.proj"));
    LDM_CHECK(ldm_unet_name(wn, sizeof wn, name, "weight"));
    LDM_CHECK(ldm_unet_name(bn, sizeof bn, name, "bias"));
    const char *ffw[2] = {wn, wn}, *ffb[2] = {bn, bn};
    const int64_t ffall[2] = {8 * inner, 8 * inner}, ff0[2] = {t->ff0, 4 * inner + t->ff0};
    const int64_t ffn[2] = {t->ff_r, t->ff_r};
    d = (ldm_linear_desc){.m = m, .k = inner, .n = 2 * t->ff_r};
    if (t->ff_r == 4 * inner)
        LDM_CHECK(ldm_unet_load_linear(NULL, w, name, 1, &d, need, &b->ff_in));
    else
        LDM_CHECK(ldm_model_linear_create_slices(&d, w, ffw, ffb, ffall, ff0, ffn, 2, 2,
                                                 &b->ff_in));
    grow_need(need, ldm_model_linear_scratch_bytes(b->ff_in));
    d = (ldm_linear_desc){.m = m, .k = t->ff_r, .n = inner};
    LDM_CHECK(input_split(t, w, p, "ff.net.2", &d, 4 * inner, t->ff0, need, &b->ff_out));
cleanup:
    return st;
}

static void block_destroy(tblock *b)
{
    for (int k = 0; k < 3; k++) {
        ldm_free(b->norm_w[k]);
        ldm_free(b->norm_b[k]);
    }
    ldm_model_linear_destroy(&b->qkv);
    ldm_model_linear_destroy(&b->out1);
    ldm_model_linear_destroy(&b->q2);
    ldm_model_linear_destroy(&b->kv2);
    ldm_model_linear_destroy(&b->out2);
    ldm_model_linear_destroy(&b->ff_in);
    ldm_model_linear_destroy(&b->ff_out);
    ldm_free(b->kv);
}

/* Sized for every core, so a later, larger thread count still gets a tile
 * per thread (the kernel uses at most as many threads as it has room for). */
static size_t attention_scratch(const ldm_transformer2d *t, int64_t lk)
{
    ldm_attention_desc a = {.batch = t->d.batch, .heads = t->d.heads, .lq = t->tokens, .lk = lk,
                            .head_dim = t->d.head_dim};
    return ldm_attention_scratch_bytes(&a, ldm_kernels_cores());
}

/* Under a channel split: this rank's share of the GEGLU features and, with
 * at least one head per rank, its heads. */
static ldm_status split_heads(ldm_transformer2d *t)
{
    ldm_status st = LDM_OK;
    const ldm_model_parallel *p = t->d.parallel;
    int size = ldm_model_parallel_channel_size(p);
    int64_t *starts = NULL;
    t->h0 = 0;
    t->nh = t->d.heads;
    t->inner_r = t->inner;
    t->ff0 = 0;
    t->ff_r = 4 * t->inner;
    if (size <= 1)
        return LDM_OK;
    /* GEGLU's features: every rank a share of hidden and the same of gate */
    int64_t f0, f1;
    ldm_mpi_partition(4 * t->inner, size, ldm_model_parallel_channel_rank(p), 1, &f0, &f1);
    t->ff0 = f0;
    t->ff_r = f1 - f0;
    if (t->d.heads < size)
        return LDM_OK;
    LDM_CHECK(ldm_alloc(sizeof *starts * (size_t)(size + 1), "head starts", (void **)&starts));
    ldm_mpi_partition_starts(t->d.heads, size, 1, t->d.head_dim, starts);
    int r = ldm_model_parallel_channel_rank(p);
    t->h0 = starts[r] / t->d.head_dim;
    t->inner_r = starts[r + 1] - starts[r];
    t->nh = t->inner_r / t->d.head_dim;
    t->by_heads = 1;
cleanup:
    ldm_free(starts);
    return st;
}

/* LDM_ATTENTION selects how self-attention sees the keys of every strip
 * under a spatial split: "gather" (default, or unset/empty) or "ring"
 * (docs/parallelism.md §2.1). Read at model creation; collective on
 * `spatial` (one small allreduce): the strips must all choose the same, or
 * they would meet in different collectives, so every rank fails together
 * on a bad or differing value. *ring = 1 for "ring". */
static ldm_status attention_mode(MPI_Comm spatial, int *ring)
{
    const char *e = getenv("LDM_ATTENTION");
    int mode = 2; /* 0 gather, 1 ring, 2 unknown */
    if (!e || !*e || strcmp(e, "gather") == 0)
        mode = 0;
    else if (strcmp(e, "ring") == 0)
        mode = 1;
    int mine[2] = {mode, -mode}, all[2];
    *ring = mode == 1;
    ldm_status st = ldm_mpi_check(MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, spatial),
                                  "LDM_ATTENTION: MPI_Allreduce");
    if (st != LDM_OK)
        return st;
    if (mode == 2)
        return ldm_error(LDM_EINPUT, "environment variable LDM_ATTENTION = \"%s\" (expected "
                         "\"gather\" or \"ring\")", e);
    if (all[0] != -all[1])
        return ldm_error(LDM_EINPUT, "environment variable LDM_ATTENTION: the spatial ranks "
                         "disagree (this rank: \"%s\")", mode ? "ring" : "gather");
    return LDM_OK;
}

/* Under a spatial split with LDM_ATTENTION=ring: the ring over `spatial`
 * for this rank's queries [B, tokens, ·] of the fused q/k/v output (q at
 * columns [0, ir): ldq = 3·ir) with k ‖ v packed [B, tokens, 2·ir]. */
static ldm_status make_ring(ldm_transformer2d *t)
{
    const int64_t ir = t->inner_r;
    ldm_attention_desc a = {.batch = t->d.batch, .heads = t->nh, .lq = t->tokens,
                            .head_dim = t->d.head_dim, .ldq = 3 * ir, .ldo = ir};
    return ldm_ring_attention_create(t->d.parallel->spatial, &a, 2 * ir, &t->ring);
}

/* Under a spatial split: the plan that gathers the keys and values
 * [B, tokens, 2·inner_r] of every strip (packed side by side from the fused
 * q/k/v output) into [B, all_tokens, 2·inner_r], or the ring. */
static ldm_status make_gather(ldm_transformer2d *t)
{
    ldm_status st = LDM_OK;
    const ldm_model_parallel *p = t->d.parallel;
    int size = ldm_model_parallel_spatial_size(p);
    int64_t *starts = NULL;
    int ring;
    if (size <= 1)
        return LDM_OK;
    LDM_CHECK(attention_mode(p->spatial, &ring));
    if (ring)
        return make_ring(t);
    LDM_CHECK(ldm_alloc(sizeof *starts * (size_t)(size + 1), "strip starts", (void **)&starts));
    ldm_mpi_partition_starts(t->d.height, size, t->d.align > 0 ? t->d.align : 1, t->d.width,
                             starts);
    LDM_CHECK(ldm_row_gather_create(p->spatial, starts, t->d.batch, 2 * t->inner_r,
                                    &t->gather));
cleanup:
    ldm_free(starts);
    return st;
}

ldm_status ldm_transformer2d_create(const ldm_transformer2d_desc *desc, const ldm_weights *w,
                                    const char *prefix, size_t *scratch_need,
                                    ldm_transformer2d **out)
{
    ldm_status st = LDM_OK;
    ldm_transformer2d *t = NULL;
    *out = NULL;
    LDM_CHECK(check_desc(desc));
    LDM_CHECK(ldm_calloc(sizeof *t, "Transformer2DModel", (void **)&t));
    t->d = *desc;
    if (t->d.layer_norm_eps <= 0)
        t->d.layer_norm_eps = 1e-5;
    t->inner = desc->heads * desc->head_dim;
    int64_t r0, r1;
    ldm_model_parallel_rows(desc->parallel, desc->height, desc->align, &r0, &r1);
    t->tokens = (r1 - r0) * desc->width;
    t->all_tokens = desc->height * desc->width;
    t->rows = desc->batch * t->tokens;
    LDM_CHECK(split_heads(t));
    LDM_CHECK(make_gather(t));
    const int64_t c = desc->in_channels;
    char name[512];
    LDM_CHECK(ldm_unet_load_vector(w, prefix, "norm.weight", c, &t->gn_w));
    LDM_CHECK(ldm_unet_load_vector(w, prefix, "norm.bias", c, &t->gn_b));
    ldm_linear_desc d = {.m = t->rows, .k = c, .n = t->inner};
    LDM_CHECK(ldm_unet_name(name, sizeof name, prefix, "proj_in"));
    if (desc->use_linear_projection)
        LDM_CHECK(ldm_unet_load_linear(t->d.parallel, w, name, 1, &d, scratch_need, &t->proj_in));
    else
        LDM_CHECK(ldm_unet_load_linear_1x1(t->d.parallel, w, name, &d, scratch_need, &t->proj_in));
    d = (ldm_linear_desc){.m = t->rows, .k = t->inner, .n = c};
    LDM_CHECK(ldm_unet_name(name, sizeof name, prefix, "proj_out"));
    if (desc->use_linear_projection)
        LDM_CHECK(ldm_unet_load_linear(t->d.parallel, w, name, 1, &d, scratch_need, &t->proj_out));
    else
        LDM_CHECK(ldm_unet_load_linear_1x1(t->d.parallel, w, name, &d, scratch_need, &t->proj_out));
    LDM_CHECK(ldm_calloc((size_t)desc->num_layers * sizeof *t->blocks, "transformer blocks",
                         (void **)&t->blocks));
    for (int64_t i = 0; i < desc->num_layers; i++) {
        LDM_CHECK(block_prefix(name, prefix, i));
        LDM_CHECK(block_create(t, w, name, scratch_need, &t->blocks[i]));
    }
    size_t a1 = t->ring ? ldm_ring_attention_scratch_bytes(t->ring, ldm_kernels_cores())
                        : attention_scratch(t, t->all_tokens);
    size_t a2 = attention_scratch(t, desc->context_tokens);
    if (scratch_need && a1 > *scratch_need)
        *scratch_need = a1;
    if (scratch_need && a2 > *scratch_need)
        *scratch_need = a2;
    *out = t;
    t = NULL;
cleanup:
    ldm_transformer2d_destroy(&t);
    return st;
}

void ldm_transformer2d_destroy(ldm_transformer2d **tp)
{
    if (!tp || !*tp)
        return;
    ldm_transformer2d *t = *tp;
    if (t->blocks)
        for (int64_t i = 0; i < t->d.num_layers; i++)
            block_destroy(&t->blocks[i]);
    ldm_free(t->blocks);
    ldm_row_gather_destroy(&t->gather);
    ldm_ring_attention_destroy(&t->ring);
    ldm_free(t->gn_w);
    ldm_free(t->gn_b);
    ldm_model_linear_destroy(&t->proj_in);
    ldm_model_linear_destroy(&t->proj_out);
    ldm_free(t);
    *tp = NULL;
}

/* Buffers of one forward, all [rows, ·] token-major. */
typedef struct tbufs {
    float *h;    /* [M, inner]   the token stream */
    float *n;    /* [M, max(C, inner)]   norm outputs, projection outputs */
    float *big;  /* [M, 8·inner] fused qkv (3·inner) or the GEGLU projection */
    float *mid;  /* [M, 4·inner] attention output (inner) or the GEGLU output */
    float *all;  /* spatial split: [B, all_tokens, 2·inner_r] every strip's k ‖ v; else NULL */
    void *ring;  /* ring attention: its receive buffers and softmax state; else NULL */
} tbufs;

static ldm_status layer_norm(ldm_unet_exec *ex, float *out, const float *x, const float *g,
                             const float *b, int64_t rows, int64_t dim, double eps)
{
    if (ldm_unet_measuring(ex))
        return LDM_OK;
    return ldm_layer_norm(out, x, g, b, rows, dim, eps);
}

static ldm_status block_forward(ldm_transformer2d *t, ldm_unet_exec *ex, const tblock *b,
                                const tbufs *u)
{
    ldm_status st = LDM_OK;
    const int64_t inner = t->inner, m = t->rows;
    const int measuring = ldm_unet_measuring(ex);
    const double eps = t->d.layer_norm_eps;
    const int64_t ir = t->inner_r;
    ldm_attention_desc a = {.batch = t->d.batch, .heads = t->nh, .lq = t->tokens,
                            .lk = t->all_tokens, .head_dim = t->d.head_dim, .ldq = 3 * ir,
                            .ldk = 3 * ir, .ldv = 3 * ir, .ldo = ir};
    /* split by heads, u->mid gets this rank's heads of the attention output
     * [M, ir] and to_out sums the partial products of every rank's */
    float *att = u->mid;
    /* 1. self-attention: h = to_out(attn(q, k, v of norm1(h))) + h; the local
     * queries attend to the keys of every strip, in the global order */
    LDM_CHECK(layer_norm(ex, u->n, u->h, b->norm_w[0], b->norm_b[0], m, inner, eps));
    LDM_CHECK(ldm_unet_run_linear(ex, b->qkv, u->big, u->n));            /* [M, 3·ir] */
    const float *k = u->big + (measuring ? 0 : ir), *v = u->big + (measuring ? 0 : 2 * ir);
    if (t->ring) {
        /* k ‖ v of each local token packed contiguously behind the fused
         * output in u->big ([M, 3·ir] of [M, 8·inner]; the ring sends
         * contiguous blocks), then every strip's block passes by */
        if (!measuring) {
            float *kv = u->big + m * 3 * ir;                               /* [M, 2·ir] */
            for (int64_t i = 0; i < m; i++)
                memcpy(kv + i * 2 * ir, u->big + i * 3 * ir + ir,
                       (size_t)(2 * ir) * sizeof(float));
            LDM_CHECK(ldm_ring_attention_run(t->ring, att, u->big, kv, u->ring, ex->scratch,
                                             ex->scratch_bytes));
        }
    } else if (t->gather) {
        /* k ‖ v of each local token into u->mid (free until the attention
         * writes it), then every strip's: [B, all_tokens, 2·ir] */
        if (!measuring) {
            for (int64_t i = 0; i < m; i++)
                memcpy(u->mid + i * 2 * ir, u->big + i * 3 * ir + ir,
                       (size_t)(2 * ir) * sizeof(float));
            LDM_CHECK(ldm_row_gather_run(t->gather, u->mid, u->all));
            k = u->all;
            v = u->all + ir;
        }
        a.ldk = a.ldv = 2 * ir;
    }
    if (!t->ring)
        LDM_CHECK(ldm_unet_run_attention(ex, &a, att, u->big, k, v));
    LDM_CHECK(ldm_unet_run_linear(ex, b->out1, u->n, u->mid));           /* [M, inner] */
    if (!measuring)
        ldm_add(u->h, u->n, u->h, m * inner);
    /* 2. cross-attention with the context's k, v [B·L, 2·ir] (set_context) */
    LDM_CHECK(layer_norm(ex, u->n, u->h, b->norm_w[1], b->norm_b[1], m, inner, eps));
    LDM_CHECK(ldm_unet_run_linear(ex, b->q2, u->big, u->n));             /* [M, ir] */
    a.lk = t->d.context_tokens;
    a.ldq = ir;
    a.ldk = a.ldv = 2 * ir;
    LDM_CHECK(ldm_unet_run_attention(ex, &a, att, u->big, b->kv, b->kv + ir));
    LDM_CHECK(ldm_unet_run_linear(ex, b->out2, u->n, u->mid));
    if (!measuring)
        ldm_add(u->h, u->n, u->h, m * inner);
    /* 3. feed-forward: h = ff.net.2(GEGLU(ff.net.0.proj(norm3(h)))) + h */
    LDM_CHECK(layer_norm(ex, u->n, u->h, b->norm_w[2], b->norm_b[2], m, inner, eps));
    LDM_CHECK(ldm_unet_run_linear(ex, b->ff_in, u->big, u->n));          /* [M, 8·inner] */
    if (!measuring)
        ldm_geglu(u->mid, u->big, m, t->ff_r);                             /* [M, ff_r] */
    LDM_CHECK(ldm_unet_run_linear(ex, b->ff_out, u->n, u->mid));
    if (!measuring)
        ldm_add(u->h, u->n, u->h, m * inner);
cleanup:
    return st;
}

ldm_status ldm_transformer2d_set_context(ldm_transformer2d *t, ldm_unet_exec *ex,
                                         const float *context)
{
    ldm_status st = LDM_OK;
    if (ldm_unet_measuring(ex))
        return LDM_OK;
    for (int64_t i = 0; i < t->d.num_layers; i++)
        LDM_CHECK(ldm_unet_run_linear(ex, t->blocks[i].kv2, t->blocks[i].kv, context));
    t->has_context = 1;
cleanup:
    if (st != LDM_OK)
        t->has_context = 0;
    return st;
}

ldm_status ldm_transformer2d_forward(ldm_transformer2d *t, ldm_unet_exec *ex, float *out,
                                     const float *x)
{
    ldm_status st = LDM_OK;
    const size_t mark = ldm_arena_mark(ex->arena);
    const int64_t c = t->d.in_channels, inner = t->inner, m = t->rows;
    const int measuring = ldm_unet_measuring(ex);
    tbufs u;
    if (!measuring && !t->has_context)
        return ldm_error(LDM_ERUNTIME, "Transformer2DModel: forward before set_context");
    LDM_CHECK(ldm_unet_push(ex, m * inner, "transformer h", &u.h));
    LDM_CHECK(ldm_unet_push(ex, m * (c > inner ? c : inner), "transformer n", &u.n));
    LDM_CHECK(ldm_unet_push(ex, m * 8 * inner, "transformer ff", &u.big));
    LDM_CHECK(ldm_unet_push(ex, m * 4 * inner, "transformer attn", &u.mid));
    u.all = NULL;
    u.ring = NULL;
    if (t->gather)
        LDM_CHECK(ldm_unet_push(ex, t->d.batch * t->all_tokens * 2 * t->inner_r,
                                "transformer k/v", &u.all));
    if (t->ring)
        LDM_CHECK(ldm_arena_push(ex->arena, ldm_ring_attention_work_bytes(t->ring),
                                 "transformer ring k/v", &u.ring));
    /* GroupNorm over NHWC pixels (of every strip), then proj_in: [M, C] → [M, inner] */
    if (!measuring)
        LDM_CHECK(ldm_model_group_norm(t->d.parallel, u.n, x, t->gn_w, t->gn_b, t->d.batch, c,
                                       t->tokens, t->d.groups, 1e-6, 0));
    LDM_CHECK(ldm_unet_run_linear(ex, t->proj_in, u.h, u.n));
    for (int64_t i = 0; i < t->d.num_layers; i++)
        LDM_CHECK(block_forward(t, ex, &t->blocks[i], &u));
    /* proj_out: [M, inner] → [M, C], then the residual */
    LDM_CHECK(ldm_unet_run_linear(ex, t->proj_out, u.n, u.h));
    if (!measuring)
        ldm_add(out, u.n, x, m * c);
cleanup:
    ldm_arena_reset_to(ex->arena, mark);
    return st;
}
