/* test_npy.c — io/npy.c against files numpy wrote (tests/fixtures/npy/, made
 * by tools/reference/make_rng_goldens.py) and against malformed files. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/file.h"
#include "harness.h"
#include "io/npy.h"

#define NPY_DIR LDM_FIXTURES "/npy/"

/* Raw float32 values of a fixture; NULL when missing. */
static float *load_f32(const char *name, size_t *count)
{
    char *data = NULL;
    size_t len = 0;
    if (ldm_read_file(name, &data, &len) != LDM_OK) {
        fprintf(stderr, "%s\n", ldm_error_message());
        ldm_error_clear();
        return NULL;
    }
    *count = len / 4;
    return (float *)data;
}

static void test_numpy_files(void)
{
    size_t n = 0;
    float *small = load_f32(NPY_DIR "small.f32", &n);
    CHECK(small && n == 24);
    const char *names[] = {"small_v1_f4.npy", "small_v2_f4.npy", "small_v3_f4.npy",
                           "small_v1_f8.npy"};
    for (int k = 0; k < 4 && small; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s%s", NPY_DIR, names[k]);
        ldm_npy a;
        ldm_status st = ldm_npy_read(path, &a);
        CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
        CHECK(a.ndim == 3 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 4 &&
              a.numel == 24);
        /* f8 -> f4 rounds to nearest, as numpy's astype does: exact. */
        CHECK_MSG(a.data && memcmp(a.data, small, 24 * 4) == 0, "%s values", names[k]);
        ldm_npy_free(&a);
        CHECK(a.data == NULL && a.numel == 0);
    }
    ldm_free(small);

    /* diffusers' slow-test latents: RandomState(0).standard_normal((1,4,32,32)). */
    float *lat = load_f32(NPY_DIR "squirrel_latents.f32", &n);
    ldm_npy a;
    CHECK(ldm_npy_read(NPY_DIR "squirrel_latents.npy", &a) == LDM_OK);
    CHECK(a.ndim == 4 && a.shape[0] == 1 && a.shape[1] == 4 && a.shape[2] == 32 &&
          a.shape[3] == 32 && a.numel == 4096);
    CHECK(lat && n == 4096 && a.data && memcmp(a.data, lat, 4096 * 4) == 0);
    /* The first value of that stream is known: 1.764052345967664. */
    CHECK(a.data && a.data[0] == (float)1.764052345967664);
    ldm_npy_free(&a);
    ldm_free(lat);

    CHECK(ldm_npy_read(NPY_DIR "scalar_f4.npy", &a) == LDM_OK);
    CHECK(a.ndim == 0 && a.numel == 1 && a.data && a.data[0] == 2.5f);
    ldm_npy_free(&a);
    CHECK(ldm_npy_read(NPY_DIR "empty_f4.npy", &a) == LDM_OK);
    CHECK(a.ndim == 2 && a.shape[0] == 0 && a.shape[1] == 3 && a.numel == 0);
    ldm_npy_free(&a);
    ldm_npy_free(NULL);
}

static void test_write_roundtrip(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/rt.npy", LDM_TEST_TMP);
    float v[60];
    for (int i = 0; i < 60; i++)
        v[i] = (float)i * 0.25f - 3.0f;
    int64_t shapes[4][3] = {{60, 0, 0}, {3, 4, 5}, {1, 1, 1}, {0, 0, 0}};
    int ndims[4] = {1, 3, 0, 2};
    for (int k = 0; k < 4; k++) {
        CHECK(ldm_npy_write_f32(path, v, ndims[k], shapes[k]) == LDM_OK);
        ldm_npy a;
        CHECK_MSG(ldm_npy_read(path, &a) == LDM_OK, "%s", ldm_error_message());
        CHECK(a.ndim == ndims[k]);
        int64_t numel = 1;
        for (int i = 0; i < ndims[k]; i++) {
            CHECK(a.shape[i] == shapes[k][i]);
            numel *= shapes[k][i];
        }
        CHECK(a.numel == numel && (numel == 0 || memcmp(a.data, v, (size_t)numel * 4) == 0));
        ldm_npy_free(&a);
        /* numpy's layout: data starts at a multiple of 64. */
        struct stat sb;
        CHECK(stat(path, &sb) == 0 && (sb.st_size - numel * 4) % 64 == 0);
    }
    /* The exact header numpy 1.24 would accept, for a 1-d shape. */
    char *bytes = NULL;
    size_t len = 0;
    int64_t s5 = 5;
    CHECK(ldm_npy_write_f32(path, v, 1, &s5) == LDM_OK);
    CHECK(ldm_read_file(path, &bytes, &len) == LDM_OK && len == 128 + 20);
    CHECK(bytes && memcmp(bytes + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }",
                          57) == 0 && bytes[127] == '\n');
    ldm_free(bytes);

    /* A missing directory: bad input naming the path, nothing left behind. */
    char nodir[512];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.npy", LDM_TEST_TMP);
    CHECK_FAILS_WITH(ldm_npy_write_f32(nodir, v, 1, &s5), LDM_EINPUT, nodir);
}

/* Write `len` bytes to a scratch file and expect LDM_EINPUT naming the
 * file and containing `needle`. */
