#include "kernels/layout.h"

#include <string.h>

/* Tiled transpose of one [rows, cols] matrix into [cols, rows]; tiles keep
 * both the reads and the writes within a few cache lines. */
static void transpose(float *out, const float *in, int64_t rows, int64_t cols)
{
    enum { T = 32 };
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t r0 = 0; r0 < rows; r0 += T)
        for (int64_t c0 = 0; c0 < cols; c0 += T) {
            int64_t r1 = r0 + T < rows ? r0 + T : rows;
            int64_t c1 = c0 + T < cols ? c0 + T : cols;
            for (int64_t c = c0; c < c1; c++)
                for (int64_t r = r0; r < r1; r++)
                    out[c * rows + r] = in[r * cols + c];
        }
}

void ldm_layout_convert(float *out, ldm_layout out_layout, const float *in,
                        ldm_layout in_layout, int64_t n, int64_t c, int64_t h, int64_t w)
{
    int64_t hw = h * w;
    if (out_layout == in_layout) {
        memcpy(out, in, (size_t)(n * c * hw) * sizeof *out);
        return;
    }
    for (int64_t b = 0; b < n; b++) {
        const float *src = in + b * c * hw;
        float *dst = out + b * c * hw;
        if (in_layout == LDM_LAYOUT_NCHW)
            transpose(dst, src, c, hw);   /* [C, HW] -> [HW, C] */
        else
            transpose(dst, src, hw, c);   /* [HW, C] -> [C, HW] */
    }
}
