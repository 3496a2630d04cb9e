/* safetensors_write.c — streaming .safetensors writer (see safetensors_write.h). */
#include "safetensors_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"

enum { BUF_BYTES = 1 << 20 };

struct ldm_safetensors_writer {
    char *path;           /* owned: the target */
    char *tmp;            /* owned: the temporary file next to it */
    int fd;               /* the temporary file, or -1 */
    int n;                /* tensors */
    int *order;           /* owned [n]: file position k holds declaration order[k] */
    char **names;         /* owned [n]: names in file order, for messages */
    uint64_t *ends;       /* owned [n]: data byte where file tensor k ends */
    uint64_t pos, total;  /* data bytes written, declared */
    int cur;              /* file position of the tensor of the next byte */
    int failed;
    unsigned char *buf;   /* owned [BUF_BYTES]: small pieces gathered */
    size_t fill;
};

/* ---- the header ------------------------------------------------------------ */

typedef struct text {
    char *s;
    size_t len, cap;
} text;

static ldm_status put(text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = NULL;
        ldm_status st = ldm_alloc(cap, "safetensors header", (void **)&p);
        if (st != LDM_OK)
            return st;
        if (t->len)
            memcpy(p, t->s, t->len);
        ldm_free(t->s);
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
    return LDM_OK;
}

static ldm_status put_str(text *t, const char *s)
{
    return put(t, s, strlen(s));
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static ldm_status put_json_string(text *t, const char *s)
{
    ldm_status st = put(t, "\"", 1);
    for (; st == LDM_OK && *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            st = put(t, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            st = put(t, esc, 6);
        } else {
            st = put(t, (const char *)&c, 1);
        }
    }
    return st != LDM_OK ? st : put(t, "\"", 1);
}

/* The reference writer's data order: dtype descending in its enum order
 * (I64, F64, F32, I32, BF16, F16, I16, I8, U8, BOOL), then name (bytes). */
static int dtype_rank(ldm_dtype t)
{
    static const int rank[LDM_DTYPE_COUNT] = {
        [LDM_DTYPE_BOOL] = 0, [LDM_DTYPE_U8] = 1,   [LDM_DTYPE_I8] = 2,  [LDM_DTYPE_I16] = 5,
        [LDM_DTYPE_F16] = 7,  [LDM_DTYPE_BF16] = 8, [LDM_DTYPE_I32] = 9, [LDM_DTYPE_F32] = 11,
        [LDM_DTYPE_F64] = 12, [LDM_DTYPE_I64] = 13,
    };
    return rank[t];
}

static const ldm_safetensors_decl *sort_decls; /* qsort has no context argument */

static int cmp_order(const void *a, const void *b)
{
    const ldm_safetensors_decl *x = &sort_decls[*(const int *)a];
    const ldm_safetensors_decl *y = &sort_decls[*(const int *)b];
    int rx = dtype_rank(x->dtype), ry = dtype_rank(y->dtype);
    if (rx != ry)
        return ry - rx;
    return strcmp(x->name, y->name);
}

static uint64_t decl_bytes(const ldm_safetensors_decl *d)
{
    uint64_t bytes = ldm_dtype_size(d->dtype);
    for (int k = 0; k < d->ndim; k++)
        bytes *= (uint64_t)d->shape[k]; /* checked by plan */
    return bytes;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Check the declarations (valid unique names, known dtypes, sizes without
 * overflow) and put them in file order: order[k] is the declaration at file
 * position k, ends[k] its end offset. */
static ldm_status plan(const char *path, const ldm_safetensors_decl *d, int n, int *order,
                       uint64_t *ends, uint64_t *total)
{
    ldm_status st = LDM_OK;
    const char **names = NULL;
    uint64_t pos = 0;
    for (int i = 0; i < n; i++) {
        if (!d[i].name || !d[i].name[0] || strcmp(d[i].name, "__metadata__") == 0)
            return ldm_error(LDM_EINPUT, "%s: tensor %d has an invalid name \"%s\"", path, i,
                             d[i].name ? d[i].name : "");
        if ((unsigned)d[i].dtype >= LDM_DTYPE_COUNT || d[i].ndim < 0 || d[i].ndim > LDM_MAX_DIMS)
            return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": bad dtype or rank", path, d[i].name);
        uint64_t bytes = ldm_dtype_size(d[i].dtype);
        for (int k = 0; k < d[i].ndim; k++) {
            if (d[i].shape[k] < 0 ||
                __builtin_mul_overflow(bytes, (uint64_t)d[i].shape[k], &bytes))
                return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": bad shape (dimension %d is "
                                 "%lld)", path, d[i].name, k, (long long)d[i].shape[k]);
        }
        if (__builtin_add_overflow(pos, bytes, &pos))
            return ldm_error(LDM_EINPUT, "%s: the tensors' sizes overflow", path);
        order[i] = i;
    }
    *total = pos;
    if (n == 0)
        return LDM_OK;
    LDM_CHECK(ldm_alloc((size_t)n * sizeof *names, "tensor names", (void **)&names));
    for (int i = 0; i < n; i++)
        names[i] = d[i].name;
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    for (int i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            st = ldm_error(LDM_EINPUT, "%s: tensor \"%s\" is declared twice", path, names[i]);
            goto cleanup;
        }
    sort_decls = d;
    qsort(order, (size_t)n, sizeof *order, cmp_order);
    sort_decls = NULL;
    pos = 0;
    for (int k = 0; k < n; k++) {
        pos += decl_bytes(&d[order[k]]);
        ends[k] = pos;
    }
cleanup:
    ldm_free(names);
    return st;
}

