#include "sweep_run.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "mpi/agree.h"
#include "sample/rng.h"
#include "signals.h"

void ldm_sweep_request(const ldm_runfile_item *it, const char **prompt, ldm_txt2img_request *req)
{
    *prompt = it->prompt;
    *req = (ldm_txt2img_request){
        .prompts = prompt,
        .n_prompts = 1,
        .images_per_prompt = 1,
        .negative_prompt = it->negative_prompt && it->negative_prompt[0] ? it->negative_prompt : NULL,
        .steps = it->steps,
        .guidance_scale = it->guidance_scale,
        .eta = it->eta,
        .seed = it->seed,
        .noise_seed = it->noise_seed,
        /* The request size: latents are H/8 × W/8 (the image is what the VAE
         * makes of them, H × W only for the usual 8× autoencoder). */
        .height = it->latent_shape[1] * 8,
        .width = it->latent_shape[2] * 8,
        .scheduler = it->scheduler && it->scheduler[0] ? it->scheduler : NULL,
    };
}

ldm_status ldm_sweep_item_sizes(ldm_pipeline *p, ldm_runfile_item *it)
{
    const char *prompt;
    ldm_txt2img_request req;
    ldm_txt2img_run *run = NULL;
    ldm_sweep_request(it, &prompt, &req);
    ldm_status st = ldm_txt2img_begin(p, &req, &run);
    if (st != LDM_OK)
        return st;
    int64_t lat_n = 0;
    ldm_txt2img_latents(run, &lat_n);
    int64_t hw = (int64_t)it->latent_shape[1] * it->latent_shape[2];
    size_t blob = ldm_txt2img_state_bytes(run);
    size_t fixed = LDM_SWEEP_STATE_HEADER + 4 * (size_t)lat_n +
                   4 * (size_t)LDM_SWEEP_RNG_STREAMS * LDM_RNG_STATE_WORDS;
    if (hw <= 0 || lat_n % hw != 0 || blob < fixed)
        st = ldm_error(LDM_ERUNTIME, "sweep: unexpected checkpoint layout (%lld latents, %zu state bytes)",
                       (long long)lat_n, blob);
    it->latent_shape[0] = (int32_t)(hw > 0 ? lat_n / hw : 0);
    /* The blob's header travels with the scheduler history. */
    it->scheduler_state_bytes = (int64_t)(blob - fixed) + LDM_SWEEP_STATE_HEADER;
    ldm_txt2img_end(&run);
    return st;
}

/* One rank's current item. */
typedef struct worker {
    int64_t item;          /* -1: idle */
    ldm_txt2img_run *run;
    int saved_step;        /* step of its last committed checkpoint */
    int frame_step;        /* step of its last trajectory frame written */
    ldm_runfile_timings tm;
    double started;
    uint8_t *blob;         /* pipeline layout: [hdr | latents | rng | sched] */
    uint8_t *file;         /* run-file layout: [latents | rng | hdr | sched] */
    size_t blob_bytes;
    size_t lat_rng;        /* bytes of latents + rng */
    uint8_t *rgb;          /* [H, W, 3] */
} worker;

static void worker_clear(worker *w)
{
    ldm_txt2img_end(&w->run);
    ldm_free(w->blob);
    ldm_free(w->file);
    ldm_free(w->rgb);
    memset(w, 0, sizeof *w);
    w->item = -1;
}

/* The run file keeps latents and generators as arrays of their own, and the
 * blob's header with the scheduler history as the opaque part. */
static void blob_to_file(worker *w)
{
    memcpy(w->file, w->blob + LDM_SWEEP_STATE_HEADER, w->lat_rng);
    memcpy(w->file + w->lat_rng, w->blob, LDM_SWEEP_STATE_HEADER);
    memcpy(w->file + w->lat_rng + LDM_SWEEP_STATE_HEADER,
           w->blob + LDM_SWEEP_STATE_HEADER + w->lat_rng,
           w->blob_bytes - LDM_SWEEP_STATE_HEADER - w->lat_rng);
}

