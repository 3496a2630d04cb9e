#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

/* One tensor of the header while it is being checked. */
typedef struct st_item {
    const char *name; /* borrowed from the cJSON tree */
    ldm_dtype dtype;
    int ndim;
    int64_t shape[LDM_MAX_DIMS];
    uint64_t begin, end;
} st_item;

static const char *const dtype_names[] = {
    [LDM_DTYPE_F32] = "F32", [LDM_DTYPE_F16] = "F16", [LDM_DTYPE_BF16] = "BF16",
    [LDM_DTYPE_F64] = "F64", [LDM_DTYPE_I64] = "I64", [LDM_DTYPE_I32] = "I32",
    [LDM_DTYPE_I16] = "I16", [LDM_DTYPE_I8] = "I8",   [LDM_DTYPE_U8] = "U8",
    [LDM_DTYPE_BOOL] = "BOOL",
};

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Strict UTF-8 (as Rust's str::from_utf8): no overlongs, no surrogates,
 * nothing above U+10FFFF. Returns the offset of the first bad byte, or len. */
static size_t utf8_valid_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xbf;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return i;
        i += n + 1;
    }
    return len;
}

/* 1 if some JSON string holds the escape \u0000: cJSON would cut the name
 * there, so "a\u0000b" and "a" would silently become the same tensor. */
static int has_escaped_nul(const unsigned char *s, size_t len)
{
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        if (!in_string) {
            if (s[i] == '"')
                in_string = 1;
        } else if (s[i] == '"') {
            in_string = 0;
        } else if (s[i] == '\\' && i + 1 < len) {
            if (s[i + 1] == 'u' && i + 5 < len && s[i + 2] == '0' && s[i + 3] == '0' &&
                s[i + 4] == '0' && s[i + 5] == '0')
                return 1;
            i++;
        }
    }
    return 0;
}

/* A JSON number that is a non-negative integer exactly representable. */
static int json_uint(const cJSON *it, uint64_t *out)
{
    if (!cJSON_IsNumber(it))
        return 0;
    double v = it->valuedouble;
    if (!(v >= 0.0) || v > 9007199254740992.0 || v != floor(v))
        return 0;
    *out = (uint64_t)v;
    return 1;
}

/* A field that must appear exactly once in a tensor's object. */
static ldm_status one_field(const char *file, const char *tensor, const cJSON *obj,
                            const char *key, const cJSON **out)
{
    const cJSON *found = NULL, *it;
    cJSON_ArrayForEach(it, obj)
    {
        if (it->string && strcmp(it->string, key) == 0) {
            if (found)
                return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": field \"%s\" appears twice",
                                 file, tensor, key);
            found = it;
        }
    }
    if (!found)
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": missing field \"%s\"", file, tensor, key);
    *out = found;
    return LDM_OK;
}

static ldm_status parse_tensor(const char *file, const cJSON *it, st_item *t)
{
    const char *name = it->string;
    const cJSON *dt, *shape, *offs, *d;
    ldm_status st = LDM_OK;
    t->name = name;
    if (!cJSON_IsObject(it))
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": entry must be a JSON object", file, name);
    LDM_CHECK(one_field(file, name, it, "dtype", &dt));
    LDM_CHECK(one_field(file, name, it, "shape", &shape));
    LDM_CHECK(one_field(file, name, it, "data_offsets", &offs));

    if (!cJSON_IsString(dt))
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": \"dtype\" must be a string", file, name);
    t->dtype = LDM_DTYPE_COUNT;
    for (int k = 0; k < LDM_DTYPE_COUNT; k++)
        if (strcmp(dt->valuestring, dtype_names[k]) == 0)
            t->dtype = (ldm_dtype)k;
    if (t->dtype == LDM_DTYPE_COUNT)
        return ldm_error(LDM_EINPUT,
                         "%s: tensor \"%s\": unsupported dtype \"%s\" (supported: F64 F32 F16 "
                         "BF16 I64 I32 I16 I8 U8 BOOL)",
                         file, name, dt->valuestring);

    if (!cJSON_IsArray(shape))
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": \"shape\" must be a list of integers",
                         file, name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > LDM_MAX_DIMS)
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": %d dimensions, at most %d supported",
                         file, name, nd, (int)LDM_MAX_DIMS);
    t->ndim = 0;
    cJSON_ArrayForEach(d, shape)
    {
        uint64_t v;
        if (!json_uint(d, &v))
            return ldm_error(LDM_EINPUT,
                             "%s: tensor \"%s\": \"shape\" entries must be non-negative integers",
                             file, name);
        t->shape[t->ndim++] = (int64_t)v;
    }

    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_uint(cJSON_GetArrayItem(offs, 0), &t->begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &t->end))
        return ldm_error(LDM_EINPUT,
                         "%s: tensor \"%s\": \"data_offsets\" must be two non-negative integers "
                         "[begin, end]",
                         file, name);
