/* runfile_checkpoint.c — the collective writes and reads of a run file:
 * checkpoints (two alternating slots), trajectory frames, final images.
 *
 * Every call follows one pattern: check this rank's requests, agree; gather
 * everyone's progress updates (so all ranks keep the same table and see
 * duplicate items); move the data group by group in rounds that every rank
 * runs the same number of times (a rank out of requests joins with an empty
 * selection); flush; write the progress records; flush; apply the updates. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "runfile_impl.h"

/* ---- shared steps ------------------------------------------------------- */

/* `once`: the item may appear only once in the call. */
static ldm_status check_item(ldm_runfile *rf, int64_t item, const char *what, int once)
{
    if (item < 0 || item >= rf->count)
        return ldm_error(LDM_EINPUT, "%s: %s: item %lld out of range (the file has %lld items)",
                         rf->path, what, (long long)item, (long long)rf->count);
    if (once && rf->mark[item] == rf->serial)
        return ldm_error(LDM_EINPUT, "%s: %s: item %lld given twice", rf->path, what,
                         (long long)item);
    rf->mark[item] = rf->serial;
    return LDM_OK;
}

static ldm_status check_count(ldm_runfile *rf, const char *what, int64_t item, const char *field,
                              int64_t got, int64_t want, const void *ptr)
{
    if (got != want)
        return ldm_error(LDM_EINPUT, "%s: %s of item %lld: %s has %lld elements, the item needs %lld",
                         rf->path, what, (long long)item, field, (long long)got, (long long)want);
    if (want > 0 && !ptr)
        return ldm_error(LDM_EINPUT, "%s: %s of item %lld: %s is NULL", rf->path, what,
                         (long long)item, field);
    return LDM_OK;
}

static int64_t latent_count(const ldm_runfile_item *it)
{
    return (int64_t)it->latent_shape[0] * it->latent_shape[1] * it->latent_shape[2];
}

/* Start a call: a fresh serial for duplicate detection, the argument check.
 * `per_item`: at most one request per item (checkpoints, images). */
static ldm_status begin(ldm_runfile *rf, int n, const void *reqs, int writing, int per_item,
                        const char *what)
{
    rf->serial++;
    if (writing && !rf->writable)
        return ldm_error(LDM_EINPUT, "%s: %s: the run file is open read-only", rf->path, what);
    if (n < 0 || (per_item && n > rf->count) || (n > 0 && !reqs))
        return ldm_error(LDM_EINPUT, "%s: %s: bad request list (n = %d)", rf->path, what, n);
    return LDM_OK;
}

/* COLLECTIVE. Everyone's rf->mine[0..n) into rf->updates; an item named by
 * two ranks is LDM_EINPUT on all of them. *total gets the count. */
static ldm_status gather_updates(ldm_runfile *rf, int n, const char *what, int *total)
{
    int bytes = n * (int)sizeof(rf_update);
    if (MPI_Allgather(&bytes, 1, MPI_INT, rf->counts, 1, MPI_INT, rf->comm) != MPI_SUCCESS)
        return ldm_error(LDM_ERUNTIME, "%s: %s: MPI_Allgather failed", rf->path, what);
    long long sum = 0;
    for (int r = 0; r < rf->size; r++) {
        rf->displs[r] = (int)sum;
        sum += rf->counts[r];
    }
    if (sum > (long long)rf->count * (long long)sizeof(rf_update))
        return ldm_error(LDM_EINPUT, "%s: %s: more requests than items (an item given by two ranks)",
                         rf->path, what);
    if (MPI_Allgatherv(rf->mine, bytes, MPI_BYTE, rf->updates, rf->counts, rf->displs, MPI_BYTE,
                       rf->comm) != MPI_SUCCESS)
        return ldm_error(LDM_ERUNTIME, "%s: %s: MPI_Allgatherv failed", rf->path, what);
    *total = (int)(sum / (long long)sizeof(rf_update));
    rf->serial++;
    for (int k = 0; k < *total; k++) {
        int64_t item = rf->updates[k].item;
        if (rf->mark[item] == rf->serial)
            return ldm_error(LDM_EINPUT, "%s: %s: item %lld given by two ranks", rf->path, what,
                             (long long)item);
        rf->mark[item] = rf->serial;
    }
    return LDM_OK;
}

