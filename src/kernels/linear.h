/* linear.h — dense layers and GEMM (torch.nn.Linear semantics, fp32).
 *
 * A linear plan packs the weights once into oneDNN's matmul format (94–98%
 * of peak on the attention and text-encoder shapes, docs/performance.md) and
 * runs with caller-provided scratch:
 *
 *   y[m, n] = x[m, k] · W[n, k]ᵀ + b[n]        (W in torch's [out, in] layout)
 *
 * Rows of x and y may be strided (ldx, ldy >= k, n; 0 means dense), so a
 * plan can read a slice of a wider activation or write q, k and v side by
 * side into one [m, 3·inner] buffer.
 *
 * ldm_gemm is a plain row-major SGEMM (oneDNN's dnnl_sgemm) for products
 * whose operands are both activations. It uses all kernel threads, or one
 * when called inside an OpenMP parallel region.
 *
 * Threads: as for conv2d.h, a plan is partitioned for the thread count in
 * force when it is created; one plan runs on one thread at a time.
 */
#ifndef LDM_KERNELS_LINEAR_H
#define LDM_KERNELS_LINEAR_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ldm_linear_desc {
    int64_t m;          /* rows (tokens) */
    int64_t k;          /* in_features */
    int64_t n;          /* out_features */
    int64_t ldx;        /* elements between rows of x; 0 = k */
    int64_t ldy;        /* elements between rows of y; 0 = n */
} ldm_linear_desc;

typedef struct ldm_linear_plan ldm_linear_plan;

/* weight: [n, k] (copied and packed; the caller may free it afterwards);
 * bias: [n] or NULL. LDM_EINPUT for a bad description (message names the
 * field), LDM_ERUNTIME for oneDNN or memory failures. */
ldm_status ldm_linear_plan_create(const ldm_linear_desc *desc, const float *weight,
                                  const float *bias, ldm_linear_plan **out);

/* Bytes of scratch ldm_linear_run needs (may be 0). */
size_t ldm_linear_scratch_bytes(const ldm_linear_plan *plan);

/* y = x Wᵀ + b. y must not overlap x. scratch: ldm_linear_scratch_bytes
 * bytes, 64-byte aligned, or NULL when that is 0. */
ldm_status ldm_linear_run(ldm_linear_plan *plan, float *y, const float *x, void *scratch);

/* oneDNN's implementation name (e.g. "brg:avx512_core"). */
const char *ldm_linear_plan_impl(const ldm_linear_plan *plan);

/* Free a plan (NULL is fine) and set *plan to NULL. */
void ldm_linear_plan_destroy(ldm_linear_plan **plan);

/* Row-major C[m, n] = alpha · op(A) · op(B) + beta · C, op(X) = X or Xᵀ
 * (trans_a / trans_b nonzero). A is [m, k] (or [k, m] transposed) with row
 * stride lda, B is [k, n] (or [n, k]) with ldb, C has ldc. LDM_EINPUT for
 * negative sizes or too small strides, LDM_ERUNTIME if oneDNN fails. */
ldm_status ldm_gemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                    float *c, int64_t ldc);

#endif
