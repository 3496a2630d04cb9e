/* torch_bin.c — PyTorch zip weight files: index from data.pkl, bytes from
 * the stored data/<key> entries, read on demand (see torch_bin.h). */
#include "torch_bin.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <zip.h>

#include "core/alloc.h"
#include "core/file.h"
#include "io/pickle.h"

enum {
    MAX_PICKLE_BYTES = 256 << 20, /* data.pkl of the real UNet is ~100 KB */
    SNIFF_BYTES = 512,
    READ_CHUNK = 1 << 30
};

typedef struct bin_impl {
    zip_t *za; /* owned */
} bin_impl;

static ldm_status bin_read(const ldm_weight_file *f, int storage, uint64_t offset, size_t nbytes,
                           void *dst);
static void bin_close(ldm_weight_file *f);
static const ldm_weight_file_ops bin_ops = { bin_read, bin_close };

/* Quote untrusted text (zip entry names, entry contents) in a message:
 * at most 100 bytes, control bytes as '?'. */
static const char *clean(const char *s, char out[104])
{
    size_t n = 0;
    for (; s[n] && n < 100; n++)
        out[n] = ((unsigned char)s[n] < 0x20 || s[n] == 0x7f) ? '?' : s[n];
    strcpy(out + n, s[n] ? "..." : "");
    return out;
}

/* Why a file that libzip refused is not a weight file we can read. */
static ldm_status not_zip(const char *name, const unsigned char *head, size_t n, int zip_err)
{
    /* torch < 1.6 (or _use_new_zipfile_serialization=False) wrote a bare
     * pickle stream starting with PROTO 2 and a magic number; older still, a tar. */
    if (n >= 2 && head[0] == 0x80 && head[1] <= 5)
        return ldm_error(LDM_EINPUT,
                         "%s: legacy PyTorch format (torch < 1.6, not a zip archive) is not "
                         "supported; re-save it with a newer torch.save or convert it to "
                         ".safetensors", name);
    if (n >= 262 && memcmp(head + 257, "ustar", 5) == 0)
        return ldm_error(LDM_EINPUT,
                         "%s: legacy PyTorch tar format is not supported; re-save it with a "
                         "newer torch.save or convert it to .safetensors", name);
    zip_error_t ze;
    zip_error_init_with_code(&ze, zip_err);
    ldm_status st = ldm_error(LDM_EINPUT, "%s: not a valid PyTorch zip file: %s", name,
                              zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return st;
}

/* Read a whole (small) entry, e.g. data.pkl or byteorder. */
static ldm_status read_entry(const char *name, zip_t *za, zip_int64_t idx, const char *entry,
                             size_t cap, unsigned char **out, size_t *len)
{
    ldm_status st = LDM_OK;
    zip_file_t *zf = NULL;
    *out = NULL;
    zip_stat_t zs;
    if (zip_stat_index(za, (zip_uint64_t)idx, 0, &zs) != 0 || !(zs.valid & ZIP_STAT_SIZE))
        return ldm_error(LDM_EINPUT, "%s: cannot stat '%s': %s", name, entry, zip_strerror(za));
    if (zs.size > cap)
        return ldm_error(LDM_EINPUT, "%s: '%s' is %llu bytes, more than %zu", name, entry,
                         (unsigned long long)zs.size, cap);
    LDM_CHECK(ldm_alloc((size_t)zs.size + 1, entry, (void **)out));
    zf = zip_fopen_index(za, (zip_uint64_t)idx, 0);
    if (!zf) {
        st = ldm_error(LDM_EINPUT, "%s: cannot open '%s': %s", name, entry, zip_strerror(za));
        goto cleanup;
    }
    size_t got = 0;
    while (got < zs.size) {
        zip_int64_t r = zip_fread(zf, *out + got, zs.size - got);
        if (r <= 0) {
            st = ldm_error(LDM_EINPUT, "%s: cannot read '%s': %s", name, entry,
                           r < 0 ? zip_file_strerror(zf) : "unexpected end");
            goto cleanup;
        }
        got += (size_t)r;
    }
    (*out)[got] = '\0';
    *len = got;
cleanup:
    if (zf)
        zip_fclose(zf);
    if (st != LDM_OK) {
        ldm_free(*out);
        *out = NULL;
    }
    return st;
}

/* The single top-level folder holding data.pkl: torch names it after the
 * file's stem, or "archive". */
static ldm_status find_archive(const char *name, zip_t *za, char **prefix, zip_int64_t *pkl)
{
    static const char suffix[] = "/data.pkl";
    const size_t slen = sizeof suffix - 1;
    zip_int64_t n = zip_get_num_entries(za, 0);
    int found = 0;
    *pkl = -1;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *e = zip_get_name(za, (zip_uint64_t)i, 0);
        size_t len = e ? strlen(e) : 0;
        if (len <= slen || strcmp(e + len - slen, suffix) != 0 ||
            memchr(e, '/', len - slen) != NULL)
            continue;
        if (found++) {
            char a[104], b[104];
            return ldm_error(LDM_EINPUT, "%s: several top-level data.pkl entries ('%s', '%s')",
                             name, clean(zip_get_name(za, (zip_uint64_t)*pkl, 0), a),
                             clean(e, b));
        }
        *pkl = i;
    }
    if (!found)
        return ldm_error(LDM_EINPUT,
                         "%s: no <archive>/data.pkl entry: not a torch.save zip file", name);
    const char *e = zip_get_name(za, (zip_uint64_t)*pkl, 0);
    /* Every entry name we build and quote starts with this folder name. */
    for (const char *c = e; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            char q[104];
            return ldm_error(LDM_EINPUT, "%s: archive folder name '%s' has control bytes", name,
                             clean(e, q));
        }
    }
    ldm_status st = ldm_strdup(e, prefix);
    if (st == LDM_OK)
        (*prefix)[strlen(e) - slen] = '\0';
    return st;
}

