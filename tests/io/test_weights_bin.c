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

typedef struct expected {
    char comp[32];
    char name[200];
    char dtype[16];
    int ndim;
    int64_t shape[LDM_MAX_DIMS];
    double sum, asum, wsum;
    double v[4];
    int nv;
} expected;

static int load_expected(const char *path, const char *comp, expected **out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        exit(1);
    }
    int n = 0, cap = 0;
    expected *list = NULL;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        expected e;
        memset(&e, 0, sizeof e);
        char *tok = strtok(line, " \n");
        snprintf(e.comp, sizeof e.comp, "%s", tok);
        snprintf(e.name, sizeof e.name, "%s", strtok(NULL, " \n"));
        snprintf(e.dtype, sizeof e.dtype, "%s", strtok(NULL, " \n"));
        e.ndim = atoi(strtok(NULL, " \n"));
        for (int i = 0; i < e.ndim; i++)
            e.shape[i] = strtoll(strtok(NULL, " \n"), NULL, 10);
        e.sum = strtod(strtok(NULL, " \n"), NULL);
        e.asum = strtod(strtok(NULL, " \n"), NULL);
        e.wsum = strtod(strtok(NULL, " \n"), NULL);
        for (int i = 0; i < 4; i++) {
            tok = strtok(NULL, " \n");
            if (tok && strcmp(tok, "-") != 0)
                e.v[e.nv++] = strtod(tok, NULL);
        }
        if (comp && strcmp(comp, e.comp) != 0)
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            list = realloc(list, (size_t)cap * sizeof *list);
        }
        list[n++] = e;
    }
    fclose(f);
    *out = list;
    return n;
}

static int64_t numel_of(const int64_t *shape, int ndim)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= shape[i];
    return n;
}

static const char *dtype_of(const char *torch_name)
{
    if (strcmp(torch_name, "float32") == 0)
        return "F32";
    if (strcmp(torch_name, "float16") == 0)
        return "F16";
    if (strcmp(torch_name, "bfloat16") == 0)
        return "BF16";
    if (strcmp(torch_name, "float64") == 0)
        return "F64";
    return "?";
}

/* The tensor loads with torch's shape and values. */
static void check_tensor(const ldm_weights *w, const expected *x)
{
    const ldm_tensor_entry *e = ldm_weights_find(w, x->name, NULL);
    CHECK_MSG(e != NULL, "%s: tensor %s not found", ldm_weights_source(w), x->name);
    if (!e)
        return;
    CHECK_MSG(strcmp(ldm_dtype_name(e->dtype), dtype_of(x->dtype)) == 0, "%s: dtype %s vs %s",
              x->name, ldm_dtype_name(e->dtype), x->dtype);
    int64_t n = numel_of(x->shape, x->ndim);
    float *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof *buf);
    ldm_status st = ldm_weights_read_f32(w, x->name, x->shape, x->ndim, buf);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st == LDM_OK) {
        double sum = 0, asum = 0, wsum = 0;
        for (int64_t i = 0; i < n; i++) {
            sum += buf[i];
            asum += fabs(buf[i]);
            wsum += buf[i] * (double)(1 + i % 7);
        }
        /* float64 sums of the same fp32 values in another order */
        double tol = 1e-9 * x->asum * 7 + 1e-300;
        /* (equal also covers the infinities of the fp16 special values) */
        CHECK_MSG(sum == x->sum || fabs(sum - x->sum) <= tol, "%s: sum %.17g vs torch %.17g",
                  x->name, sum, x->sum);
        CHECK_MSG(asum == x->asum || fabs(asum - x->asum) <= tol, "%s: asum %.17g vs %.17g",
                  x->name, asum, x->asum);
        CHECK_MSG(wsum == x->wsum || fabs(wsum - x->wsum) <= tol, "%s: wsum %.17g vs %.17g",
                  x->name, wsum, x->wsum);
        for (int i = 0; i < x->nv; i++)
            CHECK_MSG((double)buf[i] == x->v[i] || (isnan(buf[i]) && isnan(x->v[i])),
                      "%s[%d]: %.9g vs torch %.9g", x->name, i, buf[i], x->v[i]);
    }
    free(buf);
}

/* Every expected tensor loads, and the files hold nothing else. */
static void check_all(const ldm_weights *w, const expected *list, int n)
{
    CHECK_MSG(ldm_weights_count(w) == n, "%s: %d tensors, torch has %d", ldm_weights_source(w),
              ldm_weights_count(w), n);
    for (int i = 0; i < n; i++)
        check_tensor(w, &list[i]);
}

static ldm_weights *open_dir_ok(const char *dir)
{
    ldm_weights *w = NULL;
    ldm_status st = ldm_weights_open_dir(dir, &w);
    CHECK_MSG(st == LDM_OK, "%s: %s", dir, ldm_error_message());
    return w;
}

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
