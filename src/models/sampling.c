/* sampling.c — Downsample2D and Upsample2D (see sampling.h). */
#include "models/sampling.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/resample.h"
#include "mpi/util.h"

/* ---- Downsample2D ------------------------------------------------------ */

struct ldm_downsample {
    char *prefix;              /* owned */
    ldm_model_conv *conv;      /* [out, ch, 3, 3], stride 2 */
    size_t arena_bytes;
};

/* Checked desc with defaults, and its conv description. */
static ldm_status down_resolve(const ldm_downsample_desc *in, ldm_downsample_desc *d,
                               ldm_conv2d_desc *c)
{
    *d = *in;
    if (!d->prefix)
        return ldm_error(LDM_EINPUT, "Downsample2D: no prefix");
    if (d->out_channels == 0)
        d->out_channels = d->channels;
    if (d->channels <= 0 || d->out_channels <= 0)
        return ldm_error(LDM_EINPUT, "Downsample2D %s: channels %lld -> %lld must be positive",
                         d->prefix, (long long)d->channels, (long long)d->out_channels);
    if (d->padding < 0)
        return ldm_error(LDM_EINPUT, "Downsample2D %s: padding %lld is negative", d->prefix,
                         (long long)d->padding);
    if (d->batch <= 0 || d->h <= 0 || d->w <= 0)
        return ldm_error(LDM_EINPUT,
                         "Downsample2D %s: input shape [%lld, %lld, %lld] must be positive",
                         d->prefix, (long long)d->batch, (long long)d->h, (long long)d->w);
    int64_t p = d->padding;
    *c = (ldm_conv2d_desc){.n = d->batch, .c_in = d->channels, .h = d->h, .w = d->w,
                           .c_out = d->out_channels, .kh = 3, .kw = 3, .stride_h = 2,
                           .stride_w = 2, .pad_top = p, .pad_bottom = p, .pad_left = p,
                           .pad_right = p, .layout = LDM_LAYOUT_NHWC, .algo = LDM_CONV_AUTO};
    if (p == 0) /* diffusers: F.pad(x, (0, 1, 0, 1)) then an unpadded conv */
        c->pad_bottom = c->pad_right = 1;
    int64_t oh, ow;
    ldm_status st = ldm_conv2d_out_size(c, &oh, &ow);
    if (st != LDM_OK)
        ldm_error_context("Downsample2D %s: ", d->prefix);
    return st;
}

ldm_status ldm_downsample_out_size(const ldm_downsample_desc *desc, int64_t *oh, int64_t *ow)
{
    ldm_downsample_desc d;
    ldm_conv2d_desc c;
    ldm_status st = down_resolve(desc, &d, &c);
    if (st != LDM_OK)
        return st;
    return ldm_conv2d_out_size(&c, oh, ow);
}

ldm_status ldm_downsample_specs(const ldm_downsample_desc *desc, ldm_spec_list *list)
{
    ldm_status st = LDM_OK;
    ldm_downsample_desc d;
    ldm_conv2d_desc c;
    LDM_CHECK(down_resolve(desc, &d, &c));
    int64_t wshape[4] = {d.out_channels, d.channels, 3, 3};
    LDM_CHECK(ldm_spec_list_add(list, 4, wshape, "%s.conv.weight", d.prefix));
    LDM_CHECK(ldm_spec_list_add(list, 1, &d.out_channels, "%s.conv.bias", d.prefix));
cleanup:
    return st;
}

