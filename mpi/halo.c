/* halo.c — halo exchange of NHWC row strips (halo.h). */
#include "halo.h"

#include <string.h>

#include "core/alloc.h"
#include "core/timers.h"
#include "mpi/agree.h"
#include "mpi/util.h"

enum { TAG_DOWN = 7301, TAG_UP = 7302 };

void ldm_halo_conv_rows(int64_t kh, int64_t stride, int64_t pad_top, int64_t *above,
                        int64_t *below)
{
    int64_t b = kh - stride - pad_top;
    *above = pad_top;
    *below = b > 0 ? b : 0;
}

static ldm_status check_desc(const ldm_halo_desc *d, int size)
{
    if (d->n < 1 || d->h < 1 || d->w < 1 || d->c < 1)
        return ldm_error(LDM_EINPUT, "halo: activation [%lld, %lld, %lld, %lld] is empty",
                         (long long)d->n, (long long)d->h, (long long)d->w, (long long)d->c);
    if (d->align < 1 || d->above < 0 || d->below < 0)
        return ldm_error(LDM_EINPUT, "halo: align %lld, above %lld, below %lld out of range",
                         (long long)d->align, (long long)d->above, (long long)d->below);
    if (size == 1)
        return LDM_OK;
    /* Every strip gives its neighbours its first `below` and last `above` rows. */
    int64_t need = d->above > d->below ? d->above : d->below;
    if (need < 1)
        need = 1;
    for (int i = 0; i < size; i++) {
        int64_t r0, r1;
        ldm_mpi_partition(d->h, size, i, d->align, &r0, &r1);
        if (r1 - r0 < need)
            return ldm_error(LDM_EINPUT,
                             "halo: strip %d of %d has %lld rows of %lld (align %lld), fewer "
                             "than the %lld its neighbours need: use fewer spatial ranks",
                             i, size, (long long)(r1 - r0), (long long)d->h, (long long)d->align,
                             (long long)need);
    }
    return LDM_OK;
}

/* n blocks of `rows` rows, one per batch entry of the local buffer. */
static ldm_status rows_type(const ldm_halo *h, int64_t rows, MPI_Datatype *type)
{
    int block = 0, count = 0;
    ldm_status st = ldm_mpi_count((size_t)(rows * h->desc.w * h->desc.c), &block);
    if (st == LDM_OK)
        st = ldm_mpi_count((size_t)h->desc.n, &count);
    if (st != LDM_OK)
        return st;
    MPI_Aint stride = (MPI_Aint)(h->local_h * h->desc.w * h->desc.c * (int64_t)sizeof(float));
    st = ldm_mpi_check(MPI_Type_create_hvector(count, block, stride, MPI_FLOAT, type),
                       "halo: MPI_Type_create_hvector");
    if (st == LDM_OK)
        st = ldm_mpi_check(MPI_Type_commit(type), "halo: MPI_Type_commit");
    return st;
}

ldm_status ldm_halo_create(MPI_Comm spatial, const ldm_halo_desc *desc, ldm_halo **out)
{
    ldm_status st = LDM_OK;
    ldm_halo *h = NULL;
    int rank = 0, size = 1;
    *out = NULL;
    LDM_CHECK(ldm_mpi_check(MPI_Comm_rank(spatial, &rank), "halo: MPI_Comm_rank"));
    LDM_CHECK(ldm_mpi_check(MPI_Comm_size(spatial, &size), "halo: MPI_Comm_size"));
    /* The description is the same on every rank: these checks agree by themselves. */
    LDM_CHECK(check_desc(desc, size));
    st = ldm_calloc(sizeof *h, "halo plan", (void **)&h);
    if (st == LDM_OK) {
        h->comm = spatial;
        h->desc = *desc;
        h->rank = rank;
        h->size = size;
        h->above_type = h->below_type = MPI_DATATYPE_NULL;
        for (int i = 0; i < 4; i++)
            h->req[i] = MPI_REQUEST_NULL;
        ldm_mpi_partition(desc->h, size, rank, desc->align, &h->r0, &h->r1);
        h->above = rank > 0 ? desc->above : 0;
        h->below = rank < size - 1 ? desc->below : 0;
        h->local_h = h->above + (h->r1 - h->r0) + h->below;
        if (size > 1 && desc->above > 0)
            st = rows_type(h, desc->above, &h->above_type);
        if (st == LDM_OK && size > 1 && desc->below > 0)
            st = rows_type(h, desc->below, &h->below_type);
    }
    LDM_CHECK(ldm_mpi_agree(spatial, st));
    *out = h;
    h = NULL;
cleanup:
    ldm_halo_destroy(&h);
    return st;
}

