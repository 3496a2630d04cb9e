/* channels.c — allgather / reduce-scatter of NHWC channel slices (channels.h). */
#include "channels.h"

#include <string.h>

#include "core/alloc.h"
#include "core/timers.h"
#include "mpi/agree.h"
#include "mpi/util.h"

struct ldm_channels {
    MPI_Comm comm;               /* borrowed */
    ldm_channels_method method;
    int rank, size;
    int64_t pixels, c;
    int64_t *starts;             /* owned [size + 1] */
    int *counts, *displs;        /* owned [size]: pixels·C_r, pixels·starts[r] (floats) */
    float *scratch;              /* owned [pixels, C] packed as [P][pixels][C_r] */
    /* LDM_CHANNELS_ALLTOALLW: */
    int *send_counts, *send_displs, *recv_counts, *recv_displs;  /* owned [size] */
    MPI_Datatype *send_types, *recv_types;                       /* owned [size] */
};

static ldm_status alltoallw_plan(ldm_channels *p)
{
    ldm_status st = LDM_OK;
    size_t ints = sizeof(int) * (size_t)p->size, types = sizeof(MPI_Datatype) * (size_t)p->size;
    LDM_CHECK(ldm_calloc(ints, "channel gather counts", (void **)&p->send_counts));
    LDM_CHECK(ldm_calloc(ints, "channel gather displs", (void **)&p->send_displs));
    LDM_CHECK(ldm_calloc(ints, "channel gather counts", (void **)&p->recv_counts));
    LDM_CHECK(ldm_calloc(ints, "channel gather displs", (void **)&p->recv_displs));
    LDM_CHECK(ldm_alloc(types, "channel gather types", (void **)&p->send_types));
    LDM_CHECK(ldm_alloc(types, "channel gather types", (void **)&p->recv_types));
    for (int r = 0; r < p->size; r++)
        p->send_types[r] = p->recv_types[r] = MPI_FLOAT;
    int pixels = 0, c = 0;
    LDM_CHECK(ldm_mpi_count((size_t)p->pixels, &pixels));
    LDM_CHECK(ldm_mpi_count((size_t)p->c, &c));
    for (int r = 0; r < p->size; r++) {
        int cr = (int)(p->starts[r + 1] - p->starts[r]);
        p->send_counts[r] = p->counts[p->rank];   /* our whole slice to everyone */
        LDM_CHECK(ldm_mpi_count((size_t)p->starts[r] * sizeof(float), &p->recv_displs[r]));
        if (cr == 0)
            continue;
        LDM_CHECK(ldm_mpi_check(MPI_Type_vector(pixels, cr, c, MPI_FLOAT, &p->recv_types[r]),
                                "channel gather: MPI_Type_vector"));
        LDM_CHECK(ldm_mpi_check(MPI_Type_commit(&p->recv_types[r]),
                                "channel gather: MPI_Type_commit"));
        p->recv_counts[r] = 1;
    }
cleanup:
    return st;
}

static ldm_status plan(ldm_channels *p, const int64_t *starts)
{
    ldm_status st = LDM_OK;
    size_t ints = sizeof(int) * (size_t)p->size, bytes = 0;
    LDM_CHECK(ldm_alloc(sizeof(int64_t) * (size_t)(p->size + 1), "channel gather starts",
                        (void **)&p->starts));
    memcpy(p->starts, starts, sizeof(int64_t) * (size_t)(p->size + 1));
    LDM_CHECK(ldm_alloc(ints, "channel gather counts", (void **)&p->counts));
    LDM_CHECK(ldm_alloc(ints, "channel gather displs", (void **)&p->displs));
    for (int r = 0; r < p->size; r++) {
        LDM_CHECK(ldm_mpi_count((size_t)(p->pixels * (starts[r + 1] - starts[r])), &p->counts[r]));
        LDM_CHECK(ldm_mpi_count((size_t)(p->pixels * starts[r]), &p->displs[r]));
    }
    LDM_CHECK(ldm_mpi_count((size_t)(p->pixels * p->c), &(int){ 0 }));
    if (p->size > 1) {
        LDM_CHECK(ldm_mul_size((size_t)(p->pixels * p->c), sizeof(float), &bytes));
        LDM_CHECK(ldm_alloc(bytes, "channel gather scratch", (void **)&p->scratch));
    }
    if (p->method == LDM_CHANNELS_ALLTOALLW)
        LDM_CHECK(alltoallw_plan(p));
cleanup:
    return st;
}

