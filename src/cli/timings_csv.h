/* timings_csv.h — `ldm txt2img --timings FILE.csv`: one CSV for all ranks.
 *
 *   world,groups,cfg,pc,ps,height,width,steps,batch,rank,category,name,calls,seconds,bytes_sent
 *
 * One row per (rank, category, name), ranks in order:
 *   phase    load, text_encoder, unet (all steps), unet_step (mean per step),
 *            decoder, total — the rank's pipeline timings
 *   compute  conv, linear, norm, attention, elementwise, other — kernel calls
 *            (core/timers.h), summed over the run
 *   comm     halo, allgather, allreduce, reduce_scatter, sendrecv, bcast,
 *            other — MPI calls, with the payload bytes this rank sent
 * Seconds are wall seconds on that rank; calls are counts (phase rows: 1,
 * or the step count for unet and unet_step); bytes_sent is 0 for phase and
 * compute rows.
 */
#ifndef LDM_CLI_TIMINGS_CSV_H
#define LDM_CLI_TIMINGS_CSV_H

#include <mpi.h>

#include "core/status.h"
#include "core/timers.h"
#include "sample/pipeline.h"

/* The run-level columns, the same on every rank. */
typedef struct ldm_timings_run {
    int world, groups, cfg, pc, ps;
    int height, width, steps, batch;
} ldm_timings_run;

/* COLLECTIVE on comm. Gather every rank's rows (its pipeline timings `tm`
 * and the timer totals `totals`) to rank 0, which writes `path`
 * atomically; ranks agree on the outcome. */
ldm_status ldm_timings_csv_write(MPI_Comm comm, const char *path, const ldm_timings_run *run,
                                 const ldm_txt2img_timings *tm, const ldm_timer_totals *totals);

#endif
