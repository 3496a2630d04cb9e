/* bench_text_encoder.c — time the distributed LDMBert (head/FFN split vs
 * PBLAS) at real size, under mpirun.
 *
 *   mpirun -n P bench_text_encoder [config.json|bert-folder] [split|pblas|both]
 *                                  [iters] [batch] [pblas-block] [pblas-grid RxC]
 *
 * Defaults: models/ldm-text2im-large-256-config/bert/config.json (the real
 * LDMBert: 32 layers, d 1280, ffn 5120, 8 heads), both variants, 3 timed
 * forwards after one warm-up, batch 2 (classifier-free guidance: "" and the
 * prompt) × 77 tokens, PBLAS block 64 on a 1 × P grid. The channel
 * communicator is MPI_COMM_WORLD (Pc = P). With one rank both variants are
 * the single-process encoder (the baseline).
 *
 * Weights: a folder with config.json and weights (e.g. `ldm init` output's
 * bert/) is read as a model would read it (each rank its slices); a config
 * file alone gets a synthetic in-memory weight file generating each tensor
 * on demand (values like PyTorch's default init), so nothing touches disk.
 *
 * Per forward: MPI_Barrier, then the slowest rank's wall time (MPI_MAX).
 * Prints create time, each rank's resident memory after create (VmRSS: the
 * weights really are distributed), the best / median forward, and the
 * relative L2 between the two variants' outputs.
 */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "io/config.h"
#include "io/weight_file.h"
#include "io/weights.h"
#include "kernels/threads.h"
#include "models/ldmbert.h"
#include "models/model_specs.h"

#ifndef LDM_SOURCE_DIR
#define LDM_SOURCE_DIR "."
#endif

static int rank, size;

