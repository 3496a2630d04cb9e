/* parallel.c — split convolutions, linears and GroupNorm for the UNet and
 * the VAE decoder (see parallel.h). Every function takes the split path only
 * when the communicator concerned has more than one rank; otherwise it is
 * the single-process kernel call it replaces. */
#include "models/parallel.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/norm.h"
#include "models/resnet.h"
#include "mpi/channels.h"
#include "mpi/halo.h"
#include "mpi/moments.h"
#include "mpi/util.h"

static size_t weight_bytes_held;

void ldm_model_parallel_weight_bytes_reset(void)
{
    weight_bytes_held = 0;
}

size_t ldm_model_parallel_weight_bytes(void)
{
    return weight_bytes_held;
}

static int comm_size(MPI_Comm c)
{
    int size = 1;
    if (c == MPI_COMM_NULL || MPI_Comm_size(c, &size) != MPI_SUCCESS)
        return 1;
    return size;
}

static int comm_rank(MPI_Comm c)
{
    int rank = 0;
    if (c == MPI_COMM_NULL || MPI_Comm_rank(c, &rank) != MPI_SUCCESS)
        return 0;
    return rank;
}

int ldm_model_parallel_spatial_size(const ldm_model_parallel *p)
{
    return p ? comm_size(p->spatial) : 1;
}

int ldm_model_parallel_spatial_rank(const ldm_model_parallel *p)
{
    return ldm_model_parallel_spatial_size(p) > 1 ? comm_rank(p->spatial) : 0;
}

int ldm_model_parallel_channel_size(const ldm_model_parallel *p)
{
    return p ? comm_size(p->channel) : 1;
}

int ldm_model_parallel_channel_rank(const ldm_model_parallel *p)
{
    return ldm_model_parallel_channel_size(p) > 1 ? comm_rank(p->channel) : 0;
}

void ldm_model_parallel_rows(const ldm_model_parallel *p, int64_t h, int64_t align, int64_t *r0,
                             int64_t *r1)
{
    int size = ldm_model_parallel_spatial_size(p);
    if (size <= 1) {
        *r0 = 0;
        *r1 = h;
        return;
    }
    ldm_mpi_partition(h, size, ldm_model_parallel_spatial_rank(p), align > 0 ? align : 1, r0, r1);
}

static size_t round64(size_t b)
{
    return (b + 63) / 64 * 64;
}

/* ---- GroupNorm ------------------------------------------------------------- */

ldm_status ldm_model_group_norm(const ldm_model_parallel *p, float *out, const float *x,
                                const float *gamma, const float *beta, int64_t n, int64_t c,
                                int64_t hw, int64_t groups, double eps, int silu)
{
    if (ldm_model_parallel_spatial_size(p) <= 1)
        return ldm_group_norm(out, x, gamma, beta, n, c, hw, groups, eps, LDM_LAYOUT_NHWC, silu);
    enum { MAX_MOMENTS = 1024 };
    if (n < 1 || c < 1 || hw < 1 || groups < 1 || c % groups != 0 || groups > MAX_MOMENTS)
        return ldm_error(LDM_EINPUT, "group_norm: bad sizes n=%lld c=%lld hw=%lld groups=%lld",
                         (long long)n, (long long)c, (long long)hw, (long long)groups);
    /* batch entries in chunks, as ldm_group_norm: the moments stay on the stack */
    ldm_moments m[MAX_MOMENTS];
    const int64_t per = MAX_MOMENTS / groups;
    for (int64_t b0 = 0; b0 < n; b0 += per) {
        int64_t nb = n - b0 < per ? n - b0 : per;
        ldm_group_norm_moments(m, x + b0 * c * hw, nb, c, hw, groups, LDM_LAYOUT_NHWC);
        ldm_status st = ldm_mpi_moments_allreduce(p->spatial, m, nb * groups);
        if (st != LDM_OK)
            return st;
        ldm_group_norm_apply(out + b0 * c * hw, x + b0 * c * hw, m, gamma, beta, eps, nb, c, hw,
                             groups, LDM_LAYOUT_NHWC, silu);
    }
    return LDM_OK;
}

/* ---- weights: whole tensors or this rank's rows ------------------------------ */

/* Rows [row0, row0 + nrows) of `name` (shape[0..ndim) checked) into dst;
 * the whole tensor, read as the single-process code reads it, when the
 * range covers it. */
