/* runfile.h — the HDF5 run file of a sweep, written collectively through MPI-IO.
 *
 * One file holds a whole sweep: the items (prompt, seed, guidance, ...), each
 * item's progress, its checkpointed latents with the RNG and scheduler state
 * they need, an optional trajectory (every K-th intermediate latent), the
 * final images as uint8 [n, H, W, 3], per-item timings, and as attributes the
 * command line, ldm version, model identity, creation time and SLURM_JOB_ID.
 * The layout, byte by byte, and how to read it with h5py and h5dump, is in
 * docs/run-file.md.
 *
 * The layer is generic: it stores the arrays and opaque bytes its caller
 * gives (latents [C, h, w], rng_streams × rng_words uint32 words of RNG state,
 * a scheduler state blob of a size the caller names per item); it knows
 * nothing of models or samplers.
 *
 * Crash safety. Every dataset is allocated (and zero-filled, so the blocks
 * exist on disk) when the file is created; the file is built under
 * "<path>.creating" and renamed to <path> only when complete. Afterwards no
 * HDF5 object is ever created, so a checkpoint rewrites raw data only. Each
 * item has two checkpoint slots: a checkpoint writes the slot that is NOT
 * active, flushes (H5Fflush: MPI_File_sync), then writes the item's progress
 * record (state, step, active slot: 12 contiguous bytes, one write) and
 * flushes again. A kill at any moment leaves the previous checkpoint intact
 * and the file openable; a reader trusts only the slot the record names.
 *
 * Parallelism. A run file is opened by every rank of a communicator (MPI-IO,
 * collective metadata). Functions marked COLLECTIVE must be called by every
 * rank of that communicator, in the same order; each rank passes the items it
 * owns (possibly none) and ranks with nothing to do join with an empty
 * selection. A given item is passed by at most one rank per call. All ranks
 * get the same status back: a failure on one rank (bad argument, I/O error)
 * is agreed on before the next collective, so none is left hanging.
 * Functions not marked COLLECTIVE are local and never touch the file.
 *
 * Errors: LDM_EINPUT for a bad argument, an existing file without force, a
 * file that is not an ldm run file, another model; LDM_ERUNTIME for I/O
 * failures (messages name the file and the dataset). Nothing is printed.
 */
#ifndef LDM_IO_RUNFILE_H
#define LDM_IO_RUNFILE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/model_identity.h"

enum {
    LDM_RUNFILE_FORMAT_VERSION = 1, /* root attribute ldm_format_version */
    LDM_RUNFILE_SLOTS = 2           /* alternating checkpoint slots per item */
};

typedef struct ldm_runfile ldm_runfile;

/* One sweep item: one image. Strings are UTF-8. */
typedef struct ldm_runfile_item {
    const char *prompt;
    const char *negative_prompt; /* "" = none; NULL is stored as "" */
    const char *scheduler;       /* "ddim", "pndm", "lms" (stored as given) */
    uint64_t seed;               /* latents generator */
    uint64_t noise_seed;         /* DDIM eta noise generator */
    double guidance_scale;
    double eta;
    int32_t steps;               /* num_inference_steps, >= 1 */
    int32_t height, width;       /* image size in pixels */
    int32_t latent_shape[3];     /* [C, h, w] of the checkpointed latents */
    int64_t scheduler_state_bytes; /* opaque scheduler state per slot, >= 0 */
} ldm_runfile_item;

/* What ldm_runfile_create needs besides the items. */
typedef struct ldm_runfile_spec {
    const char *command_line;             /* stored as an attribute */
    const ldm_model_identity *model;      /* required */
    int32_t rng_streams;                  /* RNG generators per item (sweep: 2) */
    int32_t rng_words;                    /* uint32 words per generator (sweep: 633) */
    int32_t trajectory_every;             /* K > 0: keep latents after every K-th step; 0: none */
} ldm_runfile_spec;

/* The file-level attributes, as read back (strings owned by the handle). */
typedef struct ldm_runfile_info {
    const char *path;
    const char *ldm_version;
    const char *command_line;
    const char *created;          /* ISO 8601 UTC, "2024-05-01T12:00:00Z" */
    const char *slurm_job_id;     /* "" when the creating job had none */
    const char *model_identity;   /* hex SHA-256, see io/model_identity.h */
    const char *model_manifest;
    int32_t rng_streams, rng_words, trajectory_every;
    int64_t count;                /* items */
    int32_t size_groups;          /* distinct (latent shape, image size) */
} ldm_runfile_info;

