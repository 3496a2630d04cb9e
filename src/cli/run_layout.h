/* run_layout.h — the MPI process layout of one `ldm txt2img` / `ldm sweep`
 * run: the --groups / --grid / --cfg-parallel flags planned against the
 * loaded model (mpi/grid.h), the communicators, and what the pipeline gets
 * from them (sample/pipeline.h ldm_txt2img_parallel).
 *
 * Groups own contiguous world ranks; group g makes batch entries (or sweep
 * items) ldm_mpi_partition(count, G, g, 1); inside a group every rank runs
 * the same entries (as a CFG branch and/or a Pc × Ps tile), and the group's
 * leader (its rank 0: branch 0, pc 0, ps 0) holds the finished images.
 */
#ifndef LDM_CLI_RUN_LAYOUT_H
#define LDM_CLI_RUN_LAYOUT_H

#include <stdint.h>
#include <stdio.h>

#include "core/status.h"
#include "mpi/grid.h"
#include "sample/pipeline.h"

typedef struct ldm_run_layout {
    ldm_grid *grid;                 /* owned */
    ldm_txt2img_parallel parallel;  /* borrowed communicators of grid */
    int leader;                     /* 1 on the group's rank 0 */
} ldm_run_layout;

/* COLLECTIVE on MPI_COMM_WORLD. Plan (ldm_grid_plan) for `items` images,
 * guidance on or off (`cfg`), images of height × width (0: the model's),
 * with the model sizes from `p`; then build the communicators. Without
 * --grid the plan chooses as mpi/grid.h describes (groups for the items,
 * then the CFG split, then spatial, then channel ranks); when no grid fits
 * a group's ranks it falls back to a 1 × 1 grid with extra ranks as groups
 * (idle when there are more groups than items). LDM_EINPUT naming
 * the flag for a layout that does not fit, on every rank. */
ldm_status ldm_run_layout_create(const ldm_pipeline *p, const ldm_grid_options *opts,
                                 int64_t items, int cfg, int height, int width,
                                 ldm_run_layout *out);

/* Local. The entries [e0, e1) of `count` that world rank `rank` delivers:
 * its group's share when it is the group's leader, else empty. */
void ldm_run_layout_entries(const ldm_run_layout *rl, int rank, int64_t count, int64_t *e0,
                            int64_t *e1);

/* "layout: 4 ranks = 2 groups × CFG 2 × grid 1x1" */
void ldm_run_layout_print(const ldm_run_layout *rl, FILE *to);

/* Collective like ldm_grid_destroy; a zeroed layout is fine. */
void ldm_run_layout_destroy(ldm_run_layout *rl);

#endif
