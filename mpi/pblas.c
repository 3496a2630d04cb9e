/* pblas.c — BLACS grids, block-cyclic matrices and psgemm_ (pblas.h). */
#include "pblas.h"

#include <string.h>

#include "core/alloc.h"
#include "core/timers.h"
#include "mpi/agree.h"
#include "mpi/util.h"

/* Debian's libscalapack-openmpi ships no C header: the BLACS C interface
 * and the Fortran-callable ScaLAPACK/PBLAS symbols (nm -D shows them). */
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *context, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int context);
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc,
            const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
               const int *irsrc, const int *icsrc, const int *ictxt, const int *lld, int *info);
void psgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
             const float *alpha, const float *a, const int *ia, const int *ja, const int *desca,
             const float *b, const int *ib, const int *jb, const int *descb, const float *beta,
             float *c, const int *ic, const int *jc, const int *descc);

ldm_status ldm_pblas_grid_create(MPI_Comm comm, int nprow, int npcol, ldm_pblas_grid **out)
{
    ldm_status st = LDM_OK;
    ldm_pblas_grid *g = NULL;
    int size = 1;
    *out = NULL;
    LDM_CHECK(ldm_mpi_check(MPI_Comm_size(comm, &size), "BLACS grid: MPI_Comm_size"));
    if (nprow == 0 && npcol == 0) {
        for (nprow = 1; (nprow + 1) * (nprow + 1) <= size; nprow++)
            ;
        while (size % nprow != 0)
            nprow--;
        npcol = size / nprow;
    }
    if (nprow < 1 || npcol < 1 || (int64_t)nprow * npcol != size) {
        st = ldm_error(LDM_EINPUT, "BLACS grid %dx%d does not fit the %d ranks", nprow, npcol,
                       size);
        goto cleanup;
    }
    st = ldm_calloc(sizeof *g, "BLACS grid", (void **)&g);
    LDM_CHECK(ldm_mpi_agree(comm, st));
    g->comm = comm;
    g->system = Csys2blacs_handle(comm);
    g->context = g->system;
    Cblacs_gridinit(&g->context, "Row", nprow, npcol);
    Cblacs_gridinfo(g->context, &g->nprow, &g->npcol, &g->myrow, &g->mycol);
    if (g->nprow != nprow || g->npcol != npcol)
        st = ldm_error(LDM_ERUNTIME, "BLACS grid %dx%d: Cblacs_gridinit gave %dx%d", nprow, npcol,
                       g->nprow, g->npcol);
    LDM_CHECK(ldm_mpi_agree(comm, st));
    *out = g;
    g = NULL;
cleanup:
    if (g && st != LDM_OK && g->nprow > 0)
        Cblacs_gridexit(g->context);
    if (g && g->nprow > 0)
        Cfree_blacs_system_handle(g->system);
    ldm_free(g);
    return st;
}

void ldm_pblas_grid_destroy(ldm_pblas_grid **grid)
{
    if (!grid || !*grid)
        return;
    Cblacs_gridexit((*grid)->context);
    Cfree_blacs_system_handle((*grid)->system);
    ldm_free(*grid);
    *grid = NULL;
}

/* Elements of a dimension of n with blocks nb that process p of np owns. */
static int local_count(int64_t n, int nb, int p, int np)
{
    int ni = (int)n, zero = 0;
    return numroc_(&ni, &nb, &p, &zero, &np);
}

/* Block-cyclic local index l of process p (of np, blocks nb) → global. */
static int64_t to_global(int64_t l, int nb, int p, int np)
{
    return ((l / nb) * np + p) * nb + l % nb;
}