cleanup:
    return st;
}

static ldm_status check_metadata(const char *file, const cJSON *it)
{
    if (cJSON_IsNull(it))
        return LDM_OK;
    if (!cJSON_IsObject(it))
        return ldm_error(LDM_EINPUT, "%s: \"__metadata__\" must be an object of strings", file);
    const cJSON *v;
    cJSON_ArrayForEach(v, it)
    {
        if (!cJSON_IsString(v))
            return ldm_error(LDM_EINPUT, "%s: \"__metadata__\": value of \"%s\" must be a string",
                             file, v->string);
    }
    return LDM_OK;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const st_item *)a)->name, ((const st_item *)b)->name);
}

/* Data order; equal offsets (empty tensors) fall back to the name. */
static int cmp_offsets(const void *a, const void *b)
{
    const st_item *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void format_shape(const st_item *t, char *buf, size_t cap)
{
    size_t pos = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < t->ndim && pos < cap; i++)
        pos += (size_t)snprintf(buf + pos, cap - pos, "%s%lld", i ? ", " : "",
                                (long long)t->shape[i]);
    if (pos < cap)
        snprintf(buf + pos, cap - pos, "]");
}

/* The tensors, sorted by offset, must tile [0, data_bytes) exactly. */
static ldm_status check_layout(const char *file, st_item *items, int n, uint64_t data_bytes)
{
    uint64_t pos = 0;
    for (int i = 0; i < n; i++) {
        const st_item *t = &items[i];
        if (t->end < t->begin)
            return ldm_error(LDM_EINPUT,
                             "%s: tensor \"%s\": data_offsets [%llu, %llu] end before they begin",
                             file, t->name, (unsigned long long)t->begin,
                             (unsigned long long)t->end);
        if (i == 0 && t->begin != 0)
            return ldm_error(LDM_EINPUT,
                             "%s: tensor \"%s\": data_offsets begin at %llu: the first tensor "
                             "must start the data at 0",
                             file, t->name, (unsigned long long)t->begin);
        if (t->begin > pos)
            return ldm_error(LDM_EINPUT,
                             "%s: tensor \"%s\": gap in the data: bytes [%llu, %llu) belong to "
                             "no tensor",
                             file, t->name, (unsigned long long)pos, (unsigned long long)t->begin);
        if (t->begin < pos)
            return ldm_error(LDM_EINPUT,
                             "%s: tensor \"%s\": data_offsets [%llu, %llu] overlap tensor \"%s\" "
                             "(which ends at %llu)",
                             file, t->name, (unsigned long long)t->begin,
                             (unsigned long long)t->end, items[i - 1].name,
                             (unsigned long long)pos);
        pos = t->end;
        uint64_t numel = 1, esize = ldm_dtype_size(t->dtype);
        int overflow = 0;
        for (int k = 0; k < t->ndim; k++) {
            uint64_t d = (uint64_t)t->shape[k];
            if (d != 0 && numel > (uint64_t)INT64_MAX / d)
                overflow = 1;
            else
                numel *= d;
        }
        if (overflow || numel > UINT64_MAX / esize)
            return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": shape overflows a 64-bit byte count",
                             file, t->name);
        if (t->end - t->begin != numel * esize) {
            char shape[160];
            format_shape(t, shape, sizeof shape);
            return ldm_error(LDM_EINPUT,
                             "%s: tensor \"%s\": data_offsets [%llu, %llu] hold %llu bytes but "
                             "shape %s of %s needs %llu",
                             file, t->name, (unsigned long long)t->begin,
                             (unsigned long long)t->end, (unsigned long long)(t->end - t->begin),
                             shape, dtype_names[t->dtype], (unsigned long long)(numel * esize));
        }
    }
    if (pos > data_bytes)
        return ldm_error(LDM_EINPUT,
                         "%s: file is truncated: tensor \"%s\" ends at data byte %llu but the "
                         "file holds only %llu data bytes",
                         file, items[n - 1].name, (unsigned long long)pos,
                         (unsigned long long)data_bytes);
    if (pos < data_bytes)
        return ldm_error(LDM_EINPUT,
                         "%s: %llu trailing bytes after the tensor data (the tensors end at data "
                         "byte %llu of %llu)",
                         file, (unsigned long long)(data_bytes - pos), (unsigned long long)pos,
                         (unsigned long long)data_bytes);
    return LDM_OK;
}

