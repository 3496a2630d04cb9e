/* conv2d.c — convolution plans on oneDNN primitives (see conv2d.h). */
#include "kernels/conv2d.h"
#include "core/timers.h"

#include <string.h>

#include "core/alloc.h"
#include "dnnl_util.h"

struct ldm_conv2d_plan {
    ldm_conv2d_desc desc;
    int64_t oh, ow;
    ldm_conv_algo algo;
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    dnnl_primitive_desc_t pd;       /* kept for the implementation name */
    dnnl_primitive_t conv;
    dnnl_primitive_t reorder_in;    /* user layout -> primitive layout, or NULL */
    dnnl_primitive_t reorder_out;   /* primitive layout -> user layout, or NULL */
    dnnl_memory_t user_src, user_dst;   /* handles set per run */
    dnnl_memory_t src, dst;             /* in scratch when reordered, else NULL */
    dnnl_memory_t weights, bias, scratchpad;
    float *weights_data;            /* owned: weights in the primitive's format */
    float *bias_data;               /* owned: [c_out], or NULL */
    size_t pad_bytes, src_bytes, dst_bytes;  /* scratch: [scratchpad|src|dst] */
};

ldm_status ldm_conv2d_out_size(const ldm_conv2d_desc *d, int64_t *oh, int64_t *ow)
{
    *oh = *ow = 0;
    const struct { const char *name; int64_t v, min; } f[] = {
        {"n", d->n, 1}, {"c_in", d->c_in, 1}, {"h", d->h, 1}, {"w", d->w, 1},
        {"c_out", d->c_out, 1}, {"kh", d->kh, 1}, {"kw", d->kw, 1},
        {"stride_h", d->stride_h, 1}, {"stride_w", d->stride_w, 1},
        {"pad_top", d->pad_top, 0}, {"pad_bottom", d->pad_bottom, 0},
        {"pad_left", d->pad_left, 0}, {"pad_right", d->pad_right, 0},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < f[i].min)
            return ldm_error(LDM_EINPUT, "conv2d: %s = %lld (must be >= %lld)", f[i].name,
                             (long long)f[i].v, (long long)f[i].min);
    if (d->layout != LDM_LAYOUT_NCHW && d->layout != LDM_LAYOUT_NHWC)
        return ldm_error(LDM_EINPUT, "conv2d: unknown layout %d", (int)d->layout);
    if (d->algo < LDM_CONV_AUTO || d->algo > LDM_CONV_WINOGRAD)
        return ldm_error(LDM_EINPUT, "conv2d: unknown algo %d", (int)d->algo);
    int64_t ph = d->h + d->pad_top + d->pad_bottom, pw = d->w + d->pad_left + d->pad_right;
    if (ph < d->kh || pw < d->kw)
        return ldm_error(LDM_EINPUT, "conv2d: kernel %lldx%lld larger than padded input %lldx%lld",
                         (long long)d->kh, (long long)d->kw, (long long)ph, (long long)pw);
    *oh = (ph - d->kh) / d->stride_h + 1;
    *ow = (pw - d->kw) / d->stride_w + 1;
    return LDM_OK;
}

/* AUTO: the measured choice of docs/performance.md. Winograd F(4x4,3x3) wins
 * on 3x3 stride-1 layers with enough channels and at least 8x8 outputs; below
 * that (the 4x4 UNet level, the 4-channel conv_in) direct wins or Winograd
 * does not exist. */
static ldm_conv_algo choose_algo(const ldm_conv2d_desc *d, int64_t oh, int64_t ow)
{
    if (d->algo != LDM_CONV_AUTO)
        return d->algo;
    int wino_shape = d->kh == 3 && d->kw == 3 && d->stride_h == 1 && d->stride_w == 1;
    if (wino_shape && d->c_in >= 64 && d->c_out >= 64 && oh >= 8 && ow >= 8)
        return LDM_CONV_WINOGRAD;
    return LDM_CONV_DIRECT;
}

static dnnl_format_tag_t layout_tag(ldm_layout layout)
{
    return layout == LDM_LAYOUT_NHWC ? dnnl_nhwc : dnnl_nchw;
}

/* The convolution primitive descriptor for `algo`. Direct convolution on
 * NHWC runs in place on the caller's layout (brgconv); otherwise oneDNN picks
 * its layout (`any`, usually 16-channel blocks) and the plan reorders. */