static void apply_updates(ldm_runfile *rf, int total)
{
    for (int k = 0; k < total; k++) {
        const rf_update *u = &rf->updates[k];
        rf->progress_table[u->item] = u->progress;
        if (u->progress.state == LDM_RUNFILE_PARTIAL)
            rf->steps_written[2 * u->item + u->progress.slot] = u->progress.step;
        if (u->has_timings)
            rf->timings_table[u->item] = u->timings;
    }
}

/* One round's work: request k of this rank (k < 0: none) in size group g. */
typedef ldm_status (*round_fn)(ldm_runfile *rf, int32_t g, int k, void *ctx);

/* Every request struct starts with its item. */
static int64_t item_of(const void *reqs, size_t stride, int k)
{
    return *(const int64_t *)((const char *)reqs + (size_t)k * stride);
}

/* COLLECTIVE. Call fn group by group, as many times on every rank as the
 * busiest rank has requests in that group. `reqs` is an array of n request
 * structs of `stride` bytes. */
static ldm_status rounds(ldm_runfile *rf, const void *reqs, size_t stride, int n, round_fn fn,
                         void *ctx)
{
    ldm_status st = LDM_OK;
    int G = rf->n_groups, *local = rf->group_counts, *most = rf->group_counts + G;
    memset(local, 0, (size_t)G * sizeof *local);
    for (int k = 0; k < n; k++)
        local[rf->group_of[item_of(reqs, stride, k)]]++;
    if (MPI_Allreduce(local, most, G, MPI_INT, MPI_MAX, rf->comm) != MPI_SUCCESS)
        return ldm_error(LDM_ERUNTIME, "%s: MPI_Allreduce failed", rf->path);
    for (int32_t g = 0; g < G; g++) {
        int k = -1;
        for (int r = 0; r < most[g]; r++) {
            do
                k++;
            while (k < n && rf->group_of[item_of(reqs, stride, k)] != g);
            LDM_CHECK(fn(rf, g, k < n ? k : -1, ctx));
        }
    }
cleanup:
    return st;
}

/* COLLECTIVE. Write the progress records of everyone's updates (each rank
 * its own rows), flushing before and after: data first, then the record
 * that makes it count. */
static ldm_status commit(ldm_runfile *rf, int n, int with_timings)
{
    ldm_status st = LDM_OK;
    for (int k = 0; k < n; k++) {
        rf->coords[k] = (hsize_t)rf->mine[k].item;
        rf->rows[k] = rf->mine[k].progress;
        rf->trows[k] = rf->mine[k].timings;
    }
    if (with_timings)
        LDM_CHECK(rf_write_rows(rf, rf->timings, "/status/timings", n, rf->coords, rf->timings_mtype,
                                rf->trows));
    LDM_CHECK(rf_flush(rf));
    LDM_CHECK(rf_write_rows(rf, rf->progress, "/status/progress", n, rf->coords, rf->progress_mtype,
                            rf->rows));
    LDM_CHECK(rf_flush(rf));
cleanup:
    return st;
}

/* ---- checkpoints -------------------------------------------------------- */

