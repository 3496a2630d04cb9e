/* runfile_layout.c — what ldm_runfile_create writes: every group,
 * dataset and attribute of docs/run-file.md, allocated and zero-filled at
 * creation, then the items and the initial progress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "runfile_impl.h"

/* ---- building blocks ---------------------------------------------------- */

/* Contiguous, allocated and zero-filled at creation, no timestamps: after
 * this, writing the dataset changes its raw bytes and nothing else. */
static hid_t make_dcpl(void)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0 || H5Pset_layout(dcpl, H5D_CONTIGUOUS) < 0 ||
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0 ||
        H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC) < 0 ||
        H5Pset_obj_track_times(dcpl, 0) < 0) {
        if (dcpl >= 0)
            H5Pclose(dcpl);
        return -1;
    }
    return dcpl;
}

typedef struct builder {
    ldm_runfile *rf;
    hid_t dcpl, gcpl;
} builder;

static ldm_status make_group(builder *b, const char *name)
{
    int inject = rf_write_point();
    ldm_status local = LDM_OK;
    char what[160];
    snprintf(what, sizeof what, "creating group %s", name);
    hid_t g = H5Gcreate2(b->rf->file, name, H5P_DEFAULT, b->gcpl, H5P_DEFAULT);
    if (g < 0)
        local = rf_h5_error(b->rf->path, what);
    else
        H5Gclose(g);
    if (inject && local == LDM_OK)
        local = rf_injected(b->rf->path, what);
    return rf_agree(b->rf->comm, local);
}

/* Create (and with early allocation: allocate and fill) a dataset. */
static ldm_status make_dataset(builder *b, const char *name, hid_t type, int ndims,
                               const hsize_t *dims, hid_t *out)
{
    int inject = rf_write_point();
    ldm_status local = LDM_OK;
    char what[160];
    snprintf(what, sizeof what, "creating dataset %s", name);
    hid_t space = H5Screate_simple(ndims, dims, NULL);
    *out = space < 0 ? -1 : H5Dcreate2(b->rf->file, name, type, space, H5P_DEFAULT, b->dcpl, H5P_DEFAULT);
    if (*out < 0)
        local = rf_h5_error(b->rf->path, what);
    else if (inject)
        local = rf_injected(b->rf->path, what);
    if (space >= 0)
        H5Sclose(space);
    return rf_agree(b->rf->comm, local);
}

/* A fixed-length UTF-8 string type of `size` bytes, NUL-terminated (size is
 * the longest value + 1). Fixed, not variable-length: parallel HDF5 cannot
 * write variable-length data, and a fixed size is what lets everything be
 * allocated up front. */
static hid_t string_type(size_t size)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0 || H5Tset_size(t, size) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        if (t >= 0)
            H5Tclose(t);
        return -1;
    }
    return t;
}

/* COLLECTIVE. A scalar attribute on the root group; same value on all ranks. */
static ldm_status attr_write(builder *b, const char *name, hid_t type, const void *value)
{
    int inject = rf_write_point();
    ldm_status local = LDM_OK;
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = space < 0 ? -1 : H5Acreate2(b->rf->file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, type, value) < 0) {
        char what[160];
        snprintf(what, sizeof what, "writing attribute %s", name);
        local = rf_h5_error(b->rf->path, what);
    } else if (inject) {
        char what[160];
        snprintf(what, sizeof what, "writing attribute %s", name);
        local = rf_injected(b->rf->path, what);
    }
    if (a >= 0)
        H5Aclose(a);
    if (space >= 0)
        H5Sclose(space);
    return rf_agree(b->rf->comm, local);
}

/* Text attributes are variable-length UTF-8 strings, which h5py reads as
 * str (attributes are metadata: parallel HDF5 writes them collectively,
 * every rank the same value; only dataset VL writes are unsupported). */
static ldm_status attr_string(builder *b, const char *name, const char *value)
{
    const char *v = value ? value : "";
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0 || H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        if (t >= 0)
            H5Tclose(t);
        return rf_agree(b->rf->comm, rf_h5_error(b->rf->path, "making a string type"));
    }
    ldm_status st = attr_write(b, name, t, &v);
    H5Tclose(t);
    return st;
}

static ldm_status attr_i32(builder *b, const char *name, int32_t value)
{
    return attr_write(b, name, H5T_STD_I32LE, &value);
}

/* ---- the file ----------------------------------------------------------- */

