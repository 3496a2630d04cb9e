/* Run file, collectively at 1-4 ranks (ctest: test_runfile_np1..np4).
 *
 * A sweep of 7 items in two size groups runs in lockstep rounds: every
 * round, each rank checkpoints the items it owns (item i belongs to rank
 * i % P, and to rank (i + 1) % P after the mid-run resume), stores
 * trajectory frames and, at an item's last step, its image. Every table,
 * checkpoint, frame and image is checked on reopen and at the end. Rank 0
 * then runs the same sweep alone (MPI_COMM_SELF) and every dataset and
 * attribute of the two files must be byte-identical (the creation time
 * aside). Then refusals (force, not ours, other model, bad requests) and
 * injected write failures at every write point of a checkpoint. */
#include <hdf5.h>
#include <mpi.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "test_runfile_common.h"

enum { N = 7 };

#define CHECK_OK(expr)                                                          \
    do {                                                                        \
        ldm_error_clear();                                                      \
        ldm_status ok_ = (expr);                                                \
        CHECK_MSG(ok_ == LDM_OK, "status %d: %s", (int)ok_, ldm_error_message()); \
    } while (0)

static int rank_, size_;
static ldm_runfile_item items[N];
static ldm_model_identity id_a, id_b;

static int max_steps(void)
{
    int m = 0;
    for (int i = 0; i < N; i++)
        m = items[i].steps > m ? items[i].steps : m;
    return m;
}

/* The state the lockstep sweep leaves after `round` rounds. */
static void expected(int i, int round, ldm_runfile_progress *p)
{
    int steps = items[i].steps;
    p->state = round >= steps ? LDM_RUNFILE_DONE : (round >= 1 ? LDM_RUNFILE_PARTIAL : LDM_RUNFILE_PENDING);
    int last = round < steps ? round : steps - 1; /* the last checkpointed step */
    p->step = round >= steps ? steps : last;
    p->slot = last >= 1 ? (last - 1) % 2 : -1;
}

/* Every rank checks the tables; each reads back, in one collective call per
 * kind, the checkpoints, committed frames and images of the items it owns. */
static void verify(ldm_runfile *rf, int round, int P, int r, int shift)
{
    static t_buffers b[N];
    static float frame_buf[N * 4][256];
    ldm_runfile_slot slots[N];
    ldm_runfile_frame frames[N * 4];
    ldm_runfile_image images[N];
    int ns = 0, nf = 0, ni = 0;
    for (int i = 0; i < N; i++) {
        ldm_runfile_progress want;
        expected(i, round, &want);
        const ldm_runfile_progress *got = ldm_runfile_get_progress(rf, i);
        CHECK_MSG(got && got->state == want.state && got->step == want.step && got->slot == want.slot,
                  "round %d item %d: (%d,%d,%d) want (%d,%d,%d)", round, i, got ? got->state : -9,
                  got ? got->step : -9, got ? got->slot : -9, want.state, want.step, want.slot);
        const ldm_runfile_item *it = ldm_runfile_get_item(rf, i);
        CHECK(it && strcmp(it->prompt, items[i].prompt) == 0 && it->seed == items[i].seed &&
              it->noise_seed == items[i].noise_seed && it->steps == items[i].steps &&
              it->eta == items[i].eta && it->guidance_scale == items[i].guidance_scale &&
              strcmp(it->negative_prompt, items[i].negative_prompt) == 0 &&
              strcmp(it->scheduler, items[i].scheduler) == 0 &&
              it->scheduler_state_bytes == items[i].scheduler_state_bytes &&
              memcmp(it->latent_shape, items[i].latent_shape, sizeof it->latent_shape) == 0);
        if ((i + shift) % P != r)
            continue;
        if (want.slot >= 0) {
            t_fill_slot(&items[i], i, 0, &b[i], &slots[ns]);
            memset(b[i].lat, 0, sizeof b[i].lat);
            slots[ns++].step = -1;
        }
        for (int step = T_TRAJ; step <= want.step; step += T_TRAJ) {
            ldm_runfile_frame f = { i, step, frame_buf[nf], t_latents(&items[i]) };
            frames[nf++] = f;
        }
        if (want.state == LDM_RUNFILE_DONE) {
            t_fill_image(&items[i], i, &b[i], &images[ni]);
            memset(b[i].rgb, 0, sizeof b[i].rgb);
            images[ni++].timings.unet = 0;
        }
    }
    CHECK_OK(ldm_runfile_checkpoint_read(rf, slots, ns));
    for (int k = 0; k < ns; k++) {
        int i = (int)slots[k].item, last = round < items[i].steps ? round : items[i].steps - 1;
        CHECK_MSG(slots[k].step == last &&
                  t_slot_mismatches(&slots[k], last) == 0, "item %d checkpoint", i);
    }
    CHECK_OK(ldm_runfile_trajectory_read(rf, frames, nf));
    for (int k = 0; k < nf; k++)
        for (int64_t e = 0; e < frames[k].latents_count; e++)
            CHECK_MSG(frames[k].latents[e] == t_latent_value(frames[k].item, frames[k].step, e),
                      "frame %d of item %lld", frames[k].step, (long long)frames[k].item);
    CHECK_OK(ldm_runfile_image_read(rf, images, ni));
    for (int k = 0; k < ni; k++)
        CHECK_MSG(t_image_mismatches(&images[k]) == 0, "image of item %lld", (long long)images[k].item);
}

