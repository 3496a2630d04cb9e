/* test_png.c — io/png.c: libpng round trip of pixels and text chunks, the
 * chunk layout checked byte by byte without libpng (CRCs with zlib), and
 * failures: bad arguments, missing directory, a write cut short by
 * RLIMIT_FSIZE, damaged files, failed allocations. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/alloc.h"
#include "core/file.h"
#include "harness.h"
#include "io/png.h"

static char tmpdir[512];

static void tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

/* A test image that uses every channel and row differently. */
static uint8_t *make_image(int w, int h, unsigned salt)
{
    uint8_t *p = malloc((size_t)w * (size_t)h * 3);
    uint32_t x = 2463534242u ^ salt;
    for (size_t i = 0; p && i < (size_t)w * (size_t)h * 3; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift: incompressible */
        p[i] = salt ? (uint8_t)x : (uint8_t)(i * 7 + i / 97);
    }
    return p;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const char *UTF8_PROMPT = "ein Eichh\xc3\xb6rnchen \xe4\xb8\x80\xe5\x8f\xaa\xe6\x9d\xbe"
                                 "\xe9\xbc\xa0 \xf0\x9f\x90\xbf\xef\xb8\x8f";

/* Walk the chunks of a PNG file: signature, CRCs, IHDR, which key went into
 * tEXt and which into iTXt, and the inflated IDAT size. */
static void check_chunks(const char *path, int w, int h)
{
    char *data = NULL;
    size_t len = 0;
    CHECK(ldm_read_file(path, &data, &len) == LDM_OK);
    if (!data)
        return;
    const uint8_t *b = (const uint8_t *)data;
    CHECK(len > 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0);
    size_t pos = 8, idat_len = 0;
    int crc_ok = 1, n_text = 0, n_itxt = 0, seen_iend = 0, idat_at = -1, index = 0;
    uint8_t *idat = malloc(len);
    while (pos + 12 <= len && !seen_iend) {
        uint32_t n = be32(b + pos);
        if (pos + 12 + n > len)
            break;
        const uint8_t *type = b + pos + 4, *body = b + pos + 8;
        crc_ok &= (uint32_t)crc32(0, type, 4 + n) == be32(body + n);
        if (memcmp(type, "IHDR", 4) == 0) {
            CHECK(index == 0 && n == 13 && be32(body) == (uint32_t)w && be32(body + 4) == (uint32_t)h);
            CHECK(body[8] == 8 && body[9] == 2 && body[12] == 0); /* 8-bit RGB, no interlace */
        } else if (memcmp(type, "tEXt", 4) == 0) {
            /* keyword \0 text, exactly; the ASCII values of test_roundtrip */
            static const struct { const char *bytes; uint32_t n; } want[] = {
                {"prompt\0a squirrel", 17}, {"seed\0" "42", 7}, {"guidance_scale\0" "6", 16}};
            int found = 0;
            for (int k = 0; k < 3; k++)
                found |= n == want[k].n && memcmp(body, want[k].bytes, n) == 0;
            CHECK_MSG(found, "unexpected tEXt chunk of %u bytes", n);
            n_text++;
        } else if (memcmp(type, "iTXt", 4) == 0) {
            n_itxt++;
            /* key \0, compression flag 0, method 0, lang "" \0, translated "" \0, text */
            size_t plen = strlen(UTF8_PROMPT);
            CHECK(n == 12 + plen && memcmp(body, "prompt2\0\0\0\0\0", 12) == 0 &&
                  memcmp(body + 12, UTF8_PROMPT, plen) == 0);
        } else if (memcmp(type, "IDAT", 4) == 0) {
            CHECK(idat_at < 0 || idat_at == index - 1); /* consecutive */
            idat_at = index;
            memcpy(idat + idat_len, body, n);
            idat_len += n;
        } else if (memcmp(type, "IEND", 4) == 0) {
            seen_iend = 1;
            CHECK(pos + 12 == len);
        }
        pos += 12 + n;
        index++;
    }
    CHECK(crc_ok && seen_iend);
    CHECK_MSG(n_text == 3 && n_itxt == 1, "%d tEXt, %d iTXt", n_text, n_itxt);
    /* Each row inflates to a filter byte plus 3w samples. */
    uLongf raw_len = (uLongf)h * (1 + 3 * (uLongf)w);
    uint8_t *raw = malloc(raw_len + 1);
    uLongf got = raw_len + 1;
    CHECK(uncompress(raw, &got, idat, idat_len) == Z_OK && got == raw_len);
    free(raw);
    free(idat);
    ldm_free(data);
}

static void test_roundtrip(void)
{
    char path[600];
    tmp_path(path, sizeof path, "rt.png");
    int w = 37, h = 23;
    uint8_t *img = make_image(w, h, 0);
    ldm_png_text texts[] = {{"prompt", "a squirrel"},
                            {"seed", "42"},
                            {"prompt2", UTF8_PROMPT},
                            {"guidance_scale", "6"}};
    CHECK(ldm_png_write(path, img, w, h, texts, 4) == LDM_OK);
    check_chunks(path, w, h);

    uint8_t *rgb = NULL;
    ldm_png_text *got = NULL;
    int gw = 0, gh = 0, n = 0;
    CHECK_MSG(ldm_png_read(path, &rgb, &gw, &gh, &got, &n) == LDM_OK, "%s", ldm_error_message());
    CHECK(gw == w && gh == h && rgb && memcmp(rgb, img, (size_t)w * h * 3) == 0);
    CHECK(n == 4);
    for (int i = 0; i < n && i < 4; i++)
        CHECK_MSG(strcmp(got[i].key, texts[i].key) == 0 && strcmp(got[i].value, texts[i].value) == 0,
                  "text %d: %s=%s", i, got[i].key, got[i].value);
    ldm_free(rgb);
    ldm_png_texts_free(got, n);

    /* Overwrite with a different image and no texts. */
    uint8_t *img2 = make_image(1, 1, 5);
    CHECK(ldm_png_write(path, img2, 1, 1, NULL, 0) == LDM_OK);
    CHECK(ldm_png_read(path, &rgb, &gw, &gh, &got, &n) == LDM_OK);
    CHECK(gw == 1 && gh == 1 && n == 0 && got == NULL && memcmp(rgb, img2, 3) == 0);
    ldm_free(rgb);
    free(img2);
    free(img);
}

/* Append a chunk just before IEND (the last 12 bytes) of a PNG file. */
static void add_chunk(const char *path, const char *type, const void *body, uint32_t n)
{
    char *data = NULL;
    size_t len = 0;
    CHECK(ldm_read_file(path, &data, &len) == LDM_OK && len > 20);
    if (!data)
        return;
    uint8_t head[8] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    memcpy(head + 4, type, 4);
    uint32_t crc = (uint32_t)crc32(crc32(0, head + 4, 4), body, n);
    uint8_t tail[4] = {(uint8_t)(crc >> 24), (uint8_t)(crc >> 16), (uint8_t)(crc >> 8), (uint8_t)crc};
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(data, 1, len - 12, f);
        fwrite(head, 1, 8, f);
        fwrite(body, 1, n, f);
        fwrite(tail, 1, 4, f);
        fwrite(data + len - 12, 1, 12, f);
        fclose(f);
    }
    ldm_free(data);
}

