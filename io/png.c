/* Our header is io/png.h; libpng's is <png.h> (angle brackets never find
 * ours: io/ is not an include directory). */
#include "io/png.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/atomic_file.h"

/* libpng reports errors through a callback that must not return: we keep
 * the message and longjmp back to the setjmp in the function that called
 * libpng. Everything those functions change after setjmp lives behind a
 * pointer (the caller's frame), never in their own locals. */
typedef struct png_failure {
    char msg[200];
    int err; /* errno when libpng failed (a write error leaves ENOSPC etc.) */
} png_failure;

static void on_error(png_structp png, png_const_charp msg)
{
    png_failure *f = png_get_error_ptr(png);
    f->err = errno;
    snprintf(f->msg, sizeof f->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* libpng warnings (e.g. unknown chunks) are not failures */
}

/* ------------------------------------------------------------------ write */

/* 1 if s is valid UTF-8 (no overlong forms, no surrogates, <= U+10FFFF). */
static int valid_utf8(const unsigned char *s)
{
    while (*s) {
        unsigned c = *s++;
        int more;
        unsigned cp, min;
        if (c < 0x80)
            continue;
        if ((c & 0xe0) == 0xc0) {
            more = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        for (int i = 0; i < more; i++, s++) {
            if ((*s & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (*s & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    return 1;
}

static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 0;
    return 1;
}

/* PNG keyword rules (PNG spec 11.3.4.2), restricted to printable ASCII. */
static int valid_keyword(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > 79 || k[0] == ' ' || k[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 32 || k[i] > 126 || (k[i] == ' ' && k[i + 1] == ' '))
            return 0;
    return 1;
}

/* libpng calls for one image; 0 on success, -1 with `fail` filled. */
static int write_stream(FILE *fp, const uint8_t *rgb, int width, int height, png_text *texts,
                        int ntexts, png_failure *fail)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, fail, on_error, on_warning);
    if (!png) {
        snprintf(fail->msg, sizeof fail->msg, "out of memory");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(fail->msg, sizeof fail->msg, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (ntexts > 0)
        png_set_text(png, info, texts, ntexts); /* copies the strings */
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, rgb + (size_t)y * (size_t)width * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

ldm_status ldm_png_write(const char *path, const uint8_t *rgb, int width, int height,
                         const ldm_png_text *texts, int ntexts)
{
    ldm_status st = LDM_OK;
    png_text *pt = NULL;
    ldm_atomic_file af = { 0 };
    png_failure fail = {"", 0};

    if (width < 1 || height < 1 || width > PNG_USER_WIDTH_MAX || height > PNG_USER_HEIGHT_MAX)
        return ldm_error(LDM_EINPUT, "%s: image size %dx%d is not writable as PNG", path, width,
                         height);
    if (ntexts < 0 || (ntexts > 0 && !texts))
        return ldm_error(LDM_EINPUT, "%s: %d text chunks but no texts", path, ntexts);
    for (int i = 0; i < ntexts; i++) {
        if (!texts[i].key || !valid_keyword(texts[i].key))
            return ldm_error(LDM_EINPUT, "%s: text key '%s' is not a PNG keyword "
                             "(1-79 printable ASCII characters, no leading, trailing or double spaces)",
                             path, texts[i].key ? texts[i].key : "(null)");
        if (!texts[i].value || !valid_utf8((const unsigned char *)texts[i].value))
            return ldm_error(LDM_EINPUT, "%s: value of text key '%s' is %s", path, texts[i].key,
                             texts[i].value ? "not valid UTF-8" : "missing");
    }
    if (ntexts > 0) {
        LDM_CHECK(ldm_calloc((size_t)ntexts * sizeof *pt, "PNG texts", (void **)&pt));
        for (int i = 0; i < ntexts; i++) {
            int ascii = is_ascii(texts[i].value);
            /* libpng takes non-const pointers but only copies the strings. */
            pt[i].compression = ascii ? PNG_TEXT_COMPRESSION_NONE : PNG_ITXT_COMPRESSION_NONE;
            pt[i].key = (png_charp)(uintptr_t)texts[i].key;
            pt[i].text = (png_charp)(uintptr_t)texts[i].value;
            pt[i].lang = NULL;
            pt[i].lang_key = NULL;
        }
    }

    LDM_CHECK(ldm_atomic_file_open(path, &af));
    errno = 0;
    if (write_stream(af.f, rgb, width, height, pt, ntexts, &fail) != 0) {
        st = ldm_error(LDM_ERUNTIME, "%s: PNG write failed: %s%s%s%s", path, fail.msg,
                       fail.err ? " (" : "", fail.err ? strerror(fail.err) : "",
                       fail.err ? ")" : "");
        goto cleanup;
    }
    /* Closing flushes: a full disk may only show up there. */
    st = ldm_atomic_file_commit(&af, "PNG write failed");
cleanup:
    ldm_atomic_file_abort(&af);
    ldm_free(pt);
    return st;
}

/* ------------------------------------------------------------------- read */

/* What the reader builds; lives in ldm_png_read's frame (see above). */
typedef struct read_state {
    uint8_t *rgb;
    png_bytep *rows;
    ldm_png_text *texts;
    int ntexts, width, height;
    ldm_status st; /* set for failures of ours (allocation) */
} read_state;

/* Latin-1 (tEXt, zTXt) or UTF-8 (iTXt) text to an owned UTF-8 string. */
static ldm_status to_utf8(const char *s, size_t len, int latin1, char **out)
{
    ldm_status st = ldm_alloc(len * 2 + 1, "PNG text", (void **)out);
    if (st != LDM_OK)
        return st;
    char *d = *out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (latin1 && c >= 0x80) {
            *d++ = (char)(0xc0 | (c >> 6));
            *d++ = (char)(0x80 | (c & 0x3f));
        } else {
            *d++ = (char)c;
        }
    }
    *d = '\0';
    return LDM_OK;
}

static ldm_status collect_texts(png_structp png, png_infop info, read_state *rs)
{
    png_textp t = NULL;
    int n = png_get_text(png, info, &t, NULL);
    if (n <= 0)
        return LDM_OK;
    ldm_png_text *grown = NULL;
    ldm_status st = ldm_calloc((size_t)(rs->ntexts + n) * sizeof *grown, "PNG texts",
                               (void **)&grown);
    if (st != LDM_OK)
        return st;
    if (rs->ntexts)
        memcpy(grown, rs->texts, (size_t)rs->ntexts * sizeof *grown);
    ldm_free(rs->texts);
    rs->texts = grown;
    for (int i = 0; i < n; i++) {
        int latin1 = t[i].compression == PNG_TEXT_COMPRESSION_NONE ||
                     t[i].compression == PNG_TEXT_COMPRESSION_zTXt;
        size_t len = latin1 ? t[i].text_length : t[i].itxt_length;
        char *key = NULL, *value = NULL;
        st = to_utf8(t[i].key, strlen(t[i].key), 1, &key);
        if (st == LDM_OK)
            st = to_utf8(t[i].text ? t[i].text : "", t[i].text ? len : 0, latin1, &value);
        if (st != LDM_OK) {
            ldm_free(key);
            return st;
        }
        rs->texts[rs->ntexts].key = key;
        rs->texts[rs->ntexts].value = value;
        rs->ntexts++;
    }
    return LDM_OK;
}

/* 0 on success; -1 with `fail` filled (libpng) or rs->st set (ours). */
static int read_stream(FILE *fp, read_state *rs, png_failure *fail)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, fail, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_infop end = info ? png_create_info_struct(png) : NULL;
    if (!end) {
        png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
        snprintf(fail->msg, sizeof fail->msg, "out of memory");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, &end);
        return -1;
    }
    png_init_io(png, fp);
    png_read_info(png, info);
    png_set_expand(png); /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_read_update_info(png, info);
    rs->width = (int)png_get_image_width(png, info);
    rs->height = (int)png_get_image_height(png, info);
    size_t row = (size_t)rs->width * 3;
    if (png_get_rowbytes(png, info) != row)
        png_error(png, "unexpected row size after conversion to RGB");
    if ((rs->st = ldm_alloc(row * (size_t)rs->height, "PNG pixels", (void **)&rs->rgb)) != LDM_OK ||
        (rs->st = ldm_alloc((size_t)rs->height * sizeof(png_bytep), "PNG rows",
                            (void **)&rs->rows)) != LDM_OK)
        png_error(png, "out of memory");
    for (int y = 0; y < rs->height; y++)
        rs->rows[y] = rs->rgb + (size_t)y * row;
    png_read_image(png, rs->rows);
    png_read_end(png, end);
    if ((rs->st = collect_texts(png, info, rs)) != LDM_OK ||
        (rs->st = collect_texts(png, end, rs)) != LDM_OK)
        png_error(png, "out of memory");
    png_destroy_read_struct(&png, &info, &end);
    return 0;
}

ldm_status ldm_png_read(const char *path, uint8_t **rgb, int *width, int *height,
                        ldm_png_text **texts, int *ntexts)
{
    ldm_status st = LDM_OK;
    read_state rs;
    png_failure fail = {"", 0};
    unsigned char sig[8];
    memset(&rs, 0, sizeof rs);
    *rgb = NULL;
    *texts = NULL;
    *width = *height = *ntexts = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return ldm_error(LDM_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (fread(sig, 1, 8, fp) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        st = ldm_error(LDM_EINPUT, "%s: not a PNG file", path);
        goto cleanup;
    }
    rewind(fp);
    if (read_stream(fp, &rs, &fail) != 0) {
        st = rs.st != LDM_OK ? rs.st
                             : ldm_error(LDM_EINPUT, "%s: invalid PNG: %s", path, fail.msg);
        goto cleanup;
    }
    *rgb = rs.rgb;
    *texts = rs.texts;
    *ntexts = rs.ntexts;
    *width = rs.width;
    *height = rs.height;
    rs.rgb = NULL;
    rs.texts = NULL;
    rs.ntexts = 0;
cleanup:
    fclose(fp);
    ldm_free(rs.rows);
    ldm_free(rs.rgb);
    ldm_png_texts_free(rs.texts, rs.ntexts);
    return st;
}

void ldm_png_texts_free(ldm_png_text *texts, int ntexts)
{
    if (!texts)
        return;
    for (int i = 0; i < ntexts; i++) {
        ldm_free((void *)(uintptr_t)texts[i].key);
        ldm_free((void *)(uintptr_t)texts[i].value);
    }
    ldm_free(texts);
}
