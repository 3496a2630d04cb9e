/* pipeline_strips.h — the latent row strips of the model split (internal to
 * src/sample; docs/parallelism.md §8).
 *
 * Under a spatial split (Ps > 1) each rank of `spatial` holds rows [r0, r1)
 * of every [C, h, w] plane of the latents (ldm_model_parallel_rows with the
 * UNet's latent align), and so do the scheduler's history tensors (every
 * scheduler is element-wise: PNDM's ets, LMS's derivatives and DDIM's step
 * run on strips unchanged). What leaves the run whole — final latents, the
 * checkpoint state, the image — is assembled here with one ldm_row_gather
 * over `spatial`; what comes in whole (drawn noise, restored state) is cut.
 * The channel ranks of one strip hold identical strips.
 */
#ifndef LDM_SAMPLE_PIPELINE_STRIPS_H
#define LDM_SAMPLE_PIPELINE_STRIPS_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "mpi/gather.h"

typedef struct ldm_strips {
    MPI_Comm spatial;      /* borrowed; MPI_COMM_NULL: no spatial split */
    int64_t planes;        /* b · C */
    int64_t h, w, r0, r1;  /* whole rows and this rank's [r0, r1) */
    ldm_row_gather *gather; /* owned: planes [h, w] from the strips; NULL unsplit */
} ldm_strips;

/* Collective on spatial (when it has > 1 rank; ranks agree on failure).
 * Rows of every rank: ldm_mpi_partition(h, Ps, rank, align). */
ldm_status ldm_strips_create(MPI_Comm spatial, int64_t planes, int64_t h, int64_t w,
                             int64_t align, ldm_strips *out);
void ldm_strips_destroy(ldm_strips *s);

/* Elements of this rank's strip of all planes, and of the whole. */
int64_t ldm_strips_local_count(const ldm_strips *s);
int64_t ldm_strips_whole_count(const ldm_strips *s);

/* Local. dst [planes, r1 − r0, w] = rows [r0, r1) of src [planes, h, w]
 * (a copy when unsplit). */
void ldm_strips_cut(const ldm_strips *s, const float *whole, float *strip);

/* Collective on spatial. whole [planes, h, w] on every rank ← the strips
 * [planes, r1 − r0, w] of every rank (a copy when unsplit). */
ldm_status ldm_strips_gather(const ldm_strips *s, const float *strip, float *whole);

/* Scheduler state blobs (sample/scheduler.h byte layout: a 72-byte header
 * with n at offset 24, then k arrays of n floats). */
enum { LDM_STRIPS_SCHED_HEADER = 72 };
/* Collective on spatial. whole_blob (header with n = whole count, arrays
 * gathered) ← local_blob (n = local count). Sizes from
 * ldm_scheduler_state_bytes. */
ldm_status ldm_strips_sched_gather(const ldm_strips *s, const unsigned char *local_blob,
                                   size_t local_bytes, unsigned char *whole_blob,
                                   size_t whole_bytes);
/* Local. local_blob (n = local count, arrays cut) ← whole_blob. */
void ldm_strips_sched_cut(const ldm_strips *s, const unsigned char *whole_blob,
                          size_t whole_bytes, unsigned char *local_blob, size_t local_bytes);

#endif
