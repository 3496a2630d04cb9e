/* halo.h — row strips of an NHWC activation and their halo exchange.
 *
 * The spatial communicator's Ps ranks split an activation [n, h, w, c]
 * (NHWC) into row strips, rank i owning rows [r0, r1) of every batch entry:
 *
 *   ldm_mpi_partition(h, Ps, i, align, &r0, &r1)        (mpi/util.h)
 *
 * The strip rule (why `align`): a network that downsamples k times by a
 * stride-2 convolution and upsamples back partitions its full-resolution
 * rows with align = 2^k and each level below with align / 2, … , 1. Then the
 * boundaries of one level are exactly twice those of the next coarser one
 * (ceil(h/align) = ceil(ceil(h/2) / (align/2)), so both levels have the same
 * units), and
 *   - a stride-2 3×3 convolution of strip [r0, r1) (r0, r1 even) gives the
 *     global output rows [r0/2, r1/2) (the last strip: to the end), needing
 *     pad_top rows above and 3 − 2 − pad_top below: padding 1 → 1 row above,
 *     0 below; diffusers' padding 0 = pad (0, 1, 0, 1) → 0 above, 1 below;
 *   - nearest 2× upsampling of coarse strip [b0, b1) gives exactly the fine
 *     strip [2·b0, 2·b1): no halo (also for the UNet's forced odd sizes,
 *     where the coarse level has ceil(h/2) rows);
 *   - a stride-1 3×3 convolution needs 1 row above and 1 below.
 * This holds for every level whose output height is ceil(h / 2) (padding 1,
 * all UNet and VAE-decoder levels) or h / 2 with h even (padding 0). Ps may
 * not exceed the row count of the coarsest level: then every strip of every
 * level has at least one row, all the halos above need.
 *
 * Local buffers: rank i keeps [n, above + (r1 − r0) + below, w, c], its own
 * rows starting at row `above`. Halo rows exist only towards a neighbour:
 * at the global top and bottom nothing is exchanged and the local conv uses
 * the layer's own padding there (ldm_halo_conv_pads), so that with one rank
 * the local buffer is the global tensor and the conv the global conv.
 */
#ifndef LDM_MPI_HALO_H
#define LDM_MPI_HALO_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

/* Local. Halo rows a convolution with kernel height kh, `stride` and
 * pad_top needs for strips whose boundaries are multiples of stride:
 * above = pad_top, below = max(0, kh − stride − pad_top). */
void ldm_halo_conv_rows(int64_t kh, int64_t stride, int64_t pad_top, int64_t *above,
                        int64_t *below);

typedef struct ldm_halo_desc {
    int64_t n, h, w, c;    /* global activation [n, h, w, c] (NHWC) */
    int64_t align;         /* strip boundaries are multiples of align (>= 1) */
    int64_t above, below;  /* halo rows wanted from the neighbour above / below */
} ldm_halo_desc;

/* A halo exchange plan for one rank (PETSc-like: create, use, destroy). */
typedef struct ldm_halo {
    MPI_Comm comm;          /* borrowed: the spatial communicator */
    ldm_halo_desc desc;
    int rank, size;         /* in comm: strip index and strip count */
    int64_t r0, r1;         /* owned global rows [r0, r1) */
    int64_t above, below;   /* halo rows in the local buffer (0 at a global edge) */
    int64_t local_h;        /* above + (r1 − r0) + below */
    MPI_Datatype above_type;  /* owned: n blocks of desc.above rows of the local buffer */
    MPI_Datatype below_type;  /* owned: n blocks of desc.below rows */
    MPI_Request req[4];     /* in flight between _begin and _end */
} ldm_halo;

/* Collective on `spatial` (ranks agree on failure). Plan the strips and
 * the exchange. LDM_EINPUT when the description is bad or a strip has fewer
 * rows than the halo it must give (message: the strip and the row counts;
 * use fewer spatial ranks). *out is NULL on failure. */
ldm_status ldm_halo_create(MPI_Comm spatial, const ldm_halo_desc *desc, ldm_halo **out);

/* Collective on halo->comm (each rank talks to its two neighbours only).
 * buf [n, local_h, w, c]: fill the halo rows from the neighbours' owned
 * rows. With one rank: nothing happens. */
ldm_status ldm_halo_exchange(ldm_halo *halo, float *buf);

/* The same, split so the caller can compute the interior rows (those that
 * need no halo) in between: _begin posts the transfers, _end waits. buf
 * must stay untouched in the halo rows and the rows being sent until _end. */
ldm_status ldm_halo_exchange_begin(ldm_halo *halo, float *buf);
ldm_status ldm_halo_exchange_end(ldm_halo *halo);

/* Local. Padding for the local convolution of the buffer: the layer's
 * pad_top at the global top (else 0: the halo rows stand in for it), its
 * pad_bottom at the global bottom (else 0). */
void ldm_halo_conv_pads(const ldm_halo *halo, int64_t pad_top, int64_t pad_bottom,
                        int64_t *local_top, int64_t *local_bottom);

/* Local. Free the datatypes and the plan (no transfer may be in flight);
 * NULL is fine; *halo becomes NULL. */
void ldm_halo_destroy(ldm_halo **halo);

#endif
