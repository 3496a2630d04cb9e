/* unet_blocks.c — CrossAttnDownBlock2D / DownBlock2D, UNetMidBlock2DCrossAttn,
 * CrossAttnUpBlock2D / UpBlock2D in NHWC (see unet_blocks.h). */
#include "models/unet_blocks.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "models/sampling.h"
#include "models/transformer2d.h"

enum { BLOCK_DOWN, BLOCK_MID, BLOCK_UP };

struct ldm_unet_block {
    ldm_unet_block_desc d;
    int kind;
    int64_t nres, nattn;
    ldm_resnet **resnets;          /* nres */
    ldm_transformer2d **attns;     /* nattn (0 without cross attention) */
    ldm_downsample *down;          /* or NULL */
    ldm_upsample *up;              /* or NULL */
    int64_t oh, ow;                /* output size */
    int64_t cat_channels;          /* up: widest concatenation */
};

static const char *kind_name(int kind, int cross)
{
    if (kind == BLOCK_MID)
        return "UNetMidBlock2DCrossAttn";
    if (kind == BLOCK_DOWN)
        return cross ? "CrossAttnDownBlock2D" : "DownBlock2D";
    return cross ? "CrossAttnUpBlock2D" : "UpBlock2D";
}

int64_t ldm_unet_block_rows(const ldm_unet_block_desc *d, int64_t h, int64_t align)
{
    int64_t r0, r1;
    ldm_model_parallel_rows(d->parallel, h, align, &r0, &r1);
    return r1 - r0;
}

int64_t ldm_unet_down_states(const ldm_unet_block_desc *d)
{
    return d->num_layers + (d->add_sampler ? 1 : 0);
}

int64_t ldm_unet_up_skip_channels(const ldm_unet_block_desc *d, int64_t i)
{
    return i == d->num_layers - 1 ? d->in_channels : d->out_channels;
}

/* Channels the block's attentions and resnets work on. */
static int64_t block_channels(const ldm_unet_block_desc *d, int kind)
{
    return kind == BLOCK_MID ? d->in_channels : d->out_channels;
}

static ldm_status check(const ldm_unet_block_desc *d, int kind)
{
    const char *what = kind_name(kind, d->cross_attn);
    const struct { const char *name; int64_t v; } f[] = {
        {"batch", d->batch}, {"h", d->h}, {"w", d->w}, {"num_layers", d->num_layers},
        {"in_channels", d->in_channels}, {"channels", block_channels(d, kind)},
        {"groups", d->groups}, {"temb_channels", d->temb_channels},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < 1)
            return ldm_error(LDM_EINPUT, "%s: %s = %lld (must be >= 1)", what, f[i].name,
                             (long long)f[i].v);
    if (kind == BLOCK_UP && d->prev_output_channels < 1)
        return ldm_error(LDM_EINPUT, "%s: prev_output_channels = %lld (must be >= 1)", what,
                         (long long)d->prev_output_channels);
    if (kind == BLOCK_MID && (d->num_layers != 1 || !d->cross_attn))
        return ldm_error(LDM_EINPUT, "%s: only one attention layer is supported", what);
    if (d->cross_attn) {
        int64_t c = block_channels(d, kind);
        if (d->heads < 1 || d->heads > c)
            return ldm_error(LDM_EINPUT, "%s: %lld attention heads for %lld channels", what,
                             (long long)d->heads, (long long)c);
    }
    return LDM_OK;
}

static ldm_resnet_desc resnet_desc(const ldm_unet_block *b, int64_t i, const char *prefix)
{
    const ldm_unet_block_desc *d = &b->d;
    int64_t cin, cout = block_channels(d, b->kind);
    if (b->kind == BLOCK_DOWN)
        cin = i == 0 ? d->in_channels : d->out_channels;
    else if (b->kind == BLOCK_MID)
        cin = d->in_channels;
    else
        cin = (i == 0 ? d->prev_output_channels : d->out_channels) +
              ldm_unet_up_skip_channels(d, i);
    return (ldm_resnet_desc){.prefix = prefix, .in_channels = cin, .out_channels = cout,
                             .temb_channels = d->temb_channels, .groups = d->groups,
                             .eps = d->eps, .output_scale_factor = d->output_scale_factor,
                             .use_in_shortcut = -1, .batch = d->batch, .h = d->h, .w = d->w,
                             .parallel = d->parallel, .align = d->align};
}

