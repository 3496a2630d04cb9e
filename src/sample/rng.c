#include "rng.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- mt19937 */
/* torch's at::mt19937 (Cokus/Wada variant of MT19937): same numbers as the
 * reference mt19937ar init_genrand(seed & 0xffffffff). */

enum { MT_M = 397 };
static const uint32_t MATRIX_A = 0x9908b0dfu;

void ldm_rng_seed(ldm_rng *r, uint64_t seed)
{
    r->seed = seed;
    r->mt[0] = (uint32_t)(seed & 0xffffffffu);
    for (uint32_t j = 1; j < LDM_RNG_MT_N; j++)
        r->mt[j] = 1812433253u * (r->mt[j - 1] ^ (r->mt[j - 1] >> 30)) + j;
    r->left = 1;
    r->next = 0;
    r->has_normal = 0;
    r->normal = 0.0;
    r->path = LDM_RNG_NORMAL_AVX2;
}

void ldm_rng_set_normal_path(ldm_rng *r, ldm_rng_normal_path path)
{
    r->path = path;
}

static uint32_t twist(uint32_t u, uint32_t v)
{
    uint32_t mixed = (u & 0x80000000u) | (v & 0x7fffffffu);
    return (mixed >> 1) ^ ((v & 1u) ? MATRIX_A : 0u);
}

static void next_state(ldm_rng *r)
{
    uint32_t *p = r->mt;
    r->left = LDM_RNG_MT_N;
    r->next = 0;
    int j;
    for (j = 0; j < LDM_RNG_MT_N - MT_M; j++)
        p[j] = p[j + MT_M] ^ twist(p[j], p[j + 1]);
    for (; j < LDM_RNG_MT_N - 1; j++)
        p[j] = p[j + MT_M - LDM_RNG_MT_N] ^ twist(p[j], p[j + 1]);
    p[j] = p[j + MT_M - LDM_RNG_MT_N] ^ twist(p[j], p[0]);
}