static ldm_status read_rows(const ldm_weights *w, const char *name, const int64_t *shape,
                            int ndim, int64_t row0, int64_t nrows, float *dst)
{
    ldm_status st;
    if (row0 == 0 && nrows == shape[0])
        st = ldm_weights_read_f32(w, name, shape, ndim, dst);
    else {
        st = ldm_weights_check_shape(w, name, shape, ndim);
        if (st == LDM_OK)
            st = ldm_weights_read_rows_f32(w, name, row0, nrows, dst);
    }
    if (st == LDM_OK) {
        int64_t per = 1;
        for (int i = 1; i < ndim; i++)
            per *= shape[i];
        weight_bytes_held += (size_t)(nrows * per) * sizeof(float);
    }
    return st;
}

/* This rank's share [*o0, *o1) of n output channels; a channels plan for
 * `pixels` rows when the channel communicator is split. */
static ldm_status channel_share(const ldm_model_parallel *p, int64_t n, int64_t pixels,
                                const char *what, int64_t *o0, int64_t *o1, ldm_channels **chan)
{
    ldm_status st = LDM_OK;
    int size = ldm_model_parallel_channel_size(p);
    int64_t *starts = NULL;
    *o0 = 0;
    *o1 = n;
    *chan = NULL;
    /* a layer narrower than the channel ranks (conv_out: 3 or 4 channels)
     * is not split: every rank computes all of it */
    if (size <= 1 || n < size)
        return LDM_OK;
    LDM_CHECK(ldm_alloc(sizeof *starts * (size_t)(size + 1), "channel starts", (void **)&starts));
    ldm_mpi_partition_starts(n, size, 1, 1, starts);
    int rank = ldm_model_parallel_channel_rank(p);
    *o0 = starts[rank];
    *o1 = starts[rank + 1];
    /* vector types, no packing scratch: a plan per layer must not hold a
     * copy of the activation */
    LDM_CHECK(ldm_channels_create(p->channel, starts, pixels, LDM_CHANNELS_ALLTOALLW, chan));
cleanup:
    ldm_free(starts);
    if (st != LDM_OK)
        ldm_error_context("%s: ", what);
    return st;
}

/* ---- convolution -------------------------------------------------------------- */

struct ldm_model_conv {
    char *prefix;                 /* owned */
    ldm_conv2d_plan *plan;        /* the local convolution */
    ldm_halo *halo;               /* or NULL: no rows from neighbours */
    ldm_channels *chan;           /* or NULL: all output channels here */
    int64_t n, w, c_in, rows;     /* input strip [n, rows, w, c_in] */
    int64_t local_h, above;       /* halo buffer [n, local_h, w, c_in], own rows at `above` */
    int64_t out_rows, ow, c_r;    /* output strip [n, out_rows, ow, c_out], c_r channels here */
    int64_t c_out;
    MPI_Comm reduce;              /* input split: sum the partial outputs here; or NULL */
    size_t halo_bytes, slice_bytes, kernel_bytes;
};

/* Weight rows [o0, o1) and bias of a conv; the plan for `ld`. */
static ldm_status conv_plan(const ldm_weights *w, const char *prefix, const ldm_conv2d_desc *g,
                            const ldm_conv2d_desc *ld, int64_t o0, int has_bias,
                            ldm_conv2d_plan **out)
{
    ldm_status st = LDM_OK;
    char name[512];
    float *weight = NULL, *bias = NULL;
    const int64_t nr = ld->c_out, per = g->c_in * g->kh * g->kw;
    const int64_t shape[4] = {g->c_out, g->c_in, g->kh, g->kw};
    LDM_CHECK(ldm_alloc((size_t)(nr * per) * sizeof(float), prefix, (void **)&weight));
    snprintf(name, sizeof name, "%s.weight", prefix);
    LDM_CHECK(read_rows(w, name, shape, 4, o0, nr, weight));
    if (has_bias) {
        LDM_CHECK(ldm_alloc((size_t)nr * sizeof(float), prefix, (void **)&bias));
        snprintf(name, sizeof name, "%s.bias", prefix);
        LDM_CHECK(read_rows(w, name, &g->c_out, 1, o0, nr, bias));
    }
    st = ldm_conv2d_plan_create(ld, weight, bias, out);
cleanup:
    ldm_free(weight);
    ldm_free(bias);
    if (st != LDM_OK)
        ldm_error_context("%s: ", prefix);
    return st;
}

