/* Schedulers against diffusers' goldens (tests/fixtures/schedulers, written by
 * tools/reference/make_scheduler_goldens.py), config errors, and checkpoint
 * save/restore.
 *
 * Each golden variant is run free-running, as a pipeline runs it: our own
 * prev_sample feeds the next step, while the model outputs (and DDIM noise)
 * are diffusers' inputs. Per step we require
 *   - relative L2 error ||ours - theirs|| / ||theirs|| <= 1e-6, and
 *   - elementwise |ours - theirs| <= 1e-6 * max(|theirs|, rms(theirs)).
 * The floor rms(theirs) (the tensor's own scale) is there because an element
 * that happens to land near 0 carries the absolute rounding error of the
 * O(rms) terms that cancelled into it; a floor of that size still catches any
 * formula or dtype mistake, which shows up at 1e-4 or more.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "harness.h"
#include "io/config.h"
#include "sample/scheduler.h"

#define TOL 1e-6

/* exposed by scheduler_lms.c for this test */
double ldm_sched_lagrange_integral(const double *nodes, int order, int cur, double a, double b);

static double worst_l2, worst_elem, worst_karras_t;
static int steps_total, steps_exact;

static char *fixture(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s/schedulers/%s", LDM_FIXTURES, rel);
    return buf;
}

/* Compare one step's output; returns 1 when within tolerance. */
static int compare(const char *name, int step, const float *ours, const float *theirs, int64_t n)
{
    double num = 0, den = 0, worst = 0;
    int exact = 1;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)ours[i] - (double)theirs[i];
        num += d * d;
        den += (double)theirs[i] * theirs[i];
        if (ours[i] != theirs[i])
            exact = 0;
    }
    double rms = sqrt(den / (double)n);
    for (int64_t i = 0; i < n; i++) {
        double scale = fmax(fabs((double)theirs[i]), rms);
        double e = fabs((double)ours[i] - (double)theirs[i]) / (scale > 0 ? scale : 1);
        worst = e > worst ? e : worst;
    }
    double l2 = den > 0 ? sqrt(num / den) : sqrt(num);
    worst_l2 = l2 > worst_l2 ? l2 : worst_l2;
    worst_elem = worst > worst_elem ? worst : worst_elem;
    steps_total++;
    steps_exact += exact;
    int ok = l2 <= TOL && worst <= TOL;
    CHECK_MSG(ok, "%s step %d: rel L2 %.3g, worst elementwise %.3g", name, step, l2, worst);
    return ok;
}

typedef struct variant {
    const cJSON *e;
    const char *name;
    ldm_config cfg;
    const char *override;
    int steps, n_steps, has_noise, has_scaled, karras;
    float eta;
    int64_t n, batch;
    float *data;
    size_t n_data;
} variant;

static ldm_status make(variant *v, ldm_scheduler **s)
{
    ldm_status st = ldm_scheduler_from_config(&v->cfg, v->override, s);
    if (st == LDM_OK)
        st = ldm_scheduler_set_timesteps(*s, v->steps);
    if (st == LDM_OK)
        st = ldm_scheduler_set_batch(*s, v->batch);
    return st;
}

/* Offsets into the golden data of step i. */
static const float *mo_of(const variant *v, int i)
{
    int per = 2 + v->has_noise + v->has_scaled;
    return v->data + v->n + (int64_t)i * per * v->n;
}