/* One round of the lockstep sweep: checkpoint, frames, images. */
static void sweep_round(ldm_runfile *rf, int round, int P, int r, int shift)
{
    static t_buffers b[N];
    ldm_runfile_slot slots[N];
    ldm_runfile_frame frames[N];
    ldm_runfile_image images[N];
    int ns = 0, nf = 0, ni = 0;
    for (int i = 0; i < N; i++) {
        if ((i + shift) % P != r || round > items[i].steps)
            continue;
        if (round < items[i].steps)
            t_fill_slot(&items[i], i, round, &b[i], &slots[ns++]);
        if (round % T_TRAJ == 0) {
            /* The latents after this step: the same pattern as a checkpoint. */
            ldm_runfile_slot tmp;
            static t_buffers fb[N];
            t_fill_slot(&items[i], i, round, &fb[i], &tmp);
            ldm_runfile_frame f = { i, round, fb[i].lat, tmp.latents_count };
            frames[nf++] = f;
        }
        if (round == items[i].steps)
            t_fill_image(&items[i], i, &b[i], &images[ni++]);
    }
    CHECK_OK(ldm_runfile_checkpoint_write(rf, slots, ns));
    CHECK_OK(ldm_runfile_trajectory_write(rf, frames, nf));
    CHECK_OK(ldm_runfile_image_write(rf, images, ni));
}

/* The whole sweep on `comm`, closing and resuming after round `resume_at`
 * with the items dealt to other ranks. */
static void run_sweep(MPI_Comm comm, const char *path, int resume_at)
{
    int P = 1, r = 0;
    MPI_Comm_size(comm, &P);
    MPI_Comm_rank(comm, &r);
    ldm_runfile_spec spec = t_spec(&id_a);
    ldm_runfile *rf = NULL;
    ldm_error_clear();
    ldm_status st = ldm_runfile_create(comm, path, &spec, items, N, 1, &rf);
    CHECK_MSG(st == LDM_OK, "create: %s", ldm_error_message());
    if (st != LDM_OK)
        return;
    const ldm_runfile_info *info = ldm_runfile_get_info(rf);
    CHECK(info->count == N && info->size_groups == 2 && info->trajectory_every == T_TRAJ &&
          strcmp(info->model_identity, id_a.digest) == 0 &&
          strcmp(info->command_line, spec.command_line) == 0 && strlen(info->created) == 20 &&
          strcmp(info->slurm_job_id, "4242") == 0 && strcmp(info->ldm_version, LDM_VERSION) == 0);
    verify(rf, 0, P, r, 0);
    int shift = 0;
    for (int round = 1; round <= max_steps(); round++) {
        sweep_round(rf, round, P, r, shift);
        if (round == resume_at) {
            CHECK(ldm_runfile_close(&rf) == LDM_OK && rf == NULL);
            st = ldm_runfile_open(comm, path, 1, &id_a, &rf);
            CHECK_MSG(st == LDM_OK, "resume: %s", ldm_error_message());
            if (st != LDM_OK)
                return;
            shift = 1;
            verify(rf, round, P, r, shift);
        }
    }
    verify(rf, max_steps(), P, r, shift);
    CHECK_OK(ldm_runfile_close(&rf));
}

/* ---- byte comparison of two files (rank 0, serial HDF5) ------------------ */

typedef struct cmp_ctx {
    hid_t other;
    int datasets, differ;
} cmp_ctx;

