/* ring_unet.c (test_ring_unet): the UNet split over Ps row strips with
 * ring self-attention (LDM_ATTENTION=ring, models/ring_attention.h) = the
 * single-process UNet.
 *
 * As tests/mpi/tp_unet.c: every rank builds the unsplit UNet and runs the
 * whole latent, then the split one over the world and runs its strip; the
 * strips must match within 1e-5 relative L2 (DESIGN.md §3). The ring must
 * really be used: a split forward with LDM_ATTENTION=ring adds sendrecv
 * timer calls, one with "gather" adds none. Cases at P ranks:
 *   - Ps = P: the tiny-ldm fixture UNet (its diffusers weights) on 12 × 10
 *     and 9 × 7 (odd, uneven strips), a 4-level UNet (synthetic weights,
 *     align 8, 2 heads of 4 channels) on 64 × 48 and 36 × 20, the 4-level
 *     UNet with Linear projections on 32 × 24;
 *   - 2 × 2 (P = 4): channel split by heads and the ring at once;
 *   - LDM_ATTENTION=gather on the same case: also within 1e-5;
 *   - LDM_ATTENTION=bogus: LDM_EINPUT naming the variable on every rank.
 * Expected: "N ranks: K passed, 0 failed" at np 1-4. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timers.h"
#include "io/config.h"
#include "models/unet.h"
#include "mpi_harness.h"
#include "tp_synth.h"

typedef struct ring_case {
    const char *name;
    const ldm_config *cfg;
    const ldm_weights *weights;
    int64_t batch, h, w;
} ring_case;

/* mode: the LDM_ATTENTION value while the split UNet is created. */
static void run(const ring_case *tc, int pc, int ps, const char *mode)
{
    const int64_t ctx_tokens = 5;
    ldm_model_parallel par;
    ldm_unet *ref = NULL, *u = NULL;
    tp_grid(pc, ps, &par);
    CHECK(ldm_unet_create(tc->cfg, tc->weights, tc->batch, tc->h, tc->w, ctx_tokens, &ref) ==
          LDM_OK);
    setenv("LDM_ATTENTION", mode, 1);
    ldm_status st = ldm_unet_create_parallel(tc->cfg, tc->weights, tc->batch, tc->h, tc->w,
                                             ctx_tokens, &par, &u);
    unsetenv("LDM_ATTENTION");
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
    for (int it = 0; it < 2; it++) {
        ldm_timer_totals before, after;
        ldm_timer_snapshot(&before);
        st = ldm_unet_forward(u, xs, t, ctx, ys);
        ldm_timer_snapshot(&after);
        CHECK_MSG(st == LDM_OK, "%s: %s", tc->name, ldm_error_message());
        uint64_t ring_calls = after.calls[LDM_T_COMM_SENDRECV] - before.calls[LDM_T_COMM_SENDRECV];
        if (ps > 1 && strcmp(mode, "ring") == 0)
            CHECK_MSG(ring_calls > 0, "%s: LDM_ATTENTION=ring did not use the ring", tc->name);
        else
            CHECK_MSG(ring_calls == 0, "%s: %s used the ring (%llu sendrecv calls)", tc->name,
                      mode, (unsigned long long)ring_calls);
        double max_abs, ref_rms, rel = tp_rel_l2(ys, yr, nout * rows * tc->w, &max_abs,
                                                 &ref_rms);
        if (ldm_mpi_test_rank == 0 && it == 0)
            printf("  %-24s %-6s Pc %d x Ps %d  rows [%lld, %lld)  rel L2 %.2e  max abs %.2e  "
                   "(output rms %.3f, %llu ring steps)\n", tc->name, mode, pc, ps,
                   (long long)r0, (long long)r1, rel, max_abs, ref_rms,
                   (unsigned long long)ring_calls);
        CHECK_MSG(ref_rms > 1e-3, "%s: the output is ~0 (rms %g)", tc->name, ref_rms);
        CHECK_MSG(rel <= 1e-5, "%s %s Pc %d Ps %d: rel L2 %g", tc->name, mode, pc, ps, rel);
    }
    free(x), free(y), free(ctx), free(xs), free(ys), free(yr);
cleanup:
    ldm_unet_destroy(&ref);
    ldm_unet_destroy(&u);
    tp_grid_free(&par);
}

/* An unknown LDM_ATTENTION: every spatial rank fails with the same message. */
static void bad_mode(const ldm_config *cfg, const ldm_weights *w)
{
    int p = ldm_mpi_test_size;
    if (p < 2)
        return;  /* without a spatial split the variable is not read */
    ldm_model_parallel par;
    ldm_unet *u = NULL;
    tp_grid(1, p, &par);
    setenv("LDM_ATTENTION", "bogus", 1);
    CHECK_FAILS_WITH(ldm_unet_create_parallel(cfg, w, 1, 12, 10, 5, &par, &u), LDM_EINPUT,
                     "LDM_ATTENTION = \"bogus\"");
    unsetenv("LDM_ATTENTION");
    CHECK(u == NULL);
    tp_grid_free(&par);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    const int p = ldm_mpi_test_size;
    ldm_config tiny = {0}, four = {0}, lin = {0};
    ldm_weights *tiny_w = NULL, *four_w = NULL, *lin_w = NULL;
    ldm_spec_list list = {0}, list_lin = {0};
    CHECK(ldm_config_load(LDM_FIXTURES "/tiny-ldm/unet/config.json", &tiny) == LDM_OK);
    CHECK(ldm_weights_open_dir(LDM_FIXTURES "/tiny-ldm/unet", &tiny_w) == LDM_OK);
    CHECK(ldm_config_parse("four-levels/config.json", TP_FOUR_LEVELS, sizeof TP_FOUR_LEVELS - 1,
                           &four) == LDM_OK);
    CHECK(ldm_unet_weight_specs(&four, &list) == LDM_OK);
    CHECK(tp_synth_weights(&list, &four_w) == LDM_OK);
    CHECK(ldm_config_parse("four-levels-linear/config.json", TP_FOUR_LEVELS_LINEAR,
                           sizeof TP_FOUR_LEVELS_LINEAR - 1, &lin) == LDM_OK);
    CHECK(ldm_unet_weight_specs(&lin, &list_lin) == LDM_OK);
    CHECK(tp_synth_weights(&list_lin, &lin_w) == LDM_OK);
    if (!tiny_w || !four_w || !lin_w)
        return ldm_mpi_test_finish();
    const ring_case cases[] = {
        {"tiny-ldm 2x12x10", &tiny, tiny_w, 2, 12, 10},
        {"tiny-ldm 2x9x7 (odd)", &tiny, tiny_w, 2, 9, 7},
        {"4 levels 1x64x48", &four, four_w, 1, 64, 48},
        {"4 levels 2x36x20 (odd)", &four, four_w, 2, 36, 20},
        {"linear 1x32x24", &lin, lin_w, 1, 32, 24},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run(&cases[i], 1, p, "ring");
    run(&cases[2], 1, p, "gather");
    if (p == 4) {
        run(&cases[1], 2, 2, "ring");
        run(&cases[3], 2, 2, "ring");
    }
    bad_mode(&tiny, tiny_w);
    ldm_weights_close(&tiny_w);
    ldm_weights_close(&four_w);
    ldm_weights_close(&lin_w);
    ldm_spec_list_free(&list_lin);
    ldm_spec_list_free(&list);
    ldm_config_free(&tiny);
    ldm_config_free(&four);
    ldm_config_free(&lin);
    return ldm_mpi_test_finish();
}
