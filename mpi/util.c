/* util.c — checked MPI counts and error codes. */
#include "util.h"

#include <limits.h>

#include "core/timers.h"

ldm_status ldm_mpi_count(size_t n, int *out)
{
    if (n > (size_t)INT_MAX) {
        *out = 0;
        return ldm_error(LDM_ERUNTIME,
                         "MPI count %zu exceeds INT_MAX (%d): split the data over more ranks", n,
                         INT_MAX);
    }
    *out = (int)n;
    return LDM_OK;
}

ldm_status ldm_mpi_check(int mpi_rc, const char *what)
{
    if (mpi_rc == MPI_SUCCESS)
        return LDM_OK;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(mpi_rc, text, &len) != MPI_SUCCESS)
        len = 0;
    text[len] = '\0';
    return ldm_error(LDM_ERUNTIME, "%s failed: %s", what, len ? text : "unknown MPI error");
}

ldm_status ldm_mpi_allreduce_sum(MPI_Comm comm, float *buf, int64_t count)
{
    int n = 0;
    if (count < 0)
        return ldm_error(LDM_EINPUT, "allreduce: negative count %lld", (long long)count);
    ldm_status st = ldm_mpi_count((size_t)count, &n);
    if (st != LDM_OK)
        return st;
    const double t0 = ldm_timer_now();
    st = ldm_mpi_check(MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, comm),
                       "allreduce: MPI_Allreduce");
    ldm_timer_add(LDM_T_COMM_ALLREDUCE, ldm_timer_now() - t0, (uint64_t)n * sizeof(float));
    return st;
}

static int64_t boundary(int64_t total, int parts, int i, int64_t align)
{
    if (align < 1)
        align = 1;
    int64_t units = (total + align - 1) / align;
    int64_t b = (int64_t)i * units / parts * align;
    return b < total ? b : total;
}

void ldm_mpi_partition(int64_t total, int parts, int index, int64_t align, int64_t *begin,
                       int64_t *end)
{
    *begin = boundary(total, parts, index, align);
    *end = boundary(total, parts, index + 1, align);
}

void ldm_mpi_partition_starts(int64_t total, int parts, int64_t align, int64_t scale,
                              int64_t *starts)
{
    for (int i = 0; i <= parts; i++)
        starts[i] = boundary(total, parts, i, align) * scale;
}
