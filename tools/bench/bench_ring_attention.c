/* bench_ring_attention.c — exact self-attention over row strips: the K/V
 * allgather (mpi/gather.h + ldm_attention) against the ring
 * (models/ring_attention.h), as Transformer2D runs them under a spatial
 * split (docs/parallelism.md §2.1).
 *
 *   mpirun -np P bench_ring_attention [h] [w] [channels] [heads] [batch] [reps]
 *
 * Defaults: a 64 × 64 latent (4096 tokens), 320 channels in 8 heads (the
 * UNet's first level at 512² images), batch 1, 5 timed repetitions after
 * one warm-up. Each rank holds its strip's fused q|k|v [B, n, 3·C]
 * (ldm_mpi_partition rows, align 1) as the fused projection writes it.
 *   gather  pack k ‖ v, ldm_row_gather_run into [B, H·W, 2·C], ldm_attention
 *   ring    pack k ‖ v, ldm_ring_attention_run (contiguous blocks)
 * Every repetition starts after a barrier; its time is the slowest rank's.
 * Prints per-rank K/V bytes held, median and best times, the MPI seconds
 * from the timers (allgather / sendrecv) and the results' difference.
 * Threads: OMP_NUM_THREADS per rank. Not a test.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/timers.h"
#include "kernels/attention.h"
#include "kernels/threads.h"
#include "models/ring_attention.h"
#include "mpi/gather.h"
#include "mpi/util.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void fill(float *x, int64_t n, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((double)(s >> 40) / (double)(1ULL << 24) * 2.0 - 1.0);
    }
}

typedef struct bench {
    int64_t batch, tokens, n, c, heads;
    float *qkv, *packed, *all, *out;
    ldm_row_gather *gather;
    ldm_ring_attention *ring;
    void *work, *scratch;
    size_t scratch_bytes;
} bench;

/* k ‖ v of the local tokens side by side: [B, n, 2·C] (both paths, as
 * Transformer2D does, into activation memory that is free at that point) */
static void pack(bench *b)
{
    const int64_t c = b->c;
    for (int64_t i = 0; i < b->batch * b->n; i++)
        memcpy(b->packed + i * 2 * c, b->qkv + i * 3 * c + c, sizeof(float) * (size_t)(2 * c));
}

static ldm_status run_gather(bench *b)
{
    ldm_status st = LDM_OK;
    const int64_t c = b->c;
    pack(b);
    LDM_CHECK(ldm_row_gather_run(b->gather, b->packed, b->all));
    ldm_attention_desc a = {.batch = b->batch, .heads = b->heads, .lq = b->n, .lk = b->tokens,
                            .head_dim = c / b->heads, .ldq = 3 * c, .ldk = 2 * c,
                            .ldv = 2 * c, .ldo = c};
    LDM_CHECK(ldm_attention(&a, b->out, b->qkv, b->all, b->all + c, b->scratch,
                            b->scratch_bytes));
cleanup:
    return st;
}

static ldm_status run_ring(bench *b)
{
    pack(b);
    return ldm_ring_attention_run(b->ring, b->out, b->qkv, b->packed, b->work, b->scratch,
                                  b->scratch_bytes);
}

/* reps timed runs (after one warm-up): the slowest rank's time of each;
 * *comm = this rank's mean MPI seconds of timer kind `kind` per run. */