static void file_to_blob(worker *w)
{
    memcpy(w->blob + LDM_SWEEP_STATE_HEADER, w->file, w->lat_rng);
    memcpy(w->blob, w->file + w->lat_rng, LDM_SWEEP_STATE_HEADER);
    memcpy(w->blob + LDM_SWEEP_STATE_HEADER + w->lat_rng,
           w->file + w->lat_rng + LDM_SWEEP_STATE_HEADER,
           w->blob_bytes - LDM_SWEEP_STATE_HEADER - w->lat_rng);
}

static void slot_view(const ldm_runfile *rf, worker *w, ldm_runfile_slot *s)
{
    const ldm_runfile_item *it = ldm_runfile_get_item(rf, w->item);
    int64_t lat_n = (int64_t)it->latent_shape[0] * it->latent_shape[1] * it->latent_shape[2];
    *s = (ldm_runfile_slot){
        .item = w->item,
        .step = ldm_txt2img_steps_done(w->run),
        .latents = (float *)(void *)w->file,
        .latents_count = lat_n,
        .rng = (uint32_t *)(void *)(w->file + 4 * lat_n),
        .rng_count = (int64_t)LDM_SWEEP_RNG_STREAMS * LDM_RNG_STATE_WORDS,
        .scheduler_state = w->file + w->lat_rng,
        .scheduler_state_bytes = it->scheduler_state_bytes,
    };
}

/* This rank's place in the layout (rl NULL: a group of one). */
typedef struct place {
    int per_group, group, leader;
    const ldm_txt2img_parallel *parallel; /* NULL: one process */
    ldm_txt2img_parallel no_cfg;          /* the layout's, without the CFG split */
} place;

static ldm_status begin_item(ldm_pipeline *p, const ldm_runfile *rf, const place *pl, worker *w,
                             int64_t item)
{
    const ldm_runfile_item *it = ldm_runfile_get_item(rf, item);
    const char *prompt;
    ldm_txt2img_request req;
    ldm_sweep_request(it, &prompt, &req);
    /* An item without guidance has no branches: both run it whole. */
    req.parallel = pl->parallel && it->guidance_scale == 1.0 ? &pl->no_cfg : pl->parallel;
    w->item = item;
    w->started = MPI_Wtime();
    ldm_status st = ldm_txt2img_begin(p, &req, &w->run);
    if (st != LDM_OK)
        return st;
    w->tm.text_encoder = MPI_Wtime() - w->started;
    int64_t lat_n = (int64_t)it->latent_shape[0] * it->latent_shape[1] * it->latent_shape[2];
    w->blob_bytes = ldm_txt2img_state_bytes(w->run);
    w->lat_rng = 4 * (size_t)lat_n + 4 * (size_t)LDM_SWEEP_RNG_STREAMS * LDM_RNG_STATE_WORDS;
    if (w->blob_bytes != w->lat_rng + (size_t)it->scheduler_state_bytes)
        return ldm_error(LDM_EINPUT, "run file item %lld: checkpoint of %zu bytes, this build needs %zu",
                         (long long)item, w->lat_rng + (size_t)it->scheduler_state_bytes, w->blob_bytes);
    LDM_CHECK(ldm_alloc(w->blob_bytes, "checkpoint state", (void **)&w->blob));
    LDM_CHECK(ldm_alloc(w->blob_bytes, "checkpoint state", (void **)&w->file));
    LDM_CHECK(ldm_alloc((size_t)it->height * it->width * 3, "image", (void **)&w->rgb));
cleanup:
    return st;
}

/* The ranks' idle flags → this rank's group's next item (-1: none);
 * *active: groups holding an item after the hand-out (a group's flag is its
 * leader's, the first of its ranks). Identical on every rank. */
static int64_t hand_out(const int *idle, int size, const place *pl, const int64_t *queue,
                        int64_t nq, int64_t *next, int *active)
{
    int64_t mine = -1;
    *active = 0;
    for (int r = 0; r < size; r += pl->per_group) {
        if (!idle[r]) {
            (*active)++;
        } else if (*next < nq) {
            if (r / pl->per_group == pl->group)
                mine = queue[*next];
            (*next)++;
            (*active)++;
        }
    }
    return mine;
}

