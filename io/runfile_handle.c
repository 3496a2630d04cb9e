/* runfile_handle.c — the ldm_runfile handle: allocation, size groups,
 * dataset handles, accessors and close. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "runfile_impl.h"

ldm_status rf_handle_new(MPI_Comm comm, const char *path, ldm_runfile **out)
{
    ldm_status st = LDM_OK;
    ldm_runfile *rf = NULL;
    *out = NULL;
    LDM_CHECK(ldm_calloc(sizeof *rf, "run file handle", (void **)&rf));
    rf->comm = MPI_COMM_NULL;
    rf->lock_fd = -1;
    rf->file = rf->dxpl = rf->progress = rf->timings = rf->rng = rf->slot_step = -1;
    rf->progress_mtype = rf->timings_mtype = -1;
    LDM_CHECK(ldm_strdup(path, &rf->path));
    if (MPI_Comm_dup(comm, &rf->comm) != MPI_SUCCESS) {
        rf->comm = MPI_COMM_NULL;
        st = ldm_error(LDM_ERUNTIME, "%s: MPI_Comm_dup failed", path);
        goto cleanup;
    }
    MPI_Comm_set_errhandler(rf->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(rf->comm, &rf->rank);
    MPI_Comm_size(rf->comm, &rf->size);
    /* Every transfer is collective: ranks with nothing to move still join. */
    rf->dxpl = H5Pcreate(H5P_DATASET_XFER);
    rf->progress_mtype = rf_progress_type(0);
    rf->timings_mtype = rf_timings_type(0);
    if (rf->dxpl < 0 || H5Pset_dxpl_mpio(rf->dxpl, H5FD_MPIO_COLLECTIVE) < 0 ||
        rf->progress_mtype < 0 || rf->timings_mtype < 0) {
        st = rf_h5_error(path, "setting up HDF5 transfer properties");
        goto cleanup;
    }
    *out = rf;
    rf = NULL;
cleanup:
    rf_handle_free(rf);
    return st;
}

static void close_id(hid_t *id, herr_t (*fn)(hid_t))
{
    if (*id >= 0)
        fn(*id);
    *id = -1;
}

/* Dataset handles only (the file stays open). */
static void close_datasets(ldm_runfile *rf)
{
    close_id(&rf->progress, H5Dclose);
    close_id(&rf->timings, H5Dclose);
    close_id(&rf->rng, H5Dclose);
    close_id(&rf->slot_step, H5Dclose);
    for (int g = 0; rf->groups && g < rf->n_groups; g++) {
        close_id(&rf->groups[g].latents, H5Dclose);
        close_id(&rf->groups[g].sched, H5Dclose);
        close_id(&rf->groups[g].image, H5Dclose);
        close_id(&rf->groups[g].traj, H5Dclose);
    }
}

void rf_handle_free(ldm_runfile *rf)
{
    if (!rf)
        return;
    close_datasets(rf);
    close_id(&rf->file, H5Fclose);
    close_id(&rf->dxpl, H5Pclose);
    close_id(&rf->progress_mtype, H5Tclose);
    close_id(&rf->timings_mtype, H5Tclose);
    for (int64_t i = 0; rf->items && i < rf->count; i++) {
        ldm_free((void *)rf->items[i].prompt);
        ldm_free((void *)rf->items[i].negative_prompt);
        ldm_free((void *)rf->items[i].scheduler);
    }
    ldm_free(rf->items);
    ldm_free(rf->group_of);
    ldm_free(rf->index_in_group);
    ldm_free(rf->groups);
    ldm_free(rf->progress_table);
    ldm_free(rf->timings_table);
    ldm_free(rf->steps_written);
    for (size_t i = 0; i < sizeof rf->attr_strings / sizeof rf->attr_strings[0]; i++)
        ldm_free(rf->attr_strings[i]);
    ldm_free(rf->coords);
    ldm_free(rf->mine);
    ldm_free(rf->updates);
    ldm_free(rf->rows);
    ldm_free(rf->trows);
    ldm_free(rf->mark);
    ldm_free(rf->counts);
    ldm_free(rf->displs);
    ldm_free(rf->group_counts);
    if (rf->lock_fd >= 0)
        close(rf->lock_fd); /* releases the lock */
    if (rf->comm != MPI_COMM_NULL)
        MPI_Comm_free(&rf->comm);
    ldm_free(rf->path);
    ldm_free(rf);
}