/* Run steps [from, to) starting from x; outputs of every step into outs. */
static int run_steps(variant *v, ldm_scheduler *s, int from, int to, float *x, float *outs, int check)
{
    const double *ts;
    int nt;
    ldm_scheduler_timesteps(s, &ts, &nt);
    float *scaled = NULL;
    if (ldm_alloc(sizeof(float) * (size_t)v->n, "scaled", (void **)&scaled) != LDM_OK)
        return 0;
    int ok = 1;
    for (int i = from; i < to; i++) {
        const float *mo = mo_of(v, i);
        const float *noise = v->has_noise ? mo + v->n : NULL;
        const float *gscaled = mo + v->n * (1 + v->has_noise);
        const float *gprev = mo + v->n * (1 + v->has_noise + v->has_scaled);
        if (v->has_scaled) {
            ldm_status st = ldm_scheduler_scale_model_input(s, x, v->n, ts[i], scaled);
            CHECK_MSG(st == LDM_OK, "%s: scale_model_input: %s", v->name, ldm_error_message());
            if (check && st == LDM_OK)
                ok &= compare(v->name, i, scaled, gscaled, v->n);
        }
        CHECK(ldm_scheduler_needs_noise(s, v->eta) == v->has_noise);
        ldm_status st = ldm_scheduler_step(s, mo, ts[i], x, v->n, v->eta, noise, x);
        CHECK_MSG(st == LDM_OK, "%s step %d: %s", v->name, i, ldm_error_message());
        if (st != LDM_OK) {
            ok = 0;
            break;
        }
        if (check)
            ok &= compare(v->name, i, x, gprev, v->n);
        memcpy(outs + (int64_t)i * v->n, x, sizeof(float) * (size_t)v->n);
    }
    ldm_free(scaled);
    return ok;
}

static void check_timesteps(variant *v, ldm_scheduler *s)
{
    const double *ts;
    int nt;
    ldm_scheduler_timesteps(s, &ts, &nt);
    const cJSON *gts = cJSON_GetObjectItem(v->e, "timesteps");
    CHECK_MSG(nt == v->n_steps && nt == cJSON_GetArraySize(gts), "%s: %d timesteps, want %d", v->name,
              nt, v->n_steps);
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, gts)
    {
        if (i >= nt)
            break;
        if (v->karras) {
            /* Karras timesteps go through numpy's float32 log, which is not
             * correctly rounded: ~1e-5 absolute differences remain. */
            double d = fabs(ts[i] - t->valuedouble);
            worst_karras_t = d > worst_karras_t ? d : worst_karras_t;
            CHECK_MSG(d <= 1e-4, "%s: t[%d] %.17g vs %.17g", v->name, i, ts[i],
                      t->valuedouble);
        } else {
            CHECK_MSG(ts[i] == t->valuedouble, "%s: t[%d] %.17g vs %.17g", v->name, i, ts[i],
                      t->valuedouble);
        }
        i++;
    }
    double sig = cJSON_GetObjectItem(v->e, "init_noise_sigma")->valuedouble;
    CHECK_CLOSE(ldm_scheduler_init_noise_sigma(s), sig, TOL);
}