void ldm_safetensors_entries_free(ldm_tensor_entry *entries, int count)
{
    if (!entries)
        return;
    for (int i = 0; i < count; i++)
        ldm_free(entries[i].name);
    ldm_free(entries);
}

static ldm_status make_entries(const st_item *items, int n, uint64_t data_start,
                               uint64_t file_bytes, ldm_tensor_entry **out)
{
    ldm_status st = LDM_OK;
    ldm_tensor_entry *e = NULL;
    size_t bytes;
    int made = 0;
    LDM_CHECK(ldm_mul_size((size_t)(n > 0 ? n : 1), sizeof *e, &bytes));
    LDM_CHECK(ldm_calloc(bytes, "safetensors entries", (void **)&e));
    for (made = 0; made < n; made++) {
        const st_item *t = &items[made];
        ldm_tensor_entry *x = &e[made];
        LDM_CHECK(ldm_strdup(t->name, &x->name));
        x->dtype = t->dtype;
        x->ndim = t->ndim;
        int64_t stride = 1;
        for (int k = t->ndim - 1; k >= 0; k--) {
            x->shape[k] = t->shape[k];
            x->stride[k] = stride;
            stride *= t->shape[k] > 0 ? t->shape[k] : 1;
        }
        x->storage = 0;
        x->offset = data_start + t->begin;
        x->storage_bytes = file_bytes;
    }
    *out = e;
    e = NULL;
cleanup:
    ldm_safetensors_entries_free(e, made);
    return st;
}

