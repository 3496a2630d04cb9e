#include "pipeline.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/timers.h"
#include "mpi/agree.h"
#include "mpi/util.h"
#include "io/model_folder.h"
#include "io/weights.h"
#include "models/ldmbert.h"
#include "models/unet.h"
#include "models/vae.h"
#include "sample/pipeline_strips.h"
#include "sample/rng.h"
#include "sample/scheduler.h"
#include "sample/scheduler_impl.h"
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

int64_t ldm_pipeline_latent_channels(const ldm_pipeline *p)
{
    return p->unet_in_channels;
}

void ldm_pipeline_default_size(const ldm_pipeline *p, int *height, int *width)
{
    /* diffusers: height = unet.config.sample_size * vae_scale_factor */
    *height = *width = (int)(p->unet_sample_size * p->vae_factor);
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

ldm_status ldm_pipeline_parallel_sizes(const ldm_pipeline *p, int height, int width,
                                       ldm_pipeline_sizes *out)
{
    ldm_status st = LDM_OK;
    long long groups = 0, text_heads = 0, vals[16];
    int n = 0;
    (void)width;
    memset(out, 0, sizeof *out);
    LDM_CHECK(ldm_config_int(&p->unet->config, "norm_num_groups", 32, &groups));
    LDM_CHECK(ldm_config_int(&p->bert->config, "encoder_attention_heads", 0, &text_heads));
    /* diffusers' attention_head_dim is the head count (per level or one). */
    LDM_CHECK(ldm_config_int_list(&p->unet->config, "attention_head_dim", 1, 0, vals, 16, &n));
    for (int i = 0; i < n; i++)
        out->heads = gcd64(out->heads, vals[i] > 0 ? vals[i] : 0);
    LDM_CHECK(ldm_config_int_list(&p->unet->config, "block_out_channels", 0, 0, vals, 16, &n));
    int dh, dw;
    ldm_pipeline_default_size(p, &dh, &dw);
    int64_t rows = (height ? height : dh) / 8;
    for (int i = 1; i < n; i++) /* every level but the last halves (ceil) */
        rows = (rows + 1) / 2;
    out->norm_groups = groups;
    out->text_heads = text_heads;
    out->min_rows = rows;
cleanup:
    return st;
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

/* ids [e1 − e0, 77] of batch entries e0 .. e1 (entry i is prompt i / repeat). */
static ldm_status tokenize_entries(const ldm_tokenizer *t, const char *const *prompts, int repeat,
                                   int64_t e0, int64_t e1, int32_t *ids)
{
    for (int64_t e = e0; e < e1; e++) {
        int used = 0;
        int64_t prompt = e / repeat;
        ldm_status st = ldm_tokenizer_encode(t, prompts[prompt], TOKENS, ids + (e - e0) * TOKENS, &used);
        if (st != LDM_OK) {
            ldm_error_context("prompt %lld: ", (long long)prompt + 1);
            return st;
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
    int64_t b_all, e0;              /* the request's B; first entry made here */
    int cfg, step, nts;
    MPI_Comm cfg_comm;              /* borrowed; MPI_COMM_NULL: both passes here */
    int branch;                     /* with cfg_comm: 0 unconditional, 1 text */
    const double *ts;               /* borrowed from sched */
    float g, eta;
    float *context;   /* [b2, 77, D]: uncond ‖ cond */
    float *latents;   /* [b, C, h, w] */
    float *latent_in; /* [b2, C, h, w] */
    float *eps;       /* [b2, C, h, w] */
    float *guided;    /* [b, C, h, w] */
    float *noise;     /* [b_all, C, h, w]: drawn for the whole batch, sliced */
    float *prev;      /* [b, C, h, w] */
    float *tsteps;    /* [b2] */
    /* The model split (contract 1): communicators borrowed from the request.
     * Under a spatial split every [b, C, h, w] buffer above holds this
     * rank's rows [r0, r1) of each plane (strips: lat_n elements);
     * `noise` stays whole. */
    ldm_model_parallel mp;
    int64_t align;              /* the UNet's latent strip alignment */
    ldm_strips strips;          /* rows of this rank; gathers over spatial */
    int64_t lat_all;            /* b · C · h · w: the whole latents of the run */
    float *whole;               /* [b, C, h, w] gathered (spatial split only) */
    float *strip_noise;         /* [lat_n] this rank's rows of the drawn noise */
    unsigned char *sched_local; /* scheduler state of the strips (spatial split) */
    size_t sched_local_bytes;
};

/* Token ids of the run's entries of req's prompts (each repeated
 * images_per_prompt times) or of the negative prompt, encoded into
 * dst [b, 77, D]. */
static ldm_status encode_text(ldm_txt2img_run *r, ldm_ldmbert *bert, int32_t *ids,
                              const ldm_txt2img_request *req, int negative, float *dst)
{
    ldm_status st;
    if (!negative) {
        st = tokenize_entries(r->p->tokenizer, req->prompts, req->images_per_prompt, r->e0,
                              r->e0 + r->b, ids);
    } else {
        const char *neg = req->negative_prompt ? req->negative_prompt : "";
        st = tokenize(r->p->tokenizer, &neg, 1, (int)r->b, ids);
        if (st != LDM_OK)
            ldm_error_context("--negative-prompt: ");
    }
    return st == LDM_OK ? ldm_ldmbert_forward(bert, ids, dst) : st;
}

int ldm_pipeline_model_split(void)
{
    return 1;
}

static int comm_size(MPI_Comm c)
{
    int n = 1;
    if (c != MPI_COMM_NULL)
        MPI_Comm_size(c, &n);
    return n;
}

/* The one place where the pipeline hands the channel/spatial split to the
 * models (contract 1): an ldm_model_parallel from req->parallel->channel
 * and ->spatial (size-1 communicators become MPI_COMM_NULL: no split),
 * passed to LDMBert (channel only), the UNet and the VAE decoder. */
static ldm_model_parallel model_parallel(const ldm_txt2img_request *req)
{
    ldm_model_parallel mp = { .channel = MPI_COMM_NULL, .spatial = MPI_COMM_NULL };
    if (req->parallel && comm_size(req->parallel->channel) > 1)
        mp.channel = req->parallel->channel;
    if (req->parallel && comm_size(req->parallel->spatial) > 1)
        mp.spatial = req->parallel->spatial;
    return mp;
}

/* This rank's rows of whole [b, C, h, w] (the whole itself when unsplit). */
static const float *strip_of(ldm_txt2img_run *r, const float *whole, float *buf)
{
    if (!r->strips.gather)
        return whole;
    ldm_strips_cut(&r->strips, whole, buf);
    return buf;
}

/* One randn draw of [b_all, C, h, w] into r->noise (the whole batch, so
 * each entry gets the numbers it gets in one process); returns this run's
 * entries [e0, e0 + b) of it. */
static const float *draw_entries(ldm_txt2img_run *r, ldm_rng *rng)
{
    ldm_rng_randn_f32(rng, r->noise, r->b_all * r->lc * r->lh * r->lw);
    return r->noise + r->e0 * r->lc * r->lh * r->lw;
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
    r->cfg_comm = MPI_COMM_NULL;
    r->t_start = now();
    r->cfg = req->guidance_scale != 1.0;
    r->g = (float)req->guidance_scale;
    r->eta = (float)req->eta;
    r->b_all = (int64_t)req->n_prompts * req->images_per_prompt;
    r->e0 = req->entry_begin;
    r->b = req->entry_end - req->entry_begin;
    if (req->entry_begin == 0 && req->entry_end == 0)
        r->b = r->b_all;
    if (r->e0 < 0 || r->b < 1 || r->e0 + r->b > r->b_all) {
        st = ldm_error(LDM_EINPUT, "txt2img: batch entries [%lld, %lld) are not within the %lld "
                       "of the request", (long long)req->entry_begin, (long long)req->entry_end,
                       (long long)r->b_all);
        goto cleanup;
    }
    r->cfg_comm = MPI_COMM_NULL;
    if (req->parallel && comm_size(req->parallel->cfg) > 1) {
        if (comm_size(req->parallel->cfg) != 2 || !r->cfg) {
            st = ldm_error(LDM_EINPUT, "--cfg-parallel: needs guidance (scale != 1) and two "
                                       "branches, got %d ranks", comm_size(req->parallel->cfg));
            goto cleanup;
        }
        r->cfg_comm = req->parallel->cfg;
        MPI_Comm_rank(r->cfg_comm, &r->branch);
    }
    r->mp = model_parallel(req);
    r->b2 = r->cfg && r->cfg_comm == MPI_COMM_NULL ? 2 * r->b : r->b;

    int count, out_h, out_w;
    LDM_CHECK(ldm_pipeline_output_shape(p, req, &count, &out_h, &out_w));
    r->out_h = out_h;
    r->out_w = out_w;
    r->lc = p->unet_in_channels;
    r->lh = (req->height ? req->height : out_h / (int)p->vae_factor * 8) / 8;
    r->lw = (req->width ? req->width : out_w / (int)p->vae_factor * 8) / 8;
    r->lat_all = r->b * r->lc * r->lh * r->lw;
    {
        ldm_unet_config ucfg;
        LDM_CHECK(ldm_unet_config_parse(&p->unet->config, &ucfg));
        r->align = ldm_unet_latent_align(&ucfg);
    }
    /* The rank's latent rows (the UNet checks that Ps fits its levels). */
    LDM_CHECK(ldm_strips_create(r->mp.spatial, r->b * r->lc, r->lh, r->lw, r->align, &r->strips));
    r->lat_n = ldm_strips_local_count(&r->strips);

    /* Scheduler first: a bad --scheduler or step count fails before any load. */
    LDM_CHECK(ldm_scheduler_from_config(&p->scheduler->config, req->scheduler, &r->sched));
    st = ldm_scheduler_set_timesteps(r->sched, req->steps);
    if (st != LDM_OK) {
        ldm_error_context("--steps %d with %s: ", req->steps, p->scheduler->config_path);
        goto cleanup;
    }
    LDM_CHECK(ldm_scheduler_set_batch(r->sched, r->b));
    ldm_scheduler_timesteps(r->sched, &r->ts, &r->nts);
    if (r->strips.gather && r->sched->p.thresholding) {
        st = ldm_error(LDM_EINPUT, "--grid %dx%d: DDIM thresholding takes quantiles over whole "
                       "latents, which a spatial split (Ps > 1) does not hold (%s); use --grid "
                       "with Ps = 1", ldm_model_parallel_channel_size(&r->mp),
                       ldm_model_parallel_spatial_size(&r->mp), p->scheduler->config_path);
        goto cleanup;
    }
    if (req->latents && req->latents_count != r->b_all * r->lc * r->lh * r->lw) {
        st = ldm_error(LDM_EINPUT, "--latents: expected %lld values ([%lld, %lld, %lld, %lld]), got %lld",
                       (long long)(r->b_all * r->lc * r->lh * r->lw), (long long)r->b_all,
                       (long long)r->lc, (long long)r->lh,
                       (long long)r->lw, (long long)req->latents_count);
        goto cleanup;
    }

    /* Text encoder: cond (and uncond) embeddings, context = uncond ‖ cond. */
    t0 = now();
    LDM_CHECK(ldm_model_folder_open_weights(p->folder, "bert", &w));
    {
        /* The text encoder splits over `channel` only (heads and FFN columns). */
        ldm_ldmbert_options bo = { .parallel = &r->mp };
        LDM_CHECK(ldm_ldmbert_create_opts(&p->bert->config, w, r->b, TOKENS, &bo, &bert));
    }
    ldm_weights_close(&w);
    const int64_t d = ldm_ldmbert_d_model(bert);
    LDM_CHECK(ldm_alloc(sizeof(int32_t) * (size_t)(r->b * TOKENS), "token ids", (void **)&ids));
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)(r->b2 * TOKENS * d), "text context",
                        (void **)&r->context));
    r->tm.load += now() - t0;
    t0 = now();
    if (r->cfg_comm != MPI_COMM_NULL) {
        /* One branch, one pass: its own half of the context. */
        LDM_CHECK(encode_text(r, bert, ids, req, r->branch == 0, r->context));
    } else {
        LDM_CHECK(encode_text(r, bert, ids, req, 0, r->context + (r->cfg ? r->b * TOKENS * d : 0)));
        if (r->cfg)
            LDM_CHECK(encode_text(r, bert, ids, req, 1, r->context));
    }
    ldm_ldmbert_destroy(&bert);
    r->tm.text_encoder = now() - t0;

    /* Buffers of the loop, all allocated before the first step. */
    size_t lat_bytes = sizeof(float) * (size_t)r->lat_n;
    size_t lat2_bytes = lat_bytes * (r->cfg ? 2 : 1);
    size_t all_bytes = sizeof(float) * (size_t)(r->b_all * r->lc * r->lh * r->lw);
    LDM_CHECK(ldm_alloc(lat_bytes, "latents", (void **)&r->latents));
    LDM_CHECK(ldm_alloc(lat2_bytes, "UNet input", (void **)&r->latent_in));
    /* With the CFG split: [uncond | text] of b entries each, one from the
     * partner branch. */
    LDM_CHECK(ldm_alloc(lat2_bytes, "UNet output", (void **)&r->eps));
    LDM_CHECK(ldm_alloc(lat_bytes, "guided noise prediction", (void **)&r->guided));
    LDM_CHECK(ldm_alloc(all_bytes, "eta noise", (void **)&r->noise));
    LDM_CHECK(ldm_alloc(lat_bytes, "previous latents", (void **)&r->prev));
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)r->b2, "timesteps", (void **)&r->tsteps));
    if (r->strips.gather) {
        LDM_CHECK(ldm_alloc(lat_bytes, "eta noise strip", (void **)&r->strip_noise));
        LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)r->lat_all, "whole latents",
                            (void **)&r->whole));
        LDM_CHECK(ldm_scheduler_state_bytes(r->sched, r->lat_n, &r->sched_local_bytes));
        LDM_CHECK(ldm_alloc(r->sched_local_bytes, "scheduler state of the strips",
                            (void **)&r->sched_local));
    }

    /* Initial latents: one randn call of shape [b, C, h, w], as diffusers
     * (drawn whole on every rank, so a split run starts where one process
     * does; each rank keeps its rows). */
    ldm_rng_seed(&r->rng, req->seed);
    ldm_rng_seed(&r->noise_rng, req->noise_seed);
    const float *init = req->latents ? req->latents + r->e0 * r->lc * r->lh * r->lw
                                     : draw_entries(r, &r->rng);
    ldm_strips_cut(&r->strips, init, r->latents);
    /* ldm applies init_noise_sigma (1 for DDIM/PNDM; LMS needs it). */
    float sigma0 = (float)ldm_scheduler_init_noise_sigma(r->sched);
    if (sigma0 != 1.0f)
        for (int64_t i = 0; i < r->lat_n; i++)
            r->latents[i] = r->latents[i] * sigma0;

    t0 = now();
    LDM_CHECK(ldm_model_folder_open_weights(p->folder, "unet", &w));
    LDM_CHECK(ldm_unet_create_parallel(&p->unet->config, w, r->b2, r->lh, r->lw, TOKENS, &r->mp,
                                       &r->unet));
    ldm_weights_close(&w);
    {
        int64_t u0, u1;
        ldm_unet_get_rows(r->unet, &u0, &u1);
        if (u0 != r->strips.r0 || u1 != r->strips.r1) {
            st = ldm_error(LDM_ERUNTIME, "txt2img: the UNet works on latent rows [%lld, %lld), "
                           "the pipeline cut [%lld, %lld)", (long long)u0, (long long)u1,
                           (long long)r->strips.r0, (long long)r->strips.r1);
            goto cleanup;
        }
    }
    r->tm.load += now() - t0;
