/* Tests of io/torch_bin.c against files written by torch.save and goldens
 * written by torch (tools/reference/make_torchbin_fixtures.py): every tensor's
 * name, dtype, shape, stride, storage offset and values as torch reads them;
 * sub-range reads; and every bad or malicious fixture refused with
 * LDM_EINPUT and a message naming the file and the culprit. */
#include "core/alloc.h"
#include "core/file.h"
#include "core/status.h"
#include "harness.h"
#include "io/torch_bin.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#define DIR LDM_FIXTURES "/torchbin/"

/* One element of an entry's storage bytes as a double (the golden's type). */
static double element(ldm_dtype t, const unsigned char *p)
{
    switch (t) {
    case LDM_DTYPE_F64: {
        double d;
        memcpy(&d, p, 8);
        return d;
    }
    case LDM_DTYPE_I64: {
        int64_t i;
        memcpy(&i, p, 8);
        return (double)i;
    }
    default: {
        float f;
        ldm_dtype_to_f32(t, p, &f, 1);
        return f;
    }
    }
}

/* Values of entry `e` in C order, gathered through its strides from one
 * read of the bytes it spans. Returns the element count or -1. */
static int64_t gather(const ldm_weight_file *f, const ldm_tensor_entry *e, double **out)
{
    int64_t n = ldm_tensor_entry_numel(e);
    size_t es = ldm_dtype_size(e->dtype);
    *out = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    if (n == 0)
        return 0;
    int64_t last = 0;
    for (int d = 0; d < e->ndim; d++)
        last += (e->shape[d] - 1) * e->stride[d];
    size_t span = (size_t)(last + 1) * es;
    unsigned char *bytes = malloc(span);
    if (f->ops->read(f, e->storage, e->offset, span, bytes) != LDM_OK) {
        free(bytes);
        return -1;
    }
    int64_t idx[LDM_MAX_DIMS] = { 0 };
    for (int64_t i = 0; i < n; i++) {
        int64_t at = 0;
        for (int d = 0; d < e->ndim; d++)
            at += idx[d] * e->stride[d];
        (*out)[i] = element(e->dtype, bytes + (size_t)at * es);
        for (int d = e->ndim - 1; d >= 0 && ++idx[d] == e->shape[d]; d--)
            idx[d] = 0;
    }
    free(bytes);
    return n;
}

static int json_dims(const cJSON *a, const int64_t *dims, int ndim)
{
    if (cJSON_GetArraySize(a) != ndim)
        return 0;
    for (int d = 0; d < ndim; d++)
        if ((int64_t)cJSON_GetArrayItem(a, d)->valuedouble != dims[d])
            return 0;
    return 1;
}

/* Compare an opened file with <stem>.json / <stem>.f64. */
static void compare_with_golden(const ldm_weight_file *f, const char *stem)
{
    char path[512], *json = NULL, *vals = NULL;
    size_t vlen = 0;
    snprintf(path, sizeof path, DIR "%s.json", stem);
    CHECK(ldm_read_file(path, &json, NULL) == LDM_OK);
    snprintf(path, sizeof path, DIR "%s.f64", stem);
    CHECK(ldm_read_file(path, &vals, &vlen) == LDM_OK);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    const cJSON *list = cJSON_GetObjectItem(root, "tensors");
    CHECK_MSG(list && cJSON_GetArraySize(list) == f->count, "%s: %d tensors", stem, f->count);
    for (int i = 0; list && vals && i < f->count && i < cJSON_GetArraySize(list); i++) {
        const cJSON *g = cJSON_GetArrayItem(list, i);
        const ldm_tensor_entry *e = &f->tensors[i];
        const char *name = cJSON_GetObjectItem(g, "name")->valuestring;
        CHECK_MSG(strcmp(e->name, name) == 0, "%s: tensor %d is '%s', torch says '%s'", stem, i,
                  e->name, name);
        CHECK_MSG(strcmp(ldm_dtype_name(e->dtype), cJSON_GetObjectItem(g, "dtype")->valuestring) == 0,
                  "%s: %s dtype", stem, name);
        CHECK_MSG(json_dims(cJSON_GetObjectItem(g, "shape"), e->shape, e->ndim), "%s: %s shape",
                  stem, name);
        CHECK_MSG(json_dims(cJSON_GetObjectItem(g, "stride"), e->stride, e->ndim),
                  "%s: %s stride", stem, name);
        uint64_t off = (uint64_t)cJSON_GetObjectItem(g, "storage_offset")->valuedouble;
        CHECK_MSG(e->offset == off * ldm_dtype_size(e->dtype), "%s: %s offset", stem, name);
        CHECK(e->offset <= e->storage_bytes);
        double *got = NULL;
        int64_t n = gather(f, e, &got);
        size_t at = (size_t)cJSON_GetObjectItem(g, "at")->valuedouble;
        CHECK_MSG(n == ldm_tensor_entry_numel(e) && (at + (size_t)n) * 8 <= vlen,
                  "%s: %s read", stem, name);
        int same = n >= 0 && (at + (size_t)n) * 8 <= vlen;
        for (int64_t k = 0; same && k < n; k++) {
            double want;
            memcpy(&want, vals + (at + (size_t)k) * 8, 8);
            if (!(got[k] == want && signbit(got[k]) == signbit(want))) {
                fprintf(stderr, "%s: %s[%lld] = %.17g, torch %.17g\n", stem, name, (long long)k,
                        got[k], want);
                same = 0;
            }
        }
        CHECK_MSG(same, "%s: values of %s", stem, name);
        free(got);
    }
    cJSON_Delete(root);
    ldm_free(json);
    ldm_free(vals);
}

