/* LMSDiscreteScheduler (diffusers 0.27.2): sigmas interpolated over the
 * timesteps (np.interp in float64, stored as float32), optional Karras
 * sigmas, and the linear multistep update with up to 4 past derivatives.
 *
 * diffusers integrates each Lagrange basis polynomial with scipy's quad; the
 * polynomial has degree <= 3, so we integrate it exactly. (diffusers' integrand
 * runs in float32 torch ops, so its quad results carry ~1e-7 relative noise:
 * the coefficients agree to that, not to 1e-12.) */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "sample/scheduler_impl.h"

double ldm_sched_lagrange_integral(const double *nodes, int order, int cur, double a, double b)
{
    /* prod_{k != cur} (tau - nodes[k]) / (nodes[cur] - nodes[k]), integrated
     * over [a, b] in u = tau - a, which keeps the powers of h = b - a small. */
    double c[LDM_LMS_ORDER + 1] = {1.0}; /* c[j]: coefficient of u^j */
    double den = 1.0;
    int deg = 0;
    for (int k = 0; k < order; k++) {
        if (k == cur)
            continue;
        double r = nodes[k] - a;
        c[deg + 1] = 0.0;
        for (int j = deg + 1; j >= 1; j--)
            c[j] = c[j - 1] - r * c[j];
        c[0] = -r * c[0];
        deg++;
        den *= nodes[cur] - nodes[k];
    }
    double h = b - a, hp = h, sum = 0.0;
    for (int j = 0; j <= deg; j++) {
        sum += c[j] * hp / (j + 1);
        hp *= h;
    }
    return sum / den;
}

/* np.interp(x, arange(T), fp) for x in float64 and fp[T] float32 values. */
static double np_interp(double x, const float *fp, int T)
{
    if (x < 0)
        return fp[0];
    if (x >= T - 1) /* the last point, or right of it (numpy's right=fp[-1]) */
        return fp[T - 1];
    int64_t j = (int64_t)floor(x);
    if ((double)j == x)
        return fp[j];
    double slope = ((double)fp[j + 1] - (double)fp[j]) / 1.0;
    return slope * (x - (double)j) + (double)fp[j];
}

/* LMSDiscreteScheduler._sigma_to_t with log_sigmas[T] float32. */
static double sigma_to_t(double sigma, const float *log_sigmas, int T)
{
    double log_sigma = log(sigma > 1e-10 ? sigma : 1e-10);
    /* low_idx = argmax(cumsum(log_sigma - log_sigmas >= 0)): the last index
     * where the difference is >= 0, or 0 when there is none; at most T - 2 */
    int low = 0;
    for (int j = 0; j < T; j++) {
        if (log_sigma - (double)log_sigmas[j] >= 0)
            low = j;
    }
    if (low > T - 2)
        low = T - 2;
    int high = low + 1;
    float lo = log_sigmas[low], hi = log_sigmas[high];
    double w = ((double)lo - log_sigma) / (double)(lo - hi); /* lo - hi: float32 */
    w = w < 0 ? 0 : w > 1 ? 1 : w;
    return (1 - w) * low + w * high;
}

ldm_status ldm_sched_lms_set_timesteps(ldm_scheduler *s, int n)
{
    ldm_status st = LDM_OK;
    int T = s->p.num_train_timesteps;
    float *all = NULL; /* [T] sigmas of every training step, float32 */
    double *sig = NULL; /* [n + 1] interpolated sigmas, float64 */
    double *ts = s->timesteps;
    int len = n;
    if (s->p.use_karras_sigmas && T < 2)
        return ldm_error(LDM_EINPUT, "use_karras_sigmas needs num_train_timesteps >= 2");
    /* timesteps: float32 values (held in doubles) */
    if (s->p.timestep_spacing == LDM_SPACING_LINSPACE) {
        ldm_sched_np_linspace(0, T - 1, n, ts);
        for (int i = 0; i < n / 2; i++) {
            double v = ts[i];
            ts[i] = ts[n - 1 - i];
            ts[n - 1 - i] = v;
        }
        for (int i = 0; i < n; i++)
            ts[i] = (float)ts[i];
    } else if (s->p.timestep_spacing == LDM_SPACING_LEADING) {
        long long ratio = T / n;
        for (int i = 0; i < n; i++)
            ts[i] = (float)((float)((long long)(n - 1 - i) * ratio) + (float)s->p.steps_offset);
    } else {
        double ratio = (double)T / n;
        len = ldm_sched_arange_len(T, 0, -ratio);
        if (len > n + 1)
            return ldm_error(LDM_EINPUT, "trailing spacing gave %d timesteps for %d steps", len, n);
        ldm_sched_np_arange(T, -ratio, len, ts);
        for (int i = 0; i < len; i++)
            ts[i] = (float)((float)ldm_sched_np_round(ts[i]) - 1.0f);
    }
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)T, "LMS sigmas", (void **)&all));
    LDM_CHECK(ldm_alloc(sizeof(double) * ((size_t)len + 1), "LMS sigmas", (void **)&sig));
    /* ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5, float32 torch ops */
    for (int j = 0; j < T; j++) {
        float a = s->alphas_cumprod[j];
        all[j] = sqrtf((1.0f - a) / a);
    }
    for (int i = 0; i < len; i++)
        sig[i] = np_interp(ts[i], all, T);
    if (s->p.use_karras_sigmas) {
        /* _convert_to_karras (rho = 7), then timesteps from _sigma_to_t */
        double min_inv = pow(sig[len - 1], 1.0 / 7.0), max_inv = pow(sig[0], 1.0 / 7.0);
        ldm_sched_np_linspace(0, 1, len, ts); /* ramp, reusing ts */
        for (int i = 0; i < len; i++)
            sig[i] = pow(max_inv + ts[i] * (min_inv - max_inv), 7.0);
        for (int j = 0; j < T; j++)
            all[j] = logf(all[j]);
        for (int i = 0; i < len; i++)
            ts[i] = sigma_to_t(sig[i], all, T);
    }
    ldm_free(s->sigmas);
    s->sigmas = NULL;
    LDM_CHECK(ldm_alloc(sizeof(float) * ((size_t)len + 1), "LMS sigmas", (void **)&s->sigmas));
    float mx = 0.0f;
    for (int i = 0; i < len; i++) {
        s->sigmas[i] = (float)sig[i];
        mx = s->sigmas[i] > mx ? s->sigmas[i] : mx;
    }
    s->sigmas[len] = 0.0f;
    s->n_timesteps = len;
    /* init_noise_sigma: sigmas.max(), or (max**2 + 1) ** 0.5 for "leading" */
    s->init_noise_sigma = s->p.timestep_spacing == LDM_SPACING_LEADING ? sqrtf(mx * mx + 1.0f) : mx;
