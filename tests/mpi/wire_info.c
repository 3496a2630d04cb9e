/* wire_info — `ldm info --grid Pcx1`'s per-rank weight rule (src/cli/
 * info_grid.c) against what the split models really hold: the UNet and the
 * VAE decoder built with a channel split over all ranks (Pc = world) count
 * the conv/linear bytes each rank reads (ldm_model_parallel_weight_bytes);
 * channel rank 0 holds most, and info_grid's conv/linear figure for rank 0
 * must match it within 1 % — less the VAE's mid-block attention, which the
 * decoder keeps whole in plain linear plans the counter does not see (its
 * bytes are taken from the spec list here). Models: the tiny fixture and models/ldm-shapes
 * (a Pc that does not fit a model is skipped for it). */
#include <math.h>
#include <string.h>

#include "mpi_harness.h"

#include "cli/info_grid.h"
#include "io/model_folder.h"
#include "models/model_specs.h"
#include "models/parallel.h"
#include "models/unet.h"
#include "models/vae.h"

/* Bytes of the decoder's mid-block attention (held whole, not counted). */
static double vae_attention_bytes(const ldm_component *v)
{
    ldm_spec_list list = { 0 };
    double bytes = 0;
    CHECK(ldm_model_weight_specs(v->class_name, &v->config, &list) == LDM_OK);
    for (int i = 0; i < list.count; i++) {
        const ldm_weight_spec *s = &list.items[i];
        if (s->ndim < 1 || strncmp(s->name, "decoder.mid_block.attentions.", 29) != 0 ||
            strstr(s->name, "norm"))
            continue;
        double n = 4;
        for (int d = 0; d < s->ndim; d++)
            n *= (double)s->shape[d];
        bytes += n;
    }
    ldm_spec_list_free(&list);
    return bytes;
}

static void check_model(const char *dir)
{
    ldm_model_folder *mf = NULL;
    const ldm_component *u = NULL, *v = NULL;
    ldm_weights *w = NULL;
    ldm_unet *unet = NULL;
    ldm_vae *vae = NULL;
    int pc = ldm_mpi_test_size;
    ldm_model_parallel par = { .channel = pc > 1 ? MPI_COMM_WORLD : MPI_COMM_NULL,
                               .spatial = MPI_COMM_NULL };
    CHECK(ldm_model_folder_open(dir, &mf) == LDM_OK);
    if (!mf)
        return;
    CHECK(ldm_model_folder_component(mf, "unet", &u) == LDM_OK);
    CHECK(ldm_model_folder_component(mf, "vqvae", &v) == LDM_OK);
    long long groups = 0;
    CHECK(ldm_config_int(&u->config, "norm_num_groups", 32, &groups) == LDM_OK);
    if (groups % pc != 0) {
        if (ldm_mpi_test_rank == 0)
            printf("%s: Pc = %d does not divide %lld groups: skipped\n", dir, pc, groups);
        ldm_model_folder_close(&mf);
        return;
    }
    size_t held[2] = { 0, 0 };
    ldm_info_weights est[2];
    CHECK(ldm_model_folder_open_weights(mf, "unet", &w) == LDM_OK);
    ldm_model_parallel_weight_bytes_reset();
    CHECK(ldm_unet_create_parallel(&u->config, w, 1, 8, 8, 77, &par, &unet) == LDM_OK);
    held[0] = ldm_model_parallel_weight_bytes();
    ldm_weights_close(&w);
    ldm_unet_destroy(&unet);
    CHECK(ldm_model_folder_open_weights(mf, "vqvae", &w) == LDM_OK);
    ldm_model_parallel_weight_bytes_reset();
    CHECK(ldm_vae_create_parallel(&v->config, w, 1, 8, 8, LDM_VAE_DECODER, &par, 1, &vae) ==
          LDM_OK);
    held[1] = ldm_model_parallel_weight_bytes();
    ldm_weights_close(&w);
    ldm_vae_destroy(&vae);
    CHECK(ldm_info_grid_weights(u, pc, &est[0]) == LDM_OK);
    CHECK(ldm_info_grid_weights(v, pc, &est[1]) == LDM_OK);
    const double uncounted[2] = { 0, vae_attention_bytes(v) };
    /* Rank 0 holds most (the biases of input-split layers): the max. */
    unsigned long long mine[2] = { held[0], held[1] }, most[2];
    MPI_Allreduce(mine, most, 2, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    const char *what[2] = { "unet", "vae decoder" };
    for (int i = 0; i < 2; i++) {
        double rel = fabs(est[i].layers_per_rank - uncounted[i] - (double)most[i]) / (double)most[i];
        if (ldm_mpi_test_rank == 0)
            printf("%s %s, Pc = %d: counted %llu B (max over ranks; rank 0 %llu), info %.0f B "
                   "less %.0f B uncounted (rel %.2g); all weights %.0f B, info per rank %.0f B\n",
                   dir, what[i], pc, most[i], mine[i], est[i].layers_per_rank, uncounted[i], rel,
                   est[i].total, est[i].per_rank);
        CHECK_MSG(rel <= 0.01, "%s %s: info says %.0f conv/linear bytes per rank (%.0f uncounted), the "
                  "model counts %llu", dir, what[i], est[i].layers_per_rank, uncounted[i], most[i]);
    }
    ldm_model_folder_close(&mf);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    check_model(LDM_FIXTURES "/tiny-ldm");
    check_model(LDM_SOURCE_DIR "/models/ldm-shapes");
    return ldm_mpi_test_finish();
}
