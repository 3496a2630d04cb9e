/* parallel.h — tensor parallelism inside the UNet and the VAE decoder
 * (DESIGN.md §4, docs/parallelism.md §8).
 *
 * A model built with an ldm_model_parallel splits its work over a Pc × Ps
 * grid of ranks (the group's `channel` and `spatial` communicators of
 * mpi/grid.h):
 *
 *   spatial (Ps)  every activation [n, h, w, c] is cut into row strips; rank
 *                 i of `spatial` owns rows [r0, r1) = ldm_model_parallel_rows
 *                 (h, align) of every level. 3×3 convolutions exchange one
 *                 halo row with each neighbour (mpi/halo.h), GroupNorm merges
 *                 its statistics over `spatial` (mpi/moments.h), self-attention
 *                 gathers K/V of every strip (mpi/gather.h) — or, with
 *                 LDM_ATTENTION=ring, passes them around a ring
 *                 (models/ring_attention.h) — so every query sees every
 *                 key; everything else is local. The model's input
 *                 and output are the rank's strip.
 *   channel (Pc)  every convolution and linear layer holds only the weight
 *                 rows (output channels) [starts[r], starts[r+1]) of its rank,
 *                 read from the file as row slices, and re-assembles its full
 *                 output with one allgather on `channel` (mpi/channels.h):
 *                 weights are sharded ~1/Pc, activations are replicated. A
 *                 layer with fewer output channels than Pc is not split.
 *
 * The strip rule (mpi/halo.h): a network that downsamples k times by
 * stride-2 convolutions splits its full-resolution rows with align = 2^k,
 * the next level with 2^(k−1), …, the coarsest with 1; then every level's
 * strips line up and no layer but the 3×3 convolutions needs a neighbour's
 * rows. The UNet's latent align is ldm_unet_latent_align (2^(levels − 1):
 * 8 for the real model). The VAE decoder only upsamples, so any align
 * works there; it takes the UNet's so that latent strips pass straight
 * from one model to the other.
 *
 * A NULL context, MPI_COMM_NULL communicators and communicators of size 1
 * all mean "no split": the model runs the single-process code, with no MPI
 * call (the split paths are taken only where a communicator has > 1 rank).
 */
#ifndef LDM_MODELS_PARALLEL_H
#define LDM_MODELS_PARALLEL_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/weights.h"
#include "kernels/conv2d.h"
#include "kernels/linear.h"

typedef struct ldm_model_parallel {
    MPI_Comm channel;  /* Pc ranks sharing one spatial strip; MPI_COMM_NULL = no split */
    MPI_Comm spatial;  /* Ps ranks, row strips;                MPI_COMM_NULL = no split */
} ldm_model_parallel;

/* Local. Ranks and this rank's index in each communicator (1 and 0 without
 * a split). */
int ldm_model_parallel_spatial_size(const ldm_model_parallel *p);
int ldm_model_parallel_spatial_rank(const ldm_model_parallel *p);
int ldm_model_parallel_channel_size(const ldm_model_parallel *p);
int ldm_model_parallel_channel_rank(const ldm_model_parallel *p);

/* Local. The rows [r0, r1) of an h-row activation that this rank owns:
 * ldm_mpi_partition(h, Ps, spatial rank, align) — [0, h) without a spatial
 * split. align <= 0 counts as 1. The pipeline cuts latents with it (align =
 * ldm_unet_latent_align). */
void ldm_model_parallel_rows(const ldm_model_parallel *p, int64_t h, int64_t align, int64_t *r0,
                             int64_t *r1);

/* ---- building blocks of the split models (src/models only) -------------- */

/* Collective on p->spatial when it has > 1 rank, else local.
 * out [n, hw, c] (NHWC, hw = this rank's pixels) = GroupNorm over the whole
 * activation: local moments, one allreduce over `spatial`, apply [then
 * SiLU]. Without a spatial split: ldm_group_norm itself. */
ldm_status ldm_model_group_norm(const ldm_model_parallel *p, float *out, const float *x,
                                const float *gamma, const float *beta, int64_t n, int64_t c,
                                int64_t hw, int64_t groups, double eps, int silu);

/* A convolution over a row-split input with output-channel-split weights.
 * desc: the GLOBAL convolution (NHWC; h = the level's full height); align:
 * the input level's strip alignment. The local plan convolves
 * [n, above + rows + below, w, c_in] (halo rows from the neighbours) and
 * computes this rank's output channels, then allgathers them on `channel`.
 * Weights "<prefix>.weight" [c_out, c_in, kh, kw] (only this rank's rows are
 * read under a channel split) and "<prefix>.bias" [c_out] when has_bias.
 * Collective on both communicators (when split). Errors name the prefix;
 * LDM_EINPUT when a strided conv's output strips would not line up with the
 * next level's (align must be a multiple of the stride). */
typedef struct ldm_model_conv ldm_model_conv;
ldm_status ldm_model_conv_create(const ldm_model_parallel *p, int64_t align,
                                 const ldm_conv2d_desc *desc, const ldm_weights *w,
                                 const char *prefix, int has_bias, ldm_model_conv **out);