cleanup:
    ldm_free(all);
    ldm_free(sig);
    return st;
}

ldm_status ldm_sched_lms_init_step_index(ldm_scheduler *s, double t)
{
    /* index_for_timestep: the second match if there are several, else the first */
    int first = -1, matches = 0, second = -1;
    for (int i = 0; i < s->n_timesteps; i++) {
        if (s->timesteps[i] == t) {
            if (matches == 0)
                first = i;
            else if (matches == 1)
                second = i;
            matches++;
        }
    }
    if (matches == 0)
        return ldm_error(LDM_EINPUT, "LMS: timestep %.17g is not in the schedule", t);
    s->step_index = matches > 1 ? second : first;
    return LDM_OK;
}

ldm_status ldm_sched_lms_step(ldm_scheduler *s, const float *m, double t, const float *x, int64_t n,
                              float *prev)
{
    if (s->step_index < 0) {
        ldm_status st = ldm_sched_lms_init_step_index(s, t);
        if (st != LDM_OK)
            return st;
    }
    int64_t k = s->step_index;
    if (k >= s->n_timesteps)
        return ldm_error(LDM_EINPUT, "LMS step: all %d steps are done", s->n_timesteps);
    float sigma = s->sigmas[k];

    /* derivatives.append((sample - pred_original_sample) / sigma), keep 4 */
    size_t one = sizeof(float) * (size_t)n;
    if (s->n_hist == LDM_LMS_ORDER) {
        memmove(s->hist, s->hist + n, one * (LDM_LMS_ORDER - 1));
        s->n_hist--;
    }
    float *d = s->hist + (int64_t)s->n_hist * n;
    float s2 = sigma * sigma + 1.0f;
    float cv = -sigma / sqrtf(s2);
    for (int64_t i = 0; i < n; i++) {
        float x0;
        if (s->p.prediction_type == LDM_PRED_EPSILON)
            x0 = x[i] - sigma * m[i];
        else if (s->p.prediction_type == LDM_PRED_V)
            x0 = m[i] * cv + x[i] / s2;
        else
            x0 = m[i];
        d[i] = (x[i] - x0) / sigma;
    }
    s->n_hist++;

    int order = k + 1 < LDM_LMS_ORDER ? (int)k + 1 : LDM_LMS_ORDER;
    double nodes[LDM_LMS_ORDER];
    float coeff[LDM_LMS_ORDER];
    for (int j = 0; j < order; j++)
        nodes[j] = s->sigmas[k - j];
    for (int j = 0; j < order; j++)
        coeff[j] = (float)ldm_sched_lagrange_integral(nodes, order, j, s->sigmas[k], s->sigmas[k + 1]);
    /* sample + sum(coeff * derivative for ... zip(coeffs, reversed(derivatives))) */
    int terms = order < s->n_hist ? order : s->n_hist;
    for (int64_t i = 0; i < n; i++) {
        float acc = 0.0f;
        for (int j = 0; j < terms; j++)
            acc = acc + coeff[j] * s->hist[(int64_t)(s->n_hist - 1 - j) * n + i];
        prev[i] = x[i] + acc;
    }
    s->step_index++;
    return LDM_OK;
}
