/* ldmbert.c — LDMBert forward (see ldmbert.h): weights packed into linear
 * plans once, activations in one arena, rows = batch·tokens throughout.
 * The head/FFN split runs through the same code with sliced plans and one
 * allreduce after out_proj and fc2; the PBLAS variant is ldmbert_pblas.c. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "kernels/threads.h"
#include "models/ldmbert.h"
#include "models/ldmbert_internal.h"
#include "mpi/agree.h"
#include "mpi/util.h"

#define LN_EPS LDMBERT_LN_EPS

/* ---- create ---- */

static ldm_status read_tensor(const ldm_weights *w, float *dst, const char *fmt, long long layer)
{
    char name[96];
    snprintf(name, sizeof name, fmt, layer);
    return ldm_weights_read_f32(w, name, NULL, 0, dst);
}

static ldm_status make_plan(int64_t rows, int64_t k, int64_t n, const float *weight,
                            const float *bias, ldm_ldmbert *m, ldm_linear_plan **out)
{
    ldm_status st = LDM_OK;
    ldm_linear_desc desc = {.m = rows, .k = k, .n = n, .ldx = 0, .ldy = 0};
    LDM_CHECK(ldm_linear_plan_create(&desc, weight, bias, out));
    size_t bytes = ldm_linear_scratch_bytes(*out);
    if (bytes > m->lin_scratch_bytes)
        m->lin_scratch_bytes = bytes;
cleanup:
    return st;
}

static ldm_status read_slice(const ldm_weights *w, float *dst, const char *fmt, long long layer,
                             char kind, int64_t start, int64_t count)
{
    char name[96];
    snprintf(name, sizeof name, fmt, layer);
    if (kind == 'r')
        return ldm_weights_read_rows_f32(w, name, start, count, dst);
    return ldm_weights_read_cols_f32(w, name, start, count, dst);
}

/* Layer l's LayerNorm parameters (replicated on every rank). */
static ldm_status load_norms(ldm_ldmbert *m, const ldm_weights *w, int64_t l)
{
    ldm_status st = LDM_OK;
    const int64_t d = m->cfg.d_model;
    const long long i = (long long)l;
    ldmbert_layer *ly = &m->layers[l];
    float *ln = m->small + 4 * l * d;
    LDM_CHECK(read_tensor(w, ln, "model.layers.%lld.self_attn_layer_norm.weight", i));
    LDM_CHECK(read_tensor(w, ln + d, "model.layers.%lld.self_attn_layer_norm.bias", i));
    LDM_CHECK(read_tensor(w, ln + 2 * d, "model.layers.%lld.final_layer_norm.weight", i));
    LDM_CHECK(read_tensor(w, ln + 3 * d, "model.layers.%lld.final_layer_norm.bias", i));
    ly->ln1_w = ln;
    ly->ln1_b = ln + d;
    ly->ln2_w = ln + 2 * d;
    ly->ln2_b = ln + 3 * d;
cleanup:
    return st;
}

/* Read layer l's tensors and pack its plans; tmp holds the largest weight
 * plus a bias. */
static ldm_status load_layer(ldm_ldmbert *m, const ldm_weights *w, int64_t l, float *tmp,
                             float *bias)
{
    ldm_status st = LDM_OK;
    const int64_t d = m->cfg.d_model, inner = m->inner, ffn = m->cfg.encoder_ffn_dim;
    const long long i = (long long)l;
    ldmbert_layer *ly = &m->layers[l];
    LDM_CHECK(load_norms(m, w, l));

    /* q, k, v stacked: one GEMM gives each row's q ‖ k ‖ v. */
    LDM_CHECK(read_tensor(w, tmp, "model.layers.%lld.self_attn.q_proj.weight", i));
    LDM_CHECK(read_tensor(w, tmp + inner * d, "model.layers.%lld.self_attn.k_proj.weight", i));
    LDM_CHECK(read_tensor(w, tmp + 2 * inner * d, "model.layers.%lld.self_attn.v_proj.weight", i));
    LDM_CHECK(make_plan(m->rows, d, 3 * inner, tmp, NULL, m, &ly->qkv));
    LDM_CHECK(read_tensor(w, tmp, "model.layers.%lld.self_attn.out_proj.weight", i));
    LDM_CHECK(read_tensor(w, bias, "model.layers.%lld.self_attn.out_proj.bias", i));
    LDM_CHECK(make_plan(m->rows, inner, d, tmp, bias, m, &ly->out_proj));
    LDM_CHECK(read_tensor(w, tmp, "model.layers.%lld.fc1.weight", i));
    LDM_CHECK(read_tensor(w, bias, "model.layers.%lld.fc1.bias", i));
    LDM_CHECK(make_plan(m->rows, d, ffn, tmp, bias, m, &ly->fc1));
    LDM_CHECK(read_tensor(w, tmp, "model.layers.%lld.fc2.weight", i));
    LDM_CHECK(read_tensor(w, bias, "model.layers.%lld.fc2.bias", i));
    LDM_CHECK(make_plan(m->rows, ffn, d, tmp, bias, m, &ly->fc2));
cleanup:
    return st;
}

