/* test_resample.c — nearest 2x upsampling against F.interpolate goldens, in
 * NCHW and NHWC. */
#include "golden.h"
#include "kernels/resample.h"
#include "kernels/threads.h"

static void test_case(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    int64_t n = golden_int(line, "n"), c = golden_int(line, "c"), h = golden_int(line, "h");
    int64_t w = golden_int(line, "w"), in_count = n * c * h * w, out_count = 4 * in_count;
    const char *tensors[2][2] = {{"x", "y"}, {"x_nhwc", "y_nhwc"}};
    for (int l = 0; l < 2; l++) {
        float *x = golden_load(name, tensors[l][0], in_count);
        float *y = golden_load(name, tensors[l][1], out_count);
        float *out = golden_nan_buffer(out_count);
        char label[128];
        if (x && y) {
            ldm_upsample_nearest2x(out, x, n, c, h, w, l ? LDM_LAYOUT_NHWC : LDM_LAYOUT_NCHW);
            snprintf(label, sizeof label, "%s %s t%d", name, l ? "nhwc" : "nchw",
                     ldm_kernels_threads());
            golden_compare(label, out, y, out_count, 0.0);
        }
        free(x), free(y), free(out);
    }
}

int main(void)
{
    for (int t = 1; t <= 2 && t <= ldm_kernels_cores(); t++) {
        ldm_kernels_set_threads(t);
        test_case("upsample_2x3x5x7");
        test_case("upsample_1x4x1x1");
    }
    return ldm_test_finish();
}
