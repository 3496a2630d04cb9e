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
#include "golden_files.h"

#endif