static ldm_status time_it(bench *b, ldm_status (*fn)(bench *), int reps, int kind, double *med,
                          double *best, double *comm)
{
    ldm_status st = LDM_OK;
    double *t = calloc((size_t)reps, sizeof *t);
    ldm_timer_totals t0, t1;
    LDM_CHECK(fn(b));
    ldm_timer_snapshot(&t0);
    for (int r = 0; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double s = ldm_timer_now();
        LDM_CHECK(fn(b));
        double e = ldm_timer_now() - s;
        MPI_Allreduce(&e, &t[r], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    }
    ldm_timer_snapshot(&t1);
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    *med = t[reps / 2];
    *best = t[0];
    *comm = (t1.seconds[kind] - t0.seconds[kind]) / reps;
cleanup:
    free(t);
    return st;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const int64_t h = argc > 1 ? atoll(argv[1]) : 64, w = argc > 2 ? atoll(argv[2]) : 64;
    bench b = {.c = argc > 3 ? atoll(argv[3]) : 320, .heads = argc > 4 ? atoll(argv[4]) : 8,
               .batch = argc > 5 ? atoll(argv[5]) : 1};
    const int reps = argc > 6 ? atoi(argv[6]) : 5;
    ldm_status st = LDM_OK;
    int64_t *starts = calloc((size_t)size + 1, sizeof *starts);
    ldm_mpi_partition_starts(h, size, 1, w, starts);
    b.tokens = h * w;
    b.n = starts[rank + 1] - starts[rank];
    const int64_t c = b.c;
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)(b.batch * b.n * 3 * c), "qkv", (void **)&b.qkv));
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)(b.batch * b.n * 2 * c), "packed",
                        (void **)&b.packed));
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)(b.batch * b.tokens * 2 * c), "all k/v",
                        (void **)&b.all));
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)(b.batch * b.n * c), "out", (void **)&b.out));
    fill(b.qkv, b.batch * b.n * 3 * c, 100 + (uint64_t)rank);
    LDM_CHECK(ldm_row_gather_create(MPI_COMM_WORLD, starts, b.batch, 2 * c, &b.gather));
    ldm_attention_desc a = {.batch = b.batch, .heads = b.heads, .lq = b.n,
                            .head_dim = c / b.heads, .ldq = 3 * c, .ldo = c};
    LDM_CHECK(ldm_ring_attention_create(MPI_COMM_WORLD, &a, 2 * c, &b.ring));
    LDM_CHECK(ldm_alloc(ldm_ring_attention_work_bytes(b.ring), "ring work", &b.work));
    a.lk = b.tokens;
    size_t s1 = ldm_attention_scratch_bytes(&a, ldm_kernels_threads());
    size_t s2 = ldm_ring_attention_scratch_bytes(b.ring, ldm_kernels_threads());
    b.scratch_bytes = s1 > s2 ? s1 : s2;
    LDM_CHECK(ldm_alloc(b.scratch_bytes, "scratch", &b.scratch));

    double gmed, gbest, gcomm, rmed, rbest, rcomm;
    LDM_CHECK(time_it(&b, run_gather, reps, LDM_T_COMM_ALLGATHER, &gmed, &gbest, &gcomm));
    float *ref = malloc(sizeof(float) * (size_t)(b.batch * b.n * c));
    memcpy(ref, b.out, sizeof(float) * (size_t)(b.batch * b.n * c));
    LDM_CHECK(time_it(&b, run_ring, reps, LDM_T_COMM_SENDRECV, &rmed, &rbest, &rcomm));
    double diff[2] = {0, 0}, all[2];
    for (int64_t i = 0; i < b.batch * b.n * c; i++) {
        double d = (double)b.out[i] - (double)ref[i];
        diff[0] += d * d;
        diff[1] += (double)ref[i] * (double)ref[i];
    }
    MPI_Allreduce(diff, all, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    free(ref);
    double comm[2] = {gcomm, rcomm}, comm_max[2];
    MPI_Allreduce(comm, comm_max, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (rank == 0) {
        const double mib = 1.0 / (1 << 20);
        printf("ranks %d, threads/rank %d, latent %lldx%lld = %lld tokens, %lld channels, "
               "%lld heads, batch %lld, %d reps\n", size, ldm_kernels_threads(), (long long)h,
               (long long)w, (long long)b.tokens, (long long)c, (long long)b.heads,
               (long long)b.batch, reps);
        printf("  %-7s K/V held/rank %8.2f MiB  median %8.2f ms  best %8.2f ms  MPI %7.2f ms\n",
               "gather", (double)(b.batch * b.tokens * 2 * c) * sizeof(float) * mib, 1e3 * gmed,
               1e3 * gbest, 1e3 * comm_max[0]);
        printf("  %-7s K/V held/rank %8.2f MiB  median %8.2f ms  best %8.2f ms  MPI %7.2f ms\n",
               "ring", (double)ldm_ring_attention_kv_bytes(b.ring) * mib, 1e3 * rmed,
               1e3 * rbest, 1e3 * comm_max[1]);
        printf("  ring vs gather: rel L2 %.2e\n", sqrt(all[0] / all[1]));
    }
cleanup:
    if (st != LDM_OK)
        fprintf(stderr, "rank %d: %s\n", rank, ldm_error_message());
    ldm_row_gather_destroy(&b.gather);
    ldm_ring_attention_destroy(&b.ring);
    ldm_free(b.qkv);
    ldm_free(b.packed);
    ldm_free(b.all);
    ldm_free(b.out);
    ldm_free(b.work);
    ldm_free(b.scratch);
    free(starts);
    MPI_Finalize();
    return st == LDM_OK ? 0 : 1;
}