/* The head/FFN split of layer l: this rank's heads of q, k, v (row slices)
 * and of out_proj (column slice), its FFN columns of fc1 (rows) and fc2
 * (columns). out_proj.bias and fc2.bias go to bias_d, added after the sum. */
static ldm_status load_layer_split(ldm_ldmbert *m, const ldm_weights *w, int64_t l, float *tmp,
                                   float *bias)
{
    ldm_status st = LDM_OK;
    const int64_t d = m->cfg.d_model, il = m->inner_local, f0 = m->ffn0, fl = m->ffn_local;
    const int64_t c0 = m->head0 * m->cfg.head_dim;
    const long long i = (long long)l;
    ldmbert_layer *ly = &m->layers[l];
    float *bd = m->bias_d + 2 * l * d;
    LDM_CHECK(load_norms(m, w, l));
    LDM_CHECK(read_slice(w, tmp, "model.layers.%lld.self_attn.q_proj.weight", i, 'r', c0, il));
    LDM_CHECK(read_slice(w, tmp + il * d, "model.layers.%lld.self_attn.k_proj.weight", i, 'r',
                         c0, il));
    LDM_CHECK(read_slice(w, tmp + 2 * il * d, "model.layers.%lld.self_attn.v_proj.weight", i,
                         'r', c0, il));
    LDM_CHECK(make_plan(m->rows, d, 3 * il, tmp, NULL, m, &ly->qkv));      /* [d → 3·il] */
    LDM_CHECK(read_slice(w, tmp, "model.layers.%lld.self_attn.out_proj.weight", i, 'c', c0, il));
    LDM_CHECK(read_tensor(w, bd, "model.layers.%lld.self_attn.out_proj.bias", i));
    LDM_CHECK(make_plan(m->rows, il, d, tmp, NULL, m, &ly->out_proj));     /* [il → d] */
    LDM_CHECK(read_slice(w, tmp, "model.layers.%lld.fc1.weight", i, 'r', f0, fl));
    LDM_CHECK(read_slice(w, bias, "model.layers.%lld.fc1.bias", i, 'r', f0, fl));
    LDM_CHECK(make_plan(m->rows, d, fl, tmp, bias, m, &ly->fc1));          /* [d → fl] */
    LDM_CHECK(read_slice(w, tmp, "model.layers.%lld.fc2.weight", i, 'c', f0, fl));
    LDM_CHECK(read_tensor(w, bd + d, "model.layers.%lld.fc2.bias", i));
    LDM_CHECK(make_plan(m->rows, fl, d, tmp, NULL, m, &ly->fc2));          /* [fl → d] */
    ly->out_b = bd;
    ly->fc2_b = bd + d;
cleanup:
    return st;
}

/* Check the tensors against the config (after a cheap look for the last
 * layer, so a config with absurdly many layers fails before the list of
 * names is built). */