/* tEXt written by other programs is Latin-1; the reader returns UTF-8. */
static void test_read_latin1(void)
{
    char path[600];
    tmp_path(path, sizeof path, "latin1.png");
    uint8_t px[3] = {1, 2, 3};
    CHECK(ldm_png_write(path, px, 1, 1, NULL, 0) == LDM_OK);
    add_chunk(path, "tEXt", "Title\0caf\xe9", 10);
    uint8_t *rgb = NULL;
    ldm_png_text *t = NULL;
    int w, h, n;
    CHECK(ldm_png_read(path, &rgb, &w, &h, &t, &n) == LDM_OK);
    CHECK(n == 1 && strcmp(t[0].key, "Title") == 0 && strcmp(t[0].value, "caf\xc3\xa9") == 0);
    ldm_free(rgb);
    ldm_png_texts_free(t, n);
}

static int temp_files_left(void)
{
    int n = 0;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += strstr(e->d_name, ".tmp") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void test_write_errors(void)
{
    char path[600], nodir[600];
    uint8_t px[12] = {0};
    tmp_path(path, sizeof path, "err.png");
    tmp_path(nodir, sizeof nodir, "no/such/dir/out.png");
    remove(path); /* from an earlier run */
    CHECK_FAILS_WITH(ldm_png_write(nodir, px, 2, 2, NULL, 0), LDM_EINPUT, nodir);
    CHECK_FAILS_WITH(ldm_png_write(path, px, 0, 2, NULL, 0), LDM_EINPUT, "0x2");
    CHECK_FAILS_WITH(ldm_png_write(path, px, 2, -1, NULL, 0), LDM_EINPUT, path);

    const char *bad_keys[] = {"", " seed", "seed ", "two  spaces", "tab\tkey", "k\xc3\xa9y",
                              ("0123456789012345678901234567890123456789"
                               "0123456789012345678901234567890123456789")}; /* 80 */
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        ldm_png_text t = {bad_keys[i], "v"};
        CHECK_FAILS_WITH(ldm_png_write(path, px, 2, 2, &t, 1), LDM_EINPUT, "not a PNG keyword");
    }
    const char *bad_values[] = {"\xff", "caf\xe9", "\xc0\xaf", "\xed\xa0\x80", "\xe4\xb8"};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        ldm_png_text t = {"prompt", bad_values[i]};
        CHECK_FAILS_WITH(ldm_png_write(path, px, 2, 2, &t, 1), LDM_EINPUT,
                         "value of text key 'prompt' is not valid UTF-8");
    }
    ldm_png_text nul = {"prompt", NULL};
    CHECK_FAILS_WITH(ldm_png_write(path, px, 2, 2, &nul, 1), LDM_EINPUT, "is missing");
    CHECK(!ldm_is_file(path));

    /* Allocation failure: runtime error, nothing written. */
    ldm_png_text ok = {"seed", "1"};
    ldm_alloc_fail_after(1);
    ldm_error_clear();
    CHECK(ldm_png_write(path, px, 2, 2, &ok, 1) == LDM_ERUNTIME);
    ldm_alloc_fail_after(0);
    ldm_error_clear();
    CHECK(!ldm_is_file(path) && temp_files_left() == 0);

    /* A write cut short (like a full disk): the old file at the path stays
     * intact and no temporary file is left behind. */
    uint8_t old[3] = {9, 9, 9};
    CHECK(ldm_png_write(path, old, 1, 1, NULL, 0) == LDM_OK);
    int w = 128, h = 128;
    uint8_t *noise = make_image(w, h, 77);
    struct rlimit saved, small;
    if (getrlimit(RLIMIT_FSIZE, &saved) == 0) {
        small = saved;
        small.rlim_cur = 2000;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
        ldm_error_clear();
        ldm_status st = ldm_png_write(path, noise, w, h, NULL, 0);
        setrlimit(RLIMIT_FSIZE, &saved);
        signal(SIGXFSZ, prev);
        CHECK_MSG(st == LDM_ERUNTIME && strstr(ldm_error_message(), path) &&
                      strstr(ldm_error_message(), "PNG write failed"),
                  "status %d: %s", (int)st, ldm_error_message());
        ldm_error_clear();
        uint8_t *rgb = NULL;
        ldm_png_text *t = NULL;
        int gw, gh, n;
        CHECK(ldm_png_read(path, &rgb, &gw, &gh, &t, &n) == LDM_OK && gw == 1 &&
              memcmp(rgb, old, 3) == 0);
        ldm_free(rgb);
        CHECK(temp_files_left() == 0);
    }
    free(noise);
}

