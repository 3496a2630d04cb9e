/* unet.c — UNet2DConditionModel: geometry, weights, forward (see unet.h). */
#include "models/unet.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "kernels/elementwise.h"
#include "kernels/layout.h"
#include "kernels/norm.h"
#include "models/unet_blocks.h"
#include "models/unet_util.h"

/* One residual state of the down path: [batch, h, w, c]. */
typedef struct res_state {
    int64_t c, h, w;       /* h: all strips' rows */
    int64_t align;         /* the strip alignment of its level */
} res_state;

struct ldm_unet {
    ldm_unet_config cfg;
    int64_t batch, h, w, ctx_tokens;    /* h: the whole latent's rows */
    int levels;
    ldm_model_parallel par_store;         /* the context's communicators (borrowed handles) */
    const ldm_model_parallel *par;        /* &par_store, or NULL: no split */
    int64_t r0, r1;                       /* this rank's latent rows */
    ldm_unet_block_desc down_d[LDM_UNET_MAX_LEVELS], mid_d, up_d[LDM_UNET_MAX_LEVELS];
    ldm_unet_time_desc time_d;
    ldm_model_conv *conv_in;              /* in → C0, conv_in_kernel */
    ldm_unet_time *time;
    ldm_unet_block *down[LDM_UNET_MAX_LEVELS], *mid, *up[LDM_UNET_MAX_LEVELS];
    float *norm_out_w, *norm_out_b;       /* conv_norm_out: [C0] */
    ldm_model_conv *conv_out;             /* C0 → out, conv_out_kernel */
    int nstates;                          /* residuals of the down path */
    res_state *states;                    /* owned: their shapes */
    float **state_ptr;                    /* owned: their buffers during a forward */
    float *context;                       /* owned: [B, L, cross] the context whose k/v the
                                             attentions hold (valid when has_context) */
    int has_context;
    int64_t hidden_max;                   /* floats of the largest mid/up output (strips) */
    ldm_arena arena;                      /* activations, sized by a measuring pass */
    void *scratch;                        /* owned: shared kernel scratch */
    size_t scratch_bytes;
};

/* ---- geometry ------------------------------------------------------------- */

/* The strip alignment of level i (models/parallel.h: 2^(levels − 1 − i)). */
static int64_t level_align(const ldm_unet *u, int level)
{
    return (int64_t)1 << (u->levels - 1 - level);
}

/* This rank's rows of an h-row activation with alignment `align`. */
static int64_t local_rows(const ldm_unet *u, int64_t h, int64_t align)
{
    int64_t r0, r1;
    ldm_model_parallel_rows(u->par, h, align, &r0, &r1);
    return r1 - r0;
}

static ldm_unet_block_desc block_base(const ldm_unet *u, int level)
{
    const ldm_unet_config *c = &u->cfg;
    return (ldm_unet_block_desc){.batch = u->batch, .temb_channels = c->time_embed_dim,
                                 .groups = c->norm_num_groups, .eps = c->norm_eps,
                                 .output_scale_factor = 1.0, .heads = c->heads[level],
                                 .cross_dim = c->cross_attention_dim,
                                 .context_tokens = u->ctx_tokens,
                                 .use_linear_projection = c->use_linear_projection,
                                 .parallel = u->par, .align = level_align(u, level)};
}

