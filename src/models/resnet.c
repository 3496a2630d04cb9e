/* resnet.c — weight-list helpers and ResnetBlock2D (see resnet.h). */
#include "models/resnet.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/elementwise.h"
#include "kernels/norm.h"
#include "mpi/util.h"

enum { NAME_MAX_LEN = 512 };

/* ---- weight lists and reading ----------------------------------------- */

ldm_status ldm_spec_list_add(ldm_spec_list *list, int ndim, const int64_t *shape,
                             const char *fmt, ...)
{
    char name[NAME_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (len < 0 || len >= (int)sizeof name)
        return ldm_error(LDM_EINPUT, "tensor name too long: %s...", name);
    if (ndim > LDM_MAX_DIMS)
        return ldm_error(LDM_ERUNTIME, "tensor %s: %d dimensions", name, ndim);
    if (list->count == list->cap) {
        int cap = list->cap ? 2 * list->cap : 64;
        ldm_weight_spec *items = NULL;
        ldm_status st = ldm_alloc((size_t)cap * sizeof *items, "weight spec list", (void **)&items);
        if (st != LDM_OK)
            return st;
        if (list->count)
            memcpy(items, list->items, (size_t)list->count * sizeof *items);
        ldm_free(list->items);
        list->items = items;
        list->cap = cap;
    }
    ldm_weight_spec *s = &list->items[list->count];
    memset(s, 0, sizeof *s);
    char *copy = NULL;
    ldm_status st = ldm_strdup(name, &copy);
    if (st != LDM_OK)
        return st;
    s->name = copy;
    s->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        s->shape[i] = shape[i];
    list->count++;
    return LDM_OK;
}

ldm_status ldm_spec_list_check(const ldm_spec_list *list, const ldm_weights *w)
{
    return ldm_weights_check(w, list->items, list->count);
}

void ldm_spec_list_free(ldm_spec_list *list)
{
    if (!list)
        return;
    for (int i = 0; i < list->count; i++)
        ldm_free((void *)list->items[i].name);
    ldm_free(list->items);
    memset(list, 0, sizeof *list);
}

ldm_status ldm_model_read(const ldm_weights *w, const char *name, int ndim, const int64_t *shape,
                          float **out)
{
    *out = NULL;
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++)
        numel *= shape[i];
    float *buf = NULL;
    ldm_status st = ldm_alloc((size_t)numel * sizeof(float), name, (void **)&buf);
    if (st != LDM_OK)
        return st;
    st = ldm_weights_read_f32(w, name, shape, ndim, buf);
    if (st != LDM_OK) {
        ldm_free(buf);
        return st;
    }
    *out = buf;
    return LDM_OK;
}

/* "<prefix>.<suffix>" into name[NAME_MAX_LEN]. */
static ldm_status join_name(char *name, const char *prefix, const char *suffix)
{
    int len = snprintf(name, NAME_MAX_LEN, "%s.%s", prefix, suffix);
    if (len < 0 || len >= NAME_MAX_LEN)
        return ldm_error(LDM_EINPUT, "tensor name too long: %s.%s", prefix, suffix);
    return LDM_OK;
}

ldm_status ldm_model_conv_plan(const ldm_weights *w, const char *prefix,
                               const ldm_conv2d_desc *desc, int has_bias, ldm_conv2d_plan **out)
{
    ldm_status st = LDM_OK;
    char name[NAME_MAX_LEN];
    float *weight = NULL, *bias = NULL;
    *out = NULL;
    int64_t wshape[4] = {desc->c_out, desc->c_in, desc->kh, desc->kw};
    LDM_CHECK(join_name(name, prefix, "weight"));
    LDM_CHECK(ldm_model_read(w, name, 4, wshape, &weight));
    if (has_bias) {
        LDM_CHECK(join_name(name, prefix, "bias"));
        LDM_CHECK(ldm_model_read(w, name, 1, &desc->c_out, &bias));
    }
    st = ldm_conv2d_plan_create(desc, weight, bias, out);
    if (st != LDM_OK)
        ldm_error_context("%s: ", prefix);
cleanup:
    ldm_free(weight);
    ldm_free(bias);
    return st;
}

