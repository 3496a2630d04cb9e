/* test_weights.c — the weight index over a component's files.
 *
 * Golden part: every tensor of the tiny pipeline (tests/fixtures/tiny-ldm,
 * written by tools/reference/make_model_fixtures.py) loads to torch's values
 * (expected_tensors.txt: sums, weighted sums and first values computed by
 * torch/numpy); fp16/bf16/f64 files convert as torch converts; the sharded
 * bert checkpoint written by transformers loads to the same tensors.
 * Then: row-range reads equal the slices of whole reads, strided views are
 * gathered, and each bad input fails with LDM_EINPUT and a message naming the
 * file and the tensor. Single process.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "harness.h"
#include "io/safetensors.h"
#include "io/weights.h"


/* ---- expected values (see make_model_fixtures.py, EXPECTED FORMAT) ---- */

#include "expected_tensors.h"
#include "mem_weight_file.h"

/* ---- golden: the pipeline folder, converted files, shards ---- */

static void test_pipeline_components(void)
{
    static const char *comps[] = { "bert", "unet", "vqvae" };
    static const char *files[] = { "model.safetensors", "diffusion_pytorch_model.safetensors",
                                   "diffusion_pytorch_model.safetensors" };
    for (int c = 0; c < 3; c++) {
        expected *list;
        int n = load_expected(LDM_FIXTURES "/tiny-ldm/expected_tensors.txt", comps[c], &list);
        CHECK(n > 0);
        char dir[512];
        snprintf(dir, sizeof dir, "%s/tiny-ldm/%s", LDM_FIXTURES, comps[c]);
        ldm_weights *w = open_dir_ok(dir);
        if (w) {
            CHECK(strstr(ldm_weights_source(w), files[c]) != NULL);
            check_all(w, list, n);
        }
        ldm_weights_close(&w);
        CHECK(w == NULL);
        free(list);
    }
    ldm_weights_close(NULL);
}

static void test_converted(void)
{
    static const char *tags[] = { "fp16", "bf16" };
    static const ldm_dtype types[] = { LDM_DTYPE_F16, LDM_DTYPE_BF16 };
    for (int t = 0; t < 2; t++) {
        char path[512], exp[512];
        snprintf(path, sizeof path, "%s/weights/vqvae_%s.safetensors", LDM_FIXTURES, tags[t]);
        snprintf(exp, sizeof exp, "%s/weights/expected_vqvae_%s.txt", LDM_FIXTURES, tags[t]);
        expected *list;
        int n = load_expected(exp, NULL, &list);
        const char *paths[1] = { path };
        ldm_weights *w = NULL;
        CHECK_MSG(ldm_weights_open_files(paths, 1, &w) == LDM_OK, "%s", ldm_error_message());
        if (w) {
            CHECK(ldm_weights_at(w, 0, NULL)->dtype == types[t]);
            check_all(w, list, n);
        }
        ldm_weights_close(&w);
        free(list);
    }

    /* F64, F16 specials (inf, subnormal, -0), BF16, a scalar, an empty tensor */
    expected *list;
    int n = load_expected(LDM_FIXTURES "/weights/expected_mixed.txt", NULL, &list);
    ldm_weights *w = NULL;
    CHECK(ldm_weights_open_path(LDM_FIXTURES "/weights/mixed.safetensors", &w) == LDM_OK);
    if (w) {
        CHECK(ldm_weights_count(w) == n + 1); /* + the I64 tensor */
        for (int i = 0; i < n; i++)
            check_tensor(w, &list[i]);
        float f[8];
        CHECK_FAILS_WITH(ldm_weights_read_f32(w, "i64", NULL, 0, f), LDM_EINPUT,
                         "has dtype I64, expected a float type");
        CHECK_FAILS_WITH(ldm_weights_read_rows_f32(w, "scalar", 0, 1, f), LDM_EINPUT,
                         "is a scalar");
        CHECK(ldm_weights_read_rows_f32(w, "empty", 0, 0, f) == LDM_OK);
    }
    ldm_weights_close(&w);
    free(list);
}