static void test_good_files(void)
{
    static const char *stems[] = { "dtypes", "views", "module", "proto4" };
    for (size_t i = 0; i < sizeof stems / sizeof stems[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, DIR "%s.bin", stems[i]);
        ldm_weight_file *f = NULL;
        ldm_error_clear();
        ldm_status st = ldm_torch_bin_open(path, &f);
        CHECK_MSG(st == LDM_OK, "%s: %s", path, ldm_error_message());
        if (st != LDM_OK)
            continue;
        CHECK(strcmp(f->format, "pytorch") == 0 && strcmp(f->path, path) == 0);
        compare_with_golden(f, stems[i]);
        ldm_weight_file_close(&f);
        CHECK(f == NULL);
    }
}

static const ldm_tensor_entry *find(const ldm_weight_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

/* Sub-ranges of one storage, shared storages, out-of-range reads; the same
 * file opened from memory. */
static void test_reads(void)
{
    ldm_weight_file *f = NULL;
    char *bytes = NULL;
    size_t len = 0;
    CHECK(ldm_read_file(DIR "views.bin", &bytes, &len) == LDM_OK);
    ldm_error_clear();
    CHECK_MSG(ldm_torch_bin_open_buffer("views-in-memory", bytes, len, &f) == LDM_OK, "%s",
              ldm_error_message());
    if (!f) {
        ldm_free(bytes);
        return;
    }
    const ldm_tensor_entry *view = find(f, "view"), *whole = find(f, "whole");
    const ldm_tensor_entry *a = find(f, "shared_a"), *b = find(f, "shared_b");
    CHECK(view && whole && a && b);
    if (view && whole && a && b) {
        /* "view" is whole[5:17] of the same storage; shared_b is shared[6:12]. */
        CHECK(view->storage == whole->storage && view->offset == 5 * 4 && whole->offset == 0);
        CHECK(a->storage == b->storage && b->offset == 6 * 4 && a->storage_bytes == 12 * 4);
        float all[24], part[3];
        CHECK(f->ops->read(f, whole->storage, 0, sizeof all, all) == LDM_OK);
        CHECK(f->ops->read(f, whole->storage, 9 * 4, sizeof part, part) == LDM_OK);
        CHECK(memcmp(part, all + 9, sizeof part) == 0);
        CHECK(f->ops->read(f, whole->storage, 23 * 4, 4, part) == LDM_OK && part[0] == all[23]);
        CHECK(f->ops->read(f, whole->storage, 96, 0, part) == LDM_OK);
        CHECK_FAILS_WITH(f->ops->read(f, whole->storage, 23 * 4, 8, part), LDM_EINPUT,
                         "views-in-memory: read of 8 bytes at 92 is outside 'views/data/0'");
        CHECK_FAILS_WITH(f->ops->read(f, whole->storage, UINT64_MAX, 1, part), LDM_EINPUT,
                         "is outside");
        CHECK_FAILS_WITH(f->ops->read(f, -1, 0, 1, part), LDM_EINPUT, "no storage entry -1");
        CHECK_FAILS_WITH(f->ops->read(f, 100000, 0, 1, part), LDM_EINPUT, "no storage entry");
    }
    ldm_weight_file_close(&f);
    ldm_weight_file_close(&f); /* NULL is fine */
    ldm_free(bytes);
}

/* Out of memory at each allocation of an open: a clean runtime error. */
static void test_oom(void)
{
    int ok = 1;
    for (long k = 1; k < 80; k++) {
        ldm_weight_file *f = NULL;
        ldm_error_clear();
        ldm_alloc_fail_after(k);
        ldm_status st = ldm_torch_bin_open(DIR "dtypes.bin", &f);
        ldm_alloc_fail_after(0);
        if ((st == LDM_OK) != (f != NULL) || (st != LDM_OK && st != LDM_ERUNTIME))
            ok = 0;
        ldm_weight_file_close(&f);
    }
    CHECK(ok);
    ldm_error_clear();
}

static void expect_bad(const char *file, const char *needle)
{
    char path[512];
    snprintf(path, sizeof path, DIR "%s", file);
    ldm_weight_file *f = NULL;
    ldm_error_clear();
    ldm_status st = ldm_torch_bin_open(path, &f);
    const char *msg = ldm_error_message();
    CHECK_MSG(st == LDM_EINPUT && f == NULL && strstr(msg, path) && strstr(msg, needle),
              "%s: status %d, message \"%s\" (want \"%s\")", file, (int)st, msg, needle);
    ldm_weight_file_close(&f);
    ldm_error_clear();
}

static void test_bad_files(void)
{
    expect_bad("evil_os_system.bin",
               "evil_os_system/data.pkl: unsupported pickle global 'os.system'");
    expect_bad("evil_eval.bin", "evil_eval/data.pkl: unsupported pickle global 'builtins.eval'");
    expect_bad("bad_offset.bin", "tensor 'w' reaches element 101 but its storage '0' has 12");
    expect_bad("bad_stride.bin", "tensor 'w' reaches element 14 but its storage '0' has 12");
    expect_bad("bad_shape_overflow.bin", "tensor 'w': element count overflows");
    expect_bad("size_mismatch.bin",
               "tensor 'w': storage entry 'size_mismatch/data/0' has 40 bytes but data.pkl "
               "says 12 elements of F32 (48 bytes)");
    expect_bad("missing_entry.bin",
               "tensor 'b': storage entry 'missing_entry/data/1' is missing");
    expect_bad("missing_pkl.bin", "no <archive>/data.pkl entry");
    expect_bad("truncated.bin", "not a valid PyTorch zip file");
    expect_bad("compressed.bin",
               "tensor 'view': storage entry 'compressed/data/0' is compressed");
    expect_bad("bigendian.bin", "'bigendian/byteorder' says 'big'");
    expect_bad("legacy.bin", "legacy PyTorch format (torch < 1.6, not a zip archive)");
    expect_bad("not_state_dict.bin", "value of 'state_dict' is a dict, not a tensor");
    expect_bad("two_archives.bin", "several top-level data.pkl entries");
    expect_bad("control_name.bin", "archive folder name '\xc3\xa9?x?/data.pkl' has control bytes");
    expect_bad("dtypes.json", "not a valid PyTorch zip file");
    expect_bad("no_such_file.bin", "cannot open");

    /* From memory: garbage, nothing, a legacy header. */
    ldm_weight_file *f = NULL;
    CHECK_FAILS_WITH(ldm_torch_bin_open_buffer("junk.bin", "PK\3\4 not really", 16, &f),
                     LDM_EINPUT, "junk.bin: not a valid PyTorch zip file");
    CHECK_FAILS_WITH(ldm_torch_bin_open_buffer("empty.bin", "", 0, &f), LDM_EINPUT,
                     "empty.bin: no <archive>/data.pkl entry");
    CHECK_FAILS_WITH(ldm_torch_bin_open_buffer("old.bin", "\x80\x02\x8a\x0a", 4, &f), LDM_EINPUT,
                     "old.bin: legacy PyTorch format");
    CHECK(f == NULL);
}

int main(void)
{
    test_good_files();
    test_reads();
    test_oom();
    test_bad_files();
    return ldm_test_finish();
}
