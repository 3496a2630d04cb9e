/* test_runfile_slurm.c — /status/slurm (ldm_runfile_record_slurm): a row per
 * run inside a Slurm job, none outside one, rows kept across reopening, the
 * last row reused when the table is full, and h5dump reading the values. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/test_runfile_common.h"

#define CHECK_OK(expr)                                                          \
    do {                                                                        \
        ldm_error_clear();                                                      \
        ldm_status ok_ = (expr);                                                \
        CHECK_MSG(ok_ == LDM_OK, "status %d: %s", (int)ok_, ldm_error_message()); \
    } while (0)

static ldm_model_identity id;
static ldm_runfile_item items[3];

static void set_job(long job, long restart, long array_job, long task)
{
    char v[32];
    snprintf(v, sizeof v, "%ld", job);
    setenv("SLURM_JOB_ID", v, 1);
    snprintf(v, sizeof v, "%ld", restart);
    setenv("SLURM_RESTART_COUNT", v, 1);
    if (array_job > 0) {
        snprintf(v, sizeof v, "%ld", array_job);
        setenv("SLURM_ARRAY_JOB_ID", v, 1);
        snprintf(v, sizeof v, "%ld", task);
        setenv("SLURM_ARRAY_TASK_ID", v, 1);
    } else {
        unsetenv("SLURM_ARRAY_JOB_ID");
        unsetenv("SLURM_ARRAY_TASK_ID");
    }
}

static void clear_job(void)
{
    unsetenv("SLURM_JOB_ID");
    unsetenv("SLURM_RESTART_COUNT");
    unsetenv("SLURM_ARRAY_JOB_ID");
    unsetenv("SLURM_ARRAY_TASK_ID");
}

/* Open for writing, record, close: what one ldm resume does. */
static void one_run(const char *path)
{
    ldm_runfile *rf = NULL;
    CHECK_OK(ldm_runfile_open(MPI_COMM_WORLD, path, 1, &id, &rf));
    CHECK_OK(ldm_runfile_record_slurm(rf));
    CHECK_OK(ldm_runfile_close(&rf));
}

static int rows_of(const char *path, ldm_runfile_slurm_run *out)
{
    ldm_runfile *rf = NULL;
    int n = -1;
    CHECK_OK(ldm_runfile_open(MPI_COMM_WORLD, path, 0, NULL, &rf));
    if (rf) {
        const ldm_runfile_slurm_run *r = ldm_runfile_get_slurm(rf, &n);
        memcpy(out, r, sizeof *r * (size_t)n);
    }
    CHECK_OK(ldm_runfile_close(&rf));
    return n;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char path[512];
    t_mkdirs(LDM_TEST_TMP);
    snprintf(path, sizeof path, "%s/slurm.h5", LDM_TEST_TMP);
    t_make_items(items, 3);
    CHECK_OK(t_identity("slurm-test-model", &id));
    ldm_runfile_spec spec = t_spec(&id);
    ldm_runfile_slurm_run rows[LDM_RUNFILE_SLURM_ROWS];

    /* Outside Slurm: nothing recorded. */
    clear_job();
    ldm_runfile *rf = NULL;
    CHECK_OK(ldm_runfile_create(MPI_COMM_WORLD, path, &spec, items, 3, 1, &rf));
    CHECK_OK(ldm_runfile_record_slurm(rf));
    int n = -1;
    ldm_runfile_get_slurm(rf, &n);
    CHECK_MSG(n == 0, "outside Slurm: %d rows", n);
    CHECK_OK(ldm_runfile_close(&rf));
    CHECK(rows_of(path, rows) == 0);

    /* A job, then its requeue as an array task: two rows, in order. */
    set_job(4242, 0, 0, 0);
    one_run(path);
    set_job(4243, 1, 4240, 3);
    one_run(path);
    n = rows_of(path, rows);
    CHECK_MSG(n == 2, "%d rows after two runs", n);
    if (n == 2) {
        CHECK(rows[0].job_id == 4242 && rows[0].restart_count == 0 && rows[0].array_job_id == 0 &&
              rows[0].array_task_id == -1 && rows[0].ranks == size && rows[0].started > 1600000000);
        CHECK(rows[1].job_id == 4243 && rows[1].restart_count == 1 && rows[1].array_job_id == 4240 &&
              rows[1].array_task_id == 3 && rows[1].ranks == size && rows[1].started >= rows[0].started);
    }
    /* A read-only handle records nothing. */
    CHECK_OK(ldm_runfile_open(MPI_COMM_WORLD, path, 0, NULL, &rf));
    CHECK_OK(ldm_runfile_record_slurm(rf));
    CHECK_OK(ldm_runfile_close(&rf));
    CHECK(rows_of(path, rows) == 2);

    /* Full table: 64 rows, the last one always the latest run. */
    for (long r = 2; r < LDM_RUNFILE_SLURM_ROWS + 3; r++) {
        set_job(5000 + r, r, 0, 0);
        one_run(path);
    }
    n = rows_of(path, rows);
    CHECK_MSG(n == LDM_RUNFILE_SLURM_ROWS, "%d rows after 67 runs", n);
    if (n == LDM_RUNFILE_SLURM_ROWS) {
        CHECK(rows[62].job_id == 5062 && rows[62].restart_count == 62);
        CHECK_MSG(rows[63].job_id == 5000 + LDM_RUNFILE_SLURM_ROWS + 2,
                  "last row: job %lld", (long long)rows[63].job_id);
    }
    clear_job();

    /* h5dump reads it without ldm: row 1 is 4243's. */
    if (rank == 0 && system("h5dump --version >/dev/null 2>&1") == 0) {
        char cmd[1024], line[256] = "";
        snprintf(cmd, sizeof cmd, "h5dump -d /status/slurm -s 1,1 -c 1,5 -y -w 200 '%s' | "
                 "sed -n 's/^ *\\([0-9].*\\)$/\\1/p'", path);
        FILE *p = popen(cmd, "r");
        if (p) {
            if (!fgets(line, sizeof line, p))
                line[0] = '\0';
            pclose(p);
        }
        CHECK_MSG(strstr(line, "4243, 4240, 3, 1, ") == line, "h5dump row 1: \"%s\"", line);
    }
    ldm_model_identity_free(&id);
    int failed = ldm_test_finish();
    MPI_Finalize();
    return failed;
}