static ldm_status checkpoint_round(ldm_runfile *rf, int32_t g, int k, void *ctx)
{
    ldm_status st = LDM_OK;
    const ldm_runfile_slot *s = k >= 0 ? &((const ldm_runfile_slot *)ctx)[k] : NULL;
    const rf_group *grp = &rf->groups[g];
    char name[96];
    hsize_t item = s ? (hsize_t)s->item : 0, row = s ? (hsize_t)rf->index_in_group[s->item] : 0;
    hsize_t slot = s ? (hsize_t)rf->mine[k].progress.slot : 0;
    hsize_t bytes = s ? (hsize_t)s->scheduler_state_bytes : 0;
    hsize_t ls[5] = { row, slot, 0, 0, 0 };
    hsize_t lc[5] = { 1, 1, (hsize_t)grp->latent[0], (hsize_t)grp->latent[1], (hsize_t)grp->latent[2] };
    hsize_t ss[3] = { row, slot, 0 }, sc[3] = { 1, 1, bytes };
    hsize_t rs[4] = { item, slot, 0, 0 };
    hsize_t rc[4] = { 1, 1, (hsize_t)rf->info.rng_streams, (hsize_t)rf->info.rng_words };
    hsize_t ps[2] = { item, slot }, pc[2] = { 1, 1 };
    snprintf(name, sizeof name, "/checkpoint/g%d/latents", (int)g);
    LDM_CHECK(rf_write_block(rf, grp->latents, name, 5, ls, lc, H5T_NATIVE_FLOAT, s ? s->latents : NULL));
    snprintf(name, sizeof name, "/checkpoint/g%d/scheduler_state", (int)g);
    LDM_CHECK(rf_write_block(rf, grp->sched, name, 3, ss, sc, H5T_NATIVE_UINT8,
                             bytes ? s->scheduler_state : NULL));
    LDM_CHECK(rf_write_block(rf, rf->rng, "/checkpoint/rng", 4, rs, rc, H5T_NATIVE_UINT32,
                             s ? s->rng : NULL));
    LDM_CHECK(rf_write_block(rf, rf->slot_step, "/checkpoint/slot_step", 2, ps, pc, H5T_NATIVE_INT32,
                             s ? &s->step : NULL));
cleanup:
    return st;
}

static ldm_status check_slot(ldm_runfile *rf, const ldm_runfile_slot *s, const char *what, int writing)
{
    ldm_status st = check_item(rf, s->item, what, 1);
    if (st != LDM_OK)
        return st;
    const ldm_runfile_item *it = &rf->items[s->item];
    const ldm_runfile_progress *p = &rf->progress_table[s->item];
    if (writing && p->state == LDM_RUNFILE_DONE)
        return ldm_error(LDM_EINPUT, "%s: %s: item %lld is already done", rf->path, what,
                         (long long)s->item);
    if (!writing && p->slot < 0)
        return ldm_error(LDM_EINPUT, "%s: %s: item %lld has no checkpoint", rf->path, what,
                         (long long)s->item);
    if (writing && (s->step < 1 || s->step > it->steps))
        return ldm_error(LDM_EINPUT, "%s: %s of item %lld: step %d is outside 1..%d", rf->path,
                         what, (long long)s->item, (int)s->step, (int)it->steps);
    st = check_count(rf, what, s->item, "latents", s->latents_count, latent_count(it), s->latents);
    if (st == LDM_OK)
        st = check_count(rf, what, s->item, "rng", s->rng_count,
                         (int64_t)rf->info.rng_streams * rf->info.rng_words, s->rng);
    if (st == LDM_OK)
        st = check_count(rf, what, s->item, "scheduler_state", s->scheduler_state_bytes,
                         it->scheduler_state_bytes, s->scheduler_state);
    return st;
}