static ldm_transformer2d_desc attn_desc(const ldm_unet_block *b)
{
    const ldm_unet_block_desc *d = &b->d;
    int64_t c = block_channels(d, b->kind);
    return (ldm_transformer2d_desc){.batch = d->batch, .height = d->h, .width = d->w,
                                    .in_channels = c, .heads = d->heads,
                                    .head_dim = c / d->heads, .num_layers = 1,
                                    .cross_dim = d->cross_dim,
                                    .context_tokens = d->context_tokens, .groups = d->groups,
                                    .use_linear_projection = d->use_linear_projection,
                                    .parallel = d->parallel, .align = d->align};
}

static ldm_downsample_desc down_desc(const ldm_unet_block *b, const char *prefix)
{
    const ldm_unet_block_desc *d = &b->d;
    return (ldm_downsample_desc){.prefix = prefix, .channels = d->out_channels,
                                 .out_channels = d->out_channels,
                                 .padding = d->downsample_padding, .batch = d->batch, .h = d->h,
                                 .w = d->w, .parallel = d->parallel, .align = d->align};
}

static ldm_upsample_desc up_desc(const ldm_unet_block *b, const char *prefix)
{
    const ldm_unet_block_desc *d = &b->d;
    return (ldm_upsample_desc){.prefix = prefix, .channels = d->out_channels,
                               .out_channels = d->out_channels, .use_conv = 1,
                               .batch = d->batch, .h = d->h, .w = d->w, .out_h = d->up_h,
                               .out_w = d->up_w, .parallel = d->parallel, .align = d->align};
}

ldm_status ldm_unet_block_out_size(const ldm_unet_block_desc *d, int is_up, int64_t *oh,
                                   int64_t *ow)
{
    *oh = d->h;
    *ow = d->w;
    if (!d->add_sampler)
        return LDM_OK;
    if (is_up) {
        *oh = d->up_h ? d->up_h : 2 * d->h;
        *ow = d->up_w ? d->up_w : 2 * d->w;
        return LDM_OK;
    }
    ldm_unet_block tmp = {.d = *d, .kind = BLOCK_DOWN};
    ldm_downsample_desc dd = down_desc(&tmp, "downsamplers.0");
    return ldm_downsample_out_size(&dd, oh, ow);
}

/* Specs or create, for one block: the same walk over its modules. */
static ldm_status build(ldm_unet_block *b, const char *prefix, ldm_spec_list *list,
                        const ldm_weights *w, size_t *need)
{
    ldm_status st = LDM_OK;
    char name[512], sub[64];
    for (int64_t i = 0; i < b->nres; i++) {
        snprintf(sub, sizeof sub, "resnets.%lld", (long long)i);
        LDM_CHECK(ldm_unet_name(name, sizeof name, prefix, sub));
        ldm_resnet_desc rd = resnet_desc(b, i, name);
        if (list)
            LDM_CHECK(ldm_resnet_specs(&rd, list));
        else
            LDM_CHECK(ldm_resnet_create(&rd, w, &b->resnets[i]));
    }
    for (int64_t i = 0; i < b->nattn; i++) {
        snprintf(sub, sizeof sub, "attentions.%lld", (long long)i);
        LDM_CHECK(ldm_unet_name(name, sizeof name, prefix, sub));
        ldm_transformer2d_desc td = attn_desc(b);
        if (list)
            LDM_CHECK(ldm_transformer2d_specs(&td, name, list));
        else
            LDM_CHECK(ldm_transformer2d_create(&td, w, name, need, &b->attns[i]));
    }
    if (b->d.add_sampler && b->kind == BLOCK_DOWN) {
        LDM_CHECK(ldm_unet_name(name, sizeof name, prefix, "downsamplers.0"));
        ldm_downsample_desc dd = down_desc(b, name);
        if (list)
            LDM_CHECK(ldm_downsample_specs(&dd, list));
        else
            LDM_CHECK(ldm_downsample_create(&dd, w, &b->down));
    }
    if (b->d.add_sampler && b->kind == BLOCK_UP) {
        LDM_CHECK(ldm_unet_name(name, sizeof name, prefix, "upsamplers.0"));
        ldm_upsample_desc ud = up_desc(b, name);
        if (list)
            LDM_CHECK(ldm_upsample_specs(&ud, list));
        else
            LDM_CHECK(ldm_upsample_create(&ud, w, &b->up));
    }
cleanup:
    return st;
}

static void init(ldm_unet_block *b, const ldm_unet_block_desc *d, int kind)
{
    memset(b, 0, sizeof *b);
    b->d = *d;
    b->kind = kind;
    b->nres = kind == BLOCK_MID ? d->num_layers + 1 : d->num_layers;
    b->nattn = d->cross_attn ? d->num_layers : 0;
    if (kind != BLOCK_DOWN || !d->add_sampler)
        b->d.downsample_padding = 0;
}

