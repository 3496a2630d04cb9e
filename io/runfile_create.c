/* runfile_create.c — ldm_runfile_create: check the request, reserve the
 * space, build the whole file (runfile_layout.c) under "<path>.creating",
 * rename it into place, open it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/file.h"
#include "runfile_impl.h"

/* ---- argument checks --------------------------------------------------- */

static ldm_status check_args(const char *path, const ldm_runfile_spec *spec,
                             const ldm_runfile_item *items, int64_t n)
{
    if (!path || !*path)
        return ldm_error(LDM_EINPUT, "run file: no path given");
    if (!spec || !spec->model || !items || n < 1)
        return ldm_error(LDM_EINPUT, "%s: a run file needs a spec, a model identity and "
                         "at least one item", path);
    if (spec->rng_streams < 1 || spec->rng_words < 1 || spec->trajectory_every < 0)
        return ldm_error(LDM_EINPUT, "%s: rng_streams and rng_words must be >= 1 and "
                         "trajectory_every >= 0", path);
    for (int64_t i = 0; i < n; i++) {
        const ldm_runfile_item *it = &items[i];
        const char *bad = NULL;
        if (!it->prompt)
            bad = "prompt is missing";
        else if (!it->scheduler)
            bad = "scheduler is missing";
        else if (it->steps < 1)
            bad = "steps must be >= 1";
        else if (it->height < 1 || it->width < 1)
            bad = "height and width must be >= 1";
        else if (it->latent_shape[0] < 1 || it->latent_shape[1] < 1 || it->latent_shape[2] < 1)
            bad = "latent_shape must be positive";
        else if (it->scheduler_state_bytes < 0)
            bad = "scheduler_state_bytes must be >= 0";
        if (bad)
            return ldm_error(LDM_EINPUT, "%s: item %lld: %s", path, (long long)i, bad);
    }
    return LDM_OK;
}

/* FNV-1a over everything that decides the file's contents: ranks must agree. */
static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < len; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    return fnv(h, s ? s : "", (s ? strlen(s) : 0) + 1);
}

static uint64_t spec_hash(const ldm_runfile_spec *spec, const ldm_runfile_item *items, int64_t n)
{
    uint64_t h = 14695981039346656037ull;
    h = fnv_str(h, spec->command_line);
    h = fnv_str(h, spec->model->digest);
    h = fnv(h, &spec->rng_streams, sizeof spec->rng_streams);
    h = fnv(h, &spec->rng_words, sizeof spec->rng_words);
    h = fnv(h, &spec->trajectory_every, sizeof spec->trajectory_every);
    for (int64_t i = 0; i < n; i++) {
        const ldm_runfile_item *it = &items[i];
        h = fnv_str(h, it->prompt);
        h = fnv_str(h, it->negative_prompt);
        h = fnv_str(h, it->scheduler);
        h = fnv(h, &it->seed, sizeof it->seed);
        h = fnv(h, &it->noise_seed, sizeof it->noise_seed);
        h = fnv(h, &it->guidance_scale, sizeof it->guidance_scale);
        h = fnv(h, &it->eta, sizeof it->eta);
        h = fnv(h, &it->steps, sizeof it->steps);
        h = fnv(h, &it->height, sizeof it->height);
        h = fnv(h, &it->width, sizeof it->width);
        h = fnv(h, it->latent_shape, sizeof it->latent_shape);
        h = fnv(h, &it->scheduler_state_bytes, sizeof it->scheduler_state_bytes);
    }
    return h;
}

static ldm_status check_same_on_all_ranks(MPI_Comm comm, const char *path, uint64_t h)
{
    uint64_t lo = 0, hi = 0;
    if (MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, comm) != MPI_SUCCESS ||
        MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, comm) != MPI_SUCCESS)
        return ldm_error(LDM_ERUNTIME, "%s: MPI_Allreduce failed", path);
    if (lo != hi)
        return ldm_error(LDM_EINPUT, "%s: the ranks passed different items or specs to "
                         "ldm_runfile_create", path);
    return LDM_OK;
}

/* Rank 0 looks at the path (one file-system query, not one per rank). */
static ldm_status check_path(const char *path, int force)
{
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return ldm_error(LDM_EINPUT, "%s is a directory, not a run file", path);
        if (!force)
            return ldm_error(LDM_EINPUT, "%s already exists; use --force to overwrite it", path);
        /* Not even with force under a running sweep (see rf_lock_probe). */
        int fd = open(path, O_RDONLY);
        if (fd >= 0) {
            ldm_status st = rf_lock_probe(path, fd, 0);
            close(fd);
            if (st != LDM_OK)
                return st;
        }
    }
    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        char dir[4096];
        size_t len = (size_t)(slash - path);
        if (len >= sizeof dir)
            return ldm_error(LDM_EINPUT, "%s: path too long", path);
        memcpy(dir, path, len);
        dir[len] = '\0';
        if (!ldm_is_dir(dir))
            return ldm_error(LDM_EINPUT, "%s: directory %s does not exist", path, dir);
    }
    return LDM_OK;
}

static int rank_of(MPI_Comm comm)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    return rank;
}

/* The file's size, over-estimated a little: the raw data of every dataset
 * (known exactly) plus room for HDF5's metadata (object headers, group
 * B-trees and heaps, attributes). */