/* Down path: block descs, residual shapes; mid block. */
static ldm_status plan_down(ldm_unet *u)
{
    ldm_status st = LDM_OK;
    const ldm_unet_config *c = &u->cfg;
    int64_t h = u->h, w = u->w, total = 1;
    for (int i = 0; i < u->levels; i++)
        total += c->layers_per_block[i] + (i < u->levels - 1);
    LDM_CHECK(ldm_calloc((size_t)total * sizeof *u->states, "UNet residuals",
                         (void **)&u->states));
    LDM_CHECK(ldm_calloc((size_t)total * sizeof *u->state_ptr, "UNet residuals",
                         (void **)&u->state_ptr));
    u->states[u->nstates++] = (res_state){c->block_out_channels[0], h, w, level_align(u, 0)};
    for (int i = 0; i < u->levels; i++) {
        ldm_unet_block_desc *d = &u->down_d[i];
        *d = block_base(u, i);
        d->cross_attn = c->down_cross[i];
        d->h = h;
        d->w = w;
        d->num_layers = c->layers_per_block[i];
        d->in_channels = c->block_out_channels[i > 0 ? i - 1 : 0];
        d->out_channels = c->block_out_channels[i];
        d->add_sampler = i < u->levels - 1;
        d->downsample_padding = c->downsample_padding;
        for (int64_t k = 0; k < d->num_layers; k++)
            u->states[u->nstates++] = (res_state){d->out_channels, h, w, d->align};
        if (d->add_sampler) {
            st = ldm_unet_block_out_size(d, 0, &h, &w);
            if (st != LDM_OK) {
                ldm_error_context("latent %lld x %lld, down_blocks.%d: ", (long long)u->h,
                                  (long long)u->w, i);
                goto cleanup;
            }
            u->states[u->nstates++] = (res_state){d->out_channels, h, w, d->align / 2};
        }
    }
    u->mid_d = block_base(u, u->levels - 1);
    u->mid_d.cross_attn = 1;
    u->mid_d.num_layers = 1;
    u->mid_d.h = h;
    u->mid_d.w = w;
    u->mid_d.in_channels = c->block_out_channels[u->levels - 1];
    u->mid_d.out_channels = u->mid_d.in_channels;
    u->mid_d.output_scale_factor = c->mid_block_scale_factor;
    u->hidden_max = u->batch * local_rows(u, h, 1) * w * u->mid_d.in_channels;
cleanup:
    return st;
}

/* Up path: pop each block's skips off the residual list as diffusers does,
 * checking that their channels and sizes fit; upsample to the next
 * residual's size when the latent is not a multiple of 2^(levels − 1). */
static ldm_status plan_up(ldm_unet *u)
{
    const ldm_unet_config *c = &u->cfg;
    const int n = u->levels;
    const int64_t factor = (int64_t)1 << (n - 1);
    const int forward_size = u->h % factor != 0 || u->w % factor != 0;
    int64_t h = u->mid_d.h, w = u->mid_d.w, prev = c->block_out_channels[n - 1];
    int top = u->nstates;
    for (int i = 0; i < n; i++) {
        int level = n - 1 - i;
        ldm_unet_block_desc *d = &u->up_d[i];
        *d = block_base(u, level);
        d->cross_attn = c->up_cross[i];
        d->h = h;
        d->w = w;
        d->num_layers = c->layers_per_block[level] + 1;
        d->out_channels = c->block_out_channels[level];
        d->in_channels = c->block_out_channels[level > 0 ? level - 1 : 0];
        d->prev_output_channels = prev;
        d->add_sampler = i < n - 1;
        if (d->num_layers > top)
            return ldm_error(LDM_EINPUT, "UNet config: up_blocks.%d needs %lld residuals, "
                             "%d left", i, (long long)d->num_layers, top);
        for (int64_t j = 0; j < d->num_layers; j++) {
            const res_state *s = &u->states[top - 1 - j];
            if (s->c != ldm_unet_up_skip_channels(d, j) || s->h != h || s->w != w)
                return ldm_error(LDM_EINPUT,
                                 "UNet config: up_blocks.%d.resnets.%lld gets a residual "
                                 "[%lld, %lld, %lld] but expects [%lld, %lld, %lld] "
                                 "(diffusers would fail too)", i, (long long)j,
                                 (long long)s->c, (long long)s->h, (long long)s->w,
                                 (long long)ldm_unet_up_skip_channels(d, j), (long long)h,
                                 (long long)w);
        }
        top -= (int)d->num_layers;
        if (d->add_sampler) {
            const res_state *next = &u->states[top - 1];
            if (forward_size) {
                d->up_h = next->h;
                d->up_w = next->w;
            }
            h = forward_size ? next->h : 2 * h;
            w = forward_size ? next->w : 2 * w;
        }
        int64_t floats = u->batch * local_rows(u, h, d->add_sampler ? d->align * 2 : d->align) *
                         w * d->out_channels;
        if (floats > u->hidden_max)
            u->hidden_max = floats;
        prev = d->out_channels;
    }
    return LDM_OK;
}

/* ---- weights ------------------------------------------------------------------ */

