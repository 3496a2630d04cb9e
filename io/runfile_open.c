/* runfile_open.c — ldm_runfile_open: recognise our file, check the model,
 * read the item table and progress, open every dataset. */
#define _GNU_SOURCE /* F_OFD_SETLK */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "runfile_impl.h"

/* Rank 0 looks at the path before HDF5 does, for clear messages. */
static ldm_status check_path(const char *path, int writable)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ldm_error(LDM_EINPUT, "%s: cannot open run file: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return ldm_error(LDM_EINPUT, "%s: not an ldm run file (not a regular file)", path);
    if (access(path, writable ? R_OK | W_OK : R_OK) != 0)
        return ldm_error(LDM_EINPUT, "%s: cannot open run file for %s: %s", path,
                         writable ? "writing" : "reading", strerror(errno));
    htri_t is = H5Fis_hdf5(path);
    H5Eclear2(H5E_DEFAULT);
    if (is <= 0)
        return ldm_error(LDM_EINPUT, "%s: not an ldm run file (not an HDF5 file)", path);
    return LDM_OK;
}

/* One writer at a time: rank 0 holds a write lock while a writable handle
 * is open (a second `ldm resume`, or a requeued job that overlaps the old
 * one, is refused). It is an open-file-description lock (F_OFD_SETLK: held
 * per descriptor, not lost when HDF5 or MPI-IO close theirs) on one byte far
 * past the data, so it stops no reader: h5py and h5dump take flock() locks,
 * which are separate. File systems without such locks are not checked. */
ldm_status rf_lock_probe(const char *path, int fd, int take)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = RF_LOCK_OFFSET;
    fl.l_len = 1;
    if (fcntl(fd, take ? F_OFD_SETLK : F_OFD_GETLK, &fl) != 0) {
        int err = errno;
        if (err == EAGAIN || err == EACCES)
            return ldm_error(LDM_EINPUT, "%s is being written by another ldm process", path);
        if (err == ENOLCK || err == EOPNOTSUPP || err == ENOSYS || err == EINVAL)
            return LDM_OK; /* no locks here: nothing to check */
        return ldm_error(LDM_ERUNTIME, "%s: cannot lock the run file: %s", path, strerror(err));
    }
    if (!take && fl.l_type != F_UNLCK)
        return ldm_error(LDM_EINPUT, "%s is being written by another ldm process", path);
    return LDM_OK;
}

static ldm_status lock_file(ldm_runfile *rf)
{
    rf->lock_fd = open(rf->path, O_RDWR);
    if (rf->lock_fd < 0)
        return ldm_error(LDM_EINPUT, "%s: cannot open run file for writing: %s", rf->path,
                         strerror(errno));
    return rf_lock_probe(rf->path, rf->lock_fd, 1);
}

/* A root attribute that must be a string (variable-length as we write it;
 * fixed-length accepted); *out from ldm_alloc. Absent and `optional`: "". */
