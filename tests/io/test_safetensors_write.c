/* test_safetensors_write.c — the .safetensors writer: byte-identical output
 * to the reference writer (fixtures from tools/reference/
 * make_safetensors_write_golden.py, safetensors.torch.save_file), round trips
 * through our reader, streaming in odd pieces, and failures (bad
 * declarations, too much or too little data, a missing folder, a full disk
 * simulated with RLIMIT_FSIZE) that leave no file behind. Single process. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/file.h"
#include "harness.h"
#include "io/safetensors.h"
#include "io/safetensors_write.h"
#include "io/weights.h"

static char path_buf[4096];

static const char *tmp(const char *name)
{
    snprintf(path_buf, sizeof path_buf, "%s/%s", LDM_TEST_TMP, name);
    return path_buf;
}

static const char *const META[] = {"format", "pt", NULL};

/* The golden's tensors, declared in an order unlike the file's. */
enum { NT = 7 };
static ldm_safetensors_decl decls[NT] = {
    {"a.half", LDM_DTYPE_F16, 1, {3}},   {"b.weight", LDM_DTYPE_F32, 2, {2, 3}},
    {"bytes", LDM_DTYPE_U8, 1, {5}},     {"c", LDM_DTYPE_F64, 0, {0}},
    {"empty", LDM_DTYPE_F32, 2, {0, 4}}, {"m.bf", LDM_DTYPE_BF16, 1, {1}},
    {"z.count", LDM_DTYPE_I64, 1, {2}},
};
static const uint16_t half[3] = {0x3c00, 0xc000, 0x3800}; /* 1, -2, 0.5 */
static float bweight[6];
static const uint8_t bytes5[5] = {0, 1, 2, 3, 4};
static const double c325 = 3.25;
static const uint16_t bf15 = 0x3fc0; /* 1.5 */
static const int64_t count2[2] = {1, -1};
static const void *data[NT] = {half, bweight, bytes5, &c325, NULL, &bf15, count2};

static int same_file(const char *a, const char *b)
{
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int same = ldm_read_file(a, &x, &nx) == LDM_OK && ldm_read_file(b, &y, &ny) == LDM_OK &&
               nx == ny && memcmp(x, y, nx) == 0;
    ldm_free(x);
    ldm_free(y);
    return same;
}

/* No "*.tmp-*" file left in the scratch folder. */
static int no_temp_files(void)
{
    DIR *d = opendir(LDM_TEST_TMP);
    int clean = 1;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp-"))
            clean = 0;
    if (d)
        closedir(d);
    return clean;
}

static void test_golden(void)
{
    char golden[4096];
    for (int i = 0; i < 6; i++)
        bweight[i] = (float)i * 0.5f - 1.0f;
    snprintf(golden, sizeof golden, "%s/safetensors_write/ref.safetensors", LDM_FIXTURES);
    CHECK(ldm_safetensors_write_file(tmp("ref.safetensors"), decls, data, NT, META) == LDM_OK);
    CHECK_MSG(same_file(tmp("ref.safetensors"), golden), "differs from %s", golden);
    uint64_t size = 0;
    struct stat sb;
    CHECK(ldm_safetensors_file_size(decls, NT, META, &size) == LDM_OK);
    CHECK(stat(golden, &sb) == 0 && (uint64_t)sb.st_size == size);

    /* a header that needs padding */
    ldm_safetensors_decl x = {"x", LDM_DTYPE_F32, 1, {1}};
    const float two = 2.0f;
    const void *xd[1] = {&two};
    snprintf(golden, sizeof golden, "%s/safetensors_write/padded.safetensors", LDM_FIXTURES);
    CHECK(ldm_safetensors_write_file(tmp("padded.safetensors"), &x, xd, 1, META) == LDM_OK);
    CHECK_MSG(same_file(tmp("padded.safetensors"), golden), "differs from %s", golden);
}

