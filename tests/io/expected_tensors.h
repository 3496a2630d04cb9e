/* expected_tensors.h — torch's view of the fixture weights, for the loader
 * tests: reads tests/fixtures/tiny-ldm/expected_tensors.txt (written by
 * tools/reference/make_model_fixtures.py) and compares loaded tensors with
 * it. Shared by test_weights.c (safetensors) and test_weights_bin.c (.bin). */
#ifndef LDM_TESTS_IO_EXPECTED_TENSORS_H
#define LDM_TESTS_IO_EXPECTED_TENSORS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "io/weights.h"

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


#endif
