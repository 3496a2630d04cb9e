/* mpi_harness.h — what every MPI test adds to tests/harness.h.
 *
 * ldm_mpi_test_init: MPI_Init with MPI_ERRORS_RETURN on the world (as the
 * program does), ldm_mpi_test_finish: every rank's failures count, rank 0
 * prints the summary, all ranks exit with the same code. Test data come
 * from a small deterministic generator so every rank can build the same
 * global tensor and take its own part of it.
 */
#ifndef LDM_TESTS_MPI_HARNESS_H
#define LDM_TESTS_MPI_HARNESS_H

#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

#include "harness.h"

static int ldm_mpi_test_rank, ldm_mpi_test_size;

static inline void ldm_mpi_test_init(int *argc, char ***argv)
{
    MPI_Init(argc, argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &ldm_mpi_test_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ldm_mpi_test_size);
}

static inline int ldm_mpi_test_finish(void)
{
    int failed = ldm_test_failed, any = 0, passed = ldm_test_passed, all_passed = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&passed, &all_passed, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (ldm_mpi_test_rank == 0)
        printf("%d ranks: %d passed, %d failed\n", ldm_mpi_test_size, all_passed, any);
    MPI_Finalize();
    return any ? 1 : 0;
}

/* Uniform floats in [-1, 1) + offset from a fixed LCG: the same on every rank. */
static inline void ldm_mpi_test_fill(float *x, int64_t count, uint64_t seed, float offset)
{
    uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    for (int64_t i = 0; i < count; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((double)(s >> 40) / (double)(1ULL << 24) * 2.0 - 1.0) + offset;
    }
}

#endif
