/* golden.h — reading tests/fixtures/kernels (tools/reference/make_kernel_goldens.py).
 *
 * index.txt has one line per case: `<case> key=value ...`; each tensor is
 * <case>.<tensor>.bin, raw little-endian float32. golden_case() finds a
 * case's line, golden_int()/golden_double() read its parameters,
 * golden_load() reads a tensor and checks its element count. Missing data
 * is a test failure (the fixtures are committed), not a skip.
 */
#ifndef LDM_TESTS_KERNELS_GOLDEN_H
#define LDM_TESTS_KERNELS_GOLDEN_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define GOLDEN_DIR LDM_FIXTURES "/kernels"

/* The index line of `name` (static storage), or NULL (and a failed check). */
static inline const char *golden_case(const char *name)
{
    static char line[2048];
    FILE *f = fopen(GOLDEN_DIR "/index.txt", "r");
    CHECK_MSG(f != NULL, "cannot open %s/index.txt", GOLDEN_DIR);
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

/* malloc'ed float32[count] from <case>.<tensor>.bin; NULL on failure. */
static inline float *golden_load(const char *name, const char *tensor, int64_t count)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%s.bin", GOLDEN_DIR, name, tensor);
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

/* malloc'ed float buffer of count elements filled with NaN (so an output the
 * kernel forgets to write fails the comparison). */
static inline float *golden_nan_buffer(int64_t count)
{
    float *p = malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
    for (int64_t i = 0; i < count; i++)
        p[i] = NAN;
    return p;
}

/* The DESIGN.md §3 contract for a model forward: relative L2 error. */
#define GOLDEN_TOL 1e-5

/* Compare got against ref: relative L2 ‖got − ref‖ / ‖ref‖ <= tol; prints
 * the error and the max absolute error either way. */
static inline void golden_compare(const char *label, const float *got, const float *ref, int64_t count,
                           double tol)
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
    printf("  %-48s rel L2 %.2e  max abs %.2e\n", label, rel, max_abs);
    CHECK_MSG(finite && rel <= tol, "%s: rel L2 %.3g (tol %.1g), max abs %.3g%s", label, rel, tol,
              max_abs, finite ? "" : ", non-finite output");
}

#endif
