/* tp_weights.c (bench_tp_weights) — per-rank UNet weight bytes and peak
 * memory under the channel split (a measurement, not a test).
 *
 *   mpirun -n P bench_tp_weights [unet/config.json] [Ps] [batch] [latent] [compare]
 *
 * Builds the UNet of the config (default: the real
 * CompVis/ldm-text2im-large-256 UNet, 872 M parameters) with synthetic
 * weights (tp_synth.h: nothing on disk) over Pc = P / Ps channel ranks and
 * Ps spatial ranks, runs one forward, and prints for each rank the fp32
 * weight bytes its conv and linear layers read (models/parallel.h's
 * counter: the rows it owns), its peak resident memory (VmHWM: packed
 * weights, activations, everything) and the create and forward times.
 * With compare = 1, after the split model is freed, rank 0 alone builds the
 * unsplit UNet, runs the whole latent and prints the relative L2 error of
 * the assembled strips against it (a real-size check; peak memory: one
 * unsplit model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "kernels/threads.h"
#include "models/unet.h"
#include "mpi_harness.h"
#include "tp_synth.h"

#ifndef LDM_SOURCE_DIR
#define LDM_SOURCE_DIR "."
#endif

/* Assemble every strip of the split output and input on rank 0 (channel
 * rank 0 of each strip contributes rows [r0, r1)) and compare with the
 * unsplit UNet run there alone (the split model is already freed). */
static ldm_status check_whole(const ldm_config *cfg, const ldm_weights *w, int64_t cin,
                              int64_t cout, int64_t batch, int64_t side, int64_t r0, int64_t r1,
                              int contributes, float *x, const float *ctx, const float *t,
                              float *y)
{
    ldm_status st = LDM_OK;
    const int64_t nin = batch * cin, nout = batch * cout;
    const int64_t full_in = nin * side * side, full_out = nout * side * side;
    float *xin = calloc((size_t)full_in, sizeof *xin), *yout = calloc((size_t)full_out, 4);
    float *xall = calloc((size_t)full_in, sizeof *xall), *yall = calloc((size_t)full_out, 4);
    float *ref = calloc((size_t)full_out, sizeof *ref);
    ldm_unet *whole = NULL;
    if (contributes) {
        tp_strip(x, xin, nin, side, side, r0, r1, 1);
        tp_strip(y, yout, nout, side, side, r0, r1, 1);
    }
    MPI_Reduce(xin, xall, (int)full_in, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(yout, yall, (int)full_out, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (ldm_mpi_test_rank == 0) {
        st = ldm_unet_create(cfg, w, batch, side, side, 77, &whole);
        if (st == LDM_OK)
            st = ldm_unet_forward(whole, xall, t, ctx, ref);
        if (st == LDM_OK) {
            double d = 0.0, n = 0.0, m = 0.0;
            for (int64_t i = 0; i < full_out; i++) {
                double e = (double)yall[i] - (double)ref[i];
                d += e * e;
                n += (double)ref[i] * ref[i];
                m = fabs(e) > m ? fabs(e) : m;
            }
            printf("split vs unsplit: rel L2 %.2e, max abs %.2e (output rms %.3f)\n",
                   sqrt(d / n), m, sqrt(n / (double)full_out));
            if (!(sqrt(d / n) <= 1e-5))
                ldm_test_failed++;
        }
    }
    ldm_unet_destroy(&whole);
    free(xin);
    free(yout);
    free(xall);
    free(yall);
    free(ref);
    return st;
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    const char *path = argc > 1 ? argv[1]
        : LDM_SOURCE_DIR "/models/ldm-text2im-large-256-config/unet/config.json";
    int ps = argc > 2 ? atoi(argv[2]) : 1;
    int64_t batch = argc > 3 ? atoll(argv[3]) : 2, side = argc > 4 ? atoll(argv[4]) : 32;
    int compare = argc > 5 ? atoi(argv[5]) : 0;
    int p = ldm_mpi_test_size;
    if (ps < 1 || p % ps != 0) {
        if (ldm_mpi_test_rank == 0)
            fprintf(stderr, "bench_tp_weights: Ps %d does not divide %d ranks\n", ps, p);
        MPI_Finalize();
        return 1;
    }
    ldm_kernels_set_threads(1);
    ldm_config cfg = {0};
    ldm_spec_list list = {0};
    ldm_weights *w = NULL;
    ldm_unet *u = NULL;
    ldm_model_parallel par;
    tp_grid(p / ps, ps, &par);
    ldm_status st = ldm_config_load(path, &cfg);
    if (st == LDM_OK)
        st = ldm_unet_weight_specs(&cfg, &list);
    if (st == LDM_OK)
        st = tp_synth_weights(&list, &w);
    ldm_model_parallel_weight_bytes_reset();
    double t0 = MPI_Wtime();
    if (st == LDM_OK)
        st = ldm_unet_create_parallel(&cfg, w, batch, side, side, 77, &par, &u);
    double t_create = MPI_Wtime() - t0, t_fwd = 0.0;
    size_t bytes = ldm_model_parallel_weight_bytes();
    if (st == LDM_OK) {
        const ldm_unet_config *c = ldm_unet_get_config(u);
        int64_t r0, r1;
        ldm_unet_get_rows(u, &r0, &r1);
        int64_t nx = batch * c->in_channels * (r1 - r0) * side;
        int64_t nctx = batch * 77 * c->cross_attention_dim;
        float *x = calloc((size_t)nx, sizeof *x), *ctx = calloc((size_t)nctx, sizeof *ctx);
        float *y = calloc((size_t)(batch * c->out_channels * (r1 - r0) * side), sizeof *y);
        float t[16] = {500.0f, 500.0f};
        ldm_mpi_test_fill(x, nx, 1, 0.0f);
        ldm_mpi_test_fill(ctx, nctx, 2, 0.0f);
        t0 = MPI_Wtime();
        st = ldm_unet_forward(u, x, t, ctx, y);
        t_fwd = MPI_Wtime() - t0;
        if (st == LDM_OK && compare) {
            int64_t cin = c->in_channels, cout = c->out_channels;
            ldm_unet_destroy(&u);
            st = check_whole(&cfg, w, cin, cout, batch, side, r0, r1,
                             ldm_model_parallel_channel_rank(&par) == 0, x, ctx, t, y);
        }
        free(x);
        free(ctx);
        free(y);
    }
    if (st != LDM_OK)
        fprintf(stderr, "rank %d: %s\n", ldm_mpi_test_rank, ldm_error_message());
    double mine[4] = {(double)bytes / 1e6, tp_peak_rss_mb(), t_create, t_fwd};
    double *all = malloc(sizeof(double) * 4 * (size_t)p);
    MPI_Gather(mine, 4, MPI_DOUBLE, all, 4, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (ldm_mpi_test_rank == 0) {
        printf("%s: Pc %d x Ps %d, batch %lld, latent %lldx%lld\n", path, p / ps, ps,
               (long long)batch, (long long)side, (long long)side);
        printf("rank  weights MB  peak RSS MB  create s  forward s\n");
        for (int r = 0; r < p; r++)
            printf("%4d  %10.1f  %11.1f  %8.1f  %9.1f\n", r, all[4 * r], all[4 * r + 1],
                   all[4 * r + 2], all[4 * r + 3]);
    }
    free(all);
    ldm_unet_destroy(&u);
    ldm_weights_close(&w);
    ldm_spec_list_free(&list);
    ldm_config_free(&cfg);
    tp_grid_free(&par);
    if (st != LDM_OK)
        ldm_test_failed++;
    return ldm_mpi_test_finish();
}
