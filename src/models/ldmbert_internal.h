/* ldmbert_internal.h — shared between ldmbert.c and ldmbert_config.c only. */
#ifndef LDM_MODELS_LDMBERT_INTERNAL_H
#define LDM_MODELS_LDMBERT_INTERNAL_H

#include <stdint.h>

#include "core/status.h"
#include "io/weights.h"
#include "models/ldmbert.h"

/* x[count] = act(x) in place, `act` a code from ldm_ldmbert_config.activation,
 * with the arithmetic of transformers' ACT2FN[name]. */
void ldm_ldmbert_activate(int act, float *x, int64_t count);

/* The expected tensors of a model with config `c` (see ldmbert.h), plus
 * to_logits.weight (with_logits bit 0) and to_logits.bias (bit 1) with any
 * shape. *specs and
 * *names (the storage the specs' names point into) are from ldm_alloc. */
ldm_status ldm_ldmbert_weight_specs(const ldm_ldmbert_config *c, int with_logits,
                                    ldm_weight_spec **specs, char **names, int *n);

#endif
