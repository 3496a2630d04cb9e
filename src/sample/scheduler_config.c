/* Building a scheduler from scheduler_config.json the way diffusers'
 * ConfigMixin.from_config does, and the betas / alphas_cumprod every one of
 * the three classes derives from it (float32, as torch computes them). */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "sample/scheduler_impl.h"

static const char *const CLASS_NAMES[] = {"DDIMScheduler", "PNDMScheduler", "LMSDiscreteScheduler"};
static const char *const SHORT_NAMES[] = {"ddim", "pndm", "lms"};

/* ---- reading keys as from_config does ------------------------------------ */

/* Keys named in "_use_default_values" are dropped before the class sees the
 * config (diffusers' extract_init_dict), so they take the class default. */
static int uses_default(const ldm_config *c, const char *key)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(c->root, "_use_default_values");
    const cJSON *e;
    if (!cJSON_IsArray(list))
        return 0;
    cJSON_ArrayForEach(e, list)
    {
        if (cJSON_IsString(e) && strcmp(e->valuestring, key) == 0)
            return 1;
    }
    return 0;
}

/* The key's JSON value, or NULL when the class default applies. */
static const cJSON *raw(const ldm_config *c, const char *key)
{
    if (uses_default(c, key))
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(c->root, key);
}

/* A JSON null reaches diffusers as None: falsy for a flag, an error (as in
 * diffusers, later) for a number or a string that is used. */
static ldm_status get_bool(const ldm_config *c, const char *key, int def, int *out)
{
    const cJSON *it = raw(c, key);
    if (!it) {
        *out = def;
        return LDM_OK;
    }
    if (cJSON_IsNull(it)) {
        *out = 0;
        return LDM_OK;
    }
    return ldm_config_bool(c, key, def, out);
}

static ldm_status not_null(const ldm_config *c, const char *key, const char *what, int *present)
{
    const cJSON *it = raw(c, key);
    *present = it != NULL;
    if (it && cJSON_IsNull(it))
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be %s, not null", c->path, key, what);
    return LDM_OK;
}

static ldm_status get_double(const ldm_config *c, const char *key, double def, double *out)
{
    int present;
    ldm_status st = not_null(c, key, "a number", &present);
    if (st != LDM_OK)
        return st;
    if (!present) {
        *out = def;
        return LDM_OK;
    }
    st = ldm_config_double(c, key, def, out);
    if (st == LDM_OK && !isfinite(*out))
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be finite", c->path, key);
    return st;
}

static ldm_status get_int(const ldm_config *c, const char *key, long long def, long long *out)
{
    int present;
    ldm_status st = not_null(c, key, "an integer", &present);
    if (st != LDM_OK)
        return st;
    if (!present) {
        *out = def;
        return LDM_OK;
    }
    return ldm_config_int(c, key, def, out);
}

/* A string key whose value must be one of names[0..count-1]. */
static ldm_status get_choice(const ldm_config *c, const char *key, const char *const *names,
                             int count, int def, const char *cls, int *out)
{
    int present;
    const char *v = NULL;
    ldm_status st = not_null(c, key, "a string", &present);
    if (st != LDM_OK)
        return st;
    if (!present) {
        *out = def;
        return LDM_OK;
    }
    st = ldm_config_string(c, key, NULL, &v);
    if (st != LDM_OK)
        return st;
    for (int i = 0; i < count; i++) {
        if (names[i] && strcmp(v, names[i]) == 0) {
            *out = i;
            return LDM_OK;
        }
    }
    return ldm_error(LDM_EINPUT, "%s: unsupported %s \"%s\" for %s", c->path, key, v, cls);
}

/* ---- the keys of each class ---------------------------------------------- */