ldm_status ldm_downsample_create(const ldm_downsample_desc *desc, const ldm_weights *w,
                                 ldm_downsample **out)
{
    ldm_status st = LDM_OK;
    ldm_downsample *b = NULL;
    ldm_downsample_desc d;
    ldm_conv2d_desc c;
    char name[512];
    *out = NULL;
    LDM_CHECK(down_resolve(desc, &d, &c));
    LDM_CHECK(ldm_calloc(sizeof *b, "Downsample2D", (void **)&b));
    LDM_CHECK(ldm_strdup(d.prefix, &b->prefix));
    snprintf(name, sizeof name, "%s.conv", d.prefix);
    LDM_CHECK(ldm_model_conv_create(d.parallel, d.align, &c, w, name, 1, &b->conv));
    size_t scratch = ldm_model_conv_scratch_bytes(b->conv);
    b->arena_bytes = (scratch + 63) / 64 * 64;
    *out = b;
    b = NULL;
cleanup:
    ldm_downsample_destroy(&b);
    return st;
}

size_t ldm_downsample_arena_bytes(const ldm_downsample *block)
{
    return block->arena_bytes;
}

ldm_status ldm_downsample_forward(ldm_downsample *b, float *out, const float *in, ldm_arena *arena)
{
    ldm_status st = LDM_OK;
    size_t mark = ldm_arena_mark(arena);
    void *scratch = NULL;
    size_t bytes = ldm_model_conv_scratch_bytes(b->conv);
    if (bytes)
        LDM_CHECK(ldm_arena_push(arena, bytes, "Downsample2D scratch", &scratch));
    LDM_CHECK(ldm_model_conv_run(b->conv, out, in, scratch));
cleanup:
    ldm_arena_reset_to(arena, mark);
    if (st != LDM_OK)
        ldm_error_context("Downsample2D %s: ", b->prefix);
    return st;
}

void ldm_downsample_destroy(ldm_downsample **block)
{
    if (!block || !*block)
        return;
    ldm_model_conv_destroy(&(*block)->conv);
    ldm_free((*block)->prefix);
    ldm_free(*block);
    *block = NULL;
}

/* ---- Upsample2D -------------------------------------------------------- */

struct ldm_upsample {
    char *prefix;              /* owned */
    int64_t n, c, h, w, oh, ow;   /* the whole activations' sizes */
    int64_t i0, i1, o0, o1;    /* this rank's input and output rows */
    ldm_model_conv *conv;      /* [out, ch, 3, 3] or NULL */
    size_t arena_bytes;
};

static ldm_status up_resolve(const ldm_upsample_desc *in, ldm_upsample_desc *d)
{
    *d = *in;
    if (!d->prefix)
        return ldm_error(LDM_EINPUT, "Upsample2D: no prefix");
    if (d->out_channels == 0)
        d->out_channels = d->channels;
    if (d->channels <= 0 || d->out_channels <= 0)
        return ldm_error(LDM_EINPUT, "Upsample2D %s: channels %lld -> %lld must be positive",
                         d->prefix, (long long)d->channels, (long long)d->out_channels);
    if (!d->use_conv && d->out_channels != d->channels)
        return ldm_error(LDM_EINPUT, "Upsample2D %s: without a conv out_channels (%lld) must equal "
                         "channels (%lld)", d->prefix, (long long)d->out_channels,
                         (long long)d->channels);
    if (d->batch <= 0 || d->h <= 0 || d->w <= 0)
        return ldm_error(LDM_EINPUT,
                         "Upsample2D %s: input shape [%lld, %lld, %lld] must be positive",
                         d->prefix, (long long)d->batch, (long long)d->h, (long long)d->w);
    if (d->out_h == 0 && d->out_w == 0) {
        d->out_h = 2 * d->h;
        d->out_w = 2 * d->w;
    }
    if (d->out_h <= 0 || d->out_w <= 0)
        return ldm_error(LDM_EINPUT, "Upsample2D %s: output size %lld x %lld must be positive",
                         d->prefix, (long long)d->out_h, (long long)d->out_w);
    return LDM_OK;
}