/* Storages are raw elements in the byte order named by <archive>/byteorder. */
static ldm_status check_byteorder(const char *name, zip_t *za, const char *prefix)
{
    char *entry = NULL;
    unsigned char *text = NULL;
    size_t len = 0;
    ldm_status st = ldm_path_join(prefix, "byteorder", &entry);
    if (st != LDM_OK)
        return st;
    zip_int64_t idx = zip_name_locate(za, entry, 0);
    if (idx >= 0) {
        LDM_CHECK(read_entry(name, za, idx, entry, 64, &text, &len));
        if (strcmp((const char *)text, "little") != 0) {
            char e[104], t[104];
            st = ldm_error(LDM_EINPUT, "%s: '%s' says '%s'; only little-endian data is "
                           "supported", name, clean(entry, e), clean((const char *)text, t));
        }
    }
cleanup:
    ldm_free(text);
    ldm_free(entry);
    return st;
}

/* Map one parsed tensor to its stored data/<key> entry and check sizes. */
static ldm_status index_tensor(const char *name, zip_t *za, const char *prefix,
                               const ldm_pickle_tensor *t, ldm_tensor_entry *e)
{
    ldm_status st = LDM_OK;
    char *entry = NULL;
    size_t plen = strlen(prefix), klen = strlen(t->storage_key);
    LDM_CHECK(ldm_alloc(plen + klen + 7, "entry name", (void **)&entry));
    snprintf(entry, plen + klen + 7, "%s/data/%s", prefix, t->storage_key);
    zip_int64_t idx = zip_name_locate(za, entry, 0);
    if (idx < 0) {
        st = ldm_error(LDM_EINPUT, "%s: tensor '%s': storage entry '%s' is missing", name,
                       t->name, entry);
        goto cleanup;
    }
    zip_stat_t zs;
    if (idx > INT_MAX || zip_stat_index(za, (zip_uint64_t)idx, 0, &zs) != 0 ||
        !(zs.valid & ZIP_STAT_SIZE)) {
        st = ldm_error(LDM_EINPUT, "%s: tensor '%s': cannot stat '%s'", name, t->name, entry);
        goto cleanup;
    }
    /* Seeking inside an entry needs it stored as is; torch never compresses. */
    if (((zs.valid & ZIP_STAT_COMP_METHOD) && zs.comp_method != ZIP_CM_STORE) ||
        ((zs.valid & ZIP_STAT_ENCRYPTION_METHOD) && zs.encryption_method != ZIP_EM_NONE)) {
        st = ldm_error(LDM_EINPUT,
                       "%s: tensor '%s': storage entry '%s' is compressed or encrypted; "
                       "PyTorch stores tensor data uncompressed (re-save with torch.save)",
                       name, t->name, entry);
        goto cleanup;
    }
    /* pickle.c checked numel * element size fits in int64. */
    uint64_t dsize = ldm_dtype_size(t->dtype);
    uint64_t want = (uint64_t)t->storage_numel * dsize;
    if (zs.size != want) {
        st = ldm_error(LDM_EINPUT,
                       "%s: tensor '%s': storage entry '%s' has %llu bytes but data.pkl says "
                       "%lld elements of %s (%llu bytes)", name, t->name, entry,
                       (unsigned long long)zs.size, (long long)t->storage_numel,
                       ldm_dtype_name(t->dtype), (unsigned long long)want);
        goto cleanup;
    }
    LDM_CHECK(ldm_strdup(t->name, &e->name));
    e->dtype = t->dtype;
    e->ndim = t->ndim;
    memcpy(e->shape, t->shape, sizeof e->shape);
    memcpy(e->stride, t->stride, sizeof e->stride);
    e->storage = (int)idx;
    e->offset = (uint64_t)t->storage_offset * dsize;
    e->storage_bytes = zs.size;
cleanup:
    ldm_free(entry);
    return st;
}

