/* pipeline.h — text to image, exactly as diffusers' LDMTextToImagePipeline.
 *
 *   prompts ──tokenizer──▶ ids [B, 77] ──LDMBert──▶ cond [B, 77, D]
 *   ""/negative ─────────────────────────────────▶ uncond [B, 77, D]  (guidance ≠ 1)
 *   seed ──torch RNG──▶ latents [B, 4, H/8, W/8]   (one randn call, as diffusers)
 *   for t in timesteps:
 *       eps = UNet(latents ‖ latents, t, uncond ‖ cond)
 *       eps = eps_u + g·(eps_c − eps_u)
 *       latents = scheduler.step(eps, t, latents, eta, noise)
 *   image = VAE.decode(latents / scaling_factor) → (x/2+0.5).clamp(0,1) → ×255, round → uint8
 *
 * Two deliberate differences from diffusers' LDM pipeline, both documented
 * in docs/txt2img.md: LMS gets init_noise_sigma and scale_model_input (the
 * LDM pipeline omits them; they are no-ops for DDIM and PNDM), and the
 * unconditional text may be a negative prompt instead of "".
 * DDIM's eta noise comes, as in diffusers, from a second generator: torch's
 * global one, which the pipeline does not seed (a fresh Python process
 * starts it at 67280421310721); `noise_seed` seeds it here.
 *
 * B = prompts × images_per_prompt; the UNet runs on 2B entries with guidance.
 * Latents are H/8 × W/8 as diffusers hard-codes; the image is what the VAE
 * decodes from them (H × W for the usual 8× autoencoder).
 */
#ifndef LDM_SAMPLE_PIPELINE_H
#define LDM_SAMPLE_PIPELINE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ldm_pipeline ldm_pipeline;

/* How one run is spread over MPI ranks (src/cli builds it from mpi/grid.h).
 * A NULL pointer, or MPI_COMM_NULL / size-1 communicators, is the
 * single-process pipeline. */
typedef struct ldm_txt2img_parallel {
    /* CFG branches on two ranks (rank in it = branch): branch 0 runs the
     * unconditional UNet pass, branch 1 the text pass, each with the batch
     * of the request; the two noise predictions meet over it every step, so
     * both hold the same latents. Only branch 0 decodes (finish on branch 1
     * leaves out->images alone). Needs guidance ≠ 1. */
    MPI_Comm cfg;
    /* The model split of contract 1 (SESSION3.md, src/models/parallel.h):
     * Pc ranks of one spatial strip, Ps ranks of one channel slice. LDMBert
     * splits its heads and FFN columns over `channel`; the UNet and the VAE
     * decoder split their layers' channels over `channel` and the latent
     * rows over `spatial` (strips of ldm_unet_latent_align). The latents,
     * the scheduler's history and the per-step noise live in row strips
     * (drawn whole, cut, so every result equals one process's); final
     * latents, the checkpoint state and the image are gathered whole over
     * `spatial`. Every rank of the grid calls every step-API function. */
    MPI_Comm channel;
    MPI_Comm spatial;
} ldm_txt2img_parallel;

/* 1 when this build's models take the channel/spatial split (Pc·Ps > 1):
 * always, since the split was wired (kept for run_layout's default). */
int ldm_pipeline_model_split(void);

typedef struct ldm_txt2img_request {
    const char *const *prompts;  /* borrowed, n_prompts of them */
    int n_prompts;
    int images_per_prompt;       /* ≥ 1 */
    const char *negative_prompt; /* NULL = "" (diffusers) */
    int steps;                   /* num_inference_steps */
    double guidance_scale;       /* 1 = no classifier-free guidance */
    double eta;                  /* DDIM eta */
    uint64_t seed;               /* torch.Generator().manual_seed(seed) for the latents */
    uint64_t noise_seed;         /* torch.manual_seed(noise_seed) for DDIM's eta noise */
    int height, width;           /* multiples of 8; 0 = the model's default */
    const char *scheduler;       /* "ddim", "pndm", "lms" or NULL = the folder's */
    const float *latents;        /* optional initial latents [B, C, H/8, W/8]; NULL = draw */
    int64_t latents_count;       /* elements in `latents` (checked) */
    /* Data parallelism: make only batch entries [entry_begin, entry_end)
     * of the B (0, 0 = all). Latents and DDIM noise are still drawn for all
     * B entries and sliced, so each entry is the one the whole batch gives. */
    int64_t entry_begin, entry_end;
    const ldm_txt2img_parallel *parallel; /* NULL = one process */
} ldm_txt2img_request;

/* Called after each denoising step (and with step == 0 before the first). */
typedef void (*ldm_progress_fn)(void *ctx, int step, int total);

typedef struct ldm_txt2img_timings {
    double load;          /* model folder, weights, plans */
    double text_encoder;
    double unet_total;    /* all steps, UNet only */
    double scheduler_total;
    double decoder;
    double total;
    int steps;
} ldm_txt2img_timings;

