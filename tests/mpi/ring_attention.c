/* ring_attention.c (test_ring_attention): models/ring_attention.h against
 * the single-rank ldm_attention over all tokens.
 *
 * Every rank builds the same global q, k, v [batch, T, inner] (several
 * heads, batch 2, sharpened scores), computes ldm_attention over all T keys,
 * then runs the ring over the world with its own block of tokens and
 * compares its rows (relative L2 over the world <= 1e-6). Cases at the
 * world's P ranks:
 *   - ldm_mpi_partition strips (uneven for P = 3, 4);
 *   - a hand-made uneven split with an empty block on rank 1 (it relays
 *     blocks and computes nothing) and a large block on rank 0;
 *   - q|k|v in one fused buffer [batch, n, 3·inner] (ld_kv = ldq = 3·inner)
 *     and a strided output, as the UNet's fused projection;
 *   - 3000 tokens (blocks of more than one 1024-key chunk), tiny tiles;
 *   - the sendrecv timer: P − 1 calls, bytes = every block but the next
 *     rank's;
 *   - bad input: ranks disagreeing on heads, every block empty, ld_kv too
 *     small (LDM_EINPUT on every rank, naming the field);
 *   - one rank's kernel failing: it completes the transfers (no hang) and
 *     returns the error; the ring works again afterwards.
 * Expected: "N ranks: K passed, 0 failed" at np 1-4. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timers.h"
#include "kernels/threads.h"
#include "models/ring_attention.h"
#include "mpi/util.h"
#include "mpi_harness.h"

typedef struct ring_case {
    const char *name;
    int64_t batch, heads, head_dim, tokens;
    int uneven;    /* 1: rank 1 empty, rank 0 half of the tokens; 0: ldm_mpi_partition */
    int fused;     /* q|k|v in one [batch, n, 3·inner] buffer, out strided */
    int64_t block_q, block_k;
} ring_case;

/* Tokens [t0, t1) of this rank. */
static void my_tokens(const ring_case *c, int64_t *t0, int64_t *t1)
{
    const int p = ldm_mpi_test_size, r = ldm_mpi_test_rank;
    if (!c->uneven || p < 2) {
        ldm_mpi_partition(c->tokens, p, r, 1, t0, t1);
        return;
    }
    /* rank 0: half; rank 1: none; the rest share the other half */
    const int64_t half = c->tokens / 2;
    if (r == 0) {
        *t0 = 0;
        *t1 = half;
    } else if (r == 1) {
        *t0 = *t1 = half;
        if (p == 2)
            *t0 = half, *t1 = c->tokens;  /* two ranks: no one left to be empty */
    } else {
        ldm_mpi_partition(c->tokens - half, p - 2, r - 2, 1, t0, t1);
        *t0 += half;
        *t1 += half;
    }
}

/* Relative L2 of a against b over the world. */
static double world_rel_l2(const float *a, const float *b, int64_t n)
{
    double s[2] = {0.0, 0.0}, all[2];
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        s[0] += d * d;
        s[1] += (double)b[i] * (double)b[i];
    }
    MPI_Allreduce(s, all, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    return sqrt(all[0] / (all[1] > 0 ? all[1] : 1.0));
}