cleanup:
    /* The two branches fail together (the next step exchanges with the
     * partner). */
    if (r && r->cfg_comm != MPI_COMM_NULL)
        st = ldm_mpi_agree(r->cfg_comm, st);
    if (st == LDM_OK) {
        *out = r;
        r = NULL;
    }
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
    *count = r->lat_all;
    if (!r->strips.gather)
        return r->latents;
    /* Collective on spatial: the strips assembled (r->whole is scratch). */
    return ldm_strips_gather(&r->strips, r->latents, r->whole) == LDM_OK ? r->whole : NULL;
}

/* Send mine [n] to the partner branch, receive theirs [n]: the one exchange
 * of the CFG split per step (counted as sendrecv). */
static ldm_status exchange_eps(MPI_Comm comm, int partner, const float *mine, float *theirs,
                               int64_t n)
{
    enum { TAG_EPS = 7401 };
    int count = 0;
    ldm_status st = ldm_mpi_count((size_t)n, &count);
    if (st != LDM_OK)
        return st;
    const double t0 = ldm_timer_now();
    st = ldm_mpi_check(MPI_Sendrecv(mine, count, MPI_FLOAT, partner, TAG_EPS, theirs, count,
                                    MPI_FLOAT, partner, TAG_EPS, comm, MPI_STATUS_IGNORE),
                       "CFG exchange: MPI_Sendrecv");
    ldm_timer_add(LDM_T_COMM_SENDRECV, ldm_timer_now() - t0, (uint64_t)n * sizeof(float));
    return st;
}

