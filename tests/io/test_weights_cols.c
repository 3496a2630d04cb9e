/* test_weights_cols.c — column slices and 2-D blocks of weights
 * (ldm_weights_read_cols_f32 / ldm_weights_read_block_f32), what a rank of an
 * input-channel split reads.
 *
 * Every 2-D tensor of the tiny pipeline's text encoder, in its .safetensors
 * and its PyTorch .bin copy (tests/fixtures/tiny-ldm{,-bin}/bert), and every
 * 2-D view of strided.bin (transposes, slices with storage offsets, stride-0
 * expands, fp16) and of the fp16 / bf16 VAE files (tests/fixtures/weights),
 * read as column pieces and blocks,
 * equals the columns of the whole-tensor read (which test_weights checks
 * against torch's values). An in-memory file counts the bytes read: a
 * column slice of a row-major tensor reads exactly its elements. Bad
 * ranges fail with LDM_EINPUT naming the file and the tensor. Single process.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "harness.h"
#include "io/weights.h"
#include "mem_weight_file.h"

/* Column pieces [0, c1), [c1, c2), [c2, c2) (empty), [c2, cols), and an
 * inner block with ld > ncols, against the whole read. Returns 1 if the
 * tensor was 2-D. */
static int check_tensor(const ldm_weights *w, const ldm_tensor_entry *e)
{
    if (e->ndim != 2 || e->shape[0] < 1 || e->shape[1] < 2)
        return 0;
    const int64_t rows = e->shape[0], cols = e->shape[1], n = rows * cols;
    float *whole = malloc((size_t)n * sizeof *whole);
    float *part = malloc((size_t)n * sizeof *part);
    CHECK(ldm_weights_read_f32(w, e->name, e->shape, 2, whole) == LDM_OK);
    int64_t cuts[4] = { 0, cols / 3, cols - 1, cols };
    for (int p = 0; p < 3; p++) {
        int64_t c0 = cuts[p], nc = cuts[p + 1] - cuts[p];
        memset(part, 0xff, (size_t)n * sizeof *part);
        CHECK_MSG(ldm_weights_read_cols_f32(w, e->name, c0, nc, part) == LDM_OK, "%s: %s",
                  e->name, ldm_error_message());
        int same = 1;
        for (int64_t i = 0; i < rows; i++)
            same &= memcmp(part + i * nc, whole + i * cols + c0, (size_t)nc * sizeof(float)) == 0;
        CHECK_MSG(same, "%s: columns [%lld, %lld) differ", e->name, (long long)c0,
                  (long long)(c0 + nc));
    }
    CHECK(ldm_weights_read_cols_f32(w, e->name, cols, 0, part) == LDM_OK);
    /* block rows [r0, rows) × columns [1, cols) into rows of ld = cols + 3 */
    int64_t r0 = rows / 2, nr = rows - r0, nc = cols - 1, ld = cols + 3;
    float *blk = malloc((size_t)(nr * ld) * sizeof *blk);
    for (int64_t i = 0; i < nr * ld; i++)
        blk[i] = -7.0f;
    CHECK_MSG(ldm_weights_read_block_f32(w, e->name, r0, nr, 1, nc, blk, ld) == LDM_OK, "%s: %s",
              e->name, ldm_error_message());
    int same = 1;
    for (int64_t i = 0; i < nr; i++) {
        same &= memcmp(blk + i * ld, whole + (r0 + i) * cols + 1, (size_t)nc * sizeof(float)) == 0;
        for (int64_t j = nc; j < ld; j++)
            same &= blk[i * ld + j] == -7.0f; /* padding untouched */
    }
    CHECK_MSG(same, "%s: block differs", e->name);
    free(blk);
    free(whole);
    free(part);
    return 1;
}

/* A >= 3-D tensor as [d0, d1·d2·…]: column pieces through
 * ldm_weights_read_inner_f32 against the whole read (what a rank of a
 * convolution's input split reads). Returns 1 if the tensor was >= 3-D. */
