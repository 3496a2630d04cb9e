/* bench_linear: distributed dense layers at LDMBert shapes.
 *
 *   OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 mpirun -n P bench_linear [reps [block [PxQ]]]
 *
 * x [154, 1280] (77 tokens × CFG batch 2) through the dense parts of one
 * LDMBert layer (GELU, softmax, LayerNorm omitted: the same in every
 * variant):
 *   proj  q, k, v, out projections, 4 × [1280, 1280]
 *   ffn   fc1 [5120, 1280] then fc2 [1280, 5120]
 * three ways:
 *   local  one rank, kernels/linear.h (oneDNN, weights packed once)
 *   split  heads / FFN columns (Megatron style): q, k, v and fc1 split by
 *          output rows, out and fc2 by input columns; local oneDNN products
 *          and one ldm_mpi_allreduce_sum of [154, 1280] after out and fc2
 *   pblas  ScaLAPACK psgemm_ on the squarest BLACS grid (blocks 64 or argv[2]): x
 *          replicated, the hidden activations distributed, the output
 *          gathered to every rank (LayerNorm and the residual need rows)
 * Prints median milliseconds (of the slowest rank) and the ratio to local
 * on one rank (a noisy shared machine: trust ratios). Every variant's output
 * is checked against local (rel. error printed). Not a ctest:
 * docs/parallelism.md records runs. */
#include <stdlib.h>

#include "core/alloc.h"
#include "kernels/linear.h"
#include "mpi/pblas.h"
#include "mpi/util.h"
#include "mpi_harness.h"

enum { M = 154, D = 1280, F = 5120, MAX_REPS = 101 };
static int BLOCK = 64;   /* PBLAS block (argv[2]) */

typedef struct plan {
    ldm_linear_plan *p;
    void *scratch;
} plan;

static ldm_status plan_make(plan *l, int64_t k, int64_t n, const float *w, int64_t ldw)
{
    /* w: n rows of k, ldw apart (a column slice of a wider weight). */
    float *packed = malloc(sizeof(float) * (size_t)(n * k + 1));
    for (int64_t i = 0; i < n; i++)
        memcpy(packed + i * k, w + i * ldw, sizeof(float) * (size_t)k);
    ldm_linear_desc d = { .m = M, .k = k, .n = n };
    ldm_status st = ldm_linear_plan_create(&d, packed, NULL, &l->p);
    free(packed);
    if (st == LDM_OK)
        st = ldm_alloc(ldm_linear_scratch_bytes(l->p), "scratch", &l->scratch);
    return st;
}

static ldm_status plan_run(plan *l, float *y, const float *x)
{
    return ldm_linear_run(l->p, y, x, l->scratch);
}

typedef struct bench {
    const float *x;
    float *q, *k, *v, *h, *y;     /* [M, ·] activations */
    plan pq, pk, pv, po, f1, f2;  /* full (local) or sliced (split) */
    ldm_pblas_matrix *X, *WQ, *WK, *WV, *WO, *Q, *K, *V, *Y, *W1, *W2, *H;
} bench;

typedef ldm_status (*step_fn)(bench *b);

static ldm_status proj_local(bench *b)
{
    ldm_status st = plan_run(&b->pq, b->q, b->x);
    if (st == LDM_OK)
        st = plan_run(&b->pk, b->k, b->x);
    if (st == LDM_OK)
        st = plan_run(&b->pv, b->v, b->x);
    return st == LDM_OK ? plan_run(&b->po, b->y, b->v) : st;   /* attention output ~ v */
}

static ldm_status ffn_local(bench *b)
{
    ldm_status st = plan_run(&b->f1, b->h, b->x);
    return st == LDM_OK ? plan_run(&b->f2, b->y, b->h) : st;
}

static ldm_status proj_split(bench *b)
{
    ldm_status st = proj_local(b);
    return st == LDM_OK ? ldm_mpi_allreduce_sum(MPI_COMM_WORLD, b->y, (int64_t)M * D) : st;
}

static ldm_status ffn_split(bench *b)
{
    ldm_status st = ffn_local(b);
    return st == LDM_OK ? ldm_mpi_allreduce_sum(MPI_COMM_WORLD, b->y, (int64_t)M * D) : st;
}