/* The strip rule for every spatial rank (not only this one, so that all
 * ranks fail together without communicating): strip i of the input, with
 * its halo rows and the layer's padding at the global edges, must give
 * exactly strip i of the output level. */
static ldm_status check_strips(const ldm_conv2d_desc *g, int size, int64_t align, int64_t oh,
                               int64_t above, int64_t below, const char *prefix)
{
    for (int i = 0; i < size; i++) {
        int64_t r0, r1, o0, o1;
        ldm_mpi_partition(g->h, size, i, align, &r0, &r1);
        ldm_mpi_partition(oh, size, i, align / g->stride_h, &o0, &o1);
        int64_t in = (i > 0 ? above : g->pad_top) + (r1 - r0) +
                     (i < size - 1 ? below : g->pad_bottom);
        int64_t got = in >= g->kh ? (in - g->kh) / g->stride_h + 1 : 0;
        if (got != o1 - o0)
            return ldm_error(LDM_EINPUT, "%s: strip %d, rows [%lld, %lld) of %lld, gives %lld "
                             "output rows where the next level's strip has %lld (the strip "
                             "rule needs output heights ceil(h / stride); use fewer spatial "
                             "ranks or another latent size)", prefix, i, (long long)r0,
                             (long long)r1, (long long)g->h, (long long)got,
                             (long long)(o1 - o0));
    }
    return LDM_OK;
}

/* The local description: input rows with their halo, output rows checked
 * against the next level's strip. */
static ldm_status conv_local(const ldm_model_parallel *p, int64_t align, const ldm_conv2d_desc *g,
                             ldm_model_conv *c, ldm_conv2d_desc *ld)
{
    ldm_status st = LDM_OK;
    int64_t r0, r1, oh, ow, o0, o1;
    *ld = *g;
    LDM_CHECK(ldm_conv2d_out_size(g, &oh, &ow));
    ldm_model_parallel_rows(p, g->h, align, &r0, &r1);
    c->rows = r1 - r0;
    c->local_h = c->rows;
    c->ow = ow;
    c->out_rows = oh;
    if (ldm_model_parallel_spatial_size(p) <= 1)
        return LDM_OK;
    if (align % g->stride_h != 0)
        return ldm_error(LDM_EINPUT, "%s: strip alignment %lld is not a multiple of the stride "
                         "%lld", c->prefix, (long long)align, (long long)g->stride_h);
    ldm_model_parallel_rows(p, oh, align / g->stride_h, &o0, &o1);
    c->out_rows = o1 - o0;
    ldm_halo_desc hd = {.n = g->n, .h = g->h, .w = g->w, .c = g->c_in, .align = align};
    ldm_halo_conv_rows(g->kh, g->stride_h, g->pad_top, &hd.above, &hd.below);
    LDM_CHECK(check_strips(g, ldm_model_parallel_spatial_size(p), align, oh, hd.above, hd.below,
                           c->prefix));
    if (hd.above > 0 || hd.below > 0) {
        LDM_CHECK(ldm_halo_create(p->spatial, &hd, &c->halo));
        c->local_h = c->halo->local_h;
        c->above = c->halo->above;
        ldm_halo_conv_pads(c->halo, g->pad_top, g->pad_bottom, &ld->pad_top, &ld->pad_bottom);
    } else {
        ld->pad_top = r0 == 0 ? g->pad_top : 0;
        ld->pad_bottom = r1 == g->h ? g->pad_bottom : 0;
    }
    ld->h = c->local_h;
    int64_t loh, low;
    LDM_CHECK(ldm_conv2d_out_size(ld, &loh, &low));
    if (loh != c->out_rows)
        st = ldm_error(LDM_EINPUT, "%s: strip rows [%lld, %lld) give %lld output rows, the next "
                       "level's strip has %lld (use an alignment of the strides)", c->prefix,
                       (long long)r0, (long long)r1, (long long)loh, (long long)c->out_rows);
cleanup:
    return st;
}

/* Input split: the plan for input channels [k0, k0 + ld->c_in) of every
 * output channel (only those columns read from the file), the bias on
 * channel rank 0 only. */