static dnnl_status_t make_pd(const ldm_conv2d_plan *p, ldm_conv_algo algo,
                             dnnl_primitive_attr_t attr, dnnl_primitive_desc_t *pd)
{
    const ldm_conv2d_desc *d = &p->desc;
    dnnl_memory_desc_t src, wei, bias, dst;
    dnnl_dims_t src_dims = {d->n, d->c_in, d->h, d->w};
    dnnl_dims_t wei_dims = {d->c_out, d->c_in, d->kh, d->kw};
    dnnl_dims_t bias_dims = {d->c_out};
    dnnl_dims_t dst_dims = {d->n, d->c_out, p->oh, p->ow};
    dnnl_dims_t strides = {d->stride_h, d->stride_w};
    dnnl_dims_t pad_l = {d->pad_top, d->pad_left}, pad_r = {d->pad_bottom, d->pad_right};
    dnnl_format_tag_t act = algo == LDM_CONV_DIRECT && d->layout == LDM_LAYOUT_NHWC
                                ? dnnl_nhwc : dnnl_format_tag_any;
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_tag(&src, 4, src_dims, dnnl_f32, act)) ||
        (s = dnnl_memory_desc_init_by_tag(&wei, 4, wei_dims, dnnl_f32, dnnl_format_tag_any)) ||
        (s = dnnl_memory_desc_init_by_tag(&bias, 1, bias_dims, dnnl_f32, dnnl_a)) ||
        (s = dnnl_memory_desc_init_by_tag(&dst, 4, dst_dims, dnnl_f32, act)))
        return s;
    dnnl_convolution_desc_t cd;
    s = dnnl_convolution_forward_desc_init(
        &cd, dnnl_forward_inference,
        algo == LDM_CONV_WINOGRAD ? dnnl_convolution_winograd : dnnl_convolution_direct,
        &src, &wei, p->bias_data ? &bias : NULL, &dst, strides, pad_l, pad_r);
    if (s != dnnl_success)
        return s;
    return dnnl_primitive_desc_create(pd, &cd, attr, p->engine, NULL);
}

/* A reorder between two layouts of the same tensor, or NULL when they agree. */
static ldm_status make_reorder(const ldm_conv2d_plan *p, const dnnl_memory_desc_t *from,
                               const dnnl_memory_desc_t *to, dnnl_primitive_t *out)
{
    ldm_status st = LDM_OK;
    dnnl_primitive_desc_t rpd = NULL;
    *out = NULL;
    if (dnnl_memory_desc_equal(from, to))
        return LDM_OK;
    LDM_DNNL("conv2d reorder", dnnl_reorder_primitive_desc_create(&rpd, from, p->engine, to,
                                                                  p->engine, NULL));
    LDM_DNNL("conv2d reorder", dnnl_primitive_create(out, rpd));
cleanup:
    dnnl_primitive_desc_destroy(rpd);
    return st;
}

/* Reorder the torch-layout weights into the primitive's format, once. */
static ldm_status pack_weights(ldm_conv2d_plan *p, const float *weight)
{
    ldm_status st = LDM_OK;
    const ldm_conv2d_desc *d = &p->desc;
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(p->pd, dnnl_query_weights_md, 0);
    dnnl_memory_desc_t user_md;
    dnnl_memory_t user = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_dims_t dims = {d->c_out, d->c_in, d->kh, d->kw};
    LDM_CHECK(ldm_alloc(dnnl_memory_desc_get_size(wmd), "conv2d weights",
                        (void **)&p->weights_data));
    LDM_DNNL("conv2d weights", dnnl_memory_create(&p->weights, wmd, p->engine, p->weights_data));
    LDM_DNNL("conv2d weights", dnnl_memory_desc_init_by_tag(&user_md, 4, dims, dnnl_f32, dnnl_oihw));
    LDM_DNNL("conv2d weights", dnnl_memory_create(&user, &user_md, p->engine, (void *)weight));
    LDM_CHECK(make_reorder(p, &user_md, wmd, &reorder));
    if (reorder) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, p->weights}};
        LDM_CHECK(ldm_dnnl_execute(reorder, p->stream, 2, args, "conv2d weight reorder"));
    } else {
        memcpy(p->weights_data, weight, dnnl_memory_desc_get_size(wmd));
    }
cleanup:
    dnnl_primitive_destroy(reorder);
    dnnl_memory_destroy(user);
    return st;
}

/* Memory objects for the activations: the caller's buffers (handles set per
 * run) and, when the primitive wants another layout, buffers in scratch. */