static ldm_conv2d_desc conv_desc(const ldm_unet *u, int64_t cin, int64_t cout, int64_t k)
{
    int64_t p = (k - 1) / 2;
    return (ldm_conv2d_desc){.n = u->batch, .c_in = cin, .h = u->h, .w = u->w, .c_out = cout,
                             .kh = k, .kw = k, .stride_h = 1, .stride_w = 1, .pad_top = p,
                             .pad_bottom = p, .pad_left = p, .pad_right = p,
                             .layout = LDM_LAYOUT_NHWC, .algo = LDM_CONV_AUTO};
}

static ldm_status add_conv_specs(ldm_spec_list *l, const char *name, int64_t cout, int64_t cin,
                                 int64_t k)
{
    const int64_t shape[4] = {cout, cin, k, k};
    ldm_status st = ldm_spec_list_add(l, 4, shape, "%s.weight", name);
    return st != LDM_OK ? st : ldm_spec_list_add(l, 1, &cout, "%s.bias", name);
}

static ldm_status specs(const ldm_unet *u, ldm_spec_list *l)
{
    ldm_status st = LDM_OK;
    const ldm_unet_config *c = &u->cfg;
    const int64_t c0 = c->block_out_channels[0];
    char name[64];
    LDM_CHECK(add_conv_specs(l, "conv_in", c0, c->in_channels, c->conv_in_kernel));
    LDM_CHECK(ldm_unet_time_specs(&u->time_d, "time_embedding", l));
    for (int i = 0; i < u->levels; i++) {
        snprintf(name, sizeof name, "down_blocks.%d", i);
        LDM_CHECK(ldm_unet_down_specs(&u->down_d[i], name, l));
    }
    LDM_CHECK(ldm_unet_mid_specs(&u->mid_d, "mid_block", l));
    for (int i = 0; i < u->levels; i++) {
        snprintf(name, sizeof name, "up_blocks.%d", i);
        LDM_CHECK(ldm_unet_up_specs(&u->up_d[i], name, l));
    }
    LDM_CHECK(ldm_spec_list_add(l, 1, &c0, "conv_norm_out.weight"));
    LDM_CHECK(ldm_spec_list_add(l, 1, &c0, "conv_norm_out.bias"));
    LDM_CHECK(add_conv_specs(l, "conv_out", c->out_channels, c0, c->conv_out_kernel));
cleanup:
    return st;
}

static ldm_status build(ldm_unet *u, const ldm_weights *w)
{
    ldm_status st = LDM_OK;
    const ldm_unet_config *c = &u->cfg;
    const int64_t c0 = c->block_out_channels[0], align = level_align(u, 0);
    size_t *need = &u->scratch_bytes;
    char name[64];
    ldm_conv2d_desc cd = conv_desc(u, c->in_channels, c0, c->conv_in_kernel);
    LDM_CHECK(ldm_unet_load_conv(u->par, align, w, "conv_in", &cd, need, &u->conv_in));
    LDM_CHECK(ldm_unet_time_create(&u->time_d, w, "time_embedding", need, &u->time));
    for (int i = 0; i < u->levels; i++) {
        snprintf(name, sizeof name, "down_blocks.%d", i);
        LDM_CHECK(ldm_unet_down_create(&u->down_d[i], w, name, need, &u->down[i]));
    }
    LDM_CHECK(ldm_unet_mid_create(&u->mid_d, w, "mid_block", need, &u->mid));
    for (int i = 0; i < u->levels; i++) {
        snprintf(name, sizeof name, "up_blocks.%d", i);
        LDM_CHECK(ldm_unet_up_create(&u->up_d[i], w, name, need, &u->up[i]));
    }
    LDM_CHECK(ldm_unet_load_vector(w, "conv_norm_out", "weight", c0, &u->norm_out_w));
    LDM_CHECK(ldm_unet_load_vector(w, "conv_norm_out", "bias", c0, &u->norm_out_b));
    cd = conv_desc(u, c0, c->out_channels, c->conv_out_kernel);
    LDM_CHECK(ldm_unet_load_conv(u->par, align, w, "conv_out", &cd, need, &u->conv_out));
cleanup:
    return st;
}

/* ---- forward -------------------------------------------------------------------- */

