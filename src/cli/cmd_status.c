/* cmd_status.c — `ldm status run.h5`: items done / partial / pending, the
 * time per item, and an estimate of the time left. Read-only: works while
 * another process writes the file. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "io/runfile.h"
#include "options.h"

ldm_status ldm_cmd_status(int argc, char **argv)
{
    ldm_string_list pos = { 0 };
    int help = 0, rank;
    ldm_runfile *rf = NULL;
    const ldm_option opts[] = { { 0 } };
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    ldm_status st = ldm_options_parse("status", opts, argc, argv, 2, &pos, &help);
    if (st != LDM_OK)
        return st;
    if (help) {
        ldm_options_print_help("status", "RUN.h5", "Progress of a sweep's run file.", opts);
        return LDM_OK;
    }
    if (pos.count != 1)
        return ldm_error(LDM_EINPUT, "expected one RUN.h5, got %d arguments", pos.count);
    LDM_CHECK(ldm_runfile_open(MPI_COMM_WORLD, pos.items[0], 0, NULL, &rf));
    const ldm_runfile_info *info = ldm_runfile_get_info(rf);
    int64_t n[3] = { 0, 0, 0 }, steps_left = 0, steps_done_items = 0;
    double time_done = 0;
    for (int64_t i = 0; i < info->count; i++) {
        const ldm_runfile_progress *pr = ldm_runfile_get_progress(rf, i);
        const ldm_runfile_item *it = ldm_runfile_get_item(rf, i);
        int s = pr->state >= 0 && pr->state <= 2 ? pr->state : 0;
        n[s]++;
        if (s == LDM_RUNFILE_DONE) {
            time_done += ldm_runfile_get_timings(rf, i)->total;
            steps_done_items += it->steps;
        } else {
            steps_left += it->steps - (s == LDM_RUNFILE_PARTIAL ? pr->step : 0);
        }
    }
    if (rank == 0) {
        printf("%s: %lld items, made by %s on %s (%s)\n", info->path, (long long)info->count,
               info->ldm_version, info->created, info->command_line);
        printf("done %lld, partial %lld, pending %lld\n", (long long)n[LDM_RUNFILE_DONE],
               (long long)n[LDM_RUNFILE_PARTIAL], (long long)n[LDM_RUNFILE_PENDING]);
        if (n[LDM_RUNFILE_DONE] > 0) {
            /* Timings of resumed items count only their last run's part. */
            double per_step = steps_done_items ? time_done / (double)steps_done_items : 0;
            printf("time per item %.2f s (%.3f s per step, one rank)\n",
                   time_done / (double)n[LDM_RUNFILE_DONE], per_step);
            printf("estimated time left %.1f s on one rank (divide by the ranks of a resume)\n",
                   per_step * (double)steps_left);
        } else {
            printf("estimated time left: unknown until an item is done (%lld steps left)\n",
                   (long long)steps_left);
        }
        /* Which Slurm jobs ran it (requeues, array tasks): /status/slurm. */
        int n_runs = 0;
        const ldm_runfile_slurm_run *runs = ldm_runfile_get_slurm(rf, &n_runs);
        for (int r = 0; r < n_runs; r++) {
            printf("slurm run %d: job %lld", r + 1, (long long)runs[r].job_id);
            if (runs[r].array_task_id >= 0)
                printf(" (array %lld_%lld)", (long long)runs[r].array_job_id,
                       (long long)runs[r].array_task_id);
            printf(", restart %lld, %lld ranks\n", (long long)runs[r].restart_count,
                   (long long)runs[r].ranks);
        }
    }
cleanup:
    if (rf) {
        ldm_status cst = ldm_runfile_close(&rf);
        if (st == LDM_OK)
            st = cst;
    }
    return st;
}
