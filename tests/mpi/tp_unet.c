/* tp_unet.c (test_tp_unet): the UNet split over a Pc × Ps grid = the single-process UNet.
 *
 * For each case every rank builds the unsplit UNet (ldm_unet_create) and
 * runs the whole latent, then builds the split one
 * (ldm_unet_create_parallel) over the world's ranks and runs its strip; the
 * strips must match the same rows of the unsplit output within 1e-5
 * relative L2 (DESIGN.md §3). Cases, each at the world's rank count P:
 *   - Ps = P: the tiny-ldm fixture UNet (2 levels, its own diffusers
 *     weights) on a 12 × 10 latent and on 9 × 7 (odd: the upsampler's
 *     forced size, uneven strips); a 4-level UNet (synthetic weights, align
 *     8) on 64 × 48 (uneven for P = 3) and on 36 × 20 (odd 9-row and
 *     5-row levels, forced sizes); the 4-level UNet with Linear projections
 *     and downsample_padding 0 (a halo row from below) on 32 × 24;
 *   - Pc = P: the same fixture and 4-level cases split by output channel;
 *   - 2 × 2 (P = 4): both at once;
 *   - MPI_COMM_NULL communicators: bit-identical to ldm_unet_create;
 *   - padding 0 on an odd level (36 × 20): LDM_EINPUT on every rank;
 *   - too many spatial ranks for the coarsest level: LDM_EINPUT naming it.
 * Expected: "N ranks: P passed, 0 failed" at np 1-4. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "models/unet.h"
#include "mpi_harness.h"
#include "tp_synth.h"

typedef struct tp_case {
    const char *name;
    const ldm_config *cfg;
    const ldm_weights *weights;
    int64_t batch, h, w;
} tp_case;

static void run(const tp_case *tc, int pc, int ps)
{
    const int64_t ctx_tokens = 5;
    ldm_model_parallel par;
    ldm_unet *ref = NULL, *u = NULL;
    tp_grid(pc, ps, &par);
    CHECK(ldm_unet_create(tc->cfg, tc->weights, tc->batch, tc->h, tc->w, ctx_tokens, &ref) ==
          LDM_OK);
    ldm_status st = ldm_unet_create_parallel(tc->cfg, tc->weights, tc->batch, tc->h, tc->w,
                                             ctx_tokens, &par, &u);
    CHECK_MSG(st == LDM_OK, "%s: %s", tc->name, ldm_error_message());
    if (!ref || !u)
        goto cleanup;
    const ldm_unet_config *c = ldm_unet_get_config(ref);
    const int64_t nin = tc->batch * c->in_channels, nout = tc->batch * c->out_channels;
    const int64_t nctx = tc->batch * ctx_tokens * c->cross_attention_dim;
    float *x = malloc(sizeof(float) * (size_t)(nin * tc->h * tc->w));
    float *y = malloc(sizeof(float) * (size_t)(nout * tc->h * tc->w));
    float *ctx = malloc(sizeof(float) * (size_t)nctx);
    float t[2] = {999.0f, 10.0f};
    ldm_mpi_test_fill(x, nin * tc->h * tc->w, 21, 0.0f);
    ldm_mpi_test_fill(ctx, nctx, 22, 0.0f);
    CHECK(ldm_unet_forward(ref, x, t, ctx, y) == LDM_OK);

    int64_t r0, r1;
    ldm_unet_get_rows(u, &r0, &r1);
    const int64_t rows = r1 - r0;
    float *xs = malloc(sizeof(float) * (size_t)(nin * rows * tc->w));
    float *ys = malloc(sizeof(float) * (size_t)(nout * rows * tc->w));
    float *yr = malloc(sizeof(float) * (size_t)(nout * rows * tc->w));
    tp_strip(xs, x, nin, tc->h, tc->w, r0, r1, 0);
    tp_strip(yr, y, nout, tc->h, tc->w, r0, r1, 0);
    /* twice: the second forward reuses the cached context keys and values */
    for (int it = 0; it < 2; it++) {
        st = ldm_unet_forward(u, xs, t, ctx, ys);
        CHECK_MSG(st == LDM_OK, "%s: %s", tc->name, ldm_error_message());
        double max_abs, ref_rms, rel = tp_rel_l2(ys, yr, nout * rows * tc->w, &max_abs,
                                                 &ref_rms);
        if (ldm_mpi_test_rank == 0 && it == 0)
            printf("  %-24s Pc %d x Ps %d  rows [%lld, %lld)  rel L2 %.2e  max abs %.2e  "
                   "(output rms %.3f)\n", tc->name, pc, ps, (long long)r0, (long long)r1, rel,
                   max_abs, ref_rms);
        CHECK_MSG(ref_rms > 1e-3, "%s: the output is ~0 (rms %g): the test would see nothing",
                  tc->name, ref_rms);
        CHECK_MSG(rel <= 1e-5, "%s Pc %d Ps %d: rel L2 %g", tc->name, pc, ps, rel);
    }
    free(x);
    free(y);
    free(ctx);
    free(xs);
    free(ys);
    free(yr);
cleanup:
    ldm_unet_destroy(&ref);
    ldm_unet_destroy(&u);
    tp_grid_free(&par);
}