/* The same with another channel split (when `channel` has > 1 rank):
 *   LDM_CONV_SPLIT_GATHER  as ldm_model_conv_create (c0, c1 unused)
 *   LDM_CONV_SPLIT_LOCAL   output channels [c0, c1) only, left split: the
 *                          output is [n, out_rows, ow, c1 − c0]; no communication
 *   LDM_CONV_SPLIT_REDUCE  input channels [c0, c1) only (the input is
 *                          [n, in_rows, w, c1 − c0], halos move those channels):
 *                          partial sums of every output channel, one allreduce
 *                          over `channel`; the bias joins on channel rank 0
 * LOCAL followed by REDUCE is the Megatron pair (ResnetBlock2D conv1, conv2). */
typedef enum ldm_model_conv_split {
    LDM_CONV_SPLIT_GATHER = 0,
    LDM_CONV_SPLIT_LOCAL = 1,
    LDM_CONV_SPLIT_REDUCE = 2
} ldm_model_conv_split;
ldm_status ldm_model_conv_create_split(const ldm_model_parallel *p, int64_t align,
                                       const ldm_conv2d_desc *desc, const ldm_weights *w,
                                       const char *prefix, int has_bias,
                                       ldm_model_conv_split split, int64_t c0, int64_t c1,
                                       ldm_model_conv **out);
/* Scratch ldm_model_conv_run needs (halo buffer, channel slice, kernel). */
size_t ldm_model_conv_scratch_bytes(const ldm_model_conv *c);
/* Local input and output rows (the strips of the input and output levels). */
int64_t ldm_model_conv_in_rows(const ldm_model_conv *c);
int64_t ldm_model_conv_out_rows(const ldm_model_conv *c);
/* Collective (when split). out [n, out_rows, ow, c_out] (all channels) =
 * conv(in [n, in_rows, w, c_in]), the rank's strips. scratch: 64-byte
 * aligned, ldm_model_conv_scratch_bytes. Without any split: exactly
 * ldm_conv2d_run of the global plan. */
ldm_status ldm_model_conv_run(ldm_model_conv *c, float *out, const float *in, void *scratch);
void ldm_model_conv_destroy(ldm_model_conv **c);

/* A linear layer y [m, n] = x [m, k] Wᵀ + b with its output features split
 * over `channel` (weight rows read as slices) and re-assembled by one
 * allgather. The weight is the stack of parts: part i is tensor names[i]
 * of shape [rows[i], k] (weight_ndim 2) or [rows[i], k, 1, 1] (4: a 1×1
 * conv); bias (or NULL) is one [n] tensor. desc->n = Σ rows[i];
 * desc->ldx/ldy must be 0. Collective on `channel` (when split). */
typedef struct ldm_model_linear ldm_model_linear;
ldm_status ldm_model_linear_create(const ldm_model_parallel *p, const ldm_linear_desc *desc,
                                   const ldm_weights *w, const char *const *names,
                                   const int64_t *rows, int parts, int weight_ndim,
                                   const char *bias, ldm_model_linear **out);
/* Local. A linear layer without communication whose weight is a stack of
 * row slices: part i is rows [row0[i], row0[i] + nrows[i]) of tensor
 * names[i], shape [full_rows[i], k] (weight_ndim 2) or [full_rows[i], k,
 * 1, 1] (4), and its bias the same rows of biases[i] ([full_rows[i]]; biases
 * NULL: none). desc->n = Σ nrows[i]. The channel split uses it for a rank's
 * heads of to_q ‖ to_k ‖ to_v and its share of GEGLU's hidden ‖ gate. */
ldm_status ldm_model_linear_create_slices(const ldm_linear_desc *desc, const ldm_weights *w,
                                          const char *const *names, const char *const *biases,
                                          const int64_t *full_rows, const int64_t *row0,
                                          const int64_t *nrows, int parts, int weight_ndim,
                                          ldm_model_linear **out);

/* A linear layer split by INPUT features over `channel` (the Megatron pair
 * of an output-split layer): the rank holds columns [k0, k0 + desc->k) of
 * weight `name` [desc->n, full_k] and multiplies its slice x [m, desc->k];
 * one allreduce (sum) over `channel` gives every rank y [m, n]; the bias
 * (or NULL) is added by channel rank 0's share only. Only those columns
 * are read from the file (ldm_weights_read_cols_f32).
 * Collective on `channel`; without a channel split: a plain linear with
 * k0 = 0, desc->k = full_k. */
ldm_status ldm_model_linear_create_cols(const ldm_model_parallel *p, const ldm_linear_desc *desc,
                                        const ldm_weights *w, const char *name, int64_t full_k,
                                        int64_t k0, const char *bias, ldm_model_linear **out);
size_t ldm_model_linear_scratch_bytes(const ldm_model_linear *l);
/* Collective on `channel` (when split). y [m, n] = x [m, k] Wᵀ + b. */
ldm_status ldm_model_linear_run(ldm_model_linear *l, float *y, const float *x, void *scratch);
void ldm_model_linear_destroy(ldm_model_linear **l);

/* Weight bytes (fp32, packed plans excluded) this rank holds in conv and
 * linear layers created since the last reset (for the sharding report; a
 * process-wide counter, not thread-safe). */
void ldm_model_parallel_weight_bytes_reset(void);
size_t ldm_model_parallel_weight_bytes(void);

#endif
