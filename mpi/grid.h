/* grid.h — the process layout: groups, CFG branches, a Pc × Ps grid.
 *
 *   MPI_COMM_WORLD (world ranks)
 *     └─ G data-parallel groups (`group_comm`, world / G contiguous ranks):
 *        each makes its own images (sweep items, batch entries)
 *        └─ optional CFG split: 2 branches of Pc·Ps ranks, one computing the
 *           unconditional UNet pass and one the text-conditioned pass;
 *           `cfg_comm` pairs the ranks with equal (pc, ps) in both branches
 *           └─ per branch a Pc × Ps Cartesian grid (`cart`, MPI_Cart_create,
 *              row-major: cart rank = pc·Ps + ps), giving
 *                `channel`  the Pc ranks of one spatial strip (channel split)
 *                `spatial`  the Ps ranks of one channel slice (row strips)
 *
 *   world = G · (cfg ? 2 : 1) · Pc · Ps
 *
 * Two steps, so the choice can be checked without MPI (and identically on
 * every rank, so ranks fail together without communicating):
 *   ldm_grid_plan    flags + model sizes + world size → layout (pure)
 *   ldm_grid_create  layout → communicators (collective on world)
 *
 * Flags (the CLI passes them through ldm_grid_parse_flag):
 *   --groups G         data-parallel groups
 *   --grid PcxPs       channel × spatial ranks inside a group (e.g. 2x2)
 *   --cfg-parallel     run the two classifier-free-guidance branches on
 *                      separate ranks
 * Defaults: G = the largest divisor of the world not above the number of
 * items (a sweep: G = world, near-linear scaling); the ranks left inside a
 * group take the CFG split first (when guidance is on and they are even:
 * the branches exchange one latent per step), then the largest spatial
 * split the smallest latent allows, then the channel split.
 */
#ifndef LDM_MPI_GRID_H
#define LDM_MPI_GRID_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

/* What the user asked for; zero / -1 fields are chosen by ldm_grid_plan. */
typedef struct ldm_grid_options {
    int groups;        /* --groups G; 0 = choose */
    int pc, ps;        /* --grid PcxPs; 0, 0 = choose */
    int cfg_parallel;  /* --cfg-parallel: 1; 0 = off; -1 = choose */
} ldm_grid_options;

/* Local. The options before any flag: everything chosen. */
void ldm_grid_options_init(ldm_grid_options *opts);

/* The sizes a layout must respect (the caller reads them from the models). */
typedef struct ldm_grid_model {
    int64_t items;        /* independent images in the run (sweep items × batch) */
    int cfg;              /* 1 when the pipeline runs both CFG branches (guidance > 1) */
    int64_t norm_groups;  /* GroupNorm groups (32); Pc must divide it; 0 = no constraint */
    int64_t heads;        /* UNet attention heads (8); Pc must divide it; 0 = none */
    int64_t text_heads;   /* text-encoder heads; Pc must divide it; 0 = none */
    int64_t min_rows;     /* rows of the smallest latent a strip split cuts, i.e.
                             ceil(latent_h / 2^downsamplings) (4 at 256²); Ps must
                             not exceed it; 0 = no constraint */
} ldm_grid_model;

/* A complete layout: world == groups · cfg · pc · ps. */
typedef struct ldm_grid_layout {
    int world;   /* ranks in all */
    int groups;  /* G */
    int cfg;     /* 2: CFG branches on separate ranks; 1: not split */
    int pc;      /* channel ranks */
    int ps;      /* spatial ranks */
} ldm_grid_layout;

/* Local. Apply one flag: "--groups" with a positive integer, "--grid" with
 * "PcxPs", "--cfg-parallel" with value NULL. LDM_EINPUT naming the flag and
 * the bad value. */
ldm_status ldm_grid_parse_flag(ldm_grid_options *opts, const char *flag, const char *value);

/* Local. Parse "PcxPs" (e.g. "2x4"); errors name --grid. */
ldm_status ldm_grid_parse_shape(const char *value, int *pc, int *ps);

/* Local and deterministic (same inputs → same result on every rank).
 * Complete the options for `world` ranks and check them against the model:
 * the product must equal the world size, Pc must divide the GroupNorm groups
 * and the head counts, Ps must not exceed min_rows, --cfg-parallel needs
 * guidance. LDM_EINPUT naming the flag (or saying that no default fits and
 * which flag to pass). */
ldm_status ldm_grid_plan(int world, const ldm_grid_options *opts, const ldm_grid_model *model,
                         ldm_grid_layout *out);

/* The communicators of one rank. All owned (freed by ldm_grid_destroy), all
 * with MPI_ERRORS_RETURN. */
typedef struct ldm_grid {
    ldm_grid_layout layout;
    int rank;             /* rank in world */
    int group;            /* this rank's group, 0 .. G-1 */
    int branch;           /* CFG branch: 0 unconditional, 1 text; 0 when not split */
    int channel_rank;     /* grid coordinate along Pc (= rank in `channel`) */
    int spatial_rank;     /* grid coordinate along Ps (= rank in `spatial`) */
    MPI_Comm group_comm;  /* [cfg · pc · ps] ranks making the same images */
    MPI_Comm cfg_comm;    /* [cfg] same (pc, ps) in each branch, rank = branch */
    MPI_Comm cart;        /* [pc × ps] Cartesian grid of one branch */
    MPI_Comm channel;     /* [pc] the ranks of one spatial strip */
    MPI_Comm spatial;     /* [ps] the ranks of one channel slice */
} ldm_grid;

/* Collective on world. Build the communicators of `layout` (from
 * ldm_grid_plan; its world must equal world's size, else LDM_EINPUT).
 * Ranks agree on failure (ldm_mpi_agree), so all fail together; *out is
 * NULL on failure. */
ldm_status ldm_grid_create(MPI_Comm world, const ldm_grid_layout *layout, ldm_grid **out);

/* Collective on the grid's communicators (every rank of the world that
 * created it). Free them and the struct; NULL is fine; *grid becomes NULL. */
void ldm_grid_destroy(ldm_grid **grid);

#endif
