/* test_attention.c — kernels/attention.h against torch's
 * F.scaled_dot_product_attention goldens (self and cross attention, several
 * heads, Lq != Lk, sizes above one tile), with default and tiny tiles, with
 * q/k/v as slices of one fused [B, L, 3·inner] buffer, on 1 and 2 threads and
 * with scratch for fewer threads than are running; a 4096 × 4096 case
 * checked row-wise against a double-precision reference; bad input. */
#include "core/alloc.h"
#include "golden.h"
#include "kernels/attention.h"
#include "kernels/threads.h"

static const char *const CASES[] = {"attn_self_2x2x70x8", "attn_cross_2x4x64x77x10",
                                    "attn_large_1x1x300x520x16", "attn_self_1x4x133x40"};

static void run(const char *label, const ldm_attention_desc *d, float *out, const float *q,
                const float *k, const float *v, int scratch_threads)
{
    size_t bytes = ldm_attention_scratch_bytes(d, scratch_threads);
    void *scratch = NULL;
    CHECK(bytes > 0 && ldm_alloc(bytes, "scratch", &scratch) == LDM_OK);
    ldm_status st = ldm_attention(d, out, q, k, v, scratch, bytes);
    CHECK_MSG(st == LDM_OK, "%s: %s", label, ldm_error_message());
    ldm_free(scratch);
}

/* Copy [rows, inner] into columns [off, off + inner) of a [rows, ld] buffer. */
static void put(float *dst, int64_t ld, int64_t off, const float *src, int64_t rows, int64_t inner)
{
    for (int64_t r = 0; r < rows; r++)
        memcpy(dst + r * ld + off, src + r * inner, (size_t)inner * sizeof(float));
}

static void test_case(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    int64_t b = golden_int(line, "b"), heads = golden_int(line, "heads");
    int64_t lq = golden_int(line, "lq"), lk = golden_int(line, "lk"), hd = golden_int(line, "d");
    int64_t inner = heads * hd, nq = b * lq * inner, nk = b * lk * inner;
    float *q = golden_load(name, "q", nq), *k = golden_load(name, "k", nk);
    float *v = golden_load(name, "v", nk), *y = golden_load(name, "y", nq);
    float *out = golden_nan_buffer(nq);
    char label[160];
    if (q && k && v && y) {
        ldm_attention_desc d = {.batch = b, .heads = heads, .lq = lq, .lk = lk, .head_dim = hd};
        const int64_t tiles[][2] = {{0, 0}, {16, 32}, {7, 13}, {1, 1}, {1000, 1000}};
        for (size_t i = 0; i < sizeof tiles / sizeof tiles[0]; i++) {
            d.block_q = tiles[i][0];
            d.block_k = tiles[i][1];
            snprintf(label, sizeof label, "%s tiles %lldx%lld t%d", name, (long long)d.block_q,
                     (long long)d.block_k, ldm_kernels_threads());
            run(label, &d, out, q, k, v, ldm_kernels_threads());
            golden_compare(label, out, y, nq, GOLDEN_TOL);
        }
        /* scratch for one thread only: must still be right */
        d.block_q = 16;
        d.block_k = 32;
        snprintf(label, sizeof label, "%s scratch for 1 thread", name);
        run(label, &d, out, q, k, v, 1);
        golden_compare(label, out, y, nq, GOLDEN_TOL);
        /* explicit scale equal to the default */
        d.scale = (float)(1.0 / sqrt((double)hd));
        run(label, &d, out, q, k, v, 2);
        golden_compare("explicit scale", out, y, nq, GOLDEN_TOL);
        d.scale = 0.0f;
        /* fused buffers: q|k|v side by side, out strided too (self-attention
         * layout of a fused qkv projection; for cross-attention k|v only) */
        int64_t ld = 3 * inner, ldo = inner + 3;
        float *fq = golden_nan_buffer(b * lq * ld), *fk = golden_nan_buffer(b * lk * ld);
        float *fo = golden_nan_buffer(b * lq * ldo), *got = golden_nan_buffer(nq);
        put(fq, ld, 0, q, b * lq, inner);
        put(fk, ld, inner, k, b * lk, inner);
        put(fk, ld, 2 * inner, v, b * lk, inner);
        d.ldq = d.ldk = d.ldv = ld;
        d.ldo = ldo;
        run(label, &d, fo, fq, fk + inner, fk + 2 * inner, ldm_kernels_threads());
        for (int64_t r = 0; r < b * lq; r++)
            memcpy(got + r * inner, fo + r * ldo, (size_t)inner * sizeof(float));
        snprintf(label, sizeof label, "%s strided q/k/v/out", name);
        golden_compare(label, got, y, nq, GOLDEN_TOL);
        free(fq), free(fk), free(fo), free(got);
    }
    free(q), free(k), free(v), free(y), free(out);
}