static ldm_status check_weights(const ldm_ldmbert_config *c, const ldm_weights *w)
{
    ldm_status st = LDM_OK;
    ldm_weight_spec *specs = NULL;
    char *names = NULL;
    int n = 0;
    char last[96];
    snprintf(last, sizeof last, "model.layers.%lld.final_layer_norm.bias",
             (long long)(c->encoder_layers - 1));
    if (!ldm_weights_find(w, last, NULL)) {
        st = ldm_error(LDM_EINPUT, "%s: tensor \"%s\" is missing (config: encoder_layers = %lld)",
                       ldm_weights_source(w), last, (long long)c->encoder_layers);
        goto cleanup;
    }
    int logits = (ldm_weights_find(w, "to_logits.weight", NULL) ? 1 : 0) |
                 (ldm_weights_find(w, "to_logits.bias", NULL) ? 2 : 0);
    LDM_CHECK(ldm_ldmbert_weight_specs(c, logits, &specs, &names, &n));
    LDM_CHECK(ldm_weights_check(w, specs, n));
cleanup:
    ldm_free(specs);
    ldm_free(names);
    return st;
}

/* Lay the activation buffers into `a` (a measuring arena the first time). */
static ldm_status take_buffers(ldm_ldmbert *m, ldm_arena *a)
{
    ldm_status st = LDM_OK;
    const int64_t rows = m->rows, d = m->cfg.d_model;
    LDM_CHECK(ldm_arena_push_f32(a, rows * d, "LDMBert x", &m->x));
    LDM_CHECK(ldm_arena_push_f32(a, rows * d, "LDMBert h", &m->h));
    LDM_CHECK(ldm_arena_push_f32(a, rows * 3 * m->inner_local, "LDMBert qkv", &m->qkv));
    LDM_CHECK(ldm_arena_push_f32(a, rows * m->inner_local, "LDMBert ctx", &m->ctx));
    LDM_CHECK(ldm_arena_push_f32(a, rows * d, "LDMBert t", &m->t));
    LDM_CHECK(ldm_arena_push_f32(a, rows * m->ffn_local, "LDMBert ffn", &m->f));
    LDM_CHECK(ldm_arena_push(a, m->lin_scratch_bytes, "LDMBert linear scratch", &m->lin_scratch));
    LDM_CHECK(ldm_arena_push(a, m->attn_scratch_bytes, "LDMBert attention scratch",
                             &m->attn_scratch));
cleanup:
    return st;
}

/* Sizes, the read of every tensor this rank keeps, plans, arena. Local: no
 * communication (the PBLAS layers are built afterwards, collectively). */
