/* test_grid: flag parsing, layout choice and checks (pure, the same at every
 * rank count), the communicators ldm_grid_create builds at 1-4 ranks, and the
 * checked MPI helpers of mpi/util.h. Expected output: "N ranks: P passed, 0
 * failed" at np 1, 2, 3 and 4. */
#include <limits.h>
#include <stdlib.h>

#include "mpi/grid.h"
#include "mpi/util.h"
#include "mpi_harness.h"

/* The LDM UNet at 256²: 32 GroupNorm groups, 8 heads, latent 32 → 4 rows. */
static const ldm_grid_model unet256 = { .items = 1, .cfg = 1, .norm_groups = 32, .heads = 8,
                                        .text_heads = 8, .min_rows = 4 };

static ldm_grid_layout plan_ok(int world, const ldm_grid_options *o, const ldm_grid_model *m)
{
    ldm_grid_layout l;
    ldm_error_clear();
    ldm_status st = ldm_grid_plan(world, o, m, &l);
    CHECK_MSG(st == LDM_OK, "world %d: %s", world, ldm_error_message());
    return l;
}

static int same(ldm_grid_layout l, int g, int cfg, int pc, int ps)
{
    return l.groups == g && l.cfg == cfg && l.pc == pc && l.ps == ps &&
           l.world == g * cfg * pc * ps;
}

static void test_parse(void)
{
    ldm_grid_options o;
    ldm_grid_options_init(&o);
    CHECK(o.groups == 0 && o.pc == 0 && o.ps == 0 && o.cfg_parallel == -1);
    CHECK(ldm_grid_parse_flag(&o, "--grid", "2x3") == LDM_OK && o.pc == 2 && o.ps == 3);
    CHECK(ldm_grid_parse_flag(&o, "--grid", "4X1") == LDM_OK && o.pc == 4 && o.ps == 1);
    CHECK(ldm_grid_parse_flag(&o, "--groups", "16") == LDM_OK && o.groups == 16);
    CHECK(ldm_grid_parse_flag(&o, "--cfg-parallel", NULL) == LDM_OK && o.cfg_parallel == 1);
    CHECK_FAILS_WITH(ldm_grid_parse_flag(&o, "--grid", "2by2"), LDM_EINPUT,
                     "--grid: expected PcxPs with positive integers (e.g. 2x2), got \"2by2\"");
    CHECK_FAILS_WITH(ldm_grid_parse_flag(&o, "--grid", "0x2"), LDM_EINPUT, "got \"0x2\"");
    CHECK_FAILS_WITH(ldm_grid_parse_flag(&o, "--grid", "2x"), LDM_EINPUT, "got \"2x\"");
    CHECK_FAILS_WITH(ldm_grid_parse_flag(&o, "--grid", "2x2x2"), LDM_EINPUT, "--grid");
    CHECK_FAILS_WITH(ldm_grid_parse_flag(&o, "--grid", "-1x2"), LDM_EINPUT, "--grid");
    CHECK_FAILS_WITH(ldm_grid_parse_flag(&o, "--grid", NULL), LDM_EINPUT, "--grid");
    CHECK_FAILS_WITH(ldm_grid_parse_flag(&o, "--groups", "abc"), LDM_EINPUT,
                     "--groups: expected a positive integer, got \"abc\"");
    CHECK_FAILS_WITH(ldm_grid_parse_flag(&o, "--groups", "0"), LDM_EINPUT, "--groups");
    CHECK_FAILS_WITH(ldm_grid_parse_flag(&o, "--groups", "99999999999"), LDM_EINPUT, "--groups");
    CHECK_FAILS_WITH(ldm_grid_parse_flag(&o, "--groups", "3 "), LDM_EINPUT, "--groups");
    CHECK_FAILS_WITH(ldm_grid_parse_flag(&o, "--cfg-parallel", "yes"), LDM_EINPUT,
                     "--cfg-parallel takes no value");
    CHECK_FAILS_WITH(ldm_grid_parse_flag(&o, "--tiles", "2"), LDM_EINPUT,
                     "--tiles: not a process-layout flag");
    /* Failed parses leave the options as they were. */
    CHECK(o.groups == 16 && o.pc == 4 && o.ps == 1);
}

