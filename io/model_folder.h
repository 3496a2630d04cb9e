/* model_folder.h — a diffusers pipeline folder.
 *
 *   <dir>/model_index.json   {"_class_name": "LDMTextToImagePipeline",
 *                             "_diffusers_version": "0.x",
 *                             "bert": ["latent_diffusion", "LDMBertModel"],
 *                             "scheduler": ["diffusers", "DDIMScheduler"],
 *                             "tokenizer": ["transformers", "BertTokenizer"],
 *                             "unet": ["diffusers", "UNet2DConditionModel"],
 *                             "vqvae": ["diffusers", "AutoencoderKL"]}
 *   <dir>/<component>/       one folder per component:
 *       models      config.json + weights (see io/weights.h for the names)
 *       schedulers  scheduler_config.json
 *       tokenizers  vocab.txt (+ tokenizer_config.json, optional)
 *
 * As in diffusers, keys starting with '_' and values that are not lists are
 * pipeline attributes, not components; a component given as [null, null]
 * is absent. A component's kind follows its class name: "...Scheduler" is a
 * scheduler, "...Tokenizer"/"...TokenizerFast" a tokenizer, anything else a
 * model.
 *
 * ldm_model_folder_open checks the whole layout at once: each component's
 * folder exists, its config file is a JSON object, a model has a weights
 * file, a tokenizer a vocab.txt. Weights are not read; open them with
 * ldm_model_folder_open_weights (or ldm_weights_open_path on weights_path).
 */
#ifndef LDM_IO_MODEL_FOLDER_H
#define LDM_IO_MODEL_FOLDER_H

#include "core/status.h"
#include "io/config.h"
#include "io/weights.h"

typedef enum ldm_component_kind {
    LDM_COMPONENT_MODEL = 0,
    LDM_COMPONENT_SCHEDULER,
    LDM_COMPONENT_TOKENIZER
} ldm_component_kind;

typedef struct ldm_component {
    char *name;         /* owned: "unet" (the model_index.json key and folder name) */
    char *library;      /* owned: "diffusers", "transformers", "latent_diffusion" */
    char *class_name;   /* owned: "UNet2DConditionModel" */
    ldm_component_kind kind;
    char *dir;          /* owned: <folder>/<name> */
    char *config_path;  /* owned: config.json / scheduler_config.json /
                           tokenizer_config.json; NULL for a tokenizer without one */
    ldm_config config;  /* owned: the parsed config (root NULL when config_path is NULL) */
    char *weights_path; /* owned: models only: the weights file or shard index */
    char *vocab_path;   /* owned: tokenizers only: vocab.txt */
} ldm_component;

typedef struct ldm_model_folder {
    char *dir;                 /* owned */
    char *index_path;          /* owned: <dir>/model_index.json */
    char *class_name;          /* owned: "_class_name", "" if absent */
    char *diffusers_version;   /* owned: "_diffusers_version", "" if absent */
    ldm_component *components; /* owned, in model_index.json order */
    int count;
} ldm_model_folder;

/* Open and check a pipeline folder. Errors name the folder, the file and
 * the component: missing folder, missing or malformed model_index.json,
 * a component that is not [library, class], a missing component folder,
 * a missing or malformed config, a model without weights, a tokenizer
 * without vocab.txt. */
ldm_status ldm_model_folder_open(const char *dir, ldm_model_folder **out);

/* Free everything; NULL is fine; nulls the handle. */
void ldm_model_folder_close(ldm_model_folder **mf);

/* The component called `name`; error naming model_index.json when there is
 * none. */
ldm_status ldm_model_folder_component(const ldm_model_folder *mf, const char *name,
                                      const ldm_component **out);

/* Open the weights of model component `name`. */
ldm_status ldm_model_folder_open_weights(const ldm_model_folder *mf, const char *name,
                                         ldm_weights **out);

#endif