static ldm_status build(ldm_ldmbert *m, const ldm_weights *w)
{
    ldm_status st = LDM_OK;
    float *tmp = NULL;
    const ldm_ldmbert_config *c = &m->cfg;
    const int64_t d = c->d_model, ffn = c->encoder_ffn_dim, nl = c->encoder_layers;
    size_t bytes = 0;

    LDM_CHECK(ldm_mul_size((size_t)c->vocab_size * (size_t)d, sizeof(float), &bytes));
    LDM_CHECK(ldm_alloc(bytes, "LDMBert embed_tokens", (void **)&m->embed_tokens));
    LDM_CHECK(ldm_weights_read_f32(w, "model.embed_tokens.weight", NULL, 0, m->embed_tokens));
    LDM_CHECK(ldm_alloc((size_t)(m->tokens * d) * sizeof(float), "LDMBert embed_positions",
                        (void **)&m->embed_positions));
    LDM_CHECK(ldm_weights_read_rows_f32(w, "model.embed_positions.weight", 0, m->tokens,
                                        m->embed_positions));
    LDM_CHECK(ldm_alloc((size_t)((4 * nl + 2) * d) * sizeof(float), "LDMBert norms",
                        (void **)&m->small));
    m->lnf_w = m->small + 4 * nl * d;
    m->lnf_b = m->lnf_w + d;
    LDM_CHECK(ldm_weights_read_f32(w, "model.layer_norm.weight", NULL, 0, m->small + 4 * nl * d));
    LDM_CHECK(ldm_weights_read_f32(w, "model.layer_norm.bias", NULL, 0,
                                   m->small + (4 * nl + 1) * d));
    LDM_CHECK(ldm_calloc((size_t)nl * sizeof *m->layers, "LDMBert layers", (void **)&m->layers));

    if (m->dist == LDM_LDMBERT_DIST_PBLAS) {
        for (int64_t l = 0; l < nl; l++)
            LDM_CHECK(load_norms(m, w, l));
    } else {
        /* One staging buffer for the largest weight ([3·inner, d] or [ffn, d]) and a bias. */
        int64_t big = 3 * m->inner > ffn ? 3 * m->inner : ffn;
        int64_t nbias = d > ffn ? d : ffn;
        LDM_CHECK(ldm_alloc((size_t)(big * d + nbias) * sizeof(float), "LDMBert weight staging",
                            (void **)&tmp));
        if (m->dist == LDM_LDMBERT_DIST_SPLIT)
            LDM_CHECK(ldm_alloc((size_t)(2 * nl * d) * sizeof(float), "LDMBert biases",
                                (void **)&m->bias_d));
        for (int64_t l = 0; l < nl; l++) {
            if (m->dist == LDM_LDMBERT_DIST_SPLIT)
                LDM_CHECK(load_layer_split(m, w, l, tmp, tmp + big * d));
            else
                LDM_CHECK(load_layer(m, w, l, tmp, tmp + big * d));
        }
    }

    /* SPLIT: this rank's heads; PBLAS and single: all heads. */
    int64_t heads = m->inner_local / c->head_dim;
    int64_t ld = m->dist == LDM_LDMBERT_DIST_PBLAS ? 3 * m->inner : 3 * m->inner_local;
    m->attn = (ldm_attention_desc){.batch = m->batch,
                                   .heads = heads,
                                   .lq = m->tokens,
                                   .lk = m->tokens,
                                   .head_dim = c->head_dim,
                                   .ldq = ld,
                                   .ldk = ld,
                                   .ldv = ld,
                                   .ldo = m->inner_local,
                                   .scale = 0.0f /* head_dim^-0.5, LDMBertAttention.scaling */};
    m->attn_scratch_bytes = ldm_attention_scratch_bytes(&m->attn, ldm_kernels_threads());
    if (m->attn_scratch_bytes == 0) {
        st = ldm_error(LDM_ERUNTIME, "LDMBert: attention description rejected");
        goto cleanup;
    }

    ldm_arena measure;
    ldm_arena_init_measure(&measure);
    LDM_CHECK(take_buffers(m, &measure));
    LDM_CHECK(ldm_arena_create(&m->arena, measure.peak, "LDMBert activations"));
    LDM_CHECK(take_buffers(m, &m->arena));
cleanup:
    ldm_free(tmp);
    return st;
}

/* The channel communicator's size and this rank's share of heads and FFN
 * columns. Checks that depend only on the config and Pc: the same outcome
 * on every rank. */
static ldm_status plan_distribution(ldm_ldmbert *m, const ldm_ldmbert_options *opts)
{
    ldm_status st = LDM_OK;
    const ldm_ldmbert_config *c = &m->cfg;
    m->comm = MPI_COMM_NULL;
    m->nranks = 1;
    m->rank = 0;
    m->dist = LDM_LDMBERT_DIST_DEFAULT;
    m->inner_local = m->inner;
    m->ffn_local = c->encoder_ffn_dim;
    MPI_Comm comm = opts && opts->parallel ? opts->parallel->channel : MPI_COMM_NULL;
    if (comm == MPI_COMM_NULL)
        return LDM_OK;
    int size = 1, rank = 0;
    LDM_CHECK(ldm_mpi_check(MPI_Comm_size(comm, &size), "LDMBert: MPI_Comm_size"));
    LDM_CHECK(ldm_mpi_check(MPI_Comm_rank(comm, &rank), "LDMBert: MPI_Comm_rank"));
    if (size == 1)
        return LDM_OK; /* exactly the single-process encoder */
    m->comm = comm;
    m->nranks = size;
    m->rank = rank;
    m->dist = opts->dist == LDM_LDMBERT_DIST_PBLAS ? LDM_LDMBERT_DIST_PBLAS
                                                   : LDM_LDMBERT_DIST_SPLIT;
    if (m->dist == LDM_LDMBERT_DIST_PBLAS) {
        m->ffn_local = 0; /* fc1's output lives in a block-cyclic matrix */
        return LDM_OK;
    }
    if (c->encoder_attention_heads % size != 0) {
        st = ldm_error(LDM_EINPUT,
                       "LDMBert (%s): encoder_attention_heads = %lld cannot be split over %d "
                       "channel ranks: Pc must divide the head count (--grid PcxPs)",
                       m->config_path, (long long)c->encoder_attention_heads, size);
        goto cleanup;
    }
    if (c->encoder_ffn_dim < size) {
        st = ldm_error(LDM_EINPUT,
                       "LDMBert (%s): encoder_ffn_dim = %lld cannot be split over %d channel "
                       "ranks (--grid PcxPs)",
                       m->config_path, (long long)c->encoder_ffn_dim, size);
        goto cleanup;
    }
    int64_t hl = c->encoder_attention_heads / size, f1 = 0;
    m->head0 = rank * hl;
    m->inner_local = hl * c->head_dim;
    ldm_mpi_partition(c->encoder_ffn_dim, size, rank, 1, &m->ffn0, &f1);
    m->ffn_local = f1 - m->ffn0;
cleanup:
    return st;
}