typedef enum ldm_runfile_state {
    LDM_RUNFILE_PENDING = 0, /* nothing written yet */
    LDM_RUNFILE_PARTIAL = 1, /* a checkpoint is committed */
    LDM_RUNFILE_DONE = 2     /* the image is committed */
} ldm_runfile_state;

/* An item's committed progress: /status/progress. */
typedef struct ldm_runfile_progress {
    int32_t state; /* ldm_runfile_state */
    int32_t step;  /* denoising steps done in the committed checkpoint */
    int32_t slot;  /* the active slot (0 or 1), -1 when none */
} ldm_runfile_progress;

/* Seconds spent on an item (written with its image). */
typedef struct ldm_runfile_timings {
    double text_encoder, unet, scheduler, decoder, checkpoint, total;
} ldm_runfile_timings;

/* One item's checkpoint: written by ldm_runfile_checkpoint_write, filled by
 * ldm_runfile_checkpoint_read. Counts must equal the item's sizes. */
typedef struct ldm_runfile_slot {
    int64_t item;
    int32_t step;               /* steps done; read: filled in */
    float *latents;             /* [C, h, w] */
    int64_t latents_count;      /* C·h·w */
    uint32_t *rng;              /* [rng_streams, rng_words] */
    int64_t rng_count;          /* rng_streams·rng_words */
    uint8_t *scheduler_state;   /* [scheduler_state_bytes], opaque */
    int64_t scheduler_state_bytes;
} ldm_runfile_slot;

/* One trajectory frame: the latents after `step` steps, step a multiple of
 * trajectory_every and <= the item's steps. */
typedef struct ldm_runfile_frame {
    int64_t item;
    int32_t step;
    float *latents;             /* [C, h, w] */
    int64_t latents_count;
} ldm_runfile_frame;

/* An item's final image and timings. */
typedef struct ldm_runfile_image {
    int64_t item;
    uint8_t *rgb;               /* [height, width, 3] */
    int64_t rgb_bytes;          /* height·width·3 */
    ldm_runfile_timings timings;
} ldm_runfile_image;

/* COLLECTIVE. Create the run file at `path` for n items (the same spec and
 * items on every rank) and open it for writing: every item pending. An
 * existing `path` is LDM_EINPUT naming it and --force unless `force` (and
 * even with force while another process writes it). The file is written as "<path>.creating" and renamed at the end: on failure
 * (full disk: LDM_ERUNTIME naming the file and its size) nothing is left
 * behind and an existing file is untouched. */
ldm_status ldm_runfile_create(MPI_Comm comm, const char *path, const ldm_runfile_spec *spec,
                              const ldm_runfile_item *items, int64_t n, int force,
                              ldm_runfile **out);

/* COLLECTIVE. Open an existing run file, for writing (resume) or read-only
 * (status, export). With `expect` non-NULL, a file written for another model
 * is LDM_EINPUT naming both identities. A file that is not an ldm run file
 * (not HDF5, or HDF5 without our format attributes) is LDM_EINPUT "not an
 * ldm run file"; a damaged layout LDM_EINPUT "damaged ldm run file". One
 * writer at a time: a file another process has open for writing is
 * LDM_EINPUT "being written by another ldm process" (readers never wait). */
ldm_status ldm_runfile_open(MPI_Comm comm, const char *path, int writable,
                            const ldm_model_identity *expect, ldm_runfile **out);

/* COLLECTIVE. Flush and close; NULL or *rf == NULL is fine; nulls the handle.
 * Returns the close's status (LDM_ERUNTIME if the final flush failed). */
ldm_status ldm_runfile_close(ldm_runfile **rf);

/* Local accessors. The item table, progress and timings are read at open and
 * kept exact on every rank by the collective writes. Index out of range: NULL. */
const ldm_runfile_info *ldm_runfile_get_info(const ldm_runfile *rf);
const ldm_runfile_item *ldm_runfile_get_item(const ldm_runfile *rf, int64_t i);
const ldm_runfile_progress *ldm_runfile_get_progress(const ldm_runfile *rf, int64_t i);
const ldm_runfile_timings *ldm_runfile_get_timings(const ldm_runfile *rf, int64_t i);

