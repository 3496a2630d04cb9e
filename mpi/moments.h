/* moments.h — distributed GroupNorm statistics.
 *
 * A spatially split GroupNorm is a local kernel, one collective, a local
 * kernel (the composition lives in src/models):
 *
 *   ldm_group_norm_moments(m, x_strip, n, c, rows·w, groups, layout)  kernels/norm.h
 *   ldm_mpi_moments_allreduce(spatial, m, n·groups)                    here
 *   ldm_group_norm_apply(y_strip, x_strip, m, …)                       kernels/norm.h
 *
 * The reduction merges (count, mean, M2) triples with Chan et al.'s exact
 * pairwise formula — the one ldm_moments_merge uses — in rank order (the
 * MPI operation is declared non-commutative), never sums of squares, so
 * the statistics equal the single-rank two-pass ones to rounding even for
 * activations with a large mean. mpi/ does not include kernels/norm.h
 * (DESIGN.md §2); the buffer is `count` structs of three doubles, which is
 * the layout of kernels/norm.h's ldm_moments { count, mean, m2 }.
 */
#ifndef LDM_MPI_MOMENTS_H
#define LDM_MPI_MOMENTS_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

/* Collective on comm. moments: [count] × {count, mean, m2} (doubles); each
 * entry becomes the moments of the union of all ranks' entries (rank order).
 * With one rank: nothing moves. Volume: 24·count bytes per rank and step of
 * MPI's reduction tree. */
ldm_status ldm_mpi_moments_allreduce(MPI_Comm comm, void *moments, int64_t count);

#endif