/* Everything before the first collective: config, shapes, this rank's
 * tensors, plans, arena. */
static ldm_status create_local(const ldm_config *config, const ldm_weights *w, int64_t batch,
                               int64_t tokens, const ldm_ldmbert_options *opts,
                               ldm_ldmbert **out)
{
    ldm_status st = LDM_OK;
    ldm_ldmbert *m = NULL;
    ldm_ldmbert_config c;
    *out = NULL;
    LDM_CHECK(ldm_ldmbert_config_read(config, &c));
    if (batch < 1 || tokens < 1) {
        st = ldm_error(LDM_EINPUT, "LDMBert: batch (%lld) and tokens (%lld) must be positive",
                       (long long)batch, (long long)tokens);
        goto cleanup;
    }
    if (tokens > c.max_position_embeddings) {
        st = ldm_error(LDM_EINPUT,
                       "LDMBert: %lld tokens per sequence exceed max_position_embeddings = %lld "
                       "(%s)",
                       (long long)tokens, (long long)c.max_position_embeddings, config->path);
        goto cleanup;
    }
    if (batch > INT32_MAX / tokens) {
        st = ldm_error(LDM_EINPUT, "LDMBert: batch %lld x %lld tokens is too large",
                       (long long)batch, (long long)tokens);
        goto cleanup;
    }
    LDM_CHECK(check_weights(&c, w));

    LDM_CHECK(ldm_calloc(sizeof *m, "LDMBert", (void **)&m));
    m->cfg = c;
    m->batch = batch;
    m->tokens = tokens;
    m->rows = batch * tokens;
    m->inner = c.encoder_attention_heads * c.head_dim;
    LDM_CHECK(ldm_strdup(config->path ? config->path : "config.json", &m->config_path));
    LDM_CHECK(plan_distribution(m, opts));
    LDM_CHECK(build(m, w));
cleanup:
    *out = m; /* partial on failure: the caller destroys it */
    return st;
}

ldm_status ldm_ldmbert_create_opts(const ldm_config *config, const ldm_weights *w,
                                   int64_t batch, int64_t tokens,
                                   const ldm_ldmbert_options *opts, ldm_ldmbert **out)
{
    ldm_status st = LDM_OK;
    ldm_ldmbert *m = NULL;
    *out = NULL;
    st = create_local(config, w, batch, tokens, opts, &m);
    /* The channel communicator, even when this rank failed before learning
     * whether it is distributed: every rank must reach the agreement. */
    MPI_Comm comm = opts && opts->parallel ? opts->parallel->channel : MPI_COMM_NULL;
    int size = 1;
    if (comm != MPI_COMM_NULL && MPI_Comm_size(comm, &size) == MPI_SUCCESS && size > 1)
        LDM_CHECK(ldm_mpi_agree(comm, st));
    LDM_CHECK(st);
    if (m->dist == LDM_LDMBERT_DIST_PBLAS)
        LDM_CHECK(ldm_ldmbert_pblas_create(m, w, opts)); /* collective, agrees */
    *out = m;
    m = NULL;
cleanup:
    ldm_ldmbert_destroy(&m);
    return st;
}