static ldm_status attr_string(ldm_runfile *rf, const char *name, int optional, char **out)
{
    ldm_status st = LDM_OK;
    hid_t a = -1, t = -1, mt = -1, space = -1;
    char *vl = NULL;
    *out = NULL;
    htri_t has = H5Aexists(rf->file, name);
    if (has <= 0) {
        H5Eclear2(H5E_DEFAULT);
        if (optional)
            return ldm_strdup("", out);
        return ldm_error(LDM_EINPUT, "%s: not an ldm run file (no \"%s\" attribute)", rf->path, name);
    }
    a = H5Aopen(rf->file, name, H5P_DEFAULT);
    t = a >= 0 ? H5Aget_type(a) : -1;
    space = a >= 0 ? H5Aget_space(a) : -1;
    if (t < 0 || space < 0 || H5Tget_class(t) != H5T_STRING ||
        H5Sget_simple_extent_npoints(space) != 1) {
        st = ldm_error(LDM_EINPUT, "%s: not an ldm run file (attribute \"%s\" is not a string)",
                       rf->path, name);
        goto cleanup;
    }
    char what[128];
    snprintf(what, sizeof what, "reading attribute %s", name);
    if (H5Tis_variable_str(t) > 0) {
        mt = H5Tcopy(H5T_C_S1);
        if (mt < 0 || H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Tset_cset(mt, H5Tget_cset(t)) < 0 ||
            H5Aread(a, mt, &vl) < 0) {
            st = rf_h5_error(rf->path, what);
            goto cleanup;
        }
        LDM_CHECK(ldm_strdup(vl ? vl : "", out));
    } else {
        size_t len = H5Tget_size(t);
        LDM_CHECK(ldm_calloc(len + 1, "run file attribute", (void **)out));
        mt = H5Tcopy(t);
        if (mt < 0 || H5Aread(a, mt, *out) < 0) {
            st = rf_h5_error(rf->path, what);
            goto cleanup;
        }
    }
cleanup:
    H5Eclear2(H5E_DEFAULT);
    if (vl)
        H5free_memory(vl);
    if (st != LDM_OK) {
        ldm_free(*out);
        *out = NULL;
    }
    if (mt >= 0)
        H5Tclose(mt);
    if (space >= 0)
        H5Sclose(space);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return st;
}

static ldm_status attr_int(ldm_runfile *rf, const char *name, hid_t mtype, void *out)
{
    hid_t a = -1;
    htri_t has = H5Aexists(rf->file, name);
    if (has > 0)
        a = H5Aopen(rf->file, name, H5P_DEFAULT);
    ldm_status st = LDM_OK;
    if (a < 0 || H5Aread(a, mtype, out) < 0)
        st = ldm_error(LDM_EINPUT, "%s: not an ldm run file (no integer \"%s\" attribute)",
                       rf->path, name);
    if (a >= 0)
        H5Aclose(a);
    H5Eclear2(H5E_DEFAULT);
    return st;
}

/* The format attributes first: they say whether this is our file at all. */
static ldm_status read_attributes(ldm_runfile *rf, const ldm_model_identity *expect)
{
    ldm_status st = LDM_OK;
    char **s = rf->attr_strings;
    int32_t version = 0;
    LDM_CHECK(attr_string(rf, "ldm_format", 0, &s[0]));
    if (strcmp(s[0], RF_FORMAT_NAME) != 0) {
        st = ldm_error(LDM_EINPUT, "%s: not an ldm run file (ldm_format is \"%s\")", rf->path, s[0]);
        goto cleanup;
    }
    LDM_CHECK(attr_int(rf, "ldm_format_version", H5T_NATIVE_INT32, &version));
    if (version != LDM_RUNFILE_FORMAT_VERSION) {
        st = ldm_error(LDM_EINPUT, "%s: run file format version %d; this ldm reads version %d",
                       rf->path, (int)version, LDM_RUNFILE_FORMAT_VERSION);
        goto cleanup;
    }
    LDM_CHECK(attr_string(rf, "ldm_version", 0, &s[1]));
    LDM_CHECK(attr_string(rf, "command_line", 0, &s[2]));
    LDM_CHECK(attr_string(rf, "created", 0, &s[3]));
    LDM_CHECK(attr_string(rf, "slurm_job_id", 1, &s[4]));
    LDM_CHECK(attr_string(rf, "model_identity", 0, &s[5]));
    LDM_CHECK(attr_string(rf, "model_manifest", 0, &s[6]));
    LDM_CHECK(attr_int(rf, "rng_streams", H5T_NATIVE_INT32, &rf->info.rng_streams));
    LDM_CHECK(attr_int(rf, "rng_words", H5T_NATIVE_INT32, &rf->info.rng_words));
    LDM_CHECK(attr_int(rf, "trajectory_every", H5T_NATIVE_INT32, &rf->info.trajectory_every));
    LDM_CHECK(attr_int(rf, "item_count", H5T_NATIVE_INT64, &rf->info.count));
    if (rf->info.rng_streams < 1 || rf->info.rng_words < 1 || rf->info.trajectory_every < 0 ||
        rf->info.count < 1) {
        st = ldm_error(LDM_EINPUT, "%s: damaged ldm run file: bad rng_streams, rng_words, "
                       "trajectory_every or item_count attribute", rf->path);
        goto cleanup;
    }
    rf->info.path = rf->path;
    rf->info.ldm_version = s[1];
    rf->info.command_line = s[2];
    rf->info.created = s[3];
    rf->info.slurm_job_id = s[4];
    rf->info.model_identity = s[5];
    rf->info.model_manifest = s[6];
    if (expect && strcmp(expect->digest, s[5]) != 0)
        st = ldm_error(LDM_EINPUT, "%s was made with model %s, but the model given has identity "
                       "%s; resume with the model it was made with (see the file's "
                       "model_manifest attribute)", rf->path, s[5], expect->digest);
cleanup:
    return st;
}

