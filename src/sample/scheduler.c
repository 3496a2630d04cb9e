/* The scheduler interface: dispatch on the kind, buffers, checkpoint state. */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "sample/scheduler_impl.h"

ldm_status ldm_scheduler_set_timesteps(ldm_scheduler *s, int steps)
{
    ldm_status st;
    int T = s->p.num_train_timesteps;
    if (steps < 1 || steps > T)
        return ldm_error(LDM_EINPUT, "num_inference_steps %d must be between 1 and num_train_timesteps (%d)",
                         steps, T);
    /* PNDM: steps + 9 timesteps at most; "trailing" may give one extra. */
    ldm_free(s->timesteps);
    s->timesteps = NULL;
    st = ldm_alloc(sizeof(double) * ((size_t)steps + 10), "timesteps", (void **)&s->timesteps);
    if (st != LDM_OK)
        return st;
    s->n_timesteps = 0;
    s->n_prk = 0;
    s->num_inference_steps = 0;
    if (s->kind == LDM_SCHEDULER_DDIM)
        st = ldm_sched_ddim_set_timesteps(s, steps);
    else if (s->kind == LDM_SCHEDULER_PNDM)
        st = ldm_sched_pndm_set_timesteps(s, steps);
    else
        st = ldm_sched_lms_set_timesteps(s, steps);
    if (st != LDM_OK) {
        s->n_timesteps = 0;
        return st;
    }
    if (s->kind != LDM_SCHEDULER_LMS) {
        /* Every timestep indexes alphas_cumprod (negative ones from the end,
         * as Python does): diffusers would fail with an IndexError at that
         * step; we fail before the first one. */
        for (int i = 0; i < s->n_timesteps; i++) {
            double t = s->timesteps[i];
            if (t < -T || t >= T) {
                s->n_timesteps = 0;
                return ldm_error(LDM_EINPUT,
                                 "timestep %.0f (steps_offset %lld, %d steps) is past the %d training "
                                 "timesteps",
                                 t, s->p.steps_offset, steps, T);
            }
        }
    }
    s->num_inference_steps = steps;
    s->step_index = -1;
    s->counter = 0;
    s->n_hist = 0;
    s->has_cur_sample = 0;
    s->has_cur_model_output = 0;
    return LDM_OK;
}

void ldm_scheduler_timesteps(const ldm_scheduler *s, const double **ts, int *n)
{
    *ts = s->timesteps;
    *n = s->n_timesteps;
}

double ldm_scheduler_init_noise_sigma(const ldm_scheduler *s)
{
    return s->init_noise_sigma;
}

int ldm_scheduler_needs_noise(const ldm_scheduler *s, float eta)
{
    return s->kind == LDM_SCHEDULER_DDIM && eta > 0;
}

ldm_status ldm_scheduler_set_batch(ldm_scheduler *s, int64_t batch)
{
    if (batch < 1)
        return ldm_error(LDM_EINPUT, "scheduler batch size %lld must be positive", (long long)batch);
    if (s->n > 0 && s->n % batch != 0)
        return ldm_error(LDM_EINPUT, "scheduler batch size %lld does not divide the sample size %lld",
                         (long long)batch, (long long)s->n);
    s->batch = batch;
    ldm_free(s->sorted); /* re-sized on the next step */
    s->sorted = NULL;
    return LDM_OK;
}

ldm_status ldm_scheduler_scale_model_input(ldm_scheduler *s, const float *sample, int64_t n,
                                           double t, float *out)
{
    if (n <= 0)
        return ldm_error(LDM_EINPUT, "scale_model_input: sample has %lld elements", (long long)n);
    if (s->kind != LDM_SCHEDULER_LMS) {
        if (out != sample)
            memmove(out, sample, sizeof(float) * (size_t)n);
        return LDM_OK;
    }
    if (s->step_index < 0) {
        ldm_status st = ldm_sched_lms_init_step_index(s, t);
        if (st != LDM_OK)
            return st;
    }
    if (s->step_index > s->n_timesteps)
        return ldm_error(LDM_EINPUT, "scale_model_input: past the last of %d LMS steps", s->n_timesteps);
    /* sample / ((sigma**2 + 1) ** 0.5), float32 */
    float sigma = s->sigmas[s->step_index];
    float d = sqrtf(sigma * sigma + 1.0f);
    for (int64_t i = 0; i < n; i++)
        out[i] = sample[i] / d;
    return LDM_OK;
}