ldm_status rf_handle_alloc_tables(ldm_runfile *rf)
{
    ldm_status st = LDM_OK;
    size_t n = (size_t)rf->count;
    LDM_CHECK(ldm_calloc(n * sizeof *rf->progress_table, "run file progress", (void **)&rf->progress_table));
    LDM_CHECK(ldm_calloc(n * sizeof *rf->timings_table, "run file timings", (void **)&rf->timings_table));
    LDM_CHECK(ldm_calloc(n * 2 * sizeof *rf->steps_written, "run file slot steps", (void **)&rf->steps_written));
    LDM_CHECK(ldm_calloc(n * sizeof *rf->coords, "run file scratch", (void **)&rf->coords));
    LDM_CHECK(ldm_calloc(n * sizeof *rf->mine, "run file scratch", (void **)&rf->mine));
    LDM_CHECK(ldm_calloc(n * sizeof *rf->updates, "run file scratch", (void **)&rf->updates));
    LDM_CHECK(ldm_calloc(n * sizeof *rf->rows, "run file scratch", (void **)&rf->rows));
    LDM_CHECK(ldm_calloc(n * sizeof *rf->trows, "run file scratch", (void **)&rf->trows));
    LDM_CHECK(ldm_calloc(n * sizeof *rf->mark, "run file scratch", (void **)&rf->mark));
    LDM_CHECK(ldm_calloc((size_t)rf->size * sizeof *rf->counts, "run file scratch", (void **)&rf->counts));
    LDM_CHECK(ldm_calloc((size_t)rf->size * sizeof *rf->displs, "run file scratch", (void **)&rf->displs));
    LDM_CHECK(ldm_calloc((size_t)rf->n_groups * 2 * sizeof *rf->group_counts, "run file scratch",
                         (void **)&rf->group_counts));
    for (size_t i = 0; i < n; i++)
        rf->mark[i] = -1;
cleanup:
    return st;
}

static int same_shape(const rf_group *g, const ldm_runfile_item *it)
{
    return g->latent[0] == it->latent_shape[0] && g->latent[1] == it->latent_shape[1] &&
           g->latent[2] == it->latent_shape[2] && g->height == it->height &&
           g->width == it->width;
}

/* Items of equal (latent shape, image size) share datasets, in order of
 * first appearance: a sweep of one size has exactly one group. */
ldm_status rf_assign_groups(ldm_runfile *rf, int32_t trajectory_every)
{
    ldm_status st = LDM_OK;
    size_t n = (size_t)rf->count;
    LDM_CHECK(ldm_calloc(n * sizeof *rf->group_of, "run file groups", (void **)&rf->group_of));
    LDM_CHECK(ldm_calloc(n * sizeof *rf->index_in_group, "run file groups", (void **)&rf->index_in_group));
    LDM_CHECK(ldm_calloc(n * sizeof *rf->groups, "run file groups", (void **)&rf->groups));
    rf->n_groups = 0;
    for (int64_t i = 0; i < rf->count; i++) {
        const ldm_runfile_item *it = &rf->items[i];
        int32_t g = 0;
        while (g < rf->n_groups && !same_shape(&rf->groups[g], it))
            g++;
        rf_group *grp = &rf->groups[g];
        if (g == rf->n_groups) {
            rf->n_groups++;
            memcpy(grp->latent, it->latent_shape, sizeof grp->latent);
            grp->height = it->height;
            grp->width = it->width;
            grp->sched_bytes = 1;
            grp->frames = 1;
            grp->latents = grp->sched = grp->image = grp->traj = -1;
        }
        rf->group_of[i] = g;
        rf->index_in_group[i] = grp->count++;
        if (it->scheduler_state_bytes > grp->sched_bytes)
            grp->sched_bytes = it->scheduler_state_bytes;
        if (trajectory_every > 0 && it->steps / trajectory_every > grp->frames)
            grp->frames = it->steps / trajectory_every;
    }
cleanup:
    return st;
}

static ldm_status open_dataset(ldm_runfile *rf, const char *name, hid_t *out)
{
    *out = H5Dopen2(rf->file, name, H5P_DEFAULT);
    if (*out < 0) {
        H5Eclear2(H5E_DEFAULT);
        return ldm_error(LDM_EINPUT, "%s: not an ldm run file: dataset %s is missing", rf->path, name);
    }
    return LDM_OK;
}

/* The dataset's dims must be exactly `want` (rank `ndims`). */
static ldm_status check_dims(ldm_runfile *rf, hid_t dset, const char *name, int ndims,
                             const hsize_t *want)
{
    hsize_t dims[8] = { 0 };
    hid_t space = H5Dget_space(dset);
    int got = space >= 0 ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
    if (space >= 0)
        H5Sclose(space);
    int ok = got == ndims;
    for (int d = 0; ok && d < ndims; d++)
        ok = dims[d] == want[d];
    if (!ok)
        return ldm_error(LDM_EINPUT, "%s: damaged ldm run file: dataset %s does not have the "
                         "shape its items imply", rf->path, name);
    return LDM_OK;
}