/* Our reader accepts the file and gives back the values. */
static void test_round_trip(void)
{
    ldm_weights *w = NULL;
    CHECK(ldm_weights_open_path(tmp("ref.safetensors"), &w) == LDM_OK);
    if (!w)
        return;
    CHECK(ldm_weights_count(w) == NT);
    float f[6];
    int64_t shape[2] = {2, 3};
    CHECK(ldm_weights_read_f32(w, "b.weight", shape, 2, f) == LDM_OK);
    for (int i = 0; i < 6; i++)
        CHECK(f[i] == bweight[i]);
    CHECK(ldm_weights_read_f32(w, "a.half", NULL, 0, f) == LDM_OK);
    CHECK(f[0] == 1.0f && f[1] == -2.0f && f[2] == 0.5f);
    CHECK(ldm_weights_read_f32(w, "m.bf", NULL, 0, f) == LDM_OK && f[0] == 1.5f);
    CHECK(ldm_weights_read_f32(w, "c", NULL, 0, f) == LDM_OK && f[0] == 3.25f);
    const ldm_tensor_entry *e = ldm_weights_find(w, "empty", NULL);
    CHECK(e && e->ndim == 2 && e->shape[0] == 0 && e->shape[1] == 4);
    e = ldm_weights_find(w, "z.count", NULL);
    CHECK(e && e->dtype == LDM_DTYPE_I64 && e->shape[0] == 2);
    ldm_weights_close(&w);
}

/* Streaming: a big tensor in uneven pieces, crossing tensor boundaries. */
static void test_streaming(void)
{
    enum { N1 = 1000003, N2 = 17 };
    ldm_safetensors_decl d[2] = {{"big", LDM_DTYPE_F32, 1, {N1}}, {"small", LDM_DTYPE_F32, 1, {N2}}};
    float *all = NULL;
    CHECK(ldm_alloc((N1 + N2) * sizeof(float), "test", (void **)&all) == LDM_OK);
    if (!all)
        return;
    for (int i = 0; i < N1 + N2; i++)
        all[i] = (float)i;
    ldm_safetensors_writer *wr = NULL;
    CHECK(ldm_safetensors_writer_open(tmp("stream.safetensors"), d, 2, NULL, &wr) == LDM_OK);
    uint64_t left = 0;
    CHECK(ldm_safetensors_writer_tensor(wr, &left) == 0 && left == N1 * 4);
    size_t off = 0, total = (N1 + N2) * sizeof(float), piece = 3;
    while (off < total && wr) {
        size_t k = piece < total - off ? piece : total - off;
        if (ldm_safetensors_writer_write(wr, (const char *)all + off, k) != LDM_OK)
            break;
        off += k;
        piece = piece * 7 % 3000001 + 1;
    }
    CHECK(off == total);
    CHECK(ldm_safetensors_writer_tensor(wr, &left) == 2 && left == 0);
    CHECK(ldm_safetensors_writer_finish(&wr) == LDM_OK && wr == NULL);
    ldm_weights *w = NULL;
    CHECK(ldm_weights_open_path(tmp("stream.safetensors"), &w) == LDM_OK);
    if (w) {
        float s[N2];
        CHECK(ldm_weights_read_f32(w, "small", NULL, 0, s) == LDM_OK);
        CHECK(s[0] == (float)N1 && s[N2 - 1] == (float)(N1 + N2 - 1));
        CHECK(ldm_weights_read_rows_f32(w, "big", N1 - 1, 1, s) == LDM_OK && s[0] == N1 - 1);
    }
    ldm_weights_close(&w);
    ldm_free(all);
}

