/* runfile_slurm.c — /status/slurm: which Slurm jobs worked on a run file.
 *
 * A sweep that is preempted or reaches its time limit is requeued and
 * resumed, possibly several times, possibly as one task of a job array. Each
 * ldm sweep/resume inside a Slurm job adds a row (start time, job id, array
 * job and task, SLURM_RESTART_COUNT, ranks), so the file itself tells how it
 * was made. The dataset is allocated at creation like every other, so a row
 * is raw data written in place (crash safety as in docs/run-file.md);
 * outside Slurm nothing is written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runfile_impl.h"

/* An integer environment variable, `dflt` when unset or not a number. */
static int64_t env_int(const char *name, int64_t dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end = NULL;
    long long x = strtoll(v, &end, 10);
    return end && *end == '\0' ? (int64_t)x : dflt;
}

ldm_status rf_slurm_read(ldm_runfile *rf)
{
    ldm_status local = LDM_OK;
    rf->has_slurm = 0;
    rf->slurm_rows = 0;
    htri_t exists = H5Lexists(rf->file, RF_SLURM_NAME, H5P_DEFAULT);
    if (exists <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return rf_agree(rf->comm, LDM_OK); /* older file: no table */
    }
    hid_t d = H5Dopen2(rf->file, RF_SLURM_NAME, H5P_DEFAULT);
    hid_t space = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[2] = { 0, 0 };
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 2 ||
        H5Sget_simple_extent_dims(space, dims, NULL) != 2 || dims[0] != LDM_RUNFILE_SLURM_ROWS ||
        dims[1] != RF_SLURM_COLS)
        local = ldm_error(LDM_EINPUT, "%s: damaged ldm run file: dataset %s is not int64 [%d, %d]",
                          rf->path, RF_SLURM_NAME, LDM_RUNFILE_SLURM_ROWS, (int)RF_SLURM_COLS);
    else if (H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, rf->dxpl, rf->slurm) < 0)
        local = rf_h5_error(rf->path, "reading " RF_SLURM_NAME);
    if (space >= 0)
        H5Sclose(space);
    if (d >= 0)
        H5Dclose(d);
    if (local == LDM_OK) {
        rf->has_slurm = 1;
        while (rf->slurm_rows < LDM_RUNFILE_SLURM_ROWS && rf->slurm[rf->slurm_rows].started != 0)
            rf->slurm_rows++;
    }
    return rf_agree(rf->comm, local);
}

ldm_status ldm_runfile_record_slurm(ldm_runfile *rf)
{
    ldm_status st = LDM_OK;
    hid_t d = -1;
    if (!rf || !rf->writable || !rf->has_slurm)
        return LDM_OK;
    /* Rank 0's environment and clock decide, for every rank. */
    ldm_runfile_slurm_run row = { 0 };
    if (rf->rank == 0) {
        row.job_id = env_int("SLURM_JOB_ID", 0);
        row.started = (int64_t)time(NULL);
        row.array_job_id = env_int("SLURM_ARRAY_JOB_ID", 0);
        row.array_task_id = env_int("SLURM_ARRAY_TASK_ID", -1);
        row.restart_count = env_int("SLURM_RESTART_COUNT", 0);
        row.ranks = rf->size;
    }
    MPI_Bcast(&row, (int)(sizeof row / sizeof(int64_t)), MPI_INT64_T, 0, rf->comm);
    if (row.job_id == 0)
        return LDM_OK;
    int r = rf->slurm_rows < LDM_RUNFILE_SLURM_ROWS ? rf->slurm_rows : LDM_RUNFILE_SLURM_ROWS - 1;
    d = H5Dopen2(rf->file, RF_SLURM_NAME, H5P_DEFAULT);
    LDM_CHECK(rf_agree(rf->comm, d < 0 ? rf_h5_error(rf->path, "opening " RF_SLURM_NAME) : LDM_OK));
    hsize_t start[2] = { (hsize_t)r, 0 }, count[2] = { 1, RF_SLURM_COLS };
    /* Rank 0 writes the row; the others join with an empty selection. */
    LDM_CHECK(rf_write_block(rf, d, RF_SLURM_NAME, 2, start, count, H5T_NATIVE_INT64,
                             rf->rank == 0 ? &row : NULL));
    LDM_CHECK(rf_flush(rf));
    rf->slurm[r] = row;
    if (rf->slurm_rows < LDM_RUNFILE_SLURM_ROWS)
        rf->slurm_rows++;
cleanup:
    if (d >= 0)
        H5Dclose(d);
    return st;
}

const ldm_runfile_slurm_run *ldm_runfile_get_slurm(const ldm_runfile *rf, int *n)
{
    *n = rf ? rf->slurm_rows : 0;
    return rf ? rf->slurm : NULL;
}