static void run(const ring_case *c)
{
    const int64_t inner = c->heads * c->head_dim, T = c->tokens, B = c->batch;
    float *q = malloc(sizeof(float) * (size_t)(B * T * inner));
    float *k = malloc(sizeof(float) * (size_t)(B * T * inner));
    float *v = malloc(sizeof(float) * (size_t)(B * T * inner));
    float *ref = malloc(sizeof(float) * (size_t)(B * T * inner));
    ldm_mpi_test_fill(q, B * T * inner, 31, 0.0f);
    ldm_mpi_test_fill(k, B * T * inner, 32, 0.0f);
    ldm_mpi_test_fill(v, B * T * inner, 33, 0.0f);
    for (int64_t i = 0; i < B * T * inner; i++)
        q[i] *= 4.0f;  /* peaked softmax rows: a wrong key would show */
    ldm_attention_desc whole = {.batch = B, .heads = c->heads, .lq = T, .lk = T,
                                .head_dim = c->head_dim};
    size_t wbytes = ldm_attention_scratch_bytes(&whole, 1);
    void *wscratch = NULL;
    CHECK(ldm_alloc(wbytes, "scratch", &wscratch) == LDM_OK);
    CHECK(ldm_attention(&whole, ref, q, k, v, wscratch, wbytes) == LDM_OK);
    ldm_free(wscratch);

    /* this rank's block, as a fused [B, n, 3·inner] buffer or k ‖ v [B, n, 2·inner] */
    int64_t t0, t1;
    my_tokens(c, &t0, &t1);
    const int64_t n = t1 - t0, ld = c->fused ? 3 * inner : 2 * inner;
    const int64_t ldo = c->fused ? inner + 5 : inner;
    float *lq = malloc(sizeof(float) * (size_t)(B * n * inner + 1));
    float *fused = malloc(sizeof(float) * (size_t)(B * n * ld + 1));
    float *out = malloc(sizeof(float) * (size_t)(B * n * ldo + 1));
    float *got = malloc(sizeof(float) * (size_t)(B * n * inner + 1));
    float *want = malloc(sizeof(float) * (size_t)(B * n * inner + 1));
    const int64_t qoff = c->fused ? 0 : -1, kvoff = c->fused ? inner : 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < n; t++) {
            const int64_t g = (b * T + t0 + t) * inner, l = b * n + t;
            if (qoff >= 0)
                memcpy(fused + l * ld + qoff, q + g, sizeof(float) * (size_t)inner);
            memcpy(lq + l * inner, q + g, sizeof(float) * (size_t)inner);
            memcpy(fused + l * ld + kvoff, k + g, sizeof(float) * (size_t)inner);
            memcpy(fused + l * ld + kvoff + inner, v + g, sizeof(float) * (size_t)inner);
            memcpy(want + l * inner, ref + g, sizeof(float) * (size_t)inner);
        }
    ldm_attention_desc d = {.batch = B, .heads = c->heads, .lq = n, .head_dim = c->head_dim,
                            .ldq = c->fused ? ld : 0, .ldo = ldo, .block_q = c->block_q,
                            .block_k = c->block_k};
    ldm_ring_attention *r = NULL;
    ldm_status st = ldm_ring_attention_create(MPI_COMM_WORLD, &d, c->fused ? ld : 0, &r);
    CHECK_MSG(st == LDM_OK, "%s: %s", c->name, ldm_error_message());
    if (r) {
        const int p = ldm_mpi_test_size;
        const int64_t *starts = ldm_ring_attention_starts(r);
        CHECK(starts[0] == 0 && starts[p] == T && starts[ldm_mpi_test_rank] == t0 &&
              starts[ldm_mpi_test_rank + 1] == t1);
        size_t work_bytes = ldm_ring_attention_work_bytes(r);
        size_t sbytes = ldm_ring_attention_scratch_bytes(r, ldm_kernels_threads());
        void *work = NULL, *scratch = NULL;
        CHECK(ldm_alloc(work_bytes, "work", &work) == LDM_OK);
        CHECK(ldm_alloc(sbytes, "scratch", &scratch) == LDM_OK);
        ldm_timer_totals before, after;
        ldm_timer_snapshot(&before);
        st = ldm_ring_attention_run(r, out, c->fused ? fused : lq, fused + kvoff, work, scratch,
                                    sbytes);
        ldm_timer_snapshot(&after);
        CHECK_MSG(st == LDM_OK, "%s: %s", c->name, ldm_error_message());
        for (int64_t i = 0; i < B * n; i++)
            memcpy(got + i * inner, out + i * ldo, sizeof(float) * (size_t)inner);
        double rel = world_rel_l2(got, want, B * n * inner);
        /* sent: every block but the next rank's (the last one to arrive) */
        const int next = (ldm_mpi_test_rank + 1) % p;
        uint64_t want_bytes = (uint64_t)(B * (T - (starts[next + 1] - starts[next])) * 2 *
                                         inner) * sizeof(float);
        if (p == 1)
            want_bytes = 0;
        const int kind = LDM_T_COMM_SENDRECV;
        CHECK_MSG(after.calls[kind] - before.calls[kind] == (uint64_t)(p - 1),
                  "%s: %llu sendrecv timer calls, want %d", c->name,
                  (unsigned long long)(after.calls[kind] - before.calls[kind]), p - 1);
        CHECK_MSG(after.bytes[kind] - before.bytes[kind] == want_bytes,
                  "%s: %llu bytes sent, want %llu", c->name,
                  (unsigned long long)(after.bytes[kind] - before.bytes[kind]),
                  (unsigned long long)want_bytes);
        if (ldm_mpi_test_rank == 0)
            printf("  %-40s tokens %5lld  rank 0 [%lld, %lld)  rel L2 %.2e  K/V held %zu "
                   "(gather: %zu)\n", c->name, (long long)T, (long long)t0, (long long)t1, rel,
                   ldm_ring_attention_kv_bytes(r),
                   (size_t)(B * T * 2 * inner) * sizeof(float));
        CHECK_MSG(rel <= 1e-6, "%s: rel L2 %g", c->name, rel);
        ldm_free(work);
        ldm_free(scratch);
    }
    ldm_ring_attention_destroy(&r);
    CHECK(r == NULL);
    free(q), free(k), free(v), free(ref), free(lq), free(fused), free(out), free(got),
        free(want);
}

