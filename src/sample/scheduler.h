/* scheduler.h — diffusers' DDIMScheduler, PNDMScheduler and LMSDiscreteScheduler.
 *
 * Behaviour is that of diffusers 0.27.2, key for key: a scheduler is built from
 * a scheduler_config.json exactly as `XScheduler.from_config(config)` builds it
 * (keys of other classes and "_"-private keys are ignored, keys named in
 * "_use_default_values" take the class default, missing keys take the class
 * default), and set_timesteps/step reproduce diffusers' float32 arithmetic
 * operation by operation (alphas_cumprod in float32 accumulated in double as
 * torch's CPU cumprod does, LMS sigmas interpolated in float64 then rounded to
 * float32, ...). Results agree with diffusers to ~1e-7 relative; the remaining
 * differences come from torch's CPU sqrt (MKL), which is not correctly rounded.
 *
 * A step loop, as LDMTextToImagePipeline runs it:
 *
 *     ldm_scheduler_set_timesteps(s, steps);
 *     ldm_scheduler_timesteps(s, &ts, &nt);
 *     for (i = 0; i < nt; i++) {
 *         eps = unet(latents, ts[i]);       // (that pipeline does not call
 *                                           //  scale_model_input; others do)
 *         if (ldm_scheduler_needs_noise(s, eta)) draw `noise` [n] with the
 *             torch-compatible RNG (diffusers: randn_tensor(model_output.shape))
 *         ldm_scheduler_step(s, eps, ts[i], latents, n, eta, noise, latents);
 *     }
 *
 * Timesteps are doubles: integers for DDIM and PNDM, float32 values for LMS
 * (linspace spacing gives 978.6122436523438, ...), float64 with Karras sigmas.
 * A sample is any float32 tensor of n elements ([B, C, H, W] flattened); only
 * DDIM's thresholding looks at the batch split (ldm_scheduler_set_batch).
 *
 * Not thread-safe per scheduler; separate schedulers are independent.
 */
#ifndef LDM_SAMPLE_SCHEDULER_H
#define LDM_SAMPLE_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/config.h"

typedef enum ldm_scheduler_kind {
    LDM_SCHEDULER_DDIM = 0, /* DDIMScheduler */
    LDM_SCHEDULER_PNDM = 1, /* PNDMScheduler */
    LDM_SCHEDULER_LMS = 2   /* LMSDiscreteScheduler */
} ldm_scheduler_kind;

typedef struct ldm_scheduler ldm_scheduler;

/* Build a scheduler from a parsed scheduler_config.json.
 * `override_name`: NULL to use the file's "_class_name", or one of "ddim",
 * "pndm", "lms" (the --scheduler flag) or a class name ("DDIMScheduler", ...);
 * the other class then reads the keys it knows from this config, as
 * `XScheduler.from_config(other.config)` does. An unknown name or class, a key
 * of the wrong type, or a value diffusers does not support for that class is
 * LDM_EINPUT naming the file, key and value:
 *     scheduler/scheduler_config.json: unsupported beta_schedule "foo"
 * An LMS scheduler comes with timesteps for num_train_timesteps steps (as in
 * diffusers' constructor); DDIM and PNDM need set_timesteps before step. */
ldm_status ldm_scheduler_from_config(const ldm_config *c, const char *override_name,
                                     ldm_scheduler **out);
/* Free a scheduler and set *s to NULL; NULL and *s == NULL are fine. */
void ldm_scheduler_free(ldm_scheduler **s);

ldm_scheduler_kind ldm_scheduler_get_kind(const ldm_scheduler *s);
/* "ddim", "pndm" or "lms" (for PNG metadata and logs). */
const char *ldm_scheduler_name(const ldm_scheduler *s);
/* "DDIMScheduler", "PNDMScheduler" or "LMSDiscreteScheduler". */
const char *ldm_scheduler_class_name(const ldm_scheduler *s);

/* Compute the timesteps for `num_inference_steps` and reset the step state
 * (PNDM history, LMS derivatives and step index). LDM_EINPUT when steps < 1,
 * steps > num_train_timesteps, PNDM without skip_prk_steps and steps < 4
 * (diffusers fails there too), or a DDIM/PNDM timestep outside
 * [0, num_train_timesteps) (e.g. leading spacing with a large steps_offset). */