uint32_t ldm_rng_next_u32(ldm_rng *r)
{
    if (--r->left == 0)
        next_state(r);
    uint32_t y = r->mt[r->next++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint64_t ldm_rng_next_u64(ldm_rng *r)
{
    uint64_t hi = ldm_rng_next_u32(r);
    uint64_t lo = ldm_rng_next_u32(r);
    return (hi << 32) | lo;
}

/* at::uniform_real_distribution<float>(0, 1): the LOW 24 bits. */
static float uniform_f32(ldm_rng *r)
{
    return (float)(ldm_rng_next_u32(r) & 0xffffffu) * (1.0f / 16777216.0f);
}

/* at::uniform_real_distribution<double>(0, 1): low 53 bits of random64(). */
static double uniform_f64(ldm_rng *r)
{
    uint64_t v = ldm_rng_next_u64(r) & ((UINT64_C(1) << 53) - 1);
    return (double)v * (1.0 / 9007199254740992.0);
}

void ldm_rng_rand_f32(ldm_rng *r, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = uniform_f32(r);
}

/* ------------------------------------------------- scalar path (n < 16) */

static const double PI = 3.14159265358979323846;

/* at::normal_distribution<double>(0, 1) with the generator's cache. The
 * `+ 0.0` mirrors torch's `ret * std + mean` (turns -0 into +0). */
static double normal_f64(ldm_rng *r)
{
    if (r->has_normal) {
        r->has_normal = 0;
        return r->normal * 1.0 + 0.0;
    }
    double u1 = uniform_f64(r);
    double u2 = uniform_f64(r);
    double radius = sqrt(-2.0 * log1p(-u2));
    double theta = 2.0 * PI * u1;
    r->normal = radius * sin(theta);
    r->has_normal = 1;
    return radius * cos(theta) + 0.0;
}

/* --------------------------------------- block transform, generic (libm) */
/* NormalFill16 (scalar): u1 = 1 - d[j] maps [0,1) to (0,1] for the log.
 * theta is computed in double (2.0f * c10::pi<double> * u2) then rounded to
 * float; std::fma(x, 1, 0) at the end equals x + 0. */
static void normal16_generic(float *d)
{
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - d[j];
        float u2 = d[j + 8];
        float radius = sqrtf(-2.0f * logf(u1));
        float theta = (float)(2.0 * PI * (double)u2);
        d[j] = radius * cosf(theta) + 0.0f;
        d[j + 8] = radius * sinf(theta) + 0.0f;
    }
}

/* ---------------------------------- block transform, torch's AVX2 kernel */
/* One lane of avx_mathfun.h's log256_ps and sincos256_ps (Cephes float
 * polynomials), with exactly the operations of torch 2.x's x86-64 binary:
 * GCC contracted several multiply/add pairs into FMAs there (checked in the
 * disassembly of NormalFill16<float,true>::operator()), so those are fmaf()
 * here; every other step is a separate float operation. C11 builds use
 * -ffp-contract=off, so this compiler fuses nothing on its own. */

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Constants as avx_mathfun declares them: double literals rounded to float. */
#define CF(x) ((float)(x))

static float avx_log(float x)
{
    int invalid = x <= 0.0f;
    x = x > u2f(0x00800000u) ? x : u2f(0x00800000u); /* max with min_norm_pos */
    int32_t imm0 = (int32_t)(f2u(x) >> 23) - 0x7f;
    x = u2f((f2u(x) & ~0x7f800000u) | f2u(0.5f));
    float e = (float)imm0 + 1.0f;
    int below = x < CF(0.707106781186547524);
    float tmp = below ? x : 0.0f;
    x = x + -1.0f;
    e = e - (below ? 1.0f : 0.0f);
    x = tmp + x;
    float z = x * x;
    float y = CF(7.0376836292E-2);
    y = fmaf(y, x, CF(-1.1514610310E-1));
    y = fmaf(y, x, CF(1.1676998740E-1));
    y = fmaf(y, x, CF(-1.2420140846E-1));
    y = fmaf(y, x, CF(1.4249322787E-1));
    y = fmaf(y, x, CF(-1.6668057665E-1));
    y = fmaf(y, x, CF(2.0000714765E-1));
    y = fmaf(y, x, CF(-2.4999993993E-1));
    y = fmaf(y, x, CF(3.3333331174E-1));
    y = x * y;
    y = fmaf(y, z, e * CF(-2.12194440e-4));
    y = fmaf(-z, 0.5f, y);
    x = x + y;
    x = fmaf(e, CF(0.693359375), x);
    return invalid ? u2f(0xffffffffu) : x; /* NaN, as the OR with the mask */
}

static void avx_sincos(float x, float *s, float *c)
{
    uint32_t sign_sin = f2u(x) & 0x80000000u;
    x = u2f(f2u(x) & 0x7fffffffu);
    float y = x * CF(1.27323954473516); /* 4 / pi */
    int32_t j = (int32_t)y + 1;         /* cvttps2dq: truncation */
    y = (float)(j & ~1);
    sign_sin ^= (uint32_t)(j & 4) << 29;
    int poly_sin = (j & 2) == 0;        /* 1: sine from the sine polynomial */
    uint32_t sign_cos = (~(uint32_t)((j & ~1) - 2) & 4u) << 29;

    /* Extended precision modular arithmetic: x - y * pi/4 in three parts. */
    x = fmaf(y, CF(-0.78515625), x);
    x = fmaf(y, CF(-2.4187564849853515625e-4), x);
    x = fmaf(y, CF(-3.77489497744594108e-8), x);

    float z = x * x;
    float half_z = z * 0.5f;
    float yc = fmaf(CF(2.443315711809948E-005), z, CF(-1.388731625493765E-003));
    yc = fmaf(yc, z, CF(4.166664568298827E-002));
    yc = z * yc;
    yc = fmaf(z, yc, -half_z);
    yc = yc + 1.0f;

    float ys = fmaf(CF(-1.9515295891E-4), z, CF(8.3321608736E-3));
    ys = fmaf(ys, z, CF(-1.6666654611E-1));
    ys = z * ys;
    ys = fmaf(x, ys, x);

    /* The blend: each result is (picked + 0) in one order or the other;
     * the adds of zero are kept because they decide the sign of a zero. */
    float ysin2 = poly_sin ? ys : 0.0f;
    float ysin1 = poly_sin ? 0.0f : yc;
    float sin_v = ysin1 + ysin2;
    float cos_v = (ys - ysin2) + (yc - ysin1);
    *s = u2f(f2u(sin_v) ^ sign_sin);
    *c = u2f(f2u(cos_v) ^ sign_cos);
}

static void normal16_avx2(float *d)
{
    const float two_pi = CF(2.0 * PI);
    for (int j = 0; j < 8; j++) {
        float u1 = 1.0f - d[j];
        float theta = two_pi * d[j + 8];
        float radius = sqrtf(avx_log(u1) * -2.0f);
        float s, c;
        avx_sincos(theta, &s, &c);
        d[j] = radius * c + 0.0f;
        d[j + 8] = radius * s + 0.0f;
    }
}

/* ------------------------------------------------------------------ randn */

void ldm_rng_randn_f32(ldm_rng *r, float *out, int64_t n)
{
    if (n <= 0)
        return;
    if (n < 16) {
        for (int64_t i = 0; i < n; i++)
            out[i] = (float)normal_f64(r);
        return;
    }
    void (*block)(float *) =
        r->path == LDM_RNG_NORMAL_GENERIC ? normal16_generic : normal16_avx2;
    ldm_rng_rand_f32(r, out, n);
    for (int64_t i = 0; i + 16 <= n; i += 16)
        block(out + i);
    if (n % 16 != 0) {
        /* torch redraws the last 16 values and transforms them again. */
        ldm_rng_rand_f32(r, out + n - 16, 16);
        block(out + n - 16);
    }
}

/* ------------------------------------------------------------ save/restore */

enum { STATE_VERSION = 1 };

void ldm_rng_save(const ldm_rng *r, uint32_t words[LDM_RNG_STATE_WORDS])
{
    uint64_t nbits;
    memcpy(&nbits, &r->normal, 8);
    words[0] = STATE_VERSION;
    words[1] = (uint32_t)r->seed;
    words[2] = (uint32_t)(r->seed >> 32);
    words[3] = (uint32_t)r->left;
    words[4] = r->next;
    words[5] = (uint32_t)r->has_normal;
    words[6] = (uint32_t)nbits;
    words[7] = (uint32_t)(nbits >> 32);
    words[8] = (uint32_t)r->path;
    memcpy(words + 9, r->mt, sizeof r->mt);
}

/* torch's mt19937::is_valid(), plus our own fields. */
static ldm_status check_counters(const char *what, int64_t left, uint64_t next)
{
    if (left < 1 || left > LDM_RNG_MT_N)
        return ldm_error(LDM_EINPUT, "%s: field 'left' is %lld, must be 1..%d", what,
                         (long long)left, LDM_RNG_MT_N);
    if (next > LDM_RNG_MT_N)
        return ldm_error(LDM_EINPUT, "%s: field 'next' is %llu, must be 0..%d", what,
                         (unsigned long long)next, LDM_RNG_MT_N);
    return LDM_OK;
}

ldm_status ldm_rng_restore(ldm_rng *r, const uint32_t words[LDM_RNG_STATE_WORDS])
{
    const char *what = "RNG state";
    if (words[0] != STATE_VERSION)
        return ldm_error(LDM_EINPUT, "%s: field 'version' is %u, expected %d", what, words[0],
                         STATE_VERSION);
    ldm_status st = check_counters(what, (int32_t)words[3], words[4]);
    if (st != LDM_OK)
        return st;
    if (words[5] > 1)
        return ldm_error(LDM_EINPUT, "%s: field 'has_normal' is %u, must be 0 or 1", what,
                         words[5]);
    if (words[8] != LDM_RNG_NORMAL_AVX2 && words[8] != LDM_RNG_NORMAL_GENERIC)
        return ldm_error(LDM_EINPUT, "%s: field 'path' is %u, must be 0 (avx2) or 1 (generic)",
                         what, words[8]);
    uint64_t nbits = ((uint64_t)words[7] << 32) | words[6];
    r->seed = ((uint64_t)words[2] << 32) | words[1];
    r->left = (int32_t)words[3];
    r->next = words[4];
    r->has_normal = (int32_t)words[5];
    memcpy(&r->normal, &nbits, 8);
    r->path = (ldm_rng_normal_path)words[8];
    memcpy(r->mt, words + 9, sizeof r->mt);
    return LDM_OK;
}

/* at::detail::CPUGeneratorImplState on x86-64 (CPUGeneratorImpl.cpp):
 * legacy part { u64 the_initial_seed @0; int left @8; int seeded @12;
 * u64 next @16; u64 state[624] @24; double normal_x @5016, normal_y @5024,
 * normal_rho @5032; int normal_is_valid @5040 } then float
 * next_float_normal_sample @5048, bool valid @5052; 5056 bytes. The float
 * cache is ignored: no CPU kernel of torch reads it for float32 randn. */
enum {
    T_SEED = 0, T_LEFT = 8, T_SEEDED = 12, T_NEXT = 16, T_STATE = 24,
    T_NORMAL_Y = 5024, T_NORMAL_VALID = 5040
};

static uint64_t get_le(const uint8_t *p, int nbytes)
{
    uint64_t v = 0;
    for (int i = nbytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le(uint8_t *p, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

ldm_status ldm_rng_import_torch(ldm_rng *r, const uint8_t *b, size_t nbytes)
{
    const char *what = "torch generator state";
    if (nbytes != LDM_RNG_TORCH_STATE_BYTES)
        return ldm_error(LDM_EINPUT, "%s: %zu bytes, expected %d", what, nbytes,
                         LDM_RNG_TORCH_STATE_BYTES);
    if (get_le(b + T_SEEDED, 4) == 0)
        return ldm_error(LDM_EINPUT, "%s: field 'seeded' is 0", what);
    ldm_status st = check_counters(what, (int32_t)get_le(b + T_LEFT, 4), get_le(b + T_NEXT, 8));
    if (st != LDM_OK)
        return st;
    r->seed = get_le(b + T_SEED, 8);
    r->left = (int32_t)get_le(b + T_LEFT, 4);
    r->next = (uint32_t)get_le(b + T_NEXT, 8);
    for (int j = 0; j < LDM_RNG_MT_N; j++) /* torch truncates the u64 words too */
        r->mt[j] = (uint32_t)get_le(b + T_STATE + 8 * j, 8);
    r->has_normal = get_le(b + T_NORMAL_VALID, 4) != 0;
    uint64_t nbits = get_le(b + T_NORMAL_Y, 8);
    memcpy(&r->normal, &nbits, 8);
    if (!r->has_normal)
        r->normal = 0.0;
    return LDM_OK;
}

void ldm_rng_export_torch(const ldm_rng *r, uint8_t b[LDM_RNG_TORCH_STATE_BYTES])
{
    memset(b, 0, LDM_RNG_TORCH_STATE_BYTES);
    put_le(b + T_SEED, r->seed, 8);
    put_le(b + T_LEFT, (uint32_t)r->left, 4);
    put_le(b + T_SEEDED, 1, 4);
    put_le(b + T_NEXT, r->next, 8);
    for (int j = 0; j < LDM_RNG_MT_N; j++)
        put_le(b + T_STATE + 8 * j, r->mt[j], 8);
    if (r->has_normal) {
        uint64_t nbits;
        memcpy(&nbits, &r->normal, 8);
        put_le(b + T_NORMAL_Y, nbits, 8);
        put_le(b + T_NORMAL_VALID, 1, 4);
    }
}
