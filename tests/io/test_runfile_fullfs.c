/* Run file on a full file system: a 4 MiB tmpfs that the test mounts (we
 * run as root in CI; without the right to mount, the test is skipped).
 *
 * 1. Space is taken at creation: once a run file exists, filling the file
 *    system to the last byte does not stop its checkpoints, frames, images
 *    or its close.
 * 2. A checkpoint that does need new blocks (here: slot pages punched out of
 *    the file, as a copy-on-write file system or a sparse copy would have
 *    it) fails with LDM_ERUNTIME naming the file and the dataset; the
 *    previous checkpoint stays readable, and once space is freed the run
 *    resumes.
 * 3. Creating a file that does not fit fails with LDM_ERUNTIME naming it,
 *    leaves nothing behind, and (with force) leaves an older file at that
 *    path as it was. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <mpi.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "harness.h"
#include "test_runfile_common.h"

enum { N = 2, C = 4, H = 512, W = 512, LAT = C * (H / 8) * (W / 8), STEPS = 4, SCHED = 72 };

static ldm_runfile_item items[N];
static ldm_model_identity id;
static float lat[N][LAT];
static uint32_t rng[N][T_RNG_STREAMS * T_RNG_WORDS];
static uint8_t sched[N][SCHED];
static uint8_t rgb[H * W * 3];

#define CHECK_OK(expr)                                                          \
    do {                                                                        \
        ldm_error_clear();                                                      \
        ldm_status ok_ = (expr);                                                \
        CHECK_MSG(ok_ == LDM_OK, "status %d: %s", (int)ok_, ldm_error_message()); \
    } while (0)

/* Item i's buffers filled with the pattern of `step`. */
static ldm_runfile_slot slot_for(int i, int step)
{
    for (int64_t k = 0; k < LAT; k++)
        lat[i][k] = t_latent_value(i, step, k);
    for (int64_t k = 0; k < T_RNG_STREAMS * T_RNG_WORDS; k++)
        rng[i][k] = t_rng_value(i, step, k);
    for (int64_t k = 0; k < SCHED; k++)
        sched[i][k] = t_sched_value(i, step, k);
    ldm_runfile_slot s = { i, step, lat[i], LAT, rng[i], T_RNG_STREAMS * T_RNG_WORDS, sched[i], SCHED };
    return s;
}

static ldm_status checkpoint_both(ldm_runfile *rf, int step)
{
    ldm_runfile_slot s[N] = { slot_for(0, step), slot_for(1, step) };
    return ldm_runfile_checkpoint_write(rf, s, N);
}

/* Each item's committed checkpoint holds `step` exactly. */
static void check_step(ldm_runfile *rf, int step)
{
    ldm_runfile_slot s[N] = { slot_for(0, 0), slot_for(1, 0) };
    memset(lat, 0, sizeof lat);
    CHECK_OK(ldm_runfile_checkpoint_read(rf, s, N));
    for (int i = 0; i < N; i++)
        CHECK_MSG(ldm_runfile_get_progress(rf, i)->step == step && s[i].step == step &&
                  t_slot_mismatches(&s[i], step) == 0, "item %d at step %d", i, s[i].step);
}

/* Fill the file system to the last byte. */
static void fill_up(const char *filler)
{
    static char block[65536];
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    while (fd >= 0 && write(fd, block, sizeof block) > 0) {
    }
    while (fd >= 0 && write(fd, block, 1) > 0) {
    }
    if (fd >= 0)
        close(fd);
}

static unsigned long long free_bytes(const char *dir)
{
    struct statvfs sv;
    return statvfs(dir, &sv) == 0 ? (unsigned long long)sv.f_bavail * sv.f_frsize : 0;
}

/* Punch the pages of slot 1 of every item of /checkpoint/g0/latents out of
 * the file: writing them again needs new blocks. */
