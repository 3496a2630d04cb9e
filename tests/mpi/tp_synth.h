/* tp_synth.h — synthetic weights and strip helpers for the tensor-parallel
 * model tests (tests/mpi/tp_*.c).
 *
 * tp_synth_weights: a weight set holding every tensor of a spec list,
 * generated on demand (as tools/bench/bench_unet.c does: uniform values
 * scaled like PyTorch's default init, norm weights near 1), so any config
 * gets deterministic "random" weights without a file; row-slice reads see
 * the same values as whole reads. tp_grid: the Pc × Ps communicators of a
 * world of Pc·Ps ranks (rank = pc·Ps + ps, as mpi/grid.h). tp_strip: rows
 * [r0, r1) of an NCHW tensor.
 */
#ifndef LDM_TESTS_TP_SYNTH_H
#define LDM_TESTS_TP_SYNTH_H

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/weight_file.h"
#include "io/weights.h"
#include "models/parallel.h"
#include "models/resnet.h"

static inline float tp_uniform(uint64_t tensor, uint64_t i)
{
    uint64_t z = (tensor << 40) ^ i ^ 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static ldm_status tp_synth_read(const ldm_weight_file *f, int storage, uint64_t offset,
                                size_t nbytes, void *dst)
{
    const ldm_tensor_entry *e = &f->tensors[storage];
    float *out = dst, scale, base = 0.0f;
    uint64_t first = offset / sizeof(float);
    size_t n = nbytes / sizeof(float);
    if (e->ndim >= 2) {
        int64_t fan_in = 1;
        for (int d = 1; d < e->ndim; d++)
            fan_in *= e->shape[d];
        scale = 1.0f / sqrtf((float)fan_in);
    } else if (strstr(e->name, "norm") && strstr(e->name, ".weight")) {
        base = 1.0f;
        scale = 0.05f;
    } else {
        scale = 0.1f;
    }
    for (size_t k = 0; k < n; k++)
        out[k] = base + scale * tp_uniform((uint64_t)storage + 1, first + k);
    return LDM_OK;
}

static void tp_synth_close(ldm_weight_file *f)
{
    (void)f;
}

static const ldm_weight_file_ops TP_SYNTH_OPS = {.read = tp_synth_read, .close = tp_synth_close};

static inline ldm_status tp_synth_weights(const ldm_spec_list *list, ldm_weights **out)
{
    ldm_status st = LDM_OK;
    ldm_weight_file *f = NULL;
    *out = NULL;
    LDM_CHECK(ldm_calloc(sizeof *f, "synthetic weights", (void **)&f));
    LDM_CHECK(ldm_strdup("<synthetic weights>", &f->path));
    f->format = "synthetic";
    f->ops = &TP_SYNTH_OPS;
    LDM_CHECK(ldm_calloc((size_t)list->count * sizeof *f->tensors, "synthetic entries",
                         (void **)&f->tensors));
    for (int i = 0; i < list->count; i++) {
        const ldm_weight_spec *s = &list->items[i];
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
    return st;
}

/* The communicators of a pc × ps grid over the world (which must have
 * pc·ps ranks); a split of one rank gets a size-1 communicator, as the grid
 * makes it. Free with tp_grid_free. */
static inline void tp_grid(int pc, int ps, ldm_model_parallel *p)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_split(MPI_COMM_WORLD, rank / ps, rank, &p->spatial);
    MPI_Comm_split(MPI_COMM_WORLD, rank % ps, rank, &p->channel);
    (void)pc;
}

static inline void tp_grid_free(ldm_model_parallel *p)
{
    if (p->spatial != MPI_COMM_NULL)
        MPI_Comm_free(&p->spatial);
    if (p->channel != MPI_COMM_NULL)
        MPI_Comm_free(&p->channel);
}

/* out [n, c, r1 − r0, w] ← rows [r0, r1) of x [n, c, h, w] (or the reverse,
 * back = 1: the strip into the rows of x). */
static inline void tp_strip(float *strip, float *x, int64_t nc, int64_t h, int64_t w, int64_t r0,
                     int64_t r1, int back)
{
    const int64_t rows = r1 - r0;
    for (int64_t i = 0; i < nc; i++) {
        float *full = x + (i * h + r0) * w, *part = strip + i * rows * w;
        if (back)
            memcpy(full, part, sizeof(float) * (size_t)(rows * w));
        else
            memcpy(part, full, sizeof(float) * (size_t)(rows * w));
    }
}

/* Relative L2 error of a against the reference b over the world, the max
 * |a − b| and b's root mean square (each strip may be counted by several
 * channel ranks: the ratios are unchanged). */
static inline double tp_rel_l2(const float *a, const float *b, int64_t count, double *max_abs,
                        double *ref_rms)
{
    double s[3] = {0.0, 0.0, (double)count}, m = 0.0, all[3];
    for (int64_t i = 0; i < count; i++) {
        double d = (double)a[i] - (double)b[i];
        s[0] += d * d;
        s[1] += (double)b[i] * (double)b[i];
        m = fabs(d) > m ? fabs(d) : m;
    }
    MPI_Allreduce(s, all, 3, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&m, max_abs, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    *ref_rms = sqrt(all[1] / (all[2] > 0 ? all[2] : 1.0));
    return sqrt(all[0] / (all[1] > 0 ? all[1] : 1.0));
}

/* This process's peak resident set (VmHWM), MB; 0 if unreadable. */
static inline double tp_peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0.0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = atof(line + 6);
    if (f)
        fclose(f);
    return kb / 1024.0;
}

/* A 4-level UNet small enough to run at every rank count (test_tp_unet,
 * test_ring_unet). */
static const char TP_FOUR_LEVELS[] =
    "{\"_class_name\": \"UNet2DConditionModel\", \"block_out_channels\": [8, 16, 16, 16],"
    " \"down_block_types\": [\"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\","
    " \"CrossAttnDownBlock2D\", \"DownBlock2D\"],"
    " \"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\","
    " \"CrossAttnUpBlock2D\"],"
    " \"attention_head_dim\": 2, \"norm_num_groups\": 4, \"cross_attention_dim\": 16,"
    " \"layers_per_block\": 1, \"in_channels\": 4, \"out_channels\": 4, \"sample_size\": 8}";

/* The same with Linear proj_in/proj_out, diffusers' asymmetric
 * downsampling padding (0: pad right and bottom; a halo row from below)
 * and 2 GroupNorm groups (fewer than 3 or 4 channel ranks: the resnets
 * then split by output channel and gather instead of pairing). */
static const char TP_FOUR_LEVELS_LINEAR[] =
    "{\"_class_name\": \"UNet2DConditionModel\", \"block_out_channels\": [8, 16, 16, 16],"
    " \"down_block_types\": [\"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\","
    " \"CrossAttnDownBlock2D\", \"DownBlock2D\"],"
    " \"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\","
    " \"CrossAttnUpBlock2D\"],"
    " \"attention_head_dim\": 2, \"cross_attention_dim\": 16,"
    " \"layers_per_block\": 1, \"in_channels\": 4, \"out_channels\": 4, \"sample_size\": 8,"
    " \"downsample_padding\": 0, \"use_linear_projection\": true, \"norm_num_groups\": 2}";

#endif