ldm_status ldm_ldmbert_create(const ldm_config *config, const ldm_weights *w, int64_t batch,
                              int64_t tokens, ldm_ldmbert **out)
{
    return ldm_ldmbert_create_opts(config, w, batch, tokens, NULL, out);
}

ldm_status ldm_ldmbert_dist_parse(const char *name, const char *what, ldm_ldmbert_dist *out)
{
    if (name && strcmp(name, "split") == 0)
        *out = LDM_LDMBERT_DIST_SPLIT;
    else if (name && strcmp(name, "pblas") == 0)
        *out = LDM_LDMBERT_DIST_PBLAS;
    else if (name && strcmp(name, "default") == 0)
        *out = LDM_LDMBERT_DIST_DEFAULT;
    else
        return ldm_error(LDM_EINPUT, "%s: \"%s\" is not a text-encoder distribution (split, "
                         "pblas, default)",
                         what ? what : "LDMBert", name ? name : "(null)");
    return LDM_OK;
}

const char *ldm_ldmbert_dist_name(ldm_ldmbert_dist dist)
{
    switch (dist) {
    case LDM_LDMBERT_DIST_SPLIT: return "split";
    case LDM_LDMBERT_DIST_PBLAS: return "pblas";
    default: return "default";
    }
}

ldm_ldmbert_dist ldm_ldmbert_distribution(const ldm_ldmbert *m, int *ranks)
{
    if (ranks)
        *ranks = m->nranks;
    return m->dist;
}

void ldm_ldmbert_destroy(ldm_ldmbert **pm)
{
    if (!pm || !*pm)
        return;
    ldm_ldmbert *m = *pm;
    if (m->layers) {
        for (int64_t l = 0; l < m->cfg.encoder_layers; l++) {
            ldm_linear_plan_destroy(&m->layers[l].qkv);
            ldm_linear_plan_destroy(&m->layers[l].out_proj);
            ldm_linear_plan_destroy(&m->layers[l].fc1);
            ldm_linear_plan_destroy(&m->layers[l].fc2);
        }
    }
    ldm_ldmbert_pblas_destroy(&m->pb);
    ldm_free(m->layers);
    ldm_free(m->embed_tokens);
    ldm_free(m->embed_positions);
    ldm_free(m->small);
    ldm_free(m->bias_d);
    ldm_free(m->config_path);
    ldm_arena_destroy(&m->arena);
    ldm_free(m);
    *pm = NULL;
}

/* ---- forward ---- */

/* Split: t [B·L, d] holds this rank's partial sum; t = Σ over ranks + bias. */
static ldm_status reduce_bias(ldm_ldmbert *m, const float *bias)
{
    const int64_t d = m->cfg.d_model;
    ldm_status st = ldm_mpi_allreduce_sum(m->comm, m->t, m->rows * d);
    if (st != LDM_OK)
        return st;
    for (int64_t r = 0; r < m->rows; r++)
        ldm_add(m->t + r * d, m->t + r * d, bias, d);
    return LDM_OK;
}

/* One pre-LayerNorm encoder layer on m->x [B·L, d], in place. Split: the
 * plans hold this rank's heads / FFN columns, out_b and fc2_b are set. */