ldm_status ldm_upsample_specs(const ldm_upsample_desc *desc, ldm_spec_list *list)
{
    ldm_status st = LDM_OK;
    ldm_upsample_desc d;
    LDM_CHECK(up_resolve(desc, &d));
    if (d.use_conv) {
        int64_t wshape[4] = {d.out_channels, d.channels, 3, 3};
        LDM_CHECK(ldm_spec_list_add(list, 4, wshape, "%s.conv.weight", d.prefix));
        LDM_CHECK(ldm_spec_list_add(list, 1, &d.out_channels, "%s.conv.bias", d.prefix));
    }
cleanup:
    return st;
}

ldm_status ldm_upsample_create(const ldm_upsample_desc *desc, const ldm_weights *w,
                               ldm_upsample **out)
{
    ldm_status st = LDM_OK;
    ldm_upsample *b = NULL;
    ldm_upsample_desc d;
    char name[512];
    *out = NULL;
    LDM_CHECK(up_resolve(desc, &d));
    LDM_CHECK(ldm_calloc(sizeof *b, "Upsample2D", (void **)&b));
    LDM_CHECK(ldm_strdup(d.prefix, &b->prefix));
    b->n = d.batch;
    b->c = d.channels;
    b->h = d.h;
    b->w = d.w;
    b->oh = d.out_h;
    b->ow = d.out_w;
    int64_t align = d.align > 0 ? d.align : 1;
    ldm_model_parallel_rows(d.parallel, d.h, align, &b->i0, &b->i1);
    ldm_model_parallel_rows(d.parallel, d.out_h, 2 * align, &b->o0, &b->o1);
    /* the strip rule: each output strip reads only its input strip (checked
     * for every rank, so that all fail together) */
    int ps = ldm_model_parallel_spatial_size(d.parallel);
    for (int i = 0; ps > 1 && i < ps; i++) {
        int64_t i0, i1, o0, o1;
        ldm_mpi_partition(d.h, ps, i, align, &i0, &i1);
        ldm_mpi_partition(d.out_h, ps, i, 2 * align, &o0, &o1);
        LDM_CHECK(ldm_resize_nearest_rows(NULL, NULL, 0, 0, b->h, i0, i1, b->w, b->oh, o0, o1,
                                          b->ow));
    }
    if (d.use_conv) {
        ldm_conv2d_desc c = {.n = d.batch, .c_in = d.channels, .h = d.out_h, .w = d.out_w,
                             .c_out = d.out_channels, .kh = 3, .kw = 3, .stride_h = 1,
                             .stride_w = 1, .pad_top = 1, .pad_bottom = 1, .pad_left = 1,
                             .pad_right = 1, .layout = LDM_LAYOUT_NHWC, .algo = LDM_CONV_AUTO};
        snprintf(name, sizeof name, "%s.conv", d.prefix);
        LDM_CHECK(ldm_model_conv_create(d.parallel, 2 * align, &c, w, name, 1, &b->conv));
        ldm_arena measure;
        ldm_arena_init_measure(&measure);
        void *p;
        LDM_CHECK(ldm_arena_push(&measure,
                                 (size_t)(b->n * (b->o1 - b->o0) * b->ow * b->c) * sizeof(float),
                                 "", &p));
        LDM_CHECK(ldm_arena_push(&measure, ldm_model_conv_scratch_bytes(b->conv), "", &p));
        b->arena_bytes = measure.peak;
    }
    *out = b;
    b = NULL;
cleanup:
    ldm_upsample_destroy(&b);
    return st;
}

size_t ldm_upsample_arena_bytes(const ldm_upsample *block)
{
    return block->arena_bytes;
}

/* torch's nearest source index (aten/src/ATen/native/UpSample.h,
 * nearest_idx): exact shift for 2×, else floor(dst · (float)in/out). */
static int64_t nearest_src(int64_t dst, int64_t in, int64_t out)
{
    if (out == in)
        return dst;
    if (out == 2 * in)
        return dst >> 1;
    float scale = (float)in / (float)out;
    int64_t src = (int64_t)floorf((float)dst * scale);
    return src < in - 1 ? src : in - 1;
}

