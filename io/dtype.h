/* dtype.h — element types of stored tensors, shared by every weight format. */
#ifndef LDM_IO_DTYPE_H
#define LDM_IO_DTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

enum { LDM_MAX_DIMS = 8 };

typedef enum ldm_dtype {
    LDM_DTYPE_F32 = 0,
    LDM_DTYPE_F16,
    LDM_DTYPE_BF16,
    LDM_DTYPE_F64,
    LDM_DTYPE_I64,
    LDM_DTYPE_I32,
    LDM_DTYPE_I16,
    LDM_DTYPE_I8,
    LDM_DTYPE_U8,
    LDM_DTYPE_BOOL,
    LDM_DTYPE_COUNT
} ldm_dtype;

/* Bytes per element. */
size_t ldm_dtype_size(ldm_dtype t);
/* "F32", "F16", "BF16", … (safetensors' spelling). */
const char *ldm_dtype_name(ldm_dtype t);
/* 1 if weights of this type can be converted to fp32 on load. */
int ldm_dtype_is_float(ldm_dtype t);
/* Convert `n` elements of a float type (f32/f16/bf16/f64) at `src`
 * (little-endian, possibly unaligned) to fp32. */
void ldm_dtype_to_f32(ldm_dtype t, const void *src, float *dst, size_t n);

#endif