/* The cross-attention keys and values depend only on the context, which a
 * sampler passes unchanged at every step: project it again only when its
 * bytes differ from the last call's (the comparison costs ~0.1 ms). */
static ldm_status set_context(ldm_unet *u, ldm_unet_exec *ex, const float *context)
{
    ldm_status st = LDM_OK;
    const size_t bytes = (size_t)(u->batch * u->ctx_tokens * u->cfg.cross_attention_dim) *
                         sizeof(float);
    if (ldm_unet_measuring(ex) || (u->has_context && memcmp(u->context, context, bytes) == 0))
        return LDM_OK;
    u->has_context = 0;
    for (int i = 0; i < u->levels; i++) {
        LDM_CHECK(ldm_unet_block_set_context(u->down[i], ex, context));
        LDM_CHECK(ldm_unet_block_set_context(u->up[i], ex, context));
    }
    LDM_CHECK(ldm_unet_block_set_context(u->mid, ex, context));
    memcpy(u->context, context, bytes);
    u->has_context = 1;
cleanup:
    return st;
}

static ldm_status forward(ldm_unet *u, ldm_unet_exec *ex, const float *sample,
                          const float *timesteps, const float *context, float *out)
{
    ldm_status st = LDM_OK;
    const ldm_unet_config *c = &u->cfg;
    const int measuring = ldm_unet_measuring(ex);
    const size_t mark = ldm_arena_mark(ex->arena);
    const int64_t n = u->batch, rows = u->r1 - u->r0, pix = n * rows * u->w;
    const int64_t c0 = c->block_out_channels[0];
    float *x, *emb, *hidden[2], *norm, *y;
    LDM_CHECK(ldm_unet_push(ex, pix * c->in_channels, "UNet input", &x));      /* [B, h, w, in] */
    LDM_CHECK(ldm_unet_push(ex, n * c->time_embed_dim, "UNet temb", &emb));    /* [B, T] */
    LDM_CHECK(ldm_unet_push(ex, u->hidden_max, "UNet hidden", &hidden[0]));
    LDM_CHECK(ldm_unet_push(ex, u->hidden_max, "UNet hidden", &hidden[1]));
    if (!measuring) {
        ldm_layout_convert(x, LDM_LAYOUT_NHWC, sample, LDM_LAYOUT_NCHW, n, c->in_channels, rows,
                           u->w);
        if (c->center_input_sample) /* 2 * sample - 1.0 */
            for (int64_t i = 0; i < pix * c->in_channels; i++)
                x[i] = 2.0f * x[i] - 1.0f;
    }
    LDM_CHECK(ldm_unet_time_forward(u->time, ex, emb, timesteps));
    LDM_CHECK(set_context(u, ex, context));
    /* down: every residual gets its own buffer, kept until its up block */
    for (int k = 0; k < u->nstates; k++) {
        const res_state *s = &u->states[k];
        LDM_CHECK(ldm_unet_push(ex, n * local_rows(u, s->h, s->align) * s->w * s->c,
                                "UNet residual", &u->state_ptr[k]));
    }
    LDM_CHECK(ldm_unet_run_conv(ex, u->conv_in, u->state_ptr[0], x));
    int k = 1;
    for (int i = 0; i < u->levels; i++) {
        LDM_CHECK(ldm_unet_down_forward(u->down[i], ex, u->state_ptr + k, u->state_ptr[k - 1],
                                        emb));
        k += (int)ldm_unet_down_states(&u->down_d[i]);
    }
    LDM_CHECK(ldm_unet_mid_forward(u->mid, ex, hidden[0], u->state_ptr[k - 1], emb));
    /* up: ping-pong between the two hidden buffers */
    for (int i = 0; i < u->levels; i++) {
        int64_t layers = u->up_d[i].num_layers;
        k -= (int)layers;
        LDM_CHECK(ldm_unet_up_forward(u->up[i], ex, hidden[(i + 1) % 2], hidden[i % 2],
                                      (const float *const *)(u->state_ptr + k), emb));
    }
    const float *h = hidden[u->levels % 2];
    /* out: conv_out(SiLU(conv_norm_out(h))) */
    LDM_CHECK(ldm_unet_push(ex, pix * c0, "UNet norm out", &norm));
    LDM_CHECK(ldm_unet_push(ex, pix * c->out_channels, "UNet out", &y));
    if (!measuring)
        LDM_CHECK(ldm_model_group_norm(u->par, norm, h, u->norm_out_w, u->norm_out_b, n, c0,
                                       rows * u->w, c->norm_num_groups, c->norm_eps, 1));
    LDM_CHECK(ldm_unet_run_conv(ex, u->conv_out, y, norm));
    if (!measuring)
        ldm_layout_convert(out, LDM_LAYOUT_NCHW, y, LDM_LAYOUT_NHWC, n, c->out_channels, rows,
                           u->w);
cleanup:
    ldm_arena_reset_to(ex->arena, mark);
    return st;
}