static void test_read_errors(void)
{
    char path[600], bad[600];
    uint8_t *rgb = NULL;
    ldm_png_text *t = NULL;
    int w, h, n;
    tmp_path(path, sizeof path, "good.png");
    tmp_path(bad, sizeof bad, "bad.png");
    remove(bad); /* from an earlier run */
    uint8_t *img = make_image(16, 16, 3);
    ldm_png_text texts[] = {{"prompt", "x"}};
    CHECK(ldm_png_write(path, img, 16, 16, texts, 1) == LDM_OK);
    free(img);
    char *data = NULL;
    size_t len = 0;
    CHECK(ldm_read_file(path, &data, &len) == LDM_OK);
    if (!data)
        return;

    CHECK_FAILS_WITH(ldm_png_read(bad, &rgb, &w, &h, &t, &n), LDM_EINPUT, "cannot open");
    FILE *f = fopen(bad, "wb");
    fwrite("GIF89a not a png", 1, 16, f);
    fclose(f);
    CHECK_FAILS_WITH(ldm_png_read(bad, &rgb, &w, &h, &t, &n), LDM_EINPUT, "not a PNG file");
    f = fopen(bad, "wb");
    fwrite(data, 1, len / 2, f); /* truncated inside IDAT */
    fclose(f);
    CHECK_FAILS_WITH(ldm_png_read(bad, &rgb, &w, &h, &t, &n), LDM_EINPUT, "invalid PNG");
    CHECK(rgb == NULL && t == NULL && n == 0);
    data[20] ^= 0x40; /* inside IHDR: its CRC no longer matches */
    f = fopen(bad, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    CHECK_FAILS_WITH(ldm_png_read(bad, &rgb, &w, &h, &t, &n), LDM_EINPUT, bad);
    ldm_free(data);

    /* Allocation failures inside the libpng callbacks' reach: no leak, no crash. */
    for (long k = 1; k <= 4; k++) {
        ldm_alloc_fail_after(k);
        ldm_error_clear();
        ldm_status st = ldm_png_read(path, &rgb, &w, &h, &t, &n);
        ldm_alloc_fail_after(0);
        CHECK(st == LDM_ERUNTIME && rgb == NULL && t == NULL);
        ldm_error_clear();
    }
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s", LDM_TEST_TMP);
    if (mkdir(tmpdir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", tmpdir);
        return 77;
    }
    test_roundtrip();
    test_read_latin1();
    test_write_errors();
    test_read_errors();
    return ldm_test_finish();
}