ldm_status ldm_runfile_checkpoint_write(ldm_runfile *rf, const ldm_runfile_slot *slots, int n)
{
    static const char what[] = "checkpoint";
    ldm_status st = LDM_OK;
    int total = 0;
    rf_quiet q;
    rf_quiet_begin(&q);
    ldm_status local = begin(rf, n, slots, 1, 1, what);
    for (int k = 0; local == LDM_OK && k < n; k++) {
        local = check_slot(rf, &slots[k], what, 1);
        if (local != LDM_OK)
            break;
        /* The slot that is not active; the first checkpoint takes slot 0. */
        const ldm_runfile_progress *p = &rf->progress_table[slots[k].item];
        rf_update *u = &rf->mine[k];
        memset(u, 0, sizeof *u);
        u->item = slots[k].item;
        u->progress.state = LDM_RUNFILE_PARTIAL;
        u->progress.step = slots[k].step;
        u->progress.slot = p->slot == 0 ? 1 : 0;
    }
    LDM_CHECK(rf_agree(rf->comm, local));
    LDM_CHECK(rf_agree(rf->comm, gather_updates(rf, n, what, &total)));
    LDM_CHECK(rounds(rf, slots, sizeof *slots, n, checkpoint_round, (void *)slots));
    LDM_CHECK(commit(rf, n, 0));
    apply_updates(rf, total);
cleanup:
    rf_quiet_end(&q);
    return st;
}

static ldm_status checkpoint_read_round(ldm_runfile *rf, int32_t g, int k, void *ctx)
{
    ldm_status st = LDM_OK;
    ldm_runfile_slot *s = k >= 0 ? &((ldm_runfile_slot *)ctx)[k] : NULL;
    const rf_group *grp = &rf->groups[g];
    char name[96];
    hsize_t item = s ? (hsize_t)s->item : 0, row = s ? (hsize_t)rf->index_in_group[s->item] : 0;
    hsize_t slot = s ? (hsize_t)rf->progress_table[s->item].slot : 0;
    hsize_t bytes = s ? (hsize_t)s->scheduler_state_bytes : 0;
    hsize_t ls[5] = { row, slot, 0, 0, 0 };
    hsize_t lc[5] = { 1, 1, (hsize_t)grp->latent[0], (hsize_t)grp->latent[1], (hsize_t)grp->latent[2] };
    hsize_t ss[3] = { row, slot, 0 }, sc[3] = { 1, 1, bytes };
    hsize_t rs[4] = { item, slot, 0, 0 };
    hsize_t rc[4] = { 1, 1, (hsize_t)rf->info.rng_streams, (hsize_t)rf->info.rng_words };
    snprintf(name, sizeof name, "/checkpoint/g%d/latents", (int)g);
    LDM_CHECK(rf_read_block(rf, grp->latents, name, 5, ls, lc, H5T_NATIVE_FLOAT, s ? s->latents : NULL));
    snprintf(name, sizeof name, "/checkpoint/g%d/scheduler_state", (int)g);
    LDM_CHECK(rf_read_block(rf, grp->sched, name, 3, ss, sc, H5T_NATIVE_UINT8,
                            bytes ? s->scheduler_state : NULL));
    LDM_CHECK(rf_read_block(rf, rf->rng, "/checkpoint/rng", 4, rs, rc, H5T_NATIVE_UINT32,
                            s ? s->rng : NULL));
    if (s) /* the slot's own step: for a done item, its last checkpoint */
        s->step = rf->steps_written[2 * s->item + slot];
cleanup:
    return st;
}

ldm_status ldm_runfile_checkpoint_read(ldm_runfile *rf, ldm_runfile_slot *slots, int n)
{
    static const char what[] = "reading the checkpoint";
    ldm_status st = LDM_OK;
    rf_quiet q;
    rf_quiet_begin(&q);
    ldm_status local = begin(rf, n, slots, 0, 1, what);
    for (int k = 0; local == LDM_OK && k < n; k++) {
        local = check_slot(rf, &slots[k], what, 0);
    }
    LDM_CHECK(rf_agree(rf->comm, local));
    LDM_CHECK(rounds(rf, slots, sizeof *slots, n, checkpoint_read_round, slots));
cleanup:
    rf_quiet_end(&q);
    return st;
}

/* ---- trajectory --------------------------------------------------------- */

typedef struct frame_ctx {
    ldm_runfile_frame *frames;
    int write;
} frame_ctx;