/* COLLECTIVE. Commit a checkpoint for each of this rank's n slots (n may be
 * 0): write the inactive slot, flush, flip the progress record to it (state
 * partial, step), flush. 1 <= step <= the item's steps; a done item is
 * LDM_EINPUT. */
ldm_status ldm_runfile_checkpoint_write(ldm_runfile *rf, const ldm_runfile_slot *slots, int n);

/* COLLECTIVE. Read the committed checkpoint of each of this rank's n items
 * into the caller's buffers and set slots[k].step to the step it holds (for
 * a done item: its last checkpoint). An item without one is LDM_EINPUT. */
ldm_status ldm_runfile_checkpoint_read(ldm_runfile *rf, ldm_runfile_slot *slots, int n);

/* COLLECTIVE. Store trajectory frames (no flush of its own: a frame counts
 * once a checkpoint or image of a step >= its step is committed; before
 * that, a resumed run writes it again). Without a trajectory: LDM_EINPUT. */
ldm_status ldm_runfile_trajectory_write(ldm_runfile *rf, const ldm_runfile_frame *frames, int n);
/* COLLECTIVE. Read frames whose step is committed (else LDM_EINPUT). */
ldm_status ldm_runfile_trajectory_read(ldm_runfile *rf, ldm_runfile_frame *frames, int n);

/* COLLECTIVE. Commit finished items: write images and timings, flush, flip
 * each item's record to done (step = its steps, slot unchanged), flush. */
ldm_status ldm_runfile_image_write(ldm_runfile *rf, const ldm_runfile_image *images, int n);
/* COLLECTIVE. Read the images (and timings) of done items (else LDM_EINPUT). */
ldm_status ldm_runfile_image_read(ldm_runfile *rf, ldm_runfile_image *images, int n);

/* /status/slurm: one row per ldm sweep/resume run made inside a Slurm job,
 * so a requeued sweep says which jobs worked on it (docs/slurm.md). */
enum { LDM_RUNFILE_SLURM_ROWS = 64 };
typedef struct ldm_runfile_slurm_run {
    int64_t started;       /* Unix seconds, rank 0's clock */
    int64_t job_id;        /* SLURM_JOB_ID */
    int64_t array_job_id;  /* SLURM_ARRAY_JOB_ID; 0: not an array job */
    int64_t array_task_id; /* SLURM_ARRAY_TASK_ID; -1: not an array job */
    int64_t restart_count; /* SLURM_RESTART_COUNT; 0: the job's first run */
    int64_t ranks;         /* ranks of the run */
} ldm_runfile_slurm_run;

/* COLLECTIVE. When rank 0 runs inside a Slurm job (SLURM_JOB_ID is set),
 * add this run's row to /status/slurm and flush; otherwise, or for a file
 * made before the table existed, or a read-only handle, do nothing. The
 * table holds LDM_RUNFILE_SLURM_ROWS rows; when it is full the last row is
 * overwritten (it always shows the latest run). */
ldm_status ldm_runfile_record_slurm(ldm_runfile *rf);
/* Local. The rows recorded so far (read at open, kept by record); *n = 0
 * when there are none. */
const ldm_runfile_slurm_run *ldm_runfile_get_slurm(const ldm_runfile *rf, int *n);

/* Test seams (process-wide). Every H5Dwrite, H5Awrite and H5Fflush on a run
 * file, and at creation every H5Fcreate, H5Gcreate and H5Dcreate, is a
 * "write point"; each rank counts its own. ldm_runfile_crash_at(n): the n-th
 * write point from now (1-based) kills the process with SIGKILL just before
 * it runs, as kill -9 would. The environment variable LDM_RUNFILE_CRASH_AT=n does the
 * same, counted from the first create/open of the process. 0 disables. */
void ldm_runfile_crash_at(long n);
/* The n-th write point from now does its collective part with nothing to
 * write and fails as a full disk would (LDM_ERUNTIME); 0 disables. */
void ldm_runfile_fail_at(long n);
/* Write points passed so far in this process. */
long ldm_runfile_write_points(void);

#endif
