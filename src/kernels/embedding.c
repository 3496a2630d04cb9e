#include "kernels/embedding.h"
#include "core/timers.h"

#include <math.h>

static ldm_status timestep_embedding_impl(float *out, const float *timesteps, int64_t n, int64_t dim,
                                          int flip_sin_to_cos, double downscale_freq_shift,
                                          double scale, double max_period)
{
    int64_t half = dim / 2;
    if (n < 1 || dim < 2)
        return ldm_error(LDM_EINPUT, "timestep_embedding: n = %lld, embedding_dim = %lld "
                         "(need n >= 1, embedding_dim >= 2)", (long long)n, (long long)dim);
    float denom = (float)((double)half - downscale_freq_shift);
    if (denom == 0.0f || !(max_period > 0.0))
        return ldm_error(LDM_EINPUT, "timestep_embedding: embedding_dim %lld with "
                         "downscale_freq_shift %g and max_period %g gives no frequencies",
                         (long long)dim, downscale_freq_shift, max_period);
    /* torch multiplies a float32 tensor by a Python scalar in float32 */
    float neg_log = (float)(-log(max_period));
    for (int64_t b = 0; b < n; b++) {
        float *row = out + b * dim;
        float *sin_part = row + (flip_sin_to_cos ? half : 0);
        float *cos_part = row + (flip_sin_to_cos ? 0 : half);
        for (int64_t i = 0; i < half; i++) {
            float exponent = (neg_log * (float)i) / denom;
            float emb = timesteps[b] * expf(exponent);
            emb = (float)scale * emb;
            sin_part[i] = sinf(emb);
            cos_part[i] = cosf(emb);
        }
        if (dim % 2)
            row[dim - 1] = 0.0f;
    }
    return LDM_OK;
}

/* Public entry points: one timer entry per call (core/timers.h). */
ldm_status ldm_timestep_embedding(float *out, const float *timesteps, int64_t n, int64_t dim,
                                  int flip_sin_to_cos, double downscale_freq_shift,
                                  double scale, double max_period)
{
    const double t0 = ldm_timer_now();
    ldm_status st = timestep_embedding_impl(out, timesteps, n, dim, flip_sin_to_cos, downscale_freq_shift, scale, max_period);
    ldm_timer_add(LDM_T_OTHER, ldm_timer_now() - t0, 0);
    return st;
}