static int check_inner(const ldm_weights *w, const ldm_tensor_entry *e)
{
    if (e->ndim < 3 || e->shape[0] < 1)
        return 0;
    int64_t rows = e->shape[0], cols = 1;
    for (int d = 1; d < e->ndim; d++)
        cols *= e->shape[d];
    if (cols < 2)
        return 0;
    float *whole = malloc((size_t)(rows * cols) * sizeof *whole);
    float *part = malloc((size_t)(rows * cols) * sizeof *part);
    CHECK(ldm_weights_read_f32(w, e->name, e->shape, e->ndim, whole) == LDM_OK);
    int64_t cuts[3] = { 0, cols / 3, cols };
    for (int p = 0; p < 2; p++) {
        int64_t c0 = cuts[p], nc = cuts[p + 1] - cuts[p];
        CHECK_MSG(ldm_weights_read_inner_f32(w, e->name, c0, nc, part) == LDM_OK, "%s: %s",
                  e->name, ldm_error_message());
        int same = 1;
        for (int64_t i = 0; i < rows; i++)
            same &= memcmp(part + i * nc, whole + i * cols + c0, (size_t)nc * sizeof(float)) == 0;
        CHECK_MSG(same, "%s: inner columns [%lld, %lld) differ", e->name, (long long)c0,
                  (long long)(c0 + nc));
    }
    free(whole);
    free(part);
    return 1;
}

static void check_folder(const char *path, int min_checked)
{
    ldm_weights *w = NULL;
    ldm_status st = ldm_weights_open_path(path, &w);
    CHECK_MSG(st == LDM_OK, "%s: %s", path, ldm_error_message());
    if (!w)
        return;
    int checked = 0;
    for (int i = 0; i < ldm_weights_count(w); i++) {
        checked += check_tensor(w, ldm_weights_at(w, i, NULL));
        check_inner(w, ldm_weights_at(w, i, NULL));
    }
    CHECK_MSG(checked >= min_checked, "%s: only %d 2-D tensors", path, checked);
    ldm_weights_close(&w);
}

static void test_files(void)
{
    /* tiny bert: embeddings, 2 layers × (q, k, v, out, fc1, fc2), to_logits */
    check_folder(LDM_FIXTURES "/tiny-ldm/bert/model.safetensors", 15);
    check_folder(LDM_FIXTURES "/tiny-ldm-bin/bert/pytorch_model.bin", 15);
    /* transposed, row_slice, col_slice, offset_view, expanded, contiguous, half_t */
    check_folder(LDM_FIXTURES "/weights/strided.bin", 7);
    /* fp16 and bf16 files: per-row reads convert through the staging buffer */
    check_folder(LDM_FIXTURES "/weights/vqvae_fp16.safetensors", 1);
    check_folder(LDM_FIXTURES "/weights/vqvae_bf16.safetensors", 1);
    /* convolution weights [c_out, c_in, kh, kw] (check_inner), both formats */
    check_folder(LDM_FIXTURES "/tiny-ldm/unet/diffusion_pytorch_model.safetensors", 1);
    check_folder(LDM_FIXTURES "/tiny-ldm-bin/unet/diffusion_pytorch_model.bin", 1);
}

/* ---- what is read, through an in-memory weight file ---- */