/* Deterministic values in [-2, 2) (a 64-bit LCG). */
static float lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(*s >> 40) / (double)(1ULL << 24) * 4.0 - 2.0);
}

/* 64x64 latents: 4096 queries × 4096 keys, head_dim 40 (the first UNet
 * level), 2 heads. Streaming tiles need a few MB of scratch, not the 128 MB
 * of a full score matrix. Sampled rows against a double reference. */
static void test_large(void)
{
    const int64_t L = 4096, heads = 2, hd = 40, inner = heads * hd;
    float *q = malloc((size_t)(L * inner) * sizeof(float));
    float *k = malloc((size_t)(L * inner) * sizeof(float));
    float *v = malloc((size_t)(L * inner) * sizeof(float));
    float *out = golden_nan_buffer(L * inner);
    uint64_t s = 42;
    for (int64_t i = 0; i < L * inner; i++) {
        q[i] = lcg(&s);
        k[i] = lcg(&s);
        v[i] = lcg(&s);
    }
    ldm_attention_desc d = {.batch = 1, .heads = heads, .lq = L, .lk = L, .head_dim = hd};
    size_t bytes = ldm_attention_scratch_bytes(&d, ldm_kernels_threads());
    printf("  4096x4096 attention scratch: %zu bytes\n", bytes);
    CHECK(bytes < (size_t)8 << 20);
    run("4096x4096", &d, out, q, k, v, ldm_kernels_threads());
    double num = 0.0, den = 0.0, *p = malloc((size_t)L * sizeof(double));
    const int64_t rows[] = {0, 1, 127, 128, 2047, 4000, 4095};
    for (size_t ri = 0; ri < sizeof rows / sizeof rows[0]; ri++)
        for (int64_t h = 0; h < heads; h++) {
            const float *qr = q + rows[ri] * inner + h * hd;
            double mx = -INFINITY, sum = 0.0;
            for (int64_t j = 0; j < L; j++) {
                double dot = 0.0;
                for (int64_t t = 0; t < hd; t++)
                    dot += (double)qr[t] * (double)k[j * inner + h * hd + t];
                p[j] = dot / sqrt((double)hd);
                mx = fmax(mx, p[j]);
            }
            for (int64_t j = 0; j < L; j++)
                sum += (p[j] = exp(p[j] - mx));
            for (int64_t t = 0; t < hd; t++) {
                double ref = 0.0;
                for (int64_t j = 0; j < L; j++)
                    ref += p[j] * (double)v[j * inner + h * hd + t];
                ref /= sum;
                double diff = (double)out[rows[ri] * inner + h * hd + t] - ref;
                num += diff * diff;
                den += ref * ref;
            }
        }
    double rel = sqrt(num / den);
    printf("  %-48s rel L2 %.2e (sampled rows vs double)\n", "4096x4096 self-attention", rel);
    CHECK_MSG(rel <= GOLDEN_TOL, "4096x4096: rel L2 %.3g", rel);
    free(q), free(k), free(v), free(out), free(p);
}

static void test_bad_input(void)
{
    float buf[64] = {0};
    char scratch[4096];
    ldm_attention_desc d = {.batch = 1, .heads = 2, .lq = 4, .lk = 4, .head_dim = 2};
    ldm_attention_desc bad = d;
    bad.heads = 0;
    CHECK_FAILS_WITH(ldm_attention(&bad, buf, buf, buf, buf, scratch, sizeof scratch), LDM_EINPUT,
                     "heads = 0");
    CHECK(ldm_attention_scratch_bytes(&bad, 1) == 0);
    bad = d;
    bad.ldk = 3;
    CHECK_FAILS_WITH(ldm_attention(&bad, buf, buf, buf, buf, scratch, sizeof scratch), LDM_EINPUT,
                     "ldk = 3 < heads*head_dim = 4");
    bad = d;
    bad.scale = -1.0f;
    CHECK_FAILS_WITH(ldm_attention(&bad, buf, buf, buf, buf, scratch, sizeof scratch), LDM_EINPUT,
                     "scale");
    CHECK_FAILS_WITH(ldm_attention(&d, buf, buf, buf, buf, scratch, 16), LDM_EINPUT,
                     "scratch of 16 bytes");
    CHECK_FAILS_WITH(ldm_attention(&d, buf, buf, buf, buf, NULL, 0), LDM_EINPUT, "scratch");
}

int main(void)
{
    for (int t = 1; t <= 2 && t <= ldm_kernels_cores(); t++) {
        ldm_kernels_set_threads(t);
        for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
            test_case(CASES[i]);
    }
    ldm_kernels_set_threads(0);
    test_large();
    test_bad_input();
    return ldm_test_finish();
}
