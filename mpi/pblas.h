/* pblas.h — distributed dense layers through ScaLAPACK's PBLAS (psgemm).
 *
 * A BLACS grid of nprow × npcol processes is built over a communicator
 * (the group's, or its channel communicator) with Csys2blacs_handle +
 * Cblacs_gridinit; matrices are distributed block-cyclically with
 * ScaLAPACK descriptors (descinit_), and
 *
 *   Y[m, n] = X[m, k] · W[n, k]ᵀ + b[n]          (torch.nn.Linear, row-major)
 *
 * runs as one psgemm_ call. ScaLAPACK is column-major, so a row-major
 * matrix A[rows, cols] is held as its transpose Aᵀ[cols, rows]: the columns
 * of A are spread over the process rows (blocks of block_cols) and the rows
 * of A over the process columns (blocks of block_rows). Locally a rank keeps
 * its A-rows one after the other, each with its A-columns contiguous:
 *   element (local row i, local col j) at data[i · ld + j].
 * The product is then psgemm_("T", "N", n, m, k, Wᵀ, Xᵀ, Yᵀ).
 *
 * X may be replicated (every rank copies its blocks out of its full copy:
 * ldm_pblas_matrix_set, no communication) or distributed (the Y of the
 * previous layer, same blocking). The local GEMMs run in the system BLAS
 * (Debian: OpenBLAS, its own threads: set OPENBLAS_NUM_THREADS to the
 * rank's thread share). The alternative without ScaLAPACK — split W by
 * output rows (heads, FFN columns), compute locally with kernels/linear.h,
 * re-assemble with one ldm_mpi_allreduce_sum (mpi/util.h) — is compared in
 * docs/parallelism.md.
 */
#ifndef LDM_MPI_PBLAS_H
#define LDM_MPI_PBLAS_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ldm_pblas_grid {
    MPI_Comm comm;       /* borrowed; grid process (r, c) is rank r·npcol + c of comm */
    int system;          /* BLACS system handle of comm (owned) */
    int context;         /* BLACS grid context (owned) */
    int nprow, npcol;    /* grid shape */
    int myrow, mycol;    /* this rank's coordinates */
} ldm_pblas_grid;

/* Collective on comm (ranks agree on failure). nprow · npcol must equal
 * the communicator's size; 0, 0 chooses the squarest grid (nprow <= npcol).
 * LDM_EINPUT naming the shape when it does not fit. */
ldm_status ldm_pblas_grid_create(MPI_Comm comm, int nprow, int npcol, ldm_pblas_grid **out);

/* Collective on the grid's comm. NULL is fine; *grid becomes NULL. */
void ldm_pblas_grid_destroy(ldm_pblas_grid **grid);

typedef struct ldm_pblas_matrix {
    const ldm_pblas_grid *grid;  /* borrowed */
    int64_t rows, cols;          /* global row-major A[rows, cols] */
    int block_rows, block_cols;  /* block-cyclic block of A */
    int local_rows, local_cols;  /* this rank's part: [local_rows, local_cols] */
    int ld;                      /* elements between local rows (>= local_cols, >= 1) */
    int desc[9];                 /* ScaLAPACK descriptor of Aᵀ */
    float *data;                 /* owned [local_rows, ld] */
} ldm_pblas_matrix;

/* Collective on grid->comm (ranks agree on failure). A zeroed distributed
 * A[rows, cols] with blocks block_rows × block_cols (>= 1). Matrices used
 * together in ldm_pblas_linear need equal square blocks (PBLAS alignment). */
ldm_status ldm_pblas_matrix_create(const ldm_pblas_grid *grid, int64_t rows, int64_t cols,
                                   int block_rows, int block_cols, ldm_pblas_matrix **out);

/* Local. The global row / column of local row i / local column j: what a
 * rank reads when it loads only its own blocks of a weight. */
int64_t ldm_pblas_global_row(const ldm_pblas_matrix *a, int64_t i);
int64_t ldm_pblas_global_col(const ldm_pblas_matrix *a, int64_t j);

/* Local. Copy this rank's blocks out of the full row-major A[rows, cols]
 * (present on this rank: a replicated activation, or a weight in a test). */
void ldm_pblas_matrix_set(ldm_pblas_matrix *a, const float *full);

/* Collective on grid->comm. full[rows, cols] (row-major) on every rank.
 * Allocates a gather buffer of rows·cols floats per call (outputs, tests). */
ldm_status ldm_pblas_matrix_get(const ldm_pblas_matrix *a, float *full);

/* Collective on grid->comm. y = x · wᵀ + bias: x [m, k], w [n, k], y [m, n],
 * bias [n] (replicated) or NULL. LDM_EINPUT when shapes or blocks do not
 * match (message names the matrices). */
ldm_status ldm_pblas_linear(ldm_pblas_matrix *y, const ldm_pblas_matrix *x,
                            const ldm_pblas_matrix *w, const float *bias);

/* Local. NULL is fine; *a becomes NULL. */
void ldm_pblas_matrix_destroy(ldm_pblas_matrix **a);

#endif
