/* gather.h — allgather of row blocks (uneven), for exact self-attention
 * over row strips and for reassembling a strip-split activation.
 *
 * A tensor [batch, L, row] (row = elements per token or per image row) is
 * split by its middle index: rank r owns positions [starts[r], starts[r+1])
 * of every batch entry (starts from ldm_mpi_partition_starts; uneven and
 * empty blocks allowed). One MPI_Allgatherv with derived datatypes places
 * every block straight into the full tensor (no packing, no transpose): the
 * unit of transfer is "one position across all batch entries", a vector of
 * `batch` rows resized to one row's extent.
 *
 * Distributed self-attention over row strips (composition in src/models):
 *   q, k, v  = to_q/to_k/to_v(x_strip)           local [batch, rows·w, inner]
 *   K, V     = ldm_row_gather_run(k), (v)         [batch, h·w, inner] (starts ·w)
 *   out      = ldm_attention(q local, K, V)       local queries, every key
 * Writing k and v side by side ([batch, tokens, 2·inner], linear.h's ldy)
 * gathers both in one call with row = 2·inner; attention then reads them
 * with ldk = ldv = 2·inner. Every query sees every key in the same order as
 * on one rank, so the result equals the single-rank attention.
 */
#ifndef LDM_MPI_GATHER_H
#define LDM_MPI_GATHER_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ldm_row_gather ldm_row_gather;

/* Collective on comm (ranks agree on failure). starts[0 .. size]: the
 * positions of each rank (the same array on every rank; starts[0] = 0,
 * non-decreasing). batch >= 1, row >= 1 elements. LDM_EINPUT for bad starts,
 * LDM_ERUNTIME if a count exceeds INT_MAX (mpi/util.h). */
ldm_status ldm_row_gather_create(MPI_Comm comm, const int64_t *starts, int64_t batch,
                                 int64_t row, ldm_row_gather **out);

/* Collective on the plan's comm. all [batch, starts[size], row] ←
 * local [batch, starts[rank+1] − starts[rank], row] of every rank.
 * local == NULL: in place (this rank's block is already in `all`); with one
 * rank in place nothing moves. */
ldm_status ldm_row_gather_run(const ldm_row_gather *g, const float *local, float *all);

/* Local. NULL is fine; *g becomes NULL. */
void ldm_row_gather_destroy(ldm_row_gather **g);

#endif
