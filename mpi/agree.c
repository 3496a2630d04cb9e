#include "agree.h"

ldm_status ldm_mpi_agree(MPI_Comm comm, ldm_status local)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    /* Pack (status, rank) so MAXLOC also tells which rank failed worst. */
    struct { int status; int rank; } mine = { (int)local, rank }, worst;
    if (MPI_Allreduce(&mine, &worst, 1, MPI_2INT, MPI_MAXLOC, comm) != MPI_SUCCESS)
        return ldm_error(LDM_ERUNTIME, "MPI_Allreduce failed while agreeing on status");
    if (worst.status != LDM_OK && local == LDM_OK)
        return ldm_error((ldm_status)worst.status, "rank %d failed (see its message)", worst.rank);
    return (ldm_status)worst.status;
}