/* The header JSON in file order, without padding. */
static ldm_status build_header(const ldm_safetensors_decl *d, int n, const int *order,
                               const char *const *meta, text *t)
{
    ldm_status st = LDM_OK;
    char num[64];
    uint64_t pos = 0;
    LDM_CHECK(put_str(t, "{"));
    if (meta && meta[0]) {
        LDM_CHECK(put_str(t, "\"__metadata__\":{"));
        for (int i = 0; meta[i] && meta[i + 1]; i += 2) {
            LDM_CHECK(put_str(t, i ? "," : ""));
            LDM_CHECK(put_json_string(t, meta[i]));
            LDM_CHECK(put_str(t, ":"));
            LDM_CHECK(put_json_string(t, meta[i + 1]));
        }
        LDM_CHECK(put_str(t, n ? "}," : "}"));
    }
    for (int k = 0; k < n; k++) {
        const ldm_safetensors_decl *x = &d[order[k]];
        uint64_t bytes = decl_bytes(x);
        LDM_CHECK(put_str(t, k ? "," : ""));
        LDM_CHECK(put_json_string(t, x->name));
        LDM_CHECK(put_str(t, ":{\"dtype\":\""));
        LDM_CHECK(put_str(t, ldm_dtype_name(x->dtype)));
        LDM_CHECK(put_str(t, "\",\"shape\":["));
        for (int j = 0; j < x->ndim; j++) {
            snprintf(num, sizeof num, "%s%lld", j ? "," : "", (long long)x->shape[j]);
            LDM_CHECK(put_str(t, num));
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)pos,
                 (unsigned long long)(pos + bytes));
        LDM_CHECK(put_str(t, num));
        pos += bytes;
    }
    LDM_CHECK(put_str(t, "}"));
cleanup:
    return st;
}

/* Header length N: the JSON padded with spaces to a multiple of 8. */
static size_t padded(size_t json_len)
{
    return (json_len + 7) / 8 * 8;
}

ldm_status ldm_safetensors_file_size(const ldm_safetensors_decl *tensors, int n,
                                     const char *const *metadata, uint64_t *bytes)
{
    ldm_status st = LDM_OK;
    text t = {0};
    int *order = NULL;
    uint64_t *ends = NULL, data = 0;
    size_t cnt = (size_t)(n > 0 ? n : 1);
    LDM_CHECK(ldm_alloc(cnt * sizeof *order, "tensor order", (void **)&order));
    LDM_CHECK(ldm_alloc(cnt * sizeof *ends, "tensor ends", (void **)&ends));
    LDM_CHECK(plan("safetensors", tensors, n, order, ends, &data));
    LDM_CHECK(build_header(tensors, n, order, metadata, &t));
    *bytes = 8 + padded(t.len) + data;
cleanup:
    ldm_free(t.s);
    ldm_free(order);
    ldm_free(ends);
    return st;
}