/* Fixed-length strings of a /items dataset into owned C strings. */
static ldm_status read_strings(ldm_runfile *rf, const char *name, size_t field)
{
    ldm_status st = LDM_OK;
    hid_t d = H5Dopen2(rf->file, name, H5P_DEFAULT), t = -1;
    char *buf = NULL;
    if (d < 0) {
        st = ldm_error(LDM_EINPUT, "%s: not an ldm run file: dataset %s is missing", rf->path, name);
        goto cleanup;
    }
    t = H5Dget_type(d);
    if (t < 0 || H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) != 0) {
        st = ldm_error(LDM_EINPUT, "%s: damaged ldm run file: %s is not fixed-length strings",
                       rf->path, name);
        goto cleanup;
    }
    size_t len = H5Tget_size(t);
    LDM_CHECK(ldm_calloc((size_t)rf->count * len, "run file strings", (void **)&buf));
    LDM_CHECK(rf_read_all(rf, d, name, t, buf));
    for (int64_t i = 0; i < rf->count; i++) {
        char **slot = (char **)((char *)&rf->items[i] + field);
        LDM_CHECK(ldm_alloc(len + 1, "run file strings", (void **)slot));
        memcpy(*slot, buf + (size_t)i * len, len);
        (*slot)[len] = '\0';
    }
cleanup:
    H5Eclear2(H5E_DEFAULT);
    ldm_free(buf);
    if (t >= 0)
        H5Tclose(t);
    if (d >= 0)
        H5Dclose(d);
    return st;
}

/* A numeric dataset of count × k values into buf (memory type mtype). */
static ldm_status read_numbers(ldm_runfile *rf, const char *name, hid_t mtype, int k, void *buf)
{
    ldm_status st = LDM_OK;
    hid_t d = H5Dopen2(rf->file, name, H5P_DEFAULT), s = -1;
    hsize_t dims[3] = { 0, 0, 0 };
    if (d < 0) {
        st = ldm_error(LDM_EINPUT, "%s: not an ldm run file: dataset %s is missing", rf->path, name);
        goto cleanup;
    }
    s = H5Dget_space(d);
    int nd = s >= 0 ? H5Sget_simple_extent_dims(s, dims, NULL) : -1;
    if (nd != (k > 1 ? 2 : 1) || dims[0] != (hsize_t)rf->count || (k > 1 && dims[1] != (hsize_t)k)) {
        st = ldm_error(LDM_EINPUT, "%s: damaged ldm run file: %s does not have %lld rows",
                       rf->path, name, (long long)rf->count);
        goto cleanup;
    }
    LDM_CHECK(rf_read_all(rf, d, name, mtype, buf));
cleanup:
    H5Eclear2(H5E_DEFAULT);
    if (s >= 0)
        H5Sclose(s);
    if (d >= 0)
        H5Dclose(d);
    return st;
}

