/* test_groupnorm: GroupNorm over row strips = single-rank ldm_group_norm.
 *
 * Each rank computes the moments of its strip (kernels/norm.h), the ranks
 * merge them with ldm_mpi_moments_allreduce over the world, and each rank
 * normalises its strip; the result must equal the same rows of the
 * single-rank GroupNorm within 1e-6 relative, also for an activation with a
 * large mean (where sums of squares would lose the variance) and with the
 * fused SiLU. The merged moments must equal the single-rank ones. Expected:
 * "N ranks: P passed, 0 failed" at np 1-4. */
#include <stdlib.h>

#include "kernels/norm.h"
#include "mpi/moments.h"
#include "mpi/util.h"
#include "mpi_harness.h"

_Static_assert(sizeof(ldm_moments) == 3 * sizeof(double),
               "mpi/moments.h reduces ldm_moments as three doubles");

static void run(int64_t n, int64_t h, int64_t w, int64_t c, int64_t groups, float offset,
                int silu)
{
    const int64_t hw = h * w, per = hw * c;
    float *x = malloc(sizeof(float) * (size_t)(n * per));
    float *y = malloc(sizeof(float) * (size_t)(n * per));
    float *gamma = malloc(sizeof(float) * (size_t)c), *beta = malloc(sizeof(float) * (size_t)c);
    ldm_mpi_test_fill(x, n * per, 11 + (uint64_t)h, offset);
    ldm_mpi_test_fill(gamma, c, 12, 1.0f);
    ldm_mpi_test_fill(beta, c, 13, 0.0f);
    CHECK(ldm_group_norm(y, x, gamma, beta, n, c, hw, groups, 1e-5, LDM_LAYOUT_NHWC, silu) ==
          LDM_OK);

    int64_t r0, r1;
    ldm_mpi_partition(h, ldm_mpi_test_size, ldm_mpi_test_rank, 1, &r0, &r1);
    const int64_t rows = r1 - r0, strip = rows * w * c;
    float *xs = malloc(sizeof(float) * (size_t)(n * strip + 1));
    float *ys = malloc(sizeof(float) * (size_t)(n * strip + 1));
    for (int64_t b = 0; b < n; b++)
        memcpy(xs + b * strip, x + b * per + r0 * w * c, sizeof(float) * (size_t)strip);

    ldm_moments *m = calloc((size_t)(n * groups), sizeof *m);
    if (rows > 0)   /* an empty strip contributes count 0 */
        ldm_group_norm_moments(m, xs, n, c, rows * w, groups, LDM_LAYOUT_NHWC);
    CHECK(ldm_mpi_moments_allreduce(MPI_COMM_WORLD, m, n * groups) == LDM_OK);

    ldm_moments *ref = calloc((size_t)(n * groups), sizeof *ref);
    ldm_group_norm_moments(ref, x, n, c, hw, groups, LDM_LAYOUT_NHWC);
    for (int64_t i = 0; i < n * groups; i++) {
        CHECK(m[i].count == ref[i].count);
        CHECK_CLOSE(m[i].mean, ref[i].mean, 1e-12);
        CHECK_CLOSE(m[i].m2, ref[i].m2, 1e-9);
    }
    if (rows > 0) {
        ldm_group_norm_apply(ys, xs, m, gamma, beta, 1e-5, n, c, rows * w, groups,
                             LDM_LAYOUT_NHWC, silu);
        double worst = 0.0;
        for (int64_t b = 0; b < n; b++)
            for (int64_t i = 0; i < strip; i++) {
                double a = ys[b * strip + i], e = y[b * per + r0 * w * c + i];
                double rel = fabs(a - e) / fmax(fabs(e), 1e-2);
                worst = rel > worst ? rel : worst;
            }
        CHECK_MSG(worst <= 1e-6, "h %lld offset %g: rel. error %g", (long long)h, offset, worst);
    }
    free(x);
    free(y);
    free(gamma);
    free(beta);
    free(xs);
    free(ys);
    free(m);
    free(ref);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    run(2, 9, 4, 8, 4, 0.0f, 0);
    run(2, 9, 4, 8, 4, 300.0f, 0);    /* large mean: needs the exact merge */
    run(1, 13, 5, 64, 32, 0.5f, 1);   /* 32 groups, SiLU, uneven strips */
    run(2, 3, 2, 6, 3, -2.0f, 0);     /* at 4 ranks one strip is empty */
    return ldm_mpi_test_finish();
}
