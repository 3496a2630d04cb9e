/* init.h — `ldm init`: a random-weight model folder written from a config
 * folder (internal to src/cli; see cmd_init.c for the command). */
#ifndef LDM_CLI_INIT_H
#define LDM_CLI_INIT_H

#include <stdint.h>

#include "core/status.h"
#include "io/config.h"
#include "io/model_folder.h"
#include "models/resnet.h"

enum { LDM_INIT_MAX_COMPONENTS = 32 };

/* One component of model_index.json. */
typedef struct ldm_init_component {
    const char *name;          /* borrowed from the index: "unet" */
    const char *class_name;    /* borrowed from the index: "UNet2DConditionModel" */
    ldm_component_kind kind;
    char *dir;                 /* owned: <config dir>/<name> */
    ldm_config config;         /* owned: models and schedulers (root NULL otherwise) */
    ldm_spec_list specs;       /* owned: models: every tensor of the state dict */
    const char *weights_file;  /* models: "model.safetensors" (transformers classes) or
                                  "diffusion_pytorch_model.safetensors" */
    int64_t params;            /* models */
    uint64_t bytes;            /* models: size of the .safetensors file */
    int has_vocab;             /* tokenizers: <dir>/vocab.txt exists (else synthetic) */
} ldm_init_component;

/* What `ldm init` will write, read from a config folder. */
typedef struct ldm_init_plan {
    char *config_dir;          /* owned */
    ldm_config index;          /* owned: model_index.json */
    const char *class_name;    /* borrowed: "_class_name" or "" */
    ldm_init_component comps[LDM_INIT_MAX_COMPONENTS];
    int count;
    int64_t vocab_size;        /* LDMBertModel's vocab_size (for a synthetic vocab), or 0 */
    uint64_t bytes;            /* all weight files together */
} ldm_init_plan;

/* Read model_index.json and every component's config, build each model's
 * tensor list from the model code (models/model_specs.h) and check each
 * scheduler config. Errors (LDM_EINPUT) name the folder, file and key. */
ldm_status ldm_init_plan_read(const char *config_dir, ldm_init_plan *plan);
void ldm_init_plan_free(ldm_init_plan *plan);

/* Write a .safetensors file of the tensors in `specs` (all F32) with values
 * drawn from `seed`: each tensor from its own stream (seeded by the seed and
 * its name), so values do not depend on order. Linear / convolution weights
 * uniform(±1/sqrt(fan_in)) and their biases too (torch's default init),
 * 1-D weights (norms) 1 and their biases 0, embeddings (embed_tokens,
 * embed_positions) N(0, 0.02). */
ldm_status ldm_init_write_weights(const char *path, const ldm_spec_list *specs, uint64_t seed);

/* Write a synthetic vocab.txt in BertTokenizer's layout with vocab_size
 * lines: [PAD], [unused0..98], [UNK], [CLS], [SEP], [MASK] (ids 0..103 as
 * in bert-base-uncased), then single characters, "##" + characters, common
 * English words, then letter pairs and triples (and their "##" forms) until
 * vocab_size. vocab_size < 104 is LDM_EINPUT. */
ldm_status ldm_init_write_vocab(const char *path, int64_t vocab_size);

/* Number of special and reserved tokens at the start of the vocabulary. */
enum { LDM_INIT_VOCAB_SPECIALS = 104 };

#endif