static void log_item(const ldm_runfile *rf, const worker *w, int rank)
{
    const ldm_runfile_item *it = ldm_runfile_get_item(rf, w->item);
    fprintf(stderr, "item %lld done (rank %d, %.2f s): seed %llu, guidance %g, %d steps, \"%s\"\n",
            (long long)w->item, rank, w->tm.total, (unsigned long long)it->seed,
            it->guidance_scale, it->steps, it->prompt);
}

/* Take the next item if idle; restore it from its checkpoint if partial. */
static ldm_status take_items(MPI_Comm comm, ldm_runfile *rf, ldm_pipeline *p, const place *pl,
                             worker *w, const int64_t *queue, int64_t nq, int64_t *next,
                             int *active)
{
    int rank, size, mine_idle = w->item < 0;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int idle[size];
    int64_t first = *next;
    MPI_Allgather(&mine_idle, 1, MPI_INT, idle, 1, MPI_INT, comm);
    int64_t got = hand_out(idle, size, pl, queue, nq, next, active);
    ldm_status st = LDM_OK;
    if (got >= 0)
        st = begin_item(p, rf, pl, w, got);
    LDM_CHECK(ldm_mpi_agree(comm, st));
    /* Any partial item handed out this round? Known on every rank. */
    int any_partial = 0, mine_partial = 0;
    for (int64_t k = first; k < *next; k++)
        any_partial |= ldm_runfile_get_progress(rf, queue[k])->state == LDM_RUNFILE_PARTIAL;
    mine_partial = got >= 0 && ldm_runfile_get_progress(rf, got)->state == LDM_RUNFILE_PARTIAL;
    if (!any_partial)
        return LDM_OK;
    ldm_runfile_slot slot = { 0 };
    if (mine_partial)
        slot_view(rf, w, &slot);
    LDM_CHECK(ldm_runfile_checkpoint_read(rf, &slot, mine_partial));
    if (mine_partial) {
        file_to_blob(w);
        st = ldm_txt2img_state_restore(w->run, w->blob, w->blob_bytes);
        if (st == LDM_OK && ldm_txt2img_steps_done(w->run) != slot.step)
            st = ldm_error(LDM_EINPUT, "run file item %lld: checkpoint says step %d, state step %d",
                           (long long)got, slot.step, ldm_txt2img_steps_done(w->run));
        w->saved_step = slot.step;
    }
    st = ldm_mpi_agree(comm, st);
cleanup:
    return st;
}

static ldm_status step_and_finish(worker *w, int *finished)
{
    ldm_status st = LDM_OK;
    *finished = 0;
    if (w->item < 0)
        return LDM_OK;
    if (ldm_txt2img_steps_done(w->run) < ldm_txt2img_steps_total(w->run)) {
        double t = MPI_Wtime();
        st = ldm_txt2img_step(w->run);
        w->tm.unet += MPI_Wtime() - t;
    }
    if (st == LDM_OK && ldm_txt2img_steps_done(w->run) == ldm_txt2img_steps_total(w->run)) {
        double t = MPI_Wtime();
        ldm_txt2img_output out = { .images = w->rgb };
        st = ldm_txt2img_finish(w->run, &out);
        w->tm.decoder = MPI_Wtime() - t;
        *finished = 1;
    }
    return st;
}

