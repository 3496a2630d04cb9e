/* test_attention: self-attention over row strips = single-rank attention.
 *
 * q, k, v [batch, h·w, heads·head_dim] are generated on every rank; a rank
 * keeps the queries of its row strip and the keys/values of its strip, the
 * ranks allgather K and V (ldm_row_gather, uneven blocks, derived types; once
 * as k and v side by side in one [batch, tokens, 2·inner] buffer, once
 * separately in place), and the local kernel (kernels/attention.h) attends
 * the local queries to every key. The output rows must equal the single-rank
 * attention within 1e-6 relative; the gathered K/V must equal the originals
 * bit for bit. Expected: "N ranks: P passed, 0 failed" at np 1-4. */
#include <stdlib.h>

#include "core/alloc.h"
#include "kernels/attention.h"
#include "mpi/gather.h"
#include "mpi/util.h"
#include "mpi_harness.h"

static ldm_status attend(const ldm_attention_desc *d, float *out, const float *q, const float *k,
                         const float *v)
{
    size_t bytes = ldm_attention_scratch_bytes(d, 1);
    void *scratch = NULL;
    ldm_status st = ldm_alloc(bytes, "attention scratch", &scratch);
    if (st == LDM_OK)
        st = ldm_attention(d, out, q, k, v, scratch, bytes);
    ldm_free(scratch);
    return st;
}

static void run(int64_t batch, int64_t h, int64_t w, int64_t heads, int64_t head_dim, int fused)
{
    const int64_t L = h * w, inner = heads * head_dim, size = ldm_mpi_test_size;
    const int64_t all = batch * L * inner;
    float *q = malloc(sizeof(float) * (size_t)all), *k = malloc(sizeof(float) * (size_t)all);
    float *v = malloc(sizeof(float) * (size_t)all), *ref = malloc(sizeof(float) * (size_t)all);
    ldm_mpi_test_fill(q, all, 21 + (uint64_t)h, 0.0f);
    ldm_mpi_test_fill(k, all, 22 + (uint64_t)h, 0.0f);
    ldm_mpi_test_fill(v, all, 23 + (uint64_t)h, 0.0f);
    ldm_attention_desc gd = { .batch = batch, .heads = heads, .lq = L, .lk = L,
                              .head_dim = head_dim };
    CHECK(attend(&gd, ref, q, k, v) == LDM_OK);

    /* Token blocks of the row strips: starts = row boundaries · w. */
    int64_t *starts = malloc(sizeof(int64_t) * (size_t)(size + 1));
    ldm_mpi_partition_starts(h, (int)size, 1, w, starts);
    const int64_t t0 = starts[ldm_mpi_test_rank], mine = starts[ldm_mpi_test_rank + 1] - t0;
    float *ql = malloc(sizeof(float) * (size_t)(batch * mine * inner + 1));
    float *out = malloc(sizeof(float) * (size_t)(batch * mine * inner + 1));
    float *kv = malloc(sizeof(float) * (size_t)(2 * all));
    float *kvl = malloc(sizeof(float) * (size_t)(2 * batch * mine * inner + 1));
    for (int64_t b = 0; b < batch; b++)
        for (int64_t t = 0; t < mine; t++) {
            const int64_t src = (b * L + t0 + t) * inner, dst = b * mine + t;
            memcpy(ql + dst * inner, q + src, sizeof(float) * (size_t)inner);
            memcpy(kvl + dst * 2 * inner, k + src, sizeof(float) * (size_t)inner);
            memcpy(kvl + dst * 2 * inner + inner, v + src, sizeof(float) * (size_t)inner);
        }

    const float *K = kv, *V = kv + inner;
    int64_t ld = 2 * inner;
    ldm_row_gather *g = NULL;
    if (fused) {   /* k and v side by side: one gather of rows of 2·inner */
        CHECK(ldm_row_gather_create(MPI_COMM_WORLD, starts, batch, 2 * inner, &g) == LDM_OK);
        CHECK(g && ldm_row_gather_run(g, kvl, kv) == LDM_OK);
    } else {       /* separate K and V, each rank's block already in place */
        ld = inner;
        V = kv + all;
        float *kk = kv, *vv = kv + all;
        for (int64_t i = 0; i < 2 * all; i++)
            kv[i] = NAN;
        for (int64_t b = 0; b < batch; b++)
            for (int64_t t = 0; t < mine; t++) {
                const int64_t at = (b * L + t0 + t) * inner;
                memcpy(kk + at, k + at, sizeof(float) * (size_t)inner);
                memcpy(vv + at, v + at, sizeof(float) * (size_t)inner);
            }
        CHECK(ldm_row_gather_create(MPI_COMM_WORLD, starts, batch, inner, &g) == LDM_OK);
        CHECK(g && ldm_row_gather_run(g, NULL, kk) == LDM_OK);
        CHECK(g && ldm_row_gather_run(g, NULL, vv) == LDM_OK);
    }
    ldm_row_gather_destroy(&g);
    int exact = 1;
    for (int64_t i = 0; i < batch * L; i++)
        exact = exact && memcmp(K + i * ld, k + i * inner, sizeof(float) * (size_t)inner) == 0 &&
                memcmp(V + i * ld, v + i * inner, sizeof(float) * (size_t)inner) == 0;
    CHECK_MSG(exact, "gathered K/V differ (h %lld, fused %d)", (long long)h, fused);

    if (mine > 0) {
        ldm_attention_desc ld_desc = { .batch = batch, .heads = heads, .lq = mine, .lk = L,
                                       .head_dim = head_dim, .ldk = ld, .ldv = ld };
        CHECK(attend(&ld_desc, out, ql, K, V) == LDM_OK);
        double worst = 0.0;
        for (int64_t b = 0; b < batch; b++)
            for (int64_t i = 0; i < mine * inner; i++) {
                double a = out[b * mine * inner + i], e = ref[(b * L + t0) * inner + i];
                double rel = fabs(a - e) / fmax(fabs(e), 1e-2);
                worst = rel > worst ? rel : worst;
            }
        CHECK_MSG(worst <= 1e-6, "h %lld: rel. error %g", (long long)h, worst);
    }
    free(q);
    free(k);
    free(v);
    free(ref);
    free(starts);
    free(ql);
    free(out);
    free(kv);
    free(kvl);
}

static void test_errors(void)
{
    ldm_row_gather *g = NULL;
    int64_t bad[5] = { 0, 3, 2, 5, 6 };
    if (ldm_mpi_test_size >= 2)
        CHECK_FAILS_WITH(ldm_row_gather_create(MPI_COMM_WORLD, bad, 1, 4, &g), LDM_EINPUT,
                         "starts must begin at 0 and not decrease (rank 1: 3 .. 2)");
    int64_t ok[5] = { 0, 1, 2, 3, 4 };
    CHECK_FAILS_WITH(ldm_row_gather_create(MPI_COMM_WORLD, ok, 0, 4, &g), LDM_EINPUT,
                     "must be positive");
    CHECK(g == NULL);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    run(2, 5, 3, 2, 8, 1);    /* CFG-like batch 2, uneven strips */
    run(2, 5, 3, 2, 8, 0);
    run(1, 8, 8, 4, 16, 1);   /* 64 tokens, more than one key block */
    run(2, 3, 4, 1, 8, 0);    /* at 4 ranks one strip has no rows */
    test_errors();
    return ldm_mpi_test_finish();
}
