/* attention.c — tiled attention with an online softmax (see attention.h). */
#include "kernels/attention.h"
#include "core/timers.h"

#include <math.h>
#include <omp.h>

#include "dnnl_util.h"
#include "simd.h"

enum { DEFAULT_BLOCK_Q = 256, DEFAULT_BLOCK_K = 512 };

/* Score rows are padded to a multiple of this many columns (filled with
 * -inf, so they add exp(-inf) ≈ 0) so the softmax loops never fall into a
 * scalar remainder: 77 keys would otherwise spend most of their time there. */
enum { PAD = 16 };

static int64_t round_up(int64_t x, int64_t m)
{
    return (x + m - 1) / m * m;
}

/* A description with defaults filled in. */
typedef struct resolved {
    ldm_attention_desc d;
    int64_t lds;                /* row stride of the score tile: block_k padded */
    size_t per_thread;          /* scratch bytes per thread */
} resolved;

static ldm_status resolve(const ldm_attention_desc *in, resolved *r)
{
    ldm_attention_desc d = *in;
    int64_t inner = d.heads * d.head_dim;
    const struct { const char *name; int64_t v; } pos[] = {
        {"batch", d.batch}, {"heads", d.heads}, {"lq", d.lq}, {"lk", d.lk},
        {"head_dim", d.head_dim}, {"block_q", d.block_q ? d.block_q : 1},
        {"block_k", d.block_k ? d.block_k : 1},
    };
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++)
        if (pos[i].v < 1)
            return ldm_error(LDM_EINPUT, "attention: %s = %lld (must be >= 1)", pos[i].name,
                             (long long)pos[i].v);
    int64_t *ld[] = {&d.ldq, &d.ldk, &d.ldv, &d.ldo};
    const char *ld_name[] = {"ldq", "ldk", "ldv", "ldo"};
    for (int i = 0; i < 4; i++) {
        if (*ld[i] == 0)
            *ld[i] = inner;
        if (*ld[i] < inner)
            return ldm_error(LDM_EINPUT, "attention: %s = %lld < heads*head_dim = %lld",
                             ld_name[i], (long long)*ld[i], (long long)inner);
    }
    if (!(d.scale >= 0.0f) || isinf(d.scale))
        return ldm_error(LDM_EINPUT, "attention: scale = %g", (double)d.scale);
    if (d.scale == 0.0f)
        d.scale = (float)(1.0 / sqrt((double)d.head_dim));
    if (!d.block_q)
        d.block_q = DEFAULT_BLOCK_Q;
    if (!d.block_k)
        d.block_k = DEFAULT_BLOCK_K;
    if (d.block_q > d.lq)
        d.block_q = d.lq;
    if (d.block_k > d.lk)
        d.block_k = d.lk;
    r->d = d;
    r->lds = round_up(d.block_k, PAD);
    /* scores [block_q, lds] + running max and sum [block_q] each */
    r->per_thread = ldm_align64((size_t)(d.block_q * r->lds) * sizeof(float)) +
                    2 * ldm_align64((size_t)d.block_q * sizeof(float));
    return LDM_OK;
}

size_t ldm_attention_scratch_bytes(const ldm_attention_desc *desc, int threads)
{
    resolved r;
    ldm_status st = resolve(desc, &r);
    if (st != LDM_OK) {
        ldm_error_clear();
        return 0;
    }
    return r.per_thread * (size_t)(threads > 1 ? threads : 1);
}

/* Max of a row. GCC vectorises this max reduction; clang 14 cannot without
 * fast-math and would fail the build on the unmet pragma (-Werror), so it
 * gets the plain loop. */
static LDM_CLONES float row_max(const float *s, int64_t len)
{
    float m = -INFINITY;
#if !defined(__clang__)
#pragma omp simd reduction(max : m)
#endif
    for (int64_t j = 0; j < len; j++)
        m = s[j] > m ? s[j] : m;
    return m;
}