ldm_status ldm_unet_forward(ldm_unet *u, const float *sample, const float *timesteps,
                            const float *context, float *out)
{
    if (!u || !sample || !timesteps || !context || !out)
        return ldm_error(LDM_EINPUT, "ldm_unet_forward: NULL argument");
    ldm_unet_exec ex = {.arena = &u->arena, .scratch = u->scratch,
                        .scratch_bytes = u->scratch_bytes};
    ldm_arena_reset_to(&u->arena, 0);
    ldm_status st = forward(u, &ex, sample, timesteps, context, out);
    if (st != LDM_OK)
        ldm_error_context("UNet forward: ");
    return st;
}

/* ---- lifecycle ------------------------------------------------------------------ */

/* Parse the config and plan the geometry (no weights yet). */
static ldm_status prepare(ldm_unet *u, const ldm_config *config, int64_t batch,
                          int64_t latent_h, int64_t latent_w, int64_t context_tokens,
                          const ldm_model_parallel *par)
{
    ldm_status st = LDM_OK;
    if (batch < 1 || latent_h < 1 || latent_w < 1 || context_tokens < 1)
        return ldm_error(LDM_EINPUT, "UNet: batch %lld, latent %lld x %lld, context tokens %lld "
                         "must be positive", (long long)batch, (long long)latent_h,
                         (long long)latent_w, (long long)context_tokens);
    LDM_CHECK(ldm_unet_config_parse(config, &u->cfg));
    u->batch = batch;
    u->h = latent_h;
    u->w = latent_w;
    u->ctx_tokens = context_tokens;
    u->levels = u->cfg.levels;
    if (par && (ldm_model_parallel_spatial_size(par) > 1 ||
                ldm_model_parallel_channel_size(par) > 1)) {
        u->par_store = *par;
        u->par = &u->par_store;
    }
    ldm_model_parallel_rows(u->par, latent_h, level_align(u, 0), &u->r0, &u->r1);
    u->time_d = (ldm_unet_time_desc){.parallel = u->par, .batch = batch,
                                     .channels = u->cfg.block_out_channels[0],
                                     .dim = u->cfg.time_embed_dim,
                                     .flip_sin_to_cos = u->cfg.flip_sin_to_cos,
                                     .freq_shift = u->cfg.freq_shift};
    LDM_CHECK(plan_down(u));
    LDM_CHECK(plan_up(u));
    int ps = ldm_model_parallel_spatial_size(u->par);
    if (ps > u->mid_d.h)
        return ldm_error(LDM_EINPUT, "UNet: %d spatial ranks for a latent of %lld rows, whose "
                         "coarsest level has %lld rows: use at most %lld spatial ranks", ps,
                         (long long)latent_h, (long long)u->mid_d.h, (long long)u->mid_d.h);
cleanup:
    return st;
}

/* The expected-tensor list of a prepared UNet. */
static ldm_status prepared_specs(const ldm_unet *u, const ldm_config *config,
                                 ldm_spec_list *list)
{
    ldm_status st = specs(u, list);
    if (st != LDM_OK)
        ldm_error_context("%s: ", config->path);
    return st;
}

ldm_status ldm_unet_weight_specs(const ldm_config *config, ldm_spec_list *list)
{
    ldm_status st = LDM_OK;
    ldm_unet *u = NULL;
    ldm_unet_config cfg;
    LDM_CHECK(ldm_unet_config_parse(config, &cfg));
    /* any latent the downsamplers accept: the tensors do not depend on it */
    int64_t side = (int64_t)8 << cfg.levels;
    LDM_CHECK(ldm_calloc(sizeof *u, "UNet", (void **)&u));
    LDM_CHECK(prepare(u, config, 1, side, side, 77, NULL));
    LDM_CHECK(prepared_specs(u, config, list));
cleanup:
    ldm_unet_destroy(&u);
    return st;
}