static ldm_status read_betas(const ldm_config *c, const char *cls, ldm_scheduler_params *p)
{
    static const char *const schedules[] = {"linear", "scaled_linear", "squaredcos_cap_v2"};
    long long T;
    ldm_status st = get_int(c, "num_train_timesteps", 1000, &T);
    if (st != LDM_OK)
        return st;
    if (T < 1 || T > 1000000)
        return ldm_error(LDM_EINPUT, "%s: num_train_timesteps %lld out of range [1, 1000000]",
                         c->path, T);
    p->num_train_timesteps = (int)T;

    const cJSON *tb = raw(c, "trained_betas");
    if (tb && !cJSON_IsNull(tb)) {
        /* diffusers: trained_betas wins; beta_schedule/start/end are not read. */
        int n = 0;
        st = ldm_config_double_array(c, "trained_betas", &p->trained_betas, &n);
        if (st != LDM_OK)
            return st;
        if (n != p->num_train_timesteps)
            return ldm_error(LDM_EINPUT, "%s: trained_betas has %d entries, num_train_timesteps is %d",
                             c->path, n, p->num_train_timesteps);
        return LDM_OK;
    }
    int sched;
    st = get_choice(c, "beta_schedule", schedules, 3, LDM_BETA_LINEAR, cls, &sched);
    if (st != LDM_OK)
        return st;
    p->beta_schedule = (ldm_beta_schedule)sched;
    if (p->beta_schedule == LDM_BETA_SQUAREDCOS)
        return LDM_OK;
    st = get_double(c, "beta_start", 0.0001, &p->beta_start);
    if (st == LDM_OK)
        st = get_double(c, "beta_end", 0.02, &p->beta_end);
    if (st == LDM_OK && p->beta_schedule == LDM_BETA_SCALED_LINEAR &&
        (p->beta_start < 0 || p->beta_end < 0))
        return ldm_error(LDM_EINPUT, "%s: scaled_linear needs beta_start and beta_end >= 0", c->path);
    return st;
}

/* timestep_spacing, and steps_offset which only "leading" reads. */
static ldm_status read_spacing(const ldm_config *c, int def, const char *cls, ldm_scheduler_params *p)
{
    static const char *const spacings[] = {"leading", "linspace", "trailing"};
    int sp;
    ldm_status st = get_choice(c, "timestep_spacing", spacings, 3, def, cls, &sp);
    if (st != LDM_OK)
        return st;
    p->timestep_spacing = (ldm_spacing)sp;
    if (p->timestep_spacing != LDM_SPACING_LEADING)
        return LDM_OK;
    st = get_int(c, "steps_offset", 0, &p->steps_offset);
    if (st == LDM_OK && (p->steps_offset < -1000000 || p->steps_offset > 1000000))
        return ldm_error(LDM_EINPUT, "%s: steps_offset %lld out of range", c->path, p->steps_offset);
    return st;
}

static ldm_status read_ddim(const ldm_config *c, ldm_scheduler_params *p)
{
    static const char *const preds[] = {"epsilon", "v_prediction", "sample"};
    const char *cls = CLASS_NAMES[LDM_SCHEDULER_DDIM];
    int pred;
    ldm_status st = LDM_OK;
    LDM_CHECK(get_bool(c, "clip_sample", 1, &p->clip_sample));
    LDM_CHECK(get_bool(c, "set_alpha_to_one", 1, &p->set_alpha_to_one));
    LDM_CHECK(get_choice(c, "prediction_type", preds, 3, LDM_PRED_EPSILON, cls, &pred));
    p->prediction_type = (ldm_prediction_type)pred;
    LDM_CHECK(get_bool(c, "thresholding", 0, &p->thresholding));
    if (p->thresholding) {
        LDM_CHECK(get_double(c, "dynamic_thresholding_ratio", 0.995, &p->dynamic_thresholding_ratio));
        LDM_CHECK(get_double(c, "sample_max_value", 1.0, &p->sample_max_value));
        if (!(p->dynamic_thresholding_ratio >= 0 && p->dynamic_thresholding_ratio <= 1)) {
            st = ldm_error(LDM_EINPUT, "%s: dynamic_thresholding_ratio %g must be in [0, 1]", c->path,
                           p->dynamic_thresholding_ratio);
            goto cleanup;
        }
    } else if (p->clip_sample) {
        LDM_CHECK(get_double(c, "clip_sample_range", 1.0, &p->clip_sample_range));
    }
    LDM_CHECK(read_spacing(c, LDM_SPACING_LEADING, cls, p));
    LDM_CHECK(get_bool(c, "rescale_betas_zero_snr", 0, &p->rescale_betas_zero_snr));
cleanup:
    return st;
}

static ldm_status read_pndm(const ldm_config *c, ldm_scheduler_params *p)
{
    /* PNDM's _get_prev_sample accepts epsilon and v_prediction only. */
    static const char *const preds[] = {"epsilon", "v_prediction", NULL};
    const char *cls = CLASS_NAMES[LDM_SCHEDULER_PNDM];
    int pred;
    ldm_status st = LDM_OK;
    LDM_CHECK(get_bool(c, "skip_prk_steps", 0, &p->skip_prk_steps));
    LDM_CHECK(get_bool(c, "set_alpha_to_one", 0, &p->set_alpha_to_one));
    LDM_CHECK(get_choice(c, "prediction_type", preds, 3, LDM_PRED_EPSILON, cls, &pred));
    p->prediction_type = (ldm_prediction_type)pred;
    LDM_CHECK(read_spacing(c, LDM_SPACING_LEADING, cls, p));
cleanup:
    return st;
}

