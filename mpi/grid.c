/* grid.c — choosing and building the process layout (grid.h). */
#include "grid.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "mpi/agree.h"
#include "mpi/util.h"

enum { GRID_MAX_RANKS = 1 << 24 };

void ldm_grid_options_init(ldm_grid_options *opts)
{
    opts->groups = 0;
    opts->pc = 0;
    opts->ps = 0;
    opts->cfg_parallel = -1;
}

/* A positive int in [1, GRID_MAX_RANKS] spanning [s, end); 0 if not one. */
static int parse_positive(const char *s, const char **end)
{
    if (*s < '0' || *s > '9')
        return 0;
    errno = 0;
    char *e = NULL;
    long v = strtol(s, &e, 10);
    if (errno || v < 1 || v > GRID_MAX_RANKS)
        return 0;
    *end = e;
    return (int)v;
}

ldm_status ldm_grid_parse_shape(const char *value, int *pc, int *ps)
{
    const char *end = value;
    int a = value ? parse_positive(value, &end) : 0;
    int b = 0;
    if (a && (*end == 'x' || *end == 'X'))
        b = parse_positive(end + 1, &end);
    if (!a || !b || *end != '\0')
        return ldm_error(LDM_EINPUT,
                         "--grid: expected PcxPs with positive integers (e.g. 2x2), got \"%s\"",
                         value ? value : "");
    *pc = a;
    *ps = b;
    return LDM_OK;
}

ldm_status ldm_grid_parse_flag(ldm_grid_options *opts, const char *flag, const char *value)
{
    if (strcmp(flag, "--groups") == 0) {
        const char *end = value;
        int g = value ? parse_positive(value, &end) : 0;
        if (!g || *end != '\0')
            return ldm_error(LDM_EINPUT, "--groups: expected a positive integer, got \"%s\"",
                             value ? value : "");
        opts->groups = g;
        return LDM_OK;
    }
    if (strcmp(flag, "--grid") == 0)
        return ldm_grid_parse_shape(value, &opts->pc, &opts->ps);
    if (strcmp(flag, "--cfg-parallel") == 0) {
        if (value)
            return ldm_error(LDM_EINPUT, "--cfg-parallel takes no value, got \"%s\"", value);
        opts->cfg_parallel = 1;
        return LDM_OK;
    }
    return ldm_error(LDM_EINPUT, "%s: not a process-layout flag (--groups, --grid, --cfg-parallel)",
                     flag);
}

/* The first of the model's counts Pc does not divide, or NULL. */
static const char *pc_misfit(int pc, const ldm_grid_model *m, int64_t *value)
{
    const struct { const char *what; int64_t n; } need[] = {
        { "the GroupNorm groups", m->norm_groups },
        { "the UNet attention heads", m->heads },
        { "the text-encoder attention heads", m->text_heads },
    };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (need[i].n > 0 && need[i].n % pc != 0) {
            *value = need[i].n;
            return need[i].what;
        }
    }
    return NULL;
}

/* Pc × Ps for `ranks` ranks: the largest Ps within min_rows whose Pc fits. */
static int choose_grid(int ranks, const ldm_grid_model *m, int *pc, int *ps)
{
    int top = ranks;
    if (m->min_rows > 0 && m->min_rows < top)
        top = (int)m->min_rows;
    for (int s = top; s >= 1; s--) {
        int64_t unused;
        if (ranks % s == 0 && !pc_misfit(ranks / s, m, &unused)) {
            *pc = ranks / s;
            *ps = s;
            return 1;
        }
    }
    return 0;
}

static ldm_status check_grid(const ldm_grid_layout *l, const ldm_grid_model *m, int given)
{
    const char *flag = given ? "--grid" : "the chosen layout (pass --grid or --groups)";
    int64_t value = 0;
    const char *what = pc_misfit(l->pc, m, &value);
    if (what)
        return ldm_error(LDM_EINPUT, "%s: Pc = %d must divide %s (%lld)", flag, l->pc, what,
                         (long long)value);
    if (m->min_rows > 0 && l->ps > m->min_rows)
        return ldm_error(LDM_EINPUT,
                         "%s: Ps = %d is larger than the smallest latent row count it must "
                         "split (%lld)",
                         flag, l->ps, (long long)m->min_rows);
    return LDM_OK;
}