/* Index an opened archive. Takes ownership of `za` (discarded on failure). */
static ldm_status open_zip(const char *name, zip_t *za, ldm_weight_file **out)
{
    ldm_status st = LDM_OK;
    ldm_weight_file *w = NULL;
    bin_impl *impl = NULL;
    char *prefix = NULL, *pkl_name = NULL, *where = NULL;
    unsigned char *pkl = NULL;
    size_t pkl_len = 0;
    ldm_pickle_state_dict sd = { 0 };
    zip_int64_t pkl_idx;

    LDM_CHECK(find_archive(name, za, &prefix, &pkl_idx));
    LDM_CHECK(check_byteorder(name, za, prefix));
    LDM_CHECK(ldm_path_join(prefix, "data.pkl", &pkl_name));
    LDM_CHECK(read_entry(name, za, pkl_idx, pkl_name, MAX_PICKLE_BYTES, &pkl, &pkl_len));
    size_t wlen = strlen(name) + strlen(pkl_name) + 3;
    LDM_CHECK(ldm_alloc(wlen, "message prefix", (void **)&where));
    snprintf(where, wlen, "%s: %s", name, pkl_name);
    LDM_CHECK(ldm_pickle_load_state_dict(where, pkl, pkl_len, &sd));

    LDM_CHECK(ldm_calloc(sizeof *w, "weight file", (void **)&w));
    LDM_CHECK(ldm_calloc(sizeof *impl, "weight file", (void **)&impl));
    LDM_CHECK(ldm_strdup(name, &w->path));
    w->format = "pytorch";
    w->ops = &bin_ops;
    LDM_CHECK(ldm_calloc((size_t)sd.count * sizeof *w->tensors + 1, "tensor index",
                         (void **)&w->tensors));
    for (int i = 0; i < sd.count; i++) {
        LDM_CHECK(index_tensor(name, za, prefix, &sd.tensors[i], &w->tensors[i]));
        w->count = i + 1;
    }
    impl->za = za;
    w->impl = impl;
    za = NULL;
    impl = NULL;
    *out = w;
    w = NULL;
cleanup:
    if (za)
        zip_discard(za);
    ldm_free(impl);
    ldm_weight_file_close(&w);
    ldm_pickle_state_dict_free(&sd);
    ldm_free(pkl);
    ldm_free(where);
    ldm_free(pkl_name);
    ldm_free(prefix);
    return st;
}

