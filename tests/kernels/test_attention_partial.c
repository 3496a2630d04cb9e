/* test_attention_partial.c — kernels/attention.h's accumulate/finish API
 * (keys in blocks, for ring attention):
 *   - all keys in one block: bit for bit ldm_attention (same desc, tiles,
 *     strides, threads);
 *   - keys in 2–5 uneven blocks (in order and out of order, a block of one
 *     key, an empty block, chunks of a longer buffer via kv_tokens, fused
 *     q|k|v strides, several heads and batch entries, 1 and 2 threads):
 *     within 1e-6 relative L2 of ldm_attention over all keys;
 *   - the torch goldens of test_attention in 3 blocks (GOLDEN_TOL);
 *   - bad input: counts, state size, finish without keys, twice. */
#include "core/alloc.h"
#include "golden.h"
#include "kernels/attention.h"
#include "kernels/threads.h"

/* Deterministic values in [-2, 2) (a 64-bit LCG). */
static float lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(*s >> 40) / (double)(1ULL << 24) * 4.0 - 2.0);
}

static float *random_buffer(int64_t n, uint64_t seed)
{
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; x && i < n; i++)
        x[i] = lcg(&seed);
    return x;
}

static double rel_l2(const float *a, const float *b, int64_t n)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Copy keys [k0, k0 + n) of every batch entry of x [batch, lk, ld] into a
 * block [batch, n, ld]. */
static void take(float *dst, const float *x, int64_t batch, int64_t lk, int64_t ld, int64_t k0,
                 int64_t n)
{
    for (int64_t b = 0; b < batch; b++)
        memcpy(dst + b * n * ld, x + (b * lk + k0) * ld, (size_t)(n * ld) * sizeof(float));
}

/* ldm_attention over all keys (ref) and the partial API over blocks of
 * sizes[0 .. nblocks) taken in the order `order`; returns the rel L2.
 * as_chunks: pass the blocks as ranges of the whole buffers (kv_tokens = lk)
 * instead of copies. */
static double blocks_vs_whole(const char *label, ldm_attention_desc d, const int64_t *sizes,
                              const int *order, int nblocks, int as_chunks, int exact)
{
    const int64_t lk = d.lk;
    const int64_t ldq = d.ldq ? d.ldq : d.heads * d.head_dim;
    const int64_t ldk = d.ldk ? d.ldk : d.heads * d.head_dim;
    const int64_t ldo = d.ldo ? d.ldo : d.heads * d.head_dim;
    int64_t starts[8] = {0}, largest = 0;
    for (int i = 0; i < nblocks; i++) {
        starts[i + 1] = starts[i] + sizes[i];
        largest = sizes[i] > largest ? sizes[i] : largest;
    }
    CHECK_MSG(starts[nblocks] == lk, "%s: block sizes add up to %lld, not %lld", label,
              (long long)starts[nblocks], (long long)lk);
    /* q, k, v: one fused buffer when ldq = ldk = ldv > inner (v right after k) */
    float *q = random_buffer(d.batch * d.lq * ldq, 7);
    float *kv = random_buffer(d.batch * lk * ldk, 8);
    const int64_t voff = ldk > d.heads * d.head_dim ? d.heads * d.head_dim : 0;
    float *vbuf = voff ? NULL : random_buffer(d.batch * lk * ldk, 9);
    const float *k = kv, *v = voff ? kv + voff : vbuf;
    float *ref = golden_nan_buffer(d.batch * d.lq * ldo), *out = golden_nan_buffer(d.batch * d.lq * ldo);
    float *kb = malloc((size_t)(d.batch * lk * ldk) * sizeof(float));
    float *vb = malloc((size_t)(d.batch * lk * ldk) * sizeof(float));
    size_t sbytes = ldm_attention_scratch_bytes(&d, ldm_kernels_threads());
    void *scratch = NULL, *state = NULL;
    CHECK(ldm_alloc(sbytes, "scratch", &scratch) == LDM_OK);
    CHECK(ldm_attention(&d, ref, q, k, v, scratch, sbytes) == LDM_OK);

    ldm_attention_desc pd = d;
    pd.lk = largest;                       /* the largest block sizes the scratch */
    size_t pbytes = ldm_attention_scratch_bytes(&pd, ldm_kernels_threads());
    size_t state_bytes = ldm_attention_partial_state_bytes(&pd);
    CHECK(pbytes <= sbytes && state_bytes > 0);
    CHECK(ldm_alloc(state_bytes, "state", &state) == LDM_OK);
    ldm_attention_partial p;
    ldm_status st = ldm_attention_partial_init(&p, &pd, out, state, state_bytes);
    for (int i = 0; i < nblocks && st == LDM_OK; i++) {
        int j = order[i];
        if (as_chunks) {
            st = ldm_attention_partial_accumulate(&p, q, k + starts[j] * ldk, v + starts[j] * ldk,
                                                  sizes[j], lk, scratch, pbytes);
        } else {
            take(kb, k, d.batch, lk, ldk, starts[j], sizes[j]);
            take(vb, v, d.batch, lk, ldk, starts[j], sizes[j]);
            st = ldm_attention_partial_accumulate(&p, q, kb, vb, sizes[j], 0, scratch, pbytes);
        }
    }
    if (st == LDM_OK)
        st = ldm_attention_partial_finish(&p);
    CHECK_MSG(st == LDM_OK, "%s: %s", label, ldm_error_message());
    /* compare the output columns only (ldo may leave a gap) */
    const int64_t inner = d.heads * d.head_dim, rows = d.batch * d.lq;
    float *a = malloc((size_t)(rows * inner) * sizeof(float));
    float *r = malloc((size_t)(rows * inner) * sizeof(float));
    for (int64_t i = 0; i < rows; i++) {
        memcpy(a + i * inner, out + i * ldo, (size_t)inner * sizeof(float));
        memcpy(r + i * inner, ref + i * ldo, (size_t)inner * sizeof(float));
    }
    double rel = rel_l2(a, r, rows * inner);
    printf("  %-56s rel L2 %.2e%s\n", label, rel, exact ? " (must be 0)" : "");
    if (exact)
        CHECK_MSG(memcmp(a, r, (size_t)(rows * inner) * sizeof(float)) == 0,
                  "%s: one block must equal ldm_attention bit for bit (rel %g)", label, rel);
    else
        CHECK_MSG(rel <= 1e-6, "%s: rel L2 %g > 1e-6", label, rel);
    free(q), free(kv), free(vbuf), free(ref), free(out), free(kb), free(vb), free(a), free(r);
    ldm_free(scratch);
    ldm_free(state);
    return rel;
}

