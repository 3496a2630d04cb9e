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
#define GOLDEN_DIR UNET_DIR
#include "golden_files.h"

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

#endif