static ldm_status conv_plan_cols(const ldm_model_parallel *p, const ldm_weights *w,
                                 const char *prefix, const ldm_conv2d_desc *g,
                                 const ldm_conv2d_desc *ld, int64_t k0, int has_bias,
                                 ldm_conv2d_plan **out)
{
    ldm_status st = LDM_OK;
    char name[512];
    float *weight = NULL, *bias = NULL;
    const int64_t khw = g->kh * g->kw, kr = ld->c_in;
    const int64_t shape[4] = {g->c_out, g->c_in, g->kh, g->kw};
    LDM_CHECK(ldm_alloc((size_t)(g->c_out * kr * khw) * sizeof(float), prefix, (void **)&weight));
    snprintf(name, sizeof name, "%s.weight", prefix);
    /* [c_out, c_in, kh, kw] as [c_out, c_in·kh·kw]: columns [k0·khw, (k0 + kr)·khw) */
    LDM_CHECK(ldm_weights_check_shape(w, name, shape, 4));
    LDM_CHECK(ldm_weights_read_inner_f32(w, name, k0 * khw, kr * khw, weight));
    weight_bytes_held += (size_t)(g->c_out * kr * khw) * sizeof(float);
    if (has_bias && ldm_model_parallel_channel_rank(p) == 0) {
        LDM_CHECK(ldm_alloc((size_t)g->c_out * sizeof(float), prefix, (void **)&bias));
        snprintf(name, sizeof name, "%s.bias", prefix);
        LDM_CHECK(read_rows(w, name, &g->c_out, 1, 0, g->c_out, bias));
    }
    st = ldm_conv2d_plan_create(ld, weight, bias, out);
cleanup:
    ldm_free(weight);
    ldm_free(bias);
    if (st != LDM_OK)
        ldm_error_context("%s: ", prefix);
    return st;
}

ldm_status ldm_model_conv_create(const ldm_model_parallel *p, int64_t align,
                                 const ldm_conv2d_desc *desc, const ldm_weights *w,
                                 const char *prefix, int has_bias, ldm_model_conv **out)
{
    return ldm_model_conv_create_split(p, align, desc, w, prefix, has_bias,
                                       LDM_CONV_SPLIT_GATHER, 0, 0, out);
}

ldm_status ldm_model_conv_create_split(const ldm_model_parallel *p, int64_t align,
                                       const ldm_conv2d_desc *desc, const ldm_weights *w,
                                       const char *prefix, int has_bias,
                                       ldm_model_conv_split split, int64_t c0, int64_t c1,
                                       ldm_model_conv **out)
{
    ldm_status st = LDM_OK;
    ldm_model_conv *c = NULL;
    ldm_conv2d_desc ld, g = *desc;
    int64_t o0 = 0, o1 = desc->c_out;
    *out = NULL;
    if (ldm_model_parallel_channel_size(p) <= 1)
        split = LDM_CONV_SPLIT_GATHER; /* nothing to split: the single-process layer */
    if (split != LDM_CONV_SPLIT_GATHER &&
        (c0 < 0 || c1 <= c0 || c1 > (split == LDM_CONV_SPLIT_LOCAL ? desc->c_out : desc->c_in)))
        return ldm_error(LDM_ERUNTIME, "%s: channel range [%lld, %lld)", prefix, (long long)c0,
                         (long long)c1);
    if (split == LDM_CONV_SPLIT_REDUCE)
        g.c_in = c1 - c0; /* the local input (and the halo rows) carry these channels */
    LDM_CHECK(ldm_calloc(sizeof *c, "conv", (void **)&c));
    LDM_CHECK(ldm_strdup(prefix, &c->prefix));
    c->n = desc->n;
    c->w = desc->w;
    c->c_in = g.c_in;
    c->c_out = desc->c_out;
    c->reduce = MPI_COMM_NULL;
    LDM_CHECK(conv_local(p, align > 0 ? align : 1, &g, c, &ld));
    if (split == LDM_CONV_SPLIT_GATHER)
        LDM_CHECK(channel_share(p, desc->c_out, desc->n * c->out_rows * c->ow, prefix, &o0, &o1,
                                &c->chan));
    else if (split == LDM_CONV_SPLIT_LOCAL) {
        o0 = c0;
        o1 = c1;
    }
    ld.c_out = c->c_r = o1 - o0;
    if (split == LDM_CONV_SPLIT_REDUCE) {
        LDM_CHECK(conv_plan_cols(p, w, prefix, desc, &ld, c0, has_bias, &c->plan));
        c->reduce = p->channel;
    } else {
        LDM_CHECK(conv_plan(w, prefix, desc, &ld, o0, has_bias, &c->plan));
    }
    if (c->halo)
        c->halo_bytes = round64((size_t)(c->n * c->local_h * c->w * c->c_in) * sizeof(float));
    if (c->chan)
        c->slice_bytes = round64((size_t)(c->n * c->out_rows * c->ow * c->c_r) * sizeof(float));
    c->kernel_bytes = ldm_conv2d_scratch_bytes(c->plan);
    *out = c;
    c = NULL;
cleanup:
    ldm_model_conv_destroy(&c);
    return st;
}

