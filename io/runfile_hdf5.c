/* runfile_hdf5.c — the HDF5 and MPI helpers under every run file call:
 * quiet error stacks turned into messages, status agreement, the
 * write-point seam, and collective block/row reads and writes. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>

#include "runfile_impl.h"

/* ---- errors ----------------------------------------------------------- */

void rf_quiet_begin(rf_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->fn, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void rf_quiet_end(const rf_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->fn, q->data);
}

/* The innermost entry of HDF5's error stack says what went wrong (for MPI-IO
 * failures it carries MPI's error string, e.g. "No space left on device"). */
typedef struct innermost {
    char text[512];
    int found;
} innermost;

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return 1;
    return 0;
}

static herr_t take_innermost(unsigned n, const H5E_error2_t *e, void *data)
{
    innermost *in = data;
    if (n == 0 && e && e->desc) {
        char minor[160] = "";
        H5Eget_msg(e->min_num, NULL, minor, sizeof minor);
        /* "file write failed" needs no "Write failed" after it. */
        if (minor[0] && contains_nocase(e->desc, minor))
            minor[0] = '\0';
        snprintf(in->text, sizeof in->text, "%s%s%s", e->desc, minor[0] ? ": " : "", minor);
        in->found = 1;
    }
    return 0;
}

const char *rf_h5_detail(char *buf, size_t len)
{
    innermost in = { "", 0 };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_innermost, &in);
    H5Eclear2(H5E_DEFAULT);
    snprintf(buf, len, "%s", in.found ? in.text : "HDF5 error (no detail)");
    return buf;
}

/* HDF5 reports a short MPI-IO write as "Write failed" without the cause;
 * the usual cause is a full file system, which statvfs can confirm. */
static const char *space_note(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
    struct statvfs sv;
    if (statvfs(dir, &sv) == 0 && sv.f_bavail == 0)
        return " (No space left on device: the file system is full)";
    return "";
}

ldm_status rf_h5_error(const char *path, const char *what)
{
    char detail[512];
    rf_h5_detail(detail, sizeof detail);
    return ldm_error(LDM_ERUNTIME, "%s: %s failed: %s%s", path, what, detail, space_note(path));
}

ldm_status rf_agree(MPI_Comm comm, ldm_status local)
{
    int rank = 0;
    MPI_Comm_rank(comm, &rank);
    /* (status, rank) under MAXLOC also says which rank failed worst. */
    struct { int status; int rank; } mine = { (int)local, rank }, worst;
    if (MPI_Allreduce(&mine, &worst, 1, MPI_2INT, MPI_MAXLOC, comm) != MPI_SUCCESS)
        return ldm_error(LDM_ERUNTIME, "run file: MPI_Allreduce failed while agreeing on status");
    if (worst.status == LDM_OK)
        return LDM_OK;
    /* Only rank 0 talks to the terminal: every rank gets the failing rank's
     * message, so the cause is printed wherever it happened. */
    char text[1024];
    if (rank == worst.rank)
        snprintf(text, sizeof text, "%s", ldm_error_message());
    if (MPI_Bcast(text, sizeof text, MPI_CHAR, worst.rank, comm) != MPI_SUCCESS)
        snprintf(text, sizeof text, "(its message was lost: MPI_Bcast failed)");
    if (local == LDM_OK)
        return ldm_error((ldm_status)worst.status, "rank %d: %s", worst.rank, text);
    return (ldm_status)worst.status;
}

ldm_status rf_injected(const char *path, const char *what)
{
    return ldm_error(LDM_ERUNTIME, "%s: %s failed: No space left on device "
                     "(injected by ldm_runfile_fail_at)", path, what);
}

/* ---- the write-point seam ----------------------------------------------- */

static long points;       /* write points passed in this process */
static long crash_point;  /* absolute point that kills, 0: none */
static long fail_point;   /* absolute point that fails, 0: none */
static int env_read;

void ldm_runfile_crash_at(long n)
{
    crash_point = n > 0 ? points + n : 0;
}

void ldm_runfile_fail_at(long n)
{
    fail_point = n > 0 ? points + n : 0;
}

long ldm_runfile_write_points(void)
{
    return points;
}

void rf_seam_from_env(void)
{
    if (env_read)
        return;
    env_read = 1;
    const char *s = getenv("LDM_RUNFILE_CRASH_AT");
    if (s && *s) {
        char *end = NULL;
        long n = strtol(s, &end, 10);
        if (end && *end == '\0' && n > 0)
            ldm_runfile_crash_at(n);
    }
}

int rf_write_point(void)
{
    points++;
    if (crash_point && points == crash_point)
        raise(SIGKILL); /* as kill -9: no atexit, no stdio flush, no MPI_Finalize */
    if (fail_point && points == fail_point) {
        fail_point = 0;
        return 1;
    }
    return 0;
}

/* ---- property lists and types ------------------------------------------- */

