#include "model_folder.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static ldm_component_kind kind_of(const char *class_name)
{
    if (ends_with(class_name, "Scheduler"))
        return LDM_COMPONENT_SCHEDULER;
    if (ends_with(class_name, "Tokenizer") || ends_with(class_name, "TokenizerFast"))
        return LDM_COMPONENT_TOKENIZER;
    return LDM_COMPONENT_MODEL;
}

static void component_free(ldm_component *c)
{
    ldm_free(c->name);
    ldm_free(c->library);
    ldm_free(c->class_name);
    ldm_free(c->dir);
    ldm_free(c->config_path);
    ldm_config_free(&c->config);
    ldm_free(c->weights_path);
    ldm_free(c->vocab_path);
}

void ldm_model_folder_close(ldm_model_folder **mfp)
{
    if (!mfp || !*mfp)
        return;
    ldm_model_folder *mf = *mfp;
    for (int i = 0; i < mf->count; i++)
        component_free(&mf->components[i]);
    ldm_free(mf->components);
    ldm_free(mf->dir);
    ldm_free(mf->index_path);
    ldm_free(mf->class_name);
    ldm_free(mf->diffusers_version);
    ldm_free(mf);
    *mfp = NULL;
}

/* A required file of component c: <c->dir>/<file>. */
static ldm_status need_file(const ldm_component *c, const char *file, const char *what,
                            char **out)
{
    ldm_status st = ldm_path_join(c->dir, file, out);
    if (st != LDM_OK)
        return st;
    if (ldm_is_file(*out))
        return LDM_OK;
    st = ldm_error(LDM_EINPUT, "%s: missing %s of component \"%s\" (%s)", *out, what, c->name,
                   c->class_name);
    ldm_free(*out);
    *out = NULL;
    return st;
}

/* Resolve and check the files of one component. */
static ldm_status resolve(ldm_component *c)
{
    ldm_status st = LDM_OK;
    if (!ldm_is_dir(c->dir))
        return ldm_error(LDM_EINPUT, "%s: missing folder of component \"%s\" (%s) named in "
                         "model_index.json",
                         c->dir, c->name, c->class_name);
    switch (c->kind) {
    case LDM_COMPONENT_SCHEDULER:
        LDM_CHECK(need_file(c, "scheduler_config.json", "scheduler config", &c->config_path));
        break;
    case LDM_COMPONENT_TOKENIZER:
        LDM_CHECK(need_file(c, "vocab.txt", "vocabulary", &c->vocab_path));
        LDM_CHECK(ldm_path_join(c->dir, "tokenizer_config.json", &c->config_path));
        if (!ldm_is_file(c->config_path)) {
            ldm_free(c->config_path);
            c->config_path = NULL;
        }
        break;
    case LDM_COMPONENT_MODEL:
        LDM_CHECK(need_file(c, "config.json", "config", &c->config_path));
        st = ldm_weights_resolve_dir(c->dir, &c->weights_path);
        if (st != LDM_OK) {
            ldm_error_context("component \"%s\" (%s): ", c->name, c->class_name);
            goto cleanup;
        }
        break;
    }
    if (c->config_path)
        LDM_CHECK(ldm_config_load(c->config_path, &c->config));
cleanup:
    return st;
}