static ldm_status write_attributes(builder *b, const ldm_runfile_spec *spec, int64_t n)
{
    ldm_status st = LDM_OK;
    ldm_runfile *rf = b->rf;
    /* Rank 0's clock and environment, broadcast: attribute values must be the
     * same on every rank. */
    char when[32] = "", job[64] = "";
    if (rf->rank == 0) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        const char *j = getenv("SLURM_JOB_ID");
        snprintf(job, sizeof job, "%s", j ? j : "");
    }
    MPI_Bcast(when, sizeof when, MPI_CHAR, 0, rf->comm);
    MPI_Bcast(job, sizeof job, MPI_CHAR, 0, rf->comm);
    LDM_CHECK(attr_string(b, "ldm_format", RF_FORMAT_NAME));
    LDM_CHECK(attr_i32(b, "ldm_format_version", LDM_RUNFILE_FORMAT_VERSION));
    LDM_CHECK(attr_string(b, "ldm_version", LDM_VERSION));
    LDM_CHECK(attr_string(b, "command_line", spec->command_line));
    LDM_CHECK(attr_string(b, "model_identity", spec->model->digest));
    LDM_CHECK(attr_string(b, "model_manifest", spec->model->manifest));
    LDM_CHECK(attr_string(b, "created", when));
    if (job[0])
        LDM_CHECK(attr_string(b, "slurm_job_id", job));
    LDM_CHECK(attr_i32(b, "rng_streams", spec->rng_streams));
    LDM_CHECK(attr_i32(b, "rng_words", spec->rng_words));
    LDM_CHECK(attr_i32(b, "trajectory_every", spec->trajectory_every));
    int64_t count = n;
    LDM_CHECK(attr_write(b, "item_count", H5T_STD_I64LE, &count));
cleanup:
    return st;
}

/* Bytes of the longest string field (offset `field`) plus its NUL. */
size_t rf_longest(const ldm_runfile_item *items, int64_t n, size_t field)
{
    size_t len = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *s = *(const char *const *)((const char *)&items[i] + field);
        if (s && strlen(s) > len)
            len = strlen(s);
    }
    return len + 1;
}

/* One /items string dataset: rank 0 writes all rows, the others join empty. */
static ldm_status write_strings(builder *b, const char *name, const ldm_runfile_item *items,
                                int64_t n, size_t field)
{
    ldm_status st = LDM_OK;
    char *buf = NULL;
    hid_t t = -1, d = -1;
    size_t len = rf_longest(items, n, field);
    t = string_type(len);
    if (t < 0) {
        st = rf_agree(b->rf->comm, rf_h5_error(b->rf->path, "making a string type"));
        goto cleanup;
    }
    hsize_t dims = (hsize_t)n, start = 0;
    LDM_CHECK(make_dataset(b, name, t, 1, &dims, &d));
    ldm_status local = LDM_OK;
    if (b->rf->rank == 0) {
        size_t total = 0;
        local = ldm_mul_size((size_t)n, len, &total);
        if (local == LDM_OK)
            local = ldm_calloc(total, "run file strings", (void **)&buf);
        for (int64_t i = 0; buf && i < n; i++) {
            const char *s = *(const char *const *)((const char *)&items[i] + field);
            if (s)
                memcpy(buf + (size_t)i * len, s, strlen(s));
        }
    }
    LDM_CHECK(rf_agree(b->rf->comm, local));
    LDM_CHECK(rf_write_block(b->rf, d, name, 1, &start, &dims, t, buf));
cleanup:
    if (d >= 0)
        H5Dclose(d);
    if (t >= 0)
        H5Tclose(t);
    ldm_free(buf);
    return st;
}

/* A numeric /items dataset [n] or [n, k] filled by `fill` on rank 0. */
typedef void (*fill_fn)(const ldm_runfile *rf, const ldm_runfile_item *it, int64_t i, void *row);

static ldm_status write_numbers(builder *b, const char *name, hid_t ftype, hid_t mtype,
                                size_t row_bytes, int k, const ldm_runfile_item *items,
                                int64_t n, fill_fn fill)
{
    ldm_status st = LDM_OK;
    unsigned char *buf = NULL;
    hid_t d = -1;
    hsize_t dims[2] = { (hsize_t)n, (hsize_t)k }, start[2] = { 0, 0 };
    int nd = k > 1 ? 2 : 1;
    LDM_CHECK(make_dataset(b, name, ftype, nd, dims, &d));
    ldm_status local = LDM_OK;
    if (b->rf->rank == 0) {
        local = ldm_calloc((size_t)n * row_bytes, "run file items", (void **)&buf);
        for (int64_t i = 0; buf && i < n; i++)
            fill(b->rf, &items[i], i, buf + (size_t)i * row_bytes);
    }
    LDM_CHECK(rf_agree(b->rf->comm, local));
    LDM_CHECK(rf_write_block(b->rf, d, name, nd, start, dims, mtype, buf));
cleanup:
    if (d >= 0)
        H5Dclose(d);
    ldm_free(buf);
    return st;
}

