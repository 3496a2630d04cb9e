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

/* ---- keys in blocks: accumulate, then finish -------------------------------
 *
 * The same attention when the keys and values arrive in several blocks (ring
 * attention over ranks, models/ring_attention.h): the online-softmax state
 * of every query row — running max m, running sum l and the unnormalised
 * output acc = Σ exp(s − m) v — is kept between calls, so
 *
 *   init; accumulate(block 0); …; accumulate(block n−1); finish
 *
 * equals ldm_attention over the keys of all blocks concatenated (in that
 * order). With all keys in one block it is bit for bit ldm_attention (the
 * same tiles in the same order: both run the same code); with other splits
 * only the order of the sums differs (~1e-7 relative). The blocks may come
 * in any order (softmax is permutation-invariant over keys).
 *
 * Conventions are ldm_attention's: desc gives batch, heads, lq, head_dim,
 * the strides ldq/ldk/ldv/ldo, scale and tiles; desc->lk is the LARGEST
 * block that will be accumulated (it sizes the scratch: pass the same desc
 * to ldm_attention_scratch_bytes). The output rows double as acc: out is
 * written by every accumulate and holds the result after finish. Blocks
 * may have different row strides: a caller may set p->desc.ldk and
 * p->desc.ldv before each accumulate (the state does not depend on them). */
typedef struct ldm_attention_partial {
    ldm_attention_desc desc;   /* as given to init */
    float *out;                /* borrowed: [batch, lq, ldo], acc until finish */
    float *m, *l;              /* borrowed state: [batch, heads, lq] each */
    int64_t keys;              /* keys accumulated so far (per batch entry) */
    int finished;
} ldm_attention_partial;

/* Bytes of state (running max and sum) for desc; 0 if desc is bad. */
size_t ldm_attention_partial_state_bytes(const ldm_attention_desc *desc);

/* Start a run: out [batch, lq, ldo] receives the result (it must not overlap
 * q or any k/v block), state: 64-byte aligned, state_bytes >=
 * ldm_attention_partial_state_bytes(desc). No arithmetic, no timer entry.
 * LDM_EINPUT for a bad desc or missing/too small state. */
ldm_status ldm_attention_partial_init(ldm_attention_partial *p, const ldm_attention_desc *desc,
                                      float *out, void *state, size_t state_bytes);

/* Attend every query q [batch, lq, ldq] to a block of n_keys keys
 * k [batch, kv_tokens, ldk] and values v [batch, kv_tokens, ldv]: the
 * block's first n_keys tokens of each batch entry (kv_tokens = 0 means
 * n_keys; a larger kv_tokens lets a block be the first keys of a longer
 * buffer, e.g. a chunk of a received block). 0 <= n_keys <= desc->lk;
 * n_keys = 0 does nothing. scratch as ldm_attention's. One LDM_T_ATTENTION
 * timer entry. LDM_EINPUT (naming the argument) for a bad count, a run
 * already finished or a too small scratch; LDM_ERUNTIME if a GEMM fails. */
ldm_status ldm_attention_partial_accumulate(ldm_attention_partial *p, const float *q,
                                            const float *k, const float *v, int64_t n_keys,
                                            int64_t kv_tokens, void *scratch,
                                            size_t scratch_bytes);

/* out ← acc / l: the attention over every key accumulated. LDM_EINPUT if
 * no key was accumulated or the run is already finished. Its time joins
 * the last accumulate's timer entry. */
ldm_status ldm_attention_partial_finish(ldm_attention_partial *p);

#endif