static void test_sharded(void)
{
    expected *list;
    int n = load_expected(LDM_FIXTURES "/tiny-ldm/expected_tensors.txt", "bert", &list);
    /* both index forms are there: the safetensors one wins */
    ldm_weights *w = open_dir_ok(LDM_FIXTURES "/weights/bert-sharded");
    if (w) {
        CHECK(strstr(ldm_weights_source(w), "model.safetensors.index.json") != NULL);
        check_all(w, list, n);
        const ldm_weight_file *f0 = NULL, *f1 = NULL;
        ldm_weights_at(w, 0, &f0);
        ldm_weights_at(w, n - 1, &f1);
        CHECK(f0 && f1 && f0 != f1); /* really spread over several files */
    }
    ldm_weights_close(&w);
    free(list);
}

/* ---- rows ---- */

static void test_rows(void)
{
    ldm_weights *w = open_dir_ok(LDM_FIXTURES "/tiny-ldm/unet");
    if (!w)
        return;
    int checked = 0;
    for (int i = 0; i < ldm_weights_count(w); i++) {
        const ldm_tensor_entry *e = ldm_weights_at(w, i, NULL);
        if (e->ndim == 0 || e->shape[0] < 3)
            continue;
        int64_t n = ldm_tensor_entry_numel(e), rows = e->shape[0], row = n / rows;
        float *whole = malloc((size_t)n * sizeof *whole), *part = malloc((size_t)n * sizeof *part);
        CHECK(ldm_weights_read_f32(w, e->name, e->shape, e->ndim, whole) == LDM_OK);
        /* three uneven pieces, one empty */
        int64_t cut1 = rows / 3, cut2 = rows - 1;
        CHECK(ldm_weights_read_rows_f32(w, e->name, 0, cut1, part) == LDM_OK);
        CHECK(ldm_weights_read_rows_f32(w, e->name, cut1, cut2 - cut1, part + cut1 * row) ==
              LDM_OK);
        CHECK(ldm_weights_read_rows_f32(w, e->name, cut2, 0, part) == LDM_OK);
        CHECK(ldm_weights_read_rows_f32(w, e->name, cut2, 1, part + cut2 * row) == LDM_OK);
        CHECK_MSG(memcmp(whole, part, (size_t)n * sizeof *whole) == 0, "%s: rows differ",
                  e->name);
        free(whole);
        free(part);
        checked++;
    }
    CHECK(checked > 50);
    float x[4];
    const char *name = "conv_in.weight"; /* [16, 4, 3, 3] */
    CHECK_FAILS_WITH(ldm_weights_read_rows_f32(w, name, 15, 2, x), LDM_EINPUT,
                     "rows [15, 17) are outside its 16 rows");
    CHECK_FAILS_WITH(ldm_weights_read_rows_f32(w, name, -1, 1, x), LDM_EINPUT, "outside");
    CHECK_FAILS_WITH(ldm_weights_read_rows_f32(w, "nope", 0, 1, x), LDM_EINPUT,
                     "tensor \"nope\" is missing");
    ldm_weights_close(&w);
}

/* ---- strided views, through an in-memory weight file ---- */

