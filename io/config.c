#include "config.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"

/* Line and column of a byte offset, for parse errors. */
static void position(const char *text, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

ldm_status ldm_config_parse(const char *name, const char *text, size_t len, ldm_config *out)
{
    ldm_status st = LDM_OK;
    out->path = NULL;
    out->root = NULL;
    const char *end = NULL;
    if (memchr(text, '\0', len) != NULL)
        return ldm_error(LDM_EINPUT, "%s: invalid JSON: NUL byte in file", name);
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        int line, col;
        position(text, off, &line, &col);
        return ldm_error(LDM_EINPUT, "%s: invalid JSON at line %d, column %d", name, line, col);
    }
    /* Only whitespace may follow the value. */
    for (const char *p = end; p && p < text + len; p++) {
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            int line, col;
            position(text, (size_t)(p - text), &line, &col);
            cJSON_Delete(root);
            return ldm_error(LDM_EINPUT, "%s: invalid JSON: trailing data at line %d, column %d",
                             name, line, col);
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ldm_error(LDM_EINPUT, "%s: top level must be a JSON object", name);
    }
    LDM_CHECK(ldm_strdup(name, &out->path));
    out->root = root;
    root = NULL;
cleanup:
    cJSON_Delete(root);
    return st;
}

ldm_status ldm_config_load(const char *path, ldm_config *out)
{
    char *text = NULL;
    size_t len = 0;
    out->path = NULL;
    out->root = NULL;
    ldm_status st = ldm_read_file(path, &text, &len);
    if (st == LDM_OK)
        st = ldm_config_parse(path, text, len, out);
    ldm_free(text);
    return st;
}

void ldm_config_free(ldm_config *c)
{
    if (!c)
        return;
    cJSON_Delete(c->root);
    ldm_free(c->path);
    c->root = NULL;
    c->path = NULL;
}

static const cJSON *item(const ldm_config *c, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(c->root, key);
    return (it && !cJSON_IsNull(it)) ? it : NULL;
}

int ldm_config_has(const ldm_config *c, const char *key)
{
    return item(c, key) != NULL;
}

static ldm_status as_int(const ldm_config *c, const char *key, const cJSON *it, long long *out)
{
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || v != floor(v) || fabs(v) > 9007199254740992.0)
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be an integer", c->path, key);
    *out = (long long)v;
    return LDM_OK;
}

ldm_status ldm_config_int(const ldm_config *c, const char *key, long long def, long long *out)
{
    const cJSON *it = item(c, key);
    if (!it) {
        *out = def;
        return LDM_OK;
    }
    return as_int(c, key, it, out);
}

ldm_status ldm_config_int_required(const ldm_config *c, const char *key, long long *out)
{
    const cJSON *it = item(c, key);
    if (!it)
        return ldm_error(LDM_EINPUT, "%s: required field \"%s\" is missing", c->path, key);
    return as_int(c, key, it, out);
}

ldm_status ldm_config_double(const ldm_config *c, const char *key, double def, double *out)
{
    const cJSON *it = item(c, key);
    if (!it) {
        *out = def;
        return LDM_OK;
    }
    if (!cJSON_IsNumber(it))
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be a number", c->path, key);
    *out = it->valuedouble;
    return LDM_OK;
}

ldm_status ldm_config_bool(const ldm_config *c, const char *key, int def, int *out)
{
    const cJSON *it = item(c, key);
    if (!it) {
        *out = def;
        return LDM_OK;
    }
    if (!cJSON_IsBool(it))
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be true or false", c->path, key);
    *out = cJSON_IsTrue(it) ? 1 : 0;
    return LDM_OK;
}

ldm_status ldm_config_string(const ldm_config *c, const char *key, const char *def, const char **out)
{
    const cJSON *it = item(c, key);
    if (!it) {
        *out = def;
        return LDM_OK;
    }
    if (!cJSON_IsString(it))
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be a string", c->path, key);
    *out = it->valuestring;
    return LDM_OK;
}

ldm_status ldm_config_string_required(const ldm_config *c, const char *key, const char **out)
{
    if (!item(c, key))
        return ldm_error(LDM_EINPUT, "%s: required field \"%s\" is missing", c->path, key);
    return ldm_config_string(c, key, NULL, out);
}

ldm_status ldm_config_int_list(const ldm_config *c, const char *key, int scalar_ok, int want,
                               long long *vals, int cap, int *n)
{
    const cJSON *it = item(c, key);
    *n = 0;
    if (!it)
        return ldm_error(LDM_EINPUT, "%s: required field \"%s\" is missing", c->path, key);
    if (scalar_ok && cJSON_IsNumber(it)) {
        long long v;
        ldm_status st = as_int(c, key, it, &v);
        if (st != LDM_OK)
            return st;
        if (want > cap)
            return ldm_error(LDM_EINPUT, "%s: \"%s\": more than %d entries", c->path, key, cap);
        for (int i = 0; i < want; i++)
            vals[i] = v;
        *n = want;
        return LDM_OK;
    }
    if (!cJSON_IsArray(it))
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be a list of integers", c->path, key);
    int count = cJSON_GetArraySize(it);
    if (count > cap)
        return ldm_error(LDM_EINPUT, "%s: \"%s\": more than %d entries", c->path, key, cap);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, it)
    {
        ldm_status st = as_int(c, key, e, &vals[i]);
        if (st != LDM_OK)
            return st;
        i++;
    }
    *n = count;
    return LDM_OK;
}

ldm_status ldm_config_string_list(const ldm_config *c, const char *key, const char **vals, int cap,
                                  int *n)
{
    const cJSON *it = item(c, key);
    *n = 0;
    if (!it)
        return ldm_error(LDM_EINPUT, "%s: required field \"%s\" is missing", c->path, key);
    if (!cJSON_IsArray(it))
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be a list of strings", c->path, key);
    int count = cJSON_GetArraySize(it);
    if (count > cap)
        return ldm_error(LDM_EINPUT, "%s: \"%s\": more than %d entries", c->path, key, cap);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, it)
    {
        if (!cJSON_IsString(e))
            return ldm_error(LDM_EINPUT, "%s: \"%s\" must be a list of strings", c->path, key);
        vals[i++] = e->valuestring;
    }
    *n = count;
    return LDM_OK;
}

ldm_status ldm_config_double_array(const ldm_config *c, const char *key, double **vals, int *n)
{
    const cJSON *it = item(c, key);
    *vals = NULL;
    *n = 0;
    if (!it)
        return ldm_error(LDM_EINPUT, "%s: required field \"%s\" is missing", c->path, key);
    if (!cJSON_IsArray(it))
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be a list of numbers", c->path, key);
    int count = cJSON_GetArraySize(it);
    double *v = NULL;
    ldm_status st = ldm_alloc(sizeof(double) * (size_t)(count > 0 ? count : 1), key, (void **)&v);
    if (st != LDM_OK)
        return st;
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, it)
    {
        if (!cJSON_IsNumber(e)) {
            ldm_free(v);
            return ldm_error(LDM_EINPUT, "%s: \"%s\" must be a list of numbers", c->path, key);
        }
        v[i++] = e->valuedouble;
    }
    *vals = v;
    *n = count;
    return LDM_OK;
}