/* The golden run, then a resumed run: stop halfway, save, rebuild, restore. */
static void run_variant(variant *v)
{
    ldm_scheduler *s = NULL, *r = NULL;
    float *x = NULL, *outs = NULL, *outs2 = NULL;
    unsigned char *state = NULL;
    size_t bytes = 0;
    ldm_status st = make(v, &s);
    CHECK_MSG(st == LDM_OK, "%s: %s", v->name, ldm_error_message());
    if (st != LDM_OK)
        goto cleanup;
    const char *cls = cJSON_GetObjectItem(v->e, "class")->valuestring;
    CHECK_MSG(strcmp(ldm_scheduler_class_name(s), cls) == 0, "%s: class %s", v->name,
              ldm_scheduler_class_name(s));
    check_timesteps(v, s);
    size_t sz = sizeof(float) * (size_t)v->n;
    int64_t per = 2 + v->has_noise + v->has_scaled;
    CHECK_MSG(v->n_data == (size_t)(v->n + (int64_t)v->n_steps * per * v->n), "%s: data size", v->name);
    if (v->n_data != (size_t)(v->n + (int64_t)v->n_steps * per * v->n))
        goto cleanup;
    if (ldm_alloc(sz, "x", (void **)&x) || ldm_alloc(sz * (size_t)v->n_steps, "outs", (void **)&outs) ||
        ldm_alloc(sz * (size_t)v->n_steps, "outs2", (void **)&outs2))
        goto cleanup;
    memcpy(x, v->data, sz);
    run_steps(v, s, 0, v->n_steps, x, outs, 1);

    /* resume: k steps, save, continue in a fresh scheduler */
    int k = v->n_steps / 2;
    ldm_scheduler_free(&s);
    CHECK(make(v, &s) == LDM_OK);
    memcpy(x, v->data, sz);
    run_steps(v, s, 0, k, x, outs2, 0);
    CHECK(ldm_scheduler_state_bytes(s, v->n, &bytes) == LDM_OK);
    if (ldm_alloc(bytes, "state", (void **)&state) != LDM_OK)
        goto cleanup;
    CHECK(ldm_scheduler_state_save(s, v->n, state, bytes) == LDM_OK);
    ldm_scheduler_free(&s);
    CHECK(make(v, &r) == LDM_OK);
    st = ldm_scheduler_state_restore(r, state, bytes);
    CHECK_MSG(st == LDM_OK, "%s: restore: %s", v->name, ldm_error_message());
    run_steps(v, r, k, v->n_steps, x, outs2, 0);
    CHECK_MSG(memcmp(outs, outs2, sz * (size_t)v->n_steps) == 0, "%s: resumed run differs", v->name);
cleanup:
    ldm_scheduler_free(&s);
    ldm_scheduler_free(&r);
    ldm_free(x);
    ldm_free(outs);
    ldm_free(outs2);
    ldm_free(state);
}

static int golden_tests(void)
{
    ldm_config index;
    if (ldm_config_load(fixture("index.json"), &index) != LDM_OK) {
        fprintf(stderr, "no goldens: %s\n", ldm_error_message());
        return 0;
    }
    const cJSON *e;
    int count = 0;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(index.root, "variants"))
    {
        variant v;
        memset(&v, 0, sizeof(v));
        v.e = e;
        v.name = cJSON_GetObjectItem(e, "name")->valuestring;
        const cJSON *ov = cJSON_GetObjectItem(e, "override");
        v.override = cJSON_IsString(ov) ? ov->valuestring : NULL;
        v.steps = cJSON_GetObjectItem(e, "steps")->valueint;
        v.n_steps = cJSON_GetObjectItem(e, "n_steps")->valueint;
        v.eta = (float)cJSON_GetObjectItem(e, "eta")->valuedouble;
        v.has_noise = cJSON_IsTrue(cJSON_GetObjectItem(e, "has_noise"));
        v.has_scaled = cJSON_IsTrue(cJSON_GetObjectItem(e, "has_scaled"));
        v.karras = strstr(v.name, "karras") != NULL;
        const cJSON *shape = cJSON_GetObjectItem(e, "shape"), *d;
        v.n = 1;
        cJSON_ArrayForEach(d, shape) v.n *= d->valueint;
        v.batch = cJSON_GetArrayItem(shape, 0)->valueint;
        char *bytes = NULL;
        size_t len = 0;
        char cfgpath[4096];
        snprintf(cfgpath, sizeof(cfgpath), "%s", fixture(cJSON_GetObjectItem(e, "config")->valuestring));
        ldm_status st = ldm_config_load(cfgpath, &v.cfg);
        if (st == LDM_OK)
            st = ldm_read_file(fixture(cJSON_GetObjectItem(e, "file")->valuestring), &bytes, &len);
        CHECK_MSG(st == LDM_OK, "%s: %s", v.name, ldm_error_message());
        if (st == LDM_OK) {
            v.data = (float *)bytes; /* ldm_alloc'd: 64-byte aligned */
            v.n_data = len / sizeof(float);
            run_variant(&v);
            count++;
        }
        ldm_free(bytes);
        ldm_config_free(&v.cfg);
    }
    ldm_config_free(&index);
    printf("%d variants, %d steps compared (%d bit-exact), worst rel L2 %.3g, worst elementwise %.3g, "
           "Karras timesteps within %.3g\n",
           count, steps_total, steps_exact, worst_l2, worst_elem, worst_karras_t);
    CHECK(count >= 25);
    return count;
}