size_t ldm_model_conv_scratch_bytes(const ldm_model_conv *c)
{
    return c->halo_bytes + c->slice_bytes + c->kernel_bytes;
}

int64_t ldm_model_conv_in_rows(const ldm_model_conv *c)
{
    return c->rows;
}

int64_t ldm_model_conv_out_rows(const ldm_model_conv *c)
{
    return c->out_rows;
}

ldm_status ldm_model_conv_run(ldm_model_conv *c, float *out, const float *in, void *scratch)
{
    ldm_status st = LDM_OK;
    char *s = scratch;
    const float *src = in;
    float *dst = out;
    if (c->halo) {
        /* own rows into the middle of the halo buffer, then the neighbours' */
        float *buf = (float *)s;
        const int64_t strip = c->rows * c->w * c->c_in;
        for (int64_t b = 0; b < c->n; b++)
            memcpy(buf + (b * c->local_h + c->above) * c->w * c->c_in, in + b * strip,
                   (size_t)strip * sizeof(float));
        LDM_CHECK(ldm_halo_exchange(c->halo, buf));
        src = buf;
        s += c->halo_bytes;
    }
    if (c->chan) {
        dst = (float *)s;
        s += c->slice_bytes;
    }
    LDM_CHECK(ldm_conv2d_run(c->plan, dst, src, c->kernel_bytes ? s : NULL));
    if (c->chan)
        LDM_CHECK(ldm_channels_allgather(c->chan, dst, out));
    if (c->reduce != MPI_COMM_NULL)
        LDM_CHECK(ldm_mpi_allreduce_sum(c->reduce, out, c->n * c->out_rows * c->ow * c->c_out));
cleanup:
    if (st != LDM_OK)
        ldm_error_context("%s: ", c->prefix);
    return st;
}

void ldm_model_conv_destroy(ldm_model_conv **cp)
{
    if (!cp || !*cp)
        return;
    ldm_model_conv *c = *cp;
    ldm_conv2d_plan_destroy(&c->plan);
    ldm_halo_destroy(&c->halo);
    ldm_channels_destroy(&c->chan);
    ldm_free(c->prefix);
    ldm_free(c);
    *cp = NULL;
}

/* ---- linear ---------------------------------------------------------------------- */

struct ldm_model_linear {
    char *name;                   /* owned: the first part, for messages */
    ldm_linear_plan *plan;        /* [n_r, k]: this rank's output features */
    ldm_channels *chan;           /* or NULL */
    MPI_Comm reduce;              /* input split: sum the partial outputs here; or NULL */
    int64_t m, n_r;
    size_t slice_bytes, kernel_bytes;
};

/* Rows [o0, o1) of the stacked weight into dst [o1 − o0, k]. */
static ldm_status linear_weight(const ldm_weights *w, const ldm_linear_desc *d,
                                const char *const *names, const int64_t *rows, int parts,
                                int ndim, int64_t o0, int64_t o1, float *dst)
{
    ldm_status st = LDM_OK;
    int64_t base = 0;
    for (int i = 0; i < parts; i++) {
        const int64_t shape[4] = {rows[i], d->k, 1, 1};
        int64_t lo = o0 > base ? o0 : base, hi = o1 < base + rows[i] ? o1 : base + rows[i];
        if (lo < hi)
            LDM_CHECK(read_rows(w, names[i], shape, ndim, lo - base, hi - lo,
                                dst + (lo - o0) * d->k));
        else
            LDM_CHECK(ldm_weights_check_shape(w, names[i], shape, ndim));
        base += rows[i];
    }
    if (base != d->n)
        st = ldm_error(LDM_ERUNTIME, "%s: stacked rows %lld != n %lld", names[0],
                       (long long)base, (long long)d->n);
cleanup:
    return st;
}