static ldm_status read_lms(const ldm_config *c, ldm_scheduler_params *p)
{
    static const char *const preds[] = {"epsilon", "v_prediction", "sample"};
    const char *cls = CLASS_NAMES[LDM_SCHEDULER_LMS];
    int pred;
    ldm_status st = LDM_OK;
    LDM_CHECK(get_bool(c, "use_karras_sigmas", 0, &p->use_karras_sigmas));
    LDM_CHECK(get_choice(c, "prediction_type", preds, 3, LDM_PRED_EPSILON, cls, &pred));
    p->prediction_type = (ldm_prediction_type)pred;
    LDM_CHECK(read_spacing(c, LDM_SPACING_LINSPACE, cls, p));
cleanup:
    return st;
}

/* ---- betas and alphas_cumprod --------------------------------------------- */

/* torch.linspace(a, b, steps, dtype=float32) on the CPU: the endpoints are
 * rounded to float, step = (end - start) / (steps - 1) in float, and each
 * value is start + step*i (first half) or end - step*(steps-1-i) (second
 * half), which torch's build contracts into one fma. */
static void torch_linspace_f32(double a, double b, int steps, float *out)
{
    float start = (float)a, end = (float)b;
    if (steps == 1) {
        out[0] = start;
        return;
    }
    float step = (end - start) / (float)(steps - 1);
    int half = steps / 2;
    for (int i = 0; i < steps; i++)
        out[i] = i < half ? fmaf(step, (float)i, start) : fmaf(-step, (float)(steps - 1 - i), end);
}

/* torch.cumprod on the CPU accumulates float32 inputs in double. */
static void cumprod_f32(const float *x, int n, float *out)
{
    double acc = 1.0;
    for (int i = 0; i < n; i++) {
        acc *= (double)x[i];
        out[i] = (float)acc;
    }
}

/* betas_for_alpha_bar(T) with the cosine transform, in Python doubles. */
static double alpha_bar_cos(double t)
{
    const double pi = 3.141592653589793; /* Python's math.pi */
    return pow(cos((t + 0.008) / 1.008 * pi / 2), 2.0); /* Python's ** is pow() */
}

/* rescale_zero_terminal_snr(betas), float32 torch ops; ab: [T] scratch. */
static void rescale_zero_snr(float *betas, int T, float *ab)
{
    for (int i = 0; i < T; i++)
        betas[i] = 1.0f - betas[i];
    cumprod_f32(betas, T, ab);
    for (int i = 0; i < T; i++)
        ab[i] = sqrtf(ab[i]);
    float s0 = ab[0], sT = ab[T - 1];
    float scale = s0 / (s0 - sT);
    for (int i = 0; i < T; i++) {
        float v = (ab[i] - sT) * scale;
        ab[i] = v * v;
    }
    /* alphas = cat([ab[0:1], ab[1:] / ab[:-1]]); betas = 1 - alphas */
    betas[0] = 1.0f - ab[0];
    for (int i = 1; i < T; i++)
        betas[i] = 1.0f - ab[i] / ab[i - 1];
}

ldm_status ldm_sched_make_alphas(ldm_scheduler *s)
{
    ldm_status st = LDM_OK;
    const ldm_scheduler_params *p = &s->p;
    int T = p->num_train_timesteps;
    float *betas = NULL, *scratch = NULL;
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)T, "betas", (void **)&betas));
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)T, "alphas_cumprod", (void **)&s->alphas_cumprod));
    if (p->trained_betas) {
        for (int i = 0; i < T; i++)
            betas[i] = (float)p->trained_betas[i];
    } else if (p->beta_schedule == LDM_BETA_LINEAR) {
        torch_linspace_f32(p->beta_start, p->beta_end, T, betas);
    } else if (p->beta_schedule == LDM_BETA_SCALED_LINEAR) {
        /* Python's beta_start**0.5 is pow(); torch's x**2 is x*x. */
        torch_linspace_f32(pow(p->beta_start, 0.5), pow(p->beta_end, 0.5), T, betas);
        for (int i = 0; i < T; i++)
            betas[i] = betas[i] * betas[i];
    } else {
        for (int i = 0; i < T; i++) {
            double b = 1 - alpha_bar_cos((double)(i + 1) / T) / alpha_bar_cos((double)i / T);
            betas[i] = (float)(b < 0.999 ? b : 0.999);
        }
    }
    if (s->kind == LDM_SCHEDULER_DDIM && p->rescale_betas_zero_snr) {
        LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)T, "rescaled betas", (void **)&scratch));
        rescale_zero_snr(betas, T, scratch);
    }
    for (int i = 0; i < T; i++)
        betas[i] = 1.0f - betas[i]; /* alphas */
    cumprod_f32(betas, T, s->alphas_cumprod);
    s->final_alpha_cumprod = p->set_alpha_to_one ? 1.0f : s->alphas_cumprod[0];
