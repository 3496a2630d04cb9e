/* ldmbert_internal.h — shared between the ldmbert*.c files only. */
#ifndef LDM_MODELS_LDMBERT_INTERNAL_H
#define LDM_MODELS_LDMBERT_INTERNAL_H

#include <mpi.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"
#include "io/weights.h"
#include "kernels/attention.h"
#include "kernels/linear.h"
#include "models/ldmbert.h"

typedef struct ldmbert_layer {
    ldm_linear_plan *qkv;         /* owned: W [3·inner_local, d] = q ‖ k ‖ v, no bias */
    ldm_linear_plan *out_proj;    /* owned: W [d, inner_local], b [d] (split: no b) */
    ldm_linear_plan *fc1;         /* owned: W [ffn_local, d], b [ffn_local] */
    ldm_linear_plan *fc2;         /* owned: W [d, ffn_local], b [d] (split: no b) */
    const float *ln1_w, *ln1_b;   /* borrowed from small: [d] self_attn_layer_norm */
    const float *ln2_w, *ln2_b;   /* borrowed from small: [d] final_layer_norm */
    const float *out_b, *fc2_b;   /* split: borrowed from bias_d, [d] each, added after
                                     the allreduce; NULL otherwise */
} ldmbert_layer;

typedef struct ldmbert_pblas ldmbert_pblas;

struct ldm_ldmbert {
    ldm_ldmbert_config cfg;
    char *config_path;         /* owned, for messages */
    int64_t batch, tokens;     /* B, L */
    int64_t rows, inner;       /* B·L, heads·head_dim */
    float *embed_tokens;       /* owned [vocab, d] */
    float *embed_positions;    /* owned [L, d]: the first L rows */
    float *small;              /* owned [4·layers + 2, d]: LayerNorm weights and biases */
    const float *lnf_w, *lnf_b; /* borrowed from small: [d] model.layer_norm */
    ldmbert_layer *layers;     /* owned [encoder_layers] */
    ldm_attention_desc attn;
    /* distribution: single process when comm == MPI_COMM_NULL */
    MPI_Comm comm;             /* borrowed channel communicator */
    int nranks, rank;          /* Pc and this rank (1, 0 single-process) */
    ldm_ldmbert_dist dist;     /* SPLIT or PBLAS when distributed, else DEFAULT */
    int64_t head0;             /* split: this rank's first head (else 0) */
    int64_t inner_local;       /* split: heads/Pc · head_dim (else inner) */
    int64_t ffn0, ffn_local;   /* split: fc1 rows / fc2 columns [ffn0, +ffn_local);
                                  single: 0, ffn; pblas: 0, 0 */
    float *bias_d;             /* split: owned [layers, 2, d]: out_proj.bias, fc2.bias */
    ldmbert_pblas *pb;         /* pblas: owned (ldmbert_pblas.c) */
    ldm_arena arena;           /* owned: everything below lives in it */
    float *x;                  /* [B·L, d] residual stream */
    float *h;                  /* [B·L, d] LayerNorm output */
    float *qkv;                /* [B·L, 3·inner_local] q ‖ k ‖ v per row */
    float *ctx;                /* [B·L, inner_local] attention output */
    float *t;                  /* [B·L, d] out_proj / fc2 output */
    float *f;                  /* [B·L, ffn_local] fc1 output, activated in place */
    void *lin_scratch;         /* linear plans' scratch (the largest) */
    size_t lin_scratch_bytes;
    void *attn_scratch;
    size_t attn_scratch_bytes;
};

#define LDMBERT_LN_EPS 1e-5 /* nn.LayerNorm's default, used by every LDMBert norm */

/* x[count] = act(x) in place, `act` a code from ldm_ldmbert_config.activation,
 * with the arithmetic of transformers' ACT2FN[name]. */
void ldm_ldmbert_activate(int act, float *x, int64_t count);

/* The expected tensors of a model with config `c` (see ldmbert.h), plus
 * to_logits.weight (with_logits bit 0) and to_logits.bias (bit 1) with any
 * shape. *specs and
 * *names (the storage the specs' names point into) are from ldm_alloc. */
ldm_status ldm_ldmbert_weight_specs(const ldm_ldmbert_config *c, int with_logits,
                                    ldm_weight_spec **specs, char **names, int *n);

/* ---- PBLAS variant (ldmbert_pblas.c) ---- */

/* Collective on m->comm (ranks agree on failure): the BLACS grid, the
 * block-cyclic weights (each rank reads its own blocks of every layer's
 * q/k/v, out_proj, fc1, fc2 from w), replicated biases, the distributed
 * activations and the gather buffers. m->cfg, rows, inner, comm are set. */
ldm_status ldm_ldmbert_pblas_create(ldm_ldmbert *m, const ldm_weights *w,
                                    const ldm_ldmbert_options *opts);

/* Collective. One encoder layer on m->x [B·L, d] (replicated), in place. */
ldm_status ldm_ldmbert_pblas_layer(ldm_ldmbert *m, int64_t l);

/* Collective on the grid's communicator (BLACS grid exit). NULL is fine. */
void ldm_ldmbert_pblas_destroy(ldmbert_pblas **pb);

#endif