#define FILL(fname, type, expr)                                                          \
    static void fname(const ldm_runfile *rf, const ldm_runfile_item *it, int64_t i, void *row) \
    {                                                                                   \
        (void)rf; (void)it; (void)i;                                                    \
        *(type *)row = (expr);                                                          \
    }
FILL(fill_seed, uint64_t, it->seed)
FILL(fill_noise_seed, uint64_t, it->noise_seed)
FILL(fill_guidance, double, it->guidance_scale)
FILL(fill_eta, double, it->eta)
FILL(fill_steps, int32_t, it->steps)
FILL(fill_height, int32_t, it->height)
FILL(fill_width, int32_t, it->width)
FILL(fill_sched_bytes, int64_t, it->scheduler_state_bytes)
FILL(fill_group, int32_t, rf->group_of[i])
FILL(fill_group_index, int64_t, rf->index_in_group[i])
static void fill_latent_shape(const ldm_runfile *rf, const ldm_runfile_item *it, int64_t i, void *row)
{
    (void)rf; (void)i;
    memcpy(row, it->latent_shape, sizeof it->latent_shape);
}

static ldm_status write_items(builder *b, const ldm_runfile_item *items, int64_t n)
{
    ldm_status st = LDM_OK;
    LDM_CHECK(make_group(b, "/items"));
    LDM_CHECK(write_strings(b, "/items/prompt", items, n, offsetof(ldm_runfile_item, prompt)));
    LDM_CHECK(write_strings(b, "/items/negative_prompt", items, n,
                            offsetof(ldm_runfile_item, negative_prompt)));
    LDM_CHECK(write_strings(b, "/items/scheduler", items, n, offsetof(ldm_runfile_item, scheduler)));
    LDM_CHECK(write_numbers(b, "/items/seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 8, 1, items, n, fill_seed));
    LDM_CHECK(write_numbers(b, "/items/noise_seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, 8, 1, items, n,
                            fill_noise_seed));
    LDM_CHECK(write_numbers(b, "/items/guidance_scale", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8, 1, items,
                            n, fill_guidance));
    LDM_CHECK(write_numbers(b, "/items/eta", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 8, 1, items, n, fill_eta));
    LDM_CHECK(write_numbers(b, "/items/steps", H5T_STD_I32LE, H5T_NATIVE_INT32, 4, 1, items, n, fill_steps));
    LDM_CHECK(write_numbers(b, "/items/height", H5T_STD_I32LE, H5T_NATIVE_INT32, 4, 1, items, n, fill_height));
    LDM_CHECK(write_numbers(b, "/items/width", H5T_STD_I32LE, H5T_NATIVE_INT32, 4, 1, items, n, fill_width));
    LDM_CHECK(write_numbers(b, "/items/latent_shape", H5T_STD_I32LE, H5T_NATIVE_INT32, 12, 3, items, n,
                            fill_latent_shape));
    LDM_CHECK(write_numbers(b, "/items/scheduler_state_bytes", H5T_STD_I64LE, H5T_NATIVE_INT64, 8, 1,
                            items, n, fill_sched_bytes));
    LDM_CHECK(write_numbers(b, "/items/size_group", H5T_STD_I32LE, H5T_NATIVE_INT32, 4, 1, items, n,
                            fill_group));
    LDM_CHECK(write_numbers(b, "/items/group_index", H5T_STD_I64LE, H5T_NATIVE_INT64, 8, 1, items, n,
                            fill_group_index));
cleanup:
    return st;
}

static void fill_pending(const ldm_runfile *rf, const ldm_runfile_item *it, int64_t i, void *row)
{
    (void)rf; (void)it; (void)i;
    ldm_runfile_progress p = { LDM_RUNFILE_PENDING, 0, -1 };
    memcpy(row, &p, sizeof p);
}

static void fill_no_step(const ldm_runfile *rf, const ldm_runfile_item *it, int64_t i, void *row)
{
    (void)rf; (void)it; (void)i;
    int32_t none[2] = { -1, -1 };
    memcpy(row, none, sizeof none);
}

static ldm_status write_status_and_slots(builder *b, const ldm_runfile_spec *spec,
                                         const ldm_runfile_item *items, int64_t n)
{
    ldm_status st = LDM_OK;
    ldm_runfile *rf = b->rf;
    hid_t ptype = rf_progress_type(1), ttype = rf_timings_type(1), d = -1;
    hsize_t dims = (hsize_t)n;
    char name[96];
    if (ptype < 0 || ttype < 0) {
        st = rf_agree(rf->comm, rf_h5_error(rf->path, "making compound types"));
        goto cleanup;
    }
    LDM_CHECK(make_group(b, "/status"));
    LDM_CHECK(write_numbers(b, "/status/progress", ptype, rf->progress_mtype,
                            sizeof(ldm_runfile_progress), 1, items, n, fill_pending));
    LDM_CHECK(make_dataset(b, "/status/timings", ttype, 1, &dims, &d));
    H5Dclose(d);
    d = -1;
    hsize_t slurm[2] = { LDM_RUNFILE_SLURM_ROWS, RF_SLURM_COLS };
    LDM_CHECK(make_dataset(b, RF_SLURM_NAME, H5T_STD_I64LE, 2, slurm, &d));
    H5Dclose(d);
    d = -1;

    LDM_CHECK(make_group(b, "/checkpoint"));
    hsize_t rng[4] = { dims, 2, (hsize_t)spec->rng_streams, (hsize_t)spec->rng_words };
    LDM_CHECK(make_dataset(b, "/checkpoint/rng", H5T_STD_U32LE, 4, rng, &d));
    H5Dclose(d);
    d = -1;
    LDM_CHECK(write_numbers(b, "/checkpoint/slot_step", H5T_STD_I32LE, H5T_NATIVE_INT32, 8, 2, items,
                            n, fill_no_step));
    LDM_CHECK(make_group(b, "/images"));
    if (spec->trajectory_every > 0)
        LDM_CHECK(make_group(b, "/trajectory"));
    for (int32_t g = 0; g < rf->n_groups; g++) {
        rf_group *grp = &rf->groups[g];
        hsize_t cnt = (hsize_t)grp->count, C = (hsize_t)grp->latent[0];
        hsize_t h = (hsize_t)grp->latent[1], w = (hsize_t)grp->latent[2];
        hsize_t lat[5] = { cnt, 2, C, h, w };
        hsize_t sch[3] = { cnt, 2, (hsize_t)grp->sched_bytes };
        hsize_t img[4] = { cnt, (hsize_t)grp->height, (hsize_t)grp->width, 3 };
        hsize_t trj[5] = { cnt, (hsize_t)grp->frames, C, h, w };
        snprintf(name, sizeof name, "/checkpoint/g%d", (int)g);
        LDM_CHECK(make_group(b, name));
        snprintf(name, sizeof name, "/checkpoint/g%d/latents", (int)g);
        LDM_CHECK(make_dataset(b, name, H5T_IEEE_F32LE, 5, lat, &grp->latents));
        snprintf(name, sizeof name, "/checkpoint/g%d/scheduler_state", (int)g);
        LDM_CHECK(make_dataset(b, name, H5T_STD_U8LE, 3, sch, &grp->sched));
        snprintf(name, sizeof name, "/images/g%d", (int)g);
        LDM_CHECK(make_dataset(b, name, H5T_STD_U8LE, 4, img, &grp->image));
        if (spec->trajectory_every > 0) {
            snprintf(name, sizeof name, "/trajectory/g%d", (int)g);
            LDM_CHECK(make_dataset(b, name, H5T_IEEE_F32LE, 5, trj, &grp->traj));
        }
    }
cleanup:
    if (d >= 0)
        H5Dclose(d);
    if (ptype >= 0)
        H5Tclose(ptype);
    if (ttype >= 0)
        H5Tclose(ttype);
    return st;
}

/* COLLECTIVE. Build the complete file at `tmp`. */
ldm_status rf_layout_build(ldm_runfile *rf, const char *tmp, const ldm_runfile_spec *spec,
                           const ldm_runfile_item *items, int64_t n)
{
    ldm_status st = LDM_OK;
    builder b = { rf, -1, -1 };
    hid_t fapl = rf_fapl(rf->comm);
    b.dcpl = make_dcpl();
    b.gcpl = H5Pcreate(H5P_GROUP_CREATE);
    ldm_status local = LDM_OK;
    if (fapl < 0 || b.dcpl < 0 || b.gcpl < 0 || H5Pset_obj_track_times(b.gcpl, 0) < 0)
        local = rf_h5_error(rf->path, "setting up HDF5 properties");
    LDM_CHECK(rf_agree(rf->comm, local));
    int inject = rf_write_point();
    rf->file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (rf->file < 0)
        local = rf_h5_error(rf->path, "creating the file");
    else if (inject)
        local = rf_injected(rf->path, "creating the file");
    LDM_CHECK(rf_agree(rf->comm, local));
    LDM_CHECK(write_attributes(&b, spec, n));
    LDM_CHECK(write_items(&b, items, n));
    LDM_CHECK(write_status_and_slots(&b, spec, items, n));
    LDM_CHECK(rf_flush(rf));
cleanup:
    if (fapl >= 0)
        H5Pclose(fapl);
    if (b.dcpl >= 0)
        H5Pclose(b.dcpl);
    if (b.gcpl >= 0)
        H5Pclose(b.gcpl);
    return st;
}