static void test_strided(void)
{
    /* storage: 0, 1, 2, ... as F32 at byte 0 and as BF16 (exact) at byte 2048 */
    static unsigned char storage[4096];
    for (int i = 0; i < 512; i++) {
        float v = (float)i;
        memcpy(storage + 4 * i, &v, 4);
    }
    for (int i = 0; i < 1024; i++) {
        float v = (float)(i % 256);
        uint32_t bits;
        memcpy(&bits, &v, 4);
        uint16_t h = (uint16_t)(bits >> 16);
        memcpy(storage + 2048 + 2 * i, &h, 2);
    }
    mem_impl *m = NULL;
    ldm_weight_file *f = mem_file_new(storage, sizeof storage, 8, &m);
    /* a [4, 6] matrix at element 10 viewed transposed: [6, 4], strides (1, 6) */
    add_entry(f, "t", LDM_DTYPE_F32, 2, (int64_t[]){ 6, 4 }, (int64_t[]){ 1, 6 }, 40);
    /* a column slice [5, 3] of a [5, 8] matrix: strides (8, 1), offset element 2 */
    add_entry(f, "cols", LDM_DTYPE_F32, 2, (int64_t[]){ 5, 3 }, (int64_t[]){ 8, 1 }, 8);
    /* expanded [3, 4] with stride 0 along dim 1 */
    add_entry(f, "exp", LDM_DTYPE_F32, 2, (int64_t[]){ 3, 4 }, (int64_t[]){ 1, 0 }, 0);
    /* BF16 permuted [2, 3, 4] from [3, 4, 2]: strides (1, 8, 2) */
    add_entry(f, "perm", LDM_DTYPE_BF16, 3, (int64_t[]){ 2, 3, 4 }, (int64_t[]){ 1, 8, 2 },
              2048);
    /* size-1 dimension with an odd stride is still contiguous */
    add_entry(f, "one", LDM_DTYPE_F32, 2, (int64_t[]){ 1, 5 }, (int64_t[]){ 99, 1 }, 4);
    ldm_weight_file *files[1] = { f };
    ldm_weights *w = NULL;
    CHECK(ldm_weights_from_files(files, 1, &w) == LDM_OK);
    CHECK(files[0] == NULL);
    if (!w)
        return;
    float out[64], rows[64];
    CHECK(ldm_weights_read_f32(w, "t", (int64_t[]){ 6, 4 }, 2, out) == LDM_OK);
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++)
            CHECK(out[i * 4 + j] == (float)(10 + i + 6 * j));
    /* rows 2..5 of the transposed view */
    CHECK(ldm_weights_read_rows_f32(w, "t", 2, 3, rows) == LDM_OK);
    CHECK(memcmp(rows, out + 8, 12 * sizeof(float)) == 0);
    CHECK(ldm_weights_read_f32(w, "cols", NULL, 0, out) == LDM_OK);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++)
            CHECK(out[i * 3 + j] == (float)(2 + 8 * i + j));
    CHECK(ldm_weights_read_rows_f32(w, "cols", 4, 1, rows) == LDM_OK);
    CHECK(rows[0] == 34 && rows[1] == 35 && rows[2] == 36);
    CHECK(ldm_weights_read_f32(w, "exp", NULL, 0, out) == LDM_OK);
    for (int i = 0; i < 12; i++)
        CHECK(out[i] == (float)(i / 4));
    CHECK(ldm_weights_read_f32(w, "perm", NULL, 0, out) == LDM_OK);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++)
                CHECK(out[(a * 3 + b) * 4 + c] == (float)(a + 8 * b + 2 * c));
    int before = m->reads;
    size_t bytes_before = m->bytes_read;
    CHECK(ldm_weights_read_f32(w, "one", NULL, 0, out) == LDM_OK);
    CHECK(m->reads == before + 1 && m->bytes_read - bytes_before == 20); /* one direct read */
    for (int i = 0; i < 5; i++)
        CHECK(out[i] == (float)(1 + i));
    ldm_weights_close(&w);
}

/* ---- the check helper ---- */