ldm_status ldm_model_linear_plan(const ldm_weights *w, const char *prefix,
                                 const ldm_linear_desc *desc, int has_bias,
                                 ldm_linear_plan **out)
{
    ldm_status st = LDM_OK;
    char name[NAME_MAX_LEN];
    float *weight = NULL, *bias = NULL;
    *out = NULL;
    int64_t wshape[2] = {desc->n, desc->k};
    LDM_CHECK(join_name(name, prefix, "weight"));
    LDM_CHECK(ldm_model_read(w, name, 2, wshape, &weight));
    if (has_bias) {
        LDM_CHECK(join_name(name, prefix, "bias"));
        LDM_CHECK(ldm_model_read(w, name, 1, &desc->n, &bias));
    }
    st = ldm_linear_plan_create(desc, weight, bias, out);
    if (st != LDM_OK)
        ldm_error_context("%s: ", prefix);
cleanup:
    ldm_free(weight);
    ldm_free(bias);
    return st;
}

/* ---- ResnetBlock2D ----------------------------------------------------- */

struct ldm_resnet {
    char *prefix;                 /* owned */
    int64_t cin, cout, temb_ch, groups, n, h, w;   /* h: this rank's strip rows */
    const ldm_model_parallel *par;  /* borrowed, or NULL */
    /* channel split, Megatron pair: conv1 computes output channels [o0, o0 +
     * c_r) (whole GroupNorm groups, groups_r of them), norm2 and the temb
     * add run on those, conv2 takes them as its input channels and one
     * allreduce sums the partial outputs. paired = 0: every layer whole
     * (or split by output and gathered, models/parallel.h) */
    int paired;
    int64_t o0, c_r, groups_r;
    double eps;
    float out_scale;
    int shortcut;
    float *norm1_g, *norm1_b;     /* [cin] owned */
    float *norm2_g, *norm2_b;     /* [cout] owned */
    ldm_model_conv *conv1;        /* [cout, cin, 3, 3] */
    ldm_model_conv *conv2;        /* [cout, cout, 3, 3] */
    ldm_model_conv *conv_sc;      /* [cout, cin, 1, 1] or NULL */
    ldm_model_linear *temb_proj;  /* [cout, temb_ch] or NULL */
    size_t scratch_bytes;         /* max over the plans */
    size_t arena_bytes;
};

/* The desc with defaults filled in, checked. */
static ldm_status resnet_resolve(const ldm_resnet_desc *in, ldm_resnet_desc *d, int *shortcut)
{
    *d = *in;
    const char *p = in->prefix ? in->prefix : "(null)";
    if (!in->prefix)
        return ldm_error(LDM_EINPUT, "ResnetBlock2D: no prefix");
    if (d->out_channels == 0)
        d->out_channels = d->in_channels;
    if (d->in_channels <= 0 || d->out_channels <= 0)
        return ldm_error(LDM_EINPUT, "ResnetBlock2D %s: channels %lld -> %lld must be positive", p,
                         (long long)d->in_channels, (long long)d->out_channels);
    if (d->temb_channels < 0)
        return ldm_error(LDM_EINPUT, "ResnetBlock2D %s: temb_channels %lld is negative", p,
                         (long long)d->temb_channels);
    if (d->groups <= 0 || d->in_channels % d->groups || d->out_channels % d->groups)
        return ldm_error(LDM_EINPUT,
                         "ResnetBlock2D %s: groups %lld must divide in_channels %lld and "
                         "out_channels %lld",
                         p, (long long)d->groups, (long long)d->in_channels,
                         (long long)d->out_channels);
    if (!(d->eps > 0.0))
        return ldm_error(LDM_EINPUT, "ResnetBlock2D %s: eps %g must be positive", p, d->eps);
    if (!(d->output_scale_factor > 0.0))
        return ldm_error(LDM_EINPUT, "ResnetBlock2D %s: output_scale_factor %g must be positive",
                         p, d->output_scale_factor);
    if (d->use_in_shortcut < -1 || d->use_in_shortcut > 1)
        return ldm_error(LDM_EINPUT, "ResnetBlock2D %s: use_in_shortcut %d (want -1, 0 or 1)", p,
                         d->use_in_shortcut);
    if (d->batch <= 0 || d->h <= 0 || d->w <= 0)
        return ldm_error(LDM_EINPUT,
                         "ResnetBlock2D %s: input shape [%lld, %lld, %lld] must be positive",
                         p, (long long)d->batch, (long long)d->h, (long long)d->w);
    *shortcut = d->use_in_shortcut < 0 ? d->in_channels != d->out_channels : d->use_in_shortcut;
    if (!*shortcut && d->in_channels != d->out_channels)
        return ldm_error(LDM_EINPUT,
                         "ResnetBlock2D %s: use_in_shortcut 0 needs in_channels == out_channels "
                         "(%lld vs %lld)",
                         p, (long long)d->in_channels, (long long)d->out_channels);
    return LDM_OK;
}

