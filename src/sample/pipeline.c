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

struct ldm_txt2img_run {
    ldm_pipeline *p;                /* borrowed */
    ldm_txt2img_timings tm;
    double t_start;
    ldm_unet *unet;                 /* owned */
    ldm_scheduler *sched;           /* owned */
    ldm_rng rng, noise_rng;         /* latents generator; torch's global (eta noise) */
    int64_t b, b2, lc, lh, lw, lat_n, out_h, out_w;
    int cfg, step, nts;
    const double *ts;               /* borrowed from sched */
    float g, eta;
    float *context;   /* [b2, 77, D]: uncond ‖ cond */
    float *latents;   /* [b, C, h, w] */
    float *latent_in; /* [b2, C, h, w] */
    float *eps;       /* [b2, C, h, w] */
    float *guided;    /* [b, C, h, w] */
    float *noise;     /* [b, C, h, w] */
    float *prev;      /* [b, C, h, w] */
    float *tsteps;    /* [b2] */
};

/* Token ids of req's prompts (each repeated images_per_prompt times) or of
 * the negative prompt, encoded into dst [b, 77, D]. */
static ldm_status encode_text(ldm_txt2img_run *r, ldm_ldmbert *bert, int32_t *ids,
                              const ldm_txt2img_request *req, int negative, float *dst)
{
    ldm_status st;
    if (!negative) {
        st = tokenize(r->p->tokenizer, req->prompts, req->n_prompts, req->images_per_prompt, ids);
    } else {
        const char *neg = req->negative_prompt ? req->negative_prompt : "";
        st = tokenize(r->p->tokenizer, &neg, 1, (int)r->b, ids);
        if (st != LDM_OK)
            ldm_error_context("--negative-prompt: ");
    }
    return st == LDM_OK ? ldm_ldmbert_forward(bert, ids, dst) : st;
}