static void test_check(void)
{
    expected *list;
    int n = load_expected(LDM_FIXTURES "/tiny-ldm/expected_tensors.txt", "bert", &list);
    ldm_weights *w = open_dir_ok(LDM_FIXTURES "/tiny-ldm/bert");
    if (!w)
        return;
    ldm_weight_spec *specs = calloc((size_t)n + 1, sizeof *specs);
    for (int i = 0; i < n; i++) {
        specs[i].name = list[i].name;
        specs[i].ndim = list[i].ndim;
        memcpy(specs[i].shape, list[i].shape, sizeof specs[i].shape);
    }
    CHECK_MSG(ldm_weights_check(w, specs, n) == LDM_OK, "%s", ldm_error_message());

    /* to_logits accepted with any shape */
    int logits = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(specs[i].name, "to_logits.weight") == 0)
            logits = i;
    CHECK(logits >= 0);
    specs[logits].ndim = -1;
    CHECK(ldm_weights_check(w, specs, n) == LDM_OK);

    /* the model lacks a parameter the file has: unexpected tensor */
    ldm_weight_spec last = specs[n - 1];
    CHECK_FAILS_WITH(ldm_weights_check(w, specs, n - 1), LDM_EINPUT, "unexpected tensor");
    ldm_error_clear();
    ldm_weights_check(w, specs, n - 1);
    CHECK(strstr(ldm_error_message(), last.name) && strstr(ldm_error_message(), "model.safetensors"));

    /* the model needs a tensor the file lacks: missing */
    specs[n] = (ldm_weight_spec){ "model.layers.2.fc1.weight", 2, { 64, 32 } };
    CHECK_FAILS_WITH(ldm_weights_check(w, specs, n + 1), LDM_EINPUT,
                     "bert/model.safetensors: tensor \"model.layers.2.fc1.weight\" is missing");

    /* shape mismatch names both shapes */
    specs[0].shape[0] = 32;
    specs[0].shape[1] = 404;
    CHECK_FAILS_WITH(ldm_weights_check(w, specs, n), LDM_EINPUT,
                     "tensor \"model.embed_tokens.weight\" has shape [404, 32], expected [32, "
                     "404]");
    float x;
    CHECK_FAILS_WITH(ldm_weights_read_f32(w, specs[0].name, specs[0].shape, 2, &x), LDM_EINPUT,
                     "bert/model.safetensors: tensor \"model.embed_tokens.weight\" has shape");
    CHECK_FAILS_WITH(ldm_weights_read_f32(w, specs[0].name, specs[0].shape, 3, &x), LDM_EINPUT,
                     "expected [32, 404, 0]");
    CHECK_FAILS_WITH(ldm_weights_read_f32(w, "nope", NULL, 0, &x), LDM_EINPUT,
                     "model.safetensors: tensor \"nope\" is missing");
    free(specs);
    free(list);
    ldm_weights_close(&w);
}

/* ---- bad folders, files and shard indexes, built in LDM_TEST_TMP ---- */

static char path_buf[4096];

static const char *tmp(const char *name)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", LDM_TEST_TMP, name);
    return path_buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* A safetensors file of F32 tensors of 2 elements each, named in `names`. */
static void write_st(const char *path, const char *const *names, int n)
{
    char header[2048];
    size_t pos = (size_t)snprintf(header, sizeof header, "{");
    for (int i = 0; i < n; i++)
        pos += (size_t)snprintf(header + pos, sizeof header - pos,
                                "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%d,"
                                "%d]}",
                                i ? "," : "", names[i], 8 * i, 8 * i + 8);
    snprintf(header + pos, sizeof header - pos, "}");
    FILE *f = fopen(path, "wb");
    uint64_t len = strlen(header);
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (unsigned char)(len >> (8 * i));
    fwrite(prefix, 1, 8, f);
    fwrite(header, 1, len, f);
    for (int i = 0; i < 2 * n; i++) {
        float v = (float)i;
        fwrite(&v, 4, 1, f);
    }
    fclose(f);
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", path);
        exit(1);
    }
}

/* Open `path` (file or index) expecting failure naming `who` and `needle`. */
static void expect_fails(const char *path, const char *who, const char *needle)
{
    ldm_weights *w = NULL;
    ldm_error_clear();
    ldm_status st = ldm_weights_open_path(path, &w);
    const char *msg = ldm_error_message();
    CHECK_MSG(st == LDM_EINPUT && w == NULL, "%s: status %d (%s)", path, (int)st, msg);
    CHECK_MSG(strstr(msg, who) != NULL, "message \"%s\" does not name \"%s\"", msg, who);
    CHECK_MSG(strstr(msg, needle) != NULL, "message \"%s\" lacks \"%s\"", msg, needle);
    ldm_weights_close(&w);
    ldm_error_clear();
}

