/* info_grid.h — `ldm info --grid PcxPs [--height H --width W]`: what one
 * rank of a Pc × Ps grid holds.
 *
 * Weights: from each model's full weight list (models/model_specs.h), in
 * fp32 as they sit in memory; "per rank" is what channel rank 0 (the rank
 * holding most) keeps, by the rule the split models follow (info_grid.c
 * rank0_share): conv and linear layers 1/Pc (output rows, or input columns
 * of the Megatron-paired layers, whose bias rank 0 holds whole); layers
 * with fewer output channels than Pc, the VAE's mid-block attention, norms
 * and the text encoder's embeddings whole on every rank. The spatial split
 * Ps shares no weights. For the autoencoder only the decoder (what txt2img
 * loads) counts. tests/mpi/wire_info.c checks the conv/linear part against
 * ldm_model_parallel_weight_bytes of the models built with the split.
 *
 * Activations: an estimate of the largest live set, not a measurement:
 * UNet (batch 2 with guidance): the skip tensors of every level plus six
 * working tensors of the finest level, rows / Ps plus two halo rows, and
 * with Ps > 1 the gathered K/V of the finest self-attention; VAE decoder
 * (batch 1): four working tensors of its largest level. Activations are not
 * divided by Pc (the channel split re-assembles them after each layer).
 */
#ifndef LDM_CLI_INFO_GRID_H
#define LDM_CLI_INFO_GRID_H

#include "core/status.h"
#include "io/model_folder.h"

/* One component's weight bytes: all of them, what channel rank 0 of Pc
 * holds, and of that the conv/linear layers only (the tensors
 * models/parallel.h's ldm_model_parallel_weight_bytes counts). */
typedef struct ldm_info_weights {
    double total, per_rank, layers_per_rank;
} ldm_info_weights;
ldm_status ldm_info_grid_weights(const ldm_component *c, int pc, ldm_info_weights *out);

/* Print the per-rank table for `mf` to stdout. height/width 0: the
 * model's default size. */
ldm_status ldm_info_grid(const ldm_model_folder *mf, int pc, int ps, int height, int width);

#endif