static void test_plan(void)
{
    ldm_grid_options o;
    ldm_grid_options_init(&o);
    ldm_grid_model sweep = unet256;
    sweep.items = 100;
    /* A sweep: one group per rank. */
    CHECK(same(plan_ok(8, &o, &sweep), 8, 1, 1, 1));
    /* Fewer items than ranks: the largest divisor of the world <= items. */
    sweep.items = 3;
    CHECK(same(plan_ok(8, &o, &sweep), 2, 2, 1, 2));
    /* One image: CFG split first, then strips up to the 4 latent rows, then channels. */
    CHECK(same(plan_ok(1, &o, &unet256), 1, 1, 1, 1));
    CHECK(same(plan_ok(2, &o, &unet256), 1, 2, 1, 1));
    CHECK(same(plan_ok(3, &o, &unet256), 1, 1, 1, 3));
    CHECK(same(plan_ok(8, &o, &unet256), 1, 2, 1, 4));
    CHECK(same(plan_ok(16, &o, &unet256), 1, 2, 2, 4));
    CHECK(same(plan_ok(6, &o, &unet256), 1, 2, 1, 3));
    /* No guidance: no CFG split. */
    ldm_grid_model nocfg = unet256;
    nocfg.cfg = 0;
    CHECK(same(plan_ok(8, &o, &nocfg), 1, 1, 2, 4));
    /* Explicit flags. */
    ldm_grid_options g = o;
    g.pc = 2;
    g.ps = 2;
    CHECK(same(plan_ok(8, &g, &unet256), 1, 2, 2, 2));   /* 8 = 2 · (cfg 2) · 2 · 2 */
    CHECK(same(plan_ok(4, &g, &unet256), 1, 1, 2, 2));
    CHECK(same(plan_ok(12, &g, &unet256), 3, 1, 2, 2));  /* cfg auto: off unless it fills */
    g.cfg_parallel = 1;
    CHECK(same(plan_ok(16, &g, &unet256), 2, 2, 2, 2));
    ldm_grid_options gr = o;
    gr.groups = 2;
    CHECK(same(plan_ok(8, &gr, &unet256), 2, 2, 1, 2));
    gr.cfg_parallel = 0;
    CHECK(same(plan_ok(8, &gr, &unet256), 2, 1, 1, 4));

    ldm_grid_layout l;
    ldm_grid_options bad = o;
    bad.groups = 3;
    CHECK_FAILS_WITH(ldm_grid_plan(4, &bad, &unet256, &l), LDM_EINPUT,
                     "--groups 3: does not divide the 4 ranks");
    bad = o;
    bad.pc = 3;
    bad.ps = 1;
    CHECK_FAILS_WITH(ldm_grid_plan(3, &bad, &unet256, &l), LDM_EINPUT,
                     "--grid: Pc = 3 must divide the GroupNorm groups (32)");
    ldm_grid_model heads6 = unet256;
    heads6.heads = 6;
    bad.pc = 4;
    bad.ps = 1;
    CHECK_FAILS_WITH(ldm_grid_plan(4, &bad, &heads6, &l), LDM_EINPUT,
                     "Pc = 4 must divide the UNet attention heads (6)");
    bad.pc = 1;
    bad.ps = 8;
    CHECK_FAILS_WITH(ldm_grid_plan(8, &bad, &unet256, &l), LDM_EINPUT,
                     "--grid: Ps = 8 is larger than the smallest latent row count it must split (4)");
    bad.pc = 2;
    bad.ps = 2;
    bad.groups = 2;
    CHECK_FAILS_WITH(ldm_grid_plan(4, &bad, &unet256, &l), LDM_EINPUT,
                     "--grid 2x2: G·Pc·Ps·(cfg ? 2 : 1) = 2·2·2·1 = 8 must equal the 4 ranks");
    bad = o;
    bad.pc = 2;
    bad.ps = 2;
    CHECK_FAILS_WITH(ldm_grid_plan(6, &bad, &unet256, &l), LDM_EINPUT,
                     "--grid 2x2: 4 ranks per group do not divide the 6 ranks");
    bad = o;
    bad.cfg_parallel = 1;
    CHECK_FAILS_WITH(ldm_grid_plan(2, &bad, &nocfg, &l), LDM_EINPUT,
                     "--cfg-parallel: this run has no classifier-free guidance");
    CHECK_FAILS_WITH(ldm_grid_plan(3, &bad, &unet256, &l), LDM_EINPUT,
                     "--cfg-parallel: a group has 3 ranks; the two branches need an even number");
    /* 5 ranks per branch: Ps <= 4 does not divide, Pc = 5 divides nothing. */
    CHECK_FAILS_WITH(ldm_grid_plan(10, &o, &unet256, &l), LDM_EINPUT,
                     "no Pc × Ps grid of 5 ranks fits the model");
    CHECK_FAILS_WITH(ldm_grid_plan(0, &o, &unet256, &l), LDM_EINPUT, "world size 0");
}