/* s ← exp(s − m); returns Σ s. */
static LDM_CLONES float exp_sum(float *s, int64_t len, float m)
{
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < len; j++) {
        float p = ldm_vexpf_neg(s[j] - m);
        s[j] = p;
        sum += p;
    }
    return sum;
}

static LDM_CLONES void scale_row(float *x, float f, int64_t len)
{
#pragma omp simd
    for (int64_t j = 0; j < len; j++)
        x[j] *= f;
}

/* Online-softmax update of one score tile [rows, cols] (row stride ld, a
 * multiple of PAD): turns scores into probabilities relative to the new
 * running max, rescales the output rows accumulated so far. */
static void softmax_tile(float *s, int64_t ld, int64_t rows, int64_t cols, float *m, float *l,
                         float *o, int64_t ldo, int64_t d, int first)
{
    int64_t padded = round_up(cols, PAD);
    for (int64_t i = 0; i < rows; i++) {
        float *row = s + i * ld;
        for (int64_t j = cols; j < padded; j++)
            row[j] = -INFINITY;
        float mx = row_max(row, padded);
        float m_new = first || mx > m[i] ? mx : m[i];
        float sum = exp_sum(row, padded, m_new);
        if (first) {
            l[i] = sum;
        } else {
            float corr = ldm_vexpf_neg(m[i] - m_new);
            l[i] = l[i] * corr + sum;
            scale_row(o + i * ldo, corr, d);
        }
        m[i] = m_new;
    }
}

/* Where a tile run reads and writes: the keys of one call and, for a
 * partial run, the persistent state. */
typedef struct tile_run {
    const float *q, *k, *v;
    float *out;
    int64_t lk;         /* keys of this call */
    int64_t kv_tokens;  /* tokens between batch entries of k and v */
    float *m, *l;       /* partial: state [batch, heads, lq]; NULL: per-thread scratch */
    int fresh;          /* no key seen yet: the first tile starts the recurrence */
    int normalise;      /* divide by the running sum at the end (whole attention) */
} tile_run;

/* One block of queries of one (batch, head) against the call's keys; s is
 * the score tile with row stride lds. */
static ldm_status attend_block(const ldm_attention_desc *d, int64_t lds, const tile_run *t,
                               float *o, const float *q, const float *k, const float *v,
                               float *s, float *m, float *l, int64_t rows)
{
    for (int64_t k0 = 0; k0 < t->lk; k0 += d->block_k) {
        int64_t cols = t->lk - k0 < d->block_k ? t->lk - k0 : d->block_k;
        int first = t->fresh && k0 == 0;
        const float *kb = k + k0 * d->ldk, *vb = v + k0 * d->ldv;
        ldm_status st = ldm_dnnl_status(dnnl_sgemm('N', 'T', rows, cols, d->head_dim, d->scale,
                                                   q, d->ldq, kb, d->ldk, 0.0f, s, lds),
                                         "attention sgemm q.k");
        if (st != LDM_OK)
            return st;
        softmax_tile(s, lds, rows, cols, m, l, o, d->ldo, d->head_dim, first);
        st = ldm_dnnl_status(dnnl_sgemm('N', 'N', rows, d->head_dim, cols, 1.0f, s, lds,
                                        vb, d->ldv, first ? 0.0f : 1.0f, o, d->ldo),
                             "attention sgemm p.v");
        if (st != LDM_OK)
            return st;
    }
    if (t->normalise)
        for (int64_t i = 0; i < rows; i++)
            scale_row(o + i * d->ldo, 1.0f / l[i], d->head_dim);
    return LDM_OK;
}

/* Scratch check shared by the entry points: threads that fit in it. */
static ldm_status scratch_fit(const resolved *r, const void *scratch, size_t scratch_bytes,
                              int64_t *fit)
{
    *fit = scratch ? (int64_t)(scratch_bytes / r->per_thread) : 0;
    if (*fit < 1)
        return ldm_error(LDM_EINPUT, "attention: scratch of %zu bytes, need at least %zu "
                         "(ldm_attention_scratch_bytes)", scratch ? scratch_bytes : 0,
                         r->per_thread);
    return LDM_OK;
}