ldm_status ldm_txt2img_begin(ldm_pipeline *p, const ldm_txt2img_request *req, ldm_txt2img_run **out)
{
    ldm_status st = LDM_OK;
    ldm_txt2img_run *r = NULL;
    ldm_weights *w = NULL;
    ldm_ldmbert *bert = NULL;
    int32_t *ids = NULL;
    double t0;
    *out = NULL;
    LDM_CHECK(ldm_calloc(sizeof *r, "txt2img run", (void **)&r));
    r->p = p;
    r->t_start = now();
    r->cfg = req->guidance_scale != 1.0;
    r->g = (float)req->guidance_scale;
    r->eta = (float)req->eta;
    r->b = (int64_t)req->n_prompts * req->images_per_prompt;
    r->b2 = r->cfg ? 2 * r->b : r->b;

    int count, out_h, out_w;
    LDM_CHECK(ldm_pipeline_output_shape(p, req, &count, &out_h, &out_w));
    r->out_h = out_h;
    r->out_w = out_w;
    r->lc = p->unet_in_channels;
    r->lh = (req->height ? req->height : out_h / (int)p->vae_factor * 8) / 8;
    r->lw = (req->width ? req->width : out_w / (int)p->vae_factor * 8) / 8;
    r->lat_n = r->b * r->lc * r->lh * r->lw;

    /* Scheduler first: a bad --scheduler or step count fails before any load. */
    LDM_CHECK(ldm_scheduler_from_config(&p->scheduler->config, req->scheduler, &r->sched));
    st = ldm_scheduler_set_timesteps(r->sched, req->steps);
    if (st != LDM_OK) {
        ldm_error_context("--steps %d with %s: ", req->steps, p->scheduler->config_path);
        goto cleanup;
    }
    LDM_CHECK(ldm_scheduler_set_batch(r->sched, r->b));
    ldm_scheduler_timesteps(r->sched, &r->ts, &r->nts);
    if (req->latents && req->latents_count != r->lat_n) {
        st = ldm_error(LDM_EINPUT, "--latents: expected %lld values ([%lld, %lld, %lld, %lld]), got %lld",
                       (long long)r->lat_n, (long long)r->b, (long long)r->lc, (long long)r->lh,
                       (long long)r->lw, (long long)req->latents_count);
        goto cleanup;
    }

    /* Text encoder: cond (and uncond) embeddings, context = uncond ‖ cond. */
    t0 = now();
    LDM_CHECK(ldm_model_folder_open_weights(p->folder, "bert", &w));
    LDM_CHECK(ldm_ldmbert_create(&p->bert->config, w, r->b, TOKENS, &bert));
    ldm_weights_close(&w);
    const int64_t d = ldm_ldmbert_d_model(bert);
    LDM_CHECK(ldm_alloc(sizeof(int32_t) * (size_t)(r->b * TOKENS), "token ids", (void **)&ids));
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)(r->b2 * TOKENS * d), "text context",
                        (void **)&r->context));
    r->tm.load += now() - t0;
    t0 = now();
    LDM_CHECK(encode_text(r, bert, ids, req, 0, r->context + (r->cfg ? r->b * TOKENS * d : 0)));
    if (r->cfg)
        LDM_CHECK(encode_text(r, bert, ids, req, 1, r->context));
    ldm_ldmbert_destroy(&bert);
    r->tm.text_encoder = now() - t0;

    /* Buffers of the loop, all allocated before the first step. */
    size_t lat_bytes = sizeof(float) * (size_t)r->lat_n;
    size_t lat2_bytes = lat_bytes * (r->cfg ? 2 : 1);
    LDM_CHECK(ldm_alloc(lat_bytes, "latents", (void **)&r->latents));
    LDM_CHECK(ldm_alloc(lat2_bytes, "UNet input", (void **)&r->latent_in));
    LDM_CHECK(ldm_alloc(lat2_bytes, "UNet output", (void **)&r->eps));
    LDM_CHECK(ldm_alloc(lat_bytes, "guided noise prediction", (void **)&r->guided));
    LDM_CHECK(ldm_alloc(lat_bytes, "eta noise", (void **)&r->noise));
    LDM_CHECK(ldm_alloc(lat_bytes, "previous latents", (void **)&r->prev));
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)r->b2, "timesteps", (void **)&r->tsteps));

    /* Initial latents: one randn call of shape [b, C, h, w], as diffusers. */
    ldm_rng_seed(&r->rng, req->seed);
    ldm_rng_seed(&r->noise_rng, req->noise_seed);
    if (req->latents)
        memcpy(r->latents, req->latents, lat_bytes);
    else
        ldm_rng_randn_f32(&r->rng, r->latents, r->lat_n);
    /* ldm applies init_noise_sigma (1 for DDIM/PNDM; LMS needs it). */
    float sigma0 = (float)ldm_scheduler_init_noise_sigma(r->sched);
    if (sigma0 != 1.0f)
        for (int64_t i = 0; i < r->lat_n; i++)
            r->latents[i] = r->latents[i] * sigma0;

    t0 = now();
    LDM_CHECK(ldm_model_folder_open_weights(p->folder, "unet", &w));
    LDM_CHECK(ldm_unet_create(&p->unet->config, w, r->b2, r->lh, r->lw, TOKENS, &r->unet));
    ldm_weights_close(&w);
    r->tm.load += now() - t0;
    *out = r;
    r = NULL;
cleanup:
    ldm_weights_close(&w);
    ldm_ldmbert_destroy(&bert);
    ldm_free(ids);
    ldm_txt2img_end(&r);
    return st;
}

int ldm_txt2img_steps_total(const ldm_txt2img_run *r)
{
    return r->nts;
}

int ldm_txt2img_steps_done(const ldm_txt2img_run *r)
{
    return r->step;
}

const float *ldm_txt2img_latents(const ldm_txt2img_run *r, int64_t *count)
{
    *count = r->lat_n;
    return r->latents;
}