ldm_status ldm_unet_create(const ldm_config *config, const ldm_weights *weights, int64_t batch,
                           int64_t latent_h, int64_t latent_w, int64_t context_tokens,
                           ldm_unet **out)
{
    return ldm_unet_create_parallel(config, weights, batch, latent_h, latent_w, context_tokens,
                                    NULL, out);
}

ldm_status ldm_unet_create_parallel(const ldm_config *config, const ldm_weights *weights,
                                    int64_t batch, int64_t latent_h, int64_t latent_w,
                                    int64_t context_tokens, const ldm_model_parallel *parallel,
                                    ldm_unet **out)
{
    ldm_status st = LDM_OK;
    ldm_unet *u = NULL;
    ldm_spec_list list = {0};
    *out = NULL;
    LDM_CHECK(ldm_calloc(sizeof *u, "UNet", (void **)&u));
    LDM_CHECK(prepare(u, config, batch, latent_h, latent_w, context_tokens, parallel));
    LDM_CHECK(prepared_specs(u, config, &list));
    LDM_CHECK(ldm_spec_list_check(&list, weights));
    LDM_CHECK(build(u, weights));
    LDM_CHECK(ldm_alloc((size_t)(batch * context_tokens * u->cfg.cross_attention_dim) *
                        sizeof(float), "UNet context", (void **)&u->context));
    /* size the activations with a measuring pass of the forward itself */
    ldm_arena measure;
    ldm_arena_init_measure(&measure);
    ldm_unet_exec ex = {.arena = &measure};
    LDM_CHECK(forward(u, &ex, NULL, NULL, NULL, NULL));
    LDM_CHECK(ldm_arena_create(&u->arena, measure.peak, "UNet activations"));
    LDM_CHECK(ldm_alloc(u->scratch_bytes ? u->scratch_bytes : 64, "UNet kernel scratch",
                        &u->scratch));
    *out = u;
    u = NULL;
cleanup:
    ldm_spec_list_free(&list);
    ldm_unet_destroy(&u);
    return st;
}

const ldm_unet_config *ldm_unet_get_config(const ldm_unet *u)
{
    return &u->cfg;
}

void ldm_unet_get_shape(const ldm_unet *u, int64_t *batch, int64_t *latent_h, int64_t *latent_w,
                        int64_t *context_tokens)
{
    if (batch)
        *batch = u->batch;
    if (latent_h)
        *latent_h = u->h;
    if (latent_w)
        *latent_w = u->w;
    if (context_tokens)
        *context_tokens = u->ctx_tokens;
}

void ldm_unet_get_rows(const ldm_unet *u, int64_t *r0, int64_t *r1)
{
    *r0 = u->r0;
    *r1 = u->r1;
}

int64_t ldm_unet_latent_align(const ldm_unet_config *cfg)
{
    return (int64_t)1 << (cfg->levels - 1);
}

size_t ldm_unet_activation_bytes(const ldm_unet *u)
{
    return u->arena.size + u->scratch_bytes;
}

void ldm_unet_destroy(ldm_unet **up)
{
    if (!up || !*up)
        return;
    ldm_unet *u = *up;
    ldm_model_conv_destroy(&u->conv_in);
    ldm_unet_time_destroy(&u->time);
    for (int i = 0; i < LDM_UNET_MAX_LEVELS; i++) {
        ldm_unet_block_destroy(&u->down[i]);
        ldm_unet_block_destroy(&u->up[i]);
    }
    ldm_unet_block_destroy(&u->mid);
    ldm_free(u->norm_out_w);
    ldm_free(u->norm_out_b);
    ldm_model_conv_destroy(&u->conv_out);
    ldm_free(u->states);
    ldm_free(u->state_ptr);
    ldm_free(u->context);
    ldm_arena_destroy(&u->arena);
    ldm_free(u->scratch);
    ldm_free(u);
    *up = NULL;
}
