/* unet_util.h — internal helpers shared by the UNet's modules
 * (transformer2d.c, unet_blocks.c, unet.c); not part of the public API.
 *
 * Execution context. A forward pass takes its activation buffers from one
 * arena (core/arena.h) and runs every kernel plan with one shared scratch
 * buffer (plans run one after another, so the largest need is enough). The
 * same forward code sizes the arena: run it once on a measuring arena, where
 * pushes return NULL and the ldm_unet_* kernel wrappers below do nothing, then
 * allocate arena.peak bytes. So a module's forward calls kernels only through
 * these wrappers (or checks ldm_unet_measuring itself).
 *
 * Weight names: a module's tensors are "<prefix>.<name>" (prefix without
 * the trailing dot, as models/resnet.h; an empty prefix gives "<name>", for
 * tests that load one module's own state dict). Expected-tensor lists are
 * models/resnet.h's ldm_spec_list.
 */
#ifndef LDM_MODELS_UNET_UTIL_H
#define LDM_MODELS_UNET_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "io/weights.h"
#include "kernels/attention.h"
#include "kernels/conv2d.h"
#include "kernels/linear.h"
#include "models/parallel.h"
#include "models/resnet.h"

typedef struct ldm_unet_exec {
    ldm_arena *arena;     /* borrowed: activations (a measuring arena when sizing) */
    void *scratch;        /* borrowed: kernel scratch, 64-byte aligned */
    size_t scratch_bytes; /* its size: >= every plan's need */
} ldm_unet_exec;

static inline int ldm_unet_measuring(const ldm_unet_exec *ex)
{
    return ex->arena->measuring;
}

/* Push `count` floats from the execution arena. */
ldm_status ldm_unet_push(ldm_unet_exec *ex, int64_t count, const char *what, float **out);

/* Kernel wrappers: no-ops while measuring; otherwise the kernel with the
 * shared scratch. The conv and linear layers are models/parallel.h's (a
 * split layer communicates: every rank runs them in the same order). */
ldm_status ldm_unet_run_linear(ldm_unet_exec *ex, ldm_model_linear *layer, float *y,
                               const float *x);
ldm_status ldm_unet_run_conv(ldm_unet_exec *ex, ldm_model_conv *layer, float *out,
                             const float *in);
ldm_status ldm_unet_run_attention(ldm_unet_exec *ex, const ldm_attention_desc *d, float *out,
                                  const float *q, const float *k, const float *v);

/* Weight loading for layers (p: the parallel context or NULL; under a
 * channel split only this rank's output rows are read). `module` is a full
 * module name ("up_blocks.1.attentions.0.proj_in"); its tensors are
 * "<module>.weight" and "<module>.bias" (shapes checked). `scratch_need`
 * grows to the layer's scratch bytes. */
ldm_status ldm_unet_load_linear(const ldm_model_parallel *p, const ldm_weights *w,
                                const char *module, int has_bias, const ldm_linear_desc *desc,
                                size_t *scratch_need, ldm_model_linear **out);
/* Linear from a 1×1 convolution's weight [n, k, 1, 1] (proj_in / proj_out in
 * NHWC: a 1×1 convolution over channels-last pixels is a linear layer). */
ldm_status ldm_unet_load_linear_1x1(const ldm_model_parallel *p, const ldm_weights *w,
                                    const char *module, const ldm_linear_desc *desc,
                                    size_t *scratch_need, ldm_model_linear **out);
/* Linear without bias whose weight is the [rows[i], k] weights of
 * "<prefix>.<names[i]>.weight" stacked along n (fused q/k/v);
 * desc->n = Σ rows[i]. */
ldm_status ldm_unet_load_linear_stacked(const ldm_model_parallel *p, const ldm_weights *w,
                                        const char *prefix, const char *const *names,
                                        const int64_t *rows, int count,
                                        const ldm_linear_desc *desc, size_t *scratch_need,
                                        ldm_model_linear **out);
/* desc: the global convolution; align: its input level's strip alignment. */
ldm_status ldm_unet_load_conv(const ldm_model_parallel *p, int64_t align, const ldm_weights *w,
                              const char *module, const ldm_conv2d_desc *desc,
                              size_t *scratch_need, ldm_model_conv **out);
/* The vector "<prefix>.<name>" [n] (norm gamma/beta) into a new buffer. */
ldm_status ldm_unet_load_vector(const ldm_weights *w, const char *prefix, const char *name,
                                int64_t n, float **out);

/* "<prefix>.<name>" (or "<name>" for an empty prefix) into buf (LDM_EINPUT
 * if it does not fit). */
ldm_status ldm_unet_name(char *buf, size_t cap, const char *prefix, const char *name);

#endif
