/* init_weights.c — random weights for `ldm init` (see init.h).
 *
 * Each tensor gets its own xoshiro256+ stream, seeded from the --seed and
 * the tensor's name, so a tensor's values depend on nothing else (not on
 * the order of the file, nor on other components). Values are generated and
 * written in 4 MiB pieces: the writer streams them to disk, so a 3.5 GB
 * UNet never sits in memory.
 *
 * The rule per tensor (from its name and shape only):
 *   "<m>.weight", 2-D or more   uniform(±1/sqrt(fan_in)), fan_in = Π shape[1:]
 *                               (torch's default for nn.Linear / nn.Conv2d)
 *   "<m>.weight", 1-D           1   (GroupNorm / LayerNorm scale)
 *   "<m>.bias"                  uniform(±1/sqrt(fan_in)) of "<m>.weight"
 *                               when that is 2-D or more, else 0
 *   embed_tokens / embed_positions weights   N(0, 0.02) (nn.Embedding, as
 *                               transformers' init_std)
 *   anything else               N(0, 0.02)
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "init.h"
#include "io/safetensors_write.h"

enum { CHUNK = 1 << 20 }; /* floats per piece */

typedef enum fill_kind { FILL_UNIFORM, FILL_NORMAL, FILL_ONES, FILL_ZEROS } fill_kind;

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed, const char *name)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a of the name */
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    uint64_t x = seed ^ splitmix64(&h);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256+: the top bits are the good ones. */
static inline uint64_t next(rng *r)
{
    uint64_t *s = r->s, out = s[0] + s[3], t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Uniform in [0, 1) with 24 bits, and in (0, 1] with 53 bits. */
static inline float unit_f(uint64_t x)
{
    return (float)(x >> 40) * 0x1.0p-24f;
}

static inline double unit_open(uint64_t x)
{
    return ((double)(x >> 11) + 1.0) * 0x1.0p-53;
}

static void generate(rng *r, fill_kind kind, float scale, float *dst, int64_t n)
{
    switch (kind) {
    case FILL_UNIFORM:
        for (int64_t i = 0; i < n; i++)
            dst[i] = (2.0f * unit_f(next(r)) - 1.0f) * scale;
        break;
    case FILL_NORMAL: /* Box–Muller, two values per pair of draws */
        for (int64_t i = 0; i < n; i += 2) {
            double rad = sqrt(-2.0 * log(unit_open(next(r))));
            double ang = 6.283185307179586 * unit_open(next(r));
            dst[i] = (float)(rad * cos(ang) * scale);
            if (i + 1 < n)
                dst[i + 1] = (float)(rad * sin(ang) * scale);
        }
        break;
    case FILL_ONES:
        for (int64_t i = 0; i < n; i++)
            dst[i] = 1.0f;
        break;
    case FILL_ZEROS:
        memset(dst, 0, (size_t)n * sizeof *dst);
        break;
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int64_t fan_in(const ldm_weight_spec *w)
{
    int64_t f = 1;
    for (int d = 1; d < w->ndim; d++)
        f *= w->shape[d];
    return f > 0 ? f : 1;
}

/* The spec named "<prefix of name without `.bias`>.weight", or NULL. */
static const ldm_weight_spec *weight_of(const ldm_spec_list *list, const char *bias)
{
    size_t stem = strlen(bias) - strlen("bias");
    for (int k = 0; k < list->count; k++) {
        const char *n = list->items[k].name;
        if (strncmp(n, bias, stem) == 0 && strcmp(n + stem, "weight") == 0)
            return &list->items[k];
    }
    return NULL;
}

static void rule(const ldm_spec_list *list, const ldm_weight_spec *s, fill_kind *kind,
                 float *scale)
{
    *kind = FILL_NORMAL;
    *scale = 0.02f;
    if (strstr(s->name, "embed_tokens.") || strstr(s->name, "embed_positions."))
        return;
    if (ends_with(s->name, ".weight")) {
        if (s->ndim >= 2) {
            *kind = FILL_UNIFORM;
            *scale = (float)(1.0 / sqrt((double)fan_in(s)));
        } else {
            *kind = FILL_ONES;
        }
    } else if (ends_with(s->name, ".bias")) {
        const ldm_weight_spec *w = weight_of(list, s->name);
        if (w && w->ndim >= 2) {
            *kind = FILL_UNIFORM;
            *scale = (float)(1.0 / sqrt((double)fan_in(w)));
        } else {
            *kind = FILL_ZEROS;
        }
    }
}

ldm_status ldm_init_write_weights(const char *path, const ldm_spec_list *specs, uint64_t seed)
{
    ldm_status st = LDM_OK;
    ldm_safetensors_decl *decls = NULL;
    ldm_safetensors_writer *w = NULL;
    float *buf = NULL;
    static const char *const META[] = {"format", "pt", NULL};
    const int n = specs->count;
    LDM_CHECK(ldm_calloc((size_t)(n ? n : 1) * sizeof *decls, "tensor list", (void **)&decls));
    for (int i = 0; i < n; i++) {
        const ldm_weight_spec *s = &specs->items[i];
        if (s->ndim < 0) {
            st = ldm_error(LDM_EINPUT, "%s: tensor \"%s\" has no fixed shape", path, s->name);
            goto cleanup;
        }
        decls[i] = (ldm_safetensors_decl){.name = s->name, .dtype = LDM_DTYPE_F32,
                                          .ndim = s->ndim};
        memcpy(decls[i].shape, s->shape, sizeof s->shape);
    }
    LDM_CHECK(ldm_alloc(CHUNK * sizeof *buf, "random values", (void **)&buf));
    LDM_CHECK(ldm_safetensors_writer_open(path, decls, n, META, &w));
    uint64_t left = 0;
    for (int i; (i = ldm_safetensors_writer_tensor(w, &left)) < n;) {
        const ldm_weight_spec *s = &specs->items[i];
        fill_kind kind;
        float scale;
        rng r;
        rule(specs, s, &kind, &scale);
        rng_seed(&r, seed, s->name);
        for (uint64_t todo = left / sizeof(float); todo > 0;) {
            /* an even piece keeps Box–Muller pairs inside one piece */
            int64_t k = todo < CHUNK ? (int64_t)todo : CHUNK;
            generate(&r, kind, scale, buf, k);
            LDM_CHECK(ldm_safetensors_writer_write(w, buf, (size_t)k * sizeof *buf));
            todo -= (uint64_t)k;
        }
    }
    LDM_CHECK(ldm_safetensors_writer_finish(&w));
cleanup:
    ldm_safetensors_writer_abort(&w);
    ldm_free(buf);
    ldm_free(decls);
    return st;
}