ldm_status ldm_resnet_specs(const ldm_resnet_desc *desc, ldm_spec_list *list)
{
    ldm_status st = LDM_OK;
    ldm_resnet_desc d;
    int shortcut = 0;
    LDM_CHECK(resnet_resolve(desc, &d, &shortcut));
    const char *p = d.prefix;
    int64_t ci = d.in_channels, co = d.out_channels;
    int64_t c3i[4] = {co, ci, 3, 3}, c3o[4] = {co, co, 3, 3}, c1[4] = {co, ci, 1, 1};
    int64_t lin[2] = {co, d.temb_channels};
    LDM_CHECK(ldm_spec_list_add(list, 1, &ci, "%s.norm1.weight", p));
    LDM_CHECK(ldm_spec_list_add(list, 1, &ci, "%s.norm1.bias", p));
    LDM_CHECK(ldm_spec_list_add(list, 4, c3i, "%s.conv1.weight", p));
    LDM_CHECK(ldm_spec_list_add(list, 1, &co, "%s.conv1.bias", p));
    if (d.temb_channels > 0) {
        LDM_CHECK(ldm_spec_list_add(list, 2, lin, "%s.time_emb_proj.weight", p));
        LDM_CHECK(ldm_spec_list_add(list, 1, &co, "%s.time_emb_proj.bias", p));
    }
    LDM_CHECK(ldm_spec_list_add(list, 1, &co, "%s.norm2.weight", p));
    LDM_CHECK(ldm_spec_list_add(list, 1, &co, "%s.norm2.bias", p));
    LDM_CHECK(ldm_spec_list_add(list, 4, c3o, "%s.conv2.weight", p));
    LDM_CHECK(ldm_spec_list_add(list, 1, &co, "%s.conv2.bias", p));
    if (shortcut) {
        LDM_CHECK(ldm_spec_list_add(list, 4, c1, "%s.conv_shortcut.weight", p));
        LDM_CHECK(ldm_spec_list_add(list, 1, &co, "%s.conv_shortcut.bias", p));
    }
cleanup:
    return st;
}

/* The forward's temporaries, pushed in one order by both the forward and
 * the measuring pass in create. */
typedef struct resnet_temps {
    float *t1;      /* [n, h, w, max(cin, cout)]: silu(norm1(x)), later the shortcut */
    float *t2;      /* [n, h, w, cout]: conv1 output, normalised in place */
    float *tact;    /* [n, temb_ch]: silu(temb) */
    float *tproj;   /* [n, cout]: time_emb_proj output */
    void *scratch;  /* plans' scratch */
} resnet_temps;