ldm_status ldm_sched_reserve(ldm_scheduler *s, int64_t n)
{
    ldm_status st = LDM_OK;
    size_t bytes;
    if (s->n == n && s->work)
        return LDM_OK;
    if (s->n != 0 && s->n != n)
        return ldm_error(LDM_EINPUT, "scheduler: sample has %lld elements, earlier steps had %lld",
                         (long long)n, (long long)s->n);
    LDM_CHECK(ldm_mul_size((size_t)n, sizeof(float), &bytes));
    LDM_CHECK(ldm_calloc(bytes, "scheduler work buffer", (void **)&s->work));
    if (s->kind != LDM_SCHEDULER_DDIM) {
        size_t hist_bytes;
        LDM_CHECK(ldm_mul_size(bytes, LDM_SCHED_HIST, &hist_bytes));
        LDM_CHECK(ldm_calloc(hist_bytes, "scheduler history", (void **)&s->hist));
    }
    if (s->kind == LDM_SCHEDULER_PNDM) {
        LDM_CHECK(ldm_calloc(bytes, "PNDM cur_sample", (void **)&s->cur_sample));
        LDM_CHECK(ldm_calloc(bytes, "PNDM cur_model_output", (void **)&s->cur_model_output));
    }
    s->n = n;
cleanup:
    return st;
}

ldm_status ldm_scheduler_step(ldm_scheduler *s, const float *model_output, double t,
                              const float *sample, int64_t n, float eta, const float *noise,
                              float *prev_sample)
{
    ldm_status st = LDM_OK;
    if (s->num_inference_steps == 0 || s->n_timesteps == 0)
        return ldm_error(LDM_EINPUT, "scheduler: set_timesteps must come before step");
    if (n <= 0)
        return ldm_error(LDM_EINPUT, "scheduler step: sample has %lld elements", (long long)n);
    if (ldm_scheduler_needs_noise(s, eta) && !noise)
        return ldm_error(LDM_EINPUT, "DDIM step with eta %g needs a noise tensor", (double)eta);
    LDM_CHECK(ldm_sched_reserve(s, n));
    if (s->kind == LDM_SCHEDULER_DDIM)
        st = ldm_sched_ddim_step(s, model_output, t, sample, n, eta, noise, prev_sample);
    else if (s->kind == LDM_SCHEDULER_PNDM)
        st = ldm_sched_pndm_step(s, model_output, t, sample, n, prev_sample);
    else
        st = ldm_sched_lms_step(s, model_output, t, sample, n, prev_sample);
cleanup:
    return st;
}

/* ---- checkpoint state ------------------------------------------------------ */

static const char STATE_MAGIC[8] = {'L', 'D', 'M', 'S', 'C', 'H', 'S', '1'};
enum { STATE_HEADER = 72 };

/* Float arrays of n elements after the header: DDIM 0, LMS 4, PNDM 6. */
static int state_arrays(ldm_scheduler_kind kind)
{
    return kind == LDM_SCHEDULER_DDIM ? 0 : kind == LDM_SCHEDULER_LMS ? LDM_SCHED_HIST : LDM_SCHED_HIST + 2;
}

ldm_status ldm_scheduler_state_bytes(const ldm_scheduler *s, int64_t n, size_t *bytes)
{
    size_t floats;
    if (n <= 0)
        return ldm_error(LDM_EINPUT, "scheduler state: sample size %lld", (long long)n);
    ldm_status st = ldm_mul_size((size_t)n, (size_t)state_arrays(s->kind) * sizeof(float), &floats);
    if (st != LDM_OK)
        return st;
    *bytes = STATE_HEADER + floats;
    return LDM_OK;
}

static void put_i64(unsigned char *buf, int slot, int64_t v)
{
    memcpy(buf + 8 + 8 * slot, &v, sizeof(v));
}

static int64_t get_i64(const unsigned char *buf, int slot)
{
    int64_t v;
    memcpy(&v, buf + 8 + 8 * slot, sizeof(v));
    return v;
}