static int punch_slot1(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/checkpoint/g0/latents", H5P_DEFAULT);
    haddr_t base = H5Dget_offset(d);
    H5Dclose(d);
    H5Fclose(f);
    int fd = open(path, O_RDWR), punched = 0;
    for (int i = 0; fd >= 0 && i < N; i++) {
        off_t start = (off_t)base + (off_t)(2 * i + 1) * LAT * 4, end = start + LAT * 4;
        off_t a = (start + 4095) / 4096 * 4096, b = end / 4096 * 4096;
        if (b > a && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, a, b - a) == 0)
            punched++;
    }
    if (fd >= 0)
        close(fd);
    return punched == N;
}

static void make_items(void)
{
    for (int i = 0; i < N; i++) {
        ldm_runfile_item it = { "a lighthouse in a storm", "", "ddim", 42u + (uint64_t)i, 7, 6.0, 0.3,
                                STEPS, H, W, { C, H / 8, W / 8 }, SCHED };
        items[i] = it;
    }
}

/* 1: space taken at creation carries the whole sweep through a full disk. */
static void preallocated(const char *mnt, const char *run, const char *filler)
{
    ldm_runfile_spec spec = t_spec(&id);
    ldm_runfile *rf = NULL;
    CHECK_OK(ldm_runfile_create(MPI_COMM_SELF, run, &spec, items, N, 0, &rf));
    if (!rf)
        return;
    fill_up(filler);
    CHECK_MSG(free_bytes(mnt) == 0, "%llu bytes still free", free_bytes(mnt));
    for (int step = 1; step < STEPS; step++) {
        CHECK_OK(checkpoint_both(rf, step));
        if (step % T_TRAJ == 0) {
            ldm_runfile_frame f[N] = { { 0, step, lat[0], LAT }, { 1, step, lat[1], LAT } };
            CHECK_OK(ldm_runfile_trajectory_write(rf, f, N));
        }
    }
    for (int64_t k = 0; k < H * W * 3; k++)
        rgb[k] = t_pixel_value(1, k);
    ldm_runfile_image im = { 1, rgb, H * W * 3, { 0, 2, 0, 0, 0, 2 } }; /* unet = 1 + item */
    CHECK_OK(ldm_runfile_image_write(rf, &im, 1));
    CHECK_OK(ldm_runfile_close(&rf));
    CHECK_OK(ldm_runfile_open(MPI_COMM_SELF, run, 1, &id, &rf));
    if (!rf)
        return;
    CHECK(ldm_runfile_get_progress(rf, 0)->step == STEPS - 1);
    CHECK(ldm_runfile_get_progress(rf, 1)->state == LDM_RUNFILE_DONE);
    memset(rgb, 0, sizeof rgb);
    CHECK_OK(ldm_runfile_image_read(rf, &im, 1));
    CHECK(t_image_mismatches(&im) == 0);
    CHECK_OK(ldm_runfile_close(&rf));
    unlink(filler);
    unlink(run);
}

/* 2: a checkpoint that needs new blocks on a full disk. */
static void blocks_missing(const char *mnt, const char *run, const char *filler)
{
    ldm_runfile_spec spec = t_spec(&id);
    ldm_runfile *rf = NULL;
    CHECK_OK(ldm_runfile_create(MPI_COMM_SELF, run, &spec, items, N, 1, &rf));
    if (!rf)
        return;
    CHECK_OK(checkpoint_both(rf, 1)); /* slot 0 */
    CHECK_OK(ldm_runfile_close(&rf));
    CHECK(punch_slot1(run));
    fill_up(filler);
    CHECK(free_bytes(mnt) == 0);
    CHECK_OK(ldm_runfile_open(MPI_COMM_SELF, run, 1, &id, &rf));
    if (!rf)
        return;
    ldm_error_clear();
    ldm_status st = checkpoint_both(rf, 2); /* slot 1: its pages are gone */
    CHECK_MSG(st == LDM_ERUNTIME && strstr(ldm_error_message(), run) &&
              strstr(ldm_error_message(), "/checkpoint/g0/latents"),
              "status %d: %s", (int)st, ldm_error_message());
    printf("checkpoint on a full disk: %s\n", ldm_error_message());
    ldm_error_clear();
    ldm_runfile_close(&rf); /* may fail too; the file stays as it was */
    CHECK_OK(ldm_runfile_open(MPI_COMM_SELF, run, 0, &id, &rf));
    if (rf)
        check_step(rf, 1);
    CHECK_OK(ldm_runfile_close(&rf));

    /* Space freed: resume and go on. */
    unlink(filler);
    CHECK_OK(ldm_runfile_open(MPI_COMM_SELF, run, 1, &id, &rf));
    if (!rf)
        return;
    CHECK_OK(checkpoint_both(rf, 2));
    CHECK_OK(checkpoint_both(rf, 3));
    check_step(rf, 3);
    CHECK_OK(ldm_runfile_close(&rf));
}