ldm_status ldm_safetensors_parse_header(const char *name, const unsigned char *header_json,
                                        size_t header_len, uint64_t data_bytes,
                                        ldm_tensor_entry **entries, int *count)
{
    ldm_status st = LDM_OK;
    cJSON *root = NULL;
    st_item *items = NULL;
    int n = 0;
    *entries = NULL;
    *count = 0;

    size_t bad = utf8_valid_prefix(header_json, header_len);
    if (bad != header_len)
        return ldm_error(LDM_EINPUT, "%s: header is not valid UTF-8 (byte %zu of the header)",
                         name, bad);
    if (header_len == 0 || header_json[0] != '{')
        return ldm_error(LDM_EINPUT, "%s: header does not start with '{': not a safetensors file",
                         name);
    if (memchr(header_json, '\0', header_len))
        return ldm_error(LDM_EINPUT, "%s: header is not valid JSON (NUL byte)", name);
    const char *text = (const char *)header_json, *end = NULL;
    root = cJSON_ParseWithLengthOpts(text, header_len, &end, 0);
    if (!root) {
        size_t off = end && end >= text && end <= text + header_len ? (size_t)(end - text) : 0;
        return ldm_error(LDM_EINPUT, "%s: header is not valid JSON (near byte %zu of the header)",
                         name, off);
    }
    for (const char *p = end; p < text + header_len; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
            st = ldm_error(LDM_EINPUT, "%s: header is not valid JSON: trailing data at byte %zu",
                           name, (size_t)(p - text));
            goto cleanup;
        }
    if (!cJSON_IsObject(root)) {
        st = ldm_error(LDM_EINPUT, "%s: header must be a JSON object", name);
        goto cleanup;
    }
    if (has_escaped_nul(header_json, header_len)) {
        st = ldm_error(LDM_EINPUT, "%s: header: a name or string contains \\u0000", name);
        goto cleanup;
    }

    int total = cJSON_GetArraySize(root);
    size_t bytes;
    LDM_CHECK(ldm_mul_size((size_t)(total > 0 ? total : 1), sizeof *items, &bytes));
    LDM_CHECK(ldm_alloc(bytes, "safetensors header", (void **)&items));
    int seen_metadata = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        if (strcmp(it->string, "__metadata__") == 0) {
            if (seen_metadata++) {
                st = ldm_error(LDM_EINPUT, "%s: \"__metadata__\" appears twice", name);
                goto cleanup;
            }
            LDM_CHECK(check_metadata(name, it));
            continue;
        }
        LDM_CHECK(parse_tensor(name, it, &items[n]));
        n++;
    }

    qsort(items, (size_t)n, sizeof *items, cmp_name);
    for (int i = 1; i < n; i++)
        if (strcmp(items[i - 1].name, items[i].name) == 0) {
            st = ldm_error(LDM_EINPUT, "%s: tensor \"%s\" appears twice in the header", name,
                           items[i].name);
            goto cleanup;
        }
    qsort(items, (size_t)n, sizeof *items, cmp_offsets);
    LDM_CHECK(check_layout(name, items, n, data_bytes));
    uint64_t data_start = 8 + (uint64_t)header_len;
    LDM_CHECK(make_entries(items, n, data_start, data_start + data_bytes, entries));
    *count = n;
cleanup:
    ldm_free(items);
    cJSON_Delete(root);
    return st;
}

/* The 8-byte prefix: N must be within the limit and within the file. */
static ldm_status check_prefix(const char *name, const unsigned char prefix[8],
                               uint64_t file_bytes, uint64_t *header_len)
{
    uint64_t n = le64(prefix);
    if (n > LDM_SAFETENSORS_MAX_HEADER)
        return ldm_error(LDM_EINPUT,
                         "%s: header length %llu exceeds the %d-byte limit: not a safetensors "
                         "file, or corrupt",
                         name, (unsigned long long)n, LDM_SAFETENSORS_MAX_HEADER);
    if (n > file_bytes - 8)
        return ldm_error(LDM_EINPUT,
                         "%s: header length %llu runs past the end of the file (%llu bytes): "
                         "truncated or not a safetensors file",
                         name, (unsigned long long)n, (unsigned long long)file_bytes);
    *header_len = n;
    return LDM_OK;
}

ldm_status ldm_safetensors_parse(const char *name, const unsigned char *file, size_t file_len,
                                 ldm_tensor_entry **entries, int *count)
{
    uint64_t n;
    *entries = NULL;
    *count = 0;
    if (file_len < 8)
        return ldm_error(LDM_EINPUT, "%s: %zu bytes: too small for a safetensors file", name,
                         file_len);
    ldm_status st = check_prefix(name, file, file_len, &n);
    if (st != LDM_OK)
        return st;
    return ldm_safetensors_parse_header(name, file + 8, (size_t)n, file_len - 8 - n, entries,
                                        count);
}