/* ---- bad input ------------------------------------------------------------ */

#define CFG_NAME "scheduler/scheduler_config.json"

/* from_config on JSON text; returns the status, frees everything. */
static ldm_status build(const char *json, const char *override)
{
    ldm_config c;
    ldm_scheduler *s = NULL;
    ldm_status st = ldm_config_parse(CFG_NAME, json, strlen(json), &c);
    if (st != LDM_OK)
        return st;
    st = ldm_scheduler_from_config(&c, override, &s);
    ldm_scheduler_free(&s);
    ldm_config_free(&c);
    return st;
}

static ldm_status build_steps(const char *json, const char *override, int steps)
{
    ldm_config c;
    ldm_scheduler *s = NULL;
    ldm_status st = ldm_config_parse(CFG_NAME, json, strlen(json), &c);
    if (st == LDM_OK)
        st = ldm_scheduler_from_config(&c, override, &s);
    if (st == LDM_OK)
        st = ldm_scheduler_set_timesteps(s, steps);
    ldm_scheduler_free(&s);
    ldm_config_free(&c);
    return st;
}

static void bad_configs(void)
{
    CHECK_FAILS_WITH(build("{\"_class_name\":\"DDIMScheduler\",\"beta_schedule\":\"foo\"}", NULL),
                     LDM_EINPUT, CFG_NAME ": unsupported beta_schedule \"foo\"");
    CHECK_FAILS_WITH(build("{\"beta_schedule\":\"foo\"}", "lms"), LDM_EINPUT,
                     "unsupported beta_schedule \"foo\"");
    CHECK_FAILS_WITH(build("{\"_class_name\":\"DDIMScheduler\",\"prediction_type\":\"bar\"}", NULL),
                     LDM_EINPUT, CFG_NAME ": unsupported prediction_type \"bar\"");
    CHECK_FAILS_WITH(build("{\"prediction_type\":\"sample\"}", "pndm"), LDM_EINPUT,
                     "unsupported prediction_type \"sample\" for PNDMScheduler");
    CHECK_FAILS_WITH(build("{\"timestep_spacing\":\"weird\"}", "ddim"), LDM_EINPUT,
                     "unsupported timestep_spacing \"weird\"");
    CHECK_FAILS_WITH(build("{\"timestep_spacing\":\"weird\"}", "pndm"), LDM_EINPUT,
                     "unsupported timestep_spacing \"weird\"");
    CHECK_FAILS_WITH(build("{\"timestep_spacing\":\"weird\"}", "lms"), LDM_EINPUT,
                     "unsupported timestep_spacing \"weird\"");
    /* wrong types */
    CHECK_FAILS_WITH(build("{\"num_train_timesteps\":\"1000\"}", "ddim"), LDM_EINPUT,
                     "\"num_train_timesteps\" must be an integer");
    CHECK_FAILS_WITH(build("{\"num_train_timesteps\":10.5}", "pndm"), LDM_EINPUT,
                     "\"num_train_timesteps\" must be an integer");
    CHECK_FAILS_WITH(build("{\"num_train_timesteps\":0}", "lms"), LDM_EINPUT, "num_train_timesteps 0");
    CHECK_FAILS_WITH(build("{\"clip_sample\":1}", "ddim"), LDM_EINPUT,
                     "\"clip_sample\" must be true or false");
    CHECK_FAILS_WITH(build("{\"skip_prk_steps\":\"yes\"}", "pndm"), LDM_EINPUT, "\"skip_prk_steps\"");
    CHECK_FAILS_WITH(build("{\"use_karras_sigmas\":3}", "lms"), LDM_EINPUT, "\"use_karras_sigmas\"");
    CHECK_FAILS_WITH(build("{\"beta_start\":\"0.1\"}", "ddim"), LDM_EINPUT,
                     "\"beta_start\" must be a number");
    CHECK_FAILS_WITH(build("{\"beta_end\":null}", "ddim"), LDM_EINPUT,
                     "\"beta_end\" must be a number, not null");
    CHECK_FAILS_WITH(build("{\"prediction_type\":7}", "lms"), LDM_EINPUT,
                     "\"prediction_type\" must be a string");
    CHECK_FAILS_WITH(build("{\"steps_offset\":1.5}", "ddim"), LDM_EINPUT,
                     "\"steps_offset\" must be an integer");
    CHECK_FAILS_WITH(build("{\"trained_betas\":[0.1,0.2]}", "ddim"), LDM_EINPUT,
                     "trained_betas has 2 entries, num_train_timesteps is 1000");
    CHECK_FAILS_WITH(build("{\"num_train_timesteps\":2,\"trained_betas\":[0.1,\"x\"]}", "ddim"), LDM_EINPUT,
                     "\"trained_betas\" must be a list of numbers");
    CHECK_FAILS_WITH(build("{\"thresholding\":true,\"dynamic_thresholding_ratio\":1.5}", "ddim"), LDM_EINPUT,
                     "dynamic_thresholding_ratio 1.5");
    CHECK_FAILS_WITH(build("{\"beta_schedule\":\"scaled_linear\",\"beta_start\":-1}", "ddim"), LDM_EINPUT,
                     "scaled_linear");
    /* keys diffusers does not read for the class are not even type-checked */
    CHECK(build("{\"_class_name\":\"DDIMScheduler\",\"skip_prk_steps\":\"x\",\"use_karras_sigmas\":5,"
                "\"foo\":{},\"_diffusers_version\":\"0.0.4\",\"trained_betas\":null,"
                "\"clip_sample\":false,\"clip_sample_range\":\"unused\"}",
                NULL) == LDM_OK);
    CHECK(build("{\"beta_schedule\":\"squaredcos_cap_v2\",\"beta_start\":\"unused\"}", "ddim") == LDM_OK);
    CHECK(build("{\"timestep_spacing\":\"linspace\",\"steps_offset\":null}", "ddim") == LDM_OK);
    CHECK(build("{\"beta_schedule\":\"foo\",\"_use_default_values\":[\"beta_schedule\"]}", "ddim") == LDM_OK);
    CHECK(build("{\"num_train_timesteps\":3,\"beta_schedule\":\"foo\",\"trained_betas\":[0.1,0.2,0.3]}",
                "ddim") == LDM_OK);
    /* class selection */
    CHECK_FAILS_WITH(build("{}", "euler"), LDM_EINPUT, "unknown scheduler \"euler\"");
    CHECK_FAILS_WITH(build("{\"_class_name\":\"EulerDiscreteScheduler\"}", NULL), LDM_EINPUT,
                     CFG_NAME ": unsupported scheduler class \"EulerDiscreteScheduler\"");
    CHECK_FAILS_WITH(build("{\"beta_start\":0.001}", NULL), LDM_EINPUT, "\"_class_name\"");
    CHECK_FAILS_WITH(build("{\"_class_name\":5}", NULL), LDM_EINPUT, "\"_class_name\" must be a string");
    CHECK(build("{\"_class_name\":\"EulerDiscreteScheduler\"}", "DDIMScheduler") == LDM_OK);
    CHECK(build("{\"_class_name\":\"PNDMScheduler\"}", "lms") == LDM_OK);
    /* step counts */
    CHECK_FAILS_WITH(build_steps("{}", "ddim", 0), LDM_EINPUT, "num_inference_steps 0");
    CHECK_FAILS_WITH(build_steps("{}", "lms", 0), LDM_EINPUT, "num_inference_steps 0");
    CHECK_FAILS_WITH(build_steps("{}", "pndm", 1001), LDM_EINPUT, "num_inference_steps 1001");
    CHECK_FAILS_WITH(build_steps("{}", "pndm", 3), LDM_EINPUT, "at least 4 inference steps");
    CHECK(build_steps("{\"skip_prk_steps\":true}", "pndm", 3) == LDM_OK);
    CHECK_FAILS_WITH(build_steps("{\"steps_offset\":1}", "ddim", 1000), LDM_EINPUT,
                     "timestep 1000 (steps_offset 1, 1000 steps) is past the 1000 training timesteps");
    CHECK(build_steps("{\"steps_offset\":1}", "ddim", 999) == LDM_OK);
    CHECK(build_steps("{\"steps_offset\":1}", "lms", 1000) == LDM_OK);
    /* an allocation failure is a runtime error, not a crash */
    ldm_alloc_fail_after(3);
    CHECK_FAILS_WITH(build("{}", "lms"), LDM_ERUNTIME, "");
    ldm_alloc_fail_after(0);
}

