/* test_runfile_common.h — items and data patterns shared by the run file
 * tests. Every value a test writes is a function of (item, step, index), so
 * a reader can check any checkpoint without remembering what was written. */
#ifndef LDM_TESTS_RUNFILE_COMMON_H
#define LDM_TESTS_RUNFILE_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "io/model_identity.h"
#include "io/runfile.h"

enum { T_RNG_STREAMS = 2, T_RNG_WORDS = 633, T_TRAJ = 2 };

/* Two sizes (groups), DDIM- and PNDM-sized scheduler blobs, UTF-8 prompts. */
static inline void t_make_items(ldm_runfile_item *items, int n)
{
    static const char *prompts[] = { "a painting of a squirrel eating a burger",
                                     "caf\xc3\xa9 \xe2\x98\x95 \xe6\x97\xa5\xe6\x9c\xac",
                                     "", "an astronaut riding a horse, highly detailed, 4k",
                                     "x",
                                     ("a long prompt that goes on and on and on and on "
                                      "and on and on to make the string width differ"),
                                     "tiny" };
    static const int steps[] = { 5, 4, 6, 3, 5, 2, 4 };
    for (int i = 0; i < n; i++) {
        ldm_runfile_item *it = &items[i];
        memset(it, 0, sizeof *it);
        it->prompt = prompts[i % 7];
        it->negative_prompt = i % 3 == 0 ? "blurry" : "";
        it->scheduler = i % 2 ? "pndm" : "ddim";
        it->seed = 1000u + (uint64_t)i * 7919u;
        it->noise_seed = 67280421310721ull + (uint64_t)i;
        it->guidance_scale = 1.0 + 0.5 * i;
        it->eta = 0.1 * (i % 4);
        it->steps = steps[i % 7];
        int big = i % 3 == 1;  /* items 1, 4: the second size group */
        it->height = big ? 16 : 32;
        it->width = big ? 48 : 32;
        it->latent_shape[0] = 4;
        it->latent_shape[1] = it->height / 8;
        it->latent_shape[2] = it->width / 8;
        int64_t lat = 4LL * it->latent_shape[1] * it->latent_shape[2];
        it->scheduler_state_bytes = i % 2 ? 72 + 6 * 4 * lat : 72;
    }
}

static inline int64_t t_latents(const ldm_runfile_item *it)
{
    return (int64_t)it->latent_shape[0] * it->latent_shape[1] * it->latent_shape[2];
}

static inline float t_latent_value(int64_t item, int step, int64_t k)
{
    return (float)item * 1000.0f + (float)step + (float)(k % 97) * 0.001f - 0.5f;
}

static inline uint32_t t_rng_value(int64_t item, int step, int64_t k)
{
    return (uint32_t)(item * 2654435761u) ^ (uint32_t)(step * 40503u) ^ (uint32_t)(k * 2246822519u);
}

static inline uint8_t t_sched_value(int64_t item, int step, int64_t k)
{
    return (uint8_t)(item * 31 + step * 7 + k);
}

static inline uint8_t t_pixel_value(int64_t item, int64_t k)
{
    return (uint8_t)(item * 13 + k * 3);
}

/* Buffers big enough for the largest item. */
typedef struct t_buffers {
    float lat[256];
    uint32_t rng[T_RNG_STREAMS * T_RNG_WORDS];
    uint8_t sched[4096];
    uint8_t rgb[48 * 48 * 3];
} t_buffers;

static inline void t_fill_slot(const ldm_runfile_item *it, int64_t item, int step, t_buffers *b,
                               ldm_runfile_slot *s)
{
    s->item = item;
    s->step = step;
    s->latents = b->lat;
    s->latents_count = t_latents(it);
    s->rng = b->rng;
    s->rng_count = T_RNG_STREAMS * T_RNG_WORDS;
    s->scheduler_state = b->sched;
    s->scheduler_state_bytes = it->scheduler_state_bytes;
    for (int64_t k = 0; k < s->latents_count; k++)
        b->lat[k] = t_latent_value(item, step, k);
    for (int64_t k = 0; k < s->rng_count; k++)
        b->rng[k] = t_rng_value(item, step, k);
    for (int64_t k = 0; k < s->scheduler_state_bytes; k++)
        b->sched[k] = t_sched_value(item, step, k);
}

/* Number of values in a read-back slot that differ from the pattern of
 * `step` (0 = exact). */
static inline int64_t t_slot_mismatches(const ldm_runfile_slot *s, int step)
{
    int64_t bad = 0;
    for (int64_t k = 0; k < s->latents_count; k++)
        bad += s->latents[k] != t_latent_value(s->item, step, k);
    for (int64_t k = 0; k < s->rng_count; k++)
        bad += s->rng[k] != t_rng_value(s->item, step, k);
    for (int64_t k = 0; k < s->scheduler_state_bytes; k++)
        bad += s->scheduler_state[k] != t_sched_value(s->item, step, k);
    return bad;
}

static inline void t_fill_image(const ldm_runfile_item *it, int64_t item, t_buffers *b,
                                ldm_runfile_image *im)
{
    im->item = item;
    im->rgb = b->rgb;
    im->rgb_bytes = (int64_t)it->height * it->width * 3;
    for (int64_t k = 0; k < im->rgb_bytes; k++)
        b->rgb[k] = t_pixel_value(item, k);
    ldm_runfile_timings t = { 0.1 * item, 1.0 + item, 0.01, 0.2, 0.003, 2.0 + item };
    im->timings = t;
}

static inline int64_t t_image_mismatches(const ldm_runfile_image *im)
{
    int64_t bad = 0;
    for (int64_t k = 0; k < im->rgb_bytes; k++)
        bad += im->rgb[k] != t_pixel_value(im->item, k);
    bad += im->timings.unet != 1.0 + (double)im->item;
    return bad;
}

/* A stand-in model identity (the run file only stores and compares it). */
static inline ldm_status t_identity(const char *tag, ldm_model_identity *id)
{
    memset(id, 0, sizeof *id);
    ldm_status st = ldm_sha256_hex(tag, strlen(tag), id->digest);
    if (st == LDM_OK)
        st = ldm_strdup(tag, &id->manifest);
    return st;
}

static inline ldm_runfile_spec t_spec(const ldm_model_identity *id)
{
    ldm_runfile_spec spec = { "ldm sweep jobs/test.json -o run.h5", id, T_RNG_STREAMS,
                              T_RNG_WORDS, T_TRAJ };
    return spec;
}

static inline int t_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static inline void t_mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    }
    mkdir(buf, 0755);
}

#endif