/* Null communicators: no split, bit for bit the single-process UNet. */
static void null_comms(const tp_case *tc)
{
    ldm_model_parallel par = {.channel = MPI_COMM_NULL, .spatial = MPI_COMM_NULL};
    ldm_unet *ref = NULL, *u = NULL;
    CHECK(ldm_unet_create(tc->cfg, tc->weights, tc->batch, tc->h, tc->w, 5, &ref) == LDM_OK);
    CHECK(ldm_unet_create_parallel(tc->cfg, tc->weights, tc->batch, tc->h, tc->w, 5, &par, &u) ==
          LDM_OK);
    if (!ref || !u)
        goto cleanup;
    const ldm_unet_config *c = ldm_unet_get_config(ref);
    const int64_t nx = tc->batch * c->in_channels * tc->h * tc->w;
    const int64_t ny = tc->batch * c->out_channels * tc->h * tc->w;
    const int64_t nctx = tc->batch * 5 * c->cross_attention_dim;
    float *x = malloc(sizeof(float) * (size_t)nx), *ctx = malloc(sizeof(float) * (size_t)nctx);
    float *y0 = malloc(sizeof(float) * (size_t)ny), *y1 = malloc(sizeof(float) * (size_t)ny);
    float t[2] = {500.0f, 1.0f};
    ldm_mpi_test_fill(x, nx, 41, 0.0f);
    ldm_mpi_test_fill(ctx, nctx, 42, 0.0f);
    CHECK(ldm_unet_forward(ref, x, t, ctx, y0) == LDM_OK);
    CHECK(ldm_unet_forward(u, x, t, ctx, y1) == LDM_OK);
    CHECK_MSG(memcmp(y0, y1, sizeof(float) * (size_t)ny) == 0,
              "%s: NULL communicators must give the single-process output exactly", tc->name);
    int64_t r0, r1;
    ldm_unet_get_rows(u, &r0, &r1);
    CHECK(r0 == 0 && r1 == tc->h);
    free(x);
    free(ctx);
    free(y0);
    free(y1);
cleanup:
    ldm_unet_destroy(&ref);
    ldm_unet_destroy(&u);
}

/* More spatial ranks than rows at the coarsest level: a clear error. */
static void too_many_ranks(const ldm_config *cfg, const ldm_weights *w)
{
    int p = ldm_mpi_test_size;
    if (p < 2)
        return;
    ldm_model_parallel par;
    ldm_unet *u = NULL;
    tp_grid(1, p, &par);
    /* 2 levels: the coarse level has ceil(h / 2) = p − 1 rows */
    CHECK_FAILS_WITH(ldm_unet_create_parallel(cfg, w, 1, 2 * (p - 1), 6, 5, &par, &u),
                     LDM_EINPUT, "spatial ranks");
    CHECK(u == NULL);
    tp_grid_free(&par);
}

/* Padding 0 on an odd level (9 rows → 4) breaks the strip rule: every rank
 * fails with the same message, none waits in a collective. */
static void strip_rule_broken(const ldm_config *cfg, const ldm_weights *w)
{
    int p = ldm_mpi_test_size;
    if (p < 2)
        return;
    ldm_model_parallel par;
    ldm_unet *u = NULL;
    tp_grid(1, p, &par);
    CHECK_FAILS_WITH(ldm_unet_create_parallel(cfg, w, 1, 36, 20, 5, &par, &u), LDM_EINPUT,
                     "strip rule");
    CHECK(u == NULL);
    tp_grid_free(&par);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    const int p = ldm_mpi_test_size;
    ldm_config tiny = {0}, four = {0}, pad0 = {0};
    ldm_weights *tiny_w = NULL, *four_w = NULL, *pad0_w = NULL;
    ldm_spec_list list = {0}, list0 = {0};
    CHECK(ldm_config_load(LDM_FIXTURES "/tiny-ldm/unet/config.json", &tiny) == LDM_OK);
    CHECK(ldm_weights_open_dir(LDM_FIXTURES "/tiny-ldm/unet", &tiny_w) == LDM_OK);
    CHECK(ldm_config_parse("four-levels/config.json", TP_FOUR_LEVELS, sizeof TP_FOUR_LEVELS - 1,
                           &four) == LDM_OK);
    CHECK(ldm_unet_weight_specs(&four, &list) == LDM_OK);
    CHECK(tp_synth_weights(&list, &four_w) == LDM_OK);
    CHECK(ldm_config_parse("four-levels-pad0/config.json", TP_FOUR_LEVELS_LINEAR,
                           sizeof TP_FOUR_LEVELS_LINEAR - 1, &pad0) == LDM_OK);
    CHECK(ldm_unet_weight_specs(&pad0, &list0) == LDM_OK);
    CHECK(tp_synth_weights(&list0, &pad0_w) == LDM_OK);
    if (!tiny_w || !four_w || !pad0_w)
        return ldm_mpi_test_finish();
    const tp_case cases[] = {
        {"tiny-ldm 2x12x10", &tiny, tiny_w, 2, 12, 10},
        {"tiny-ldm 2x9x7 (odd)", &tiny, tiny_w, 2, 9, 7},
        {"4 levels 1x64x48", &four, four_w, 1, 64, 48},
        {"4 levels 2x36x20 (odd)", &four, four_w, 2, 36, 20},
        {"pad 0, linear 1x32x24", &pad0, pad0_w, 1, 32, 24},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run(&cases[i], 1, p);                  /* spatial */
    run(&cases[0], p, 1);                      /* channel */
    run(&cases[3], p, 1);
    run(&cases[4], p, 1);
    if (p == 4) {                              /* both */
        run(&cases[1], 2, 2);
        run(&cases[3], 2, 2);
    }
    null_comms(&cases[1]);
    strip_rule_broken(&pad0, pad0_w);
    too_many_ranks(&tiny, tiny_w);
    ldm_weights_close(&tiny_w);
    ldm_weights_close(&four_w);
    ldm_weights_close(&pad0_w);
    ldm_spec_list_free(&list0);
    ldm_config_free(&pad0);
    ldm_spec_list_free(&list);
    ldm_config_free(&tiny);
    ldm_config_free(&four);
    return ldm_mpi_test_finish();
}