static void bad_use(void)
{
    ldm_config c;
    ldm_scheduler *s = NULL, *p = NULL;
    const char *json = "{\"_class_name\":\"DDIMScheduler\",\"clip_sample\":false}";
    float x[8] = {0}, m[8] = {0}, out[8];
    if (ldm_config_parse(CFG_NAME, json, strlen(json), &c) != LDM_OK)
        return;
    CHECK(ldm_scheduler_from_config(&c, NULL, &s) == LDM_OK);
    CHECK(strcmp(ldm_scheduler_name(s), "ddim") == 0 && ldm_scheduler_get_kind(s) == LDM_SCHEDULER_DDIM);
    CHECK_FAILS_WITH(ldm_scheduler_step(s, m, 999, x, 8, 0.0f, NULL, out), LDM_EINPUT, "set_timesteps");
    CHECK(ldm_scheduler_set_timesteps(s, 10) == LDM_OK);
    CHECK(ldm_scheduler_needs_noise(s, 0.0f) == 0 && ldm_scheduler_needs_noise(s, 0.5f) == 1);
    CHECK_FAILS_WITH(ldm_scheduler_step(s, m, 900, x, 8, 0.5f, NULL, out), LDM_EINPUT,
                     "needs a noise tensor");
    CHECK_FAILS_WITH(ldm_scheduler_step(s, m, 1000, x, 8, 0.0f, NULL, out), LDM_EINPUT, "timestep 1000");
    CHECK_FAILS_WITH(ldm_scheduler_step(s, m, 12.5, x, 8, 0.0f, NULL, out), LDM_EINPUT, "timestep 12.5");
    CHECK(ldm_scheduler_step(s, m, 900, x, 8, 0.0f, NULL, out) == LDM_OK);
    CHECK_FAILS_WITH(ldm_scheduler_step(s, m, 800, x, 4, 0.0f, NULL, out), LDM_EINPUT, "earlier steps had 8");
    CHECK_FAILS_WITH(ldm_scheduler_set_batch(s, 3), LDM_EINPUT, "batch size 3");
    CHECK_FAILS_WITH(ldm_scheduler_set_batch(s, 0), LDM_EINPUT, "batch size 0");

    /* state blobs that do not fit */
    size_t bytes = 0;
    unsigned char buf[72 + 6 * 8 * 4];
    CHECK(ldm_scheduler_state_bytes(s, 8, &bytes) == LDM_OK && bytes == 72);
    CHECK(ldm_scheduler_state_save(s, 8, buf, bytes) == LDM_OK);
    CHECK_FAILS_WITH(ldm_scheduler_state_save(s, 8, buf, bytes + 1), LDM_EINPUT, "scheduler state");
    CHECK(ldm_scheduler_from_config(&c, "pndm", &p) == LDM_OK);
    CHECK(ldm_scheduler_set_timesteps(p, 10) == LDM_OK);
    CHECK_FAILS_WITH(ldm_scheduler_state_restore(p, buf, bytes), LDM_EINPUT, "another scheduler kind");
    CHECK(ldm_scheduler_set_timesteps(s, 20) == LDM_OK);
    CHECK_FAILS_WITH(ldm_scheduler_state_restore(s, buf, bytes), LDM_EINPUT, "saved for 10 steps");
    buf[0] = 'X';
    CHECK_FAILS_WITH(ldm_scheduler_state_restore(s, buf, bytes), LDM_EINPUT, "not a saved scheduler state");
    CHECK(ldm_scheduler_state_bytes(p, 8, &bytes) == LDM_OK && bytes == sizeof(buf));
    CHECK(ldm_scheduler_state_save(p, 8, buf, bytes) == LDM_OK);
    memset(buf + 8 + 5 * 8, 0x7f, 8); /* history count */
    CHECK_FAILS_WITH(ldm_scheduler_state_restore(p, buf, bytes), LDM_EINPUT, "out of range");
    ldm_scheduler_free(&s);
    ldm_scheduler_free(&p);
    ldm_scheduler_free(&s); /* NULL is fine */

    /* LMS: a timestep that is not in the schedule */
    CHECK(ldm_scheduler_from_config(&c, "lms", &s) == LDM_OK);
    CHECK(ldm_scheduler_set_timesteps(s, 10) == LDM_OK);
    CHECK_FAILS_WITH(ldm_scheduler_scale_model_input(s, x, 8, 500.0, out), LDM_EINPUT,
                     "timestep 500 is not in the schedule");
    CHECK_FAILS_WITH(ldm_scheduler_step(s, m, 500.0, x, 8, 0.0f, NULL, out), LDM_EINPUT, "timestep 500");
    ldm_scheduler_free(&s);
    ldm_config_free(&c);
}

