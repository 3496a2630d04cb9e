#include "agree.h"

#include "core/timers.h"

ldm_status ldm_mpi_agree(MPI_Comm comm, ldm_status local)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    /* Pack (status, rank) so MAXLOC also tells which rank failed worst. */
    struct { int status; int rank; } mine = { (int)local, rank }, worst;
    /* Counted as "other": its time is mostly waiting for the slowest rank. */
    const double t0 = ldm_timer_now();
    int rc = MPI_Allreduce(&mine, &worst, 1, MPI_2INT, MPI_MAXLOC, comm);
    ldm_timer_add(LDM_T_COMM_OTHER, ldm_timer_now() - t0, sizeof mine);
    if (rc != MPI_SUCCESS)
        return ldm_error(LDM_ERUNTIME, "MPI_Allreduce failed while agreeing on status");
    if (worst.status != LDM_OK && local == LDM_OK)
        return ldm_error((ldm_status)worst.status, "rank %d failed (see its message)", worst.rank);
    return (ldm_status)worst.status;
}