/* A value in [-1, 1) from (tensor, element): splitmix64. */
static float uniform(uint64_t tensor, uint64_t i)
{
    uint64_t z = (tensor << 40) ^ i ^ 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static ldm_status synth_read(const ldm_weight_file *f, int storage, uint64_t offset, size_t nbytes,
                             void *dst)
{
    const ldm_tensor_entry *e = &f->tensors[storage];
    float *out = dst;
    uint64_t first = offset / sizeof(float);
    size_t n = nbytes / sizeof(float);
    float scale = 0.02f, base = 0.0f;
    if (e->ndim >= 2 && !strstr(e->name, "embed"))
        scale = 1.0f / sqrtf((float)e->shape[1]);
    else if (strstr(e->name, "norm") && strstr(e->name, ".weight"))
        base = 1.0f, scale = 0.05f;
    for (size_t k = 0; k < n; k++)
        out[k] = base + scale * uniform((uint64_t)storage, first + k);
    return LDM_OK;
}

static void synth_close(ldm_weight_file *f)
{
    (void)f;
}

static const ldm_weight_file_ops SYNTH_OPS = {.read = synth_read, .close = synth_close};

static ldm_status synth_weights(const ldm_config *cfg, ldm_weights **out)
{
    ldm_status st = LDM_OK;
    ldm_spec_list list = {0};
    ldm_weight_file *f = NULL;
    LDM_CHECK(ldm_model_weight_specs("LDMBertModel", cfg, &list));
    LDM_CHECK(ldm_calloc(sizeof *f, "synthetic weights", (void **)&f));
    LDM_CHECK(ldm_strdup("<synthetic LDMBert weights>", &f->path));
    f->format = "synthetic";
    f->ops = &SYNTH_OPS;
    LDM_CHECK(ldm_calloc((size_t)list.count * sizeof *f->tensors, "synthetic entries",
                         (void **)&f->tensors));
    for (int i = 0; i < list.count; i++) {
        const ldm_weight_spec *s = &list.items[i];
        ldm_tensor_entry *e = &f->tensors[i];
        LDM_CHECK(ldm_strdup(s->name, &e->name));
        f->count = i + 1;
        e->dtype = LDM_DTYPE_F32;
        e->ndim = s->ndim;
        int64_t stride = 1;
        for (int d = s->ndim - 1; d >= 0; d--) {
            e->shape[d] = s->shape[d];
            e->stride[d] = stride;
            stride *= s->shape[d];
        }
        e->storage = i;
        e->storage_bytes = (uint64_t)stride * sizeof(float);
    }
    LDM_CHECK(ldm_weights_from_files(&f, 1, out));
cleanup:
    ldm_weight_file_close(&f);
    ldm_spec_list_free(&list);
    return st;
}

/* VmRSS of this process in MB (0 if unknown). */
static double rss_mb(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (fp && fgets(line, sizeof line, fp))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atof(line + 6);
    if (fp)
        fclose(fp);
    return kb / 1024.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Create, time `iters` forwards, destroy. out gets the last output. */
static ldm_status bench(const ldm_config *cfg, const ldm_weights *w, ldm_ldmbert_options *o,
                        int64_t batch, int iters, const int32_t *ids, float *out)
{
    ldm_status st = LDM_OK;
    ldm_ldmbert *m = NULL;
    double times[64];
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    LDM_CHECK(ldm_ldmbert_create_opts(cfg, w, batch, 77, o, &m));
    double create = MPI_Wtime() - t0, rss = rss_mb(), rss_max = 0, rss_min = 0;
    MPI_Reduce(&rss, &rss_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    MPI_Reduce(&rss, &rss_min, 1, MPI_DOUBLE, MPI_MIN, 0, MPI_COMM_WORLD);
    int ranks = 0;
    ldm_ldmbert_dist dist = ldm_ldmbert_distribution(m, &ranks);
    for (int it = -1; it < iters; it++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double s = MPI_Wtime();
        LDM_CHECK(ldm_ldmbert_forward(m, ids, out));
        double dt = MPI_Wtime() - s, slowest = 0;
        MPI_Allreduce(&dt, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (it >= 0)
            times[it] = slowest;
    }
    qsort(times, (size_t)iters, sizeof times[0], cmp_double);
    if (rank == 0)
        printf("%-7s %d rank(s) (%s): create %.2f s, RSS per rank %.0f-%.0f MB, forward best "
               "%.3f s, median %.3f s (%d)\n",
               o->dist == LDM_LDMBERT_DIST_PBLAS ? "pblas" : "split", ranks,
               ldm_ldmbert_dist_name(dist), create, rss_min, rss_max, times[0],
               times[iters / 2], iters);
cleanup:
    ldm_ldmbert_destroy(&m);
    return st;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *src = argc > 1 ? argv[1]
        : LDM_SOURCE_DIR "/models/ldm-text2im-large-256-config/bert/config.json";
    const char *mode = argc > 2 ? argv[2] : "both";
    int iters = argc > 3 ? atoi(argv[3]) : 3;
    int64_t batch = argc > 4 ? atoll(argv[4]) : 2;
    int block = argc > 5 ? atoi(argv[5]) : 0, nprow = 0, npcol = 0;
    if (argc > 6 && sscanf(argv[6], "%dx%d", &nprow, &npcol) != 2)
        nprow = npcol = 0;
    ldm_kernels_set_threads(1);
    ldm_config cfg = {0};
    ldm_weights *w = NULL;
    int32_t *ids = NULL;
    float *out[2] = {NULL, NULL};
    ldm_status st = LDM_OK;
    char path[4096];
    if (iters < 1 || iters > 64 || batch < 1 || batch > 16) {
        st = ldm_error(LDM_EINPUT, "iters 1..64, batch 1..16");
        goto cleanup;
    }
    if (ldm_is_dir(src)) {
        snprintf(path, sizeof path, "%s/config.json", src);
        LDM_CHECK(ldm_config_load(path, &cfg));
        LDM_CHECK(ldm_weights_open_dir(src, &w));
    } else {
        LDM_CHECK(ldm_config_load(src, &cfg));
        LDM_CHECK(synth_weights(&cfg, &w));
    }
    ldm_ldmbert_config c;
    LDM_CHECK(ldm_ldmbert_config_read(&cfg, &c));
    int64_t n = batch * 77 * c.d_model;
    LDM_CHECK(ldm_alloc((size_t)(batch * 77) * sizeof(int32_t), "ids", (void **)&ids));
    for (int k = 0; k < 2; k++)
        LDM_CHECK(ldm_alloc((size_t)n * sizeof(float), "out", (void **)&out[k]));
    /* [CLS] prompt [SEP] [PAD]…: arbitrary ids, the same on every rank */
    for (int64_t i = 0; i < batch * 77; i++)
        ids[i] = (int32_t)((i % 77) < 12 ? 1 + (i * 7919) % (c.vocab_size - 1) : 0);
    if (rank == 0)
        printf("%s: d_model %lld, %lld layers, ffn %lld, %lld heads; batch %lld x 77 tokens; "
               "%d rank(s), 1 thread each\n",
               src, (long long)c.d_model, (long long)c.encoder_layers,
               (long long)c.encoder_ffn_dim, (long long)c.encoder_attention_heads,
               (long long)batch, size);
    ldm_model_parallel par = {MPI_COMM_WORLD, MPI_COMM_NULL};
    int ran[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        const char *name = k == 0 ? "split" : "pblas";
        if (strcmp(mode, "both") != 0 && strcmp(mode, name) != 0)
            continue;
        ldm_ldmbert_options o = {.parallel = &par,
                                 .dist = k == 0 ? LDM_LDMBERT_DIST_SPLIT : LDM_LDMBERT_DIST_PBLAS,
                                 .pblas_nprow = nprow, .pblas_npcol = npcol,
                                 .pblas_block = block};
        LDM_CHECK(bench(&cfg, w, &o, batch, iters, ids, out[k]));
        ran[k] = 1;
    }
    if (ran[0] && ran[1] && rank == 0) {
        double num = 0, den = 0;
        for (int64_t i = 0; i < n; i++) {
            double e = (double)out[0][i] - out[1][i];
            num += e * e;
            den += (double)out[0][i] * out[0][i];
        }
        printf("split vs pblas output: rel L2 %.2e\n", sqrt(num / (den > 0 ? den : 1)));
    }
cleanup:
    if (st != LDM_OK)
        fprintf(stderr, "bench_text_encoder (rank %d): %s\n", rank, ldm_error_message());
    ldm_free(ids);
    ldm_free(out[0]);
    ldm_free(out[1]);
    ldm_weights_close(&w);
    ldm_config_free(&cfg);
    MPI_Finalize();
    return st == LDM_OK ? 0 : 1;
}
