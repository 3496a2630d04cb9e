#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/atomic_file.h"
#include "core/file.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "io/npy.c reads and writes little-endian data in place: port it to big-endian hosts"
#endif

static const char MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* LDM_EINPUT "<name>: <message>". */
static ldm_status bad(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static ldm_status bad(const char *name, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ldm_error(LDM_EINPUT, "%s: %s", name, msg);
}

/* ------------------------------------------------------ header dict parser */
/* Just the subset numpy writes: string values, True/False and a tuple of
 * non-negative ints, keys in single or double quotes. */

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes into buf; 0 if there is none. */
static int parse_string(cursor *c, char *buf, size_t size)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return 0;
    char quote = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\' || *c->p == '\n' || n + 1 >= size)
            return 0;
        buf[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return 0;
    c->p++;
    buf[n] = '\0';
    return 1;
}

static int parse_word(cursor *c, const char *word)
{
    skip_ws(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* (), (n,), (a, b, ...) with an optional trailing comma. */
static ldm_status parse_shape(const char *name, cursor *c, ldm_npy *out)
{
    if (!eat(c, '('))
        return bad(name, "'shape' is not a tuple");
    out->ndim = 0;
    int commas = 0;
    while (!eat(c, ')')) {
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return bad(name, "'shape' must be a tuple of non-negative integers");
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return bad(name, "'shape' has a dimension too large");
            v = v * 10 + (*c->p++ - '0');
        }
        if (out->ndim == LDM_MAX_DIMS)
            return bad(name, "more than %d dimensions", LDM_MAX_DIMS);
        out->shape[out->ndim++] = v;
        if (eat(c, ','))
            commas++;
        else if (!eat(c, ')'))
            return bad(name, "'shape' is not a valid tuple");
        else
            break;
    }
    /* (3) is the integer 3 in Python, not a tuple: numpy rejects it too. */
    if (out->ndim == 1 && commas == 0)
        return bad(name, "'shape' is not a tuple");
    return LDM_OK;
}

/* Parse the dict; `*elem` gets 4 or 8. */
static ldm_status parse_header(const char *name, const char *h, size_t len, ldm_npy *out,
                               int *elem)
{
    cursor c = {h, h + len};
    char key[32], descr[32];
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (!eat(&c, '{'))
        return bad(name, "header is not a Python dict");
    while (!eat(&c, '}')) {
        if (!parse_string(&c, key, sizeof key) || !eat(&c, ':'))
            return bad(name, "header is not a valid dict");
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (!parse_string(&c, descr, sizeof descr))
                return bad(name, "unsupported dtype (not a simple type string)");
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            if (parse_word(&c, "True"))
                return bad(name, "fortran_order is True: only C-order arrays are supported");
            if (!parse_word(&c, "False"))
                return bad(name, "'fortran_order' must be True or False");
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            ldm_status st = parse_shape(name, &c, out);
            if (st != LDM_OK)
                return st;
            have_shape = 1;
        } else {
            return bad(name, "unexpected or repeated key '%s' in header", key);
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}'))
                return bad(name, "header is not a valid dict");
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end)
        return bad(name, "trailing characters after the header dict");
    const char *missing = !have_descr ? "descr" : !have_fortran ? "fortran_order"
                        : !have_shape ? "shape" : NULL;
    if (missing)
        return bad(name, "header has no '%s' key", missing);
    if (descr[0] == '>' && (strcmp(descr + 1, "f4") == 0 || strcmp(descr + 1, "f8") == 0))
        return bad(name, "big-endian data ('%s') is not supported", descr);
    if (strcmp(descr, "<f4") == 0)
        *elem = 4;
    else if (strcmp(descr, "<f8") == 0)
        *elem = 8;
    else
        return bad(name, "unsupported dtype '%s' (only '<f4' and '<f8')", descr);
    return LDM_OK;
}

static uint32_t get_le(const unsigned char *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

ldm_status ldm_npy_parse(const char *name, const void *bytes, size_t len, ldm_npy *out)
{
    const unsigned char *b = bytes;
    memset(out, 0, sizeof *out);
    if (len < 8 || memcmp(b, MAGIC, sizeof MAGIC) != 0)
        return bad(name, "not a .npy file (no \\x93NUMPY magic)");
    int major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return bad(name, "unsupported .npy format version %d.%d (1.0, 2.0, 3.0)", major, minor);
    size_t lenbytes = major == 1 ? 2 : 4;
    if (len < 8 + lenbytes)
        return bad(name, "file ends inside the header length");
    size_t hlen = get_le(b + 8, (int)lenbytes);
    size_t start = 8 + lenbytes;
    if (hlen > len - start)
        return bad(name, "header length %zu runs past the end of the file (%zu bytes)", hlen,
                   len);
    int elem = 0;
    ldm_npy a;
    memset(&a, 0, sizeof a);
    ldm_status st = parse_header(name, (const char *)b + start, hlen, &a, &elem);
    if (st != LDM_OK)
        return st;
    int64_t numel = 1;
    for (int i = 0; i < a.ndim; i++) {
        if (a.shape[i] != 0 && numel > (INT64_MAX / 8) / a.shape[i])
            return bad(name, "shape is too large");
        numel *= a.shape[i];
    }
    size_t need = (size_t)numel * (size_t)elem, have = len - start - hlen;
    if (have < need)
        return bad(name, "truncated: %zu bytes of data, the shape needs %zu", have, need);
    if (have > need)
        return bad(name, "%zu bytes after the data that the shape does not cover", have - need);
    st = ldm_alloc((size_t)numel * sizeof(float), name, (void **)&a.data);
    if (st != LDM_OK)
        return st;
    ldm_dtype_to_f32(elem == 4 ? LDM_DTYPE_F32 : LDM_DTYPE_F64, b + start + hlen, a.data,
                     (size_t)numel);
    a.numel = numel;
    *out = a;
    return LDM_OK;
}

ldm_status ldm_npy_read(const char *path, ldm_npy *out)
{
    char *bytes = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    ldm_status st = ldm_read_file(path, &bytes, &len);
    if (st == LDM_OK)
        st = ldm_npy_parse(path, bytes, len, out);
    ldm_free(bytes);
    return st;
}

void ldm_npy_free(ldm_npy *a)
{
    if (!a)
        return;
    ldm_free(a->data);
    memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------------ write */

ldm_status ldm_npy_write_f32(const char *path, const float *data, int ndim,
                             const int64_t *shape)
{
    ldm_status st = LDM_OK;
    char header[512], dims[8 * 24 + 8] = "";
    ldm_atomic_file af = { 0 };
    if (ndim < 0 || ndim > LDM_MAX_DIMS)
        return ldm_error(LDM_EINPUT, "%s: cannot write %d dimensions", path, ndim);
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        size_t n = strlen(dims);
        snprintf(dims + n, sizeof dims - n, "%lld,%s", (long long)shape[i],
                 ndim > 1 && i < ndim - 1 ? " " : "");
        numel *= shape[i];
    }
    if (ndim > 1)
        dims[strlen(dims) - 1] = '\0'; /* (2, 3) but (2,) */
    int n = snprintf(header, sizeof header,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    /* Pad with spaces and a final newline so that data starts at a multiple of 64. */
    size_t hlen = ((size_t)n + 1 + 10 + 63) / 64 * 64 - 10;
    memset(header + n, ' ', hlen - (size_t)n - 1);
    header[hlen - 1] = '\n';
    unsigned char pre[10];
    memcpy(pre, MAGIC, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);

    LDM_CHECK(ldm_atomic_file_open(path, &af));
    if (fwrite(pre, 1, 10, af.f) != 10 || fwrite(header, 1, hlen, af.f) != hlen ||
        fwrite(data, sizeof(float), (size_t)numel, af.f) != (size_t)numel) {
        st = ldm_error(LDM_ERUNTIME, "%s: write failed: %s", path, strerror(errno));
        goto cleanup;
    }
    st = ldm_atomic_file_commit(&af, "write failed");
cleanup:
    ldm_atomic_file_abort(&af);
    return st;
}
