/* gather.c — allgather of uneven row blocks with derived datatypes (gather.h). */
#include "gather.h"

#include <string.h>

#include "core/alloc.h"
#include "core/timers.h"
#include "mpi/agree.h"
#include "mpi/util.h"

struct ldm_row_gather {
    MPI_Comm comm;           /* borrowed */
    int rank, size;
    int64_t batch, row, total, mine;
    int *counts, *displs;    /* owned [size]: positions, in units of one row */
    MPI_Datatype send_type;  /* owned: one position of the local block, all batch entries */
    MPI_Datatype recv_type;  /* owned: one position of the full tensor, all batch entries */
};

/* `batch` rows of `row` floats, `stride_rows` rows apart, extent one row. */
static ldm_status position_type(int64_t batch, int64_t row, int64_t stride_rows,
                                MPI_Datatype *out)
{
    ldm_status st = LDM_OK;
    MPI_Datatype vec = MPI_DATATYPE_NULL;
    int count = 0, block = 0;
    LDM_CHECK(ldm_mpi_count((size_t)batch, &count));
    LDM_CHECK(ldm_mpi_count((size_t)row, &block));
    MPI_Aint stride = (MPI_Aint)(stride_rows * row * (int64_t)sizeof(float));
    LDM_CHECK(ldm_mpi_check(MPI_Type_create_hvector(count, block, stride, MPI_FLOAT, &vec),
                            "row gather: MPI_Type_create_hvector"));
    LDM_CHECK(ldm_mpi_check(
        MPI_Type_create_resized(vec, 0, (MPI_Aint)(row * (int64_t)sizeof(float)), out),
        "row gather: MPI_Type_create_resized"));
    LDM_CHECK(ldm_mpi_check(MPI_Type_commit(out), "row gather: MPI_Type_commit"));
cleanup:
    if (vec != MPI_DATATYPE_NULL)
        MPI_Type_free(&vec);
    return st;
}

static ldm_status plan(ldm_row_gather *g, const int64_t *starts)
{
    ldm_status st = LDM_OK;
    LDM_CHECK(ldm_alloc(sizeof(int) * (size_t)g->size, "row gather counts", (void **)&g->counts));
    LDM_CHECK(ldm_alloc(sizeof(int) * (size_t)g->size, "row gather displs", (void **)&g->displs));
    for (int r = 0; r < g->size; r++) {
        LDM_CHECK(ldm_mpi_count((size_t)(starts[r + 1] - starts[r]), &g->counts[r]));
        LDM_CHECK(ldm_mpi_count((size_t)starts[r], &g->displs[r]));
    }
    LDM_CHECK(position_type(g->batch, g->row, g->mine, &g->send_type));
    LDM_CHECK(position_type(g->batch, g->row, g->total, &g->recv_type));
cleanup:
    return st;
}

ldm_status ldm_row_gather_create(MPI_Comm comm, const int64_t *starts, int64_t batch,
                                 int64_t row, ldm_row_gather **out)
{
    ldm_status st = LDM_OK;
    ldm_row_gather *g = NULL;
    int rank = 0, size = 1;
    *out = NULL;
    LDM_CHECK(ldm_mpi_check(MPI_Comm_rank(comm, &rank), "row gather: MPI_Comm_rank"));
    LDM_CHECK(ldm_mpi_check(MPI_Comm_size(comm, &size), "row gather: MPI_Comm_size"));
    if (batch < 1 || row < 1) {
        st = ldm_error(LDM_EINPUT, "row gather: batch %lld and row %lld must be positive",
                       (long long)batch, (long long)row);
        goto cleanup;
    }
    for (int r = 0; r < size; r++) {
        if (starts[0] != 0 || starts[r + 1] < starts[r]) {
            st = ldm_error(LDM_EINPUT, "row gather: starts must begin at 0 and not decrease "
                                       "(rank %d: %lld .. %lld)",
                           r, (long long)starts[r], (long long)starts[r + 1]);
            goto cleanup;
        }
    }
    st = ldm_calloc(sizeof *g, "row gather", (void **)&g);
    if (st == LDM_OK) {
        *g = (ldm_row_gather){ .comm = comm, .rank = rank, .size = size, .batch = batch,
                               .row = row, .total = starts[size],
                               .mine = starts[rank + 1] - starts[rank],
                               .send_type = MPI_DATATYPE_NULL, .recv_type = MPI_DATATYPE_NULL };
        st = plan(g, starts);
    }
    LDM_CHECK(ldm_mpi_agree(comm, st));
    *out = g;
    g = NULL;
cleanup:
    ldm_row_gather_destroy(&g);
    return st;
}

ldm_status ldm_row_gather_run(const ldm_row_gather *g, const float *local, float *all)
{
    if (g->size == 1) {
        if (local && g->mine > 0) {
            for (int64_t b = 0; b < g->batch; b++)
                memcpy(all + b * g->total * g->row, local + b * g->mine * g->row,
                       (size_t)(g->mine * g->row) * sizeof(float));
        }
        return LDM_OK;
    }
    const double t0 = ldm_timer_now();
    const void *send = local ? (const void *)local : MPI_IN_PLACE;
    ldm_status st = ldm_mpi_check(MPI_Allgatherv(send, g->counts[g->rank], g->send_type, all,
                                                 g->counts, g->displs, g->recv_type, g->comm),
                                  "row gather: MPI_Allgatherv");
    ldm_timer_add(LDM_T_COMM_ALLGATHER, ldm_timer_now() - t0,
                  (uint64_t)(g->batch * g->mine * g->row) * sizeof(float));
    return st;
}

void ldm_row_gather_destroy(ldm_row_gather **gp)
{
    if (!gp || !*gp)
        return;
    ldm_row_gather *g = *gp;
    if (g->send_type != MPI_DATATYPE_NULL)
        MPI_Type_free(&g->send_type);
    if (g->recv_type != MPI_DATATYPE_NULL)
        MPI_Type_free(&g->recv_type);
    ldm_free(g->counts);
    ldm_free(g->displs);
    ldm_free(g);
    *gp = NULL;
}