ldm_status ldm_txt2img_step(ldm_txt2img_run *r)
{
    ldm_status st = LDM_OK;
    if (r->step >= r->nts)
        return ldm_error(LDM_ERUNTIME, "txt2img: all %d steps are done", r->nts);
    const double t = r->ts[r->step];
    const int64_t n = r->lat_n;
    LDM_CHECK(ldm_scheduler_scale_model_input(r->sched, r->latents, n, t, r->latent_in));
    if (r->b2 > r->b)
        memcpy(r->latent_in + n, r->latent_in, sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < r->b2; i++)
        r->tsteps[i] = (float)t;
    double t0 = now();
    if (r->cfg_comm == MPI_COMM_NULL) {
        LDM_CHECK(ldm_unet_forward(r->unet, r->latent_in, r->tsteps, r->context, r->eps));
    } else {
        /* Branch 0 computes eps_u into eps[0, n), branch 1 eps_c into
         * eps[n, 2n); each sends its half and receives the other. */
        float *mine = r->eps + (r->branch ? n : 0), *theirs = r->eps + (r->branch ? 0 : n);
        st = ldm_unet_forward(r->unet, r->latent_in, r->tsteps, r->context, mine);
        LDM_CHECK(ldm_mpi_agree(r->cfg_comm, st));
        LDM_CHECK(exchange_eps(r->cfg_comm, 1 - r->branch, mine, theirs, n));
    }
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
        /* Drawn whole (one randn of the batch, as diffusers), used in strips. */
        nz = strip_of(r, draw_entries(r, &r->noise_rng), r->strip_noise);
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
    float *scaled = NULL, *decoded = NULL, *image = NULL;
    ldm_strips img = { 0 };
    ldm_unet_destroy(&r->unet); /* its memory is better spent on the decoder */
    if (out->final_latents) /* collective on spatial: the whole latents */
        LDM_CHECK(ldm_strips_gather(&r->strips, r->latents, out->final_latents));
    double t0 = now();
    if (r->cfg_comm != MPI_COMM_NULL && r->branch != 0)
        goto done; /* both branches hold the same latents: branch 0 decodes */
    /* Decode latents / scaling_factor. */
    LDM_CHECK(ldm_model_folder_open_weights(r->p->folder, "vqvae", &w));
    /* The decoder takes the UNet's strips as they are (same align); its
     * image strips are f × the latent rows and meet over `spatial`. */
    LDM_CHECK(ldm_vae_create_parallel(&r->p->vqvae->config, w, r->b, r->lh, r->lw,
                                      LDM_VAE_DECODER, &r->mp, r->align, &vae));
    ldm_weights_close(&w);
    const int64_t f = ldm_vae_downsample_factor(vae);
    LDM_CHECK(ldm_strips_create(r->strips.spatial, r->b * 3, r->out_h, r->out_w, f * r->align,
                                &img));
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)r->lat_n, "scaled latents", (void **)&scaled));
    const float inv = 1.0f / (float)ldm_vae_scaling_factor(vae);
    for (int64_t i = 0; i < r->lat_n; i++)
        scaled[i] = inv * r->latents[i];
    LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)ldm_strips_local_count(&img), "decoded image",
                        (void **)&decoded));
    LDM_CHECK(ldm_vae_decode(vae, scaled, decoded));
    image = decoded;
    if (img.gather) {
        LDM_CHECK(ldm_alloc(sizeof(float) * (size_t)ldm_strips_whole_count(&img), "image",
                            (void **)&image));
        LDM_CHECK(ldm_strips_gather(&img, decoded, image));
    }
    to_pixels(out->images, out->images_f32, image, r->b, r->out_h, r->out_w);
    r->tm.decoder = now() - t0;
