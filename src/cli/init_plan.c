/* init_plan.c — read a config folder into what `ldm init` writes (init.h). */
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "init.h"
#include "io/safetensors_write.h"
#include "models/ldmbert.h"
#include "models/model_specs.h"
#include "sample/scheduler.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* As io/model_folder.h: the kind follows the class name. */
static ldm_component_kind kind_of(const char *class_name)
{
    if (ends_with(class_name, "Scheduler"))
        return LDM_COMPONENT_SCHEDULER;
    if (ends_with(class_name, "Tokenizer") || ends_with(class_name, "TokenizerFast"))
        return LDM_COMPONENT_TOKENIZER;
    return LDM_COMPONENT_MODEL;
}

/* Sum of the tensors' elements and the size of their .safetensors file. */
static ldm_status measure(ldm_init_component *c)
{
    ldm_status st = LDM_OK;
    ldm_safetensors_decl *d = NULL;
    int n = c->specs.count;
    static const char *const META[] = {"format", "pt", NULL};
    LDM_CHECK(ldm_calloc((size_t)(n ? n : 1) * sizeof *d, "tensor list", (void **)&d));
    c->params = 0;
    for (int i = 0; i < n; i++) {
        const ldm_weight_spec *s = &c->specs.items[i];
        d[i] = (ldm_safetensors_decl){.name = s->name, .dtype = LDM_DTYPE_F32, .ndim = s->ndim};
        memcpy(d[i].shape, s->shape, sizeof s->shape);
        int64_t numel = 1;
        for (int k = 0; k < s->ndim; k++)
            numel *= s->shape[k];
        c->params += numel;
    }
    LDM_CHECK(ldm_safetensors_file_size(d, n, META, &c->bytes));
cleanup:
    ldm_free(d);
    return st;
}

static ldm_status read_model(ldm_init_plan *p, ldm_init_component *c)
{
    ldm_status st = LDM_OK;
    char *path = NULL;
    if (!ldm_model_class_supported(c->class_name)) {
        st = ldm_error(LDM_EINPUT, "%s: component \"%s\": model class \"%s\" is not supported "
                       "(ldm implements UNet2DConditionModel, AutoencoderKL, LDMBertModel)",
                       p->index.path, c->name, c->class_name);
        goto cleanup;
    }
    LDM_CHECK(ldm_path_join(c->dir, "config.json", &path));
    LDM_CHECK(ldm_config_load(path, &c->config));
    LDM_CHECK(ldm_model_weight_specs(c->class_name, &c->config, &c->specs));
    /* transformers' save_pretrained names the file model.safetensors */
    c->weights_file = strcmp(c->class_name, "LDMBertModel") == 0
                          ? "model.safetensors"
                          : "diffusion_pytorch_model.safetensors";
    LDM_CHECK(measure(c));
    p->bytes += c->bytes;
    if (strcmp(c->class_name, "LDMBertModel") == 0) {
        ldm_ldmbert_config bc;
        LDM_CHECK(ldm_ldmbert_config_read(&c->config, &bc));
        p->vocab_size = bc.vocab_size;
    }
cleanup:
    ldm_free(path);
    return st;
}

static ldm_status read_scheduler(ldm_init_component *c)
{
    ldm_status st = LDM_OK;
    char *path = NULL;
    ldm_scheduler *s = NULL;
    LDM_CHECK(ldm_path_join(c->dir, "scheduler_config.json", &path));
    LDM_CHECK(ldm_config_load(path, &c->config));
    /* the same check txt2img makes when it loads the scheduler */
    LDM_CHECK(ldm_scheduler_from_config(&c->config, NULL, &s));
cleanup:
    ldm_scheduler_free(&s);
    ldm_free(path);
    return st;
}

static ldm_status read_tokenizer(ldm_init_component *c)
{
    ldm_status st = LDM_OK;
    char *path = NULL;
    LDM_CHECK(ldm_path_join(c->dir, "vocab.txt", &path));
    c->has_vocab = ldm_is_file(path);
cleanup:
    ldm_free(path);
    return st;
}

