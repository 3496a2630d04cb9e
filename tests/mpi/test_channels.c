/* test_channels: channel-split NHWC activations re-assembled exactly.
 *
 * A full [pixels, C] tensor is generated on every rank; rank r keeps channels
 * [starts[r], starts[r+1]). ldm_channels_allgather (both methods: pack +
 * local interleave, and MPI_Alltoallw with vector types) must rebuild the
 * full tensor bit for bit, for even, uneven, group-aligned and empty slices.
 * ldm_channels_reduce_scatter of partials (rank q holds (q+1)·full) must give
 * each rank Σ(q+1) = P(P+1)/2 times its slice. Expected: "N ranks: P passed,
 * 0 failed" at np 1-4. */
#include <stdlib.h>

#include "mpi/channels.h"
#include "mpi/util.h"
#include "mpi_harness.h"

static void run(int64_t pixels, int64_t c, int64_t align, ldm_channels_method method)
{
    const int size = ldm_mpi_test_size, rank = ldm_mpi_test_rank;
    int64_t starts[5];
    ldm_mpi_partition_starts(c, size, align, 1, starts);
    const int64_t c0 = starts[rank], cr = starts[rank + 1] - c0;
    float *full = malloc(sizeof(float) * (size_t)(pixels * c));
    float *got = malloc(sizeof(float) * (size_t)(pixels * c));
    float *local = malloc(sizeof(float) * (size_t)(pixels * cr + 1));
    ldm_mpi_test_fill(full, pixels * c, 31 + (uint64_t)c, 0.0f);
    for (int64_t p = 0; p < pixels; p++)
        memcpy(local + p * cr, full + p * c + c0, sizeof(float) * (size_t)cr);
    for (int64_t i = 0; i < pixels * c; i++)
        got[i] = NAN;

    ldm_channels *plan = NULL;
    ldm_error_clear();
    ldm_status st = ldm_channels_create(MPI_COMM_WORLD, starts, pixels, method, &plan);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st != LDM_OK)
        goto done;
    CHECK(method == LDM_CHANNELS_AUTO || ldm_channels_method_of(plan) == method);
    CHECK(ldm_channels_allgather(plan, local, got) == LDM_OK);
    CHECK_MSG(memcmp(got, full, sizeof(float) * (size_t)(pixels * c)) == 0,
              "allgather of %lld channels (align %lld, method %d) differs", (long long)c,
              (long long)align, (int)method);

    /* Partials (rank+1)·full: integers times small floats, so the sum is exact
     * up to one rounding per addition; compare with a tolerance. */
    for (int64_t i = 0; i < pixels * c; i++)
        got[i] = full[i] * (float)(rank + 1);
    for (int64_t i = 0; i < pixels * cr; i++)
        local[i] = NAN;
    CHECK(ldm_channels_reduce_scatter(plan, got, local) == LDM_OK);
    const double factor = size * (size + 1) / 2.0;
    double worst = 0.0;
    for (int64_t p = 0; p < pixels; p++)
        for (int64_t j = 0; j < cr; j++) {
            double e = factor * full[p * c + c0 + j], a = local[p * cr + j];
            double rel = fabs(a - e) / fmax(fabs(e), 1e-3);
            worst = rel > worst || isnan(a) ? (isnan(a) ? INFINITY : rel) : worst;
        }
    CHECK_MSG(worst <= 1e-6, "reduce-scatter of %lld channels: rel. error %g", (long long)c,
              worst);
    ldm_channels_destroy(&plan);
    CHECK(plan == NULL);
done:
    free(full);
    free(got);
    free(local);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    const ldm_channels_method methods[] = { LDM_CHANNELS_AUTO, LDM_CHANNELS_PACK,
                                            LDM_CHANNELS_ALLTOALLW };
    for (int m = 0; m < 3; m++) {
        run(30, 12, 1, methods[m]);   /* 2·3·5 pixels; 12 = 12, 6+6, 4+4+4, 3·4 */
        run(30, 10, 1, methods[m]);   /* uneven */
        run(7, 32, 4, methods[m]);    /* whole GroupNorm groups of 4 channels */
        run(5, 3, 1, methods[m]);     /* at 4 ranks one slice is empty */
    }
    ldm_channels *p = NULL;
    int64_t bad[5] = { 0, 0, 0, 0, 0 };
    CHECK_FAILS_WITH(ldm_channels_create(MPI_COMM_WORLD, bad, 4, LDM_CHANNELS_AUTO, &p),
                     LDM_EINPUT, "both must be positive");
    CHECK(p == NULL);
    return ldm_mpi_test_finish();
}
