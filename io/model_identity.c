#include "model_identity.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/file.h"
#include "io/config.h"

static void to_hex(const unsigned char *md, unsigned len, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < len; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * len] = '\0';
}

ldm_status ldm_sha256_hex(const void *data, size_t len, char hex[LDM_SHA256_HEX + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return ldm_error(LDM_ERUNTIME, "SHA-256 failed (OpenSSL)");
    to_hex(md, mdlen, hex);
    return LDM_OK;
}

ldm_status ldm_sha256_file_hex(const char *path, char hex[LDM_SHA256_HEX + 1])
{
    ldm_status st = LDM_OK;
    unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    FILE *f = fopen(path, "rb");
    if (!f) {
        st = ldm_error(LDM_EINPUT, "%s: cannot open: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        st = ldm_error(LDM_ERUNTIME, "%s: SHA-256 failed (OpenSSL)", path);
        goto cleanup;
    }
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        if (!EVP_DigestUpdate(ctx, buf, got)) {
            st = ldm_error(LDM_ERUNTIME, "%s: SHA-256 failed (OpenSSL)", path);
            goto cleanup;
        }
    }
    if (ferror(f)) {
        st = ldm_error(LDM_ERUNTIME, "%s: read error: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32) {
        st = ldm_error(LDM_ERUNTIME, "%s: SHA-256 failed (OpenSSL)", path);
        goto cleanup;
    }
    to_hex(md, mdlen, hex);
cleanup:
    if (f)
        fclose(f);
    EVP_MD_CTX_free(ctx);
    return st;
}

/* A growing manifest text. */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

static ldm_status append(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static ldm_status append(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return ldm_error(LDM_ERUNTIME, "model identity: formatting failed");
    if (t->len + (size_t)need + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 1024;
        while (cap < t->len + (size_t)need + 1)
            cap *= 2;
        char *s = NULL;
        ldm_status st = ldm_alloc(cap, "model identity manifest", (void **)&s);
        if (st != LDM_OK)
            return st;
        if (t->len)
            memcpy(s, t->s, t->len);
        ldm_free(t->s);
        t->s = s;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)need;
    return LDM_OK;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static ldm_status add_file(text *t, const char *component, const char *path)
{
    char hex[LDM_SHA256_HEX + 1];
    ldm_status st = ldm_sha256_file_hex(path, hex);
    if (st != LDM_OK)
        return st;
    if (component)
        return append(t, "file %s/%s sha256 %s\n", component, base_name(path), hex);
    return append(t, "file %s sha256 %s\n", base_name(path), hex);
}

static ldm_status add_weights(text *t, const char *component, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return ldm_error(LDM_EINPUT, "%s: cannot stat weights file: %s", path, strerror(errno));
    return append(t, "weights %s/%s %lld\n", component, base_name(path), (long long)sb.st_size);
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A shard index: its own hash, then each distinct shard (sorted) by size. */
static ldm_status add_shards(text *t, const ldm_component *c)
{
    ldm_status st = LDM_OK;
    ldm_config index = { 0 };
    const char **names = NULL;
    char *shard = NULL;
    LDM_CHECK(add_file(t, c->name, c->weights_path));
    LDM_CHECK(ldm_config_load(c->weights_path, &index));
    cJSON *map = cJSON_GetObjectItemCaseSensitive(index.root, "weight_map");
    if (!cJSON_IsObject(map)) {
        st = ldm_error(LDM_EINPUT, "%s: \"weight_map\" must be an object", c->weights_path);
        goto cleanup;
    }
    int n = cJSON_GetArraySize(map), count = 0;
    LDM_CHECK(ldm_calloc((size_t)(n ? n : 1) * sizeof *names, "shard names", (void **)&names));
    const cJSON *it;
    cJSON_ArrayForEach(it, map)
    {
        if (!cJSON_IsString(it)) {
            st = ldm_error(LDM_EINPUT, "%s: \"weight_map\" entry \"%s\" must be a file name",
                           c->weights_path, it->string);
            goto cleanup;
        }
        names[count++] = it->valuestring;
    }
    qsort(names, (size_t)count, sizeof *names, compare_strings);
    for (int i = 0; i < count; i++) {
        if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
            continue;
        LDM_CHECK(ldm_path_join(c->dir, names[i], &shard));
        LDM_CHECK(add_weights(t, c->name, shard));
        ldm_free(shard);
        shard = NULL;
    }
cleanup:
    ldm_free(shard);
    ldm_free(names);
    ldm_config_free(&index);
    return st;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

ldm_status ldm_model_identity_from_folder(const ldm_model_folder *mf, ldm_model_identity *out)
{
    ldm_status st = LDM_OK;
    text t = { 0 };
    memset(out, 0, sizeof *out);
    LDM_CHECK(append(&t, "ldm-model-identity 1\n"));
    LDM_CHECK(add_file(&t, NULL, mf->index_path));
    for (int i = 0; i < mf->count; i++) {
        const ldm_component *c = &mf->components[i];
        if (c->config_path)
            LDM_CHECK(add_file(&t, c->name, c->config_path));
        if (c->vocab_path)
            LDM_CHECK(add_file(&t, c->name, c->vocab_path));
        if (c->weights_path && ends_with(c->weights_path, ".index.json"))
            LDM_CHECK(add_shards(&t, c));
        else if (c->weights_path)
            LDM_CHECK(add_weights(&t, c->name, c->weights_path));
    }
    LDM_CHECK(ldm_sha256_hex(t.s, t.len, out->digest));
    out->manifest = t.s;
    t.s = NULL;
cleanup:
    ldm_free(t.s);
    return st;
}

ldm_status ldm_model_identity_compute(const char *dir, ldm_model_identity *out)
{
    ldm_model_folder *mf = NULL;
    memset(out, 0, sizeof *out);
    ldm_status st = ldm_model_folder_open(dir, &mf);
    if (st == LDM_OK)
        st = ldm_model_identity_from_folder(mf, out);
    ldm_model_folder_close(&mf);
    return st;
}

void ldm_model_identity_free(ldm_model_identity *id)
{
    if (!id)
        return;
    ldm_free(id->manifest);
    memset(id, 0, sizeof *id);
}
