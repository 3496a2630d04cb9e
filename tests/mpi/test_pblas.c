/* test_pblas: ScaLAPACK linear layers = a naive single-rank GEMM.
 *
 * y = x · wᵀ + b through a BLACS grid over the world (squarest, 1 × P and
 * P × 1) and over two halves of it at once (grids of sub-communicators), block-cyclic matrices (blocks 2 and 3), psgemm_; x replicated
 * (each rank copies its blocks) and distributed (the y of a first layer fed
 * to a second). Results gathered with ldm_pblas_matrix_get must match a
 * double-precision reference within 1e-5 relative; the local index maps must
 * cover every element once. Also the head/FFN split: w split by output rows,
 * a local product per rank, one ldm_mpi_allreduce_sum of the second layer's
 * partial sums. Expected: "N ranks: P passed, 0 failed" at np 1-4. */
#include <stdlib.h>

#include "mpi/pblas.h"
#include "mpi/util.h"
#include "mpi_harness.h"

/* y[m, n] = x[m, k] · w[n, k]ᵀ + b (b may be NULL), in double. */
static void naive(float *y, const float *x, const float *w, const float *b, int64_t m, int64_t n,
                  int64_t k)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = b ? b[j] : 0.0;
            for (int64_t l = 0; l < k; l++)
                s += (double)x[i * k + l] * w[j * k + l];
            y[i * n + j] = (float)s;
        }
}

/* max |a − e| / max |e| (a sum of products cancels: compare to the scale). */
static double worst_rel(const float *a, const float *e, int64_t count)
{
    double diff = 0.0, scale = 1e-30;
    for (int64_t i = 0; i < count; i++) {
        double d = fabs((double)a[i] - e[i]);
        diff = d > diff || isnan(d) ? (isnan(d) ? INFINITY : d) : diff;
        scale = fmax(scale, fabs(e[i]));
    }
    return diff / scale;
}

static void run(MPI_Comm comm, int nprow, int npcol, int block)
{
    int crank = 0, csize = 1;
    MPI_Comm_rank(comm, &crank);
    MPI_Comm_size(comm, &csize);
    enum { M = 7, K = 11, N = 9, N2 = 5 };
    float x[M * K], w[N * K], b[N], w2[N2 * N], y[M * N], y2[M * N2], got[M * N], got2[M * N2];
    ldm_mpi_test_fill(x, M * K, 41, 0.0f);
    ldm_mpi_test_fill(w, N * K, 42, 0.0f);
    ldm_mpi_test_fill(b, N, 43, 0.0f);
    ldm_mpi_test_fill(w2, N2 * N, 44, 0.0f);
    naive(y, x, w, b, M, N, K);
    naive(y2, y, w2, NULL, M, N2, N);

    ldm_pblas_grid *g = NULL;
    ldm_pblas_matrix *X = NULL, *W = NULL, *Y = NULL, *W2 = NULL, *Y2 = NULL;
    ldm_error_clear();
    ldm_status st = ldm_pblas_grid_create(comm, nprow, npcol, &g);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st != LDM_OK)
        return;
    CHECK(g->nprow * g->npcol == csize);
    CHECK(g->myrow * g->npcol + g->mycol == crank);
    CHECK(ldm_pblas_matrix_create(g, M, K, block, block, &X) == LDM_OK);
    CHECK(ldm_pblas_matrix_create(g, N, K, block, block, &W) == LDM_OK);
    CHECK(ldm_pblas_matrix_create(g, M, N, block, block, &Y) == LDM_OK);
    CHECK(ldm_pblas_matrix_create(g, N2, N, block, block, &W2) == LDM_OK);
    CHECK(ldm_pblas_matrix_create(g, M, N2, block, block, &Y2) == LDM_OK);
    if (!X || !W || !Y || !W2 || !Y2)
        goto done;

    /* Every element of W is owned by exactly one rank. */
    int owned[N * K] = { 0 }, total[N * K];
    for (int64_t i = 0; i < W->local_rows; i++)
        for (int64_t j = 0; j < W->local_cols; j++)
            owned[ldm_pblas_global_row(W, i) * K + ldm_pblas_global_col(W, j)]++;
    MPI_Allreduce(owned, total, N * K, MPI_INT, MPI_SUM, comm);
    int once = 1;
    for (int i = 0; i < N * K; i++)
        once = once && total[i] == 1;
    CHECK(once);

    ldm_pblas_matrix_set(X, x);   /* replicated x: local copies only */
    ldm_pblas_matrix_set(W, w);
    ldm_pblas_matrix_set(W2, w2);
    CHECK(ldm_pblas_matrix_get(W, got) == LDM_OK);
    CHECK(memcmp(got, w, sizeof w) == 0);
    CHECK(ldm_pblas_linear(Y, X, W, b) == LDM_OK);
    CHECK(ldm_pblas_matrix_get(Y, got) == LDM_OK);
    double e1 = worst_rel(got, y, M * N);
    CHECK_MSG(e1 <= 1e-5, "grid %dx%d block %d: rel. error %g", g->nprow, g->npcol, block, e1);
    CHECK(ldm_pblas_linear(Y2, Y, W2, NULL) == LDM_OK);   /* distributed x */
    CHECK(ldm_pblas_matrix_get(Y2, got2) == LDM_OK);
    double e2 = worst_rel(got2, y2, M * N2);
    CHECK_MSG(e2 <= 1e-5, "second layer, grid %dx%d: rel. error %g", g->nprow, g->npcol, e2);
    CHECK_FAILS_WITH(ldm_pblas_linear(Y, Y, W, NULL), LDM_EINPUT,
                     "y [7, 9] = x [7, 9] · wᵀ with w [9, 11]: shapes do not match");
