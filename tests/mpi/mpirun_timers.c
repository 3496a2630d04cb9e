/* mpirun_timers.c — core/timers.h and the calls in kernels and mpi/: one
 * entry per public kernel call (a group norm is one norm call, not its
 * moments and apply halves too), the bytes a halo exchange and an
 * allreduce hand to MPI, reset and extend. Runs at 1-4 ranks. */
#include <stdlib.h>

#include "core/timers.h"
#include "kernels/elementwise.h"
#include "kernels/norm.h"
#include "mpi/halo.h"
#include "mpi/util.h"
#include "mpi_harness.h"

static void test_api(void)
{
    ldm_timer_totals t;
    ldm_timer_reset();
    ldm_timer_add(LDM_T_CONV, 0.5, 0);
    ldm_timer_add(LDM_T_COMM_HALO, 0.25, 100);
    ldm_timer_extend(LDM_T_COMM_HALO, 0.25);
    ldm_timer_add((ldm_timer_kind)99, 1.0, 0); /* out of range → other */
    ldm_timer_snapshot(&t);
    CHECK(t.calls[LDM_T_CONV] == 1 && t.seconds[LDM_T_CONV] == 0.5);
    CHECK(t.calls[LDM_T_COMM_HALO] == 1 && t.seconds[LDM_T_COMM_HALO] == 0.5 &&
          t.bytes[LDM_T_COMM_HALO] == 100);
    CHECK(t.calls[LDM_T_OTHER] == 1);
    const char *cat = NULL;
    CHECK(strcmp(ldm_timer_name(LDM_T_COMM_REDUCE_SCATTER, &cat), "reduce_scatter") == 0 &&
          strcmp(cat, "comm") == 0);
    CHECK(strcmp(ldm_timer_name(LDM_T_ELEMENTWISE, &cat), "elementwise") == 0 &&
          strcmp(cat, "compute") == 0);
    double a = ldm_timer_now(), b = ldm_timer_now();
    CHECK(b >= a && a > 0);
    ldm_timer_reset();
    ldm_timer_snapshot(&t);
    CHECK(t.calls[LDM_T_CONV] == 0 && t.seconds[LDM_T_COMM_HALO] == 0);
}

static void test_kernels(void)
{
    enum { N = 1, C = 8, HW = 16 };
    float x[N * C * HW], y[N * C * HW];
    for (int i = 0; i < N * C * HW; i++)
        x[i] = (float)(i % 7) - 3.0f;
    ldm_timer_totals t;
    ldm_timer_reset();
    CHECK(ldm_group_norm(y, x, NULL, NULL, N, C, HW, 4, 1e-5, LDM_LAYOUT_NHWC, 1) == LDM_OK);
    ldm_silu(y, x, N * C * HW);
    ldm_add(y, x, y, N * C * HW);
    ldm_timer_snapshot(&t);
    CHECK_MSG(t.calls[LDM_T_NORM] == 1, "norm calls %llu", (unsigned long long)t.calls[LDM_T_NORM]);
    CHECK(t.calls[LDM_T_ELEMENTWISE] == 2);
    CHECK(t.bytes[LDM_T_NORM] == 0 && t.calls[LDM_T_CONV] == 0);
}

static void test_comm(void)
{
    int rank = ldm_mpi_test_rank, size = ldm_mpi_test_size;
    ldm_timer_totals t;
    float buf[10] = { 1 };
    ldm_timer_reset();
    CHECK(ldm_mpi_allreduce_sum(MPI_COMM_WORLD, buf, 10) == LDM_OK);
    ldm_timer_snapshot(&t);
    CHECK(t.calls[LDM_T_COMM_ALLREDUCE] == 1 && t.bytes[LDM_T_COMM_ALLREDUCE] == 40);

    /* Halo of one row each way, rows of w·c = 3·2 floats: an interior rank
     * sends 2 rows, an edge rank 1, a single rank nothing (and no call). */
    ldm_halo_desc d = { .n = 1, .h = 4 * size, .w = 3, .c = 2, .align = 1, .above = 1, .below = 1 };
    ldm_halo *h = NULL;
    CHECK(ldm_halo_create(MPI_COMM_WORLD, &d, &h) == LDM_OK);
    if (!h)
        return;
    float *local = calloc((size_t)(h->local_h * d.w * d.c), sizeof(float));
    ldm_timer_reset();
    CHECK(ldm_halo_exchange(h, local) == LDM_OK);
    ldm_timer_snapshot(&t);
    int neighbours = (rank > 0) + (rank < size - 1);
    CHECK_MSG(t.bytes[LDM_T_COMM_HALO] == (uint64_t)neighbours * 3 * 2 * sizeof(float),
              "rank %d: halo bytes %llu", rank, (unsigned long long)t.bytes[LDM_T_COMM_HALO]);
    CHECK(t.calls[LDM_T_COMM_HALO] == (size > 1 ? 1u : 0u));
    free(local);
    ldm_halo_destroy(&h);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    test_api();
    test_kernels();
    test_comm();
    return ldm_mpi_test_finish();
}