ldm_status ldm_model_linear_create(const ldm_model_parallel *p, const ldm_linear_desc *desc,
                                   const ldm_weights *w, const char *const *names,
                                   const int64_t *rows, int parts, int weight_ndim,
                                   const char *bias, ldm_model_linear **out)
{
    ldm_status st = LDM_OK;
    ldm_model_linear *l = NULL;
    float *weight = NULL, *b = NULL;
    int64_t o0, o1;
    *out = NULL;
    if (desc->ldx || desc->ldy)
        return ldm_error(LDM_EINPUT, "%s: split linear layers take dense rows", names[0]);
    LDM_CHECK(ldm_calloc(sizeof *l, "linear", (void **)&l));
    LDM_CHECK(ldm_strdup(names[0], &l->name));
    LDM_CHECK(channel_share(p, desc->n, desc->m, names[0], &o0, &o1, &l->chan));
    l->m = desc->m;
    l->n_r = o1 - o0;
    l->reduce = MPI_COMM_NULL;
    LDM_CHECK(ldm_alloc((size_t)(l->n_r * desc->k) * sizeof(float), names[0], (void **)&weight));
    LDM_CHECK(linear_weight(w, desc, names, rows, parts, weight_ndim == 4 ? 4 : 2, o0, o1,
                            weight));
    if (bias) {
        LDM_CHECK(ldm_alloc((size_t)l->n_r * sizeof(float), bias, (void **)&b));
        LDM_CHECK(read_rows(w, bias, &desc->n, 1, o0, l->n_r, b));
    }
    ldm_linear_desc ld = *desc;
    ld.n = l->n_r;
    st = ldm_linear_plan_create(&ld, weight, b, &l->plan);
    if (st != LDM_OK) {
        ldm_error_context("%s: ", names[0]);
        goto cleanup;
    }
    if (l->chan)
        l->slice_bytes = round64((size_t)(l->m * l->n_r) * sizeof(float));
    l->kernel_bytes = ldm_linear_scratch_bytes(l->plan);
    *out = l;
    l = NULL;
cleanup:
    ldm_free(weight);
    ldm_free(b);
    ldm_model_linear_destroy(&l);
    return st;
}

ldm_status ldm_model_linear_create_slices(const ldm_linear_desc *desc, const ldm_weights *w,
                                          const char *const *names, const char *const *biases,
                                          const int64_t *full_rows, const int64_t *row0,
                                          const int64_t *nrows, int parts, int weight_ndim,
                                          ldm_model_linear **out)
{
    ldm_status st = LDM_OK;
    ldm_model_linear *l = NULL;
    float *weight = NULL, *bias = NULL;
    int64_t n = 0;
    *out = NULL;
    for (int i = 0; i < parts; i++)
        n += nrows[i];
    if (desc->ldx || desc->ldy || n != desc->n)
        return ldm_error(LDM_ERUNTIME, "%s: %lld sliced rows for n = %lld", names[0],
                         (long long)n, (long long)desc->n);
    LDM_CHECK(ldm_calloc(sizeof *l, "linear", (void **)&l));
    LDM_CHECK(ldm_strdup(names[0], &l->name));
    l->m = desc->m;
    l->n_r = n;
    l->reduce = MPI_COMM_NULL;
    LDM_CHECK(ldm_alloc((size_t)(n * desc->k) * sizeof(float), names[0], (void **)&weight));
    if (biases)
        LDM_CHECK(ldm_alloc((size_t)n * sizeof(float), names[0], (void **)&bias));
    int64_t row = 0;
    for (int i = 0; i < parts; i++) {
        const int64_t shape[4] = {full_rows[i], desc->k, 1, 1};
        LDM_CHECK(read_rows(w, names[i], shape, weight_ndim == 4 ? 4 : 2, row0[i], nrows[i],
                            weight + row * desc->k));
        if (biases)
            LDM_CHECK(read_rows(w, biases[i], shape, 1, row0[i], nrows[i], bias + row));
        row += nrows[i];
    }
    st = ldm_linear_plan_create(desc, weight, bias, &l->plan);
    if (st != LDM_OK) {
        ldm_error_context("%s: ", names[0]);
        goto cleanup;
    }
    l->kernel_bytes = ldm_linear_scratch_bytes(l->plan);
    *out = l;
    l = NULL;
cleanup:
    ldm_free(weight);
    ldm_free(bias);
    ldm_model_linear_destroy(&l);
    return st;
}

