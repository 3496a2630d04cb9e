/* runfile_impl.h — private to io/runfile_*.c: the handle and the HDF5
 * helpers every part uses. Not installed, not included outside io/. */
#ifndef LDM_IO_RUNFILE_IMPL_H
#define LDM_IO_RUNFILE_IMPL_H

#include <hdf5.h>
#include <sys/types.h>

#include "io/runfile.h"

/* Names in the file (docs/run-file.md). */
#define RF_FORMAT_NAME "ldm-run"
/* The byte a writer locks: far past any data (see rf_lock_probe). */
#define RF_LOCK_OFFSET ((off_t)0x7fffffff00000000LL)

/* Items of one (latent shape, image size): their datasets are
 * /checkpoint/g<k>/{latents,scheduler_state}, /images/g<k>, /trajectory/g<k>. */
typedef struct rf_group {
    int32_t latent[3];     /* [C, h, w] */
    int32_t height, width; /* image */
    int64_t count;         /* items in the group */
    int64_t sched_bytes;   /* scheduler state bytes per slot: max over items, >= 1 */
    int32_t frames;        /* trajectory frames per item (>= 1 when there is one) */
    hid_t latents;         /* f32 [count, 2, C, h, w] */
    hid_t sched;           /* u8  [count, 2, sched_bytes] */
    hid_t image;           /* u8  [count, H, W, 3] */
    hid_t traj;            /* f32 [count, frames, C, h, w], or -1 */
} rf_group;

/* Scratch record for the allgather that keeps every rank's tables exact. */
typedef struct rf_update {
    int64_t item;
    ldm_runfile_progress progress;
    int32_t has_timings;
    ldm_runfile_timings timings;
} rf_update;

struct ldm_runfile {
    MPI_Comm comm; /* owned: a dup of the caller's */
    int rank, size;
    int writable;
    int lock_fd;   /* rank 0 of a writable handle: flock'd descriptor, else -1 */
    char *path;    /* owned */
    hid_t file;
    hid_t dxpl;    /* collective transfer */
    hid_t progress, timings, rng, slot_step; /* flat datasets, one row per item */
    hid_t progress_mtype, timings_mtype;     /* compound memory types */

    int64_t count;
    ldm_runfile_item *items; /* owned, strings owned */
    int32_t *group_of;       /* [count] size group of each item */
    int64_t *index_in_group; /* [count] row in its group's datasets */
    rf_group *groups;        /* owned, n_groups */
    int32_t n_groups;
    ldm_runfile_progress *progress_table; /* [count] */
    ldm_runfile_timings *timings_table;   /* [count] */
    int32_t *steps_written;  /* [count, 2] the step each slot holds */

    ldm_runfile_info info;   /* strings owned (below) */
    char *attr_strings[7];

    /* Scratch, allocated once at open: no allocation per checkpoint. */
    hsize_t *coords;            /* [count] element selections */
    rf_update *mine;            /* [count] this rank's updates of one call */
    rf_update *updates;         /* [count] everyone's, after the allgather */
    ldm_runfile_progress *rows; /* [count] progress records to write */
    ldm_runfile_timings *trows; /* [count] timings to write */
    int64_t *mark;              /* [count] call serial that last named the item */
    int64_t serial;
    int *counts, *displs;       /* [size] allgatherv */
    int *group_counts;          /* [2 * n_groups] local, then max over ranks */

    /* /status/slurm (runfile_slurm.c); absent in files made before it. */
    int has_slurm;
    int slurm_rows;
    ldm_runfile_slurm_run slurm[LDM_RUNFILE_SLURM_ROWS];
};

/* HDF5's own error printing off for the span of a public call. */
typedef struct rf_quiet {
    H5E_auto2_t fn;
    void *data;
} rf_quiet;
void rf_quiet_begin(rf_quiet *q);
void rf_quiet_end(const rf_quiet *q);