static ldm_status make_activations(ldm_conv2d_plan *p)
{
    ldm_status st = LDM_OK;
    const ldm_conv2d_desc *d = &p->desc;
    dnnl_memory_desc_t usrc, udst;
    dnnl_dims_t src_dims = {d->n, d->c_in, d->h, d->w};
    dnnl_dims_t dst_dims = {d->n, d->c_out, p->oh, p->ow};
    const dnnl_memory_desc_t *src = dnnl_primitive_desc_query_md(p->pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dst = dnnl_primitive_desc_query_md(p->pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *pad = dnnl_primitive_desc_query_md(p->pd, dnnl_query_scratchpad_md, 0);
    LDM_DNNL("conv2d src", dnnl_memory_desc_init_by_tag(&usrc, 4, src_dims, dnnl_f32,
                                                        layout_tag(d->layout)));
    LDM_DNNL("conv2d dst", dnnl_memory_desc_init_by_tag(&udst, 4, dst_dims, dnnl_f32,
                                                        layout_tag(d->layout)));
    LDM_DNNL("conv2d src", dnnl_memory_create(&p->user_src, &usrc, p->engine, DNNL_MEMORY_NONE));
    LDM_DNNL("conv2d dst", dnnl_memory_create(&p->user_dst, &udst, p->engine, DNNL_MEMORY_NONE));
    LDM_CHECK(make_reorder(p, &usrc, src, &p->reorder_in));
    LDM_CHECK(make_reorder(p, dst, &udst, &p->reorder_out));
    p->pad_bytes = pad ? ldm_align64(dnnl_memory_desc_get_size(pad)) : 0;
    if (p->pad_bytes)
        LDM_DNNL("conv2d scratchpad", dnnl_memory_create(&p->scratchpad, pad, p->engine,
                                                         DNNL_MEMORY_NONE));
    if (p->reorder_in) {
        p->src_bytes = ldm_align64(dnnl_memory_desc_get_size(src));
        LDM_DNNL("conv2d src", dnnl_memory_create(&p->src, src, p->engine, DNNL_MEMORY_NONE));
    }
    if (p->reorder_out) {
        p->dst_bytes = ldm_align64(dnnl_memory_desc_get_size(dst));
        LDM_DNNL("conv2d dst", dnnl_memory_create(&p->dst, dst, p->engine, DNNL_MEMORY_NONE));
    }
cleanup:
    return st;
}

/* Create the primitive descriptor, falling back from Winograd to direct when
 * AUTO chose Winograd and oneDNN has none for the shape. */
static ldm_status make_conv(ldm_conv2d_plan *p)
{
    ldm_status st = LDM_OK;
    dnnl_primitive_attr_t attr = NULL;
    LDM_CHECK(ldm_dnnl_attr_create(&attr));
    ldm_conv_algo algo = choose_algo(&p->desc, p->oh, p->ow);
    dnnl_status_t s = make_pd(p, algo, attr, &p->pd);
    if (s == dnnl_unimplemented && algo == LDM_CONV_WINOGRAD && p->desc.algo == LDM_CONV_AUTO) {
        algo = LDM_CONV_DIRECT;
        s = make_pd(p, algo, attr, &p->pd);
    }
    if (s == dnnl_unimplemented && algo == LDM_CONV_WINOGRAD) {
        st = ldm_error(LDM_ERUNTIME, "conv2d: oneDNN has no Winograd convolution for "
                       "%lldx%lld stride %lld (3x3 stride 1 only, on AVX-512 CPUs)",
                       (long long)p->desc.kh, (long long)p->desc.kw, (long long)p->desc.stride_h);
        goto cleanup;
    }
    LDM_DNNL("conv2d primitive_desc_create", s);
    LDM_DNNL("conv2d primitive_create", dnnl_primitive_create(&p->conv, p->pd));
    p->algo = algo;
cleanup:
    dnnl_primitive_attr_destroy(attr);
    return st;
}

ldm_status ldm_conv2d_plan_create(const ldm_conv2d_desc *desc, const float *weight,
                                  const float *bias, ldm_conv2d_plan **out)
{
    ldm_status st = LDM_OK;
    ldm_conv2d_plan *p = NULL;
    *out = NULL;
    int64_t oh, ow;
    LDM_CHECK(ldm_conv2d_out_size(desc, &oh, &ow));
    if (!weight) {
        st = ldm_error(LDM_EINPUT, "conv2d: weight is NULL");
        goto cleanup;
    }
    LDM_CHECK(ldm_calloc(sizeof *p, "conv2d plan", (void **)&p));
    p->desc = *desc;
    p->oh = oh;
    p->ow = ow;
    if (bias) {
        LDM_CHECK(ldm_alloc((size_t)desc->c_out * sizeof(float), "conv2d bias",
                            (void **)&p->bias_data));
        memcpy(p->bias_data, bias, (size_t)desc->c_out * sizeof(float));
    }
    LDM_CHECK(ldm_dnnl_engine_create(&p->engine, &p->stream));
    LDM_CHECK(make_conv(p));
    LDM_CHECK(pack_weights(p, weight));
    if (p->bias_data) {
        dnnl_memory_desc_t bmd;
        dnnl_dims_t dims = {desc->c_out};
        LDM_DNNL("conv2d bias", dnnl_memory_desc_init_by_tag(&bmd, 1, dims, dnnl_f32, dnnl_a));
        LDM_DNNL("conv2d bias", dnnl_memory_create(&p->bias, &bmd, p->engine, p->bias_data));
    }
    LDM_CHECK(make_activations(p));
    *out = p;
    p = NULL;
cleanup:
    ldm_conv2d_plan_destroy(&p);
    return st;
}

size_t ldm_conv2d_scratch_bytes(const ldm_conv2d_plan *plan)
{
    return plan->pad_bytes + plan->src_bytes + plan->dst_bytes;
}

static ldm_status conv2d_run_impl(ldm_conv2d_plan *p, float *out, const float *in, void *scratch)
{
    ldm_status st = LDM_OK;
    char *s = scratch;
    LDM_DNNL("conv2d set src", dnnl_memory_set_data_handle(p->user_src, (void *)in));
    LDM_DNNL("conv2d set dst", dnnl_memory_set_data_handle(p->user_dst, out));
    if (p->scratchpad)
        LDM_DNNL("conv2d set scratchpad", dnnl_memory_set_data_handle(p->scratchpad, s));
    if (p->src)
        LDM_DNNL("conv2d set src", dnnl_memory_set_data_handle(p->src, s + p->pad_bytes));
    if (p->dst)
        LDM_DNNL("conv2d set dst", dnnl_memory_set_data_handle(
                                       p->dst, s + p->pad_bytes + p->src_bytes));
    dnnl_memory_t src = p->src ? p->src : p->user_src;
    dnnl_memory_t dst = p->dst ? p->dst : p->user_dst;
    if (p->reorder_in) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, p->user_src}, {DNNL_ARG_TO, src}};
        LDM_CHECK(ldm_dnnl_execute(p->reorder_in, p->stream, 2, args, "conv2d input reorder"));
    }
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p->weights},
                               {DNNL_ARG_DST, dst}};
    int nargs = 3;
    if (p->bias)
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, p->bias};
    if (p->scratchpad)
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, p->scratchpad};
    LDM_CHECK(ldm_dnnl_execute(p->conv, p->stream, nargs, args, "conv2d execute"));
    if (p->reorder_out) {
        dnnl_exec_arg_t rargs[] = {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, p->user_dst}};
        LDM_CHECK(ldm_dnnl_execute(p->reorder_out, p->stream, 2, rargs, "conv2d output reorder"));
    }