static int same_bytes(hid_t a, hid_t b, int attr)
{
    hid_t ta = attr ? H5Aget_type(a) : H5Dget_type(a), tb = attr ? H5Aget_type(b) : H5Dget_type(b);
    hid_t sa = attr ? H5Aget_space(a) : H5Dget_space(a), sb = attr ? H5Aget_space(b) : H5Dget_space(b);
    size_t na = H5Tget_size(ta) * (size_t)H5Sget_select_npoints(sa);
    size_t nb = H5Tget_size(tb) * (size_t)H5Sget_select_npoints(sb);
    int same = H5Tequal(ta, tb) > 0 && na == nb;
    if (same && attr && H5Tis_variable_str(ta) > 0) {
        char *va = NULL, *vb = NULL; /* pointers: compare the strings */
        same = H5Aread(a, ta, &va) >= 0 && H5Aread(b, tb, &vb) >= 0 && va && vb && strcmp(va, vb) == 0;
        H5free_memory(va);
        H5free_memory(vb);
    } else if (same) {
        char *ba = malloc(na + 1), *bb = malloc(nb + 1);
        if (attr)
            same = H5Aread(a, ta, ba) >= 0 && H5Aread(b, tb, bb) >= 0 && memcmp(ba, bb, na) == 0;
        else
            same = H5Dread(a, ta, H5S_ALL, H5S_ALL, H5P_DEFAULT, ba) >= 0 &&
                   H5Dread(b, tb, H5S_ALL, H5S_ALL, H5P_DEFAULT, bb) >= 0 && memcmp(ba, bb, na) == 0;
        free(ba);
        free(bb);
    }
    H5Tclose(ta);
    H5Tclose(tb);
    H5Sclose(sa);
    H5Sclose(sb);
    return same;
}

static herr_t compare_object(hid_t root, const char *name, const H5O_info_t *info, void *data)
{
    cmp_ctx *c = data;
    if (info->type != H5O_TYPE_DATASET)
        return 0;
    hid_t a = H5Dopen2(root, name, H5P_DEFAULT), b = H5Dopen2(c->other, name, H5P_DEFAULT);
    c->datasets++;
    if (a < 0 || b < 0 || !same_bytes(a, b, 0)) {
        c->differ++;
        fprintf(stderr, "dataset %s differs\n", name);
    }
    if (a >= 0)
        H5Dclose(a);
    if (b >= 0)
        H5Dclose(b);
    return 0;
}

static herr_t compare_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
    (void)info;
    cmp_ctx *c = data;
    if (strcmp(name, "created") == 0)
        return 0;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), b = H5Aopen(c->other, name, H5P_DEFAULT);
    if (a < 0 || b < 0 || !same_bytes(a, b, 1)) {
        c->differ++;
        fprintf(stderr, "attribute %s differs\n", name);
    }
    if (a >= 0)
        H5Aclose(a);
    if (b >= 0)
        H5Aclose(b);
    return 0;
}

