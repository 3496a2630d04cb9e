/* ldmbert.h — LDMBert, the text encoder of CompVis/ldm-text2im-large-256.
 *
 * Exactly diffusers 0.27.2's LDMBertModel (pipelines/latent_diffusion/
 * pipeline_latent_diffusion.py) as LDMTextToImagePipeline calls it,
 * `bert(input_ids)[0]`, in float32:
 *
 *   x = embed_tokens[ids] + embed_positions[0..L)        // [B, L, d_model]
 *   for each of encoder_layers layers (pre-LayerNorm):
 *     x = x + out_proj(attention(LN1(x)))                // q/k/v_proj: no bias
 *     x = x + fc2(act(fc1(LN2(x))))                      // act: activation_function
 *   out = layer_norm(x)                                  // last_hidden_state
 *
 * Facts of that code the C side reproduces (and the goldens check):
 *   - no attention mask: the pipeline passes none, so [PAD] tokens are
 *     attended to like any other token;
 *   - no embedding scale: LDMBertConfig stores scale_embedding but
 *     LDMBertEncoder.forward never uses it, so it is ignored here too;
 *   - attention uses heads·head_dim (the "inner" dim), which need not equal
 *     d_model; scores are scaled by head_dim^-0.5; LayerNorm eps is 1e-5;
 *   - "hidden_size" / "num_attention_heads" in config.json override
 *     d_model / encoder_attention_heads (LDMBertConfig.attribute_map);
 *   - activation_function: every name of transformers 4.38.2's ACT2FN
 *     (gelu, gelu_10, gelu_fast, gelu_new, gelu_python, gelu_pytorch_tanh,
 *     gelu_accurate, laplace, leaky_relu, linear, mish, quick_gelu, relu,
 *     relu2, relu6, sigmoid, silu, swish, tanh); anything else is an error
 *     naming the key and value.
 * Dropout and layerdrop are training-only and absent here.
 *
 * Weights: names as LDMBertModel's state dict — "model.embed_tokens.weight"
 * [vocab_size, d_model], "model.embed_positions.weight" [max_position_
 * embeddings, d_model], "model.layers.<i>.self_attn.{q,k,v}_proj.weight"
 * [inner, d_model], "...self_attn.out_proj.{weight,bias}" [d_model, inner],
 * [d_model], "...self_attn_layer_norm.{weight,bias}", "...fc1.{weight,bias}"
 * [ffn, d_model], [ffn], "...fc2.{weight,bias}" [d_model, ffn], [d_model],
 * "...final_layer_norm.{weight,bias}", "model.layer_norm.{weight,bias}".
 * "to_logits.{weight,bias}" (unused by the pipeline) is accepted with any
 * shape when present and never read.
 *
 * Compute: q, k and v are one GEMM over all B·L rows (the three weights are
 * packed side by side into one linear plan), attention is the tiled kernel
 * on the [B, L, heads·head_dim] layout, every other product is one packed
 * GEMM over B·L rows. All activation memory is one arena allocated by
 * create; forward allocates nothing.
 *
 * Distributed (ldm_ldmbert_create_opts with a channel communicator of Pc > 1
 * ranks; DESIGN.md §4 "text encoder", docs/parallelism.md §4): the weights of
 * the encoder layers are spread over the Pc ranks, never whole on each; the
 * embeddings and LayerNorms are replicated, and so are the input ids and the
 * output. Two ways, chosen by ldm_ldmbert_options.dist:
 *   - SPLIT (the default, the faster measured): heads and FFN columns are
 *     split. Each rank reads row slices of q/k/v_proj (its heads) and fc1
 *     (its FFN columns) and column slices of out_proj and fc2, computes its
 *     heads' attention and its FFN columns locally (oneDNN), and one
 *     MPI_Allreduce sum of [B·L, d_model] after out_proj and one after fc2
 *     re-assemble the residual update; their biases are added once, after
 *     the sum. Pc must divide encoder_attention_heads.
 *   - PBLAS: q/k/v, out_proj, fc1, fc2 are psgemm products on a BLACS grid
 *     over the channel communicator (mpi/pblas.h) with block-cyclic weights
 *     (each rank reads its blocks only); the projections' outputs are
 *     gathered for the attention, which every rank computes for all heads.
 * With no context, MPI_COMM_NULL or one rank, create and forward are exactly
 * the single-process code.
 */
#ifndef LDM_MODELS_LDMBERT_H
#define LDM_MODELS_LDMBERT_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/config.h"
#include "io/weights.h"
#include "models/parallel.h"

/* The hyper-parameters LDMBert's forward depends on, as read from
 * config.json (missing keys take LDMBertConfig's defaults: the real model's
 * sizes). */
typedef struct ldm_ldmbert_config {
    int64_t vocab_size;              /* 30522 */
    int64_t max_position_embeddings; /* 77 */
    int64_t d_model;                 /* 1280 ("hidden_size" overrides) */
    int64_t encoder_ffn_dim;         /* 5120 */
    int64_t encoder_layers;          /* 32 */
    int64_t encoder_attention_heads; /* 8 ("num_attention_heads" overrides) */
    int64_t head_dim;                /* 64 */
    int activation;                  /* internal code for activation_function */
    const char *activation_function; /* "gelu"; static string (not the config's) */
} ldm_ldmbert_config;

