/* Run file crash safety: a process killed (SIGKILL) at any write point —
 * between a slot write and the progress record that points at it, in the
 * middle of creation, anywhere — leaves a file that h5dump opens and whose
 * committed checkpoints, frames and images read back exactly.
 *
 * The parent never initialises MPI while it forks. For every write point n
 * of a scripted sweep it forks a child (a singleton MPI process) that runs
 * the script with ldm_runfile_crash_at(n) and logs each call that returned;
 * the parent runs `h5dump -H` on what is left. Then the parent initialises
 * MPI and checks every file against the script: each item must be in the
 * state of the last call that returned or of the call that was cut short,
 * with exactly that step's data. With argv[1] = an mpirun, the same is done
 * for a few points with 2 ranks killed through LDM_RUNFILE_CRASH_AT.
 * Finally: checkpoints change raw data only — every byte outside the
 * datasets' raw extents is the same before and after a whole sweep. */
#include <fcntl.h>
#include <hdf5.h>
#include <mpi.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "test_runfile_common.h"

enum { N = 3, MAX_POINTS = 400 };

/* The script: one entry per API call after create. */
typedef enum { OP_CKPT, OP_TRAJ, OP_IMAGE } op_kind;
typedef struct op {
    op_kind kind;
    int step;          /* checkpoint / frame step */
    int items[N + 1];  /* item indices, -1 ended */
} op;

static const op script[] = {
    { OP_CKPT, 1, { 0, 1, 2, -1 } },
    { OP_TRAJ, 2, { 0, 1, 2, -1 } },
    { OP_CKPT, 2, { 0, 1, 2, -1 } },
    { OP_CKPT, 3, { 0, 1, 2, -1 } },
    { OP_TRAJ, 4, { 0, 1, 2, -1 } },
    { OP_IMAGE, 0, { 1, -1 } },
    { OP_CKPT, 4, { 0, 2, -1 } },
    { OP_IMAGE, 0, { 0, -1 } },
};
enum { N_OPS = sizeof script / sizeof script[0] };

static ldm_runfile_item items[N];
static ldm_model_identity id;

/* Run script[c] with this rank's share of its items (item i on rank i % P). */
static ldm_status run_op(ldm_runfile *rf, int c, int P, int r)
{
    static t_buffers b[N];
    ldm_runfile_slot slots[N];
    ldm_runfile_frame frames[N];
    ldm_runfile_image images[N];
    int n = 0;
    const op *o = &script[c];
    for (int k = 0; o->items[k] >= 0; k++) {
        int i = o->items[k];
        if (i % P != r)
            continue;
        if (o->kind == OP_IMAGE) {
            t_fill_image(&items[i], i, &b[i], &images[n++]);
        } else {
            t_fill_slot(&items[i], i, o->step, &b[i], &slots[n]);
            ldm_runfile_frame f = { i, o->step, b[i].lat, slots[n].latents_count };
            frames[n++] = f;
        }
    }
    if (o->kind == OP_CKPT)
        return ldm_runfile_checkpoint_write(rf, slots, n);
    if (o->kind == OP_TRAJ)
        return ldm_runfile_trajectory_write(rf, frames, n);
    return ldm_runfile_image_write(rf, images, n);
}

/* The child: create, run the script, close. Rank 0 logs each call that
 * returned as one byte ('1' + call) to `log`; call 0 is create. */
static int child(const char *path, const char *log)
{
    MPI_Init(NULL, NULL);
    int P = 1, r = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    int fd = r == 0 ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;
    ldm_runfile_spec spec = t_spec(&id);
    ldm_runfile *rf = NULL;
    ldm_status st = ldm_runfile_create(MPI_COMM_WORLD, path, &spec, items, N, 1, &rf);
    for (int c = 0; st == LDM_OK && c <= N_OPS; c++) {
        if (fd >= 0) {
            char byte = (char)('1' + c);
            if (write(fd, &byte, 1) != 1)
                st = LDM_ERUNTIME;
        }
        if (c < N_OPS)
            st = run_op(rf, c, P, r);
    }
    if (st == LDM_OK)
        st = ldm_runfile_close(&rf);
    if (fd >= 0) {
        char line[64];
        int len = snprintf(line, sizeof line, "P%ld\n", ldm_runfile_write_points());
        if (write(fd, line, (size_t)len) != len)
            st = LDM_ERUNTIME;
        close(fd);
    }
    if (st != LDM_OK)
        fprintf(stderr, "child: %s\n", ldm_error_message());
    MPI_Finalize();
    return st == LDM_OK ? 0 : 1;
}

