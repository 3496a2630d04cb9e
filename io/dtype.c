#include "dtype.h"

#include <math.h>
#include <string.h>

static const struct {
    const char *name;
    size_t size;
} dtypes[LDM_DTYPE_COUNT] = {
    [LDM_DTYPE_F32] = { "F32", 4 }, [LDM_DTYPE_F16] = { "F16", 2 },
    [LDM_DTYPE_BF16] = { "BF16", 2 }, [LDM_DTYPE_F64] = { "F64", 8 },
    [LDM_DTYPE_I64] = { "I64", 8 }, [LDM_DTYPE_I32] = { "I32", 4 },
    [LDM_DTYPE_I16] = { "I16", 2 }, [LDM_DTYPE_I8] = { "I8", 1 },
    [LDM_DTYPE_U8] = { "U8", 1 }, [LDM_DTYPE_BOOL] = { "BOOL", 1 },
};

size_t ldm_dtype_size(ldm_dtype t)
{
    return (unsigned)t < LDM_DTYPE_COUNT ? dtypes[t].size : 0;
}

const char *ldm_dtype_name(ldm_dtype t)
{
    return (unsigned)t < LDM_DTYPE_COUNT ? dtypes[t].name : "?";
}

int ldm_dtype_is_float(ldm_dtype t)
{
    return t == LDM_DTYPE_F32 || t == LDM_DTYPE_F16 || t == LDM_DTYPE_BF16 || t == LDM_DTYPE_F64;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31;
    int exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        /* zero or subnormal: value = mant * 2^-24, exact in fp32 */
        float v = ldexpf((float)mant, -24);
        memcpy(&bits, &v, 4);
        bits |= sign;
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((uint32_t)(exp - 15 + 127) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void ldm_dtype_to_f32(ldm_dtype t, const void *src, float *dst, size_t n)
{
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++) {
        switch (t) {
        case LDM_DTYPE_F32: {
            memcpy(&dst[i], s + 4 * i, 4);
            break;
        }
        case LDM_DTYPE_F16: {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = half_to_float(h);
            break;
        }
        case LDM_DTYPE_BF16: {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&dst[i], &bits, 4);
            break;
        }
        case LDM_DTYPE_F64: {
            double d;
            memcpy(&d, s + 8 * i, 8);
            dst[i] = (float)d;
            break;
        }
        default:
            dst[i] = NAN;
            break;
        }
    }
}