ldm_status ldm_channels_create(MPI_Comm comm, const int64_t *starts, int64_t pixels,
                               ldm_channels_method method, ldm_channels **out)
{
    ldm_status st = LDM_OK;
    ldm_channels *p = NULL;
    int rank = 0, size = 1;
    *out = NULL;
    LDM_CHECK(ldm_mpi_check(MPI_Comm_rank(comm, &rank), "channel gather: MPI_Comm_rank"));
    LDM_CHECK(ldm_mpi_check(MPI_Comm_size(comm, &size), "channel gather: MPI_Comm_size"));
    if (pixels < 1 || starts[0] != 0 || starts[size] < 1) {
        st = ldm_error(LDM_EINPUT, "channel gather: %lld pixels, %lld channels: both must be "
                                   "positive and starts must begin at 0",
                       (long long)pixels, (long long)starts[size]);
        goto cleanup;
    }
    for (int r = 0; r < size; r++) {
        if (starts[r + 1] < starts[r]) {
            st = ldm_error(LDM_EINPUT, "channel gather: starts decrease at rank %d (%lld .. %lld)",
                           r, (long long)starts[r], (long long)starts[r + 1]);
            goto cleanup;
        }
    }
    /* AUTO: packing measured faster (docs/parallelism.md). */
    if (method == LDM_CHANNELS_AUTO)
        method = LDM_CHANNELS_PACK;
    st = ldm_calloc(sizeof *p, "channel gather", (void **)&p);
    if (st == LDM_OK) {
        p->comm = comm;
        p->method = method;
        p->rank = rank;
        p->size = size;
        p->pixels = pixels;
        p->c = starts[size];
        st = plan(p, starts);
    }
    LDM_CHECK(ldm_mpi_agree(comm, st));
    *out = p;
    p = NULL;
cleanup:
    ldm_channels_destroy(&p);
    return st;
}

/* Slice r: packed block [pixels, C_r] → its columns of full [pixels, C]. */
static void unpack_slice(const ldm_channels *p, int r, float *full, const float *packed)
{
    int64_t c0 = p->starts[r], cr = p->starts[r + 1] - c0;
    const float *block = packed + p->displs[r];
    for (int64_t i = 0; i < p->pixels; i++)
        memcpy(full + i * p->c + c0, block + i * cr, (size_t)cr * sizeof(float));
}

/* Slice r: columns of full [pixels, C] → packed block [pixels, C_r]. */
static void pack_slice(const ldm_channels *p, int r, float *packed, const float *full)
{
    int64_t c0 = p->starts[r], cr = p->starts[r + 1] - c0;
    float *block = packed + p->displs[r];
    for (int64_t i = 0; i < p->pixels; i++)
        memcpy(block + i * cr, full + i * p->c + c0, (size_t)cr * sizeof(float));
}

static ldm_status allgather_impl(ldm_channels *p, const float *local, float *full)
{
    if (p->size == 1) {
        memcpy(full, local, (size_t)(p->pixels * p->c) * sizeof(float));
        return LDM_OK;
    }
    if (p->method == LDM_CHANNELS_ALLTOALLW)
        return ldm_mpi_check(MPI_Alltoallw(local, p->send_counts, p->send_displs, p->send_types,
                                           full, p->recv_counts, p->recv_displs, p->recv_types,
                                           p->comm),
                             "channel gather: MPI_Alltoallw");
    ldm_status st = ldm_mpi_check(MPI_Allgatherv(local, p->counts[p->rank], MPI_FLOAT, p->scratch,
                                                 p->counts, p->displs, MPI_FLOAT, p->comm),
                                  "channel gather: MPI_Allgatherv");
    if (st != LDM_OK)
        return st;
    for (int r = 0; r < p->size; r++)
        unpack_slice(p, r, full, p->scratch);
    return LDM_OK;
}

static ldm_status reduce_scatter_impl(ldm_channels *p, const float *partial, float *local)
{
    if (p->size == 1) {
        memcpy(local, partial, (size_t)(p->pixels * p->c) * sizeof(float));
        return LDM_OK;
    }
    for (int r = 0; r < p->size; r++)
        pack_slice(p, r, p->scratch, partial);
    return ldm_mpi_check(MPI_Reduce_scatter(p->scratch, local, p->counts, MPI_FLOAT, MPI_SUM,
                                            p->comm),
                         "channel reduce-scatter: MPI_Reduce_scatter");
}

/* Bytes handed to MPI: this rank's slice (allgather), the whole partial
 * sum (reduce-scatter). With one rank nothing is sent or counted. */
ldm_status ldm_channels_allgather(ldm_channels *p, const float *local, float *full)
{
    const double t0 = ldm_timer_now();
    ldm_status st = allgather_impl(p, local, full);
    if (p->size > 1)
        ldm_timer_add(LDM_T_COMM_ALLGATHER, ldm_timer_now() - t0,
                      (uint64_t)p->counts[p->rank] * sizeof(float));
    return st;
}

ldm_status ldm_channels_reduce_scatter(ldm_channels *p, const float *partial, float *local)
{
    const double t0 = ldm_timer_now();
    ldm_status st = reduce_scatter_impl(p, partial, local);
    if (p->size > 1)
        ldm_timer_add(LDM_T_COMM_REDUCE_SCATTER, ldm_timer_now() - t0,
                      (uint64_t)(p->pixels * p->c) * sizeof(float));
    return st;
}

ldm_channels_method ldm_channels_method_of(const ldm_channels *p)
{
    return p->method;
}

void ldm_channels_destroy(ldm_channels **pp)
{
    if (!pp || !*pp)
        return;
    ldm_channels *p = *pp;
    for (int r = 0; p->recv_types && r < p->size; r++)
        if (p->recv_types[r] != MPI_FLOAT)
            MPI_Type_free(&p->recv_types[r]);
    ldm_free(p->send_counts);
    ldm_free(p->send_displs);
    ldm_free(p->recv_counts);
    ldm_free(p->recv_displs);
    ldm_free(p->send_types);
    ldm_free(p->recv_types);
    ldm_free(p->scratch);
    ldm_free(p->counts);
    ldm_free(p->displs);
    ldm_free(p->starts);
    ldm_free(p);
    *pp = NULL;
}