static void test_shard_errors(void)
{
    char index[4096], s1[4096], s2[4096], s3[4096];
    make_dir(tmp("shards"));
    snprintf(s1, sizeof s1, "%s", tmp("shards/s1.safetensors"));
    snprintf(s2, sizeof s2, "%s", tmp("shards/s2.safetensors"));
    snprintf(s3, sizeof s3, "%s", tmp("shards/s3.safetensors"));
    snprintf(index, sizeof index, "%s", tmp("shards/model.safetensors.index.json"));
    write_st(s1, (const char *[]){ "a", "b" }, 2);
    write_st(s2, (const char *[]){ "c", "a" }, 2);
    write_st(s3, (const char *[]){ "d" }, 1);

    /* a good index over s1 and s3 */
    write_text(index, "{\"metadata\":{\"total_size\":24},\"weight_map\":{\"a\":\"s1.safetensors\","
                      "\"b\":\"s1.safetensors\",\"d\":\"s3.safetensors\"}}");
    ldm_weights *w = NULL;
    CHECK_MSG(ldm_weights_open_path(index, &w) == LDM_OK, "%s", ldm_error_message());
    CHECK(ldm_weights_count(w) == 3);
    float v[2];
    CHECK(w && ldm_weights_read_f32(w, "d", (int64_t[]){ 2 }, 1, v) == LDM_OK && v[1] == 1.0f);
    ldm_weights_close(&w);

    write_text(index, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\","
                      "\"c\":\"s2.safetensors\"}}");
    expect_fails(index, "s2.safetensors", "tensor \"a\" is in both");
    write_text(index, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"nope.safetensors\"}}");
    expect_fails(index, "nope.safetensors", "no such weights file");
    write_text(index, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\","
                      "\"z\":\"s1.safetensors\"}}");
    expect_fails(index, "model.safetensors.index.json",
                 "tensor \"z\" is listed in weight_map for s1.safetensors, which does not hold it");
    write_text(index, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\","
                      "\"d\":\"s1.safetensors\",\"x\":\"s3.safetensors\"}}");
    expect_fails(index, "s3.safetensors", "tensor \"d\" is listed in weight_map for "
                                          "s1.safetensors but is in");
    write_text(index, "{\"weight_map\":{\"a\":\"s1.safetensors\"}}");
    expect_fails(index, "model.safetensors.index.json",
                 "tensor \"b\" of " LDM_TEST_TMP "/shards/s1.safetensors is not listed");
    write_text(index, "{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\","
                      "\"a\":\"s1.safetensors\"}}");
    expect_fails(index, "model.safetensors.index.json", "tensor \"a\" is listed twice");
    write_text(index, "{\"weight_map\":{\"a\":\"../s1.safetensors\"}}");
    expect_fails(index, "model.safetensors.index.json",
                 "tensor \"a\" must map to a file name in the same folder");
    write_text(index, "{\"weight_map\":{\"a\":3}}");
    expect_fails(index, "model.safetensors.index.json", "must map to a file name");
    write_text(index, "{\"metadata\":{}}");
    expect_fails(index, "model.safetensors.index.json", "\"weight_map\" must be a non-empty");
    write_text(index, "{\"weight_map\":");
    expect_fails(index, "model.safetensors.index.json", "invalid JSON");

    /* two plain files holding the same tensor */
    const char *pair[2] = { s1, s2 };
    ldm_error_clear();
    CHECK(ldm_weights_open_files(pair, 2, &w) == LDM_EINPUT && w == NULL);
    CHECK(strstr(ldm_error_message(), "tensor \"a\" is in both") &&
          strstr(ldm_error_message(), s1) && strstr(ldm_error_message(), s2));
    ldm_error_clear();
    CHECK_FAILS_WITH(ldm_weights_open_files(pair, 0, &w), LDM_EINPUT, "no weight files");
}