ldm_status ldm_grid_plan(int world, const ldm_grid_options *opts, const ldm_grid_model *model,
                         ldm_grid_layout *out)
{
    memset(out, 0, sizeof *out);
    if (world < 1)
        return ldm_error(LDM_EINPUT, "process layout: world size %d is not positive", world);
    int grid_given = opts->pc > 0 && opts->ps > 0;
    if (opts->cfg_parallel == 1 && !model->cfg)
        return ldm_error(LDM_EINPUT, "--cfg-parallel: this run has no classifier-free guidance "
                                     "(guidance scale <= 1), so there are no branches to split");
    int cfg_min = opts->cfg_parallel == 1 ? 2 : 1;

    int g = opts->groups;
    int64_t items = model->items > 0 ? model->items : 1;
    if (g == 0 && grid_given) {
        /* More groups than items would idle: split the CFG branches instead. */
        int64_t grid = (int64_t)opts->pc * opts->ps;
        if (opts->cfg_parallel == -1 && model->cfg && world % (2 * grid) == 0 &&
            world / grid > items)
            cfg_min = 2;
        int per = cfg_min * opts->pc * opts->ps;
        if (world % per != 0)
            return ldm_error(LDM_EINPUT,
                             "--grid %dx%d%s: %d ranks per group do not divide the %d ranks",
                             opts->pc, opts->ps, cfg_min == 2 ? " with --cfg-parallel" : "", per,
                             world);
        g = world / per;
    } else if (g == 0) {
        for (g = world; g > 1 && (g > items || world % g != 0); g--)
            ;
    }
    if (world % g != 0)
        return ldm_error(LDM_EINPUT, "--groups %d: does not divide the %d ranks", g, world);
    int ranks = world / g;

    int cfg = 1;
    if (opts->cfg_parallel == 1) {
        if (ranks % 2 != 0)
            return ldm_error(LDM_EINPUT,
                             "--cfg-parallel: a group has %d ranks; the two branches need an "
                             "even number",
                             ranks);
        cfg = 2;
    } else if (opts->cfg_parallel == -1 && model->cfg && ranks % 2 == 0 &&
               (!grid_given || ranks == 2 * opts->pc * opts->ps)) {
        cfg = 2;
    }
    int branch = ranks / cfg;

    *out = (ldm_grid_layout){ .world = world, .groups = g, .cfg = cfg };
    if (grid_given) {
        if (opts->pc * opts->ps != branch)
            return ldm_error(LDM_EINPUT,
                             "--grid %dx%d: G·Pc·Ps·(cfg ? 2 : 1) = %d·%d·%d·%d = %lld must "
                             "equal the %d ranks",
                             opts->pc, opts->ps, g, opts->pc, opts->ps, cfg,
                             (long long)g * opts->pc * opts->ps * cfg, world);
        out->pc = opts->pc;
        out->ps = opts->ps;
    } else if (!choose_grid(branch, model, &out->pc, &out->ps)) {
        return ldm_error(LDM_EINPUT,
                         "process layout: no Pc × Ps grid of %d ranks fits the model (Pc must "
                         "divide the GroupNorm groups and head counts, Ps <= %lld rows): pass "
                         "--groups or --grid",
                         branch, (long long)model->min_rows);
    }
    return check_grid(out, model, grid_given);
}

/* Set MPI_ERRORS_RETURN on a communicator we made. */
static ldm_status errors_return(MPI_Comm comm)
{
    return ldm_mpi_check(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN),
                         "grid: MPI_Comm_set_errhandler");
}

