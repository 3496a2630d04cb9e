/* moments.c — Chan's merge as an MPI reduction (moments.h). */
#include "moments.h"

#include "core/timers.h"

#include "mpi/util.h"

/* inout ← in ∘ inout, `in` holding the lower ranks (non-commutative op):
 * the same arithmetic as kernels' ldm_moments_merge(acc = in, other = inout). */
static void merge_op(void *in, void *inout, int *len, MPI_Datatype *type)
{
    const double *a = in;
    double *b = inout;
    for (int i = 0; i < *len; i++, a += 3, b += 3) {
        double na = a[0], ma = a[1], m2a = a[2];
        double nb = b[0];
        if (nb == 0.0) {
            b[0] = na;
            b[1] = ma;
            b[2] = m2a;
            continue;
        }
        if (na == 0.0)
            continue;
        double n = na + nb;
        double delta = b[1] - ma;
        b[1] = ma + delta * (nb / n);
        b[2] = m2a + (b[2] + delta * delta * (na * nb / n));
        b[0] = n;
    }
}

ldm_status ldm_mpi_moments_allreduce(MPI_Comm comm, void *moments, int64_t count)
{
    ldm_status st = LDM_OK;
    MPI_Datatype triple = MPI_DATATYPE_NULL;
    MPI_Op op = MPI_OP_NULL;
    int size = 1, n = 0;
    if (count < 0)
        return ldm_error(LDM_EINPUT, "moments allreduce: negative count %lld", (long long)count);
    LDM_CHECK(ldm_mpi_count((size_t)count, &n));
    LDM_CHECK(ldm_mpi_check(MPI_Comm_size(comm, &size), "moments allreduce: MPI_Comm_size"));
    if (size == 1 || n == 0)
        goto cleanup;
    LDM_CHECK(ldm_mpi_check(MPI_Type_contiguous(3, MPI_DOUBLE, &triple),
                            "moments allreduce: MPI_Type_contiguous"));
    LDM_CHECK(ldm_mpi_check(MPI_Type_commit(&triple), "moments allreduce: MPI_Type_commit"));
    LDM_CHECK(ldm_mpi_check(MPI_Op_create(merge_op, 0, &op), "moments allreduce: MPI_Op_create"));
    const double t0 = ldm_timer_now();
    st = ldm_mpi_check(MPI_Allreduce(MPI_IN_PLACE, moments, n, triple, op, comm),
                       "moments allreduce: MPI_Allreduce");
    ldm_timer_add(LDM_T_COMM_ALLREDUCE, ldm_timer_now() - t0, (uint64_t)n * 3 * sizeof(double));
cleanup:
    if (op != MPI_OP_NULL)
        MPI_Op_free(&op);
    if (triple != MPI_DATATYPE_NULL)
        MPI_Type_free(&triple);
    return st;
}