/* Every (batch, head, query block) unit of one call, threads across units. */
static ldm_status run_tiles(const resolved *r, const tile_run *t, void *scratch, int64_t fit)
{
    const ldm_attention_desc *d = &r->d;
    int64_t qblocks = (d->lq + d->block_q - 1) / d->block_q;
    int64_t units = d->batch * d->heads * qblocks;
    int64_t threads = omp_get_max_threads();
    threads = threads < fit ? threads : fit;
    threads = threads < units ? threads : units;
    ldm_status failed = LDM_OK;
#pragma omp parallel num_threads((int)threads)
    {
        char *mine = (char *)scratch + (size_t)omp_get_thread_num() * r->per_thread;
        float *s = (float *)mine;
        float *m = (float *)(mine + ldm_align64((size_t)(d->block_q * r->lds) * sizeof(float)));
        float *l = m + ldm_align64((size_t)d->block_q * sizeof(float)) / sizeof(float);
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < units; u++) {
            int64_t qb = u % qblocks, bh = u / qblocks;
            int64_t b = bh / d->heads, h = bh % d->heads;
            int64_t q0 = qb * d->block_q;
            int64_t rows = d->lq - q0 < d->block_q ? d->lq - q0 : d->block_q;
            float *um = t->m ? t->m + bh * d->lq + q0 : m;
            float *ul = t->l ? t->l + bh * d->lq + q0 : l;
            ldm_status ust = attend_block(
                d, r->lds, t, t->out + (b * d->lq + q0) * d->ldo + h * d->head_dim,
                t->q + (b * d->lq + q0) * d->ldq + h * d->head_dim,
                t->k + b * t->kv_tokens * d->ldk + h * d->head_dim,
                t->v + b * t->kv_tokens * d->ldv + h * d->head_dim, s, um, ul, rows);
            if (ust != LDM_OK) {
#pragma omp atomic write
                failed = ust;
            }
        }
    }
    /* a worker's message is thread-local: record one on this thread too */
    if (failed != LDM_OK)
        return ldm_error(failed, "attention: sgemm failed in a worker thread");
    return LDM_OK;
}

static ldm_status attention_impl(const ldm_attention_desc *desc, float *out, const float *q,
                                 const float *k, const float *v, void *scratch, size_t scratch_bytes)
{
    ldm_status st = LDM_OK;
    resolved r;
    int64_t fit;
    LDM_CHECK(resolve(desc, &r));
    LDM_CHECK(scratch_fit(&r, scratch, scratch_bytes, &fit));
    const tile_run t = {.q = q, .k = k, .v = v, .out = out, .lk = r.d.lk, .kv_tokens = r.d.lk,
                        .fresh = 1, .normalise = 1};
    LDM_CHECK(run_tiles(&r, &t, scratch, fit));
cleanup:
    return st;
}

/* Public entry points: one timer entry per call (core/timers.h). */
ldm_status ldm_attention(const ldm_attention_desc *desc, float *out, const float *q,
                         const float *k, const float *v, void *scratch, size_t scratch_bytes)
{
    const double t0 = ldm_timer_now();
    ldm_status st = attention_impl(desc, out, q, k, v, scratch, scratch_bytes);
    ldm_timer_add(LDM_T_ATTENTION, ldm_timer_now() - t0, 0);
    return st;
}

/* ---- keys in blocks --------------------------------------------------- */

static size_t state_half(const ldm_attention_desc *d)
{
    return ldm_align64((size_t)(d->batch * d->heads * d->lq) * sizeof(float));
}

size_t ldm_attention_partial_state_bytes(const ldm_attention_desc *desc)
{
    resolved r;
    if (resolve(desc, &r) != LDM_OK) {
        ldm_error_clear();
        return 0;
    }
    return 2 * state_half(&r.d);
}