ldm_status ldm_txt2img_step(ldm_txt2img_run *r)
{
    ldm_status st = LDM_OK;
    if (r->step >= r->nts)
        return ldm_error(LDM_ERUNTIME, "txt2img: all %d steps are done", r->nts);
    const double t = r->ts[r->step];
    const int64_t n = r->lat_n;
    LDM_CHECK(ldm_scheduler_scale_model_input(r->sched, r->latents, n, t, r->latent_in));
    if (r->cfg)
        memcpy(r->latent_in + n, r->latent_in, sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < r->b2; i++)
        r->tsteps[i] = (float)t;
    double t0 = now();
    LDM_CHECK(ldm_unet_forward(r->unet, r->latent_in, r->tsteps, r->context, r->eps));
    r->tm.unet_total += now() - t0;
    t0 = now();
    const float *model_out = r->eps;
    if (r->cfg) {
        /* noise_pred_uncond + g * (noise_pred_text - noise_pred_uncond), in float32 */
        const float *eu = r->eps, *ec = r->eps + n;
        for (int64_t i = 0; i < n; i++)
            r->guided[i] = eu[i] + r->g * (ec[i] - eu[i]);
        model_out = r->guided;
    }
    const float *nz = NULL;
    if (ldm_scheduler_needs_noise(r->sched, r->eta)) {
        ldm_rng_randn_f32(&r->noise_rng, r->noise, n);
        nz = r->noise;
    }
    LDM_CHECK(ldm_scheduler_step(r->sched, model_out, t, r->latents, n, r->eta, nz, r->prev));
    float *tmp = r->latents;
    r->latents = r->prev;
    r->prev = tmp;
    r->step++;
    r->tm.steps = r->step;
    r->tm.scheduler_total += now() - t0;
cleanup:
    return st;
}

ldm_status ldm_txt2img_finish(ldm_txt2img_run *r, ldm_txt2img_output *out)
{
    ldm_status st = LDM_OK;
    ldm_weights *w = NULL;
    ldm_vae *vae = NULL;
    float *scaled = NULL, *decoded = NULL;
    ldm_unet_destroy(&r->unet); /* its memory is better spent on the decoder */
    if (out->final_latents)
        memcpy(out->final_latents, r->latents, sizeof(float) * (size_t)r->lat_n);
    /* Decode latents / scaling_factor. */
    double t0 = now();
    LDM_CHECK(ldm_model_folder_open_weights(r->p->folder, "vqvae", &w));
    LDM_CHECK(ldm_vae_create(&r->p->vqvae->config, w, r->b, r->lh, r->lw, LDM_VAE_DECODER, &vae));
    ldm_weights_close(&w);
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)r->lat_n, "scaled latents", (void **)&scaled));
    const float inv = 1.0f / (float)ldm_vae_scaling_factor(vae);
    for (int64_t i = 0; i < r->lat_n; i++)
        scaled[i] = inv * r->latents[i];
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)(r->b * 3 * r->out_h * r->out_w), "decoded image",
                        (void **)&decoded));
    LDM_CHECK(ldm_vae_decode(vae, scaled, decoded));
    to_pixels(out->images, out->images_f32, decoded, r->b, r->out_h, r->out_w);
    r->tm.decoder = now() - t0;
    r->tm.total = now() - r->t_start;
    out->timings = r->tm;
cleanup:
    ldm_weights_close(&w);
    ldm_vae_destroy(&vae);
    ldm_free(scaled);
    ldm_free(decoded);
    return st;
}

void ldm_txt2img_end(ldm_txt2img_run **rp)
{
    if (!rp || !*rp)
        return;
    ldm_txt2img_run *r = *rp;
    ldm_unet_destroy(&r->unet);
    ldm_scheduler_free(&r->sched);
    ldm_free(r->context);
    ldm_free(r->latents);
    ldm_free(r->latent_in);
    ldm_free(r->eps);
    ldm_free(r->guided);
    ldm_free(r->noise);
    ldm_free(r->prev);
    ldm_free(r->tsteps);
    ldm_free(r);
    *rp = NULL;
}

/* State blob: magic, step, lat_n, scheduler bytes | latents | rng | noise rng | scheduler. */
enum { STATE_MAGIC = 0x4c444d53 /* "LDMS" */, STATE_HEADER = 4 * 8 };