done:
    ldm_pblas_matrix_destroy(&X);
    ldm_pblas_matrix_destroy(&W);
    ldm_pblas_matrix_destroy(&Y);
    ldm_pblas_matrix_destroy(&W2);
    ldm_pblas_matrix_destroy(&Y2);
    CHECK(X == NULL && Y2 == NULL);
    ldm_pblas_grid_destroy(&g);
    CHECK(g == NULL);
}

/* FFN split: rank r owns rows [f0, f1) of w1 [F, D] and the same columns of
 * w2 [D, F]; h_r = x w1_rᵀ (local), y = Σ_r h_r w2_rᵀ (one allreduce). */
static void run_split(void)
{
    enum { M = 6, D = 8, F = 14 };
    float x[M * D], w1[F * D], w2[D * F], h[M * F], y[M * D], part[M * D];
    ldm_mpi_test_fill(x, M * D, 51, 0.0f);
    ldm_mpi_test_fill(w1, F * D, 52, 0.0f);
    ldm_mpi_test_fill(w2, D * F, 53, 0.0f);
    naive(h, x, w1, NULL, M, F, D);
    naive(y, h, w2, NULL, M, D, F);
    int64_t f0, f1;
    ldm_mpi_partition(F, ldm_mpi_test_size, ldm_mpi_test_rank, 1, &f0, &f1);
    const int64_t fr = f1 - f0;
    float w2r[D * F], hr[M * F];
    for (int64_t j = 0; j < D; j++)
        memcpy(w2r + j * fr, w2 + j * F + f0, sizeof(float) * (size_t)fr);
    naive(hr, x, w1 + f0 * D, NULL, M, fr, D);
    naive(part, hr, w2r, NULL, M, D, fr);
    CHECK(ldm_mpi_allreduce_sum(MPI_COMM_WORLD, part, M * D) == LDM_OK);
    double e = worst_rel(part, y, M * D);
    CHECK_MSG(e <= 1e-5, "FFN split: rel. error %g", e);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    run(MPI_COMM_WORLD, 0, 0, 2);
    run(MPI_COMM_WORLD, 1, ldm_mpi_test_size, 3);
    run(MPI_COMM_WORLD, ldm_mpi_test_size, 1, 2);
    /* Grids over sub-communicators (groups): even and odd world ranks. */
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, ldm_mpi_test_rank % 2, ldm_mpi_test_rank, &half);
    run(half, 0, 0, 2);
    MPI_Comm_free(&half);
    run_split();
    ldm_pblas_grid *g = NULL;
    CHECK_FAILS_WITH(ldm_pblas_grid_create(MPI_COMM_WORLD, ldm_mpi_test_size + 1, 1, &g),
                     LDM_EINPUT, "does not fit the");
    CHECK(g == NULL);
    return ldm_mpi_test_finish();
}
