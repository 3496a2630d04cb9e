/* PNDMScheduler (diffusers 0.27.2): Runge-Kutta (PRK) warm-up steps, then
 * linear multistep (PLMS) with up to four past model outputs (`ets`). The
 * state (ets, counter, cur_sample, cur_model_output) lives in the scheduler
 * so a checkpoint can carry it. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "sample/scheduler_impl.h"

/* diffusers' ascending `_timesteps` for n steps into asc (n + 1 entries room);
 * returns their count. */
static ldm_status ascending(const ldm_scheduler *s, int n, double *asc, int *len)
{
    int T = s->p.num_train_timesteps;
    if (s->p.timestep_spacing == LDM_SPACING_LINSPACE) {
        ldm_sched_np_linspace(0, T - 1, n, asc);
        for (int i = 0; i < n; i++)
            asc[i] = ldm_sched_np_round(asc[i]);
        *len = n;
    } else if (s->p.timestep_spacing == LDM_SPACING_LEADING) {
        long long ratio = T / n;
        for (int i = 0; i < n; i++)
            asc[i] = (double)((long long)i * ratio + s->p.steps_offset);
        *len = n;
    } else {
        /* round(arange(T, 0, -T/n))[::-1] - 1 */
        double ratio = (double)T / n;
        int m = ldm_sched_arange_len(T, 0, -ratio);
        if (m > n + 1)
            return ldm_error(LDM_EINPUT, "trailing spacing gave %d timesteps for %d steps", m, n);
        ldm_sched_np_arange(T, -ratio, m, asc);
        for (int i = 0; i < m / 2; i++) {
            double v = asc[i];
            asc[i] = asc[m - 1 - i];
            asc[m - 1 - i] = v;
        }
        for (int i = 0; i < m; i++)
            asc[i] = ldm_sched_np_round(asc[i]) - 1;
        *len = m;
    }
    return LDM_OK;
}

ldm_status ldm_sched_pndm_set_timesteps(ldm_scheduler *s, int n)
{
    ldm_status st = LDM_OK;
    int T = s->p.num_train_timesteps, len = 0;
    double *asc = NULL, *ts = s->timesteps;
    LDM_CHECK(ldm_alloc(sizeof(double) * ((size_t)n + 2), "PNDM timesteps", (void **)&asc));
    LDM_CHECK(ascending(s, n, asc, &len));
    if (s->p.skip_prk_steps) {
        /* plms = concat(asc[:-1], asc[-2:-1], asc[-1:])[::-1] */
        int m = 0;
        if (len >= 2) {
            ts[m++] = asc[len - 1];
            ts[m++] = asc[len - 2];
        } else {
            ts[m++] = asc[0];
        }
        for (int i = len - 2; i >= 0; i--)
            ts[m++] = asc[i];
        s->n_prk = 0;
        s->n_timesteps = m;
        goto cleanup;
    }
    if (len < 4) {
        /* diffusers fails to broadcast asc[-4:] against a tile of 8 here */
        st = ldm_error(LDM_EINPUT,
                       "PNDMScheduler without skip_prk_steps needs at least 4 inference steps (got %d)", n);
        goto cleanup;
    }
    /* prk = (asc[-4:].repeat(2) + tile([0, T//n//2], 4))[:-1].repeat(2)[1:-1][::-1] */
    long long half = (long long)T / n / 2;
    double prk8[8];
    for (int j = 0; j < 8; j++)
        prk8[j] = asc[len - 4 + j / 2] + (double)(j % 2 ? half : 0);
    /* [:-1].repeat(2) has 14 entries e[k] = prk8[k / 2]; [1:-1] keeps k = 1..12;
     * reversed: ts[i] = e[12 - i]. */
    for (int i = 0; i < 12; i++)
        ts[i] = prk8[(12 - i) / 2];
    /* plms = asc[:-3][::-1] */
    for (int i = 0; i < len - 3; i++)
        ts[12 + i] = asc[len - 4 - i];
    s->n_prk = 12;
    s->n_timesteps = 12 + len - 3;
cleanup:
    ldm_free(asc);
    return st;
}

/* Append a copy of v to the history (dropping the oldest when full). */
static void push_hist(ldm_scheduler *s, const float *v, int64_t n)
{
    size_t one = sizeof(float) * (size_t)n;
    if (s->n_hist == LDM_SCHED_HIST) {
        memmove(s->hist, s->hist + n, one * (LDM_SCHED_HIST - 1));
        s->n_hist--;
    }
    memcpy(s->hist + (int64_t)s->n_hist * n, v, one);
    s->n_hist++;
}

/* The k-th newest history entry (k = 1: ets[-1]). */
static const float *ets(const ldm_scheduler *s, int k, int64_t n)
{
    return s->hist + (int64_t)(s->n_hist - k) * n;
}