/* A component name becomes a folder name: keep it to one plain path part. */
static int plain_name(const char *s)
{
    return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Parse one model_index.json entry that is a list; *added is 0 for an
 * absent ([null, null]) component. */
static ldm_status add_component(ldm_model_folder *mf, const cJSON *it, int *added)
{
    ldm_status st = LDM_OK;
    const cJSON *lib = cJSON_GetArrayItem(it, 0), *cls = cJSON_GetArrayItem(it, 1);
    *added = 0;
    if (cJSON_GetArraySize(it) == 2 && cJSON_IsNull(lib))
        return LDM_OK;
    if (cJSON_GetArraySize(it) != 2 || !cJSON_IsString(lib) || !cJSON_IsString(cls))
        return ldm_error(LDM_EINPUT, "%s: component \"%s\" must be [library, class name]",
                         mf->index_path, it->string);
    if (!plain_name(it->string))
        return ldm_error(LDM_EINPUT, "%s: component name \"%s\" is not a folder name",
                         mf->index_path, it->string);
    ldm_component *c = &mf->components[mf->count];
    memset(c, 0, sizeof *c);
    mf->count++; /* from here on, close frees whatever c holds */
    LDM_CHECK(ldm_strdup(it->string, &c->name));
    LDM_CHECK(ldm_strdup(lib->valuestring, &c->library));
    LDM_CHECK(ldm_strdup(cls->valuestring, &c->class_name));
    c->kind = kind_of(c->class_name);
    LDM_CHECK(ldm_path_join(mf->dir, c->name, &c->dir));
    LDM_CHECK(resolve(c));
    *added = 1;
cleanup:
    return st;
}

static ldm_status attribute(const ldm_config *cfg, const char *key, char **out)
{
    const char *v = "";
    ldm_status st = ldm_config_string(cfg, key, "", &v);
    if (st == LDM_OK)
        st = ldm_strdup(v, out);
    return st;
}

ldm_status ldm_model_folder_open(const char *dir, ldm_model_folder **out)
{
    ldm_status st = LDM_OK;
    ldm_model_folder *mf = NULL;
    ldm_config index = { 0 };
    *out = NULL;

    if (!ldm_is_dir(dir))
        return ldm_error(LDM_EINPUT, "%s: model folder not found", dir);
    LDM_CHECK(ldm_calloc(sizeof *mf, "model folder", (void **)&mf));
    LDM_CHECK(ldm_strdup(dir, &mf->dir));
    LDM_CHECK(ldm_path_join(dir, "model_index.json", &mf->index_path));
    if (!ldm_is_file(mf->index_path)) {
        st = ldm_error(LDM_EINPUT, "%s: missing: %s is not a diffusers model folder",
                       mf->index_path, dir);
        goto cleanup;
    }
    LDM_CHECK(ldm_config_load(mf->index_path, &index));
    LDM_CHECK(attribute(&index, "_class_name", &mf->class_name));
    LDM_CHECK(attribute(&index, "_diffusers_version", &mf->diffusers_version));

    int n = cJSON_GetArraySize(index.root);
    LDM_CHECK(ldm_calloc(sizeof *mf->components * (size_t)(n > 0 ? n : 1), "model folder",
                         (void **)&mf->components));
    const cJSON *it;
    cJSON_ArrayForEach(it, index.root)
    {
        int added;
        /* diffusers: every list-valued key but _class_name is a component */
        if (!cJSON_IsArray(it) || strcmp(it->string, "_class_name") == 0)
            continue;
        for (int i = 0; i < mf->count; i++)
            if (strcmp(mf->components[i].name, it->string) == 0) {
                st = ldm_error(LDM_EINPUT, "%s: component \"%s\" appears twice", mf->index_path,
                               it->string);
                goto cleanup;
            }
        LDM_CHECK(add_component(mf, it, &added));
    }
    if (mf->count == 0) {
        st = ldm_error(LDM_EINPUT, "%s: lists no components", mf->index_path);
        goto cleanup;
    }
    *out = mf;
    mf = NULL;
cleanup:
    ldm_config_free(&index);
    ldm_model_folder_close(&mf);
    return st;
}

ldm_status ldm_model_folder_component(const ldm_model_folder *mf, const char *name,
                                      const ldm_component **out)
{
    *out = NULL;
    for (int i = 0; i < mf->count; i++)
        if (strcmp(mf->components[i].name, name) == 0) {
            *out = &mf->components[i];
            return LDM_OK;
        }
    return ldm_error(LDM_EINPUT, "%s: no component \"%s\"", mf->index_path, name);
}

ldm_status ldm_model_folder_open_weights(const ldm_model_folder *mf, const char *name,
                                         ldm_weights **out)
{
    const ldm_component *c;
    *out = NULL;
    ldm_status st = ldm_model_folder_component(mf, name, &c);
    if (st != LDM_OK)
        return st;
    if (c->kind != LDM_COMPONENT_MODEL)
        return ldm_error(LDM_EINPUT, "%s: component \"%s\" (%s) has no weights", mf->index_path,
                         name, c->class_name);
    return ldm_weights_open_path(c->weights_path, out);
}
