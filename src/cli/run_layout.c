#include "run_layout.h"

#include <string.h>

#include "mpi/util.h"

static MPI_Comm split_or_null(MPI_Comm c)
{
    int n = 1;
    if (c != MPI_COMM_NULL)
        MPI_Comm_size(c, &n);
    return n > 1 ? c : MPI_COMM_NULL;
}

ldm_status ldm_run_layout_create(const ldm_pipeline *p, const ldm_grid_options *opts,
                                 int64_t items, int cfg, int height, int width,
                                 ldm_run_layout *out)
{
    ldm_status st = LDM_OK;
    ldm_pipeline_sizes sizes;
    ldm_grid_layout layout;
    ldm_grid_options o = *opts;
    int world = 1;
    memset(out, 0, sizeof *out);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    LDM_CHECK(ldm_pipeline_parallel_sizes(p, height, width, &sizes));
    ldm_grid_model model = { .items = items, .cfg = cfg, .norm_groups = sizes.norm_groups,
                             .heads = sizes.heads, .text_heads = sizes.text_heads,
                             .min_rows = sizes.min_rows };
    /* Without --grid, ldm_grid_plan chooses (mpi/grid.h: CFG first, then
     * the largest spatial split the coarsest latent allows, then the
     * channel split). When no Pc × Ps grid fits the ranks a group gets
     * (e.g. 3 ranks and 16 GroupNorm groups), fall back to the 1 × 1 grid:
     * the extra ranks become groups (idle past the items), as without a
     * model split. An explicit --grid is never changed. */
    if (o.pc > 0 && o.ps > 0) {
        /* A --grid the model cannot take is named as such at any rank
         * count (before the count itself is checked). */
        ldm_grid_options alone = { .groups = 1, .pc = o.pc, .ps = o.ps, .cfg_parallel = 0 };
        ldm_grid_model m = model;
        m.cfg = 0;
        LDM_CHECK(ldm_grid_plan(o.pc * o.ps, &alone, &m, &layout));
    }
    int chosen = o.pc == 0 && o.ps == 0 && ldm_pipeline_model_split();
    if (!ldm_pipeline_model_split() && o.pc == 0 && o.ps == 0)
        o.pc = o.ps = 1;
    st = ldm_grid_plan(world, &o, &model, &layout);
    int fallback = st != LDM_OK && chosen;
    if (fallback) {
        ldm_error_clear();
        o.pc = o.ps = 1;
        st = ldm_grid_plan(world, &o, &model, &layout);
    }
    if (st != LDM_OK && (fallback || !chosen) && opts->pc == 0 && strstr(ldm_error_message(), "--grid")) {
        /* The message would name a --grid 1x1 the user never gave. */
        ldm_error_clear();
        if (o.groups > 0)
            st = ldm_error(LDM_EINPUT,
                           "--groups %d%s: %d ranks do not make %d group(s) of %d rank(s), "
                           "and no channel/spatial grid fits the rest (pass --grid)",
                           o.groups, o.cfg_parallel == 1 ? " with --cfg-parallel" : "", world,
                           o.groups, o.cfg_parallel == 1 ? 2 : 1);
        else
            st = ldm_error(LDM_EINPUT,
                           "--cfg-parallel: %d ranks do not pair up into CFG branches (needs an "
                           "even number, or pass --grid)",
                           world);
    }
    LDM_CHECK(st);
    LDM_CHECK(ldm_grid_create(MPI_COMM_WORLD, &layout, &out->grid));
    const ldm_grid *g = out->grid;
    out->parallel = (ldm_txt2img_parallel){
        .cfg = layout.cfg == 2 ? g->cfg_comm : MPI_COMM_NULL,
        .channel = split_or_null(g->channel),
        .spatial = split_or_null(g->spatial),
    };
    int group_rank = 0;
    MPI_Comm_rank(g->group_comm, &group_rank);
    out->leader = group_rank == 0;
cleanup:
    return st;
}

void ldm_run_layout_entries(const ldm_run_layout *rl, int rank, int64_t count, int64_t *e0,
                            int64_t *e1)
{
    const ldm_grid_layout *l = &rl->grid->layout;
    int per_group = l->cfg * l->pc * l->ps;
    *e0 = *e1 = 0;
    if (rank % per_group != 0)
        return;
    ldm_mpi_partition(count, l->groups, rank / per_group, 1, e0, e1);
}

void ldm_run_layout_print(const ldm_run_layout *rl, FILE *to)
{
    const ldm_grid_layout *l = &rl->grid->layout;
    fprintf(to, "layout: %d rank(s) = %d group(s) x CFG %d x grid %dx%d\n", l->world, l->groups,
            l->cfg, l->pc, l->ps);
}

void ldm_run_layout_destroy(ldm_run_layout *rl)
{
    ldm_grid_destroy(&rl->grid);
    memset(rl, 0, sizeof *rl);
}