static ldm_status layer_forward(ldm_ldmbert *m, int64_t l)
{
    ldm_status st = LDM_OK;
    if (m->pb)
        return ldm_ldmbert_pblas_layer(m, l);
    ldmbert_layer *ly = &m->layers[l];
    const int64_t rows = m->rows, d = m->cfg.d_model, ffn = m->ffn_local;
    const int64_t il = m->inner_local;
    const float *q = m->qkv, *k = m->qkv + il, *v = m->qkv + 2 * il;

    /* x = x + out_proj(attention(self_attn_layer_norm(x))) */
    LDM_CHECK(ldm_layer_norm(m->h, m->x, ly->ln1_w, ly->ln1_b, rows, d, LN_EPS));
    LDM_CHECK(ldm_linear_run(ly->qkv, m->qkv, m->h, m->lin_scratch));        /* [B·L, 3·il] */
    LDM_CHECK(ldm_attention(&m->attn, m->ctx, q, k, v, m->attn_scratch,
                            m->attn_scratch_bytes));                          /* [B·L, il] */
    LDM_CHECK(ldm_linear_run(ly->out_proj, m->t, m->ctx, m->lin_scratch));   /* [B·L, d] partial */
    if (ly->out_b)
        LDM_CHECK(reduce_bias(m, ly->out_b));
    ldm_add(m->x, m->x, m->t, rows * d);

    /* x = x + fc2(act(fc1(final_layer_norm(x)))) */
    LDM_CHECK(ldm_layer_norm(m->h, m->x, ly->ln2_w, ly->ln2_b, rows, d, LN_EPS));
    LDM_CHECK(ldm_linear_run(ly->fc1, m->f, m->h, m->lin_scratch));          /* [B·L, ffn_local] */
    ldm_ldmbert_activate(m->cfg.activation, m->f, rows * ffn);
    LDM_CHECK(ldm_linear_run(ly->fc2, m->t, m->f, m->lin_scratch));          /* [B·L, d] partial */
    if (ly->fc2_b)
        LDM_CHECK(reduce_bias(m, ly->fc2_b));
    ldm_add(m->x, m->x, m->t, rows * d);
cleanup:
    return st;
}

/* m->x = embed_tokens[ids] + embed_positions[t], after checking every id. */
static ldm_status embed(ldm_ldmbert *m, const int32_t *ids)
{
    const int64_t d = m->cfg.d_model, L = m->tokens;
    if (!ids)
        return ldm_error(LDM_EINPUT, "LDMBert: input ids are NULL");
    for (int64_t r = 0; r < m->rows; r++)
        if (ids[r] < 0 || ids[r] >= m->cfg.vocab_size)
            return ldm_error(LDM_EINPUT,
                             "LDMBert: input id %ld at [%lld, %lld] is out of range: vocab_size "
                             "is %lld (%s)",
                             (long)ids[r], (long long)(r / L), (long long)(r % L),
                             (long long)m->cfg.vocab_size, m->config_path);
    for (int64_t r = 0; r < m->rows; r++) {
        const float *e = m->embed_tokens + (int64_t)ids[r] * d;  /* [d] */
        const float *p = m->embed_positions + (r % L) * d;       /* [d] */
        ldm_add(m->x + r * d, e, p, d);
    }
    return LDM_OK;
}

ldm_status ldm_ldmbert_forward_layers(ldm_ldmbert *m, const int32_t *ids, int64_t layers,
                                      float *out)
{
    ldm_status st = LDM_OK;
    if (layers < 0 || layers > m->cfg.encoder_layers) {
        st = ldm_error(LDM_EINPUT, "LDMBert: layers = %lld, the model has 0..%lld",
                       (long long)layers, (long long)m->cfg.encoder_layers);
        goto cleanup;
    }
    if (!out) {
        st = ldm_error(LDM_EINPUT, "LDMBert: output buffer is NULL");
        goto cleanup;
    }
    LDM_CHECK(embed(m, ids));
    for (int64_t l = 0; l < layers; l++)
        LDM_CHECK(layer_forward(m, l));
    memcpy(out, m->x, (size_t)(m->rows * m->cfg.d_model) * sizeof(float));
cleanup:
    return st;
}

ldm_status ldm_ldmbert_forward(ldm_ldmbert *m, const int32_t *ids, float *out)
{
    ldm_status st = LDM_OK;
    if (!out) {
        st = ldm_error(LDM_EINPUT, "LDMBert: output buffer is NULL");
        goto cleanup;
    }
    LDM_CHECK(embed(m, ids));
    for (int64_t l = 0; l < m->cfg.encoder_layers; l++)
        LDM_CHECK(layer_forward(m, l));
    LDM_CHECK(ldm_layer_norm(out, m->x, m->lnf_w, m->lnf_b, m->rows, m->cfg.d_model, LN_EPS));
cleanup:
    return st;
}

int64_t ldm_ldmbert_d_model(const ldm_ldmbert *m)
{
    return m->cfg.d_model;
}

const ldm_ldmbert_config *ldm_ldmbert_get_config(const ldm_ldmbert *m)
{
    return &m->cfg;
}

size_t ldm_ldmbert_arena_bytes(const ldm_ldmbert *m)
{
    return m->arena.size;
}
