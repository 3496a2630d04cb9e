/* test_safetensors.c — the safetensors reader: the fixture file written by
 * torch/safetensors, small files built here byte by byte, and every check of
 * the format (each bad input: status LDM_EINPUT, message naming the file and
 * the tensor). Single process. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/file.h"
#include "harness.h"
#include "io/safetensors.h"

static char path_buf[4096];

static const char *tmp(const char *name)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", LDM_TEST_TMP, name);
    return path_buf;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* An 8-byte length `n`, then `header`, then `data_bytes` bytes 0, 1, 2, ... */
static void write_st_len(const char *path, uint64_t n, const char *header, size_t data_bytes)
{
    size_t h = strlen(header), total = 8 + h + data_bytes;
    unsigned char *buf = malloc(total);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(n >> (8 * i));
    memcpy(buf + 8, header, h);
    for (size_t i = 0; i < data_bytes; i++)
        buf[8 + h + i] = (unsigned char)i;
    write_bytes(path, buf, total);
    free(buf);
}

static void write_st(const char *path, const char *header, size_t data_bytes)
{
    write_st_len(path, strlen(header), header, data_bytes);
}

/* Open must fail with `code`, a message naming the file and each needle. */
static void expect_open_fails(const char *path, ldm_status code, const char *needle,
                              const char *needle2)
{
    ldm_weight_file *f = NULL;
    ldm_error_clear();
    ldm_status st = ldm_safetensors_open(path, &f);
    const char *msg = ldm_error_message();
    CHECK_MSG(st == code, "%s: status %d, want %d (%s)", path, (int)st, (int)code, msg);
    CHECK_MSG(f == NULL, "%s: handle not NULL on failure", path);
    CHECK_MSG(strstr(msg, path) != NULL, "message \"%s\" does not name %s", msg, path);
    CHECK_MSG(strstr(msg, needle) != NULL, "message \"%s\" lacks \"%s\"", msg, needle);
    if (needle2)
        CHECK_MSG(strstr(msg, needle2) != NULL, "message \"%s\" lacks \"%s\"", msg, needle2);
    ldm_weight_file_close(&f);
    ldm_error_clear();
}

/* A header built from a tensor list, the data sized to match `data_bytes`. */
static void bad_header(const char *name, const char *header, size_t data_bytes,
                       const char *needle, const char *needle2)
{
    const char *p = tmp(name);
    write_st(p, header, data_bytes);
    expect_open_fails(p, LDM_EINPUT, needle, needle2);
}

static void test_fixture(void)
{
    const char *path = LDM_FIXTURES "/tiny-ldm/vqvae/diffusion_pytorch_model.safetensors";
    ldm_weight_file *f = NULL;
    ldm_status st = ldm_safetensors_open(path, &f);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st != LDM_OK)
        return;
    CHECK(strcmp(f->format, "safetensors") == 0);
    CHECK(f->count == 156); /* len(AutoencoderKL(tiny).state_dict()) */
    int found = 0;
    uint64_t prev_end = 0;
    for (int i = 0; i < f->count; i++) {
        const ldm_tensor_entry *e = &f->tensors[i];
        /* data order, tiled without gaps */
        if (i > 0)
            CHECK(e->offset == prev_end);
        prev_end = e->offset + (uint64_t)ldm_tensor_entry_numel(e) * ldm_dtype_size(e->dtype);
        CHECK(e->storage == 0);
        if (strcmp(e->name, "encoder.conv_in.weight") == 0) {
            found = 1;
            CHECK(e->dtype == LDM_DTYPE_F32 && e->ndim == 4);
            CHECK(e->shape[0] == 8 && e->shape[1] == 3 && e->shape[2] == 3 && e->shape[3] == 3);
            CHECK(e->stride[0] == 27 && e->stride[1] == 9 && e->stride[2] == 3 &&
                  e->stride[3] == 1);
        }
    }
    CHECK(found);
    CHECK(prev_end == f->tensors[0].storage_bytes); /* the last tensor ends the file */

    /* ops->read checks its range */
    float v;
    CHECK_FAILS_WITH(f->ops->read(f, 0, f->tensors[0].storage_bytes - 2, 4, &v), LDM_EINPUT,
                     "outside the file");
    CHECK_FAILS_WITH(f->ops->read(f, 1, 0, 4, &v), LDM_EINPUT, "outside the file");
    ldm_weight_file_close(&f);
    CHECK(f == NULL);
    ldm_weight_file_close(&f); /* NULL is fine */
}

