/* test_embedding.c — sinusoidal timestep embedding against diffusers'
 * get_timestep_embedding: flip_sin_to_cos on/off, freq shift 0/1, odd dim,
 * fractional timesteps; bad input. */
#include "golden.h"
#include "kernels/embedding.h"

static void test_case(const char *name)
{
    const char *line = golden_case(name);
    if (!line)
        return;
    int64_t n = golden_int(line, "n"), dim = golden_int(line, "dim");
    int flip = (int)golden_int(line, "flip");
    double shift = golden_double(line, "shift");
    float *t = golden_load(name, "t", n), *y = golden_load(name, "y", n * dim);
    float *out = golden_nan_buffer(n * dim);
    if (t && y) {
        CHECK(ldm_timestep_embedding(out, t, n, dim, flip, shift, 1.0, 10000.0) == LDM_OK);
        golden_compare(name, out, y, n * dim, GOLDEN_TOL);
        /* Elementwise: torch's exp (MKL VML) and libm's expf differ by one
         * ulp on a few frequencies; the argument t·freq then differs by up
         * to t·2^-23, and so may sin/cos. Allow that, nothing more. */
        int within = 1;
        for (int64_t b = 0; b < n; b++)
            for (int64_t i = 0; i < dim; i++) {
                double err = fabs((double)out[b * dim + i] - (double)y[b * dim + i]);
                within &= err <= fabs((double)t[b]) * 0x1p-23 + 1e-6;
            }
        CHECK_MSG(within, "%s: an element differs by more than one ulp of its argument", name);
        if (dim % 2)
            CHECK(out[dim - 1] == 0.0f);
    }
    free(t), free(y), free(out);
}

int main(void)
{
    test_case("temb_320_flip_s0");
    test_case("temb_32_noflip_s1");
    test_case("temb_33_flip_s1");
    test_case("temb_64_noflip_s0_frac");
    float t = 1.0f, out[4];
    CHECK_FAILS_WITH(ldm_timestep_embedding(out, &t, 1, 1, 0, 0.0, 1.0, 10000.0), LDM_EINPUT,
                     "embedding_dim = 1");
    CHECK_FAILS_WITH(ldm_timestep_embedding(out, &t, 1, 2, 0, 1.0, 1.0, 10000.0), LDM_EINPUT,
                     "gives no frequencies");
    CHECK_FAILS_WITH(ldm_timestep_embedding(out, &t, 0, 4, 0, 0.0, 1.0, 10000.0), LDM_EINPUT,
                     "n = 0");
    return ldm_test_finish();
}