/* Scatter a column read into a scratch array into the item structs. */
#define READ_FIELD(rf, name, mtype, ctype, member)                                  \
    do {                                                                            \
        LDM_CHECK(read_numbers(rf, name, mtype, 1, col));                          \
        for (int64_t i_ = 0; i_ < (rf)->count; i_++)                                \
            (rf)->items[i_].member = ((ctype *)col)[i_];                            \
    } while (0)

static ldm_status read_items(ldm_runfile *rf)
{
    ldm_status st = LDM_OK;
    void *col = NULL;
    int32_t *shape = NULL, *group = NULL;
    int64_t *index = NULL;
    size_t n = (size_t)rf->count;
    LDM_CHECK(ldm_calloc(n * sizeof *rf->items, "run file items", (void **)&rf->items));
    LDM_CHECK(ldm_alloc(n * 8, "run file items", &col));
    LDM_CHECK(ldm_alloc(n * 3 * sizeof *shape, "run file items", (void **)&shape));
    LDM_CHECK(ldm_alloc(n * sizeof *group, "run file items", (void **)&group));
    LDM_CHECK(ldm_alloc(n * sizeof *index, "run file items", (void **)&index));
    LDM_CHECK(read_strings(rf, "/items/prompt", offsetof(ldm_runfile_item, prompt)));
    LDM_CHECK(read_strings(rf, "/items/negative_prompt", offsetof(ldm_runfile_item, negative_prompt)));
    LDM_CHECK(read_strings(rf, "/items/scheduler", offsetof(ldm_runfile_item, scheduler)));
    READ_FIELD(rf, "/items/seed", H5T_NATIVE_UINT64, uint64_t, seed);
    READ_FIELD(rf, "/items/noise_seed", H5T_NATIVE_UINT64, uint64_t, noise_seed);
    READ_FIELD(rf, "/items/guidance_scale", H5T_NATIVE_DOUBLE, double, guidance_scale);
    READ_FIELD(rf, "/items/eta", H5T_NATIVE_DOUBLE, double, eta);
    READ_FIELD(rf, "/items/steps", H5T_NATIVE_INT32, int32_t, steps);
    READ_FIELD(rf, "/items/height", H5T_NATIVE_INT32, int32_t, height);
    READ_FIELD(rf, "/items/width", H5T_NATIVE_INT32, int32_t, width);
    READ_FIELD(rf, "/items/scheduler_state_bytes", H5T_NATIVE_INT64, int64_t, scheduler_state_bytes);
    LDM_CHECK(read_numbers(rf, "/items/latent_shape", H5T_NATIVE_INT32, 3, shape));
    LDM_CHECK(read_numbers(rf, "/items/size_group", H5T_NATIVE_INT32, 1, group));
    LDM_CHECK(read_numbers(rf, "/items/group_index", H5T_NATIVE_INT64, 1, index));
    for (size_t i = 0; i < n; i++) {
        ldm_runfile_item *it = &rf->items[i];
        memcpy(it->latent_shape, shape + 3 * i, sizeof it->latent_shape);
        if (it->steps < 1 || it->height < 1 || it->width < 1 || it->latent_shape[0] < 1 ||
            it->latent_shape[1] < 1 || it->latent_shape[2] < 1 || it->scheduler_state_bytes < 0) {
            st = ldm_error(LDM_EINPUT, "%s: damaged ldm run file: item %zu has impossible sizes",
                           rf->path, i);
            goto cleanup;
        }
    }
    /* Groups are a function of the items: recompute and compare. */
    LDM_CHECK(rf_assign_groups(rf, rf->info.trajectory_every));
    for (size_t i = 0; i < n; i++) {
        if (group[i] != rf->group_of[i] || index[i] != rf->index_in_group[i]) {
            st = ldm_error(LDM_EINPUT, "%s: damaged ldm run file: /items/size_group or "
                           "/items/group_index of item %zu disagrees with its sizes", rf->path, i);
            goto cleanup;
        }
    }
cleanup:
    ldm_free(col);
    ldm_free(shape);
    ldm_free(group);
    ldm_free(index);
    return st;
}

