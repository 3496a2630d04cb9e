/* tp_vae_memory.c (bench_tp_vae) — per-rank activation memory of the VAE
 * decoder under the spatial split (a measurement, not a test).
 *
 *   mpirun -n P bench_tp_vae [vqvae/config.json] [latent side] [decode 0/1/2]
 *
 * Builds the decoder of the config (default: the real
 * CompVis/ldm-text2im-large-256 AutoencoderKL) with synthetic weights for a
 * latent side × side (128: 1024² images) split into P row strips (align 8,
 * the UNet's), and prints each rank's activation arena (ldm_vae_arena_bytes:
 * allocated and pre-faulted at create), peak RSS and, with decode 1, the
 * time of one decode; decode 2 also decodes the whole latent with the
 * unsplit decoder on every rank and prints the strips' relative L2 error
 * against it (a real-size check of the split). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/config.h"
#include "kernels/threads.h"
#include "models/vae.h"
#include "mpi_harness.h"
#include "tp_synth.h"

#ifndef LDM_SOURCE_DIR
#define LDM_SOURCE_DIR "."
#endif

/* The unsplit decoder on the whole latent; rows [i0, i1) of its image
 * against the strip. */
static ldm_status compare(const ldm_config *cfg, const ldm_weights *w, int64_t side,
                          const float *z, const float *strip, int64_t i0, int64_t i1)
{
    ldm_status st = LDM_OK;
    ldm_vae *ref = NULL;
    float *img = NULL, *rows = NULL;
    LDM_CHECK(ldm_vae_create(cfg, w, 1, side, side, LDM_VAE_DECODER, &ref));
    const int64_t f = ldm_vae_downsample_factor(ref), hw = f * side;
    img = calloc((size_t)(3 * hw * hw), sizeof *img);
    rows = calloc((size_t)(3 * (i1 - i0) * hw), sizeof *rows);
    LDM_CHECK(ldm_vae_decode(ref, z, img));
    tp_strip(rows, img, 3, hw, hw, i0, i1, 0);
    double max_abs, rms, rel = tp_rel_l2(strip, rows, 3 * (i1 - i0) * hw, &max_abs, &rms);
    if (ldm_mpi_test_rank == 0)
        printf("split vs unsplit image: rel L2 %.2e, max abs %.2e (image rms %.3f)\n", rel,
               max_abs, rms);
    CHECK(rel <= 1e-5);
cleanup:
    free(img);
    free(rows);
    ldm_vae_destroy(&ref);
    return st;
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    const char *path = argc > 1 ? argv[1]
        : LDM_SOURCE_DIR "/models/ldm-text2im-large-256-config/vqvae/config.json";
    int64_t side = argc > 2 ? atoll(argv[2]) : 128;
    int decode = argc > 3 ? atoi(argv[3]) : 0;
    int p = ldm_mpi_test_size;
    ldm_kernels_set_threads(1);
    ldm_config cfg = {0};
    ldm_spec_list list = {0};
    ldm_weights *w = NULL;
    ldm_vae *v = NULL;
    ldm_model_parallel par;
    tp_grid(1, p, &par);
    ldm_status st = ldm_config_load(path, &cfg);
    if (st == LDM_OK)
        st = ldm_vae_weight_specs(&cfg, &list);
    if (st == LDM_OK)
        st = tp_synth_weights(&list, &w);
    double t0 = MPI_Wtime();
    if (st == LDM_OK)
        st = ldm_vae_create_parallel(&cfg, w, 1, side, side, LDM_VAE_DECODER, &par, 8, &v);
    double t_create = MPI_Wtime() - t0, t_dec = 0.0, arena = 0.0;
    if (st == LDM_OK) {
        arena = (double)ldm_vae_arena_bytes(v) / 1e6;
        int64_t r0, r1, f = ldm_vae_downsample_factor(v);
        ldm_vae_get_rows(v, &r0, &r1);
        if (decode) {
            float *zall = calloc((size_t)(4 * side * side), sizeof *zall);
            float *z = calloc((size_t)(4 * (r1 - r0) * side), sizeof *z);
            float *img = calloc((size_t)(3 * f * (r1 - r0) * f * side), sizeof *img);
            ldm_mpi_test_fill(zall, 4 * side * side, 5, 0.0f);
            tp_strip(z, zall, 4, side, side, r0, r1, 0);
            t0 = MPI_Wtime();
            st = ldm_vae_decode(v, z, img);
            t_dec = MPI_Wtime() - t0;
            if (st == LDM_OK && decode == 2)
                st = compare(&cfg, w, side, zall, img, f * r0, f * r1);
            free(zall);
            free(z);
            free(img);
        }
    }
    if (st != LDM_OK)
        fprintf(stderr, "rank %d: %s\n", ldm_mpi_test_rank, ldm_error_message());
    double mine[4] = {arena, tp_peak_rss_mb(), t_create, t_dec};
    double *all = malloc(sizeof(double) * 4 * (size_t)p);
    MPI_Gather(mine, 4, MPI_DOUBLE, all, 4, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (ldm_mpi_test_rank == 0) {
        printf("%s: decoder, latent %lldx%lld, Ps %d\n", path, (long long)side, (long long)side,
               p);
        printf("rank  arena MB  peak RSS MB  create s  decode s\n");
        for (int r = 0; r < p; r++)
            printf("%4d  %8.1f  %11.1f  %8.1f  %8.1f\n", r, all[4 * r], all[4 * r + 1],
                   all[4 * r + 2], all[4 * r + 3]);
    }
    free(all);
    ldm_vae_destroy(&v);
    ldm_weights_close(&w);
    ldm_spec_list_free(&list);
    ldm_config_free(&cfg);
    tp_grid_free(&par);
    if (st != LDM_OK)
        ldm_test_failed++;
    return ldm_mpi_test_finish();
}