static ldm_status specs(const ldm_unet_block_desc *d, int kind, const char *prefix,
                        ldm_spec_list *list)
{
    ldm_status st = check(d, kind);
    if (st != LDM_OK)
        return st;
    ldm_unet_block b;
    init(&b, d, kind);
    return build(&b, prefix, list, NULL, NULL);
}

ldm_status ldm_unet_down_specs(const ldm_unet_block_desc *d, const char *prefix,
                               ldm_spec_list *list)
{
    return specs(d, BLOCK_DOWN, prefix, list);
}

ldm_status ldm_unet_mid_specs(const ldm_unet_block_desc *d, const char *prefix,
                              ldm_spec_list *list)
{
    return specs(d, BLOCK_MID, prefix, list);
}

ldm_status ldm_unet_up_specs(const ldm_unet_block_desc *d, const char *prefix,
                             ldm_spec_list *list)
{
    return specs(d, BLOCK_UP, prefix, list);
}

static ldm_status create(const ldm_unet_block_desc *d, int kind, const ldm_weights *w,
                         const char *prefix, size_t *need, ldm_unet_block **out)
{
    ldm_status st = LDM_OK;
    ldm_unet_block *b = NULL;
    *out = NULL;
    LDM_CHECK(check(d, kind));
    LDM_CHECK(ldm_alloc(sizeof *b, "UNet block", (void **)&b));
    init(b, d, kind);
    LDM_CHECK(ldm_unet_block_out_size(d, kind == BLOCK_UP, &b->oh, &b->ow));
    LDM_CHECK(ldm_calloc((size_t)b->nres * sizeof *b->resnets, "resnets", (void **)&b->resnets));
    if (b->nattn)
        LDM_CHECK(ldm_calloc((size_t)b->nattn * sizeof *b->attns, "attentions",
                             (void **)&b->attns));
    for (int64_t i = 0; kind == BLOCK_UP && i < b->nres; i++) {
        int64_t c = resnet_desc(b, i, "").in_channels;
        if (c > b->cat_channels)
            b->cat_channels = c;
    }
    LDM_CHECK(build(b, prefix, NULL, w, need));
    *out = b;
    b = NULL;
cleanup:
    ldm_unet_block_destroy(&b);
    return st;
}

ldm_status ldm_unet_down_create(const ldm_unet_block_desc *d, const ldm_weights *w,
                                const char *prefix, size_t *scratch_need, ldm_unet_block **out)
{
    return create(d, BLOCK_DOWN, w, prefix, scratch_need, out);
}

ldm_status ldm_unet_mid_create(const ldm_unet_block_desc *d, const ldm_weights *w,
                               const char *prefix, size_t *scratch_need, ldm_unet_block **out)
{
    return create(d, BLOCK_MID, w, prefix, scratch_need, out);
}

ldm_status ldm_unet_up_create(const ldm_unet_block_desc *d, const ldm_weights *w,
                              const char *prefix, size_t *scratch_need, ldm_unet_block **out)
{
    return create(d, BLOCK_UP, w, prefix, scratch_need, out);
}

void ldm_unet_block_destroy(ldm_unet_block **bp)
{
    if (!bp || !*bp)
        return;
    ldm_unet_block *b = *bp;
    for (int64_t i = 0; b->resnets && i < b->nres; i++)
        ldm_resnet_destroy(&b->resnets[i]);
    for (int64_t i = 0; b->attns && i < b->nattn; i++)
        ldm_transformer2d_destroy(&b->attns[i]);
    ldm_free(b->resnets);
    ldm_free(b->attns);
    ldm_downsample_destroy(&b->down);
    ldm_upsample_destroy(&b->up);
    ldm_free(b);
    *bp = NULL;
}

/* ---- forward ---------------------------------------------------------------- */

/* The vae modules take their temporaries from the arena and cannot run on a
 * measuring one: while measuring, reserve what they would push instead. */
static ldm_status reserve(ldm_unet_exec *ex, size_t bytes)
{
    void *p;
    size_t mark = ldm_arena_mark(ex->arena);
    ldm_status st = ldm_arena_push(ex->arena, bytes, "UNet block module", &p);
    ldm_arena_reset_to(ex->arena, mark);
    return st;
}

static ldm_status run_resnet(ldm_unet_exec *ex, ldm_resnet *r, float *out, const float *in,
                             const float *temb)
{
    if (ldm_unet_measuring(ex))
        return reserve(ex, ldm_resnet_arena_bytes(r));
    return ldm_resnet_forward(r, out, in, temb, ex->arena);
}