static void test_small_valid(void)
{
    /* keys out of data order, metadata, padding spaces, F16 before F32 */
    const char *hdr = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                      "\"__metadata__\":{\"format\":\"pt\"},"
                      "\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8],"
                      "\"extra\":1}}   ";
    const char *p = tmp("small.safetensors");
    write_st(p, hdr, 16);
    ldm_weight_file *f = NULL;
    ldm_status st = ldm_safetensors_open(p, &f);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st != LDM_OK)
        return;
    uint64_t start = 8 + strlen(hdr);
    CHECK(f->count == 2);
    CHECK(strcmp(f->tensors[0].name, "a") == 0 && strcmp(f->tensors[1].name, "b") == 0);
    CHECK(f->tensors[0].dtype == LDM_DTYPE_F16 && f->tensors[1].dtype == LDM_DTYPE_F32);
    CHECK(f->tensors[0].offset == start && f->tensors[1].offset == start + 8);
    CHECK(f->tensors[0].stride[0] == 2 && f->tensors[0].stride[1] == 1);
    CHECK(f->tensors[1].storage_bytes == start + 16);
    unsigned char got[8];
    CHECK(f->ops->read(f, 0, f->tensors[1].offset, 8, got) == LDM_OK);
    for (int i = 0; i < 8; i++)
        CHECK(got[i] == 8 + i);
    ldm_weight_file_close(&f);

    /* no tensors at all; an empty tensor; a scalar; every supported dtype */
    write_st(p, "{}", 0);
    CHECK(ldm_safetensors_open(p, &f) == LDM_OK && f->count == 0);
    ldm_weight_file_close(&f);
    write_st(p,
             "{\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[0,0]},"
             "\"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,8]},"
             "\"b\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[8,10]},"
             "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[10,18]},"
             "\"j\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[18,22]},"
             "\"k\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[22,24]},"
             "\"l\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[24,25]},"
             "\"m\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[25,26]},"
             "\"n\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[26,27]}}",
             27);
    st = ldm_safetensors_open(p, &f);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st == LDM_OK) {
        CHECK(f->count == 9);
        CHECK(strcmp(f->tensors[0].name, "e") == 0 && strcmp(f->tensors[1].name, "s") == 0);
        CHECK(f->tensors[1].ndim == 0 && ldm_tensor_entry_numel(&f->tensors[1]) == 1);
        CHECK(f->tensors[8].dtype == LDM_DTYPE_BOOL);
    }
    ldm_weight_file_close(&f);

    /* the memory entry points agree with the file reader */
    char *bytes = NULL;
    size_t len = 0;
    write_st(p, hdr, 16);
    CHECK(ldm_read_file(p, &bytes, &len) == LDM_OK);
    ldm_tensor_entry *e = NULL;
    int n = 0;
    CHECK(ldm_safetensors_parse(p, (const unsigned char *)bytes, len, &e, &n) == LDM_OK);
    CHECK(n == 2 && e && e[1].offset == start + 8);
    ldm_safetensors_entries_free(e, n);
    CHECK(ldm_safetensors_parse_header(p, (const unsigned char *)bytes + 8, strlen(hdr), 16, &e,
                                       &n) == LDM_OK);
    CHECK(n == 2 && e && e[0].offset == start);
    ldm_safetensors_entries_free(e, n);
    CHECK_FAILS_WITH(ldm_safetensors_parse_header(p, (const unsigned char *)bytes + 8,
                                                  strlen(hdr), 15, &e, &n),
                     LDM_EINPUT, "truncated");
    CHECK(e == NULL && n == 0);
    CHECK_FAILS_WITH(ldm_safetensors_parse(p, (const unsigned char *)bytes, 7, &e, &n),
                     LDM_EINPUT, "too small");
    ldm_free(bytes);
}