typedef struct ldm_ldmbert ldm_ldmbert;

/* Read and check the hyper-parameters. Errors (LDM_EINPUT, naming the
 * config file and key): a size that is not a positive integer, an
 * unsupported activation_function. */
ldm_status ldm_ldmbert_config_read(const ldm_config *config, ldm_ldmbert_config *out);

/* Build the encoder for inputs of `batch` sequences of `tokens` ids:
 * reads the config, checks every tensor of `w` (missing, unexpected, shape:
 * LDM_EINPUT naming the file and tensor), packs the weights into linear
 * plans, and allocates the activation arena. tokens > max_position_
 * embeddings is LDM_EINPUT. `w` is only read during create; the model does
 * not keep it. */
ldm_status ldm_ldmbert_create(const ldm_config *config, const ldm_weights *w, int64_t batch,
                              int64_t tokens, ldm_ldmbert **out);

/* How a distributed encoder splits its layers (see the top of this file). */
typedef enum ldm_ldmbert_dist {
    LDM_LDMBERT_DIST_DEFAULT = 0, /* SPLIT: measured faster (docs/parallelism.md §4) */
    LDM_LDMBERT_DIST_SPLIT,       /* heads / FFN columns, 2 allreduces per layer */
    LDM_LDMBERT_DIST_PBLAS,       /* psgemm on a BLACS grid, block-cyclic weights */
} ldm_ldmbert_dist;

typedef struct ldm_ldmbert_options {
    /* NULL, or channel MPI_COMM_NULL or of size 1: the single-process
     * encoder. Only `channel` is used (borrowed: it must outlive the model);
     * its error handler must be MPI_ERRORS_RETURN (mpi/util.h). */
    const ldm_model_parallel *parallel;
    ldm_ldmbert_dist dist;
    int pblas_nprow, pblas_npcol; /* PBLAS grid, nprow·npcol = Pc; 0, 0: 1 × Pc */
    int pblas_block;              /* PBLAS block-cyclic block; 0: 64 */
} ldm_ldmbert_options;

/* "split" / "pblas" / "default" → the enum; anything else is LDM_EINPUT
 * naming `what` (a flag or key) and the value. */
ldm_status ldm_ldmbert_dist_parse(const char *name, const char *what, ldm_ldmbert_dist *out);
const char *ldm_ldmbert_dist_name(ldm_ldmbert_dist dist);

/* ldm_ldmbert_create with options (NULL: the defaults, single process).
 * Distributed: collective on opts->parallel->channel; every rank passes the
 * same config, weights (files), batch, tokens and options, and the ranks
 * agree on failure (one rank's read error fails all). Errors (LDM_EINPUT):
 * SPLIT with Pc not dividing encoder_attention_heads, or Pc above
 * encoder_ffn_dim (naming the head count and --grid); a PBLAS grid or block
 * that does not fit Pc. */
ldm_status ldm_ldmbert_create_opts(const ldm_config *config, const ldm_weights *w,
                                   int64_t batch, int64_t tokens,
                                   const ldm_ldmbert_options *opts, ldm_ldmbert **out);

/* The way the model runs: LDM_LDMBERT_DIST_DEFAULT when single-process,
 * else SPLIT or PBLAS; *ranks (may be NULL) gets Pc (1 single-process). */
ldm_ldmbert_dist ldm_ldmbert_distribution(const ldm_ldmbert *m, int *ranks);

/* out [B, L, d_model] = last_hidden_state for ids [B, L] (the batch and
 * tokens given to create). An id < 0 or >= vocab_size is LDM_EINPUT naming
 * its position and value (nothing is computed then). No allocation; not
 * reentrant: one forward at a time per model. Distributed: collective on
 * the channel communicator, the same ids on every rank, and every rank gets
 * the whole output (PBLAS: ScaLAPACK allocates psgemm's workspace inside). */
ldm_status ldm_ldmbert_forward(ldm_ldmbert *m, const int32_t *ids, float *out);

/* For tests and debugging: out [B, L, d_model] = the hidden state after the
 * first `layers` encoder layers (0 <= layers <= encoder_layers), before the
 * final layer_norm; layers = 0 gives the embeddings. */
ldm_status ldm_ldmbert_forward_layers(ldm_ldmbert *m, const int32_t *ids, int64_t layers,
                                      float *out);

/* d_model: the last dimension of the output (1280 for the real model). */
int64_t ldm_ldmbert_d_model(const ldm_ldmbert *m);

/* The configuration the model was built from. */
const ldm_ldmbert_config *ldm_ldmbert_get_config(const ldm_ldmbert *m);

/* Bytes of the activation arena (for memory reports). */
size_t ldm_ldmbert_arena_bytes(const ldm_ldmbert *m);

/* Free everything (NULL is fine) and set *m to NULL. */
void ldm_ldmbert_destroy(ldm_ldmbert **m);

#endif