ldm_status ldm_pblas_matrix_create(const ldm_pblas_grid *grid, int64_t rows, int64_t cols,
                                   int block_rows, int block_cols, ldm_pblas_matrix **out)
{
    ldm_status st = LDM_OK;
    ldm_pblas_matrix *a = NULL;
    int r = 0, c = 0;
    *out = NULL;
    if (rows < 1 || cols < 1 || block_rows < 1 || block_cols < 1) {
        st = ldm_error(LDM_EINPUT, "PBLAS matrix [%lld, %lld] with blocks %dx%d: sizes must be "
                                   "positive",
                       (long long)rows, (long long)cols, block_rows, block_cols);
        goto cleanup;
    }
    LDM_CHECK(ldm_mpi_count((size_t)rows, &r));
    LDM_CHECK(ldm_mpi_count((size_t)cols, &c));
    st = ldm_calloc(sizeof *a, "PBLAS matrix", (void **)&a);
    if (st == LDM_OK) {
        *a = (ldm_pblas_matrix){ .grid = grid, .rows = rows, .cols = cols,
                                 .block_rows = block_rows, .block_cols = block_cols };
        /* Aᵀ [cols, rows]: A-columns over process rows, A-rows over process columns. */
        a->local_cols = local_count(cols, block_cols, grid->myrow, grid->nprow);
        a->local_rows = local_count(rows, block_rows, grid->mycol, grid->npcol);
        a->ld = a->local_cols > 1 ? a->local_cols : 1;
        int zero = 0, info = 0;
        descinit_(a->desc, &c, &r, &block_cols, &block_rows, &zero, &zero, &grid->context,
                  &a->ld, &info);
        if (info != 0)
            st = ldm_error(LDM_EINPUT, "PBLAS matrix [%lld, %lld]: descinit_ failed (info %d)",
                           (long long)rows, (long long)cols, info);
        size_t bytes = 0;
        if (st == LDM_OK)
            st = ldm_mul_size((size_t)a->local_rows * (size_t)a->ld, sizeof(float), &bytes);
        if (st == LDM_OK)
            st = ldm_calloc(bytes, "PBLAS matrix data", (void **)&a->data);
    }
    LDM_CHECK(ldm_mpi_agree(grid->comm, st));
    *out = a;
    a = NULL;
cleanup:
    ldm_pblas_matrix_destroy(&a);
    return st;
}

int64_t ldm_pblas_global_row(const ldm_pblas_matrix *a, int64_t i)
{
    return to_global(i, a->block_rows, a->grid->mycol, a->grid->npcol);
}

int64_t ldm_pblas_global_col(const ldm_pblas_matrix *a, int64_t j)
{
    return to_global(j, a->block_cols, a->grid->myrow, a->grid->nprow);
}

void ldm_pblas_matrix_set(ldm_pblas_matrix *a, const float *full)
{
    for (int64_t i = 0; i < a->local_rows; i++) {
        const float *src = full + ldm_pblas_global_row(a, i) * a->cols;
        float *dst = a->data + i * a->ld;
        /* Whole blocks of columns are contiguous in both. */
        for (int64_t j = 0; j < a->local_cols; j += a->block_cols) {
            int64_t len = a->local_cols - j < a->block_cols ? a->local_cols - j : a->block_cols;
            memcpy(dst + j, src + ldm_pblas_global_col(a, j), (size_t)len * sizeof(float));
        }
    }
}