/* ---- the file -------------------------------------------------------------- */

static ldm_status write_all(ldm_safetensors_writer *w, const void *data, size_t bytes)
{
    const unsigned char *p = data;
    while (bytes > 0) {
        ssize_t k = write(w->fd, p, bytes);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            w->failed = 1;
            return ldm_error(LDM_ERUNTIME, "%s: write failed: %s", w->path,
                             k < 0 ? strerror(errno) : "no progress");
        }
        p += k;
        bytes -= (size_t)k;
    }
    return LDM_OK;
}

static ldm_status flush(ldm_safetensors_writer *w)
{
    ldm_status st = w->fill ? write_all(w, w->buf, w->fill) : LDM_OK;
    w->fill = 0;
    return st;
}

/* Open "<path>.tmp-<pid>-<k>" exclusively (honouring the umask). */
static ldm_status create_tmp(ldm_safetensors_writer *w)
{
    ldm_status st = LDM_OK;
    size_t cap = strlen(w->path) + 64;
    LDM_CHECK(ldm_alloc(cap, "file name", (void **)&w->tmp));
    for (int k = 0; k < 100; k++) {
        snprintf(w->tmp, cap, "%s.tmp-%ld-%d", w->path, (long)getpid(), k);
        w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (w->fd >= 0 || errno != EEXIST)
            break;
    }
    if (w->fd < 0) {
        int e = errno;
        st = ldm_error(e == ENOSPC || e == EMFILE || e == ENFILE ? LDM_ERUNTIME : LDM_EINPUT,
                       "%s: cannot create %s: %s", w->path, w->tmp, strerror(e));
    }
cleanup:
    return st;
}

void ldm_safetensors_writer_abort(ldm_safetensors_writer **wp)
{
    if (!wp || !*wp)
        return;
    ldm_safetensors_writer *w = *wp;
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->tmp);
    }
    if (w->names)
        for (int i = 0; i < w->n; i++)
            ldm_free(w->names[i]);
    ldm_free(w->names);
    ldm_free(w->order);
    ldm_free(w->ends);
    ldm_free(w->buf);
    ldm_free(w->tmp);
    ldm_free(w->path);
    ldm_free(w);
    *wp = NULL;
}

ldm_status ldm_safetensors_writer_open(const char *path, const ldm_safetensors_decl *tensors,
                                       int n, const char *const *metadata,
                                       ldm_safetensors_writer **out)
{
    ldm_status st = LDM_OK;
    ldm_safetensors_writer *w = NULL;
    text t = {0};
    *out = NULL;
    if (n < 0 || (n > 0 && !tensors))
        return ldm_error(LDM_EINPUT, "%s: no tensor list", path);
    LDM_CHECK(ldm_calloc(sizeof *w, "safetensors writer", (void **)&w));
    w->fd = -1;
    w->n = n;
    LDM_CHECK(ldm_strdup(path, &w->path));
    LDM_CHECK(ldm_alloc(BUF_BYTES, "write buffer", (void **)&w->buf));
    size_t cnt = (size_t)(n ? n : 1);
    LDM_CHECK(ldm_calloc(cnt * sizeof *w->ends, "tensor ends", (void **)&w->ends));
    LDM_CHECK(ldm_calloc(cnt * sizeof *w->order, "tensor order", (void **)&w->order));
    LDM_CHECK(ldm_calloc(cnt * sizeof *w->names, "tensor names", (void **)&w->names));
    LDM_CHECK(plan(path, tensors, n, w->order, w->ends, &w->total));
    for (int k = 0; k < n; k++)
        LDM_CHECK(ldm_strdup(tensors[w->order[k]].name, &w->names[k]));
    LDM_CHECK(build_header(tensors, n, w->order, metadata, &t));
    size_t hlen = padded(t.len);
    while (t.len < hlen)
        LDM_CHECK(put(&t, " ", 1));
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    LDM_CHECK(create_tmp(w));
    LDM_CHECK(write_all(w, len8, 8));
    LDM_CHECK(write_all(w, t.s, hlen));
    /* skip leading zero-byte tensors */
    while (w->cur < w->n && w->ends[w->cur] == 0)
        w->cur++;
    *out = w;
    w = NULL;
cleanup:
    ldm_free(t.s);
    ldm_safetensors_writer_abort(&w);
    return st;
}