done:
    r->tm.total = now() - r->t_start;
    out->timings = r->tm;
cleanup:
    ldm_weights_close(&w);
    ldm_vae_destroy(&vae);
    ldm_strips_destroy(&img);
    if (image != decoded)
        ldm_free(image);
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
    ldm_free(r->whole);
    ldm_free(r->strip_noise);
    ldm_free(r->sched_local);
    ldm_strips_destroy(&r->strips);
    ldm_free(r);
    *rp = NULL;
}

/* State blob: magic, step, lat_all, scheduler bytes | latents | rng | noise rng | scheduler.
 * Always of the WHOLE latents [b, C, h, w], whatever the split, so a state
 * saved under one layout restores under another (strips are gathered on
 * save and cut on restore). */
enum { STATE_MAGIC = 0x4c444d53 /* "LDMS" */, STATE_HEADER = 4 * 8 };

static size_t sched_bytes(const ldm_txt2img_run *r)
{
    size_t n = 0;
    if (ldm_scheduler_state_bytes(r->sched, r->lat_all, &n) != LDM_OK)
        n = 0;
    return n;
}

size_t ldm_txt2img_state_bytes(const ldm_txt2img_run *r)
{
    return STATE_HEADER + sizeof(float) * (size_t)r->lat_all + 2 * 4 * LDM_RNG_STATE_WORDS +
           sched_bytes(r);
}