/* The LMS coefficient integral against hand-computed values. */
static void lagrange(void)
{
    double nodes[4] = {3.0, 2.0, 1.5, 1.0};
    /* order 1: the integral of 1 over [3, 2] is -1 */
    CHECK_CLOSE(ldm_sched_lagrange_integral(nodes, 1, 0, 3.0, 2.0), -1.0, 1e-15);
    /* order 2, basis of node 3 = (tau - 2) / (3 - 2): over [3, 2] gives -1/2 */
    CHECK_CLOSE(ldm_sched_lagrange_integral(nodes, 2, 0, 3.0, 2.0), -0.5, 1e-15);
    CHECK_CLOSE(ldm_sched_lagrange_integral(nodes, 2, 1, 3.0, 2.0), -0.5, 1e-15);
    /* the basis polynomials sum to 1: their integrals sum to b - a */
    double sum = 0;
    for (int j = 0; j < 4; j++)
        sum += ldm_sched_lagrange_integral(nodes, 4, j, 1.0, 0.25);
    CHECK_CLOSE(sum, -0.75, 1e-14);
    /* order 4, node 1.0: (t-3)(t-2)(t-1.5) / ((1-3)(1-2)(1-1.5)) over [1, 0]:
     * integral_0^1 of (t^3 - 6.5t^2 + 13.5t - 9) is -25/6, over [1, 0] +25/6,
     * divided by -1: -25/6 */
    CHECK_CLOSE(ldm_sched_lagrange_integral(nodes, 4, 3, 1.0, 0.0), -25.0 / 6.0, 1e-14);
}

int main(void)
{
    int count = golden_tests();
    bad_configs();
    bad_use();
    lagrange();
    if (count == 0) {
        fprintf(stderr, "golden fixtures missing\n");
        return 1;
    }
    return ldm_test_finish();
}
