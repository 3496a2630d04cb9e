/* model_identity.h — what names a model for a run file: a digest over its
 * configuration and the names and sizes of its weight files.
 *
 * Resuming a sweep with another model would silently mix images, so the run
 * file stores the identity of the model it was made with and refuses
 * another. Hashing 6 GB of weights at every start is too slow; a model is
 * named instead by:
 *   - the SHA-256 of every small text file that configures it
 *     (model_index.json, each component's config, tokenizer vocab.txt), and
 *   - each weight file's name and size (shards listed by an index included).
 *
 * The manifest is one line per entry, sorted as model_index.json lists the
 * components, paths relative to the model folder (moving the folder keeps
 * the identity):
 *     ldm-model-identity 1
 *     file model_index.json sha256 <64 hex>
 *     file bert/config.json sha256 <64 hex>
 *     weights bert/pytorch_model.bin 2333366287
 *     file tokenizer/vocab.txt sha256 <64 hex>
 * and the identity is the hex SHA-256 of the manifest's bytes (OpenSSL).
 */
#ifndef LDM_IO_MODEL_IDENTITY_H
#define LDM_IO_MODEL_IDENTITY_H

#include <stddef.h>

#include "core/status.h"
#include "io/model_folder.h"

enum { LDM_SHA256_HEX = 64 };

typedef struct ldm_model_identity {
    char digest[LDM_SHA256_HEX + 1]; /* hex SHA-256 of the manifest */
    char *manifest;                  /* owned, NUL-terminated */
} ldm_model_identity;

/* Open the model folder `dir` (ldm_model_folder_open's checks) and compute
 * its identity. Free with ldm_model_identity_free. */
ldm_status ldm_model_identity_compute(const char *dir, ldm_model_identity *out);

/* The same from a folder that is already open. */
ldm_status ldm_model_identity_from_folder(const ldm_model_folder *mf, ldm_model_identity *out);

/* Free the manifest and clear the struct; NULL is fine. */
void ldm_model_identity_free(ldm_model_identity *id);

/* Hex SHA-256 of bytes / of a file's contents (errors name the path). */
ldm_status ldm_sha256_hex(const void *data, size_t len, char hex[LDM_SHA256_HEX + 1]);
ldm_status ldm_sha256_file_hex(const char *path, char hex[LDM_SHA256_HEX + 1]);

#endif