static size_t sched_bytes(const ldm_txt2img_run *r)
{
    size_t n = 0;
    if (ldm_scheduler_state_bytes(r->sched, r->lat_n, &n) != LDM_OK)
        n = 0;
    return n;
}

size_t ldm_txt2img_state_bytes(const ldm_txt2img_run *r)
{
    return STATE_HEADER + sizeof(float) * (size_t)r->lat_n + 2 * 4 * LDM_RNG_STATE_WORDS +
           sched_bytes(r);
}

ldm_status ldm_txt2img_state_save(const ldm_txt2img_run *r, void *buf, size_t bytes)
{
    if (bytes != ldm_txt2img_state_bytes(r))
        return ldm_error(LDM_ERUNTIME, "checkpoint state: buffer of %zu bytes, need %zu", bytes,
                         ldm_txt2img_state_bytes(r));
    unsigned char *p = buf;
    uint64_t head[4] = { STATE_MAGIC, (uint64_t)r->step, (uint64_t)r->lat_n, sched_bytes(r) };
    memcpy(p, head, sizeof head);
    p += STATE_HEADER;
    memcpy(p, r->latents, sizeof(float) * (size_t)r->lat_n);
    p += sizeof(float) * (size_t)r->lat_n;
    uint32_t words[LDM_RNG_STATE_WORDS];
    ldm_rng_save(&r->rng, words);
    memcpy(p, words, sizeof words);
    p += sizeof words;
    ldm_rng_save(&r->noise_rng, words);
    memcpy(p, words, sizeof words);
    p += sizeof words;
    return ldm_scheduler_state_save(r->sched, r->lat_n, p, head[3]);
}

ldm_status ldm_txt2img_state_restore(ldm_txt2img_run *r, const void *buf, size_t bytes)
{
    const unsigned char *p = buf;
    uint64_t head[4];
    if (bytes != ldm_txt2img_state_bytes(r))
        return ldm_error(LDM_EINPUT, "checkpoint state: %zu bytes, this run needs %zu (another request?)",
                         bytes, ldm_txt2img_state_bytes(r));
    memcpy(head, p, sizeof head);
    if (head[0] != STATE_MAGIC || head[2] != (uint64_t)r->lat_n || head[3] != sched_bytes(r) ||
        head[1] > (uint64_t)r->nts)
        return ldm_error(LDM_EINPUT, "checkpoint state: does not belong to this request");
    p += STATE_HEADER;
    uint32_t words[LDM_RNG_STATE_WORDS];
    ldm_rng rng = r->rng, noise_rng = r->noise_rng;
    const unsigned char *rng_at = p + sizeof(float) * (size_t)r->lat_n;
    memcpy(words, rng_at, sizeof words);
    ldm_status st = ldm_rng_restore(&rng, words);
    if (st == LDM_OK) {
        memcpy(words, rng_at + sizeof words, sizeof words);
        st = ldm_rng_restore(&noise_rng, words);
    }
    if (st == LDM_OK)
        st = ldm_scheduler_state_restore(r->sched, rng_at + 2 * sizeof words, head[3]);
    if (st != LDM_OK) {
        ldm_error_context("checkpoint state: ");
        return st;
    }
    memcpy(r->latents, p, sizeof(float) * (size_t)r->lat_n);
    r->rng = rng;
    r->noise_rng = noise_rng;
    r->step = (int)head[1];
    return LDM_OK;
}

ldm_status ldm_pipeline_txt2img(ldm_pipeline *p, const ldm_txt2img_request *req,
                                ldm_progress_fn progress, void *progress_ctx,
                                ldm_txt2img_output *out)
{
    ldm_txt2img_run *run = NULL;
    ldm_status st = ldm_txt2img_begin(p, req, &run);
    if (st != LDM_OK)
        return st;
    if (progress)
        progress(progress_ctx, 0, run->nts);
    while (st == LDM_OK && run->step < run->nts) {
        st = ldm_txt2img_step(run);
        if (st == LDM_OK && progress)
            progress(progress_ctx, run->step, run->nts);
    }
    if (st == LDM_OK)
        st = ldm_txt2img_finish(run, out);
    ldm_txt2img_end(&run);
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