static void test_bytes_read(void)
{
    static unsigned char storage[4096];
    for (int i = 0; i < 1024; i++) {
        float v = (float)i;
        memcpy(storage + 4 * i, &v, 4);
    }
    mem_impl *m = NULL;
    ldm_weight_file *f = mem_file_new(storage, sizeof storage, 6, &m);
    add_entry(f, "w", LDM_DTYPE_F32, 2, (int64_t[]){ 8, 10 }, (int64_t[]){ 10, 1 }, 0); /* row-major */
    add_entry(f, "t", LDM_DTYPE_F32, 2, (int64_t[]){ 10, 8 }, (int64_t[]){ 1, 10 }, 0); /* its transpose */
    add_entry(f, "v", LDM_DTYPE_F32, 1, (int64_t[]){ 10 }, (int64_t[]){ 1 }, 0);
    add_entry(f, "c", LDM_DTYPE_F32, 3, (int64_t[]){ 4, 3, 5 }, (int64_t[]){ 15, 5, 1 }, 0);
    add_entry(f, "p", LDM_DTYPE_F32, 3, (int64_t[]){ 4, 5, 3 }, (int64_t[]){ 15, 1, 5 }, 0);
    ldm_weight_file *files[1] = { f };
    ldm_weights *w = NULL;
    CHECK(ldm_weights_from_files(files, 1, &w) == LDM_OK);
    if (!w)
        return;
    float out[128];
    /* columns [3, 7) of [8, 10]: one read of 4 floats per row, nothing else */
    int reads = m->reads;
    size_t bytes = m->bytes_read;
    CHECK(ldm_weights_read_cols_f32(w, "w", 3, 4, out) == LDM_OK);
    CHECK(m->reads - reads == 8 && m->bytes_read - bytes == 8 * 4 * sizeof(float));
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++)
            CHECK(out[i * 4 + j] == (float)(i * 10 + 3 + j));
    /* columns [2, 5) of the transposed view: its storage columns are
     * contiguous, so one read of exactly those 3·10 floats */
    reads = m->reads;
    bytes = m->bytes_read;
    CHECK(ldm_weights_read_cols_f32(w, "t", 2, 3, out) == LDM_OK);
    CHECK(m->reads - reads == 1 && m->bytes_read - bytes == 30 * sizeof(float));
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 3; j++)
            CHECK(out[i * 3 + j] == (float)(i + 10 * (2 + j)));

    /* a [4, 3, 5] weight as [4, 15]: inner columns [5, 10) (its second input
     * channel) are one read of 5 floats per row */
    reads = m->reads;
    bytes = m->bytes_read;
    CHECK(ldm_weights_read_inner_f32(w, "c", 5, 5, out) == LDM_OK);
    CHECK(m->reads - reads == 4 && m->bytes_read - bytes == 4 * 5 * sizeof(float));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 5; j++)
            CHECK(out[i * 5 + j] == (float)(i * 15 + 5 + j));
    /* its permuted view [4, 5, 3]: element (i, a, b) = storage i·15 + a + 5b,
     * read row by row, columns [4, 10) of the flattened (a, b) */
    CHECK(ldm_weights_read_inner_f32(w, "p", 4, 6, out) == LDM_OK);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) {
            int a = (4 + j) / 3, b = (4 + j) % 3;
            CHECK(out[i * 6 + j] == (float)(i * 15 + a + 5 * b));
        }

    /* bad input: each names the file and the tensor */
    CHECK_FAILS_WITH(ldm_weights_read_inner_f32(w, "c", 10, 6, out), LDM_EINPUT,
                     "tensor \"c\": columns [10, 16) are outside its 15 columns");
    CHECK_FAILS_WITH(ldm_weights_read_cols_f32(w, "w", 8, 3, out), LDM_EINPUT,
                     "mem.bin: tensor \"w\": columns [8, 11) are outside its 10 columns");
    CHECK_FAILS_WITH(ldm_weights_read_cols_f32(w, "w", -1, 2, out), LDM_EINPUT,
                     "tensor \"w\": columns [-1, 1) are outside");
    CHECK_FAILS_WITH(ldm_weights_read_block_f32(w, "w", 6, 3, 0, 2, out, 2), LDM_EINPUT,
                     "tensor \"w\": rows [6, 9) are outside its 8 rows");
    CHECK_FAILS_WITH(ldm_weights_read_block_f32(w, "w", 0, 1, 0, 4, out, 3), LDM_EINPUT,
                     "tensor \"w\": destination row stride 3 is below the 4 columns");
    CHECK_FAILS_WITH(ldm_weights_read_cols_f32(w, "v", 0, 1, out), LDM_EINPUT,
                     "tensor \"v\" has 1 dimensions: a column slice needs a 2-D tensor");
    CHECK_FAILS_WITH(ldm_weights_read_cols_f32(w, "nope", 0, 1, out), LDM_EINPUT,
                     "tensor \"nope\" is missing");
    ldm_weights_close(&w);
}

int main(void)
{
    test_files();
    test_bytes_read();
    return ldm_test_finish();
}
