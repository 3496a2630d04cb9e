/* DDIMScheduler (diffusers 0.27.2): set_timesteps and step() with eta,
 * clipping, dynamic thresholding and the three prediction types, in the
 * float32 operation order of diffusers' torch code. */
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "sample/scheduler_impl.h"

ldm_status ldm_sched_ddim_set_timesteps(ldm_scheduler *s, int n)
{
    int T = s->p.num_train_timesteps;
    double *ts = s->timesteps;
    if (s->p.timestep_spacing == LDM_SPACING_LINSPACE) {
        /* np.linspace(0, T-1, n).round()[::-1] */
        ldm_sched_np_linspace(0, T - 1, n, ts);
        for (int i = 0; i < n / 2; i++) {
            double v = ts[i];
            ts[i] = ts[n - 1 - i];
            ts[n - 1 - i] = v;
        }
        for (int i = 0; i < n; i++)
            ts[i] = ldm_sched_np_round(ts[i]);
        s->n_timesteps = n;
    } else if (s->p.timestep_spacing == LDM_SPACING_LEADING) {
        /* (arange(n) * (T // n))[::-1] + steps_offset */
        long long ratio = T / n;
        for (int i = 0; i < n; i++)
            ts[i] = (double)((long long)(n - 1 - i) * ratio + s->p.steps_offset);
        s->n_timesteps = n;
    } else {
        /* round(arange(T, 0, -T/n)) - 1 (the length can be n + 1) */
        double ratio = (double)T / n;
        int len = ldm_sched_arange_len(T, 0, -ratio);
        if (len > n + 1)
            return ldm_error(LDM_EINPUT, "trailing spacing gave %d timesteps for %d steps", len, n);
        ldm_sched_np_arange(T, -ratio, len, ts);
        for (int i = 0; i < len; i++)
            ts[i] = ldm_sched_np_round(ts[i]) - 1;
        s->n_timesteps = len;
    }
    return LDM_OK;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* torch.quantile(v, q) with linear interpolation over sorted[m] (ascending):
 * rank = q * (m - 1) in float32, lerp as torch's CPU lerp (fma form). */
static float torch_quantile(const float *sorted, int64_t m, float q)
{
    float rank = q * (float)(m - 1);
    int64_t below = (int64_t)rank;
    int64_t above = (int64_t)ceilf(rank);
    float w = rank - (float)below;
    float lo = sorted[below], hi = sorted[above];
    float diff = hi - lo;
    return fabsf(w) < 0.5f ? fmaf(w, diff, lo) : fmaf(w - 1.0f, diff, hi);
}

/* DDIMScheduler._threshold_sample on x0[n] in place, per batch entry. */
static ldm_status threshold(ldm_scheduler *s, float *x0, int64_t n)
{
    if (n % s->batch != 0)
        return ldm_error(LDM_EINPUT, "DDIM thresholding: sample of %lld elements is not %lld equal parts",
                         (long long)n, (long long)s->batch);
    int64_t m = n / s->batch;
    if (!s->sorted) {
        ldm_status st = ldm_alloc(sizeof(float) * (size_t)m, "threshold buffer", (void **)&s->sorted);
        if (st != LDM_OK)
            return st;
    }
    float q = (float)s->p.dynamic_thresholding_ratio;
    float smax = (float)s->p.sample_max_value;
    for (int64_t b = 0; b < s->batch; b++) {
        float *x = x0 + b * m;
        for (int64_t i = 0; i < m; i++)
            s->sorted[i] = fabsf(x[i]);
        qsort(s->sorted, (size_t)m, sizeof(float), cmp_float);
        float v = torch_quantile(s->sorted, m, q);
        /* torch.clamp(v, min=1, max=sample_max_value) */
        v = v < 1.0f ? 1.0f : v;
        v = v > smax ? smax : v;
        for (int64_t i = 0; i < m; i++) {
            float c = x[i] < -v ? -v : x[i];
            c = c > v ? v : c;
            x[i] = c / v;
        }
    }
    return LDM_OK;
}

/* pred_original_sample and pred_epsilon for one element. */
static inline void predict(ldm_prediction_type pt, float x, float m, float sa, float sb, float *x0,
                           float *eps)
{
    if (pt == LDM_PRED_EPSILON) {
        *x0 = (x - sb * m) / sa;
        *eps = m;
    } else if (pt == LDM_PRED_SAMPLE) {
        *x0 = m;
        *eps = (x - sa * *x0) / sb;
    } else {
        *x0 = sa * x - sb * m;
        *eps = sa * m + sb * x;
    }
}

ldm_status ldm_sched_ddim_step(ldm_scheduler *s, const float *mo, double t, const float *x, int64_t n,
                               float eta, const float *noise, float *prev)
{
    const ldm_scheduler_params *p = &s->p;
    int T = p->num_train_timesteps;
    if (!(t >= -T && t < T) || t != floor(t))
        return ldm_error(LDM_EINPUT, "DDIM step: timestep %g is not an integer in [-%d, %d)", t, T, T);
    int64_t ti = (int64_t)t;
    int64_t prev_t = ti - T / s->num_inference_steps;

    float ap = ldm_sched_alpha(s, ti);
    float app = prev_t >= 0 ? s->alphas_cumprod[prev_t] : s->final_alpha_cumprod;
    float bp = 1.0f - ap;
    float sa = sqrtf(ap), sb = sqrtf(bp);
    /* _get_variance: (beta_prev / beta) * (1 - alpha / alpha_prev) */
    float variance = ((1.0f - app) / bp) * (1.0f - ap / app);
    float std = eta * sqrtf(variance);
    float dir = sqrtf(1.0f - app - std * std);
    float sapp = sqrtf(app);
    int clip = !p->thresholding && p->clip_sample;
    float r = (float)p->clip_sample_range;

    if (p->thresholding) {
        /* the quantile needs all of x0 first; pred_epsilon is recomputed */
        for (int64_t i = 0; i < n; i++) {
            float eps;
            predict(p->prediction_type, x[i], mo[i], sa, sb, &s->work[i], &eps);
        }
        ldm_status st = threshold(s, s->work, n);
        if (st != LDM_OK)
            return st;
    }
    for (int64_t i = 0; i < n; i++) {
        float x0, eps;
        predict(p->prediction_type, x[i], mo[i], sa, sb, &x0, &eps);
        if (p->thresholding) {
            x0 = s->work[i];
        } else if (clip) {
            x0 = x0 < -r ? -r : x0;
            x0 = x0 > r ? r : x0;
        }
        float out = sapp * x0 + dir * eps;
        if (eta > 0)
            out = out + std * noise[i];
        prev[i] = out;
    }
    return LDM_OK;
}