ldm_status ldm_txt2img_state_save(const ldm_txt2img_run *r, void *buf, size_t bytes)
{
    if (bytes != ldm_txt2img_state_bytes(r))
        return ldm_error(LDM_ERUNTIME, "checkpoint state: buffer of %zu bytes, need %zu", bytes,
                         ldm_txt2img_state_bytes(r));
    unsigned char *p = buf;
    uint64_t head[4] = { STATE_MAGIC, (uint64_t)r->step, (uint64_t)r->lat_all, sched_bytes(r) };
    memcpy(p, head, sizeof head);
    p += STATE_HEADER;
    /* Collective on spatial under a split: the strips gathered. */
    ldm_status st = ldm_strips_gather(&r->strips, r->latents, (float *)(void *)p);
    if (st != LDM_OK)
        return st;
    p += sizeof(float) * (size_t)r->lat_all;
    uint32_t words[LDM_RNG_STATE_WORDS];
    ldm_rng_save(&r->rng, words);
    memcpy(p, words, sizeof words);
    p += sizeof words;
    ldm_rng_save(&r->noise_rng, words);
    memcpy(p, words, sizeof words);
    p += sizeof words;
    if (!r->strips.gather)
        return ldm_scheduler_state_save(r->sched, r->lat_n, p, head[3]);
    st = ldm_scheduler_state_save(r->sched, r->lat_n, r->sched_local, r->sched_local_bytes);
    /* Every spatial rank fails alike here (same step, same sizes). */
    if (st != LDM_OK)
        return st;
    return ldm_strips_sched_gather(&r->strips, r->sched_local, r->sched_local_bytes, p, head[3]);
}