static void bad_input(void)
{
    const int p = ldm_mpi_test_size, me = ldm_mpi_test_rank;
    ldm_ring_attention *r = NULL;
    ldm_attention_desc d = {.batch = 1, .heads = 2, .lq = 3, .head_dim = 4};
    if (p > 1) {
        ldm_attention_desc odd = d;
        odd.heads = me == p - 1 ? 3 : 2;
        CHECK_FAILS_WITH(ldm_ring_attention_create(MPI_COMM_WORLD, &odd, 0, &r), LDM_EINPUT,
                         "heads");
        CHECK(r == NULL);
    }
    ldm_attention_desc none = d;
    none.lq = 0;
    CHECK_FAILS_WITH(ldm_ring_attention_create(MPI_COMM_WORLD, &none, 0, &r), LDM_EINPUT,
                     "every rank has 0 tokens");
    /* one rank's bad stride: it names the field, the others name the rank */
    CHECK_FAILS_WITH(ldm_ring_attention_create(MPI_COMM_WORLD, &d, me == 0 ? 15 : 0, &r),
                     LDM_EINPUT, me == 0 ? "ld_kv = 15" : "rank 0 has a bad description");
    ldm_attention_desc neg = d;
    neg.lq = -1;
    CHECK_FAILS_WITH(ldm_ring_attention_create(MPI_COMM_WORLD, &neg, 0, &r), LDM_EINPUT,
                     "lq = -1");
    CHECK(r == NULL);
    ldm_ring_attention_destroy(NULL);
}

/* Rank 0's kernel fails (too small scratch): it still completes every
 * transfer, so no rank hangs; it returns the kernel's error, the others
 * their (correct) results. */
static void kernel_failure(void)
{
    const int me = ldm_mpi_test_rank;
    ldm_ring_attention *r = NULL;
    ldm_attention_desc d = {.batch = 1, .heads = 2, .lq = 5, .head_dim = 4};
    CHECK(ldm_ring_attention_create(MPI_COMM_WORLD, &d, 0, &r) == LDM_OK);
    if (!r)
        return;
    float q[40], kv[80], out[40];
    ldm_mpi_test_fill(q, 40, 51, 0.0f);
    ldm_mpi_test_fill(kv, 80, 52, 0.0f);
    size_t sbytes = ldm_ring_attention_scratch_bytes(r, 1);
    void *work = NULL, *scratch = NULL;
    CHECK(ldm_alloc(ldm_ring_attention_work_bytes(r), "work", &work) == LDM_OK);
    CHECK(ldm_alloc(sbytes, "scratch", &scratch) == LDM_OK);
    if (me == 0)
        CHECK_FAILS_WITH(ldm_ring_attention_run(r, out, q, kv, work, scratch, 16), LDM_EINPUT,
                         "scratch of 16 bytes");
    else
        CHECK(ldm_ring_attention_run(r, out, q, kv, work, scratch, sbytes) == LDM_OK);
    /* and the ring still works afterwards */
    CHECK(ldm_ring_attention_run(r, out, q, kv, work, scratch, sbytes) == LDM_OK);
    ldm_free(work);
    ldm_free(scratch);
    ldm_ring_attention_destroy(&r);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    const ring_case cases[] = {
        {"partition strips, 3 heads, batch 2", 2, 3, 8, 70, 0, 0, 0, 0},
        {"uneven, rank 1 empty", 2, 3, 8, 70, 1, 0, 0, 0},
        {"fused q|k|v, strided out, uneven", 2, 4, 6, 61, 1, 1, 0, 0},
        {"3000 tokens (1024-key chunks), tiles", 1, 2, 4, 3000, 1, 0, 64, 100},
        {"3000 tokens, fused, default tiles", 1, 2, 4, 3000, 0, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run(&cases[i]);
    bad_input();
    kernel_failure();
    return ldm_mpi_test_finish();
}
