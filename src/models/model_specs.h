/* model_specs.h — the full state dict of a pipeline model component, by
 * class name, from the model code itself.
 *
 * The lists are the ones each model's create checks weights against
 * (ldm_unet_weight_specs, ldm_vae_weight_specs, LDMBert's list), so a
 * folder written from them (`ldm init`) loads in ldm by construction, and
 * the names are those diffusers / transformers save: what `from_pretrained`
 * expects. For LDMBertModel the list also has to_logits.weight
 * [vocab_size, d_model] and to_logits.bias [vocab_size]: LDMBertModel's
 * nn.Linear(hidden_size, vocab_size), part of its state dict although the
 * pipeline never uses it (ldm accepts and ignores it).
 */
#ifndef LDM_MODELS_MODEL_SPECS_H
#define LDM_MODELS_MODEL_SPECS_H

#include "core/status.h"
#include "io/config.h"
#include "models/resnet.h"

/* 1 for the model classes ldm implements: UNet2DConditionModel,
 * AutoencoderKL, LDMBertModel. */
int ldm_model_class_supported(const char *class_name);

/* Append the tensors of a `class_name` model with this config to `list`.
 * Errors: LDM_EINPUT for an unsupported class (naming it and the config
 * file) or a bad config (as the model's create would report it). */
ldm_status ldm_model_weight_specs(const char *class_name, const ldm_config *config,
                                  ldm_spec_list *list);

#endif