static void test_bad_files(void)
{
    const char *p;
    /* a real file cut short: the last tensor no longer fits */
    const char *fix = LDM_FIXTURES "/tiny-ldm/vqvae/diffusion_pytorch_model.safetensors";
    char *bytes = NULL;
    size_t len = 0;
    CHECK(ldm_read_file(fix, &bytes, &len) == LDM_OK);
    if (bytes) {
        p = tmp("truncated.safetensors");
        write_bytes(p, bytes, len - 100);
        expect_open_fails(p, LDM_EINPUT, "truncated", "tensor \"");
        p = tmp("trailing.safetensors");
        char *more = malloc(len + 3);
        memcpy(more, bytes, len);
        memset(more + len, 0, 3);
        write_bytes(p, more, len + 3);
        expect_open_fails(p, LDM_EINPUT, "3 trailing bytes", NULL);
        free(more);
        p = tmp("cut-header.safetensors");
        write_bytes(p, bytes, 50);
        expect_open_fails(p, LDM_EINPUT, "runs past the end", NULL);
    }
    ldm_free(bytes);

    p = tmp("tiny.safetensors");
    write_bytes(p, "\x02\0\0\0\0", 5);
    expect_open_fails(p, LDM_EINPUT, "too small", NULL);
    p = tmp("len-beyond.safetensors");
    write_st_len(p, 1000, "{}", 10);
    expect_open_fails(p, LDM_EINPUT, "header length 1000 runs past the end", NULL);
    p = tmp("len-huge.safetensors");
    write_st_len(p, 100000001, "{}", 0);
    expect_open_fails(p, LDM_EINPUT, "exceeds the 100000000-byte limit", NULL);
    p = tmp("len-max.safetensors");
    write_st_len(p, UINT64_MAX, "{}", 0);
    expect_open_fails(p, LDM_EINPUT, "exceeds", NULL);
    expect_open_fails(tmp("does-not-exist.safetensors"), LDM_EINPUT, "cannot open", NULL);
    expect_open_fails(LDM_TEST_TMP, LDM_EINPUT, "not a regular file", NULL);

    bad_header("not-json.safetensors", "{\"a\": [1, 2", 0, "not valid JSON", NULL);
    bad_header("not-object.safetensors", "[1, 2]", 0, "does not start with '{'", NULL);
    bad_header("space-first.safetensors", " {}", 0, "does not start with '{'", NULL);
    bad_header("not-utf8.safetensors", "{\"\xff\":1}", 0, "not valid UTF-8", NULL);
    bad_header("overlong-utf8.safetensors", "{\"\xc0\xaf\":1}", 0, "not valid UTF-8", NULL);
    bad_header("trailing-json.safetensors", "{} {}", 0, "trailing data", NULL);
    bad_header("escaped-nul.safetensors",
               "{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "\\u0000", NULL);

#define T(name, dtype, shape, b, e) \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"
    bad_header("gap.safetensors", "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 12, 20) "}",
               20, "gap in the data", "\"b\"");
    bad_header("overlap.safetensors",
               "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 4, 12) "}", 12, "overlap",
               "\"b\"");
    bad_header("not-at-0.safetensors", "{" T("a", "F32", "[2]", 4, 12) "}", 12,
               "must start the data at 0", "\"a\"");
    bad_header("end-before-begin.safetensors",
               "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[0]", 8, 4) "}", 8,
               "end before they begin", "\"b\"");
    bad_header("size-mismatch.safetensors", "{" T("w", "F32", "[3]", 0, 8) "}", 8,
               "shape [3] of F32 needs 12", "\"w\"");
    bad_header("dtype.safetensors", "{" T("w", "F8_E4M3", "[8]", 0, 8) "}", 8,
               "unsupported dtype \"F8_E4M3\"", "\"w\"");
    bad_header("dtype-u16.safetensors", "{" T("w", "U16", "[4]", 0, 8) "}", 8,
               "unsupported dtype \"U16\"", "\"w\"");
    bad_header("duplicate.safetensors",
               "{" T("a", "F32", "[2]", 0, 8) "," T("a", "F32", "[2]", 8, 16) "}", 16,
               "appears twice", "\"a\"");
    bad_header("overflow.safetensors",
               "{" T("big", "F32", "[4294967296,4294967296,16]", 0, 0) "}", 0, "overflows",
               "\"big\"");
    bad_header("overflow-bytes.safetensors",
               "{" T("big", "F64", "[4294967296,536870912]", 0, 0) "}", 0, "overflows",
               "\"big\"");
    bad_header("too-many-dims.safetensors",
               "{" T("d", "U8", "[1,1,1,1,1,1,1,1,1]", 0, 1) "}", 1, "9 dimensions", "\"d\"");
    bad_header("negative-dim.safetensors", "{" T("d", "U8", "[-1]", 0, 0) "}", 0,
               "non-negative", "\"d\"");
    bad_header("fraction.safetensors", "{" T("d", "U8", "[1]", 0, 1.5) "}", 1, "data_offsets",
               "\"d\"");
    bad_header("offsets-3.safetensors",
               "{\"d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1,
               "data_offsets", "\"d\"");
    bad_header("no-shape.safetensors", "{\"d\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1,
               "missing field \"shape\"", "\"d\"");
    bad_header("two-dtypes.safetensors",
               "{\"d\":{\"dtype\":\"U8\",\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
               1, "field \"dtype\" appears twice", "\"d\"");
    bad_header("dtype-number.safetensors",
               "{\"d\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
               "\"dtype\" must be a string", "\"d\"");
    bad_header("entry-array.safetensors", "{\"d\":[1,2]}", 0, "must be a JSON object", "\"d\"");
    bad_header("metadata-int.safetensors", "{\"__metadata__\":{\"format\":1}}", 0,
               "__metadata__", "\"format\"");
    bad_header("metadata-twice.safetensors", "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
               "\"__metadata__\" appears twice", NULL);
    bad_header("truncated-data.safetensors", "{" T("w", "F32", "[4]", 0, 16) "}", 12,
               "truncated", "\"w\"");
#undef T
}

/* Every allocation of an open may fail: the error is LDM_ERUNTIME and
 * nothing leaks (the ASan build checks the latter). */
static void test_alloc_failures(void)
{
    const char *p = tmp("small.safetensors");
    int ok = 0;
    for (long k = 1; k < 200 && !ok; k++) {
        ldm_weight_file *f = NULL;
        ldm_error_clear();
        ldm_alloc_fail_after(k);
        ldm_status st = ldm_safetensors_open(p, &f);
        ldm_alloc_fail_after(0);
        if (st == LDM_OK) {
            ok = 1;
            CHECK(f && f->count == 2);
        } else {
            CHECK_MSG(st == LDM_ERUNTIME && f == NULL, "alloc %ld: status %d (%s)", k, (int)st,
                      ldm_error_message());
        }
        ldm_weight_file_close(&f);
    }
    CHECK(ok);
    ldm_error_clear();
}

int main(void)
{
    if (mkdir(LDM_TEST_TMP, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", LDM_TEST_TMP);
        return 1;
    }
    test_fixture();
    test_small_valid();
    test_bad_files();
    test_alloc_failures();
    return ldm_test_finish();
}