ldm_status ldm_scheduler_set_timesteps(ldm_scheduler *s, int num_inference_steps);
/* The timesteps to iterate over, in order: *n of them (n = steps for DDIM and
 * LMS; PNDM: steps + 1 with skip_prk_steps, steps + 9 without). Owned by the
 * scheduler, valid until the next set_timesteps. */
void ldm_scheduler_timesteps(const ldm_scheduler *s, const double **ts, int *n);

/* The factor diffusers' pipelines multiply the initial noise by: 1 for DDIM
 * and PNDM; LMS: max sigma (linspace/trailing) or sqrt(max sigma^2 + 1)
 * (leading), as the float32 value diffusers computes. */
double ldm_scheduler_init_noise_sigma(const ldm_scheduler *s);

/* out[i] = sample[i] for DDIM/PNDM; LMS: sample / sqrt(sigma^2 + 1) with sigma
 * of the current step (the step index is set from t on first use, as diffusers
 * does). `out` may equal `sample`. LDM_EINPUT if t is not in the LMS schedule. */
ldm_status ldm_scheduler_scale_model_input(ldm_scheduler *s, const float *sample, int64_t n,
                                           double t, float *out);

/* 1 when step() with this eta needs a noise tensor (DDIM and eta > 0): the
 * caller then draws n normals exactly where diffusers calls randn_tensor. */
int ldm_scheduler_needs_noise(const ldm_scheduler *s, float eta);

/* Batch size B of the samples (default 1): DDIM's dynamic thresholding takes
 * its quantile over each of the B parts of a sample separately. n must be a
 * multiple of B. */
ldm_status ldm_scheduler_set_batch(ldm_scheduler *s, int64_t batch);

/* One step: prev_sample = scheduler.step(model_output, t, sample, eta).
 * model_output, sample, noise and prev_sample hold n floats; prev_sample may
 * alias sample or model_output. `eta` is used by DDIM only; `noise` must be
 * non-NULL exactly when ldm_scheduler_needs_noise(s, eta). The first step fixes
 * n (history buffers are allocated then, never again inside the loop); a later
 * step with another n, a timestep outside the training range, or a step before
 * set_timesteps is LDM_EINPUT. */
ldm_status ldm_scheduler_step(ldm_scheduler *s, const float *model_output, double t,
                              const float *sample, int64_t n, float eta, const float *noise,
                              float *prev_sample);

/* Checkpointing: the state that makes the next step() continue exactly as if
 * the loop had never stopped (PNDM's ets history, counter and cur_sample; LMS's
 * derivatives and step index; nothing for DDIM beyond the header).
 *
 * Byte layout (native byte order, little-endian on every supported machine):
 *   0   char[8]  "LDMSCHS1"
 *   8   int64    kind (ldm_scheduler_kind)
 *   16  int64    num_inference_steps it belongs to
 *   24  int64    n, elements per sample
 *   32  int64    LMS step index (-1: not started)
 *   40  int64    PNDM counter
 *   48  int64    number of valid history tensors (0..4)
 *   56  int64    PNDM: cur_sample valid (0/1)
 *   64  int64    PNDM: cur_model_output valid (0/1)
 *   72  float32  history[4][n], oldest first (PNDM ets, LMS derivatives;
 *                absent for DDIM), then PNDM only: cur_sample[n],
 *                cur_model_output[n]. Unused entries are zero.
 * The size depends only on kind and n: ldm_scheduler_state_bytes. */
ldm_status ldm_scheduler_state_bytes(const ldm_scheduler *s, int64_t n, size_t *bytes);
/* Write the state for samples of n elements into buf[bytes] (bytes from
 * ldm_scheduler_state_bytes; n must match the steps taken so far). */
ldm_status ldm_scheduler_state_save(const ldm_scheduler *s, int64_t n, void *buf, size_t bytes);
/* Restore a saved state into a scheduler of the same kind on which
 * set_timesteps was called with the same number of steps; LDM_EINPUT (naming
 * "scheduler state") when it does not fit. */
ldm_status ldm_scheduler_state_restore(ldm_scheduler *s, const void *buf, size_t bytes);

#endif