static ldm_status frame_round(ldm_runfile *rf, int32_t g, int k, void *ctx)
{
    const frame_ctx *c = ctx;
    ldm_runfile_frame *f = k >= 0 ? &c->frames[k] : NULL;
    const rf_group *grp = &rf->groups[g];
    char name[64];
    hsize_t row = f ? (hsize_t)rf->index_in_group[f->item] : 0;
    hsize_t j = f ? (hsize_t)(f->step / rf->info.trajectory_every - 1) : 0;
    hsize_t start[5] = { row, j, 0, 0, 0 };
    hsize_t count[5] = { 1, 1, (hsize_t)grp->latent[0], (hsize_t)grp->latent[1], (hsize_t)grp->latent[2] };
    snprintf(name, sizeof name, "/trajectory/g%d", (int)g);
    if (c->write)
        return rf_write_block(rf, grp->traj, name, 5, start, count, H5T_NATIVE_FLOAT,
                              f ? f->latents : NULL);
    return rf_read_block(rf, grp->traj, name, 5, start, count, H5T_NATIVE_FLOAT, f ? f->latents : NULL);
}

static ldm_status check_frame(ldm_runfile *rf, const ldm_runfile_frame *f, int writing)
{
    const char *what = writing ? "trajectory" : "reading the trajectory";
    int K = rf->info.trajectory_every;
    if (K <= 0)
        return ldm_error(LDM_EINPUT, "%s: %s: the run file keeps no trajectory (made without "
                         "--trajectory)", rf->path, what);
    ldm_status st = check_item(rf, f->item, what, 0);
    if (st != LDM_OK)
        return st;
    const ldm_runfile_item *it = &rf->items[f->item];
    if (f->step < K || f->step % K != 0 || f->step > it->steps)
        return ldm_error(LDM_EINPUT, "%s: %s of item %lld: step %d is not a multiple of %d "
                         "in %d..%d", rf->path, what, (long long)f->item, (int)f->step, K, K,
                         (int)it->steps);
    const ldm_runfile_progress *p = &rf->progress_table[f->item];
    if (!writing && p->state != LDM_RUNFILE_DONE && f->step > p->step)
        return ldm_error(LDM_EINPUT, "%s: %s of item %lld: step %d is not committed yet (the "
                         "item's checkpoint is at step %d)", rf->path, what, (long long)f->item,
                         (int)f->step, (int)p->step);
    return check_count(rf, what, f->item, "latents", f->latents_count, latent_count(it), f->latents);
}

static ldm_status frames(ldm_runfile *rf, ldm_runfile_frame *fr, int n, int writing)
{
    ldm_status st = LDM_OK;
    rf_quiet q;
    rf_quiet_begin(&q);
    ldm_status local = begin(rf, n, fr, writing, 0, writing ? "trajectory" : "reading the trajectory");
    for (int k = 0; local == LDM_OK && k < n; k++) {
        local = check_frame(rf, &fr[k], writing);
    }
    LDM_CHECK(rf_agree(rf->comm, local));
    frame_ctx c = { fr, writing };
    LDM_CHECK(rounds(rf, fr, sizeof *fr, n, frame_round, &c));
cleanup:
    rf_quiet_end(&q);
    return st;
}

ldm_status ldm_runfile_trajectory_write(ldm_runfile *rf, const ldm_runfile_frame *fr, int n)
{
    return frames(rf, (ldm_runfile_frame *)fr, n, 1);
}

ldm_status ldm_runfile_trajectory_read(ldm_runfile *rf, ldm_runfile_frame *fr, int n)
{
    return frames(rf, fr, n, 0);
}

/* ---- images ------------------------------------------------------------- */

typedef struct image_ctx {
    ldm_runfile_image *images;
    int write;
} image_ctx;

