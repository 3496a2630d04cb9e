#include "timings_csv.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/atomic_file.h"
#include "mpi/agree.h"

enum { PHASES = 6, ROWS = PHASES + LDM_T_COUNT };

/* One rank's rows as numbers: [ROWS] × (calls, seconds, bytes). */
typedef struct row {
    double calls, seconds, bytes;
} row;

static const char *phase_names[PHASES] = { "load", "text_encoder", "unet", "unet_step",
                                           "decoder", "total" };

static void fill_rows(row *r, const ldm_txt2img_timings *tm, const ldm_timer_totals *t)
{
    int steps = tm->steps;
    r[0] = (row){ 1, tm->load, 0 };
    r[1] = (row){ 1, tm->text_encoder, 0 };
    r[2] = (row){ steps, tm->unet_total, 0 };
    r[3] = (row){ steps, steps ? tm->unet_total / steps : 0.0, 0 };
    r[4] = (row){ tm->decoder > 0 ? 1 : 0, tm->decoder, 0 };
    r[5] = (row){ 1, tm->total, 0 };
    for (int k = 0; k < LDM_T_COUNT; k++)
        r[PHASES + k] = (row){ (double)t->calls[k], t->seconds[k], (double)t->bytes[k] };
}

static ldm_status write_file(const char *path, const ldm_timings_run *run, const row *all,
                             int size)
{
    ldm_status st = LDM_OK;
    ldm_atomic_file af = { 0 };
    LDM_CHECK(ldm_atomic_file_open(path, &af));
    fprintf(af.f, "world,groups,cfg,pc,ps,height,width,steps,batch,rank,category,name,calls,"
                  "seconds,bytes_sent\n");
    for (int rank = 0; rank < size; rank++) {
        for (int i = 0; i < ROWS; i++) {
            const row *r = &all[(size_t)rank * ROWS + i];
            const char *category = "phase", *name;
            if (i < PHASES)
                name = phase_names[i];
            else
                name = ldm_timer_name((ldm_timer_kind)(i - PHASES), &category);
            fprintf(af.f, "%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%s,%s,%.0f,%.9f,%.0f\n", run->world,
                    run->groups, run->cfg, run->pc, run->ps, run->height, run->width, run->steps,
                    run->batch, rank, category, name, r->calls, r->seconds, r->bytes);
        }
    }
    st = ldm_atomic_file_commit(&af, "timings CSV write failed");
    if (st != LDM_OK)
        goto cleanup;
cleanup:
    ldm_atomic_file_abort(&af);
    if (st != LDM_OK)
        ldm_error_context("--timings: ");
    return st;
}

ldm_status ldm_timings_csv_write(MPI_Comm comm, const char *path, const ldm_timings_run *run,
                                 const ldm_txt2img_timings *tm, const ldm_timer_totals *totals)
{
    ldm_status st = LDM_OK;
    int rank = 0, size = 1;
    row mine[ROWS], *all = NULL;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    fill_rows(mine, tm, totals);
    if (rank == 0)
        st = ldm_alloc(sizeof(row) * ROWS * (size_t)size, "timings rows", (void **)&all);
    LDM_CHECK(ldm_mpi_agree(comm, st));
    if (MPI_Gather(mine, 3 * ROWS, MPI_DOUBLE, all, 3 * ROWS, MPI_DOUBLE, 0, comm) != MPI_SUCCESS)
        st = ldm_error(LDM_ERUNTIME, "--timings: MPI_Gather of the timing rows failed");
    if (st == LDM_OK && rank == 0)
        st = write_file(path, run, all, size);
    st = ldm_mpi_agree(comm, st);
cleanup:
    ldm_free(all);
    return st;
}
