/* ldm_mpi_agree: every rank sees the worst status, and the ranks that did
 * not fail learn which rank did. Run at 1-4 ranks. */
#include <mpi.h>

#include "harness.h"
#include "mpi/agree.h"

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    CHECK(ldm_mpi_agree(MPI_COMM_WORLD, LDM_OK) == LDM_OK);

    /* The last rank fails with bad input; everyone must return it. */
    ldm_error_clear();
    ldm_status local = rank == size - 1 ? ldm_error(LDM_EINPUT, "bad flag") : LDM_OK;
    ldm_status all = ldm_mpi_agree(MPI_COMM_WORLD, local);
    CHECK(all == LDM_EINPUT);
    if (rank != size - 1) {
        char want[64];
        snprintf(want, sizeof want, "rank %d failed", size - 1);
        CHECK(strstr(ldm_error_message(), want) != NULL);
    } else {
        CHECK(strcmp(ldm_error_message(), "bad flag") == 0);
    }
    ldm_error_clear();

    /* Runtime beats input. */
    local = rank == 0 ? LDM_EINPUT : (rank == size - 1 ? LDM_ERUNTIME : LDM_OK);
    if (size == 1)
        local = LDM_ERUNTIME;
    CHECK(ldm_mpi_agree(MPI_COMM_WORLD, local) == LDM_ERUNTIME);

    int failed = ldm_test_failed, any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    if (rank == 0)
        return ldm_test_finish() || any;
    return any ? 1 : 0;
}
