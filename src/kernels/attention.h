/* attention.h — scaled dot-product attention, tiled with an online softmax.
 *
 *   out = softmax(q kᵀ · scale) v        per batch entry and head
 *
 * as F.scaled_dot_product_attention (no mask, no dropout, not causal), which
 * is what diffusers' Attention (AttnProcessor2_0) and LDMBert's attention
 * compute. The score matrix is never held whole: each thread takes a block
 * of block_q queries of one (batch, head) and streams over blocks of block_k
 * keys, keeping a running row maximum and sum (the "flash attention"
 * recurrence), so 64×64 latents (4096 queries × 4096 keys) and larger need
 * only block_q × block_k floats per thread. Both products of a tile are
 * SGEMMs (oneDNN, one thread each, threads across tiles).
 *
 * Layout: q, k, v and out are [batch, tokens, heads·head_dim] — what the
 * to_q/to_k/to_v projections produce and to_out consumes, so no transpose
 * is needed on either side. Element (b, t, h, j) of q is at
 * q[(b·lq + t)·ldq + h·head_dim + j]; the row strides ldq/ldk/ldv/ldo allow
 * q, k and v to be slices of one fused projection (e.g. ldq = 3·inner).
 *
 * Accuracy: matches torch within ~1e-7 relative (the order of the sums
 * differs; exp has ≤ 2 ulp error).
 */
#ifndef LDM_KERNELS_ATTENTION_H
#define LDM_KERNELS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ldm_attention_desc {
    int64_t batch, heads;
    int64_t lq, lk;             /* query and key/value tokens (lk = 77 for cross-attention) */
    int64_t head_dim;
    int64_t ldq, ldk, ldv, ldo; /* elements between tokens; 0 = heads·head_dim */
    float scale;                /* 0 = 1/sqrt(head_dim), torch's default */
    int64_t block_q, block_k;   /* tile sizes; 0 = defaults (tuned, docs/performance.md) */
} ldm_attention_desc;

/* Scratch for `threads` threads (pass ldm_kernels_threads()): the run uses
 * at most as many threads as the scratch has room for. 0 if desc is bad. */
size_t ldm_attention_scratch_bytes(const ldm_attention_desc *desc, int threads);

/* out = attention(q, k, v). out must not overlap q, k or v. scratch: 64-byte
 * aligned, scratch_bytes >= ldm_attention_scratch_bytes(desc, 1).
 * LDM_EINPUT (message naming the field) for a bad description or too small
 * scratch; LDM_ERUNTIME if the GEMM fails. */
ldm_status ldm_attention(const ldm_attention_desc *desc, float *out, const float *q,
                         const float *k, const float *v, void *scratch, size_t scratch_bytes);

#endif