ldm_status ldm_model_linear_create_cols(const ldm_model_parallel *p, const ldm_linear_desc *desc,
                                        const ldm_weights *w, const char *name, int64_t full_k,
                                        int64_t k0, const char *bias, ldm_model_linear **out)
{
    ldm_status st = LDM_OK;
    ldm_model_linear *l = NULL;
    float *weight = NULL, *b = NULL;
    const int split = ldm_model_parallel_channel_size(p) > 1;
    const int64_t shape[2] = {desc->n, full_k}, kr = desc->k;
    *out = NULL;
    if (desc->ldx || desc->ldy || k0 < 0 || k0 + kr > full_k)
        return ldm_error(LDM_ERUNTIME, "%s: columns [%lld, %lld) of %lld", name, (long long)k0,
                         (long long)(k0 + kr), (long long)full_k);
    LDM_CHECK(ldm_calloc(sizeof *l, "linear", (void **)&l));
    LDM_CHECK(ldm_strdup(name, &l->name));
    l->m = desc->m;
    l->n_r = desc->n;
    LDM_CHECK(ldm_alloc((size_t)(desc->n * kr) * sizeof(float), name, (void **)&weight));
    if (k0 == 0 && kr == full_k) {
        LDM_CHECK(ldm_weights_read_f32(w, name, shape, 2, weight));
    } else {
        /* only this rank's columns leave the file */
        LDM_CHECK(ldm_weights_check_shape(w, name, shape, 2));
        LDM_CHECK(ldm_weights_read_cols_f32(w, name, k0, kr, weight));
    }
    weight_bytes_held += (size_t)(desc->n * kr) * sizeof(float);
    /* the bias joins the sum once: on channel rank 0 */
    if (bias && ldm_model_parallel_channel_rank(p) == 0) {
        LDM_CHECK(ldm_alloc((size_t)desc->n * sizeof(float), bias, (void **)&b));
        LDM_CHECK(read_rows(w, bias, &desc->n, 1, 0, desc->n, b));
    }
    st = ldm_linear_plan_create(desc, weight, b, &l->plan);
    if (st != LDM_OK) {
        ldm_error_context("%s: ", name);
        goto cleanup;
    }
    l->reduce = split ? p->channel : MPI_COMM_NULL;
    l->kernel_bytes = ldm_linear_scratch_bytes(l->plan);
    *out = l;
    l = NULL;
cleanup:
    ldm_free(weight);
    ldm_free(b);
    ldm_model_linear_destroy(&l);
    return st;
}

size_t ldm_model_linear_scratch_bytes(const ldm_model_linear *l)
{
    return l->slice_bytes + l->kernel_bytes;
}

ldm_status ldm_model_linear_run(ldm_model_linear *l, float *y, const float *x, void *scratch)
{
    ldm_status st = LDM_OK;
    char *s = scratch;
    float *dst = l->chan ? (float *)s : y;
    if (l->chan)
        s += l->slice_bytes;
    LDM_CHECK(ldm_linear_run(l->plan, dst, x, l->kernel_bytes ? s : NULL));
    if (l->chan)
        LDM_CHECK(ldm_channels_allgather(l->chan, dst, y));
    if (l->reduce != MPI_COMM_NULL)
        LDM_CHECK(ldm_mpi_allreduce_sum(l->reduce, y, l->m * l->n_r));
cleanup:
    if (st != LDM_OK)
        ldm_error_context("%s: ", l->name);
    return st;
}

void ldm_model_linear_destroy(ldm_model_linear **lp)
{
    if (!lp || !*lp)
        return;
    ldm_model_linear *l = *lp;
    ldm_linear_plan_destroy(&l->plan);
    ldm_channels_destroy(&l->chan);
    ldm_free(l->name);
    ldm_free(l);
    *lp = NULL;
}