/* Open a diffusers LDMTextToImagePipeline folder: checks the layout, loads
 * the tokenizer and configs (models are built per request size). */
ldm_status ldm_pipeline_open(const char *model_dir, ldm_pipeline **out);
void ldm_pipeline_close(ldm_pipeline **p);

/* Latent channels (the UNet's in_channels). */
int64_t ldm_pipeline_latent_channels(const ldm_pipeline *p);

/* The model's default image size (unet sample_size × VAE factor). */
void ldm_pipeline_default_size(const ldm_pipeline *p, int *height, int *width);
/* The scheduler class the request will use (for metadata), e.g. "DDIMScheduler". */
const char *ldm_pipeline_scheduler_name(const ldm_pipeline *p, const char *override_name);

/* The sizes a process layout must respect (mpi/grid.h ldm_grid_model) for
 * images of height × width (0 = the model's default): UNet GroupNorm groups
 * and attention heads, text-encoder heads, and the rows of the coarsest
 * UNet latent, ceil(latent_h / 2^downsamplings). */
typedef struct ldm_pipeline_sizes {
    int64_t norm_groups, heads, text_heads, min_rows;
} ldm_pipeline_sizes;
ldm_status ldm_pipeline_parallel_sizes(const ldm_pipeline *p, int height, int width,
                                       ldm_pipeline_sizes *out);

/* Output geometry of a request: number of images and their size. */
ldm_status ldm_pipeline_output_shape(const ldm_pipeline *p, const ldm_txt2img_request *req,
                                     int *count, int *height, int *width);

/* What a run writes; sizes from ldm_pipeline_output_shape. */
typedef struct ldm_txt2img_output {
    uint8_t *images;       /* required: [count, H, W, 3], numpy_to_pil's uint8 */
    float *images_f32;     /* optional: [count, H, W, 3], (x/2+0.5).clamp(0,1) (output_type="np") */
    float *final_latents;  /* optional: [count, C, H/8, W/8], before 1/scaling_factor */
    /* With an entry range, images and final_latents hold that range only:
     * [entry_end − entry_begin, …]. */
    ldm_txt2img_timings timings;
} ldm_txt2img_output;

/* Run the request; `progress` may be NULL. The same as begin, step until
 * done, finish, end. */
ldm_status ldm_pipeline_txt2img(ldm_pipeline *p, const ldm_txt2img_request *req,
                                ldm_progress_fn progress, void *progress_ctx,
                                ldm_txt2img_output *out);

/* Step by step, for checkpointing (run files) and stopping on a signal:
 *
 *   ldm_txt2img_begin(p, req, &run);        text encoder, initial latents, UNet
 *   while (ldm_txt2img_steps_done(run) < ldm_txt2img_steps_total(run))
 *       ldm_txt2img_step(run);             one UNet call + scheduler step
 *   ldm_txt2img_finish(run, &out);          VAE decode → pixels
 *   ldm_txt2img_end(&run);
 *
 * The resumable state after any step — latents, both generators, the
 * scheduler's history and the step index — is one byte blob of fixed size
 * (ldm_txt2img_state_bytes): restoring it into a run begun with the same
 * request continues exactly, to the same bits, as the run it came from. */
typedef struct ldm_txt2img_run ldm_txt2img_run;

ldm_status ldm_txt2img_begin(ldm_pipeline *p, const ldm_txt2img_request *req,
                             ldm_txt2img_run **out);
int ldm_txt2img_steps_total(const ldm_txt2img_run *run);
int ldm_txt2img_steps_done(const ldm_txt2img_run *run);
ldm_status ldm_txt2img_step(ldm_txt2img_run *run);
ldm_status ldm_txt2img_finish(ldm_txt2img_run *run, ldm_txt2img_output *out);
void ldm_txt2img_end(ldm_txt2img_run **run);

/* The current latents [b, C, H/8, W/8] (b: the request's entries), WHOLE
 * (borrowed; valid until the next step). Under a spatial split it is
 * collective on `spatial` (the strips are gathered; NULL if that fails). */
const float *ldm_txt2img_latents(const ldm_txt2img_run *run, int64_t *count);
size_t ldm_txt2img_state_bytes(const ldm_txt2img_run *run);
ldm_status ldm_txt2img_state_save(const ldm_txt2img_run *run, void *buf, size_t bytes);
/* The blob holds the whole latents and scheduler history whatever the
 * layout, so a state saved under one grid restores under another. Save is
 * collective on `spatial` under a spatial split (gathers); restore is
 * local (each rank cuts its rows).
 * LDM_EINPUT (naming "checkpoint state") when the blob does not fit this run. */
ldm_status ldm_txt2img_state_restore(ldm_txt2img_run *run, const void *buf, size_t bytes);

#endif