ldm_status ldm_sweep_execute(MPI_Comm comm, ldm_runfile *rf, ldm_pipeline *p,
                             const ldm_run_layout *rl, int every, int log)
{
    const ldm_runfile_info *info = ldm_runfile_get_info(rf);
    int64_t *queue = NULL, nq = 0, next = 0;
    worker w = { .item = -1 };
    int rank;
    MPI_Comm_rank(comm, &rank);
    place pl = { .per_group = 1, .group = rank, .leader = 1 };
    if (rl) {
        const ldm_grid_layout *l = &rl->grid->layout;
        pl = (place){ .per_group = l->cfg * l->pc * l->ps, .group = rl->grid->group,
                      .leader = rl->leader, .parallel = &rl->parallel,
                      .no_cfg = rl->parallel };
        pl.no_cfg.cfg = MPI_COMM_NULL;
    }
    /* Inside a Slurm job: which job (array task, restart) ran the file. */
    ldm_status st = ldm_runfile_record_slurm(rf);
    if (st != LDM_OK)
        return st;
    st = ldm_alloc(sizeof(int64_t) * (size_t)(info->count ? info->count : 1), "queue",
                   (void **)&queue);
    LDM_CHECK(ldm_mpi_agree(comm, st));
    for (int64_t i = 0; i < info->count; i++)
        if (ldm_runfile_get_progress(rf, i)->state != LDM_RUNFILE_DONE)
            queue[nq++] = i;
    for (;;) {
        int active = 0, finished = 0;
        LDM_CHECK(take_items(comm, rf, p, &pl, &w, queue, nq, &next, &active));
        if (active == 0)
            break;
        ldm_status local = step_and_finish(&w, &finished);
        /* [0] worst status, [1] a stop signal anywhere. */
        int flags[2] = { (int)local, ldm_signals_pending() != 0 }, all[2];
        MPI_Allreduce(flags, all, 2, MPI_INT, MPI_MAX, comm);
        LDM_CHECK(ldm_mpi_agree(comm, local));
        int done = w.item >= 0 ? ldm_txt2img_steps_done(w.run) : 0;
        /* PNDM runs more scheduler steps than num_inference_steps (its
         * warm-up), while the run file numbers checkpoints and frames
         * 1..steps: the extra last steps are not checkpointed (the image
         * follows at once; a stop there resumes from the last checkpoint). */
        int in_file = w.item >= 0 && done <= ldm_runfile_get_item(rf, w.item)->steps;
        int want_ckpt = in_file && !finished && done > w.saved_step &&
                        (all[1] || (every > 0 && done % every == 0));
        int want[2] = { want_ckpt, finished }, any[2];
        MPI_Allreduce(want, any, 2, MPI_INT, MPI_MAX, comm);
        if (any[0]) {
            ldm_runfile_slot slot = { 0 };
            double t = MPI_Wtime();
            st = LDM_OK;
            if (want_ckpt) {
                st = ldm_txt2img_state_save(w.run, w.blob, w.blob_bytes);
                blob_to_file(&w);
                slot_view(rf, &w, &slot);
            }
            LDM_CHECK(ldm_mpi_agree(comm, st));
            LDM_CHECK(ldm_runfile_checkpoint_write(rf, &slot, want_ckpt && pl.leader));
            if (want_ckpt) {
                w.saved_step = done;
                w.tm.checkpoint += MPI_Wtime() - t;
            }
        }
        /* Trajectory: the latents after every K-th step (K from the file, so
         * a resumed run keeps the sweep's K). Collective like checkpoints. */
        int k = info->trajectory_every;
        int want_frame = k > 0 && in_file && done > 0 && done % k == 0 && done != w.frame_step;
        int any_frame = 0;
        MPI_Allreduce(&want_frame, &any_frame, 1, MPI_INT, MPI_MAX, comm);
        if (any_frame) {
            ldm_runfile_frame frame = { 0 };
            if (want_frame) {
                int64_t count = 0;
                const float *lat = ldm_txt2img_latents(w.run, &count);
                frame = (ldm_runfile_frame){ .item = w.item, .step = done,
                                             .latents = (float *)lat, .latents_count = count };
            }
            LDM_CHECK(ldm_runfile_trajectory_write(rf, &frame, want_frame && pl.leader));
            if (want_frame)
                w.frame_step = done;
        }
        if (any[1]) {
            ldm_runfile_image img = { 0 };
            if (finished) {
                const ldm_runfile_item *it = ldm_runfile_get_item(rf, w.item);
                w.tm.total = MPI_Wtime() - w.started;
                img = (ldm_runfile_image){ .item = w.item, .rgb = w.rgb,
                                           .rgb_bytes = (int64_t)it->height * it->width * 3,
                                           .timings = w.tm };
            }
            LDM_CHECK(ldm_runfile_image_write(rf, &img, finished && pl.leader));
            if (finished) {
                if (log && pl.leader)
                    log_item(rf, &w, rank);
                worker_clear(&w);
            }
        }
        if (all[1]) {
            st = ldm_error(LDM_EINTERRUPTED, "stopped by a signal; checkpoint written, continue with ldm resume %s",
                           info->path);
            goto cleanup;
        }
    }
cleanup:
    worker_clear(&w);
    ldm_free(queue);
    return st;
}