ldm_status ldm_txt2img_state_restore(ldm_txt2img_run *r, const void *buf, size_t bytes)
{
    const unsigned char *p = buf;
    uint64_t head[4];
    if (bytes != ldm_txt2img_state_bytes(r))
        return ldm_error(LDM_EINPUT, "checkpoint state: %zu bytes, this run needs %zu (another request?)",
                         bytes, ldm_txt2img_state_bytes(r));
    memcpy(head, p, sizeof head);
    if (head[0] != STATE_MAGIC || head[2] != (uint64_t)r->lat_all || head[3] != sched_bytes(r) ||
        head[1] > (uint64_t)r->nts)
        return ldm_error(LDM_EINPUT, "checkpoint state: does not belong to this request");
    p += STATE_HEADER;
    uint32_t words[LDM_RNG_STATE_WORDS];
    ldm_rng rng = r->rng, noise_rng = r->noise_rng;
    const unsigned char *rng_at = p + sizeof(float) * (size_t)r->lat_all;
    memcpy(words, rng_at, sizeof words);
    ldm_status st = ldm_rng_restore(&rng, words);
    if (st == LDM_OK) {
        memcpy(words, rng_at + sizeof words, sizeof words);
        st = ldm_rng_restore(&noise_rng, words);
    }
    if (st == LDM_OK && !r->strips.gather) {
        st = ldm_scheduler_state_restore(r->sched, rng_at + 2 * sizeof words, head[3]);
    } else if (st == LDM_OK) { /* this rank's rows of the whole history */
        ldm_strips_sched_cut(&r->strips, rng_at + 2 * sizeof words, head[3], r->sched_local,
                             r->sched_local_bytes);
        st = ldm_scheduler_state_restore(r->sched, r->sched_local, r->sched_local_bytes);
    }
    if (st != LDM_OK) {
        ldm_error_context("checkpoint state: ");
        return st;
    }
    ldm_strips_cut(&r->strips, (const float *)(const void *)p, r->latents);
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