ldm_status ldm_pblas_matrix_get(const ldm_pblas_matrix *a, float *full)
{
    ldm_status st = LDM_OK;
    const ldm_pblas_grid *g = a->grid;
    int size = g->nprow * g->npcol, total = 0;
    int *counts = NULL, *displs = NULL;
    float *all = NULL;
    size_t bytes = 0;
    LDM_CHECK(ldm_mpi_count((size_t)(a->rows * a->cols), &total));
    st = ldm_mul_size((size_t)total, sizeof(float), &bytes);
    if (st == LDM_OK)
        st = ldm_alloc(bytes, "PBLAS gather buffer", (void **)&all);
    if (st == LDM_OK)
        st = ldm_alloc(sizeof(int) * (size_t)size, "PBLAS gather counts", (void **)&counts);
    if (st == LDM_OK)
        st = ldm_alloc(sizeof(int) * (size_t)size, "PBLAS gather displs", (void **)&displs);
    LDM_CHECK(ldm_mpi_agree(g->comm, st));
    for (int p = 0, off = 0; p < size; p++) {
        int prow = p / g->npcol, pcol = p % g->npcol;
        counts[p] = local_count(a->cols, a->block_cols, prow, g->nprow) *
                    local_count(a->rows, a->block_rows, pcol, g->npcol);
        displs[p] = off;
        off += counts[p];
    }
    /* ld == local_cols whenever local_cols > 0: the local part is contiguous. */
    const double t0 = ldm_timer_now();
    st = ldm_mpi_check(MPI_Allgatherv(a->data, a->local_rows * a->local_cols, MPI_FLOAT, all,
                                      counts, displs, MPI_FLOAT, g->comm),
                       "PBLAS gather: MPI_Allgatherv");
    ldm_timer_add(LDM_T_COMM_ALLGATHER, ldm_timer_now() - t0,
                  (uint64_t)(a->local_rows * a->local_cols) * sizeof(float));
    LDM_CHECK(st);
    for (int p = 0; p < size; p++) {
        int prow = p / g->npcol, pcol = p % g->npcol;
        int lc = local_count(a->cols, a->block_cols, prow, g->nprow);
        int lr = local_count(a->rows, a->block_rows, pcol, g->npcol);
        const float *src = all + displs[p];
        for (int64_t i = 0; i < lr; i++) {
            float *row = full + to_global(i, a->block_rows, pcol, g->npcol) * a->cols;
            for (int64_t j = 0; j < lc; j++)
                row[to_global(j, a->block_cols, prow, g->nprow)] = src[i * lc + j];
        }
    }
cleanup:
    ldm_free(all);
    ldm_free(counts);
    ldm_free(displs);
    return st;
}

ldm_status ldm_pblas_linear(ldm_pblas_matrix *y, const ldm_pblas_matrix *x,
                            const ldm_pblas_matrix *w, const float *bias)
{
    if (x->grid != w->grid || y->grid != w->grid)
        return ldm_error(LDM_EINPUT, "PBLAS linear: x, w and y are on different grids");
    if (x->cols != w->cols || y->rows != x->rows || y->cols != w->rows)
        return ldm_error(LDM_EINPUT,
                         "PBLAS linear: y [%lld, %lld] = x [%lld, %lld] · wᵀ with w [%lld, %lld]: "
                         "shapes do not match",
                         (long long)y->rows, (long long)y->cols, (long long)x->rows,
                         (long long)x->cols, (long long)w->rows, (long long)w->cols);
    int b = w->block_rows;
    if (w->block_cols != b || x->block_rows != b || x->block_cols != b || y->block_rows != b ||
        y->block_cols != b)
        return ldm_error(LDM_EINPUT, "PBLAS linear: x, w and y need the same square blocks "
                                     "(w %dx%d, x %dx%d, y %dx%d)",
                         w->block_rows, w->block_cols, x->block_rows, x->block_cols,
                         y->block_rows, y->block_cols);
    /* Column-major: Yᵀ [n, m] = (Wᵀ)ᵀ [n, k] · Xᵀ [k, m]. */
    int m = (int)x->rows, n = (int)w->rows, k = (int)w->cols, one = 1;
    float alpha = 1.0f, beta = 0.0f;
    /* psgemm's panel broadcasts are inside the call: all of it counts as
     * communication ("other"), its bytes are not known here. */
    const double t0 = ldm_timer_now();
    psgemm_("T", "N", &n, &m, &k, &alpha, w->data, &one, &one, w->desc, x->data, &one, &one,
            x->desc, &beta, y->data, &one, &one, y->desc);
    ldm_timer_add(LDM_T_COMM_OTHER, ldm_timer_now() - t0, 0);
    if (bias) {
        for (int64_t i = 0; i < y->local_rows; i++)
            for (int64_t j = 0; j < y->local_cols; j++)
                y->data[i * y->ld + j] += bias[ldm_pblas_global_col(y, j)];
    }
    return LDM_OK;
}

void ldm_pblas_matrix_destroy(ldm_pblas_matrix **a)
{
    if (!a || !*a)
        return;
    ldm_free((*a)->data);
    ldm_free(*a);
    *a = NULL;
}
