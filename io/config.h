/* config.h — reading diffusers' config.json files through cJSON.
 *
 * A config keeps the path it came from, so every error names the file and
 * the key: "unet/config.json: \"layers_per_block\" must be an integer".
 * Getters with a default return it when the key is absent (or JSON null,
 * as diffusers treats None); a present key of the wrong type is an error.
 */
#ifndef LDM_IO_CONFIG_H
#define LDM_IO_CONFIG_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "core/status.h"

typedef struct ldm_config {
    char *path;   /* owned: the file it came from, for messages */
    cJSON *root;  /* owned: a JSON object */
} ldm_config;

/* Parse a JSON file whose top level must be an object. */
ldm_status ldm_config_load(const char *path, ldm_config *out);
/* Parse JSON text (`name` is used in messages). */
ldm_status ldm_config_parse(const char *name, const char *text, size_t len, ldm_config *out);
void ldm_config_free(ldm_config *c);

/* 1 if the key is present and not null. */
int ldm_config_has(const ldm_config *c, const char *key);

ldm_status ldm_config_int(const ldm_config *c, const char *key, long long def, long long *out);
ldm_status ldm_config_int_required(const ldm_config *c, const char *key, long long *out);
ldm_status ldm_config_double(const ldm_config *c, const char *key, double def, double *out);
ldm_status ldm_config_bool(const ldm_config *c, const char *key, int def, int *out);
/* The string stays owned by the config. */
ldm_status ldm_config_string(const ldm_config *c, const char *key, const char *def, const char **out);
ldm_status ldm_config_string_required(const ldm_config *c, const char *key, const char **out);

/* An integer list, or a single integer repeated `want` times when
 * `scalar_ok` (diffusers' "int or tuple" fields). `*n` gets the length; more
 * than `cap` entries is an error. Absent key: error. */
ldm_status ldm_config_int_list(const ldm_config *c, const char *key, int scalar_ok, int want,
                               long long *vals, int cap, int *n);
/* A list of strings (pointers owned by the config). */
ldm_status ldm_config_string_list(const ldm_config *c, const char *key, const char **vals, int cap,
                                  int *n);
/* A list of numbers (for trained_betas); `*vals` allocated with ldm_alloc. */
ldm_status ldm_config_double_array(const ldm_config *c, const char *key, double **vals, int *n);

#endif
