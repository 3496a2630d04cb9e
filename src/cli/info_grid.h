/* info_grid.h — `ldm info --grid PcxPs [--height H --width W]`: what one
 * rank of a Pc × Ps grid holds.
 *
 * Weights: from each model's full weight list (models/model_specs.h), in
 * fp32 as they sit in memory. A tensor is sharded over the Pc channel ranks
 * when its leading (output-channel) dimension is divisible by Pc — conv and
 * linear weights and their biases, norm parameters (whole groups per rank);
 * embeddings (token, position, timestep MLP) and tensors Pc does not divide
 * are counted whole on every rank. The spatial split Ps shares no weights.
 * For the autoencoder only the decoder (what txt2img loads) counts.
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

/* Print the per-rank table for `mf` to stdout. height/width 0: the
 * model's default size. */
ldm_status ldm_info_grid(const ldm_model_folder *mf, int pc, int ps, int height, int width);

#endif