/* ---- the open file ---- */

typedef struct st_impl {
    int fd;
    uint64_t size;
} st_impl;

/* pread until done; EINTR is retried, a short file is an error. */
static ldm_status pread_all(int fd, const char *path, uint64_t offset, size_t nbytes, void *dst)
{
    unsigned char *p = dst;
    while (nbytes > 0) {
        size_t chunk = nbytes < ((size_t)1 << 30) ? nbytes : ((size_t)1 << 30);
        ssize_t got = pread(fd, p, chunk, (off_t)offset);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return ldm_error(LDM_ERUNTIME, "%s: read error at byte %llu: %s", path,
                             (unsigned long long)offset, strerror(errno));
        if (got == 0)
            return ldm_error(LDM_EINPUT, "%s: unexpected end of file at byte %llu (file changed "
                             "or truncated?)",
                             path, (unsigned long long)offset);
        p += got;
        offset += (uint64_t)got;
        nbytes -= (size_t)got;
    }
    return LDM_OK;
}

static ldm_status st_read(const ldm_weight_file *f, int storage, uint64_t offset, size_t nbytes,
                          void *dst)
{
    const st_impl *im = f->impl;
    if (storage != 0 || offset > im->size || nbytes > im->size - offset)
        return ldm_error(LDM_EINPUT, "%s: read of %zu bytes at %llu is outside the file (%llu "
                         "bytes)",
                         f->path, nbytes, (unsigned long long)offset,
                         (unsigned long long)im->size);
    return pread_all(im->fd, f->path, offset, nbytes, dst);
}

static void st_close(ldm_weight_file *f)
{
    st_impl *im = f->impl;
    if (!im)
        return;
    if (im->fd >= 0)
        close(im->fd);
    ldm_free(im);
    f->impl = NULL;
}

static const ldm_weight_file_ops st_ops = { st_read, st_close };

ldm_status ldm_safetensors_open(const char *path, ldm_weight_file **out)
{
    ldm_status st = LDM_OK;
    ldm_weight_file *f = NULL;
    st_impl *im = NULL;
    unsigned char *header = NULL;
    *out = NULL;

    LDM_CHECK(ldm_calloc(sizeof *f, "weight file", (void **)&f));
    LDM_CHECK(ldm_strdup(path, &f->path));
    f->format = "safetensors";
    f->ops = &st_ops;
    LDM_CHECK(ldm_calloc(sizeof *im, "weight file", (void **)&im));
    im->fd = -1;
    f->impl = im;

    im->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (im->fd < 0) {
        st = ldm_error(LDM_EINPUT, "%s: cannot open: %s", path, strerror(errno));
        goto cleanup;
    }
    struct stat sb;
    if (fstat(im->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = ldm_error(LDM_EINPUT, "%s: not a regular file", path);
        goto cleanup;
    }
    im->size = (uint64_t)sb.st_size;
    if (im->size < 8) {
        st = ldm_error(LDM_EINPUT, "%s: %llu bytes: too small for a safetensors file", path,
                       (unsigned long long)im->size);
        goto cleanup;
    }
    unsigned char prefix[8];
    uint64_t n;
    LDM_CHECK(pread_all(im->fd, path, 0, 8, prefix));
    LDM_CHECK(check_prefix(path, prefix, im->size, &n));
    LDM_CHECK(ldm_alloc((size_t)n + 1, path, (void **)&header));
    LDM_CHECK(pread_all(im->fd, path, 8, (size_t)n, header));
    LDM_CHECK(ldm_safetensors_parse_header(path, header, (size_t)n, im->size - 8 - n,
                                           &f->tensors, &f->count));
    *out = f;
    f = NULL;
cleanup:
    ldm_free(header);
    ldm_weight_file_close(&f);
    return st;
}