ldm_status rf_handle_open_datasets(ldm_runfile *rf)
{
    ldm_status st = LDM_OK;
    char name[96];
    hsize_t n = (hsize_t)rf->count;
    hsize_t rng_dims[4] = { n, 2, (hsize_t)rf->info.rng_streams, (hsize_t)rf->info.rng_words };
    hsize_t two[2] = { n, 2 };
    LDM_CHECK(open_dataset(rf, "/status/progress", &rf->progress));
    LDM_CHECK(check_dims(rf, rf->progress, "/status/progress", 1, &n));
    LDM_CHECK(open_dataset(rf, "/status/timings", &rf->timings));
    LDM_CHECK(check_dims(rf, rf->timings, "/status/timings", 1, &n));
    LDM_CHECK(open_dataset(rf, "/checkpoint/rng", &rf->rng));
    LDM_CHECK(check_dims(rf, rf->rng, "/checkpoint/rng", 4, rng_dims));
    LDM_CHECK(open_dataset(rf, "/checkpoint/slot_step", &rf->slot_step));
    LDM_CHECK(check_dims(rf, rf->slot_step, "/checkpoint/slot_step", 2, two));
    for (int32_t g = 0; g < rf->n_groups; g++) {
        rf_group *grp = &rf->groups[g];
        hsize_t cnt = (hsize_t)grp->count, C = (hsize_t)grp->latent[0];
        hsize_t h = (hsize_t)grp->latent[1], w = (hsize_t)grp->latent[2];
        hsize_t lat[5] = { cnt, 2, C, h, w };
        hsize_t sch[3] = { cnt, 2, (hsize_t)grp->sched_bytes };
        hsize_t img[4] = { cnt, (hsize_t)grp->height, (hsize_t)grp->width, 3 };
        hsize_t trj[5] = { cnt, (hsize_t)grp->frames, C, h, w };
        snprintf(name, sizeof name, "/checkpoint/g%d/latents", (int)g);
        LDM_CHECK(open_dataset(rf, name, &grp->latents));
        LDM_CHECK(check_dims(rf, grp->latents, name, 5, lat));
        snprintf(name, sizeof name, "/checkpoint/g%d/scheduler_state", (int)g);
        LDM_CHECK(open_dataset(rf, name, &grp->sched));
        LDM_CHECK(check_dims(rf, grp->sched, name, 3, sch));
        snprintf(name, sizeof name, "/images/g%d", (int)g);
        LDM_CHECK(open_dataset(rf, name, &grp->image));
        LDM_CHECK(check_dims(rf, grp->image, name, 4, img));
        if (rf->info.trajectory_every > 0) {
            snprintf(name, sizeof name, "/trajectory/g%d", (int)g);
            LDM_CHECK(open_dataset(rf, name, &grp->traj));
            LDM_CHECK(check_dims(rf, grp->traj, name, 5, trj));
        }
    }
cleanup:
    return st;
}

ldm_status ldm_runfile_close(ldm_runfile **rfp)
{
    if (!rfp || !*rfp)
        return LDM_OK;
    ldm_runfile *rf = *rfp;
    *rfp = NULL;
    rf_quiet q;
    rf_quiet_begin(&q);
    ldm_status local = LDM_OK;
    close_datasets(rf);
    if (rf->file >= 0 && H5Fclose(rf->file) < 0)
        local = rf_h5_error(rf->path, "closing");
    rf->file = -1;
    ldm_status st = rf_agree(rf->comm, local);
    rf_handle_free(rf);
    rf_quiet_end(&q);
    return st;
}

const ldm_runfile_info *ldm_runfile_get_info(const ldm_runfile *rf)
{
    return rf ? &rf->info : NULL;
}

const ldm_runfile_item *ldm_runfile_get_item(const ldm_runfile *rf, int64_t i)
{
    return rf && i >= 0 && i < rf->count ? &rf->items[i] : NULL;
}

const ldm_runfile_progress *ldm_runfile_get_progress(const ldm_runfile *rf, int64_t i)
{
    return rf && i >= 0 && i < rf->count ? &rf->progress_table[i] : NULL;
}

const ldm_runfile_timings *ldm_runfile_get_timings(const ldm_runfile *rf, int64_t i)
{
    return rf && i >= 0 && i < rf->count ? &rf->timings_table[i] : NULL;
}