/* The innermost HDF5 error message into buf (and the stack cleared). */
const char *rf_h5_detail(char *buf, size_t len);
/* LDM_ERUNTIME "<path>: <what> failed: <innermost HDF5/MPI message>". */
ldm_status rf_h5_error(const char *path, const char *what);

/* LDM_ERUNTIME for a write point that ldm_runfile_fail_at chose. */
ldm_status rf_injected(const char *path, const char *what);

/* Ranks agree on the worst status (MAX); a rank that did not fail gets the
 * failing rank's message, prefixed "rank N: ". */
ldm_status rf_agree(MPI_Comm comm, ldm_status local);

/* The write-point seam: counts, crashes or says "fail this one" (1). */
int rf_write_point(void);
/* Read LDM_RUNFILE_CRASH_AT once per process. */
void rf_seam_from_env(void);

/* COLLECTIVE. Write / read one block of a dataset: `start`/`count` of rank
 * `ndims`; buf NULL = this rank joins with an empty selection. `name` names
 * the dataset in messages. Agreed status. */
ldm_status rf_write_block(ldm_runfile *rf, hid_t dset, const char *name, int ndims,
                          const hsize_t *start, const hsize_t *count, hid_t memtype,
                          const void *buf);
ldm_status rf_read_block(ldm_runfile *rf, hid_t dset, const char *name, int ndims,
                         const hsize_t *start, const hsize_t *count, hid_t memtype, void *buf);
/* COLLECTIVE. Write n elements (rows of a 1-D dataset) at coords; n may be 0. */
ldm_status rf_write_rows(ldm_runfile *rf, hid_t dset, const char *name, int n,
                         const hsize_t *coords, hid_t memtype, const void *buf);
/* COLLECTIVE. Read a whole dataset on every rank. */
ldm_status rf_read_all(ldm_runfile *rf, hid_t dset, const char *name, hid_t memtype, void *buf);
/* COLLECTIVE. H5Fflush (MPI_File_sync underneath). */
ldm_status rf_flush(ldm_runfile *rf);

/* File access property list: MPI-IO on comm, collective metadata. */
hid_t rf_fapl(MPI_Comm comm);
/* Compound types of /status/progress and /status/timings (memory layout;
 * `file` = 1 for the packed little-endian file type). */
hid_t rf_progress_type(int file);
hid_t rf_timings_type(int file);

/* Handle lifetime shared by create and open. */
ldm_status rf_handle_new(MPI_Comm comm, const char *path, ldm_runfile **out);
ldm_status rf_handle_alloc_tables(ldm_runfile *rf);
ldm_status rf_handle_open_datasets(ldm_runfile *rf);
void rf_handle_free(ldm_runfile *rf);
/* COLLECTIVE. runfile_layout.c: the complete file, built at `tmp`. */
ldm_status rf_layout_build(ldm_runfile *rf, const char *tmp, const ldm_runfile_spec *spec,
                           const ldm_runfile_item *items, int64_t n);
/* Bytes of the longest string field at offset `field` of the items, + 1. */
size_t rf_longest(const ldm_runfile_item *items, int64_t n, size_t field);

/* The one-writer lock on `fd`: take it (take = 1, fd open for writing) or
 * only look whether another process holds it; LDM_EINPUT when one does. */
ldm_status rf_lock_probe(const char *path, int fd, int take);

/* /status/slurm: int64 [LDM_RUNFILE_SLURM_ROWS, RF_SLURM_COLS], zeros at
 * creation (runfile_layout.c); a row is used when its `started` is not 0.
 * rf_slurm_read (runfile_slurm.c, COLLECTIVE, agreed status): its rows into
 * the handle at open; a file without it has none. */
#define RF_SLURM_NAME "/status/slurm"
enum { RF_SLURM_COLS = 6 };
ldm_status rf_slurm_read(ldm_runfile *rf);

/* Rows of size groups: group_of/index_in_group/groups from items. */
ldm_status rf_assign_groups(ldm_runfile *rf, int32_t trajectory_every);

#endif
