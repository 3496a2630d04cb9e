/* scheduler_impl.h — internals shared by src/sample/scheduler*.c (not public).
 *
 * Arithmetic note: diffusers does its step() arithmetic in float32 torch ops on
 * 0-d tensors and samples. We repeat it in C `float` operation by operation, so
 * the files that compute must not contract a*b+c into fma (GCC's -std=c11 does
 * not; clang needs the pragma below). Where torch itself uses an fma (linspace)
 * we call fmaf explicitly.
 */
#ifndef LDM_SAMPLE_SCHEDULER_IMPL_H
#define LDM_SAMPLE_SCHEDULER_IMPL_H

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#include <stdint.h>

#include "sample/scheduler.h"

/* Most history tensors any scheduler keeps (PNDM ets, LMS derivatives). */
#define LDM_SCHED_HIST 4
/* LMSDiscreteScheduler.step's `order` argument (the pipelines leave it at 4). */
#define LDM_LMS_ORDER 4

typedef enum { LDM_BETA_LINEAR, LDM_BETA_SCALED_LINEAR, LDM_BETA_SQUAREDCOS } ldm_beta_schedule;
typedef enum { LDM_PRED_EPSILON, LDM_PRED_V, LDM_PRED_SAMPLE } ldm_prediction_type;
typedef enum { LDM_SPACING_LEADING, LDM_SPACING_LINSPACE, LDM_SPACING_TRAILING } ldm_spacing;

/* The config keys, named as diffusers names them. A key the class does not
 * read keeps its zero value. */
typedef struct ldm_scheduler_params {
    int num_train_timesteps;
    double beta_start, beta_end;
    ldm_beta_schedule beta_schedule;
    double *trained_betas; /* owned, [num_train_timesteps], or NULL */
    int clip_sample;
    double clip_sample_range;
    int set_alpha_to_one;
    long long steps_offset;
    ldm_prediction_type prediction_type;
    int thresholding;
    double dynamic_thresholding_ratio;
    double sample_max_value;
    ldm_spacing timestep_spacing;
    int rescale_betas_zero_snr; /* DDIM */
    int skip_prk_steps;         /* PNDM */
    int use_karras_sigmas;      /* LMS */
} ldm_scheduler_params;

struct ldm_scheduler {
    ldm_scheduler_kind kind;
    ldm_scheduler_params p;
    float *alphas_cumprod;     /* owned [T], float32 as in diffusers */
    float final_alpha_cumprod; /* DDIM/PNDM */

    int num_inference_steps; /* 0 until set_timesteps (LMS: T after creation) */
    double *timesteps;       /* owned [cap_timesteps] */
    int n_timesteps;
    int n_prk;          /* PNDM: the first n_prk timesteps are PRK steps */
    float *sigmas;      /* LMS: owned [n_timesteps + 1], float32 */
    float init_noise_sigma;

    int64_t batch; /* DDIM thresholding: quantile per batch entry */

    /* step state (what a checkpoint saves) */
    int64_t n;          /* elements per sample; 0 until the first step */
    int64_t step_index; /* LMS: -1 until the first scale/step */
    int64_t counter;    /* PNDM */
    int n_hist;         /* valid entries of hist */
    float *hist;        /* [LDM_SCHED_HIST, n] oldest first: PNDM ets / LMS derivatives */
    int has_cur_sample;
    float *cur_sample; /* PNDM [n] */
    int has_cur_model_output;
    float *cur_model_output; /* PNDM [n] */
    float *work;             /* [n] scratch: combined model output, thresholded x0 */
    float *sorted;           /* [n / batch] scratch for the quantile */
};

/* alphas_cumprod[t] with Python's indexing: "trailing" spacing can give
 * t = -1 (round(arange(T, 0, -T/n)) ends in 0 for some n), which diffusers
 * then reads as the last entry. The caller checked -T <= t < T. */
static inline float ldm_sched_alpha(const ldm_scheduler *s, int64_t t)
{
    return s->alphas_cumprod[t < 0 ? t + s->p.num_train_timesteps : t];
}

/* scheduler_config.c: alphas_cumprod from the params (betas as diffusers). */
ldm_status ldm_sched_make_alphas(ldm_scheduler *s);
/* Buffers for samples of n elements (first step / restore). */
ldm_status ldm_sched_reserve(ldm_scheduler *s, int64_t n);

/* scheduler_timesteps.c: numpy's float64 linspace and arange as diffusers
 * uses them; out[] must hold `num` (linspace) / ldm_sched_arange_len values. */
void ldm_sched_np_linspace(double start, double stop, int num, double *out);
int ldm_sched_arange_len(double start, double stop, double step);
void ldm_sched_np_arange(double start, double step, int len, double *out);
/* numpy.round: half to even. */
double ldm_sched_np_round(double x);

ldm_status ldm_sched_ddim_set_timesteps(ldm_scheduler *s, int steps);
ldm_status ldm_sched_ddim_step(ldm_scheduler *s, const float *model_output, double t,
                               const float *sample, int64_t n, float eta, const float *noise,
                               float *prev);
ldm_status ldm_sched_pndm_set_timesteps(ldm_scheduler *s, int steps);
ldm_status ldm_sched_pndm_step(ldm_scheduler *s, const float *model_output, double t,
                               const float *sample, int64_t n, float *prev);
ldm_status ldm_sched_lms_set_timesteps(ldm_scheduler *s, int steps);
ldm_status ldm_sched_lms_init_step_index(ldm_scheduler *s, double t);
ldm_status ldm_sched_lms_step(ldm_scheduler *s, const float *model_output, double t,
                              const float *sample, int64_t n, float *prev);
/* Exact integral over [a, b] of the Lagrange basis polynomial that is 1 at
 * nodes[cur] and 0 at the other nodes[0..order-1] (exposed for tests). */
double ldm_sched_lagrange_integral(const double *nodes, int order, int cur, double a, double b);

#endif
