/* test_weights_bin.c — the PyTorch .bin half of the weight loader tests
 * (registered only when io/torch_bin.c is in the tree).
 *
 * The tiny pipeline saved with safe_serialization=False
 * (tests/fixtures/tiny-ldm-bin) loads to exactly the tensors of the
 * safetensors copy and to torch's values (expected_tensors.txt); strided.bin
 * (non-contiguous views saved by torch.save: transposes, slices with storage
 * offsets, stride-0 expands, permutes, fp16) is gathered to torch's values;
 * row reads of strided tensors equal the slices of whole reads; the sharded
 * .bin checkpoint written by transformers (pytorch_model.bin.index.json)
 * loads. Fixtures: tools/reference/make_model_fixtures.py. Single process.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/weights.h"

/* ---- expected values (see make_model_fixtures.py, EXPECTED FORMAT) ---- */

#include "expected_tensors.h"

/* ---- .bin against safetensors and torch ---- */

static void test_pipeline_bin(void)
{
    static const char *comps[] = { "bert", "unet", "vqvae" };
    static const char *files[] = { "pytorch_model.bin", "diffusion_pytorch_model.bin",
                                   "diffusion_pytorch_model.bin" };
    for (int c = 0; c < 3; c++) {
        char dir[512];
        expected *list;
        int n = load_expected(LDM_FIXTURES "/tiny-ldm/expected_tensors.txt", comps[c], &list);
        snprintf(dir, sizeof dir, "%s/tiny-ldm-bin/%s", LDM_FIXTURES, comps[c]);
        ldm_weights *wb = open_dir_ok(dir);
        snprintf(dir, sizeof dir, "%s/tiny-ldm/%s", LDM_FIXTURES, comps[c]);
        ldm_weights *ws = open_dir_ok(dir);
        if (wb && ws) {
            CHECK(strstr(ldm_weights_source(wb), files[c]) != NULL);
            check_all(wb, list, n);
            /* bit-identical to the safetensors copy */
            CHECK(ldm_weights_count(wb) == ldm_weights_count(ws));
            for (int i = 0; i < ldm_weights_count(ws); i++) {
                const ldm_tensor_entry *es = ldm_weights_at(ws, i, NULL);
                const ldm_tensor_entry *eb = ldm_weights_find(wb, es->name, NULL);
                CHECK_MSG(eb != NULL, "%s missing from the .bin", es->name);
                if (!eb)
                    continue;
                CHECK(eb->dtype == es->dtype && eb->ndim == es->ndim);
                int64_t numel = ldm_tensor_entry_numel(es);
                float *a = malloc((size_t)numel * sizeof *a), *b = malloc((size_t)numel * sizeof *b);
                CHECK(ldm_weights_read_f32(ws, es->name, es->shape, es->ndim, a) == LDM_OK);
                CHECK(ldm_weights_read_f32(wb, es->name, es->shape, es->ndim, b) == LDM_OK);
                CHECK_MSG(memcmp(a, b, (size_t)numel * sizeof *a) == 0, "%s differs", es->name);
                free(a);
                free(b);
            }
        }
        ldm_weights_close(&wb);
        ldm_weights_close(&ws);
        free(list);
    }
}

static void test_strided_bin(void)
{
    expected *list;
    int n = load_expected(LDM_FIXTURES "/weights/expected_strided.txt", NULL, &list);
    ldm_weights *w = NULL;
    ldm_status st = ldm_weights_open_path(LDM_FIXTURES "/weights/strided.bin", &w);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (w) {
        check_all(w, list, n);
        /* rows of every view, one at a time, equal the whole read */
        for (int i = 0; i < n; i++) {
            int64_t numel = numel_of(list[i].shape, list[i].ndim), rows = list[i].shape[0];
            int64_t row = numel / rows;
            float *whole = malloc((size_t)numel * sizeof *whole), *part = malloc((size_t)row * sizeof *part);
            CHECK(ldm_weights_read_f32(w, list[i].name, NULL, 0, whole) == LDM_OK);
            for (int64_t r = 0; r < rows; r++) {
                CHECK(ldm_weights_read_rows_f32(w, list[i].name, r, 1, part) == LDM_OK);
                CHECK_MSG(memcmp(part, whole + r * row, (size_t)row * sizeof *part) == 0,
                          "%s row %lld", list[i].name, (long long)r);
            }
            free(whole);
            free(part);
        }
    }
    ldm_weights_close(&w);
    free(list);
}

static void test_sharded_bin(void)
{
    expected *list;
    int n = load_expected(LDM_FIXTURES "/tiny-ldm/expected_tensors.txt", "bert", &list);
    ldm_weights *w = NULL;
    ldm_status st = ldm_weights_open_path(LDM_FIXTURES "/weights/bert-sharded/pytorch_model.bin.index.json", &w);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (w)
        check_all(w, list, n);
    ldm_weights_close(&w);
    free(list);
}

int main(void)
{
    test_pipeline_bin();
    test_strided_bin();
    test_sharded_bin();
    return ldm_test_finish();
}