static void test_one_block(void)
{
    const int64_t all[] = {300};
    const int in_order[] = {0, 1, 2, 3, 4};
    ldm_attention_desc d = {.batch = 2, .heads = 3, .lq = 70, .lk = 300, .head_dim = 8};
    blocks_vs_whole("one block, default tiles", d, all, in_order, 1, 0, 1);
    d.block_q = 16;
    d.block_k = 48;
    blocks_vs_whole("one block, tiles 16x48", d, all, in_order, 1, 0, 1);
    d.ldq = d.ldk = d.ldv = 3 * 24 + 5; /* fused-like strides, out strided */
    d.ldo = 24 + 3;
    blocks_vs_whole("one block, strided", d, all, in_order, 1, 0, 1);
}

static void test_blocks(void)
{
    const int in_order[] = {0, 1, 2, 3, 4}, shuffled[] = {3, 0, 4, 2, 1};
    ldm_attention_desc d = {.batch = 2, .heads = 3, .lq = 70, .lk = 300, .head_dim = 8};
    const int64_t two[] = {211, 89}, three[] = {1, 150, 149}, five[] = {64, 0, 97, 1, 138};
    blocks_vs_whole("2 blocks 211+89", d, two, in_order, 2, 0, 0);
    blocks_vs_whole("3 blocks 1+150+149 (a single key)", d, three, in_order, 3, 0, 0);
    blocks_vs_whole("5 blocks 64+0+97+1+138 (one empty)", d, five, in_order, 5, 0, 0);
    blocks_vs_whole("5 blocks out of order", d, five, shuffled, 5, 0, 0);
    blocks_vs_whole("5 blocks as chunks (kv_tokens = lk)", d, five, shuffled, 5, 1, 0);
    d.block_q = 7;
    d.block_k = 13;
    blocks_vs_whole("3 blocks, tiles 7x13", d, three, in_order, 3, 0, 0);
    d.block_q = d.block_k = 0;
    d.ldq = d.ldk = d.ldv = 3 * 24;  /* v right after k in one fused buffer */
    d.ldo = 24 + 3;
    blocks_vs_whole("2 blocks, fused q|k|v, strided out", d, two, in_order, 2, 1, 0);
    /* a UNet-like shape: 1024 tokens, 8 heads of 40, uneven strips */
    ldm_attention_desc u = {.batch = 1, .heads = 8, .lq = 384, .lk = 1024, .head_dim = 40};
    const int64_t strips[] = {384, 320, 320}, four[] = {512, 256, 128, 128};
    const int ring_order[] = {2, 1, 0};  /* as rank 2 of 3 sees them in the ring */
    blocks_vs_whole("1024 keys in 3 strips, 8 heads", u, strips, ring_order, 3, 0, 0);
    blocks_vs_whole("1024 keys in 4 chunks", u, four, in_order, 4, 1, 0);
}