/* Calls that returned (0: not even create) and, at a clean end, the points. */
static int read_log(const char *log, long *points)
{
    char buf[256] = "";
    FILE *f = fopen(log, "r");
    size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[len] = '\0';
    int calls = 0;
    while (buf[calls] >= '1' && buf[calls] <= '1' + N_OPS)
        calls++;
    if (points)
        *points = buf[calls] == 'P' ? atol(buf + calls + 1) : 0;
    return calls;
}

/* The state each item is in once the first `calls` calls returned. */
static void state_after(int calls, ldm_runfile_progress st[N])
{
    for (int i = 0; i < N; i++) {
        ldm_runfile_progress p = { LDM_RUNFILE_PENDING, 0, -1 };
        st[i] = p;
    }
    for (int c = 0; c + 1 < calls && c < N_OPS; c++) {
        const op *o = &script[c];
        for (int k = 0; o->items[k] >= 0; k++) {
            ldm_runfile_progress *p = &st[o->items[k]];
            if (o->kind == OP_CKPT) {
                p->state = LDM_RUNFILE_PARTIAL;
                p->step = o->step;
                p->slot = p->slot == 0 ? 1 : 0;
            } else if (o->kind == OP_IMAGE) {
                p->state = LDM_RUNFILE_DONE;
                p->step = items[o->items[k]].steps;
            }
        }
    }
}

static int last_checkpoint(int i)
{
    int step = 0;
    for (int c = 0; c < N_OPS; c++)
        for (int k = 0; script[c].kind == OP_CKPT && script[c].items[k] >= 0; k++)
            if (script[c].items[k] == i)
                step = script[c].step;
    return step;
}

static int same_progress(const ldm_runfile_progress *a, const ldm_runfile_progress *b)
{
    return a->state == b->state && a->step == b->step && a->slot == b->slot;
}

/* The file a child left after `calls` calls returned: every item in the
 * state of the last returned call or of the one cut short, and its
 * committed checkpoint, frames and image exactly that step's. */
static void verify_file(const char *path, int calls, long n)
{
    if (calls == 0) {
        /* Killed inside create: <path> never names a half-made file. */
        CHECK_MSG(!t_exists(path), "point %ld: %s exists before create returned", n, path);
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.creating", path);
        ldm_runfile *rf = NULL;
        if (t_exists(tmp))
            CHECK_FAILS_WITH(ldm_runfile_open(MPI_COMM_SELF, tmp, 1, &id, &rf), LDM_EINPUT,
                             "not an ldm run file");
        return;
    }
    ldm_runfile *rf = NULL;
    ldm_error_clear();
    ldm_status st = ldm_runfile_open(MPI_COMM_SELF, path, 1, &id, &rf);
    CHECK_MSG(st == LDM_OK, "point %ld: %s", n, ldm_error_message());
    if (st != LDM_OK)
        return;
    ldm_runfile_progress before[N], after[N];
    state_after(calls, before);
    state_after(calls + 1, after);
    static t_buffers b[N];
    static float frame_buf[N][256];
    for (int i = 0; i < N; i++) {
        const ldm_runfile_progress *p = ldm_runfile_get_progress(rf, i);
        CHECK_MSG(same_progress(p, &before[i]) || same_progress(p, &after[i]),
                  "point %ld item %d: (%d,%d,%d)", n, i, p->state, p->step, p->slot);
        if (p->slot >= 0) {
            ldm_runfile_slot s;
            t_fill_slot(&items[i], i, 0, &b[i], &s);
            memset(b[i].lat, 0, sizeof b[i].lat);
            CHECK(ldm_runfile_checkpoint_read(rf, &s, 1) == LDM_OK);
            /* A done item keeps its last checkpoint. */
            int step = p->state == LDM_RUNFILE_DONE ? last_checkpoint(i) : p->step;
            CHECK_MSG(s.step == step && t_slot_mismatches(&s, step) == 0,
                      "point %ld item %d: checkpoint (step %d) differs", n, i, s.step);
        }
        for (int fs = T_TRAJ; fs <= p->step && fs <= 4; fs += T_TRAJ) {
            ldm_runfile_frame f = { i, fs, frame_buf[i], t_latents(&items[i]) };
            CHECK(ldm_runfile_trajectory_read(rf, &f, 1) == LDM_OK);
            int64_t bad = 0;
            for (int64_t k = 0; k < f.latents_count; k++)
                bad += f.latents[k] != t_latent_value(i, fs, k);
            CHECK_MSG(bad == 0, "point %ld item %d: frame %d differs", n, i, fs);
        }
        if (p->state == LDM_RUNFILE_DONE) {
            ldm_runfile_image im;
            t_fill_image(&items[i], i, &b[i], &im);
            memset(b[i].rgb, 0, sizeof b[i].rgb);
            CHECK(ldm_runfile_image_read(rf, &im, 1) == LDM_OK);
            CHECK_MSG(t_image_mismatches(&im) == 0, "point %ld item %d: image differs", n, i);
        }
    }
    /* And the file resumes: one more checkpoint of a pending or partial item. */
    for (int i = 0; i < N; i++) {
        if (ldm_runfile_get_progress(rf, i)->state == LDM_RUNFILE_DONE)
            continue;
        ldm_runfile_slot s;
        t_fill_slot(&items[i], i, items[i].steps - 1, &b[i], &s);
        CHECK(ldm_runfile_checkpoint_write(rf, &s, 1) == LDM_OK);
        break;
    }
    CHECK(ldm_runfile_close(&rf) == LDM_OK);
}

