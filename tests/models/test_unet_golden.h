/* test_unet_golden.h — reading tests/fixtures/unet
 * (tools/reference/make_unet_goldens.py) for the UNet tests.
 *
 * index.txt has one line per case: `<case> key=value ...`; each tensor is
 * <case>.<tensor>.bin (raw little-endian float32, diffusers' layout) and a
 * module's weights are <case>.safetensors. Missing data is a failure (the
 * fixtures are committed), not a skip.
 *
 * Also: layout helpers (the modules run NHWC, the goldens are NCHW), the
 * measure-then-run execution of a module forward, and golden_compare (the
 * DESIGN.md §3 relative-L2 contract, printing the max absolute error).
 */
#ifndef LDM_TESTS_MODELS_UNET_GOLDEN_H
#define LDM_TESTS_MODELS_UNET_GOLDEN_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "harness.h"
#include "io/weights.h"
#include "kernels/layout.h"

#define UNET_DIR LDM_FIXTURES "/unet"

/* The DESIGN.md §3 contract for a model forward: relative L2 error. */
#define GOLDEN_TOL 1e-5

/* The index line of `name` (static storage), or NULL (and a failed check). */
static inline const char *golden_case(const char *name)
{
    static char line[4096];
    FILE *f = fopen(UNET_DIR "/index.txt", "r");
    CHECK_MSG(f != NULL, "cannot open %s/index.txt", UNET_DIR);
    if (!f)
        return NULL;
    size_t len = strlen(name);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, name, len) == 0 && line[len] == ' ') {
            fclose(f);
            return line;
        }
    }
    fclose(f);
    CHECK_MSG(0, "case %s not in index.txt", name);
    return NULL;
}

static inline const char *golden_value(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *p = line ? strstr(line, pat) : NULL;
    CHECK_MSG(p != NULL, "key %s missing in index line: %s", key, line ? line : "(none)");
    return p ? p + strlen(pat) : "0";
}

static inline int64_t golden_int(const char *line, const char *key)
{
    return strtoll(golden_value(line, key), NULL, 10);
}

static inline double golden_double(const char *line, const char *key)
{
    return strtod(golden_value(line, key), NULL);
}

/* The string value of `key` (up to the next space) into buf. */
static inline void golden_string(const char *line, const char *key, char *buf, size_t cap)
{
    const char *v = golden_value(line, key);
    size_t n = strcspn(v, " \n");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
}

/* malloc'ed float32[count] from <case>.<tensor>.bin; NULL on failure. */
static inline float *golden_load(const char *name, const char *tensor, int64_t count)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%s.bin", UNET_DIR, name, tensor);
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f)
        return NULL;
    float *data = malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
    size_t got = fread(data, sizeof(float), (size_t)count + 1, f);
    fclose(f);
    CHECK_MSG(got == (size_t)count, "%s: %zu floats, expected %lld", path, got, (long long)count);
    if (got != (size_t)count) {
        free(data);
        return NULL;
    }
    return data;
}

/* <case>.safetensors opened as a weight set; NULL on failure. */
static inline ldm_weights *golden_weights(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.safetensors", UNET_DIR, name);
    ldm_weights *w = NULL;
    ldm_status st = ldm_weights_open_path(path, &w);
    CHECK_MSG(st == LDM_OK, "open %s: %s", path, ldm_error_message());
    return st == LDM_OK ? w : NULL;
}

/* malloc'ed float buffer of count elements filled with NaN (so an output the
 * module forgets to write fails the comparison). */
static inline float *golden_nan_buffer(int64_t count)
{
    float *p = malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
    for (int64_t i = 0; i < count; i++)
        p[i] = NAN;
    return p;
}

/* NCHW [n, c, h, w] → new malloc'ed NHWC, and back. */
static inline float *to_nhwc(const float *x, int64_t n, int64_t c, int64_t h, int64_t w)
{
    float *y = malloc((size_t)(n * c * h * w) * sizeof(float));
    ldm_layout_convert(y, LDM_LAYOUT_NHWC, x, LDM_LAYOUT_NCHW, n, c, h, w);
    return y;
}

static inline float *to_nchw(const float *x, int64_t n, int64_t c, int64_t h, int64_t w)
{
    float *y = malloc((size_t)(n * c * h * w) * sizeof(float));
    ldm_layout_convert(y, LDM_LAYOUT_NCHW, x, LDM_LAYOUT_NHWC, n, c, h, w);
    return y;
}

/* Compare got against ref: relative L2 ‖got − ref‖ / ‖ref‖ <= tol; prints
 * the error and the max absolute error either way. Returns the error. */
static inline double golden_compare(const char *label, const float *got, const float *ref,
                                    int64_t count, double tol)
{
    double num = 0.0, den = 0.0, max_abs = 0.0;
    int finite = 1;
    for (int64_t i = 0; i < count; i++) {
        double d = (double)got[i] - (double)ref[i];
        if (!isfinite(got[i]))
            finite = 0;
        num += d * d;
        den += (double)ref[i] * (double)ref[i];
        if (fabs(d) > max_abs)
            max_abs = fabs(d);
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    printf("  %-44s rel L2 %.2e  max abs %.2e\n", label, rel, max_abs);
    CHECK_MSG(finite && rel <= tol, "%s: rel L2 %.3g (tol %.1g), max abs %.3g%s", label, rel, tol,
              max_abs, finite ? "" : ", non-finite output");
    return finite ? rel : INFINITY;
}

#endif