ldm_status ldm_attention_partial_init(ldm_attention_partial *p, const ldm_attention_desc *desc,
                                      float *out, void *state, size_t state_bytes)
{
    ldm_status st = LDM_OK;
    resolved r;
    *p = (ldm_attention_partial){0};
    LDM_CHECK(resolve(desc, &r));
    size_t need = 2 * state_half(&r.d);
    if (!state || state_bytes < need) {
        st = ldm_error(LDM_EINPUT, "attention: partial state of %zu bytes, need %zu "
                       "(ldm_attention_partial_state_bytes)", state ? state_bytes : 0, need);
        goto cleanup;
    }
    if (!out) {
        st = ldm_error(LDM_EINPUT, "attention: partial run without an output buffer");
        goto cleanup;
    }
    p->desc = *desc;
    p->out = out;
    p->m = state;
    p->l = (float *)((char *)state + state_half(&r.d));
cleanup:
    return st;
}

static ldm_status accumulate_impl(ldm_attention_partial *p, const float *q, const float *k,
                                  const float *v, int64_t n_keys, int64_t kv_tokens,
                                  void *scratch, size_t scratch_bytes)
{
    ldm_status st = LDM_OK;
    resolved r;
    int64_t fit;
    LDM_CHECK(resolve(&p->desc, &r));
    if (p->finished || !p->m) {
        st = ldm_error(LDM_EINPUT, "attention: accumulate on a run that is %s",
                       p->finished ? "finished" : "not initialised");
        goto cleanup;
    }
    if (kv_tokens == 0)
        kv_tokens = n_keys;
    if (n_keys < 0 || n_keys > r.d.lk || kv_tokens < n_keys) {
        st = ldm_error(LDM_EINPUT, "attention: accumulate n_keys = %lld, kv_tokens = %lld "
                       "(need 0 <= n_keys <= lk = %lld and kv_tokens >= n_keys)",
                       (long long)n_keys, (long long)kv_tokens, (long long)r.d.lk);
        goto cleanup;
    }
    if (n_keys == 0)
        goto cleanup;
    LDM_CHECK(scratch_fit(&r, scratch, scratch_bytes, &fit));
    const tile_run t = {.q = q, .k = k, .v = v, .out = p->out, .lk = n_keys,
                        .kv_tokens = kv_tokens, .m = p->m, .l = p->l, .fresh = p->keys == 0};
    LDM_CHECK(run_tiles(&r, &t, scratch, fit));
    p->keys += n_keys;
cleanup:
    return st;
}

ldm_status ldm_attention_partial_accumulate(ldm_attention_partial *p, const float *q,
                                            const float *k, const float *v, int64_t n_keys,
                                            int64_t kv_tokens, void *scratch,
                                            size_t scratch_bytes)
{
    const double t0 = ldm_timer_now();
    ldm_status st = accumulate_impl(p, q, k, v, n_keys, kv_tokens, scratch, scratch_bytes);
    ldm_timer_add(LDM_T_ATTENTION, ldm_timer_now() - t0, 0);
    return st;
}

ldm_status ldm_attention_partial_finish(ldm_attention_partial *p)
{
    const double t0 = ldm_timer_now();
    if (p->finished || p->keys == 0)
        return ldm_error(LDM_EINPUT, "attention: finish on a run %s",
                         p->finished ? "already finished" : "with no key accumulated");
    const ldm_attention_desc *d = &p->desc;
    const int64_t hd = d->head_dim, ldo = d->ldo ? d->ldo : d->heads * hd;
    const int64_t rows = d->batch * d->heads;
    /* the division ldm_attention does at the end of each query block */
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < rows; bh++) {
        int64_t b = bh / d->heads, h = bh % d->heads;
        for (int64_t t = 0; t < d->lq; t++)
            scale_row(p->out + (b * d->lq + t) * ldo + h * hd, 1.0f / p->l[bh * d->lq + t], hd);
    }
    p->finished = 1;
    ldm_timer_extend(LDM_T_ATTENTION, ldm_timer_now() - t0);
    return LDM_OK;
}