/* One "name": [library, class] entry; [null, null] and attributes are skipped. */
static ldm_status read_entry(ldm_init_plan *p, const cJSON *it)
{
    ldm_status st = LDM_OK;
    if (it->string[0] == '_' || !cJSON_IsArray(it))
        return LDM_OK;
    const cJSON *lib = cJSON_GetArrayItem(it, 0), *cls = cJSON_GetArrayItem(it, 1);
    if (cJSON_GetArraySize(it) == 2 && cJSON_IsNull(lib) && cJSON_IsNull(cls))
        return LDM_OK;
    if (cJSON_GetArraySize(it) != 2 || !cJSON_IsString(lib) || !cJSON_IsString(cls))
        return ldm_error(LDM_EINPUT, "%s: component \"%s\" must be [library, class]",
                         p->index.path, it->string);
    if (strchr(it->string, '/') || strcmp(it->string, ".") == 0 || strcmp(it->string, "..") == 0)
        return ldm_error(LDM_EINPUT, "%s: component name \"%s\" is not a folder name",
                         p->index.path, it->string);
    if (p->count >= LDM_INIT_MAX_COMPONENTS)
        return ldm_error(LDM_EINPUT, "%s: more than %d components", p->index.path,
                         LDM_INIT_MAX_COMPONENTS);
    ldm_init_component *c = &p->comps[p->count++];
    c->name = it->string;
    c->class_name = cls->valuestring;
    c->kind = kind_of(c->class_name);
    LDM_CHECK(ldm_path_join(p->config_dir, c->name, &c->dir));
    if (!ldm_is_dir(c->dir) && c->kind != LDM_COMPONENT_TOKENIZER) {
        st = ldm_error(LDM_EINPUT, "%s: component \"%s\": folder %s not found", p->index.path,
                       c->name, c->dir);
        goto cleanup;
    }
    switch (c->kind) {
    case LDM_COMPONENT_MODEL:
        LDM_CHECK(read_model(p, c));
        break;
    case LDM_COMPONENT_SCHEDULER:
        LDM_CHECK(read_scheduler(c));
        break;
    case LDM_COMPONENT_TOKENIZER:
        LDM_CHECK(read_tokenizer(c));
        break;
    }
cleanup:
    return st;
}

ldm_status ldm_init_plan_read(const char *config_dir, ldm_init_plan *p)
{
    ldm_status st = LDM_OK;
    char *path = NULL;
    memset(p, 0, sizeof *p);
    if (!ldm_is_dir(config_dir))
        return ldm_error(LDM_EINPUT, "--config %s: folder not found", config_dir);
    LDM_CHECK(ldm_strdup(config_dir, &p->config_dir));
    LDM_CHECK(ldm_path_join(config_dir, "model_index.json", &path));
    if (!ldm_is_file(path)) {
        st = ldm_error(LDM_EINPUT, "--config %s: no model_index.json in it (not a diffusers "
                       "pipeline folder)", config_dir);
        goto cleanup;
    }
    LDM_CHECK(ldm_config_load(path, &p->index));
    LDM_CHECK(ldm_config_string(&p->index, "_class_name", "", &p->class_name));
    const cJSON *it;
    cJSON_ArrayForEach(it, p->index.root)
    {
        LDM_CHECK(read_entry(p, it));
    }
    for (int i = 0; i < p->count; i++)
        if (p->comps[i].kind == LDM_COMPONENT_TOKENIZER && !p->comps[i].has_vocab &&
            p->vocab_size == 0) {
            st = ldm_error(LDM_EINPUT, "%s: tokenizer \"%s\" has no vocab.txt and there is no "
                           "LDMBertModel whose vocab_size would size a synthetic one",
                           p->index.path, p->comps[i].name);
            goto cleanup;
        }
cleanup:
    ldm_free(path);
    return st;
}

void ldm_init_plan_free(ldm_init_plan *p)
{
    for (int i = 0; i < p->count; i++) {
        ldm_free(p->comps[i].dir);
        ldm_config_free(&p->comps[i].config);
        ldm_spec_list_free(&p->comps[i].specs);
    }
    ldm_config_free(&p->index);
    ldm_free(p->config_dir);
    memset(p, 0, sizeof *p);
}