hid_t rf_fapl(MPI_Comm comm)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0)
        return -1;
    /* MPI-IO on the run's communicator; metadata reads and writes are
     * collective (one rank reads and broadcasts, writes are aggregated)
     * instead of every rank hitting the file system. The file format stays
     * the default, earliest one on purpose: its version-0 superblock has no
     * "open for writing" flag, so a killed writer leaves a file that every
     * reader, h5dump and the next writer open without h5clear. */
    if (H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0 ||
        H5Pset_all_coll_metadata_ops(fapl, 1) < 0 || H5Pset_coll_metadata_write(fapl, 1) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

hid_t rf_progress_type(int file)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, file ? 12 : sizeof(ldm_runfile_progress));
    hid_t i32 = file ? H5T_STD_I32LE : H5T_NATIVE_INT32;
    if (t < 0)
        return -1;
    if (H5Tinsert(t, "state", file ? 0 : offsetof(ldm_runfile_progress, state), i32) < 0 ||
        H5Tinsert(t, "step", file ? 4 : offsetof(ldm_runfile_progress, step), i32) < 0 ||
        H5Tinsert(t, "slot", file ? 8 : offsetof(ldm_runfile_progress, slot), i32) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

hid_t rf_timings_type(int file)
{
    static const char *const names[] = { "text_encoder", "unet", "scheduler",
                                         "decoder", "checkpoint", "total" };
    static const size_t offsets[] = {
        offsetof(ldm_runfile_timings, text_encoder), offsetof(ldm_runfile_timings, unet),
        offsetof(ldm_runfile_timings, scheduler), offsetof(ldm_runfile_timings, decoder),
        offsetof(ldm_runfile_timings, checkpoint), offsetof(ldm_runfile_timings, total)
    };
    hid_t t = H5Tcreate(H5T_COMPOUND, file ? 6 * 8 : sizeof(ldm_runfile_timings));
    if (t < 0)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (H5Tinsert(t, names[i], file ? (size_t)(8 * i) : offsets[i],
                      file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE) < 0) {
            H5Tclose(t);
            return -1;
        }
    }
    return t;
}

/* ---- collective transfers ------------------------------------------------ */

/* The transfer itself, with this rank's selection set up (or empty). Every
 * rank reaches H5Dwrite/H5Dread whatever happened locally, so no rank is
 * left waiting in the MPI collective underneath. */
static ldm_status transfer(ldm_runfile *rf, int write, hid_t dset, const char *name, int ndims,
                           const hsize_t *start, const hsize_t *count, int npoints,
                           const hsize_t *coords, hid_t memtype, void *buf, int inject)
{
    static unsigned char dummy;
    ldm_status local = LDM_OK;
    hid_t fspace = H5Dget_space(dset), mspace = -1;
    int empty = buf == NULL || inject;
    if (!empty && coords) {
        hsize_t n = (hsize_t)npoints;
        mspace = H5Screate_simple(1, &n, NULL);
        if (npoints == 0 || H5Sselect_elements(fspace, H5S_SELECT_SET, (size_t)npoints, coords) < 0)
            empty = 1;
    } else if (!empty) {
        mspace = H5Screate_simple(ndims, count, NULL);
        if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0)
            empty = 1;
    }
    if (fspace < 0 || (!empty && mspace < 0)) {
        local = rf_h5_error(rf->path, write ? "selecting rows to write" : "selecting rows to read");
        empty = 1;
    }
    if (empty) {
        hsize_t one = 1;
        if (mspace >= 0)
            H5Sclose(mspace);
        mspace = H5Screate_simple(1, &one, NULL);
        H5Sselect_none(mspace);
        if (fspace >= 0)
            H5Sselect_none(fspace);
        buf = &dummy;
    }
    herr_t rc = write ? H5Dwrite(dset, memtype, mspace, fspace, rf->dxpl, buf)
                      : H5Dread(dset, memtype, mspace, fspace, rf->dxpl, buf);
    if (rc < 0 && local == LDM_OK) {
        char what[200];
        snprintf(what, sizeof what, "%s %s", write ? "writing" : "reading", name);
        local = rf_h5_error(rf->path, what);
    }
    if (inject && local == LDM_OK) {
        char what[200];
        snprintf(what, sizeof what, "writing %s", name);
        local = rf_injected(rf->path, what);
    }
    if (mspace >= 0)
        H5Sclose(mspace);
    if (fspace >= 0)
        H5Sclose(fspace);
    return rf_agree(rf->comm, local);
}

ldm_status rf_write_block(ldm_runfile *rf, hid_t dset, const char *name, int ndims,
                          const hsize_t *start, const hsize_t *count, hid_t memtype,
                          const void *buf)
{
    int inject = rf_write_point();
    return transfer(rf, 1, dset, name, ndims, start, count, 0, NULL, memtype, (void *)buf, inject);
}

ldm_status rf_read_block(ldm_runfile *rf, hid_t dset, const char *name, int ndims,
                         const hsize_t *start, const hsize_t *count, hid_t memtype, void *buf)
{
    return transfer(rf, 0, dset, name, ndims, start, count, 0, NULL, memtype, buf, 0);
}

ldm_status rf_write_rows(ldm_runfile *rf, hid_t dset, const char *name, int n,
                         const hsize_t *coords, hid_t memtype, const void *buf)
{
    int inject = rf_write_point();
    return transfer(rf, 1, dset, name, 1, NULL, NULL, n, coords, memtype,
                    n > 0 ? (void *)buf : NULL, inject);
}

ldm_status rf_read_all(ldm_runfile *rf, hid_t dset, const char *name, hid_t memtype, void *buf)
{
    ldm_status local = LDM_OK;
    if (H5Dread(dset, memtype, H5S_ALL, H5S_ALL, rf->dxpl, buf) < 0) {
        char what[200];
        snprintf(what, sizeof what, "reading %s", name);
        local = rf_h5_error(rf->path, what);
    }
    return rf_agree(rf->comm, local);
}

ldm_status rf_flush(ldm_runfile *rf)
{
    int inject = rf_write_point();
    ldm_status local = LDM_OK;
    if (H5Fflush(rf->file, H5F_SCOPE_GLOBAL) < 0)
        local = rf_h5_error(rf->path, "flushing");
    if (inject && local == LDM_OK)
        local = rf_injected(rf->path, "flushing");
    return rf_agree(rf->comm, local);
}