static ldm_status read_progress(ldm_runfile *rf)
{
    ldm_status st = LDM_OK;
    LDM_CHECK(rf_read_all(rf, rf->progress, "/status/progress", rf->progress_mtype, rf->progress_table));
    LDM_CHECK(rf_read_all(rf, rf->timings, "/status/timings", rf->timings_mtype, rf->timings_table));
    LDM_CHECK(rf_read_all(rf, rf->slot_step, "/checkpoint/slot_step", H5T_NATIVE_INT32,
                          rf->steps_written));
    /* The protocol never leaves a record that names a slot not holding its
     * step; if one does, the file was altered. */
    for (int64_t i = 0; i < rf->count; i++) {
        const ldm_runfile_progress *p = &rf->progress_table[i];
        int ok = p->state >= LDM_RUNFILE_PENDING && p->state <= LDM_RUNFILE_DONE &&
                 p->slot >= -1 && p->slot <= 1 && p->step >= 0 && p->step <= rf->items[i].steps;
        if (ok && p->state == LDM_RUNFILE_PARTIAL)
            ok = p->slot >= 0 && rf->steps_written[2 * i + p->slot] == p->step;
        if (!ok) {
            st = ldm_error(LDM_EINPUT, "%s: damaged ldm run file: /status/progress of item %lld "
                           "is (state %d, step %d, slot %d)", rf->path, (long long)i,
                           (int)p->state, (int)p->step, (int)p->slot);
            goto cleanup;
        }
    }
cleanup:
    return st;
}

ldm_status ldm_runfile_open(MPI_Comm comm, const char *path, int writable,
                            const ldm_model_identity *expect, ldm_runfile **out)
{
    ldm_status st = LDM_OK;
    ldm_runfile *rf = NULL;
    hid_t fapl = -1;
    rf_quiet q;
    rf_quiet_begin(&q);
    rf_seam_from_env();
    *out = NULL;
    if (!path || !*path) {
        st = ldm_error(LDM_EINPUT, "run file: no path given");
        goto cleanup;
    }
    LDM_CHECK(rf_handle_new(comm, path, &rf));
    rf->writable = writable;
    LDM_CHECK(rf_agree(rf->comm, rf->rank == 0 ? check_path(path, writable) : LDM_OK));
    if (writable)
        LDM_CHECK(rf_agree(rf->comm, rf->rank == 0 ? lock_file(rf) : LDM_OK));
    fapl = rf_fapl(rf->comm);
    ldm_status local = LDM_OK;
    if (fapl < 0)
        local = rf_h5_error(path, "setting up MPI-IO file access");
    else if ((rf->file = H5Fopen(path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl)) < 0) {
        /* An HDF5 signature HDF5 cannot open beyond: a damaged file. */
        char detail[512];
        local = ldm_error(LDM_EINPUT, "%s: not an ldm run file (HDF5 cannot open it: %s)", path,
                          rf_h5_detail(detail, sizeof detail));
    }
    LDM_CHECK(rf_agree(rf->comm, local));
    LDM_CHECK(rf_agree(rf->comm, read_attributes(rf, expect)));
    rf->count = rf->info.count;
    LDM_CHECK(rf_agree(rf->comm, read_items(rf)));
    rf->info.size_groups = rf->n_groups;
    LDM_CHECK(rf_agree(rf->comm, rf_handle_alloc_tables(rf)));
    LDM_CHECK(rf_agree(rf->comm, rf_handle_open_datasets(rf)));
    LDM_CHECK(read_progress(rf));
    LDM_CHECK(rf_slurm_read(rf));
    *out = rf;
    rf = NULL;
cleanup:
    if (fapl >= 0)
        H5Pclose(fapl);
    rf_handle_free(rf);
    H5Eclear2(H5E_DEFAULT);
    rf_quiet_end(&q);
    return st;
}