static int run_h5dump(const char *path)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "h5dump -H '%s' >/dev/null 2>&1", path);
    return system(cmd);
}

/* Fork a singleton child that crashes at point n (0: never). Returns the
 * wait status. */
static int fork_child(const char *path, const char *log, long n)
{
    unlink(log);
    pid_t pid = fork();
    if (pid == 0) {
        /* One process, no launcher: keep the singleton from spawning one. */
        setenv("OMPI_MCA_ess_singleton_isolated", "1", 1);
        setenv("OMPI_MCA_btl", "self", 1);
        setenv("OMPI_MCA_pml", "ob1", 1);
        ldm_runfile_crash_at(n);
        _exit(child(path, log));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

/* ---- raw data only ------------------------------------------------------- */

typedef struct extents {
    haddr_t start[64];
    hsize_t size[64];
    int n;
} extents;

static herr_t add_extent(hid_t root, const char *name, const H5O_info_t *info, void *data)
{
    extents *e = data;
    if (info->type != H5O_TYPE_DATASET || e->n == 64)
        return 0;
    hid_t d = H5Dopen2(root, name, H5P_DEFAULT);
    e->start[e->n] = H5Dget_offset(d);
    e->size[e->n] = H5Dget_storage_size(d);
    e->n++;
    H5Dclose(d);
    return 0;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*len ? *len : 1);
    if (fread(buf, 1, *len, f) != *len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* A whole sweep changes no byte outside the datasets' raw extents: no
 * metadata is written after creation, which is why a kill cannot damage the
 * file's structure. Opening read-only changes nothing at all. */
static void raw_data_only(const char *path)
{
    ldm_runfile_spec spec = t_spec(&id);
    ldm_runfile *rf = NULL;
    CHECK(ldm_runfile_create(MPI_COMM_SELF, path, &spec, items, N, 1, &rf) == LDM_OK);
    CHECK(ldm_runfile_close(&rf) == LDM_OK);
    size_t la = 0, lb = 0, lc = 0;
    unsigned char *a = slurp(path, &la);
    CHECK(ldm_runfile_open(MPI_COMM_SELF, path, 0, &id, &rf) == LDM_OK);
    CHECK(ldm_runfile_close(&rf) == LDM_OK);
    unsigned char *c = slurp(path, &lc);
    CHECK(a && c && la == lc && memcmp(a, c, la) == 0);

    CHECK(ldm_runfile_open(MPI_COMM_SELF, path, 1, &id, &rf) == LDM_OK);
    for (int op = 0; rf && op < N_OPS; op++)
        CHECK(run_op(rf, op, 1, 0) == LDM_OK);
    CHECK(ldm_runfile_close(&rf) == LDM_OK);
    unsigned char *b = slurp(path, &lb);
    CHECK(a && b && la == lb);

    extents e = { .n = 0 };
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, add_extent, &e, H5O_INFO_BASIC);
    H5Fclose(f);
    CHECK(e.n >= 25);
    size_t changed_raw = 0, changed_meta = 0;
    for (size_t k = 0; a && b && la == lb && k < la; k++) {
        if (a[k] == b[k])
            continue;
        int raw = 0;
        for (int d = 0; d < e.n && !raw; d++)
            raw = k >= e.start[d] && k < e.start[d] + e.size[d];
        if (raw)
            changed_raw++;
        else
            changed_meta++;
    }
    CHECK_MSG(changed_raw > 1000 && changed_meta == 0, "%zu raw bytes and %zu other bytes changed",
              changed_raw, changed_meta);
    free(a);
    free(b);
    free(c);
}

/* ---- main ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    t_make_items(items, N);
    if (t_identity("crash test model", &id) != LDM_OK)
        return 1;
    if (argc == 4 && strcmp(argv[1], "child") == 0)
        return child(argv[2], argv[3]);
    char dir[512], path[600], log[600];
    snprintf(dir, sizeof dir, "%s/crash", LDM_TEST_TMP);
    t_mkdirs(dir);
    int have_h5dump = system("h5dump --version >/dev/null 2>&1") == 0;
    if (!have_h5dump)
        fprintf(stderr, "h5dump not found (Debian: hdf5-tools): skipping the h5dump checks\n");

    /* A clean run says how many write points there are. */
    snprintf(path, sizeof path, "%s/clean.h5", dir);
    snprintf(log, sizeof log, "%s/clean.log", dir);
    int status = fork_child(path, log, 0);
    long total = 0;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(read_log(log, &total) == N_OPS + 1 && total > 50 && total < MAX_POINTS);
    if (total <= 0 || total >= MAX_POINTS)
        return ldm_test_finish();

    /* Kill at every point after creation, and at every 4th inside it (every
     * one with LDM_TEST_EVERY_POINT=1: the file is only renamed into place
     * at the end, so those kills all look alike). */
    static int calls_at[MAX_POINTS + 1];
    int every = getenv("LDM_TEST_EVERY_POINT") != NULL;
    int in_create = 1;
    for (long n = 1; n <= total; n++) {
        calls_at[n] = -1;
        if (in_create && !every && n % 4 != 1)
            continue;
        snprintf(path, sizeof path, "%s/kill%03ld.h5", dir, n);
        snprintf(log, sizeof log, "%s/kill%03ld.log", dir, n);
        status = fork_child(path, log, n);
        CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "point %ld: not killed", n);
        calls_at[n] = read_log(log, NULL);
        in_create = calls_at[n] == 0;
        if (have_h5dump && t_exists(path))
            CHECK_MSG(run_h5dump(path) == 0, "point %ld: h5dump -H %s failed", n, path);
    }

    /* Two ranks killed together (mpirun, LDM_RUNFILE_CRASH_AT). */
    static const long mpi_points[] = { 3, 0, 0 };
    long mpi_n[3] = { 0, 0, 0 };
    int mpi_calls[3] = { 0, 0, 0 };
    int mpi_runs = argc >= 2 ? 3 : 0;
    for (int k = 0; k < mpi_runs; k++) {
        /* Points count per rank; at 2 ranks a sweep has fewer rounds. */
        mpi_n[k] = mpi_points[k] ? mpi_points[k] : (k == 1 ? total / 2 : total * 3 / 4);
        snprintf(path, sizeof path, "%s/mpi%d.h5", dir, k);
        snprintf(log, sizeof log, "%s/mpi%d.log", dir, k);
        unlink(log);
        char cmd[2400];
        snprintf(cmd, sizeof cmd, "LDM_RUNFILE_CRASH_AT=%ld %s --oversubscribe --allow-run-as-root "
                 "-n 2 %s child %s %s >/dev/null 2>&1", mpi_n[k], argv[1], argv[0], path, log);
        CHECK_MSG(system(cmd) != 0, "mpirun at point %ld: not killed", mpi_n[k]);
        mpi_calls[k] = read_log(log, NULL);
        if (have_h5dump && t_exists(path))
            CHECK_MSG(run_h5dump(path) == 0, "mpi point %ld: h5dump -H %s failed", mpi_n[k], path);
    }

    /* Now MPI, to read what was left. */
    setenv("OMPI_MCA_ess_singleton_isolated", "1", 1);
    setenv("OMPI_MCA_btl", "self", 1);
    setenv("OMPI_MCA_pml", "ob1", 1);
    MPI_Init(&argc, &argv);
    int killed_after_create = 0;
    for (long n = 1; n <= total; n++) {
        if (calls_at[n] < 0)
            continue;
        snprintf(path, sizeof path, "%s/kill%03ld.h5", dir, n);
        verify_file(path, calls_at[n], n);
        killed_after_create += calls_at[n] > 0;
    }
    CHECK(killed_after_create > 30);
    for (int k = 0; k < mpi_runs; k++) {
        snprintf(path, sizeof path, "%s/mpi%d.h5", dir, k);
        verify_file(path, mpi_calls[k], mpi_n[k]);
    }
    snprintf(path, sizeof path, "%s/raw.h5", dir);
    raw_data_only(path);
    MPI_Finalize();
    ldm_model_identity_free(&id);
    printf("%ld write points\n", total);
    return ldm_test_finish();
}