ldm_status ldm_halo_exchange_begin(ldm_halo *h, float *buf)
{
    ldm_status st = LDM_OK;
    if (h->size == 1)
        return LDM_OK;
    const double t0 = ldm_timer_now();
    const int64_t row = h->desc.w * h->desc.c;
    const int64_t own = h->r1 - h->r0;
    int up = h->rank > 0 ? h->rank - 1 : MPI_PROC_NULL;
    int down = h->rank < h->size - 1 ? h->rank + 1 : MPI_PROC_NULL;
    /* Our last desc.above rows become the lower neighbour's upper halo; our
     * first desc.below rows become the upper neighbour's lower halo. */
    if (h->desc.above > 0) {
        LDM_CHECK(ldm_mpi_check(MPI_Irecv(buf, 1, h->above_type, up, TAG_DOWN, h->comm,
                                          &h->req[0]),
                                "halo exchange: MPI_Irecv (above)"));
        LDM_CHECK(ldm_mpi_check(MPI_Isend(buf + (h->above + own - h->desc.above) * row, 1,
                                          h->above_type, down, TAG_DOWN, h->comm, &h->req[1]),
                                "halo exchange: MPI_Isend (down)"));
    }
    if (h->desc.below > 0) {
        LDM_CHECK(ldm_mpi_check(MPI_Irecv(buf + (h->above + own) * row, 1, h->below_type, down,
                                          TAG_UP, h->comm, &h->req[2]),
                                "halo exchange: MPI_Irecv (below)"));
        LDM_CHECK(ldm_mpi_check(MPI_Isend(buf + h->above * row, 1, h->below_type, up, TAG_UP,
                                          h->comm, &h->req[3]),
                                "halo exchange: MPI_Isend (up)"));
    }
cleanup:
    {
        /* Bytes handed to MPI: our rows towards each neighbour there is. */
        int above_bytes = 0, below_bytes = 0;
        if (h->desc.above > 0 && down != MPI_PROC_NULL)
            MPI_Type_size(h->above_type, &above_bytes);
        if (h->desc.below > 0 && up != MPI_PROC_NULL)
            MPI_Type_size(h->below_type, &below_bytes);
        ldm_timer_add(LDM_T_COMM_HALO, ldm_timer_now() - t0,
                      (uint64_t)above_bytes + (uint64_t)below_bytes);
    }
    return st;
}

ldm_status ldm_halo_exchange_end(ldm_halo *h)
{
    if (h->size == 1)
        return LDM_OK;
    const double t0 = ldm_timer_now();
    ldm_status st = ldm_mpi_check(MPI_Waitall(4, h->req, MPI_STATUSES_IGNORE),
                                  "halo exchange: MPI_Waitall");
    ldm_timer_extend(LDM_T_COMM_HALO, ldm_timer_now() - t0);
    return st;
}

ldm_status ldm_halo_exchange(ldm_halo *h, float *buf)
{
    ldm_status st = ldm_halo_exchange_begin(h, buf);
    ldm_status end = ldm_halo_exchange_end(h);
    return st != LDM_OK ? st : end;
}

void ldm_halo_conv_pads(const ldm_halo *h, int64_t pad_top, int64_t pad_bottom,
                        int64_t *local_top, int64_t *local_bottom)
{
    *local_top = h->rank == 0 ? pad_top : 0;
    *local_bottom = h->rank == h->size - 1 ? pad_bottom : 0;
}

void ldm_halo_destroy(ldm_halo **halo)
{
    if (!halo || !*halo)
        return;
    ldm_halo *h = *halo;
    if (h->above_type != MPI_DATATYPE_NULL)
        MPI_Type_free(&h->above_type);
    if (h->below_type != MPI_DATATYPE_NULL)
        MPI_Type_free(&h->below_type);
    ldm_free(h);
    *halo = NULL;
}