ldm_status ldm_unet_block_set_context(ldm_unet_block *b, ldm_unet_exec *ex,
                                      const float *context)
{
    ldm_status st = LDM_OK;
    for (int64_t i = 0; i < b->nattn; i++)
        LDM_CHECK(ldm_transformer2d_set_context(b->attns[i], ex, context));
cleanup:
    return st;
}

ldm_status ldm_unet_down_forward(ldm_unet_block *b, ldm_unet_exec *ex, float *const *states,
                                 const float *x, const float *temb)
{
    ldm_status st = LDM_OK;
    const float *in = x;
    for (int64_t i = 0; i < b->nres; i++) {
        LDM_CHECK(run_resnet(ex, b->resnets[i], states[i], in, temb));
        if (b->nattn)
            LDM_CHECK(ldm_transformer2d_forward(b->attns[i], ex, states[i], states[i]));
        in = states[i];
    }
    if (b->down) {
        if (ldm_unet_measuring(ex))
            LDM_CHECK(reserve(ex, ldm_downsample_arena_bytes(b->down)));
        else
            LDM_CHECK(ldm_downsample_forward(b->down, states[b->nres], in, ex->arena));
    }
cleanup:
    return st;
}

ldm_status ldm_unet_mid_forward(ldm_unet_block *b, ldm_unet_exec *ex, float *out,
                                const float *x, const float *temb)
{
    ldm_status st = LDM_OK;
    const size_t mark = ldm_arena_mark(ex->arena);
    const ldm_unet_block_desc *d = &b->d;
    float *h = NULL; /* [B, h, w, C] */
    const int64_t rows = ldm_unet_block_rows(d, d->h, d->align);
    LDM_CHECK(ldm_unet_push(ex, d->batch * rows * d->w * d->in_channels, "mid hidden", &h));
    LDM_CHECK(run_resnet(ex, b->resnets[0], h, x, temb));
    LDM_CHECK(ldm_transformer2d_forward(b->attns[0], ex, h, h));
    LDM_CHECK(run_resnet(ex, b->resnets[1], out, h, temb));
cleanup:
    ldm_arena_reset_to(ex->arena, mark);
    return st;
}

/* out [pix, ca + cb] = cat(a [pix, ca], b [pix, cb]) on channels (NHWC). */
static void concat_channels(float *out, const float *a, int64_t ca, const float *b, int64_t cb,
                            int64_t pix)
{
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < pix; p++) {
        memcpy(out + p * (ca + cb), a + p * ca, (size_t)ca * sizeof(float));
        memcpy(out + p * (ca + cb) + ca, b + p * cb, (size_t)cb * sizeof(float));
    }
}

ldm_status ldm_unet_up_forward(ldm_unet_block *b, ldm_unet_exec *ex, float *out,
                               const float *x, const float *const *skips, const float *temb)
{
    ldm_status st = LDM_OK;
    const size_t mark = ldm_arena_mark(ex->arena);
    const ldm_unet_block_desc *d = &b->d;
    const int64_t pix = d->batch * ldm_unet_block_rows(d, d->h, d->align) * d->w, n = b->nres;
    const int measuring = ldm_unet_measuring(ex);
    float *cat = NULL, *h = NULL; /* [pix, cat_channels], [pix, out] */
    LDM_CHECK(ldm_unet_push(ex, pix * b->cat_channels, "up concat", &cat));
    if (b->up)
        LDM_CHECK(ldm_unet_push(ex, pix * d->out_channels, "up hidden", &h));
    const float *cur = x;
    int64_t cur_c = d->prev_output_channels;
    for (int64_t i = 0; i < n; i++) {
        int64_t skip_c = ldm_unet_up_skip_channels(d, i);
        if (!measuring)
            concat_channels(cat, cur, cur_c, skips[n - 1 - i], skip_c, pix);
        /* resnets read the concatenation, so one hidden buffer suffices: out
         * itself when no upsampler follows */
        float *dst = b->up ? h : out;
        LDM_CHECK(run_resnet(ex, b->resnets[i], dst, cat, temb));
        if (b->nattn)
            LDM_CHECK(ldm_transformer2d_forward(b->attns[i], ex, dst, dst));
        cur = dst;
        cur_c = d->out_channels;
    }
    if (b->up) {
        if (measuring)
            LDM_CHECK(reserve(ex, ldm_upsample_arena_bytes(b->up)));
        else
            LDM_CHECK(ldm_upsample_forward(b->up, out, h, ex->arena));
    }
cleanup:
    ldm_arena_reset_to(ex->arena, mark);
    return st;
}