cleanup:
    return st;
}

ldm_conv_algo ldm_conv2d_plan_algo(const ldm_conv2d_plan *plan)
{
    return plan->algo;
}

const char *ldm_conv2d_plan_impl(const ldm_conv2d_plan *plan)
{
    const char *name = NULL;
    if (dnnl_primitive_desc_query(plan->pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success)
        return "unknown";
    return name;
}

void ldm_conv2d_plan_destroy(ldm_conv2d_plan **plan)
{
    ldm_conv2d_plan *p = plan ? *plan : NULL;
    if (!p)
        return;
    dnnl_primitive_destroy(p->conv);
    dnnl_primitive_destroy(p->reorder_in);
    dnnl_primitive_destroy(p->reorder_out);
    dnnl_primitive_desc_destroy(p->pd);
    dnnl_memory_destroy(p->user_src);
    dnnl_memory_destroy(p->user_dst);
    dnnl_memory_destroy(p->src);
    dnnl_memory_destroy(p->dst);
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

/* Public entry points: one timer entry per call (core/timers.h). */
ldm_status ldm_conv2d_run(ldm_conv2d_plan *p, float *out, const float *in, void *scratch)
{
    const double t0 = ldm_timer_now();
    ldm_status st = conv2d_run_impl(p, out, in, scratch);
    ldm_timer_add(LDM_T_CONV, ldm_timer_now() - t0, 0);
    return st;
}
