/* golden_files.h — reading golden fixtures written by tools/reference/make_*_goldens.py.
 *
 * A fixture folder has index.txt with one line per case, `<case> key=value
 * ...`, and each tensor as <case>.<tensor>.bin (raw little-endian float32).
 * Define GOLDEN_DIR (the folder) before including. Missing data is a
 * failure (the fixtures are committed), not a skip. golden_compare applies
 * the DESIGN.md §3 relative-L2 contract and prints the max absolute error.
 */
#ifndef LDM_TESTS_GOLDEN_FILES_H
#define LDM_TESTS_GOLDEN_FILES_H

#ifndef GOLDEN_DIR
#error "define GOLDEN_DIR before including golden_files.h"
#endif

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* The DESIGN.md §3 contract for a model forward: relative L2 error. */
#define GOLDEN_TOL 1e-5

/* The index line of `name` (static storage), or NULL (and a failed check). */
static inline const char *golden_case(const char *name)
{
    static char line[4096];
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
 * module forgets to write fails the comparison). */
static inline float *golden_nan_buffer(int64_t count)
{
    float *p = malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
    for (int64_t i = 0; i < count; i++)
        p[i] = NAN;
    return p;
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
