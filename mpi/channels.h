/* channels.h — re-assembling channel-split NHWC activations.
 *
 * Under the channel split (Pc) rank r computes channels [starts[r],
 * starts[r+1]) of every pixel: local [pixels, C_r] (pixels = n·h·w, NHWC
 * with the channel innermost), while the next layer wants the full
 * [pixels, C] (allgather) — or each rank holds a full-size partial sum of
 * which rank r must get the sum of its own channels (reduce-scatter, for
 * layers split by input channel).
 *
 * In NHWC a rank's slice is strided in the full tensor (C_r floats every C),
 * so the transfer needs either a local transpose or derived datatypes:
 *   LDM_CHANNELS_PACK      MPI_Allgatherv of the contiguous slices into a
 *                          [P blocks][pixels][C_r] scratch, then one local
 *                          interleaving copy (memcpy of C_r floats per pixel)
 *   LDM_CHANNELS_ALLTOALLW MPI_Alltoallw: each peer's slice lands directly in
 *                          place through a vector type (pixels blocks of C_r
 *                          floats, stride C); no scratch, no copy
 *   LDM_CHANNELS_AUTO      the method docs/parallelism.md measured faster
 * Reduce-scatter always packs (MPI reductions take contiguous buffers of a
 * basic type): a local transpose into [P][pixels][C_r], then
 * MPI_Reduce_scatter with MPI_SUM (summation order is MPI's).
 */
#ifndef LDM_MPI_CHANNELS_H
#define LDM_MPI_CHANNELS_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

typedef enum ldm_channels_method {
    LDM_CHANNELS_AUTO = 0,
    LDM_CHANNELS_PACK = 1,
    LDM_CHANNELS_ALLTOALLW = 2
} ldm_channels_method;

typedef struct ldm_channels ldm_channels;

/* Collective on comm (ranks agree on failure). starts[0 .. size]: channel
 * boundaries (same on every rank: 0, non-decreasing; e.g. whole GroupNorm
 * groups per rank: ldm_mpi_partition_starts(C, Pc, C / groups, 1, starts)).
 * pixels = n·h·w >= 1. The plan owns its datatypes and the packing scratch
 * (pixels·C floats). LDM_EINPUT for bad starts; LDM_ERUNTIME for memory or
 * counts above INT_MAX. */
ldm_status ldm_channels_create(MPI_Comm comm, const int64_t *starts, int64_t pixels,
                               ldm_channels_method method, ldm_channels **out);

/* Collective on the plan's comm. full [pixels, C] ← every rank's
 * local [pixels, C_r]. One rank: a copy. */
ldm_status ldm_channels_allgather(ldm_channels *p, const float *local, float *full);

/* Collective on the plan's comm. local [pixels, C_r] ← Σ over ranks of
 * partial[:, starts[r] .. starts[r+1]) (partial [pixels, C], each rank's
 * own). One rank: a copy. */
ldm_status ldm_channels_reduce_scatter(ldm_channels *p, const float *partial, float *local);

/* Local. The method in use (never AUTO). */
ldm_channels_method ldm_channels_method_of(const ldm_channels *p);

/* Local. NULL is fine; *p becomes NULL. */
void ldm_channels_destroy(ldm_channels **p);

#endif
