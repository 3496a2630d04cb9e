/* bench_channels: re-assembling channel-split NHWC activations, two ways.
 *
 *   OMP_NUM_THREADS=1 mpirun -n P bench_channels [reps]      (P = 2 … 4)
 *
 * For UNet / VAE activation shapes at 256² (CFG batch 2 for the UNet), rank r
 * holds channels [C·r/P, C·(r+1)/P) of every pixel and the ranks rebuild the
 * full [pixels, C] tensor with ldm_channels_allgather:
 *   pack       MPI_Allgatherv of contiguous slices + a local interleaving copy
 *   alltoallw  MPI_Alltoallw with one vector datatype per peer, no copy
 * and the reduce-scatter (always packed). Prints the median milliseconds
 * (slowest rank) and the ratio pack / alltoallw; checks the result. Not a
 * ctest: docs/parallelism.md records runs and the choice of AUTO. */
#include <stdlib.h>

#include "mpi/channels.h"
#include "mpi/util.h"
#include "mpi_harness.h"

enum { MAX_REPS = 101 };

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double time_gather(ldm_channels *p, const float *local, float *full, int reps, int reduce)
{
    double t[MAX_REPS];
    for (int r = -1; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        ldm_status st = reduce ? ldm_channels_reduce_scatter(p, full, (float *)local)
                               : ldm_channels_allgather(p, local, full);
        double dt = MPI_Wtime() - t0, worst = 0.0;
        if (st != LDM_OK)
            fprintf(stderr, "%s\n", ldm_error_message());
        MPI_Allreduce(&dt, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (r >= 0)
            t[r] = worst * 1e3;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp);
    return t[reps / 2];
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    int reps = argc > 1 ? atoi(argv[1]) : 11;
    if (reps < 1 || reps > MAX_REPS)
        reps = 11;
    const struct { const char *name; int64_t pixels, c; } shapes[] = {
        { "unet 2x32x32x320", 2 * 32 * 32, 320 }, { "unet 2x16x16x640", 2 * 16 * 16, 640 },
        { "unet 2x8x8x1280", 2 * 8 * 8, 1280 },   { "unet 2x4x4x1280", 2 * 4 * 4, 1280 },
        { "vae 1x64x64x512", 64 * 64, 512 },      { "vae 1x256x256x128", 256 * 256, 128 },
    };
    if (ldm_mpi_test_rank == 0)
        printf("bench_channels: %d ranks, median of %d (ms, slowest rank)\n"
               "%-20s %10s %10s %8s %14s\n",
               ldm_mpi_test_size, reps, "shape", "pack", "alltoallw", "ratio", "reduce-scatter");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t pixels = shapes[s].pixels, c = shapes[s].c;
        int64_t starts[65];
        if (ldm_mpi_test_size > 64)
            break;
        ldm_mpi_partition_starts(c, ldm_mpi_test_size, 1, 1, starts);
        const int64_t c0 = starts[ldm_mpi_test_rank], cr = starts[ldm_mpi_test_rank + 1] - c0;
        float *full = malloc(sizeof(float) * (size_t)(pixels * c));
        float *got = malloc(sizeof(float) * (size_t)(pixels * c));
        float *local = malloc(sizeof(float) * (size_t)(pixels * cr + 1));
        ldm_mpi_test_fill(full, pixels * c, 71, 0.0f);
        for (int64_t p = 0; p < pixels; p++)
            memcpy(local + p * cr, full + p * c + c0, sizeof(float) * (size_t)cr);
        double t[2] = { 0.0, 0.0 }, t_rs = 0.0;
        const ldm_channels_method methods[2] = { LDM_CHANNELS_PACK, LDM_CHANNELS_ALLTOALLW };
        for (int m = 0; m < 2; m++) {
            ldm_channels *plan = NULL;
            if (ldm_channels_create(MPI_COMM_WORLD, starts, pixels, methods[m], &plan) != LDM_OK)
                continue;
            t[m] = time_gather(plan, local, got, reps, 0);
            CHECK(memcmp(got, full, sizeof(float) * (size_t)(pixels * c)) == 0);
            if (m == 0) {
                float *slice = malloc(sizeof(float) * (size_t)(pixels * cr + 1));
                t_rs = time_gather(plan, slice, full, reps, 1);
                free(slice);
            }
            ldm_channels_destroy(&plan);
        }
        if (ldm_mpi_test_rank == 0)
            printf("%-20s %10.3f %10.3f %7.2fx %14.3f\n", shapes[s].name, t[0], t[1],
                   t[1] / t[0], t_rs);
        free(full);
        free(got);
        free(local);
    }
    return ldm_mpi_test_finish();
}