/* The torch goldens of test_attention with the keys in 3 blocks. */
static void test_goldens(void)
{
    static const char *const cases[] = {"attn_self_2x2x70x8", "attn_cross_2x4x64x77x10",
                                        "attn_large_1x1x300x520x16"};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *line = golden_case(cases[c]);
        if (!line)
            continue;
        int64_t b = golden_int(line, "b"), heads = golden_int(line, "heads");
        int64_t lq = golden_int(line, "lq"), lk = golden_int(line, "lk");
        int64_t hd = golden_int(line, "d"), inner = heads * hd;
        float *q = golden_load(cases[c], "q", b * lq * inner);
        float *k = golden_load(cases[c], "k", b * lk * inner);
        float *v = golden_load(cases[c], "v", b * lk * inner);
        float *y = golden_load(cases[c], "y", b * lq * inner);
        float *out = golden_nan_buffer(b * lq * inner);
        const int64_t cut[4] = {0, lk / 3, lk / 3 + lk / 4 + 1, lk};
        ldm_attention_desc d = {.batch = b, .heads = heads, .lq = lq, .lk = lk - cut[2],
                                .head_dim = hd};
        if (cut[1] > d.lk)
            d.lk = cut[1];
        if (cut[2] - cut[1] > d.lk)
            d.lk = cut[2] - cut[1];
        size_t sbytes = ldm_attention_scratch_bytes(&d, ldm_kernels_threads());
        size_t state_bytes = ldm_attention_partial_state_bytes(&d);
        void *scratch = NULL, *state = NULL;
        ldm_attention_partial p;
        if (q && k && v && y && ldm_alloc(sbytes, "scratch", &scratch) == LDM_OK &&
            ldm_alloc(state_bytes, "state", &state) == LDM_OK) {
            ldm_status st = ldm_attention_partial_init(&p, &d, out, state, state_bytes);
            for (int i = 2; i >= 0 && st == LDM_OK; i--)  /* last block first */
                st = ldm_attention_partial_accumulate(&p, q, k + cut[i] * inner,
                                                      v + cut[i] * inner, cut[i + 1] - cut[i],
                                                      lk, scratch, sbytes);
            if (st == LDM_OK)
                st = ldm_attention_partial_finish(&p);
            CHECK_MSG(st == LDM_OK, "%s: %s", cases[c], ldm_error_message());
            char label[128];
            snprintf(label, sizeof label, "%s in 3 blocks", cases[c]);
            golden_compare(label, out, y, b * lq * inner, GOLDEN_TOL);
        }
        ldm_free(scratch);
        ldm_free(state);
        free(q), free(k), free(v), free(y), free(out);
    }
}

static void test_bad_input(void)
{
    float buf[64] = {0};
    _Alignas(64) char scratch[8192];
    _Alignas(64) char state[1024];
    ldm_attention_desc d = {.batch = 1, .heads = 2, .lq = 4, .lk = 4, .head_dim = 2};
    ldm_attention_partial p;
    ldm_attention_desc bad = d;
    bad.lq = 0;
    CHECK(ldm_attention_partial_state_bytes(&bad) == 0);
    CHECK_FAILS_WITH(ldm_attention_partial_init(&p, &bad, buf, state, sizeof state), LDM_EINPUT,
                     "lq = 0");
    CHECK_FAILS_WITH(ldm_attention_partial_init(&p, &d, buf, state, 8), LDM_EINPUT,
                     "partial state of 8 bytes");
    CHECK_FAILS_WITH(ldm_attention_partial_init(&p, &d, buf, NULL, 0), LDM_EINPUT,
                     "partial state");
    CHECK(ldm_attention_partial_init(&p, &d, buf, state, sizeof state) == LDM_OK);
    CHECK_FAILS_WITH(ldm_attention_partial_finish(&p), LDM_EINPUT, "no key accumulated");
    CHECK_FAILS_WITH(ldm_attention_partial_accumulate(&p, buf, buf, buf, 5, 0, scratch,
                                                      sizeof scratch),
                     LDM_EINPUT, "n_keys = 5");
    CHECK_FAILS_WITH(ldm_attention_partial_accumulate(&p, buf, buf, buf, 3, 2, scratch,
                                                      sizeof scratch),
                     LDM_EINPUT, "kv_tokens = 2");
    CHECK_FAILS_WITH(ldm_attention_partial_accumulate(&p, buf, buf, buf, -1, 0, scratch,
                                                      sizeof scratch),
                     LDM_EINPUT, "n_keys = -1");
    CHECK_FAILS_WITH(ldm_attention_partial_accumulate(&p, buf, buf, buf, 2, 0, scratch, 16),
                     LDM_EINPUT, "scratch of 16 bytes");
    CHECK(ldm_attention_partial_accumulate(&p, buf, buf, buf, 0, 0, NULL, 0) == LDM_OK);
    CHECK(ldm_attention_partial_accumulate(&p, buf, buf, buf, 4, 0, scratch, sizeof scratch) ==
          LDM_OK);
    CHECK(ldm_attention_partial_finish(&p) == LDM_OK);
    CHECK_FAILS_WITH(ldm_attention_partial_finish(&p), LDM_EINPUT, "already finished");
    CHECK_FAILS_WITH(ldm_attention_partial_accumulate(&p, buf, buf, buf, 4, 0, scratch,
                                                      sizeof scratch),
                     LDM_EINPUT, "finished");
}

int main(void)
{
    for (int t = 1; t <= 2 && t <= ldm_kernels_cores(); t++) {
        ldm_kernels_set_threads(t);
        printf("threads %d\n", t);
        test_one_block();
        test_blocks();
    }
    ldm_kernels_set_threads(0);
    test_goldens();
    test_bad_input();
    return ldm_test_finish();
}