cleanup:
    ldm_free(betas);
    ldm_free(scratch);
    return st;
}

/* ---- construction --------------------------------------------------------- */

static ldm_status pick_kind(const ldm_config *c, const char *override_name, ldm_scheduler_kind *kind)
{
    const char *name = override_name;
    if (!name) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(c->root, "_class_name");
        if (!it || cJSON_IsNull(it))
            return ldm_error(LDM_EINPUT,
                             "%s: no \"_class_name\"; choose a scheduler (ddim, pndm or lms)", c->path);
        if (!cJSON_IsString(it))
            return ldm_error(LDM_EINPUT, "%s: \"_class_name\" must be a string", c->path);
        name = it->valuestring;
    }
    for (int k = 0; k < 3; k++) {
        if (strcmp(name, SHORT_NAMES[k]) == 0 || strcmp(name, CLASS_NAMES[k]) == 0) {
            *kind = (ldm_scheduler_kind)k;
            return LDM_OK;
        }
    }
    if (override_name)
        return ldm_error(LDM_EINPUT, "unknown scheduler \"%s\" (choose ddim, pndm or lms)", name);
    return ldm_error(LDM_EINPUT,
                     "%s: unsupported scheduler class \"%s\" (supported: DDIMScheduler, "
                     "PNDMScheduler, LMSDiscreteScheduler)",
                     c->path, name);
}

ldm_status ldm_scheduler_from_config(const ldm_config *c, const char *override_name,
                                     ldm_scheduler **out)
{
    ldm_status st = LDM_OK;
    ldm_scheduler *s = NULL;
    ldm_scheduler_kind kind = LDM_SCHEDULER_DDIM;
    *out = NULL;
    LDM_CHECK(pick_kind(c, override_name, &kind));
    LDM_CHECK(ldm_calloc(sizeof(*s), "scheduler", (void **)&s));
    s->kind = kind;
    s->batch = 1;
    s->step_index = -1;
    LDM_CHECK(read_betas(c, CLASS_NAMES[kind], &s->p));
    if (kind == LDM_SCHEDULER_DDIM)
        LDM_CHECK(read_ddim(c, &s->p));
    else if (kind == LDM_SCHEDULER_PNDM)
        LDM_CHECK(read_pndm(c, &s->p));
    else
        LDM_CHECK(read_lms(c, &s->p));
    LDM_CHECK(ldm_sched_make_alphas(s));
    s->init_noise_sigma = 1.0f;
    /* LMSDiscreteScheduler's constructor calls set_timesteps(T). */
    if (kind == LDM_SCHEDULER_LMS)
        LDM_CHECK(ldm_scheduler_set_timesteps(s, s->p.num_train_timesteps));
    *out = s;
    s = NULL;
cleanup:
    ldm_scheduler_free(&s);
    return st;
}

void ldm_scheduler_free(ldm_scheduler **sp)
{
    if (!sp || !*sp)
        return;
    ldm_scheduler *s = *sp;
    ldm_free(s->p.trained_betas);
    ldm_free(s->alphas_cumprod);
    ldm_free(s->timesteps);
    ldm_free(s->sigmas);
    ldm_free(s->hist);
    ldm_free(s->cur_sample);
    ldm_free(s->cur_model_output);
    ldm_free(s->work);
    ldm_free(s->sorted);
    ldm_free(s);
    *sp = NULL;
}

ldm_scheduler_kind ldm_scheduler_get_kind(const ldm_scheduler *s)
{
    return s->kind;
}

const char *ldm_scheduler_name(const ldm_scheduler *s)
{
    return SHORT_NAMES[s->kind];
}

const char *ldm_scheduler_class_name(const ldm_scheduler *s)
{
    return CLASS_NAMES[s->kind];
}
