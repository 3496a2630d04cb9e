/* ring_attention.h — exact self-attention over row strips by passing K/V
 * blocks around a ring (docs/parallelism.md §2.1).
 *
 * P ranks of `comm` each own a contiguous block of tokens (uneven sizes,
 * empty blocks allowed) with its queries q and its keys ‖ values kv. Every
 * query must attend to every key. Instead of gathering all K/V blocks
 * (mpi/gather.h: P blocks held at once), each rank keeps an online-softmax
 * state per query row (kernels/attention.h, accumulate/finish) and the
 * blocks travel around the ring:
 *
 *   step s = 0 … P−1:  block in hand = rank (r − s) mod P's
 *     s < P−1: MPI_Irecv the next block from rank r−1, MPI_Isend the block
 *              in hand to rank r+1
 *     accumulate(queries, block in hand)    — overlaps the transfer; chunks
 *              of ~1024 keys with an MPI_Testall between them drive MPI's
 *              progress
 *     wait; the received block becomes the block in hand
 *   finish
 *
 * Block sizes are exchanged once, at create. Every message is contiguous:
 * Open MPI's shared-memory transport moves a contiguous message with one
 * single copy at the first MPI test after it arrives, but pipelines a
 * derived datatype in 32 KB fragments only inside MPI calls, which defeats
 * the overlap (measured: docs/parallelism.md). The rank's own block is sent
 * straight from the caller's buffer when its rows are contiguous (ld_kv =
 * 2·inner), else packed once. Blocks are held in at most two buffers of
 * the largest block (one at P = 2 with a contiguous own block) instead of
 * all P blocks. The result equals the single-rank attention up to the
 * order of the sums (blocks arrive in ring order, ~1e-7 relative).
 *
 * Timers (core/timers.h): each step that moves data adds one
 * LDM_T_COMM_SENDRECV call with the bytes this rank sent and the seconds
 * spent in MPI (posting, tests, the final wait — not the overlapped
 * compute); the kernel adds LDM_T_ATTENTION per accumulate.
 */
#ifndef LDM_MODELS_RING_ATTENTION_H
#define LDM_MODELS_RING_ATTENTION_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "kernels/attention.h"

typedef struct ldm_ring_attention ldm_ring_attention;

/* Collective on comm (one MPI_Allgather of the token counts; every rank
 * returns the same status). desc: this rank's queries — batch, heads,
 * head_dim, scale, tiles, ldq, ldo as ldm_attention; desc->lq = this
 * rank's tokens (0 allowed: it only relays blocks); lk, ldk and ldv are
 * set by the ring. ld_kv: elements between tokens of the rank's k ‖ v
 * buffer (k at columns [0, inner), v at [inner, 2·inner), inner =
 * heads·head_dim); 0 = 2·inner, the cheaper layout (no packing, one
 * buffer less). LDM_EINPUT (naming the field) for a bad
 * desc or ld_kv, when every rank has 0 tokens, or when ranks disagree on
 * batch/heads/head_dim; LDM_ERUNTIME if a block exceeds MPI's int counts. */
ldm_status ldm_ring_attention_create(MPI_Comm comm, const ldm_attention_desc *desc,
                                     int64_t ld_kv, ldm_ring_attention **out);

/* Local. Memory of one run: `work` (receive buffers and the online-softmax
 * state, 64-byte aligned) and the kernel's tile scratch for `threads`
 * threads (ldm_attention_scratch_bytes with lk = the largest block). */
size_t ldm_ring_attention_work_bytes(const ldm_ring_attention *r);
size_t ldm_ring_attention_scratch_bytes(const ldm_ring_attention *r, int threads);
/* Local. Bytes of K/V held in receive buffers (the gather would hold
 * batch · all tokens · 2·inner floats). */
size_t ldm_ring_attention_kv_bytes(const ldm_ring_attention *r);
/* Local. Tokens of every rank: starts[0 .. P] (starts[P] = all tokens). */
const int64_t *ldm_ring_attention_starts(const ldm_ring_attention *r);

/* Collective on the ring's comm. out [batch, lq, ldo] = softmax(q kᵀ·scale) v
 * with q [batch, lq, ldq] this rank's queries and the keys/values of every
 * rank's kv [batch, its tokens, ld_kv]. out must not overlap q, kv or work.
 * A rank whose kernel fails still completes every transfer (no rank is
 * left waiting inside the ring) and returns the error. */
ldm_status ldm_ring_attention_run(ldm_ring_attention *r, float *out, const float *q,
                                  const float *kv, void *work, void *scratch,
                                  size_t scratch_bytes);

/* Local. NULL is fine; *r becomes NULL. */
void ldm_ring_attention_destroy(ldm_ring_attention **r);

#endif