static int case_no;
static void expect_bad(const void *bytes, size_t len, const char *needle)
{
    char path[512];
    snprintf(path, sizeof path, "%s/bad%02d.npy", LDM_TEST_TMP, case_no++);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(bytes, 1, len, f) == len);
    if (f)
        fclose(f);
    ldm_npy a;
    ldm_error_clear();
    ldm_status st = ldm_npy_read(path, &a);
    const char *msg = ldm_error_message();
    CHECK_MSG(st == LDM_EINPUT && strstr(msg, path) && strstr(msg, needle),
              "case %d: status %d, message \"%s\" (want \"%s\")", case_no - 1, (int)st, msg,
              needle);
    CHECK(a.data == NULL);
    ldm_error_clear();
}

/* A version-1.0 file with this header text and `ndata` bytes of data. */
static void expect_bad_header(const char *header, size_t ndata, const char *needle)
{
    unsigned char buf[1024];
    size_t hlen = strlen(header);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, header, hlen);
    memset(buf + 10 + hlen, 0, ndata);
    expect_bad(buf, 10 + hlen + ndata, needle);
}

static void test_malformed(void)
{
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";
    /* The well-formed base case parses: the bad cases below differ in one thing. */
    unsigned char good[128];
    size_t hlen = strlen(ok);
    memcpy(good, "\x93NUMPY\x01\x00", 8);
    good[8] = (unsigned char)hlen;
    good[9] = 0;
    memcpy(good + 10, ok, hlen);
    memset(good + 10 + hlen, 0, 8);
    ldm_npy a;
    CHECK(ldm_npy_parse("mem", good, 10 + hlen + 8, &a) == LDM_OK && a.numel == 2);
    ldm_npy_free(&a);

    unsigned char b[128];
    memcpy(b, good, sizeof b);
    b[1] = 'X';
    expect_bad(b, 10 + hlen + 8, "not a .npy file");
    expect_bad(b, 3, "not a .npy file");
    memcpy(b, good, sizeof b);
    b[6] = 4;
    expect_bad(b, 10 + hlen + 8, "unsupported .npy format version 4.0");
    b[6] = 1;
    b[7] = 1;
    expect_bad(b, 10 + hlen + 8, "version 1.1");
    memcpy(b, good, sizeof b);
    b[8] = 0xff;
    expect_bad(b, 10 + hlen + 8, "runs past the end of the file");
    expect_bad(good, 9, "header length");
    /* Version 2.0 uses a 4-byte length: a 1.0 file relabelled is too long. */
    memcpy(b, good, sizeof b);
    b[6] = 2;
    expect_bad(b, 10 + hlen + 8, "runs past the end of the file");

    expect_bad_header("{'descr': '<f4', 'shape': (2,), }\n", 8, "no 'fortran_order' key");
    expect_bad_header("{'descr': '<f4', 'fortran_order': False}\n", 8, "no 'shape' key");
    expect_bad_header("{'fortran_order': False, 'shape': (2,), }\n", 8, "no 'descr' key");
    expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", 8,
                      "unexpected or repeated key 'x'");
    expect_bad_header("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
                      8, "repeated key 'descr'");
    expect_bad_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n", 8,
                      "big-endian");
    expect_bad_header("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }\n", 16,
                      "big-endian");
    expect_bad_header("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }\n", 8,
                      "unsupported dtype '<i4'");
    expect_bad_header("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }\n", 4,
                      "unsupported dtype '<f2'");
    expect_bad_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }\n", 8,
                      "unsupported dtype");
    expect_bad_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", 16,
                      "fortran_order is True");
    expect_bad_header("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }\n", 8,
                      "'fortran_order' must be True or False");
    expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 7,
                      "truncated: 7 bytes of data, the shape needs 8");
    expect_bad_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", 8,
                      "truncated");
    expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 12,
                      "4 bytes after the data");
    expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }\n", 8,
                      "'shape' is not a tuple");
    expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n", 8,
                      "non-negative integers");
    expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }\n", 8,
                      "'shape' is not a tuple");
    expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3\n", 8,
                      "'shape' is not a valid tuple");
    expect_bad_header("{'descr': '<f4', 'fortran_order': False, "
                      "'shape': (1,1,1,1,1,1,1,1,1), }\n", 4, "more than 8 dimensions");
    expect_bad_header("{'descr': '<f4', 'fortran_order': False, "
                      "'shape': (4294967296, 4294967296), }\n", 4, "shape is too large");
    expect_bad_header("{'descr': '<f4', 'fortran_order': False, "
                      "'shape': (99999999999999999999,), }\n", 4, "dimension too large");
    expect_bad_header("['descr', '<f4']\n", 8, "not a Python dict");
    expect_bad_header("{'descr' '<f4'}\n", 8, "not a valid dict");
    expect_bad_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x\n", 8,
                      "trailing characters");
    expect_bad_header("", 8, "not a Python dict");

    char missing[512];
    snprintf(missing, sizeof missing, "%s/does-not-exist.npy", LDM_TEST_TMP);
    CHECK_FAILS_WITH(ldm_npy_read(missing, &a), LDM_EINPUT, missing);
}

int main(void)
{
    if (mkdir(LDM_TEST_TMP, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", LDM_TEST_TMP);
        return 77;
    }
    test_numpy_files();
    test_write_roundtrip();
    test_malformed();
    return ldm_test_finish();
}