void ldm_resize_nearest_nhwc(float *out, const float *in, int64_t n, int64_t c, int64_t h,
                             int64_t w, int64_t oh, int64_t ow)
{
    if (oh == 2 * h && ow == 2 * w) {
        ldm_upsample_nearest2x(out, in, n, c, h, w, LDM_LAYOUT_NHWC);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n * oh; r++) {
        int64_t b = r / oh, y = r % oh;
        const float *src_row = in + (b * h + nearest_src(y, h, oh)) * w * c;
        float *dst = out + r * ow * c;
        for (int64_t x = 0; x < ow; x++)
            memcpy(dst + x * c, src_row + nearest_src(x, w, ow) * c, (size_t)c * sizeof *dst);
    }
}

/* Checked at create: the rows are this rank's strips. */
static void resize_strip(const ldm_upsample *b, float *out, const float *in)
{
    (void)ldm_resize_nearest_rows(out, in, b->n, b->c, b->h, b->i0, b->i1, b->w, b->oh, b->o0,
                                  b->o1, b->ow);
}

ldm_status ldm_resize_nearest_rows(float *out, const float *in, int64_t n, int64_t c, int64_t h,
                                   int64_t i0, int64_t i1, int64_t w, int64_t oh, int64_t o0,
                                   int64_t o1, int64_t ow)
{
    if (i0 == 0 && i1 == h && o0 == 0 && o1 == oh) {
        if (out)
            ldm_resize_nearest_nhwc(out, in, n, c, h, w, oh, ow);
        return LDM_OK;
    }
    if (o0 < o1 && (nearest_src(o0, h, oh) < i0 || nearest_src(o1 - 1, h, oh) >= i1))
        return ldm_error(LDM_EINPUT, "nearest resize %lld -> %lld rows: output rows [%lld, %lld) "
                         "need input rows outside [%lld, %lld) (the strip rule needs the input "
                         "height ceil(out / 2); use fewer spatial ranks or another latent size)",
                         (long long)h, (long long)oh, (long long)o0, (long long)o1,
                         (long long)i0, (long long)i1);
    if (!out)
        return LDM_OK;
    const int64_t rows = o1 - o0, in_rows = i1 - i0;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n * rows; r++) {
        int64_t b = r / rows, y = o0 + r % rows;
        const float *src_row = in + (b * in_rows + nearest_src(y, h, oh) - i0) * w * c;
        float *dst = out + r * ow * c;
        for (int64_t x = 0; x < ow; x++)
            memcpy(dst + x * c, src_row + nearest_src(x, w, ow) * c, (size_t)c * sizeof *dst);
    }
    return LDM_OK;
}

ldm_status ldm_upsample_forward(ldm_upsample *b, float *out, const float *in, ldm_arena *arena)
{
    ldm_status st = LDM_OK;
    size_t mark = ldm_arena_mark(arena);
    if (!b->conv) {
        resize_strip(b, out, in);
        return LDM_OK;
    }
    float *up = NULL; /* [n, o1 − o0, ow, c] */
    void *scratch = NULL;
    LDM_CHECK(ldm_arena_push_f32(arena, b->n * (b->o1 - b->o0) * b->ow * b->c, "Upsample2D",
                                 &up));
    size_t bytes = ldm_model_conv_scratch_bytes(b->conv);
    if (bytes)
        LDM_CHECK(ldm_arena_push(arena, bytes, "Upsample2D scratch", &scratch));
    resize_strip(b, up, in);
    LDM_CHECK(ldm_model_conv_run(b->conv, out, up, scratch));
cleanup:
    ldm_arena_reset_to(arena, mark);
    if (st != LDM_OK)
        ldm_error_context("Upsample2D %s: ", b->prefix);
    return st;
}

void ldm_upsample_destroy(ldm_upsample **block)
{
    if (!block || !*block)
        return;
    ldm_model_conv_destroy(&(*block)->conv);
    ldm_free((*block)->prefix);
    ldm_free(*block);
    *block = NULL;
}