static void test_dirs(void)
{
    char *path = NULL;
    make_dir(tmp("pick"));
    for (int i = 0; ldm_weights_file_names[i]; i++) { /* left by an earlier run */
        char name[256];
        snprintf(name, sizeof name, "pick/%s", ldm_weights_file_names[i]);
        unlink(tmp(name));
    }
    write_text(tmp("pick/pytorch_model.bin"), "");
    CHECK(ldm_weights_resolve_dir(tmp("pick"), &path) == LDM_OK && strstr(path, "/pytorch_model.bin"));
    ldm_free(path);
    write_text(tmp("pick/diffusion_pytorch_model.bin"), "");
    CHECK(ldm_weights_resolve_dir(tmp("pick"), &path) == LDM_OK &&
          strstr(path, "/diffusion_pytorch_model.bin"));
    ldm_free(path);
    write_text(tmp("pick/model.safetensors"), "");
    CHECK(ldm_weights_resolve_dir(tmp("pick"), &path) == LDM_OK &&
          strstr(path, "/model.safetensors"));
    ldm_free(path);
    write_text(tmp("pick/diffusion_pytorch_model.safetensors.index.json"), "");
    CHECK(ldm_weights_resolve_dir(tmp("pick"), &path) == LDM_OK &&
          strstr(path, "/diffusion_pytorch_model.safetensors.index.json"));
    ldm_free(path);
    write_text(tmp("pick/diffusion_pytorch_model.safetensors"), "");
    CHECK(ldm_weights_resolve_dir(tmp("pick"), &path) == LDM_OK &&
          strstr(path, "/diffusion_pytorch_model.safetensors"));
    ldm_free(path);
    /* the empty .safetensors is chosen and rejected, naming the file */
    ldm_weights *w = NULL;
    CHECK_FAILS_WITH(ldm_weights_open_dir(tmp("pick"), &w),
                     LDM_EINPUT, "pick/diffusion_pytorch_model.safetensors: 0 bytes");

    make_dir(tmp("empty"));
    CHECK_FAILS_WITH(ldm_weights_open_dir(tmp("empty"), &w), LDM_EINPUT, "no weights file");
    CHECK_FAILS_WITH(ldm_weights_open_dir(tmp("missing"), &w), LDM_EINPUT, "no such folder");
    CHECK(w == NULL);
    CHECK_FAILS_WITH(ldm_weights_open_path(tmp("missing.safetensors"), &w), LDM_EINPUT,
                     "missing.safetensors: no such weights file");

    /* a truncated weights file is caught when the folder is opened */
    make_dir(tmp("cut"));
    FILE *in = fopen(LDM_FIXTURES "/tiny-ldm/unet/diffusion_pytorch_model.safetensors", "rb");
    FILE *out = fopen(tmp("cut/diffusion_pytorch_model.safetensors"), "wb");
    char buf[4096];
    size_t got, total = 0;
    while (in && out && (got = fread(buf, 1, sizeof buf, in)) > 0 && total < 400000) {
        fwrite(buf, 1, got, out);
        total += got;
    }
    fclose(in);
    fclose(out);
    CHECK_FAILS_WITH(ldm_weights_open_dir(tmp("cut"), &w), LDM_EINPUT,
                     "cut/diffusion_pytorch_model.safetensors: file is truncated");

}

/* Every allocation of a sharded open may fail: LDM_ERUNTIME, nothing left. */
static void test_alloc_failures(void)
{
    int ok = 0;
    for (long k = 1; k < 5000 && !ok; k++) {
        ldm_weights *w = NULL;
        ldm_error_clear();
        ldm_alloc_fail_after(k);
        ldm_status st = ldm_weights_open_dir(LDM_FIXTURES "/weights/bert-sharded", &w);
        ldm_alloc_fail_after(0);
        if (st == LDM_OK)
            ok = 1;
        else
            CHECK_MSG(st == LDM_ERUNTIME && w == NULL, "alloc %ld: status %d (%s)", k, (int)st,
                      ldm_error_message());
        ldm_weights_close(&w);
    }
    CHECK(ok);
    ldm_error_clear();
}

int main(void)
{
    make_dir(LDM_TEST_TMP);
    test_pipeline_components();
    test_converted();
    test_sharded();
    test_rows();
    test_strided();
    test_check();
    test_shard_errors();
    test_dirs();
    test_alloc_failures();
    return ldm_test_finish();
}