ldm_status ldm_scheduler_state_save(const ldm_scheduler *s, int64_t n, void *buf, size_t bytes)
{
    size_t want;
    ldm_status st = ldm_scheduler_state_bytes(s, n, &want);
    if (st != LDM_OK)
        return st;
    if (bytes != want)
        return ldm_error(LDM_EINPUT, "scheduler state: buffer of %zu bytes, need %zu", bytes, want);
    if (s->n != 0 && s->n != n)
        return ldm_error(LDM_EINPUT, "scheduler state: sample size %lld, steps used %lld", (long long)n,
                         (long long)s->n);
    unsigned char *b = buf;
    memset(b, 0, bytes);
    memcpy(b, STATE_MAGIC, 8);
    put_i64(b, 0, s->kind);
    put_i64(b, 1, s->num_inference_steps);
    put_i64(b, 2, n);
    put_i64(b, 3, s->step_index);
    put_i64(b, 4, s->counter);
    put_i64(b, 5, s->n_hist);
    put_i64(b, 6, s->has_cur_sample);
    put_i64(b, 7, s->has_cur_model_output);
    if (s->n == 0)
        return LDM_OK; /* no step yet: the arrays stay zero */
    size_t one = sizeof(float) * (size_t)n;
    unsigned char *f = b + STATE_HEADER;
    if (s->hist)
        memcpy(f, s->hist, one * (size_t)s->n_hist);
    if (s->kind == LDM_SCHEDULER_PNDM) {
        if (s->has_cur_sample)
            memcpy(f + one * LDM_SCHED_HIST, s->cur_sample, one);
        if (s->has_cur_model_output)
            memcpy(f + one * (LDM_SCHED_HIST + 1), s->cur_model_output, one);
    }
    return LDM_OK;
}

ldm_status ldm_scheduler_state_restore(ldm_scheduler *s, const void *buf, size_t bytes)
{
    const unsigned char *b = buf;
    if (bytes < STATE_HEADER || memcmp(b, STATE_MAGIC, 8) != 0)
        return ldm_error(LDM_EINPUT, "scheduler state: not a saved scheduler state");
    int64_t kind = get_i64(b, 0), steps = get_i64(b, 1), n = get_i64(b, 2);
    int64_t step_index = get_i64(b, 3), counter = get_i64(b, 4), n_hist = get_i64(b, 5);
    int64_t has_cs = get_i64(b, 6), has_cmo = get_i64(b, 7);
    if (kind != s->kind)
        return ldm_error(LDM_EINPUT, "scheduler state: saved by another scheduler kind (%lld, this is %s)",
                         (long long)kind, ldm_scheduler_name(s));
    if (steps != s->num_inference_steps || s->n_timesteps == 0)
        return ldm_error(LDM_EINPUT, "scheduler state: saved for %lld steps, set_timesteps gave %d",
                         (long long)steps, s->num_inference_steps);
    size_t want;
    ldm_status st = ldm_scheduler_state_bytes(s, n, &want);
    if (st != LDM_OK)
        return st;
    if (bytes != want)
        return ldm_error(LDM_EINPUT, "scheduler state: %zu bytes, expected %zu for %lld elements", bytes,
                         want, (long long)n);
    int max_hist = s->kind == LDM_SCHEDULER_DDIM ? 0 : LDM_SCHED_HIST;
    if (n_hist < 0 || n_hist > max_hist || step_index < -1 || step_index > s->n_timesteps ||
        counter < 0 || counter > (int64_t)1 << 40 || (has_cs != 0 && has_cs != 1) ||
        (has_cmo != 0 && has_cmo != 1))
        return ldm_error(LDM_EINPUT, "scheduler state: counters out of range");
    if (s->n != n) {
        /* a fresh scheduler (or one used with another size): new buffers */
        ldm_free(s->work);
        ldm_free(s->hist);
        ldm_free(s->cur_sample);
        ldm_free(s->cur_model_output);
        ldm_free(s->sorted);
        s->work = s->hist = s->cur_sample = s->cur_model_output = s->sorted = NULL;
        s->n = 0;
    }
    st = ldm_sched_reserve(s, n);
    if (st != LDM_OK)
        return st;
    s->step_index = step_index;
    s->counter = counter;
    s->n_hist = (int)n_hist;
    s->has_cur_sample = (int)has_cs;
    s->has_cur_model_output = (int)has_cmo;
    size_t one = sizeof(float) * (size_t)n;
    const unsigned char *f = b + STATE_HEADER;
    if (s->hist)
        memcpy(s->hist, f, one * LDM_SCHED_HIST);
    if (s->kind == LDM_SCHEDULER_PNDM) {
        memcpy(s->cur_sample, f + one * LDM_SCHED_HIST, one);
        memcpy(s->cur_model_output, f + one * (LDM_SCHED_HIST + 1), one);
    }
    return LDM_OK;
}