static ldm_status image_round(ldm_runfile *rf, int32_t g, int k, void *ctx)
{
    const image_ctx *c = ctx;
    ldm_runfile_image *im = k >= 0 ? &c->images[k] : NULL;
    const rf_group *grp = &rf->groups[g];
    char name[64];
    hsize_t start[4] = { im ? (hsize_t)rf->index_in_group[im->item] : 0, 0, 0, 0 };
    hsize_t count[4] = { 1, (hsize_t)grp->height, (hsize_t)grp->width, 3 };
    snprintf(name, sizeof name, "/images/g%d", (int)g);
    if (c->write)
        return rf_write_block(rf, grp->image, name, 4, start, count, H5T_NATIVE_UINT8,
                              im ? im->rgb : NULL);
    if (im)
        im->timings = rf->timings_table[im->item];
    return rf_read_block(rf, grp->image, name, 4, start, count, H5T_NATIVE_UINT8, im ? im->rgb : NULL);
}

static ldm_status check_image(ldm_runfile *rf, const ldm_runfile_image *im, int writing)
{
    const char *what = writing ? "image" : "reading the image";
    ldm_status st = check_item(rf, im->item, what, 1);
    if (st != LDM_OK)
        return st;
    const ldm_runfile_item *it = &rf->items[im->item];
    int done = rf->progress_table[im->item].state == LDM_RUNFILE_DONE;
    if (writing && done)
        return ldm_error(LDM_EINPUT, "%s: %s: item %lld is already done", rf->path, what,
                         (long long)im->item);
    if (!writing && !done)
        return ldm_error(LDM_EINPUT, "%s: %s: item %lld is not done", rf->path, what,
                         (long long)im->item);
    return check_count(rf, what, im->item, "rgb", im->rgb_bytes,
                       (int64_t)it->height * it->width * 3, im->rgb);
}

ldm_status ldm_runfile_image_write(ldm_runfile *rf, const ldm_runfile_image *images, int n)
{
    static const char what[] = "image";
    ldm_status st = LDM_OK;
    int total = 0;
    rf_quiet q;
    rf_quiet_begin(&q);
    ldm_status local = begin(rf, n, images, 1, 1, what);
    for (int k = 0; local == LDM_OK && k < n; k++) {
        local = check_image(rf, &images[k], 1);
        if (local != LDM_OK)
            break;
        const ldm_runfile_progress *p = &rf->progress_table[images[k].item];
        rf_update *u = &rf->mine[k];
        memset(u, 0, sizeof *u);
        u->item = images[k].item;
        u->progress.state = LDM_RUNFILE_DONE;
        u->progress.step = rf->items[images[k].item].steps;
        u->progress.slot = p->slot; /* the last checkpoint stays readable */
        u->has_timings = 1;
        u->timings = images[k].timings;
    }
    LDM_CHECK(rf_agree(rf->comm, local));
    LDM_CHECK(rf_agree(rf->comm, gather_updates(rf, n, what, &total)));
    image_ctx c = { (ldm_runfile_image *)images, 1 };
    LDM_CHECK(rounds(rf, images, sizeof *images, n, image_round, &c));
    LDM_CHECK(commit(rf, n, 1));
    apply_updates(rf, total);
cleanup:
    rf_quiet_end(&q);
    return st;
}

ldm_status ldm_runfile_image_read(ldm_runfile *rf, ldm_runfile_image *images, int n)
{
    ldm_status st = LDM_OK;
    rf_quiet q;
    rf_quiet_begin(&q);
    ldm_status local = begin(rf, n, images, 0, 1, "reading the image");
    for (int k = 0; local == LDM_OK && k < n; k++) {
        local = check_image(rf, &images[k], 0);
    }
    LDM_CHECK(rf_agree(rf->comm, local));
    image_ctx c = { images, 0 };
    LDM_CHECK(rounds(rf, images, sizeof *images, n, image_round, &c));
cleanup:
    rf_quiet_end(&q);
    return st;
}