static ldm_status build(MPI_Comm world, ldm_grid *g)
{
    ldm_status st = LDM_OK;
    const ldm_grid_layout *l = &g->layout;
    int per_group = l->cfg * l->pc * l->ps, per_branch = l->pc * l->ps;
    int local = g->rank % per_group;
    MPI_Comm branch = MPI_COMM_NULL;
    g->group = g->rank / per_group;
    g->branch = local / per_branch;

    LDM_CHECK(ldm_mpi_check(MPI_Comm_split(world, g->group, g->rank, &g->group_comm),
                            "grid: MPI_Comm_split (groups)"));
    LDM_CHECK(errors_return(g->group_comm));
    LDM_CHECK(ldm_mpi_check(MPI_Comm_split(g->group_comm, local % per_branch, g->branch,
                                           &g->cfg_comm),
                            "grid: MPI_Comm_split (CFG pairs)"));
    LDM_CHECK(errors_return(g->cfg_comm));
    LDM_CHECK(ldm_mpi_check(MPI_Comm_split(g->group_comm, g->branch, local, &branch),
                            "grid: MPI_Comm_split (CFG branches)"));
    int dims[2] = { l->pc, l->ps }, periods[2] = { 0, 0 }, coords[2] = { 0, 0 };
    LDM_CHECK(ldm_mpi_check(MPI_Cart_create(branch, 2, dims, periods, 0, &g->cart),
                            "grid: MPI_Cart_create"));
    LDM_CHECK(errors_return(g->cart));
    int cart_rank = 0;
    LDM_CHECK(ldm_mpi_check(MPI_Comm_rank(g->cart, &cart_rank), "grid: MPI_Comm_rank"));
    LDM_CHECK(ldm_mpi_check(MPI_Cart_coords(g->cart, cart_rank, 2, coords),
                            "grid: MPI_Cart_coords"));
    g->channel_rank = coords[0];
    g->spatial_rank = coords[1];
    int keep_channel[2] = { 1, 0 }, keep_spatial[2] = { 0, 1 };
    LDM_CHECK(ldm_mpi_check(MPI_Cart_sub(g->cart, keep_channel, &g->channel),
                            "grid: MPI_Cart_sub (channel)"));
    LDM_CHECK(errors_return(g->channel));
    LDM_CHECK(ldm_mpi_check(MPI_Cart_sub(g->cart, keep_spatial, &g->spatial),
                            "grid: MPI_Cart_sub (spatial)"));
    LDM_CHECK(errors_return(g->spatial));
cleanup:
    if (branch != MPI_COMM_NULL)
        MPI_Comm_free(&branch);
    return st;
}

ldm_status ldm_grid_create(MPI_Comm world, const ldm_grid_layout *layout, ldm_grid **out)
{
    ldm_status st = LDM_OK;
    ldm_grid *g = NULL;
    int size = 0, rank = 0;
    *out = NULL;
    LDM_CHECK(ldm_mpi_check(MPI_Comm_size(world, &size), "grid: MPI_Comm_size"));
    LDM_CHECK(ldm_mpi_check(MPI_Comm_rank(world, &rank), "grid: MPI_Comm_rank"));
    if (layout->world != size ||
        (int64_t)layout->groups * layout->cfg * layout->pc * layout->ps != size ||
        layout->groups < 1 || layout->pc < 1 || layout->ps < 1 ||
        (layout->cfg != 1 && layout->cfg != 2)) {
        st = ldm_error(LDM_EINPUT,
                       "grid: layout G=%d cfg=%d Pc=%d Ps=%d for %d ranks does not fit the %d "
                       "ranks of the communicator",
                       layout->groups, layout->cfg, layout->pc, layout->ps, layout->world, size);
        goto cleanup;
    }
    /* Allocation may fail on one rank only: agree before the collectives. */
    st = ldm_calloc(sizeof *g, "process grid", (void **)&g);
    if (g) {
        g->layout = *layout;
        g->rank = rank;
        g->group_comm = g->cfg_comm = g->cart = g->channel = g->spatial = MPI_COMM_NULL;
    }
    LDM_CHECK(ldm_mpi_agree(world, st));
    st = build(world, g);
    LDM_CHECK(ldm_mpi_agree(world, st));
    *out = g;
    g = NULL;
cleanup:
    ldm_grid_destroy(&g);
    return st;
}

void ldm_grid_destroy(ldm_grid **grid)
{
    if (!grid || !*grid)
        return;
    ldm_grid *g = *grid;
    MPI_Comm *comms[] = { &g->spatial, &g->channel, &g->cart, &g->cfg_comm, &g->group_comm };
    for (size_t i = 0; i < sizeof comms / sizeof comms[0]; i++)
        if (*comms[i] != MPI_COMM_NULL)
            MPI_Comm_free(comms[i]);
    ldm_free(g);
    *grid = NULL;
}