static void compare_files(const char *pa, const char *pb)
{
    hid_t a = H5Fopen(pa, H5F_ACC_RDONLY, H5P_DEFAULT), b = H5Fopen(pb, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(a >= 0 && b >= 0);
    if (a < 0 || b < 0)
        return;
    cmp_ctx c = { b, 0, 0 };
    H5Ovisit2(a, H5_INDEX_NAME, H5_ITER_INC, compare_object, &c, H5O_INFO_BASIC);
    H5Aiterate2(a, H5_INDEX_NAME, H5_ITER_INC, NULL, compare_attr, &c);
    CHECK_MSG(c.datasets >= 25 && c.differ == 0, "%d datasets compared, %d differ", c.datasets, c.differ);
    H5Fclose(a);
    H5Fclose(b);
}

/* ---- refusals ------------------------------------------------------------ */

/* Every rank gets the code and (through the agreement) the failing rank's
 * message. */
#define CHECK_ALL_FAIL(expr, code, needle) CHECK_FAILS_WITH(expr, code, needle)

static void refusals(const char *dir, const char *run)
{
    char path[1024];
    ldm_runfile *rf = NULL;
    ldm_runfile_spec spec = t_spec(&id_a);
    static t_buffers b;

    /* An existing file is never overwritten without force. */
    CHECK_ALL_FAIL(ldm_runfile_create(MPI_COMM_WORLD, run, &spec, items, N, 0, &rf), LDM_EINPUT, "--force");
    CHECK_ALL_FAIL(ldm_runfile_create(MPI_COMM_WORLD, run, &spec, items, N, 0, &rf), LDM_EINPUT, run);
    CHECK(rf == NULL);
    snprintf(path, sizeof path, "%s/no/such/dir/run.h5", dir);
    CHECK_ALL_FAIL(ldm_runfile_create(MPI_COMM_WORLD, path, &spec, items, N, 0, &rf), LDM_EINPUT,
                   "does not exist");
    ldm_runfile_item bad[N];
    memcpy(bad, items, sizeof bad);
    bad[3].steps = 0;
    snprintf(path, sizeof path, "%s/bad.h5", dir);
    CHECK_ALL_FAIL(ldm_runfile_create(MPI_COMM_WORLD, path, &spec, bad, N, 1, &rf), LDM_EINPUT,
                   "item 3: steps");
    CHECK(!t_exists(path));

    /* Not ours: a missing file, a text file, an HDF5 file without our attributes. */
    snprintf(path, sizeof path, "%s/missing.h5", dir);
    CHECK_ALL_FAIL(ldm_runfile_open(MPI_COMM_WORLD, path, 0, NULL, &rf), LDM_EINPUT, "missing.h5");
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    if (rank_ == 0) {
        FILE *f = fopen(path, "w");
        fputs("not a run file\n", f);
        fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK_ALL_FAIL(ldm_runfile_open(MPI_COMM_WORLD, path, 1, &id_a, &rf), LDM_EINPUT, "not an ldm run file");
    snprintf(path, sizeof path, "%s/other.h5", dir);
    if (rank_ == 0) {
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dims = 4;
        hid_t s = H5Screate_simple(1, &dims, NULL);
        H5Dclose(H5Dcreate2(f, "data", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
        H5Sclose(s);
        H5Fclose(f);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    CHECK_ALL_FAIL(ldm_runfile_open(MPI_COMM_WORLD, path, 1, &id_a, &rf), LDM_EINPUT, "not an ldm run file");
    CHECK(rf == NULL);

    /* Another model: both identities named. */
    CHECK_ALL_FAIL(ldm_runfile_open(MPI_COMM_WORLD, run, 1, &id_b, &rf), LDM_EINPUT, id_a.digest);
    CHECK_ALL_FAIL(ldm_runfile_open(MPI_COMM_WORLD, run, 1, &id_b, &rf), LDM_EINPUT, id_b.digest);

    /* One writer at a time; readers are welcome. */
    ldm_runfile *other = NULL;
    CHECK_OK(ldm_runfile_open(MPI_COMM_WORLD, run, 1, &id_a, &rf));
    CHECK_ALL_FAIL(ldm_runfile_open(MPI_COMM_WORLD, run, 1, &id_a, &other), LDM_EINPUT,
                   "being written by another ldm process");
    CHECK_ALL_FAIL(ldm_runfile_create(MPI_COMM_WORLD, run, &spec, items, N, 1, &other), LDM_EINPUT,
                   "being written by another ldm process");
    CHECK_OK(ldm_runfile_open(MPI_COMM_WORLD, run, 0, &id_a, &other));
    CHECK_OK(ldm_runfile_close(&other));
    CHECK_OK(ldm_runfile_close(&rf));

    /* Requests that do not fit. The file is done: every item refuses writes. */
    CHECK_OK(ldm_runfile_open(MPI_COMM_WORLD, run, 0, NULL, &rf));
    ldm_runfile_slot s;
    t_fill_slot(&items[0], 0, 1, &b, &s);
    CHECK_ALL_FAIL(ldm_runfile_checkpoint_write(rf, rank_ == 0 ? &s : NULL, rank_ == 0), LDM_EINPUT,
                   "read-only");
    CHECK_OK(ldm_runfile_close(&rf));
    CHECK_OK(ldm_runfile_open(MPI_COMM_WORLD, run, 1, &id_a, &rf));
    CHECK_ALL_FAIL(ldm_runfile_checkpoint_write(rf, rank_ == 0 ? &s : NULL, rank_ == 0), LDM_EINPUT,
                   "already done");
    CHECK_OK(ldm_runfile_close(&rf));
}

/* Bad requests on a fresh file; an item named by two ranks. */
static void bad_requests(const char *dir)
{
    char path[1024];
    ldm_runfile *rf = NULL;
    ldm_runfile_spec spec = t_spec(&id_a);
    static t_buffers b;
    ldm_runfile_slot s;
    snprintf(path, sizeof path, "%s/requests.h5", dir);
    CHECK_OK(ldm_runfile_create(MPI_COMM_WORLD, path, &spec, items, N, 1, &rf));
    if (!rf)
        return;
    int me = rank_ == size_ - 1; /* the last rank sends the bad request */
    t_fill_slot(&items[2], 2, 1, &b, &s);
    s.latents_count--;
    CHECK_ALL_FAIL(ldm_runfile_checkpoint_write(rf, me ? &s : NULL, me), LDM_EINPUT,
                   "latents has 63 elements, the item needs 64");
    t_fill_slot(&items[2], 2, 7, &b, &s);
    CHECK_ALL_FAIL(ldm_runfile_checkpoint_write(rf, me ? &s : NULL, me), LDM_EINPUT, "outside 1..6");
    t_fill_slot(&items[2], 2, 1, &b, &s);
    s.item = N;
    CHECK_ALL_FAIL(ldm_runfile_checkpoint_write(rf, me ? &s : NULL, me), LDM_EINPUT, "out of range");
    s.item = 2;
    CHECK_ALL_FAIL(ldm_runfile_checkpoint_read(rf, me ? &s : NULL, me), LDM_EINPUT, "no checkpoint");
    ldm_runfile_slot two[2] = { s, s };
    CHECK_ALL_FAIL(ldm_runfile_checkpoint_write(rf, me ? two : NULL, me ? 2 : 0), LDM_EINPUT, "given twice");
    if (size_ >= 2)
        CHECK_ALL_FAIL(ldm_runfile_checkpoint_write(rf, rank_ < 2 ? &s : NULL, rank_ < 2), LDM_EINPUT,
                       "given by two ranks");
    ldm_runfile_frame f = { 2, 3, b.lat, t_latents(&items[2]) };
    CHECK_ALL_FAIL(ldm_runfile_trajectory_write(rf, me ? &f : NULL, me), LDM_EINPUT, "not a multiple of 2");
    f.step = 2;
    CHECK_ALL_FAIL(ldm_runfile_trajectory_read(rf, me ? &f : NULL, me), LDM_EINPUT, "not committed");
    ldm_runfile_image im;
    t_fill_image(&items[2], 2, &b, &im);
    CHECK_ALL_FAIL(ldm_runfile_image_read(rf, me ? &im : NULL, me), LDM_EINPUT, "is not done");
    /* After all those refusals nothing was written: every item is pending. */
    int pending = 1;
    for (int i = 0; i < N; i++)
        pending &= ldm_runfile_get_progress(rf, i)->state == LDM_RUNFILE_PENDING;
    CHECK(pending);
    /* And the handle still works. */
    t_fill_slot(&items[2], 2, 1, &b, &s);
    CHECK_OK(ldm_runfile_checkpoint_write(rf, me ? &s : NULL, me));
    CHECK(ldm_runfile_get_progress(rf, 2)->state == LDM_RUNFILE_PARTIAL);
    CHECK_OK(ldm_runfile_close(&rf));
}

/* ---- injected write failures ---------------------------------------------- */

/* Checkpoint every owned item at `step` (collective). */
static ldm_status checkpoint_all(ldm_runfile *rf, int step)
{
    static t_buffers b[N];
    ldm_runfile_slot slots[N];
    int ns = 0;
    for (int i = 0; i < N; i++)
        if (i % size_ == rank_ && step < items[i].steps)
            t_fill_slot(&items[i], i, step, &b[i], &slots[ns++]);
    return ldm_runfile_checkpoint_write(rf, slots, ns);
}

/* Each item's committed checkpoint must hold exactly its committed step. */
static void check_committed(ldm_runfile *rf)
{
    static t_buffers b[N];
    ldm_runfile_slot slots[N];
    int ns = 0;
    for (int i = 0; i < N; i++)
        if (i % size_ == rank_ && ldm_runfile_get_progress(rf, i)->state == LDM_RUNFILE_PARTIAL)
            t_fill_slot(&items[i], i, 0, &b[i], &slots[ns++]);
    CHECK_OK(ldm_runfile_checkpoint_read(rf, slots, ns));
    for (int k = 0; k < ns; k++)
        CHECK_MSG(t_slot_mismatches(&slots[k], slots[k].step) == 0, "item %lld step %d",
                  (long long)slots[k].item, slots[k].step);
}

/* A write that fails at any point of a checkpoint (on one rank) fails the
 * call on every rank; reopened, each item holds its previous checkpoint, or
 * the new one when only the final flush failed. */
static void failures(const char *dir)
{
    char path[1024];
    ldm_runfile *rf = NULL;
    ldm_runfile_spec spec = t_spec(&id_a);
    snprintf(path, sizeof path, "%s/fail.h5", dir);
    CHECK_OK(ldm_runfile_create(MPI_COMM_WORLD, path, &spec, items, N, 1, &rf));
    if (!rf)
        return;
    CHECK_OK(checkpoint_all(rf, 1));
    long before = ldm_runfile_write_points();
    CHECK_OK(checkpoint_all(rf, 2));
    long points = ldm_runfile_write_points() - before; /* same on every rank */
    CHECK(points >= 7);
    CHECK_OK(checkpoint_all(rf, 1));
    for (long k = 1; k <= points; k++) {
        int culprit = (int)(k % size_);
        if (rank_ == culprit)
            ldm_runfile_fail_at(k);
        ldm_error_clear();
        ldm_status st = checkpoint_all(rf, 2);
        CHECK_MSG(st == LDM_ERUNTIME && strstr(ldm_error_message(), "No space left on device") &&
                  strstr(ldm_error_message(), "fail.h5"),
                  "point %ld: status %d, \"%s\"", k, (int)st, ldm_error_message());
        ldm_error_clear();
        CHECK_OK(ldm_runfile_close(&rf));
        CHECK_OK(ldm_runfile_open(MPI_COMM_WORLD, path, 1, &id_a, &rf));
        if (!rf)
            return;
        for (int i = 0; i < N; i++) {
            /* Before the record write (the second last point) nothing moved;
             * at it, the other ranks' records were written; at the last
             * flush, all were. */
            int in_call = items[i].steps > 2;
            int moved = in_call && (k == points || (k == points - 1 && i % size_ != culprit));
            const ldm_runfile_progress *p = ldm_runfile_get_progress(rf, i);
            CHECK_MSG(p->state == LDM_RUNFILE_PARTIAL && p->step == (moved ? 2 : 1),
                      "point %ld item %d: step %d", k, i, p->step);
        }
        check_committed(rf);
        /* Back to step 1 for the next point. */
        CHECK_OK(checkpoint_all(rf, 1));
    }
    CHECK_OK(ldm_runfile_close(&rf));

    /* A failed creation leaves nothing behind, and an older file at the
     * same path (with force) survives it. */
    for (long k = 1; k <= 60; k += 13) {
        if (rank_ == (int)(k % size_))
            ldm_runfile_fail_at(k);
        ldm_error_clear();
        ldm_status st = ldm_runfile_create(MPI_COMM_WORLD, path, &spec, items, N, 1, &rf);
        CHECK_MSG(st == LDM_ERUNTIME && strstr(ldm_error_message(), "could not create"),
                  "create point %ld: %d \"%s\"", k, (int)st, ldm_error_message());
        ldm_error_clear();
        char tmp[1100];
        snprintf(tmp, sizeof tmp, "%s.creating", path);
        CHECK(!t_exists(tmp));
        CHECK_OK(ldm_runfile_open(MPI_COMM_WORLD, path, 0, &id_a, &rf));
        if (rf)
            CHECK(ldm_runfile_get_progress(rf, 0)->state == LDM_RUNFILE_PARTIAL);
        CHECK_OK(ldm_runfile_close(&rf));
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    char dir[512], run[600], ref[600];
    snprintf(dir, sizeof dir, "%s/np%d", LDM_TEST_TMP, size_);
    snprintf(run, sizeof run, "%s/run.h5", dir);
    snprintf(ref, sizeof ref, "%s/ref.h5", dir);
    if (rank_ == 0)
        t_mkdirs(dir);
    MPI_Barrier(MPI_COMM_WORLD);
    t_make_items(items, N);
    CHECK(t_identity("model A", &id_a) == LDM_OK && t_identity("model B", &id_b) == LDM_OK);
    setenv("SLURM_JOB_ID", "4242", 1); /* rank 0's is what the file records */

    run_sweep(MPI_COMM_WORLD, run, 3);
    if (rank_ == 0) {
        /* The 1-rank result, and every byte of every dataset against it. */
        run_sweep(MPI_COMM_SELF, ref, 2);
        compare_files(run, ref);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    refusals(dir, run);
    bad_requests(dir);
    failures(dir);

    ldm_model_identity_free(&id_a);
    ldm_model_identity_free(&id_b);
    int failed = ldm_test_failed, any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Finalize();
    if (rank_ == 0)
        return ldm_test_finish() || any;
    if (failed)
        ldm_test_finish();
    return any ? 1 : 0;
}
