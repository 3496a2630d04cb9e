/* test_failures: one rank's failure makes every rank fail, none hangs.
 *
 * For each collective constructor of mpi/ (grid, halo, row gather, channel
 * plans, BLACS grid, PBLAS matrix) the last rank's n-th allocation is made to
 * fail (core/alloc.h fault injection), n = 1, 2, …, until the constructor
 * succeeds without reaching it. Every time, all ranks must return the same
 * verdict: the failing rank its own message, the others "rank K failed".
 * A hang here would be the bug (the test would time out). Expected:
 * "N ranks: P passed, 0 failed" at np 1-4. */
#include "core/alloc.h"
#include "mpi/channels.h"
#include "mpi/gather.h"
#include "mpi/grid.h"
#include "mpi/halo.h"
#include "mpi/pblas.h"
#include "mpi/util.h"
#include "mpi_harness.h"

typedef ldm_status (*make_fn)(void);
typedef void (*free_fn)(void);

static ldm_grid *grid;
static ldm_halo *halo;
static ldm_row_gather *rows;
static ldm_channels *chans;
static ldm_pblas_grid *blacs;
static ldm_pblas_matrix *matrix;
static int64_t starts[5];

static ldm_status make_grid(void)
{
    ldm_grid_layout l = { .world = ldm_mpi_test_size, .groups = 1, .cfg = 1, .pc = 1,
                          .ps = ldm_mpi_test_size };
    return ldm_grid_create(MPI_COMM_WORLD, &l, &grid);
}
static void free_grid(void) { ldm_grid_destroy(&grid); }

static ldm_status make_halo(void)
{
    ldm_halo_desc d = { .n = 2, .h = 8, .w = 3, .c = 2, .align = 1, .above = 1, .below = 1 };
    return ldm_halo_create(MPI_COMM_WORLD, &d, &halo);
}
static void free_halo(void) { ldm_halo_destroy(&halo); }

static ldm_status make_rows(void)
{
    return ldm_row_gather_create(MPI_COMM_WORLD, starts, 2, 5, &rows);
}
static void free_rows(void) { ldm_row_gather_destroy(&rows); }

static ldm_status make_chans(void)
{
    return ldm_channels_create(MPI_COMM_WORLD, starts, 6, LDM_CHANNELS_ALLTOALLW, &chans);
}
static void free_chans(void) { ldm_channels_destroy(&chans); }

static ldm_status make_blacs(void) { return ldm_pblas_grid_create(MPI_COMM_WORLD, 0, 0, &blacs); }
static void free_blacs(void) { ldm_pblas_grid_destroy(&blacs); }

static ldm_status make_matrix(void)
{
    ldm_status st = ldm_pblas_grid_create(MPI_COMM_WORLD, 0, 0, &blacs);
    if (st == LDM_OK)
        st = ldm_pblas_matrix_create(blacs, 9, 7, 2, 2, &matrix);
    return st;
}
static void free_matrix(void)
{
    ldm_pblas_matrix_destroy(&matrix);
    ldm_pblas_grid_destroy(&blacs);
}

static void sweep(const char *what, make_fn make, free_fn release)
{
    const int last = ldm_mpi_test_size - 1;
    for (long n = 1; n <= 40; n++) {
        ldm_error_clear();
        if (ldm_mpi_test_rank == last)
            ldm_alloc_fail_after(n);
        ldm_status st = make();
        ldm_alloc_fail_after(0);
        int failed = st != LDM_OK, count = 0;
        MPI_Allreduce(&failed, &count, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        CHECK_MSG(count == 0 || count == ldm_mpi_test_size,
                  "%s, allocation %ld: %d of %d ranks failed", what, n, count, ldm_mpi_test_size);
        if (failed && ldm_mpi_test_rank == last)
            CHECK_MSG(st == LDM_ERUNTIME && strstr(ldm_error_message(), "out of memory") != NULL,
                      "%s: %s", what, ldm_error_message());
        if (failed && ldm_mpi_test_rank != last) {
            char want[32];
            snprintf(want, sizeof want, "rank %d failed", last);
            CHECK_MSG(strstr(ldm_error_message(), want) != NULL, "%s: %s", what,
                      ldm_error_message());
        }
        release();
        if (count == 0) {   /* no allocation left to fail */
            CHECK_MSG(n > 1, "%s: the first allocation did not fail", what);
            if (ldm_mpi_test_rank == 0)
                printf("%s: %ld allocations failed cleanly on rank %d\n", what, n - 1, last);
            return;
        }
    }
    CHECK_MSG(0, "%s still failing after 40 allocations", what);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    ldm_mpi_partition_starts(8, ldm_mpi_test_size, 1, 1, starts);
    sweep("grid", make_grid, free_grid);
    sweep("halo", make_halo, free_halo);
    sweep("row gather", make_rows, free_rows);
    sweep("channels", make_chans, free_chans);
    sweep("BLACS grid", make_blacs, free_blacs);
    sweep("PBLAS matrix", make_matrix, free_matrix);
    CHECK(grid == NULL && halo == NULL && rows == NULL && chans == NULL && blacs == NULL &&
          matrix == NULL);
    return ldm_mpi_test_finish();
}