static void test_bad_declarations(void)
{
    ldm_safetensors_writer *wr = NULL;
    ldm_safetensors_decl two[2] = {{"w", LDM_DTYPE_F32, 1, {2}}, {"w", LDM_DTYPE_F16, 1, {2}}};
    CHECK_FAILS_WITH(ldm_safetensors_writer_open(tmp("dup.safetensors"), two, 2, NULL, &wr),
                     LDM_EINPUT, "dup.safetensors: tensor \"w\" is declared twice");
    ldm_safetensors_decl meta = {"__metadata__", LDM_DTYPE_F32, 1, {2}};
    CHECK_FAILS_WITH(ldm_safetensors_writer_open(tmp("m.safetensors"), &meta, 1, NULL, &wr),
                     LDM_EINPUT, "invalid name \"__metadata__\"");
    ldm_safetensors_decl neg = {"n", LDM_DTYPE_F32, 2, {2, -1}};
    CHECK_FAILS_WITH(ldm_safetensors_writer_open(tmp("n.safetensors"), &neg, 1, NULL, &wr),
                     LDM_EINPUT, "tensor \"n\": bad shape (dimension 1 is -1)");
    ldm_safetensors_decl huge = {"h", LDM_DTYPE_F64, 3, {1LL << 40, 1LL << 20, 1 << 10}};
    CHECK_FAILS_WITH(ldm_safetensors_writer_open(tmp("h.safetensors"), &huge, 1, NULL, &wr),
                     LDM_EINPUT, "tensor \"h\": bad shape");
    CHECK_FAILS_WITH(ldm_safetensors_writer_open("/nonexistent/dir/x.safetensors", two, 1, NULL,
                                                 &wr),
                     LDM_EINPUT, "/nonexistent/dir/x.safetensors: cannot create");
    CHECK(wr == NULL);
    CHECK(!ldm_is_file(tmp("dup.safetensors")) && no_temp_files());
}

/* Too much data, too little: errors, and the old file stays as it was. */
static void test_wrong_amounts(void)
{
    const float v[3] = {1, 2, 3};
    ldm_safetensors_decl d = {"v", LDM_DTYPE_F32, 1, {2}};
    const void *vd[1] = {v};
    CHECK(ldm_safetensors_write_file(tmp("keep.safetensors"), &d, vd, 1, META) == LDM_OK);
    char *before = NULL;
    CHECK(ldm_read_file(tmp("keep.safetensors"), &before, NULL) == LDM_OK);

    ldm_safetensors_writer *wr = NULL;
    CHECK(ldm_safetensors_writer_open(tmp("keep.safetensors"), &d, 1, NULL, &wr) == LDM_OK);
    CHECK_FAILS_WITH(ldm_safetensors_writer_write(wr, v, sizeof v), LDM_EINPUT,
                     "4 bytes more than the 8 declared");
    ldm_safetensors_writer_abort(&wr);
    CHECK(wr == NULL && no_temp_files());

    CHECK(ldm_safetensors_writer_open(tmp("keep.safetensors"), &d, 1, NULL, &wr) == LDM_OK);
    CHECK(ldm_safetensors_writer_write(wr, v, 4) == LDM_OK);
    CHECK_FAILS_WITH(ldm_safetensors_writer_finish(&wr), LDM_EINPUT,
                     "keep.safetensors: tensor \"v\" got 4 of its 8 bytes");
    CHECK(wr == NULL && no_temp_files());
    char *after = NULL;
    size_t n = 0;
    CHECK(ldm_read_file(tmp("keep.safetensors"), &after, &n) == LDM_OK);
    CHECK(before && after && memcmp(before, after, n) == 0);
    ldm_free(before);
    ldm_free(after);
}

/* A full disk: the file size limit makes write() fail with EFBIG (SIGXFSZ
 * ignored), as ENOSPC would. */
static void test_full_disk(void)
{
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit lim = {1 << 20, old.rlim_max};
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0) {
        fprintf(stderr, "setrlimit failed: full-disk case not run\n");
        return;
    }
    enum { N = 1 << 20 }; /* 4 MiB of floats */
    float *big = NULL;
    CHECK(ldm_calloc(N * sizeof(float), "test", (void **)&big) == LDM_OK);
    ldm_safetensors_decl d = {"big", LDM_DTYPE_F32, 1, {N}};
    const void *bd[1] = {big};
    CHECK_FAILS_WITH(ldm_safetensors_write_file(tmp("full.safetensors"), &d, bd, 1, META),
                     LDM_ERUNTIME, "full.safetensors: write failed: File too large");
    setrlimit(RLIMIT_FSIZE, &old);
    CHECK(!ldm_is_file(tmp("full.safetensors")) && no_temp_files());
    ldm_free(big);
}

int main(void)
{
    mkdir(LDM_TEST_TMP, 0777);
    test_golden();
    test_round_trip();
    test_streaming();
    test_bad_declarations();
    test_wrong_amounts();
    test_full_disk();
    return ldm_test_finish();
}
