#include "pipeline.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "io/model_folder.h"
#include "io/weights.h"
#include "models/ldmbert.h"
#include "models/unet.h"
#include "models/vae.h"
#include "sample/rng.h"
#include "sample/scheduler.h"
#include "text/tokenizer.h"

enum { TOKENS = 77 };

struct ldm_pipeline {
    ldm_model_folder *folder;   /* owned */
    ldm_tokenizer *tokenizer;   /* owned */
    const ldm_component *bert;  /* borrowed from folder */
    const ldm_component *unet;
    const ldm_component *vqvae;
    const ldm_component *scheduler;
    long long unet_in_channels, unet_sample_size, vae_factor;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

ldm_status ldm_pipeline_open(const char *model_dir, ldm_pipeline **out)
{
    ldm_status st = LDM_OK;
    ldm_pipeline *p = NULL;
    const ldm_component *tok = NULL;
    *out = NULL;
    LDM_CHECK(ldm_calloc(sizeof *p, "pipeline", (void **)&p));
    LDM_CHECK(ldm_model_folder_open(model_dir, &p->folder));
    LDM_CHECK(ldm_model_folder_component(p->folder, "bert", &p->bert));
    LDM_CHECK(ldm_model_folder_component(p->folder, "unet", &p->unet));
    LDM_CHECK(ldm_model_folder_component(p->folder, "vqvae", &p->vqvae));
    LDM_CHECK(ldm_model_folder_component(p->folder, "scheduler", &p->scheduler));
    LDM_CHECK(ldm_model_folder_component(p->folder, "tokenizer", &tok));
    LDM_CHECK(ldm_tokenizer_load(tok->vocab_path, &p->tokenizer));
    LDM_CHECK(ldm_config_int(&p->unet->config, "in_channels", 4, &p->unet_in_channels));
    LDM_CHECK(ldm_config_int(&p->unet->config, "sample_size", 32, &p->unet_sample_size));
    {
        long long blocks[8];
        int n = 0;
        LDM_CHECK(ldm_config_int_list(&p->vqvae->config, "block_out_channels", 0, 0, blocks, 8, &n));
        p->vae_factor = 1LL << (n > 0 ? n - 1 : 0);
    }
    *out = p;
    p = NULL;
cleanup:
    ldm_pipeline_close(&p);
    return st;
}

void ldm_pipeline_close(ldm_pipeline **pp)
{
    if (!pp || !*pp)
        return;
    ldm_pipeline *p = *pp;
    ldm_tokenizer_free(&p->tokenizer);
    ldm_model_folder_close(&p->folder);
    ldm_free(p);
    *pp = NULL;
}

void ldm_pipeline_default_size(const ldm_pipeline *p, int *height, int *width)
{
    /* diffusers: height = unet.config.sample_size * vae_scale_factor */
    *height = *width = (int)(p->unet_sample_size * p->vae_factor);
}

ldm_status ldm_pipeline_output_shape(const ldm_pipeline *p, const ldm_txt2img_request *req,
                                     int *count, int *height, int *width)
{
    int h = req->height, w = req->width;
    if (h == 0 || w == 0) {
        int dh, dw;
        ldm_pipeline_default_size(p, &dh, &dw);
        h = h ? h : dh;
        w = w ? w : dw;
    }
    if (h % 8 != 0 || w % 8 != 0 || h < 8 || w < 8)
        return ldm_error(LDM_EINPUT, "height and width must be positive multiples of 8, got %dx%d", h, w);
    *count = req->n_prompts * req->images_per_prompt;
    /* Latents are H/8 × W/8 whatever the VAE's factor (diffusers hard-codes 8). */
    *height = (int)((h / 8) * p->vae_factor);
    *width = (int)((w / 8) * p->vae_factor);
    return LDM_OK;
}

/* Tokenize texts[i] for i < n into ids[n, 77]. */
static ldm_status tokenize(const ldm_tokenizer *t, const char *const *texts, int n, int repeat,
                           int32_t *ids)
{
    for (int i = 0; i < n; i++) {
        for (int r = 0; r < repeat; r++) {
            int used = 0;
            ldm_status st = ldm_tokenizer_encode(t, texts[i], TOKENS, ids + (int64_t)(i * repeat + r) * TOKENS, &used);
            if (st != LDM_OK) {
                ldm_error_context("prompt %d: ", i + 1);
                return st;
            }
        }
    }
    return LDM_OK;
}

/* uint8 [B, H, W, 3] from the decoder's [B, 3, H, W]: (x/2+0.5).clamp(0,1)
 * (also kept as float when `f32` is not NULL), then numpy's (x*255).round()
 * (half to even), all in float32 as torch and numpy do. */
static void to_pixels(uint8_t *out, float *f32, const float *img, int64_t b, int64_t h, int64_t w)
{
    for (int64_t n = 0; n < b; n++)
        for (int64_t c = 0; c < 3; c++)
            for (int64_t i = 0; i < h * w; i++) {
                float v = img[(n * 3 + c) * h * w + i] / 2.0f + 0.5f;
                v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
                if (f32)
                    f32[(n * h * w + i) * 3 + c] = v;
                out[(n * h * w + i) * 3 + c] = (uint8_t)nearbyintf(v * 255.0f);
            }
}

ldm_status ldm_pipeline_txt2img(ldm_pipeline *p, const ldm_txt2img_request *req,
                                ldm_progress_fn progress, void *progress_ctx,
                                ldm_txt2img_output *out)
{
    ldm_status st = LDM_OK;
    double t_start = now(), t0;
    ldm_txt2img_timings tm = { 0 };
    ldm_weights *w = NULL;
    ldm_ldmbert *bert = NULL;
    ldm_unet *unet = NULL;
    ldm_vae *vae = NULL;
    ldm_scheduler *sched = NULL;
    int32_t *ids = NULL;
    float *context = NULL, *latents = NULL, *latent_in = NULL, *eps = NULL, *guided = NULL;
    float *noise = NULL, *prev = NULL, *decoded = NULL, *tsteps = NULL;
    const int cfg = req->guidance_scale != 1.0;
    const int64_t b = (int64_t)req->n_prompts * req->images_per_prompt;
    const int64_t b2 = cfg ? 2 * b : b;

    int count, out_h, out_w;
    LDM_CHECK(ldm_pipeline_output_shape(p, req, &count, &out_h, &out_w));
    int height = req->height ? req->height : out_h / (int)p->vae_factor * 8;
    int width = req->width ? req->width : out_w / (int)p->vae_factor * 8;
    const int64_t lc = p->unet_in_channels, lh = height / 8, lw = width / 8;
    const int64_t lat_n = b * lc * lh * lw;

    /* Scheduler first: a bad --scheduler or step count fails before any load. */
    LDM_CHECK(ldm_scheduler_from_config(&p->scheduler->config, req->scheduler, &sched));
    st = ldm_scheduler_set_timesteps(sched, req->steps);
    if (st != LDM_OK) {
        ldm_error_context("--steps %d with %s: ", req->steps, p->scheduler->config_path);
        goto cleanup;
    }
    LDM_CHECK(ldm_scheduler_set_batch(sched, b));
    if (req->latents && req->latents_count != lat_n) {
        st = ldm_error(LDM_EINPUT, "--latents: expected %lld values ([%lld, %lld, %lld, %lld]), got %lld",
                       (long long)lat_n, (long long)b, (long long)lc, (long long)lh, (long long)lw,
                       (long long)req->latents_count);
        goto cleanup;
    }

    /* Text encoder: cond (and uncond) embeddings. */
    t0 = now();
    LDM_CHECK(ldm_model_folder_open_weights(p->folder, "bert", &w));
    LDM_CHECK(ldm_ldmbert_create(&p->bert->config, w, b, TOKENS, &bert));
    ldm_weights_close(&w);
    const int64_t d = ldm_ldmbert_d_model(bert);
    LDM_CHECK(ldm_alloc(sizeof(int32_t) * (size_t)(b * TOKENS), "token ids", (void **)&ids));
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)(b2 * TOKENS * d), "text context", (void **)&context));
    tm.load += now() - t0;
    t0 = now();
    float *cond = context + (cfg ? b * TOKENS * d : 0);
    LDM_CHECK(tokenize(p->tokenizer, req->prompts, req->n_prompts, req->images_per_prompt, ids));
    LDM_CHECK(ldm_ldmbert_forward(bert, ids, cond));
    if (cfg) {
        const char *neg = req->negative_prompt ? req->negative_prompt : "";
        for (int64_t i = 0; i < b; i++) {
            int used;
            st = ldm_tokenizer_encode(p->tokenizer, neg, TOKENS, ids + i * TOKENS, &used);
            if (st != LDM_OK) {
                ldm_error_context("--negative-prompt: ");
                goto cleanup;
            }
        }
        LDM_CHECK(ldm_ldmbert_forward(bert, ids, context));
    }
    ldm_ldmbert_destroy(&bert);
    tm.text_encoder = now() - t0;

    /* Buffers of the loop, all allocated before the first step. */
    size_t lat_bytes = sizeof(float) * (size_t)lat_n;
    LDM_CHECK(ldm_alloc(lat_bytes, "latents", (void **)&latents));
    LDM_CHECK(ldm_alloc(lat_bytes * (cfg ? 2 : 1), "UNet input", (void **)&latent_in));
    LDM_CHECK(ldm_alloc(lat_bytes * (cfg ? 2 : 1), "UNet output", (void **)&eps));
    LDM_CHECK(ldm_alloc(lat_bytes, "guided noise prediction", (void **)&guided));
    LDM_CHECK(ldm_alloc(lat_bytes, "eta noise", (void **)&noise));
    LDM_CHECK(ldm_alloc(lat_bytes, "previous latents", (void **)&prev));
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)b2, "timesteps", (void **)&tsteps));

    ldm_rng rng, noise_rng;
    ldm_rng_seed(&rng, req->seed);
    ldm_rng_seed(&noise_rng, req->noise_seed);
    if (req->latents)
        memcpy(latents, req->latents, lat_bytes);
    else
        ldm_rng_randn_f32(&rng, latents, lat_n);
    /* ldm applies init_noise_sigma (1 for DDIM/PNDM; LMS needs it). */
    double sigma0 = ldm_scheduler_init_noise_sigma(sched);
    if (sigma0 != 1.0)
        for (int64_t i = 0; i < lat_n; i++)
            latents[i] = (float)(latents[i] * (float)sigma0);

    t0 = now();
    LDM_CHECK(ldm_model_folder_open_weights(p->folder, "unet", &w));
    LDM_CHECK(ldm_unet_create(&p->unet->config, w, b2, lh, lw, TOKENS, &unet));
    ldm_weights_close(&w);
    tm.load += now() - t0;

    const double *ts;
    int nts;
    ldm_scheduler_timesteps(sched, &ts, &nts);
    if (progress)
        progress(progress_ctx, 0, nts);
    const float g = (float)req->guidance_scale;
    for (int s = 0; s < nts; s++) {
        const double t = ts[s];
        float *half = latent_in + lat_n;
        LDM_CHECK(ldm_scheduler_scale_model_input(sched, latents, lat_n, t, latent_in));
        if (cfg)
            memcpy(half, latent_in, lat_bytes);
        for (int64_t i = 0; i < b2; i++)
            tsteps[i] = (float)t;
        t0 = now();
        LDM_CHECK(ldm_unet_forward(unet, latent_in, tsteps, context, eps));
        tm.unet_total += now() - t0;
        t0 = now();
        const float *model_out = eps;
        if (cfg) {
            /* noise_pred_uncond + g * (noise_pred_text - noise_pred_uncond), in float32 */
            const float *eu = eps, *ec = eps + lat_n;
            for (int64_t i = 0; i < lat_n; i++)
                guided[i] = eu[i] + g * (ec[i] - eu[i]);
            model_out = guided;
        }
        const float *nz = NULL;
        if (ldm_scheduler_needs_noise(sched, (float)req->eta)) {
            ldm_rng_randn_f32(&noise_rng, noise, lat_n);
            nz = noise;
        }
        LDM_CHECK(ldm_scheduler_step(sched, model_out, t, latents, lat_n, (float)req->eta, nz, prev));
        float *tmp = latents;
        latents = prev;
        prev = tmp;
        tm.scheduler_total += now() - t0;
        if (progress)
            progress(progress_ctx, s + 1, nts);
    }
    tm.steps = nts;
    ldm_unet_destroy(&unet);
    if (out->final_latents)
        memcpy(out->final_latents, latents, lat_bytes);

    /* Decode latents / scaling_factor. */
    t0 = now();
    LDM_CHECK(ldm_model_folder_open_weights(p->folder, "vqvae", &w));
    LDM_CHECK(ldm_vae_create(&p->vqvae->config, w, b, lh, lw, LDM_VAE_DECODER, &vae));
    ldm_weights_close(&w);
    const float inv = 1.0f / (float)ldm_vae_scaling_factor(vae);
    for (int64_t i = 0; i < lat_n; i++)
        latents[i] = inv * latents[i];
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)(b * 3 * out_h * out_w), "decoded image",
                        (void **)&decoded));
    LDM_CHECK(ldm_vae_decode(vae, latents, decoded));
    to_pixels(out->images, out->images_f32, decoded, b, out_h, out_w);
    tm.decoder = now() - t0;
    tm.total = now() - t_start;
    out->timings = tm;
cleanup:
    ldm_weights_close(&w);
    ldm_ldmbert_destroy(&bert);
    ldm_unet_destroy(&unet);
    ldm_vae_destroy(&vae);
    ldm_scheduler_free(&sched);
    ldm_free(ids);
    ldm_free(context);
    ldm_free(latents);
    ldm_free(latent_in);
    ldm_free(eps);
    ldm_free(guided);
    ldm_free(noise);
    ldm_free(prev);
    ldm_free(decoded);
    ldm_free(tsteps);
    return st;
}

const char *ldm_pipeline_scheduler_name(const ldm_pipeline *p, const char *override_name)
{
    static const char *names[][2] = { { "ddim", "DDIMScheduler" }, { "pndm", "PNDMScheduler" },
                                      { "lms", "LMSDiscreteScheduler" } };
    if (override_name)
        for (int i = 0; i < 3; i++)
            if (strcmp(override_name, names[i][0]) == 0)
                return names[i][1];
    const char *cls = NULL;
    if (ldm_config_string(&p->scheduler->config, "_class_name", NULL, &cls) != LDM_OK || !cls)
        ldm_error_clear();
    return override_name ? override_name : (cls ? cls : p->scheduler->class_name);
}