static double estimate_bytes(const ldm_runfile *rf, const ldm_runfile_spec *spec,
                             const ldm_runfile_item *items, int64_t n)
{
    double N = (double)n, objects = 24;
    double bytes = N * (double)(rf_longest(items, n, offsetof(ldm_runfile_item, prompt)) +
                                rf_longest(items, n, offsetof(ldm_runfile_item, negative_prompt)) +
                                rf_longest(items, n, offsetof(ldm_runfile_item, scheduler)));
    bytes += N * (8 + 8 + 8 + 8 + 4 + 4 + 4 + 12 + 8 + 4 + 8); /* numeric /items */
    bytes += N * (12 + 48 + 8);                                  /* progress, timings, slot_step */
    bytes += LDM_RUNFILE_SLURM_ROWS * RF_SLURM_COLS * 8.0;       /* /status/slurm */
    objects += 1;
    bytes += N * 2 * spec->rng_streams * (double)spec->rng_words * 4;
    for (int32_t g = 0; g < rf->n_groups; g++) {
        const rf_group *grp = &rf->groups[g];
        double lat = (double)grp->latent[0] * grp->latent[1] * grp->latent[2] * 4;
        bytes += (double)grp->count * (2 * lat + 2 * (double)grp->sched_bytes +
                                       (double)grp->height * grp->width * 3);
        if (spec->trajectory_every > 0)
            bytes += (double)grp->count * grp->frames * lat;
        objects += 5;
    }
    bytes += 65536 + 4096 * objects;
    bytes += 2.0 * (strlen(spec->command_line ? spec->command_line : "") +
                    strlen(spec->model->manifest ? spec->model->manifest : ""));
    return bytes;
}

/* Rank 0 reserves the space before HDF5 writes anything: a file that does
 * not fit fails here, cleanly, instead of half-way through with HDF5's
 * metadata cache unable to flush. (HDF5 truncates the file again when it
 * creates it; the reservation is a check, not a guarantee against a
 * concurrent writer.) */
static ldm_status reserve(const char *path, const char *tmp, double bytes)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return ldm_error(LDM_ERUNTIME, "%s: cannot create %s: %s", path, tmp, strerror(errno));
    int err = posix_fallocate(fd, 0, (off_t)bytes);
    close(fd);
    unlink(tmp);
    if (err != 0)
        return ldm_error(LDM_ERUNTIME, "%s: cannot reserve %.1f MiB for the run file: %s", path,
                         bytes / 1048576.0, strerror(err));
    return LDM_OK;
}

ldm_status ldm_runfile_create(MPI_Comm comm, const char *path, const ldm_runfile_spec *spec,
                              const ldm_runfile_item *items, int64_t n, int force,
                              ldm_runfile **out)
{
    ldm_status st = LDM_OK;
    ldm_runfile *rf = NULL;
    char *tmp = NULL;
    int renamed = 0, quiet = 1;
    rf_quiet q;
    rf_quiet_begin(&q);
    rf_seam_from_env();
    *out = NULL;
    if (!path || !*path) {
        st = ldm_error(LDM_EINPUT, "run file: no path given");
        goto cleanup;
    }
    LDM_CHECK(rf_handle_new(comm, path, &rf));
    LDM_CHECK(rf_agree(rf->comm, check_args(path, spec, items, n)));
    LDM_CHECK(check_same_on_all_ranks(rf->comm, path, spec_hash(spec, items, n)));
    LDM_CHECK(rf_agree(rf->comm, rf->rank == 0 ? check_path(path, force) : LDM_OK));
    LDM_CHECK(rf_agree(rf->comm, ldm_alloc(strlen(path) + sizeof ".creating", "run file name",
                                           (void **)&tmp)));
    sprintf(tmp, "%s.creating", path);

    /* The items are borrowed while building (assign_groups reads them). */
    rf->items = (ldm_runfile_item *)items;
    rf->count = n;
    LDM_CHECK(rf_agree(rf->comm, rf_assign_groups(rf, spec->trajectory_every)));
    double estimate = estimate_bytes(rf, spec, items, n);
    st = rf_agree(rf->comm, rf->rank == 0 ? reserve(path, tmp, estimate) : LDM_OK);
    if (st == LDM_OK)
        st = rf_layout_build(rf, tmp, spec, items, n);
    rf->items = NULL;
    rf->count = 0;
    if (st == LDM_OK)
        st = ldm_runfile_close(&rf); /* checked: the final flush must succeed too */
    if (st != LDM_OK) {
        ldm_error_context("could not create the run file: ");
        goto cleanup;
    }
    /* Rename into place: <path> only ever names a complete file, and an old
     * one there (with --force) survives until this point. */
    ldm_status local = LDM_OK;
    if (rank_of(comm) == 0 && rename(tmp, path) != 0)
        local = ldm_error(LDM_ERUNTIME, "%s: cannot rename %s into place: %s", path, tmp,
                          strerror(errno));
    LDM_CHECK(rf_agree(comm, local));
    renamed = 1;
    rf_quiet_end(&q);
    quiet = 0;
    st = ldm_runfile_open(comm, path, 1, spec->model, out);
cleanup:
    if (rf) {
        /* After a full disk, closing must still flush HDF5's metadata: free
         * the space first (the file is going anyway), or the close fails
         * and leaves the file open inside HDF5. */
        if (tmp && rf->file >= 0) {
            if (rf->rank == 0 && truncate(tmp, 0) != 0)
                (void)0; /* nothing more to do: unlink follows */
            MPI_Barrier(rf->comm);
        }
        rf->items = NULL;
        rf->count = 0;
        rf_handle_free(rf);
    }
    if (tmp && !renamed) {
        /* Nothing half-made is left behind, as every rank sees on return. */
        if (rank_of(comm) == 0)
            unlink(tmp);
        MPI_Barrier(comm);
    }
    ldm_free(tmp);
    if (quiet) {
        H5Eclear2(H5E_DEFAULT);
        rf_quiet_end(&q);
    }
    return st;
}
