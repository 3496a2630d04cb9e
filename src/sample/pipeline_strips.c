#include "pipeline_strips.h"

#include <string.h>

#include "core/alloc.h"
#include "mpi/agree.h"
#include "mpi/util.h"

static int comm_size(MPI_Comm c)
{
    int n = 1;
    if (c != MPI_COMM_NULL)
        MPI_Comm_size(c, &n);
    return n;
}

ldm_status ldm_strips_create(MPI_Comm spatial, int64_t planes, int64_t h, int64_t w,
                             int64_t align, ldm_strips *out)
{
    ldm_status st = LDM_OK;
    int64_t *starts = NULL;
    int ps = comm_size(spatial), rank = 0;
    memset(out, 0, sizeof *out);
    *out = (ldm_strips){ .spatial = ps > 1 ? spatial : MPI_COMM_NULL, .planes = planes, .h = h,
                         .w = w, .r0 = 0, .r1 = h };
    if (ps <= 1)
        return LDM_OK;
    MPI_Comm_rank(spatial, &rank);
    ldm_mpi_partition(h, ps, rank, align > 0 ? align : 1, &out->r0, &out->r1);
    st = ldm_alloc(sizeof(int64_t) * (size_t)(ps + 1), "strip starts", (void **)&starts);
    if (st == LDM_OK) /* a gathered unit is one row of w floats of every plane */
        ldm_mpi_partition_starts(h, ps, align > 0 ? align : 1, 1, starts);
    /* The plan agrees on its own failures; this allocation's too. */
    st = ldm_mpi_agree(spatial, st);
    if (st == LDM_OK)
        st = ldm_row_gather_create(spatial, starts, planes, w, &out->gather);
    ldm_free(starts);
    return st;
}

void ldm_strips_destroy(ldm_strips *s)
{
    ldm_row_gather_destroy(&s->gather);
}

int64_t ldm_strips_local_count(const ldm_strips *s)
{
    return s->planes * (s->r1 - s->r0) * s->w;
}

int64_t ldm_strips_whole_count(const ldm_strips *s)
{
    return s->planes * s->h * s->w;
}

void ldm_strips_cut(const ldm_strips *s, const float *whole, float *strip)
{
    const int64_t rows = s->r1 - s->r0;
    const size_t bytes = sizeof(float) * (size_t)(rows * s->w);
    for (int64_t p = 0; p < s->planes; p++) /* [planes, h, w] → [planes, rows, w] */
        memcpy(strip + p * rows * s->w, whole + (p * s->h + s->r0) * s->w, bytes);
}

ldm_status ldm_strips_gather(const ldm_strips *s, const float *strip, float *whole)
{
    if (!s->gather) {
        memcpy(whole, strip, sizeof(float) * (size_t)ldm_strips_whole_count(s));
        return LDM_OK;
    }
    return ldm_row_gather_run(s->gather, strip, whole);
}

/* n (elements per sample) sits at offset 24 of the scheduler header. */
static void set_n(unsigned char *blob, int64_t n)
{
    memcpy(blob + 24, &n, sizeof n);
}

ldm_status ldm_strips_sched_gather(const ldm_strips *s, const unsigned char *local_blob,
                                   size_t local_bytes, unsigned char *whole_blob,
                                   size_t whole_bytes)
{
    const int64_t nl = ldm_strips_local_count(s), nw = ldm_strips_whole_count(s);
    /* Counted on the whole side: a strip may be empty (more ranks than rows). */
    const size_t arrays = whole_bytes < LDM_STRIPS_SCHED_HEADER || nw <= 0 ? 0 :
                          (whole_bytes - LDM_STRIPS_SCHED_HEADER) / (sizeof(float) * (size_t)nw);
    if (whole_bytes != LDM_STRIPS_SCHED_HEADER + arrays * sizeof(float) * (size_t)nw ||
        local_bytes != LDM_STRIPS_SCHED_HEADER + arrays * sizeof(float) * (size_t)nl)
        return ldm_error(LDM_ERUNTIME, "checkpoint state: scheduler state of %zu bytes does not "
                                       "make %zu of the whole latents", local_bytes, whole_bytes);
    memcpy(whole_blob, local_blob, LDM_STRIPS_SCHED_HEADER);
    set_n(whole_blob, nw);
    for (size_t k = 0; k < arrays; k++) {
        const float *src = (const float *)(const void *)(local_blob + LDM_STRIPS_SCHED_HEADER +
                                                         k * sizeof(float) * (size_t)nl);
        float *dst = (float *)(void *)(whole_blob + LDM_STRIPS_SCHED_HEADER +
                                       k * sizeof(float) * (size_t)nw);
        ldm_status st = ldm_strips_gather(s, src, dst);
        if (st != LDM_OK)
            return st;
    }
    return LDM_OK;
}

void ldm_strips_sched_cut(const ldm_strips *s, const unsigned char *whole_blob,
                          size_t whole_bytes, unsigned char *local_blob, size_t local_bytes)
{
    const int64_t nl = ldm_strips_local_count(s), nw = ldm_strips_whole_count(s);
    const size_t arrays = nw <= 0 ? 0 : (whole_bytes - LDM_STRIPS_SCHED_HEADER) /
                                            (sizeof(float) * (size_t)nw);
    (void)local_bytes; /* = header + arrays × nl floats (ldm_scheduler_state_bytes) */
    memcpy(local_blob, whole_blob, LDM_STRIPS_SCHED_HEADER);
    set_n(local_blob, nl);
    for (size_t k = 0; k < arrays; k++)
        ldm_strips_cut(s,
                       (const float *)(const void *)(whole_blob + LDM_STRIPS_SCHED_HEADER +
                                                     k * sizeof(float) * (size_t)nw),
                       (float *)(void *)(local_blob + LDM_STRIPS_SCHED_HEADER +
                                         k * sizeof(float) * (size_t)nl));
}
