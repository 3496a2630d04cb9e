/* conv2d.h — 2-D convolution (torch.nn.Conv2d semantics, fp32) on oneDNN.
 *
 * Building what to compute is separate from computing it: a plan is made
 * once per layer and shape (it creates the oneDNN primitive and reorders the
 * weights into the primitive's preferred format, once), then run in the hot
 * loop with caller-provided scratch memory; running allocates nothing.
 *
 *   plan:  ldm_conv2d_plan_create(&desc, weight, bias, &plan)
 *   run:   ldm_conv2d_run(plan, out, in, scratch)   scratch: ldm_conv2d_scratch_bytes(plan)
 *   free:  ldm_conv2d_plan_destroy(&plan)
 *
 * Padding is per side, so diffusers' Downsample2D with padding=0 (which pads
 * right and bottom by one before a stride-2 3×3 conv) is pad_bottom =
 * pad_right = 1, the others 0. Output size: oh = (h + pad_top + pad_bottom -
 * kh) / stride_h + 1, likewise ow.
 *
 * Layout (kernels/layout.h) applies to both `in` and `out`. The algorithm:
 *   LDM_CONV_DIRECT    oneDNN direct convolution (NHWC: brgconv, ~90% of peak)
 *   LDM_CONV_WINOGRAD  oneDNN Winograd F(4×4, 3×3): 3×3 stride 1 only,
 *                      ~2× faster on mid-sized layers, error ~1e-7 relative
 *   LDM_CONV_AUTO      the backend docs/performance.md measured fastest for
 *                      the shape (Winograd only where it wins and exists)
 * When the primitive wants another activation layout than the caller's
 * (Winograd wants 16-channel blocks) the plan reorders in and out through
 * the scratch memory.
 *
 * Threads: oneDNN partitions the work when the plan is created, for the
 * thread count in force then (kernels/threads.h); set it before creating
 * plans and keep it. A plan holds oneDNN memory objects whose data pointers
 * are set on each run, so one plan runs on one thread at a time.
 */
#ifndef LDM_KERNELS_CONV2D_H
#define LDM_KERNELS_CONV2D_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "kernels/layout.h"

typedef enum ldm_conv_algo {
    LDM_CONV_AUTO = 0,
    LDM_CONV_DIRECT = 1,
    LDM_CONV_WINOGRAD = 2
} ldm_conv_algo;

typedef struct ldm_conv2d_desc {
    int64_t n, c_in, h, w;          /* input [n, c_in, h, w] */
    int64_t c_out, kh, kw;          /* weight [c_out, c_in, kh, kw] (torch layout) */
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_bottom, pad_left, pad_right;
    ldm_layout layout;              /* of in and out */
    ldm_conv_algo algo;
} ldm_conv2d_desc;

typedef struct ldm_conv2d_plan ldm_conv2d_plan;

/* Output height and width for a description; LDM_EINPUT (message naming the
 * field) if a size, stride or padding is out of range. */
ldm_status ldm_conv2d_out_size(const ldm_conv2d_desc *desc, int64_t *oh, int64_t *ow);

/* Create a plan. weight: [c_out, c_in, kh, kw] fp32 (copied into the plan;
 * the caller may free it afterwards); bias: [c_out] or NULL. Errors:
 * LDM_EINPUT for a bad description, LDM_ERUNTIME when oneDNN has no
 * implementation (e.g. Winograd requested for a stride-2 conv) or memory runs
 * out. *out is NULL on failure. */
ldm_status ldm_conv2d_plan_create(const ldm_conv2d_desc *desc, const float *weight,
                                  const float *bias, ldm_conv2d_plan **out);

/* Bytes of scratch memory ldm_conv2d_run needs (may be 0). */
size_t ldm_conv2d_scratch_bytes(const ldm_conv2d_plan *plan);

/* out [n, c_out, oh, ow] = conv(in [n, c_in, h, w]) + bias, both in the
 * plan's layout. out must not overlap in; scratch: at least
 * ldm_conv2d_scratch_bytes bytes, 64-byte aligned (ldm_alloc), or NULL when
 * that is 0. Returns LDM_ERUNTIME if oneDNN fails. */
ldm_status ldm_conv2d_run(ldm_conv2d_plan *plan, float *out, const float *in, void *scratch);

/* The algorithm the plan uses (never LDM_CONV_AUTO) and oneDNN's name of the
 * implementation (e.g. "brg:avx512_core", "jit_wino_4x3:avx512_core"). */
ldm_conv_algo ldm_conv2d_plan_algo(const ldm_conv2d_plan *plan);
const char *ldm_conv2d_plan_impl(const ldm_conv2d_plan *plan);

/* Free a plan (NULL is fine) and set *plan to NULL. */
void ldm_conv2d_plan_destroy(ldm_conv2d_plan **plan);

#endif