/* PNDMScheduler._get_prev_sample, float32. */
static ldm_status prev_sample(const ldm_scheduler *s, const float *x, double t, double prev_t,
                              const float *m, int64_t n, float *out)
{
    int T = s->p.num_train_timesteps;
    if (!(t >= -T && t < T) || t != floor(t) || prev_t >= T || prev_t != floor(prev_t))
        return ldm_error(LDM_EINPUT, "PNDM step: timestep %g is not an integer in [-%d, %d)", t, T, T);
    float a = ldm_sched_alpha(s, (int64_t)t);
    float ap = prev_t >= 0 ? s->alphas_cumprod[(int64_t)prev_t] : s->final_alpha_cumprod;
    float b = 1.0f - a, bp = 1.0f - ap;
    float sa = sqrtf(a), sb = sqrtf(b);
    float sample_coeff = sqrtf(ap / a);
    float denom = a * sqrtf(bp) + sqrtf(a * b * ap);
    float d = ap - a;
    int v = s->p.prediction_type == LDM_PRED_V;
    for (int64_t i = 0; i < n; i++) {
        float mi = v ? sa * m[i] + sb * x[i] : m[i];
        out[i] = sample_coeff * x[i] - d * mi / denom;
    }
    return LDM_OK;
}

static ldm_status step_prk(ldm_scheduler *s, const float *m, double t, const float *x, int64_t n,
                           float *prev)
{
    int T = s->p.num_train_timesteps;
    long long half = (long long)T / s->num_inference_steps / 2;
    double prev_t = t - (double)(s->counter % 2 ? 0 : half);
    double t_used = s->timesteps[s->counter / 4 * 4];
    const float *m_used = m;
    float *cur = s->cur_model_output;
    switch (s->counter % 4) {
    case 0:
        /* cur_model_output = 0 + 1/6 * model_output; ets.append; cur_sample = sample */
        for (int64_t i = 0; i < n; i++)
            cur[i] = 0.0f + (float)(1.0 / 6.0) * m[i];
        s->has_cur_model_output = 1;
        push_hist(s, m, n);
        memcpy(s->cur_sample, x, sizeof(float) * (size_t)n);
        s->has_cur_sample = 1;
        break;
    case 1:
    case 2:
        for (int64_t i = 0; i < n; i++)
            cur[i] = (s->has_cur_model_output ? cur[i] : 0.0f) + (float)(1.0 / 3.0) * m[i];
        s->has_cur_model_output = 1;
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            s->work[i] = (s->has_cur_model_output ? cur[i] : 0.0f) + (float)(1.0 / 6.0) * m[i];
        s->has_cur_model_output = 0;
        m_used = s->work;
        break;
    }
    const float *x_used = s->has_cur_sample ? s->cur_sample : x;
    ldm_status st = prev_sample(s, x_used, t_used, prev_t, m_used, n, prev);
    s->counter++;
    return st;
}

static ldm_status step_plms(ldm_scheduler *s, const float *m, double t, const float *x, int64_t n,
                            float *prev)
{
    int T = s->p.num_train_timesteps;
    long long ratio = (long long)T / s->num_inference_steps;
    if (!s->p.skip_prk_steps && s->n_hist < 3)
        return ldm_error(LDM_EINPUT, "PNDM: PLMS steps need the 12 PRK steps first");
    double prev_t = t - (double)ratio, t_used = t;
    if (s->counter != 1) {
        push_hist(s, m, n); /* ets = ets[-3:] + [model_output] */
    } else {
        prev_t = t;
        t_used = t + (double)ratio;
    }
    const float *x_used = x;
    float *w = s->work;
    if (s->n_hist == 1 && s->counter == 0) {
        memcpy(w, m, sizeof(float) * (size_t)n);
        memcpy(s->cur_sample, x, sizeof(float) * (size_t)n);
        s->has_cur_sample = 1;
    } else if (s->n_hist == 1 && s->counter == 1) {
        if (!s->has_cur_sample)
            return ldm_error(LDM_EINPUT, "PNDM: second PLMS step without a first");
        const float *e1 = ets(s, 1, n);
        for (int64_t i = 0; i < n; i++)
            w[i] = (m[i] + e1[i]) / 2.0f;
        x_used = s->cur_sample;
        s->has_cur_sample = 0; /* diffusers sets it to None after this step */
    } else if (s->n_hist == 2) {
        const float *e1 = ets(s, 1, n), *e2 = ets(s, 2, n);
        for (int64_t i = 0; i < n; i++)
            w[i] = (3.0f * e1[i] - e2[i]) / 2.0f;
    } else if (s->n_hist == 3) {
        const float *e1 = ets(s, 1, n), *e2 = ets(s, 2, n), *e3 = ets(s, 3, n);
        for (int64_t i = 0; i < n; i++)
            w[i] = (23.0f * e1[i] - 16.0f * e2[i] + 5.0f * e3[i]) / 12.0f;
    } else {
        const float *e1 = ets(s, 1, n), *e2 = ets(s, 2, n), *e3 = ets(s, 3, n), *e4 = ets(s, 4, n);
        const float c = (float)(1.0 / 24.0);
        for (int64_t i = 0; i < n; i++)
            w[i] = c * (55.0f * e1[i] - 59.0f * e2[i] + 37.0f * e3[i] - 9.0f * e4[i]);
    }
    /* x_used may be cur_sample, whose copy is still needed only in the first
     * branch (already taken); prev may alias x. */
    ldm_status st = prev_sample(s, x_used, t_used, prev_t, w, n, prev);
    s->counter++;
    return st;
}

ldm_status ldm_sched_pndm_step(ldm_scheduler *s, const float *model_output, double t,
                               const float *sample, int64_t n, float *prev)
{
    if (s->counter < s->n_prk && !s->p.skip_prk_steps)
        return step_prk(s, model_output, t, sample, n, prev);
    return step_plms(s, model_output, t, sample, n, prev);
}