/* 3: a file that does not fit. */
static void does_not_fit(const char *mnt, const char *run, const char *filler)
{
    char other[700], tmp[800];
    snprintf(other, sizeof other, "%s/other.h5", mnt);
    snprintf(tmp, sizeof tmp, "%s.creating", other);
    ldm_runfile_spec spec = t_spec(&id);
    ldm_runfile *rf = NULL;
    CHECK(t_exists(run));
    unsigned long long before = free_bytes(mnt);
    CHECK_MSG(before < 3 * 1024 * 1024, "%llu bytes free", before);
    ldm_error_clear();
    ldm_status st = ldm_runfile_create(MPI_COMM_SELF, other, &spec, items, N, 0, &rf);
    CHECK_MSG(st == LDM_ERUNTIME && strstr(ldm_error_message(), other) && rf == NULL,
              "status %d: %s", (int)st, ldm_error_message());
    printf("creating a file that does not fit: %s\n", ldm_error_message());
    ldm_error_clear();
    CHECK(!t_exists(other) && !t_exists(tmp));
    CHECK(free_bytes(mnt) == before);

    /* With force over the existing run: it fails the same way and the old
     * file is still there, checkpoint and all. */
    fill_up(filler);
    CHECK_FAILS_WITH(ldm_runfile_create(MPI_COMM_SELF, run, &spec, items, N, 1, &rf), LDM_ERUNTIME, run);
    CHECK_OK(ldm_runfile_open(MPI_COMM_SELF, run, 0, &id, &rf));
    if (rf)
        check_step(rf, 3);
    CHECK_OK(ldm_runfile_close(&rf));
    unlink(filler);
}

int main(int argc, char **argv)
{
    char mnt[512], run1[600], run[600], filler[600];
    snprintf(mnt, sizeof mnt, "%s/fullfs", LDM_TEST_TMP);
    snprintf(run1, sizeof run1, "%s/first.h5", mnt);
    snprintf(run, sizeof run, "%s/run.h5", mnt);
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    t_mkdirs(mnt);
    umount2(mnt, MNT_DETACH); /* a mount left by an interrupted run */
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=4m,mode=0755") != 0) {
        fprintf(stderr, "skipped: cannot mount a tmpfs at %s (%s); this test needs root or "
                "CAP_SYS_ADMIN\n", mnt, strerror(errno));
        return 77;
    }
    setenv("OMPI_MCA_ess_singleton_isolated", "1", 1);
    setenv("OMPI_MCA_btl", "self", 1);
    setenv("OMPI_MCA_pml", "ob1", 1);
    MPI_Init(&argc, &argv);
    make_items();
    CHECK(t_identity("full disk model", &id) == LDM_OK);
    preallocated(mnt, run1, filler);
    blocks_missing(mnt, run, filler);
    does_not_fit(mnt, run, filler);
    ldm_model_identity_free(&id);
    /* Every failure above left no HDF5 file open (one would crash
     * MPI_Finalize, where HDF5 closes what is left). */
    CHECK(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL) == 0);
    MPI_Finalize();
    CHECK(umount2(mnt, MNT_DETACH) == 0);
    return ldm_test_finish();
}