ldm_status ldm_safetensors_writer_write(ldm_safetensors_writer *w, const void *data, size_t bytes)
{
    ldm_status st = LDM_OK;
    if (w->failed)
        return ldm_error(LDM_ERUNTIME, "%s: write after a failed write", w->path);
    if (bytes > w->total - w->pos) {
        w->failed = 1;
        return ldm_error(LDM_EINPUT, "%s: %zu bytes more than the %llu declared", w->path,
                         bytes - (size_t)(w->total - w->pos), (unsigned long long)w->total);
    }
    if (w->fill + bytes <= BUF_BYTES) {
        memcpy(w->buf + w->fill, data, bytes);
        w->fill += bytes;
    } else {
        LDM_CHECK(flush(w));
        if (bytes < BUF_BYTES) {
            memcpy(w->buf, data, bytes);
            w->fill = bytes;
        } else {
            LDM_CHECK(write_all(w, data, bytes));
        }
    }
    w->pos += bytes;
    while (w->cur < w->n && w->ends[w->cur] <= w->pos)
        w->cur++;
cleanup:
    return st;
}

int ldm_safetensors_writer_tensor(const ldm_safetensors_writer *w, uint64_t *bytes_left)
{
    if (bytes_left)
        *bytes_left = w->cur < w->n ? w->ends[w->cur] - w->pos : 0;
    return w->cur < w->n ? w->order[w->cur] : w->n;
}

ldm_status ldm_safetensors_writer_finish(ldm_safetensors_writer **wp)
{
    ldm_status st = LDM_OK;
    ldm_safetensors_writer *w = *wp;
    if (w->failed) {
        st = ldm_error(LDM_ERUNTIME, "%s: not written (an earlier write failed)", w->path);
        goto cleanup;
    }
    if (w->pos != w->total) {
        uint64_t start = w->cur > 0 ? w->ends[w->cur - 1] : 0;
        st = ldm_error(LDM_EINPUT, "%s: tensor \"%s\" got %llu of its %llu bytes", w->path,
                       w->names[w->cur], (unsigned long long)(w->pos - start),
                       (unsigned long long)(w->ends[w->cur] - start));
        goto cleanup;
    }
    LDM_CHECK(flush(w));
    if (fsync(w->fd) != 0) {
        st = ldm_error(LDM_ERUNTIME, "%s: write failed (fsync): %s", w->path, strerror(errno));
        goto cleanup;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        st = ldm_error(LDM_ERUNTIME, "%s: write failed (close): %s", w->path, strerror(errno));
        unlink(w->tmp);
        goto cleanup;
    }
    if (rename(w->tmp, w->path) != 0) {
        st = ldm_error(LDM_ERUNTIME, "%s: cannot rename %s onto it: %s", w->path, w->tmp,
                       strerror(errno));
        unlink(w->tmp);
        goto cleanup;
    }
cleanup:
    ldm_safetensors_writer_abort(wp);
    return st;
}

ldm_status ldm_safetensors_write_file(const char *path, const ldm_safetensors_decl *tensors,
                                      const void *const *data, int n,
                                      const char *const *metadata)
{
    ldm_status st = LDM_OK;
    ldm_safetensors_writer *w = NULL;
    uint64_t left = 0;
    LDM_CHECK(ldm_safetensors_writer_open(path, tensors, n, metadata, &w));
    for (int i; (i = ldm_safetensors_writer_tensor(w, &left)) < n;)
        LDM_CHECK(ldm_safetensors_writer_write(w, data[i], (size_t)left));
    LDM_CHECK(ldm_safetensors_writer_finish(&w));
cleanup:
    ldm_safetensors_writer_abort(&w);
    return st;
}