static ldm_status proj_pblas(bench *b)
{
    ldm_pblas_matrix_set(b->X, b->x);
    ldm_status st = ldm_pblas_linear(b->Q, b->X, b->WQ, NULL);
    if (st == LDM_OK)
        st = ldm_pblas_linear(b->K, b->X, b->WK, NULL);
    if (st == LDM_OK)
        st = ldm_pblas_linear(b->V, b->X, b->WV, NULL);
    if (st == LDM_OK)
        st = ldm_pblas_linear(b->Y, b->V, b->WO, NULL);
    return st == LDM_OK ? ldm_pblas_matrix_get(b->Y, b->y) : st;
}

static ldm_status ffn_pblas(bench *b)
{
    ldm_pblas_matrix_set(b->X, b->x);
    ldm_status st = ldm_pblas_linear(b->H, b->X, b->W1, NULL);
    if (st == LDM_OK)
        st = ldm_pblas_linear(b->Y, b->H, b->W2, NULL);
    return st == LDM_OK ? ldm_pblas_matrix_get(b->Y, b->y) : st;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median over `reps` runs of the slowest rank's time, in ms. */
static double time_it(step_fn fn, bench *b, int reps)
{
    double t[MAX_REPS];
    if (fn(b) != LDM_OK)   /* warm-up */
        fprintf(stderr, "rank %d: %s\n", ldm_mpi_test_rank, ldm_error_message());
    for (int r = 0; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        fn(b);
        double dt = MPI_Wtime() - t0, worst = 0.0;
        MPI_Allreduce(&dt, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        t[r] = worst * 1e3;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp);
    return t[reps / 2];
}

static double rel_l2(const float *a, const float *e, int64_t n)
{
    double d = 0.0, s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        d += ((double)a[i] - e[i]) * ((double)a[i] - e[i]);
        s += (double)e[i] * e[i];
    }
    return sqrt(d / s);
}

/* Only rank 0 works (the one-rank baseline inside a P-rank run). */
static step_fn local_fn;
static ldm_status on_rank0(bench *b)
{
    return ldm_mpi_test_rank == 0 ? local_fn(b) : LDM_OK;
}

static ldm_status setup_pblas(bench *b, const ldm_pblas_grid *g, float *const w[6])
{
    ldm_status st = LDM_OK;
    struct { ldm_pblas_matrix **m; int64_t r, c; const float *w; } mats[] = {
        { &b->X, M, D, NULL },  { &b->Q, M, D, NULL },  { &b->K, M, D, NULL },
        { &b->V, M, D, NULL },  { &b->Y, M, D, NULL },  { &b->H, M, F, NULL },
        { &b->WQ, D, D, w[0] }, { &b->WK, D, D, w[1] }, { &b->WV, D, D, w[2] },
        { &b->WO, D, D, w[3] }, { &b->W1, F, D, w[4] }, { &b->W2, D, F, w[5] },
    };
    for (size_t i = 0; i < sizeof mats / sizeof mats[0] && st == LDM_OK; i++) {
        st = ldm_pblas_matrix_create(g, mats[i].r, mats[i].c, BLOCK, BLOCK, mats[i].m);
        if (st == LDM_OK && mats[i].w)
            ldm_pblas_matrix_set(*mats[i].m, mats[i].w);
    }
    return st;
}

static void report(const char *what, double local, double split, double pblas, double e_split,
                   double e_pblas)
{
    if (ldm_mpi_test_rank == 0)
        printf("%-5s %8.2f ms   %8.2f ms  (%.2fx)   %8.2f ms  (%.2fx)   err %.1e / %.1e\n",
               what, local, split, local / split, pblas, local / pblas, e_split, e_pblas);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    int reps = argc > 1 ? atoi(argv[1]) : 9, size = ldm_mpi_test_size, rank = ldm_mpi_test_rank;
    if (reps < 1 || reps > MAX_REPS)
        reps = 9;
    if (argc > 2 && atoi(argv[2]) > 0)
        BLOCK = atoi(argv[2]);
    /* argv[3] "PxQ": the BLACS grid (default: squarest, nprow <= npcol). */
    int nprow = 0, npcol = 0;
    if (argc > 3 && sscanf(argv[3], "%dx%d", &nprow, &npcol) != 2)
        nprow = npcol = 0;
    float *x = malloc(sizeof(float) * M * D), *w[6];
    const int64_t wsize[6] = { D * D, D * D, D * D, D * D, (int64_t)F * D, (int64_t)D * F };
    ldm_mpi_test_fill(x, M * D, 61, 0.0f);
    for (int i = 0; i < 6; i++) {
        w[i] = malloc(sizeof(float) * (size_t)wsize[i]);
        ldm_mpi_test_fill(w[i], wsize[i], 62 + (uint64_t)i, 0.0f);
        for (int64_t j = 0; j < wsize[i]; j++)
            w[i][j] *= 0.03f;   /* ~1/sqrt(fan-in): keep activations O(1) */
    }
    float *ref_proj = malloc(sizeof(float) * M * D), *ref_ffn = malloc(sizeof(float) * M * D);
    bench b = { .x = x };
    size_t act = sizeof(float) * (size_t)M * F;
    b.q = malloc(act), b.k = malloc(act), b.v = malloc(act), b.h = malloc(act), b.y = malloc(act);

    /* local: full weights */
    ldm_status st = LDM_OK;
    plan *full[6] = { &b.pq, &b.pk, &b.pv, &b.po, &b.f1, &b.f2 };
    const int64_t kin[6] = { D, D, D, D, D, F }, nout[6] = { D, D, D, D, F, D };
    for (int i = 0; i < 6 && st == LDM_OK; i++)
        st = plan_make(full[i], kin[i], nout[i], w[i], kin[i]);
    if (st != LDM_OK) {
        fprintf(stderr, "%s\n", ldm_error_message());
        return ldm_mpi_test_finish() + 1;
    }
    proj_local(&b);
    memcpy(ref_proj, b.y, sizeof(float) * M * D);
    ffn_local(&b);
    memcpy(ref_ffn, b.y, sizeof(float) * M * D);
    local_fn = proj_local;
    double t_proj_local = time_it(on_rank0, &b, reps);
    local_fn = ffn_local;
    double t_ffn_local = time_it(on_rank0, &b, reps);
    for (int i = 0; i < 6; i++) {
        ldm_linear_plan_destroy(&full[i]->p);
        ldm_free(full[i]->scratch);
    }

    /* split: whole heads (64 columns) and FFN columns per rank */
    int64_t c0, c1, f0, f1;
    ldm_mpi_partition(D, size, rank, 64, &c0, &c1);
    ldm_mpi_partition(F, size, rank, 64, &f0, &f1);
    const int64_t cr = c1 - c0, fr = f1 - f0;
    st = plan_make(&b.pq, D, cr, w[0] + c0 * D, D);
    if (st == LDM_OK)
        st = plan_make(&b.pk, D, cr, w[1] + c0 * D, D);
    if (st == LDM_OK)
        st = plan_make(&b.pv, D, cr, w[2] + c0 * D, D);
    if (st == LDM_OK)
        st = plan_make(&b.po, cr, D, w[3] + c0, D);   /* columns [c0, c1) of every row */
    if (st == LDM_OK)
        st = plan_make(&b.f1, D, fr, w[4] + f0 * D, D);
    if (st == LDM_OK)
        st = plan_make(&b.f2, fr, D, w[5] + f0, F);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    proj_split(&b);
    double e_proj_split = rel_l2(b.y, ref_proj, M * D);
    ffn_split(&b);
    double e_ffn_split = rel_l2(b.y, ref_ffn, M * D);
    double t_proj_split = time_it(proj_split, &b, reps);
    double t_ffn_split = time_it(ffn_split, &b, reps);

    /* pblas */
    ldm_pblas_grid *g = NULL;
    st = ldm_pblas_grid_create(MPI_COMM_WORLD, nprow, npcol, &g);
    if (st == LDM_OK)
        st = setup_pblas(&b, g, w);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    proj_pblas(&b);
    double e_proj_pblas = rel_l2(b.y, ref_proj, M * D);
    ffn_pblas(&b);
    double e_ffn_pblas = rel_l2(b.y, ref_ffn, M * D);
    double t_proj_pblas = time_it(proj_pblas, &b, reps);
    double t_ffn_pblas = time_it(ffn_pblas, &b, reps);

    if (rank == 0) {
        const char *omp = getenv("OMP_NUM_THREADS");
        printf("bench_linear: %d rank(s), OMP_NUM_THREADS=%s, BLACS grid %dx%d, block %d, "
               "median of %d\n",
               size, omp ? omp : "unset", g ? g->nprow : 0, g ? g->npcol : 0, BLOCK, reps);
        printf("      local (rank 0)   split (heads/FFN)       pblas (psgemm)\n");
    }
    report("proj", t_proj_local, t_proj_split, t_proj_pblas, e_proj_split, e_proj_pblas);
    report("ffn", t_ffn_local, t_ffn_split, t_ffn_pblas, e_ffn_split, e_ffn_pblas);
    CHECK(e_proj_split < 1e-5 && e_ffn_split < 1e-5 && e_proj_pblas < 1e-5 && e_ffn_pblas < 1e-5);
    return ldm_mpi_test_finish();
}