ldm_status ldm_torch_bin_open(const char *path, ldm_weight_file **out)
{
    *out = NULL;
    int err = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (za)
        return open_zip(path, za, out);
    if (err != ZIP_ER_NOZIP && err != ZIP_ER_INCONS) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        ldm_status st = ldm_error(LDM_EINPUT, "%s: cannot open: %s", path,
                                  zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return st;
    }
    unsigned char head[SNIFF_BYTES];
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (f) {
        n = fread(head, 1, sizeof head, f);
        fclose(f);
    }
    return not_zip(path, head, n, err);
}

ldm_status ldm_torch_bin_open_buffer(const char *name, const void *data, size_t len,
                                     ldm_weight_file **out)
{
    *out = NULL;
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
    int err = zip_error_code_zip(&ze);
    zip_error_fini(&ze);
    if (za)
        return open_zip(name, za, out);
    if (src)
        zip_source_free(src);
    return not_zip(name, data, len < SNIFF_BYTES ? len : SNIFF_BYTES, err);
}

static ldm_status bin_read(const ldm_weight_file *f, int storage, uint64_t offset, size_t nbytes,
                           void *dst)
{
    ldm_status st = LDM_OK;
    zip_t *za = ((const bin_impl *)f->impl)->za;
    zip_stat_t zs;
    if (storage < 0 || zip_stat_index(za, (zip_uint64_t)storage, 0, &zs) != 0 ||
        !(zs.valid & ZIP_STAT_SIZE))
        return ldm_error(LDM_EINPUT, "%s: no storage entry %d", f->path, storage);
    if (offset > zs.size || nbytes > zs.size - offset)
        return ldm_error(LDM_EINPUT, "%s: read of %zu bytes at %llu is outside '%s' (%llu bytes)",
                         f->path, nbytes, (unsigned long long)offset, zs.name,
                         (unsigned long long)zs.size);
    if (nbytes == 0)
        return LDM_OK;
    zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)storage, 0);
    if (!zf)
        return ldm_error(LDM_ERUNTIME, "%s: cannot open '%s': %s", f->path, zs.name,
                         zip_strerror(za));
    /* A stored entry seeks without reading what comes before. */
    if (offset > 0 && zip_fseek(zf, (zip_int64_t)offset, SEEK_SET) != 0) {
        st = ldm_error(LDM_ERUNTIME, "%s: cannot seek in '%s': %s", f->path, zs.name,
                       zip_file_strerror(zf));
        goto cleanup;
    }
    for (size_t got = 0; got < nbytes;) {
        size_t want = nbytes - got < READ_CHUNK ? nbytes - got : READ_CHUNK;
        zip_int64_t r = zip_fread(zf, (unsigned char *)dst + got, want);
        if (r <= 0) {
            st = ldm_error(LDM_ERUNTIME, "%s: cannot read '%s': %s", f->path, zs.name,
                           r < 0 ? zip_file_strerror(zf) : "unexpected end");
            goto cleanup;
        }
        got += (size_t)r;
    }
cleanup:
    zip_fclose(zf);
    return st;
}

static void bin_close(ldm_weight_file *f)
{
    bin_impl *impl = f->impl;
    if (impl) {
        zip_discard(impl->za);
        ldm_free(impl);
        f->impl = NULL;
    }
}