/* The communicators of `layout` have the right sizes and members. */
static void check_create(const ldm_grid_layout *layout)
{
    ldm_grid *g = NULL;
    ldm_error_clear();
    ldm_status st = ldm_grid_create(MPI_COMM_WORLD, layout, &g);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st != LDM_OK)
        return;
    int s_group, s_cfg, s_cart, s_channel, s_spatial, r_spatial, r_channel, r_cfg;
    MPI_Comm_size(g->group_comm, &s_group);
    MPI_Comm_size(g->cfg_comm, &s_cfg);
    MPI_Comm_size(g->cart, &s_cart);
    MPI_Comm_size(g->channel, &s_channel);
    MPI_Comm_size(g->spatial, &s_spatial);
    MPI_Comm_rank(g->spatial, &r_spatial);
    MPI_Comm_rank(g->channel, &r_channel);
    MPI_Comm_rank(g->cfg_comm, &r_cfg);
    const ldm_grid_layout *l = &g->layout;
    CHECK(s_group == l->cfg * l->pc * l->ps && s_cfg == l->cfg && s_cart == l->pc * l->ps);
    CHECK(s_channel == l->pc && s_spatial == l->ps);
    CHECK(r_spatial == g->spatial_rank && r_channel == g->channel_rank && r_cfg == g->branch);
    /* Contiguous ranks: world rank = ((group·cfg + branch)·Pc + pc)·Ps + ps. */
    int expect = ((g->group * l->cfg + g->branch) * l->pc + g->channel_rank) * l->ps +
                 g->spatial_rank;
    CHECK(expect == g->rank);
    /* The spatial neighbours of a rank are the adjacent world ranks. */
    int sum = 0, mine = g->rank - g->spatial_rank;
    MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, g->spatial);
    CHECK(sum == mine * l->ps);
    int eh = 0;
    MPI_Errhandler h;
    MPI_Comm_get_errhandler(g->spatial, &h);
    eh = h == MPI_ERRORS_RETURN;
    MPI_Errhandler_free(&h);
    CHECK(eh);
    ldm_grid_destroy(&g);
    CHECK(g == NULL);
    ldm_grid_destroy(&g);
}

static void test_create(int size)
{
    ldm_grid_options o;
    ldm_grid_options_init(&o);
    ldm_grid_layout l;
    ldm_grid_model sweep = unet256;
    sweep.items = 1000;
    if (ldm_grid_plan(size, &o, &sweep, &l) == LDM_OK)
        check_create(&l);
    if (ldm_grid_plan(size, &o, &unet256, &l) == LDM_OK)
        check_create(&l);
    if (size % 2 == 0) {   /* a grid with both directions > 1 where possible */
        o.pc = size / 2 > 1 ? 2 : 1;
        o.ps = size / o.pc;
        o.cfg_parallel = 0;
        if (ldm_grid_plan(size, &o, &unet256, &l) == LDM_OK)
            check_create(&l);
    }
    ldm_grid *g = NULL;
    ldm_grid_layout wrong = { .world = size + 1, .groups = size + 1, .cfg = 1, .pc = 1, .ps = 1 };
    CHECK_FAILS_WITH(ldm_grid_create(MPI_COMM_WORLD, &wrong, &g), LDM_EINPUT,
                     "does not fit the");
    CHECK(g == NULL);
}

static void test_util(void)
{
    int n = -1;
    CHECK(ldm_mpi_count(12, &n) == LDM_OK && n == 12);
    CHECK(ldm_mpi_count((size_t)INT_MAX, &n) == LDM_OK && n == INT_MAX);
    CHECK_FAILS_WITH(ldm_mpi_count((size_t)INT_MAX + 1, &n), LDM_ERUNTIME, "exceeds INT_MAX");
    CHECK(n == 0);
    CHECK(ldm_mpi_check(MPI_SUCCESS, "x") == LDM_OK);
    CHECK_FAILS_WITH(ldm_mpi_check(MPI_ERR_COMM, "halo exchange: MPI_Sendrecv"), LDM_ERUNTIME,
                     "halo exchange: MPI_Sendrecv failed: ");
    /* Partitions cover the range in order, aligned, and differ by <= one unit. */
    for (int64_t total = 1; total <= 40; total++) {
        for (int64_t align = 1; align <= 8; align *= 2) {
            for (int parts = 1; parts <= 6; parts++) {
                int64_t starts[7], prev_end = 0, units = (total + align - 1) / align;
                ldm_mpi_partition_starts(total, parts, align, 3, starts);
                int ok = starts[0] == 0 && starts[parts] == 3 * total;
                for (int i = 0; i < parts; i++) {
                    int64_t b, e;
                    ldm_mpi_partition(total, parts, i, align, &b, &e);
                    int64_t u = (e - b + align - 1) / align;
                    ok = ok && b == prev_end && e >= b && (b % align == 0) &&
                         starts[i] == 3 * b && u >= units / parts && u <= units / parts + 1;
                    prev_end = e;
                }
                CHECK_MSG(ok && prev_end == total, "total %lld align %lld parts %d",
                          (long long)total, (long long)align, parts);
            }
        }
    }
    float buf[3] = { 1.0f, 2.0f, 3.0f };
    CHECK(ldm_mpi_allreduce_sum(MPI_COMM_WORLD, buf, 3) == LDM_OK);
    CHECK(buf[0] == (float)ldm_mpi_test_size && buf[2] == 3.0f * (float)ldm_mpi_test_size);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    test_parse();
    test_plan();
    test_util();
    test_create(ldm_mpi_test_size);
    return ldm_mpi_test_finish();
}
