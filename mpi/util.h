/* util.h — checked MPI counts and error codes, shared by every mpi/ module.
 *
 * MPI counts and displacements are `int`; a weight or an activation can
 * exceed INT_MAX elements (or bytes), so every count passes through
 * ldm_mpi_count, which fails with a message instead of wrapping.
 *
 * Every MPI call in mpi/ is checked with ldm_mpi_check. That only works on
 * communicators whose error handler is MPI_ERRORS_RETURN: the program sets
 * it on MPI_COMM_WORLD (src/cli/main.c), communicators split or duplicated
 * from it inherit it, and ldm_grid_create sets it on every communicator it
 * makes.
 */
#ifndef LDM_MPI_UTIL_H
#define LDM_MPI_UTIL_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Local. *out = (int)n, or LDM_ERUNTIME ("... exceeds INT_MAX ...") when n
 * does not fit an MPI count. */
ldm_status ldm_mpi_count(size_t n, int *out);

/* Local. LDM_OK for MPI_SUCCESS, else LDM_ERUNTIME with a message naming
 * `what` (the call, e.g. "halo exchange: MPI_Sendrecv") and MPI's own text. */
ldm_status ldm_mpi_check(int mpi_rc, const char *what);

/* Collective on comm. buf[count] ← Σ over ranks (MPI_SUM, in place). The
 * reduction order is MPI's: results may differ from a 1-rank sum in the
 * last bits. With one rank: nothing moves. */
ldm_status ldm_mpi_allreduce_sum(MPI_Comm comm, float *buf, int64_t count);

/* Local and deterministic. Split `total` items (rows, tokens, channels,
 * sweep items) into `parts` contiguous ranges whose boundaries are
 * multiples of `align` (>= 1; the last range ends at total):
 *   units u = ceil(total / align); range i = units [⌊i·u/parts⌋, ⌊(i+1)·u/parts⌋)
 *   begin = min(unit · align, total)
 * so ranges differ by at most one unit and are empty only when u < parts.
 * mpi/halo.h explains the align that makes strided convolutions exact. */
void ldm_mpi_partition(int64_t total, int parts, int index, int64_t align, int64_t *begin,
                       int64_t *end);

/* Local. starts[0 .. parts] = the partition's boundaries times `scale`
 * (e.g. rows → tokens with scale = width): range i is [starts[i],
 * starts[i+1]). The form the gather functions take. */
void ldm_mpi_partition_starts(int64_t total, int parts, int64_t align, int64_t scale,
                              int64_t *starts);

#endif