static ldm_status resnet_push(const ldm_resnet *r, ldm_arena *a, resnet_temps *t)
{
    ldm_status st = LDM_OK;
    int64_t pix = r->n * r->h * r->w;
    int64_t cmax = r->cin > r->cout ? r->cin : r->cout;
    memset(t, 0, sizeof *t);
    LDM_CHECK(ldm_arena_push_f32(a, pix * cmax, "ResnetBlock2D norm1", &t->t1));
    LDM_CHECK(ldm_arena_push_f32(a, pix * r->cout, "ResnetBlock2D conv1", &t->t2));
    if (r->temb_proj) {
        LDM_CHECK(ldm_arena_push_f32(a, r->n * r->temb_ch, "ResnetBlock2D temb", &t->tact));
        LDM_CHECK(ldm_arena_push_f32(a, r->n * r->cout, "ResnetBlock2D temb proj", &t->tproj));
    }
    if (r->scratch_bytes)
        LDM_CHECK(ldm_arena_push(a, r->scratch_bytes, "ResnetBlock2D scratch", &t->scratch));
cleanup:
    return st;
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

/* full_h: the whole activation's rows (the plans are made for this rank's strip). */
/* Under a channel split with at least one GroupNorm group per rank: this
 * rank's whole groups of conv1's output channels. */
static void resnet_pair(ldm_resnet *r)
{
    int size = ldm_model_parallel_channel_size(r->par);
    r->paired = 0;
    r->o0 = 0;
    r->c_r = r->cout;
    r->groups_r = r->groups;
    if (size <= 1 || r->groups < size)
        return;
    int64_t g0, g1, per = r->cout / r->groups;
    ldm_mpi_partition(r->groups, size, ldm_model_parallel_channel_rank(r->par), 1, &g0, &g1);
    r->paired = 1;
    r->o0 = g0 * per;
    r->c_r = (g1 - g0) * per;
    r->groups_r = g1 - g0;
}

/* full_h: the whole activation's rows (the plans are made for this rank's strip). */
static ldm_status resnet_plans(ldm_resnet *r, const ldm_weights *w, int64_t full_h,
                               int64_t align)
{
    ldm_status st = LDM_OK;
    char name[NAME_MAX_LEN];
    ldm_conv2d_desc c = {.n = r->n, .c_in = r->cin, .h = full_h, .w = r->w, .c_out = r->cout,
                         .kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1, .pad_top = 1,
                         .pad_bottom = 1, .pad_left = 1, .pad_right = 1,
                         .layout = LDM_LAYOUT_NHWC, .algo = LDM_CONV_AUTO};
    resnet_pair(r);
    LDM_CHECK(join_name(name, r->prefix, "conv1"));
    LDM_CHECK(ldm_model_conv_create_split(r->par, align, &c, w, name, 1,
                                          r->paired ? LDM_CONV_SPLIT_LOCAL : LDM_CONV_SPLIT_GATHER,
                                          r->o0, r->o0 + r->c_r, &r->conv1));
    c.c_in = r->cout;
    LDM_CHECK(join_name(name, r->prefix, "conv2"));
    LDM_CHECK(ldm_model_conv_create_split(r->par, align, &c, w, name, 1,
                                          r->paired ? LDM_CONV_SPLIT_REDUCE : LDM_CONV_SPLIT_GATHER,
                                          r->o0, r->o0 + r->c_r, &r->conv2));
    r->scratch_bytes = max_size(ldm_model_conv_scratch_bytes(r->conv1),
                                ldm_model_conv_scratch_bytes(r->conv2));
    if (r->shortcut) {
        c.c_in = r->cin;
        c.kh = c.kw = 1;
        c.pad_top = c.pad_bottom = c.pad_left = c.pad_right = 0;
        LDM_CHECK(join_name(name, r->prefix, "conv_shortcut"));
        LDM_CHECK(ldm_model_conv_create(r->par, align, &c, w, name, 1, &r->conv_sc));
        r->scratch_bytes = max_size(r->scratch_bytes, ldm_model_conv_scratch_bytes(r->conv_sc));
    }
    if (r->temb_ch > 0) {
        char bias[NAME_MAX_LEN];
        ldm_linear_desc l = {.m = r->n, .k = r->temb_ch, .n = r->cout};
        LDM_CHECK(join_name(name, r->prefix, "time_emb_proj.weight"));
        LDM_CHECK(join_name(bias, r->prefix, "time_emb_proj.bias"));
        const char *parts[1] = {name}, *biases[1] = {bias};
        if (r->paired) { /* this rank's channels only: they are added to its conv1 slice */
            l.n = r->c_r;
            LDM_CHECK(ldm_model_linear_create_slices(&l, w, parts, biases, &r->cout, &r->o0,
                                                     &r->c_r, 1, 2, &r->temb_proj));
        } else {
            LDM_CHECK(ldm_model_linear_create(r->par, &l, w, parts, &l.n, 1, 2, bias,
                                              &r->temb_proj));
        }
        r->scratch_bytes = max_size(r->scratch_bytes,
                                    ldm_model_linear_scratch_bytes(r->temb_proj));
    }
cleanup:
    return st;
}

ldm_status ldm_resnet_create(const ldm_resnet_desc *desc, const ldm_weights *w, ldm_resnet **out)
{
    ldm_status st = LDM_OK;
    ldm_resnet *r = NULL;
    ldm_resnet_desc d;
    char name[NAME_MAX_LEN];
    int shortcut = 0;
    *out = NULL;
    LDM_CHECK(resnet_resolve(desc, &d, &shortcut));
    LDM_CHECK(ldm_calloc(sizeof *r, "ResnetBlock2D", (void **)&r));
    LDM_CHECK(ldm_strdup(d.prefix, &r->prefix));
    r->cin = d.in_channels;
    r->cout = d.out_channels;
    r->temb_ch = d.temb_channels;
    r->groups = d.groups;
    r->n = d.batch;
    r->par = d.parallel;
    int64_t r0, r1;
    ldm_model_parallel_rows(d.parallel, d.h, d.align, &r0, &r1);
    r->h = r1 - r0;
    r->w = d.w;
    r->eps = d.eps;
    r->out_scale = (float)d.output_scale_factor;
    r->shortcut = shortcut;
    LDM_CHECK(join_name(name, r->prefix, "norm1.weight"));
    LDM_CHECK(ldm_model_read(w, name, 1, &r->cin, &r->norm1_g));
    LDM_CHECK(join_name(name, r->prefix, "norm1.bias"));
    LDM_CHECK(ldm_model_read(w, name, 1, &r->cin, &r->norm1_b));
    LDM_CHECK(join_name(name, r->prefix, "norm2.weight"));
    LDM_CHECK(ldm_model_read(w, name, 1, &r->cout, &r->norm2_g));
    LDM_CHECK(join_name(name, r->prefix, "norm2.bias"));
    LDM_CHECK(ldm_model_read(w, name, 1, &r->cout, &r->norm2_b));
    LDM_CHECK(resnet_plans(r, w, d.h, d.align));
    ldm_arena measure;
    ldm_arena_init_measure(&measure);
    resnet_temps t;
    LDM_CHECK(resnet_push(r, &measure, &t));
    r->arena_bytes = measure.peak;
    *out = r;
    r = NULL;
cleanup:
    ldm_resnet_destroy(&r);
    return st;
}

int64_t ldm_resnet_rows(const ldm_resnet *block)
{
    return block->h;
}

size_t ldm_resnet_arena_bytes(const ldm_resnet *block)
{
    return block->arena_bytes;
}

ldm_status ldm_resnet_forward(ldm_resnet *r, float *out, const float *in, const float *temb,
                              ldm_arena *arena)
{
    ldm_status st = LDM_OK;
    size_t mark = ldm_arena_mark(arena);
    int64_t n = r->n, hw = r->h * r->w;
    resnet_temps t;
    if (r->temb_proj && !temb)
        return ldm_error(LDM_EINPUT, "ResnetBlock2D %s: temb is required (temb_channels %lld)",
                         r->prefix, (long long)r->temb_ch);
    LDM_CHECK(resnet_push(r, arena, &t));
    /* t1 [n, hw, cin] = silu(norm1(x)); t2 [n, hw, cout] = conv1(t1) */
    LDM_CHECK(ldm_model_group_norm(r->par, t.t1, in, r->norm1_g, r->norm1_b, n, r->cin, hw,
                                   r->groups, r->eps, 1));
    LDM_CHECK(ldm_model_conv_run(r->conv1, t.t2, t.t1, t.scratch));     /* [n, hw, c_r] */
    if (r->temb_proj) {
        /* t2 += time_emb_proj(silu(temb))[:, :, None, None] */
        ldm_silu(t.tact, temb, n * r->temb_ch);
        LDM_CHECK(ldm_model_linear_run(r->temb_proj, t.tproj, t.tact, t.scratch));
        ldm_add_channel_bias(t.t2, t.tproj, n, r->c_r, hw, LDM_LAYOUT_NHWC);
    }
    /* norm2 on this rank's channels: whole groups (c_r = cout unsplit) */
    LDM_CHECK(ldm_model_group_norm(r->par, t.t2, t.t2, r->norm2_g + r->o0, r->norm2_b + r->o0, n,
                                   r->c_r, hw, r->groups_r, r->eps, 1));
    LDM_CHECK(ldm_model_conv_run(r->conv2, out, t.t2, t.scratch));
    /* out = (shortcut(x) + h) / output_scale_factor */
    const float *skip = in;
    if (r->conv_sc) {
        LDM_CHECK(ldm_model_conv_run(r->conv_sc, t.t1, in, t.scratch));
        skip = t.t1;
    }
    if (r->out_scale == 1.0f)
        ldm_add(out, skip, out, n * hw * r->cout);
    else
        ldm_add_div(out, skip, out, r->out_scale, n * hw * r->cout);
cleanup:
    ldm_arena_reset_to(arena, mark);
    if (st != LDM_OK)
        ldm_error_context("ResnetBlock2D %s: ", r->prefix);
    return st;
}

void ldm_resnet_destroy(ldm_resnet **block)
{
    if (!block || !*block)
        return;
    ldm_resnet *r = *block;
    ldm_model_conv_destroy(&r->conv1);
    ldm_model_conv_destroy(&r->conv2);
    ldm_model_conv_destroy(&r->conv_sc);
    ldm_model_linear_destroy(&r->temb_proj);
    ldm_free(r->norm1_g);
    ldm_free(r->norm1_b);
    ldm_free(r->norm2_g);
    ldm_free(r->norm2_b);
    ldm_free(r->prefix);
    ldm_free(r);
    *block = NULL;
}
