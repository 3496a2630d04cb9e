/* rng.h — torch's CPU random generator, reproduced bit for bit.
 *
 * `torch.Generator().manual_seed(s)` followed by
 * `torch.randn(shape, generator=g)` (float32) is what diffusers uses for the
 * initial latents and for DDIM's variance noise (eta > 0). This module gives
 * the same numbers from C, so a seed means the same image here as there.
 *
 * The engine is torch's at::mt19937 (ATen/core/MT19937RNGEngine.h): MT19937
 * seeded with the low 32 bits of the 64-bit seed (torch keeps the full
 * 64-bit value as "the seed" but the state only sees `seed & 0xffffffff`).
 *
 * float32 randn of n values (ATen/native/cpu/DistributionTemplates.h):
 *   n >= 16: n uniforms u = (next_u32 & 0xffffff) * 2^-24 are written to the
 *            output, then Box–Muller runs in blocks of 16 (block[j] with
 *            block[j+8], j < 8); when n % 16 != 0, 16 fresh uniforms replace
 *            the LAST 16 values and that block is transformed again.
 *            torch has two versions of the block transform:
 *            - LDM_RNG_NORMAL_AVX2: the AVX2 kernel with avx_mathfun's
 *              Cephes-style log/sincos polynomials. torch runs it on every
 *              x86-64 CPU with AVX2 *and* on AVX-512 ones (its AVX-512 build
 *              does not register normal_ and dispatches to the AVX2 kernel).
 *              We emulate it lane by lane in scalar C, reproducing the FMAs
 *              GCC fused into torch's binary. This is the default.
 *            - LDM_RNG_NORMAL_GENERIC: the scalar libm path (logf, cosf,
 *              sinf), which torch takes with ATEN_CPU_CAPABILITY=default
 *              and on CPUs without AVX2.
 *            The two differ by about 1 ulp (tests/fixtures/rng/README.md).
 *   n < 16:  the scalar path for every CPU: at::normal_distribution<double>,
 *            53-bit uniforms from two 32-bit draws, Box–Muller in double;
 *            the second value of each pair is cached in the generator and
 *            returned by the next scalar draw, even in a later call.
 *
 * ldm_rng is plain data: copying the struct saves the complete state.
 * ldm_rng_save/ldm_rng_restore convert it to and from a fixed array of
 * uint32 words for checkpoint files. Not thread-safe: one generator per
 * sampling loop.
 */
#ifndef LDM_SAMPLE_RNG_H
#define LDM_SAMPLE_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

enum {
    LDM_RNG_MT_N = 624,              /* MT19937 state words */
    LDM_RNG_STATE_WORDS = 9 + 624,   /* ldm_rng_save's array length */
    LDM_RNG_TORCH_STATE_BYTES = 5056 /* sizeof(at::detail::CPUGeneratorImplState), x86-64 */
};

typedef enum ldm_rng_normal_path {
    LDM_RNG_NORMAL_AVX2 = 0,   /* torch on x86-64 with AVX2 or AVX-512 (default) */
    LDM_RNG_NORMAL_GENERIC = 1 /* torch's libm path (ATEN_CPU_CAPABILITY=default) */
} ldm_rng_normal_path;

typedef struct ldm_rng {
    uint64_t seed;            /* as given to ldm_rng_seed (torch's initial_seed()) */
    uint32_t mt[LDM_RNG_MT_N];
    int32_t left;             /* torch's data_.left_: 1..624, a twist happens when it hits 0 */
    uint32_t next;            /* index of the next state word to temper, 0..624 */
    int32_t has_normal;       /* 1: `normal` holds the cached second Box–Muller value */
    double normal;            /* of the scalar (n < 16) path */
    ldm_rng_normal_path path; /* which block transform randn uses for n >= 16 */
} ldm_rng;

/* torch.Generator().manual_seed(seed): fresh state, no cached normal.
 * The normal path is reset to LDM_RNG_NORMAL_AVX2. */
void ldm_rng_seed(ldm_rng *r, uint64_t seed);

/* Choose the Box–Muller block transform (see above). */
void ldm_rng_set_normal_path(ldm_rng *r, ldm_rng_normal_path path);

/* One tempered 32-bit draw (torch: generator->random()). */
uint32_t ldm_rng_next_u32(ldm_rng *r);
/* Two draws, first one in the high half (torch: generator->random64()). */
uint64_t ldm_rng_next_u64(ldm_rng *r);

/* torch.rand(n, generator=g), float32 in [0, 1): 24 low bits of a draw × 2^-24. */
void ldm_rng_rand_f32(ldm_rng *r, float *out, int64_t n);

/* torch.randn(shape, generator=g) with numel(shape) == n, float32, written
 * in C order. Draw a whole tensor in ONE call: splitting it into several
 * calls gives different numbers, exactly as in torch. n <= 0 draws nothing. */
void ldm_rng_randn_f32(ldm_rng *r, float *out, int64_t n);

/* The complete state as LDM_RNG_STATE_WORDS uint32 words (little-endian-
 * independent: plain integers), for checkpoints:
 *   [0] format version (1)   [1] seed low   [2] seed high   [3] left
 *   [4] next   [5] has_normal   [6] normal bits low   [7] normal bits high
 *   [8] normal path   [9 .. 9+623] MT19937 state. */
void ldm_rng_save(const ldm_rng *r, uint32_t words[LDM_RNG_STATE_WORDS]);
/* Inverse of ldm_rng_save. A state that cannot come from ldm_rng_save
 * (unknown version or path, left/next out of range) is LDM_EINPUT naming
 * the field; `r` is unchanged then. */
ldm_status ldm_rng_restore(ldm_rng *r, const uint32_t words[LDM_RNG_STATE_WORDS]);

/* Load the bytes of torch's `generator.get_state()` (a uint8 tensor of
 * LDM_RNG_TORCH_STATE_BYTES, x86-64 layout), e.g. to continue a generator
 * that diffusers has already used. Keeps the current normal path.
 * Wrong size or an invalid state → LDM_EINPUT. */
ldm_status ldm_rng_import_torch(ldm_rng *r, const uint8_t *bytes, size_t nbytes);
/* The same layout back (for `generator.set_state(torch.tensor(bytes))`). */
void ldm_rng_export_torch(const ldm_rng *r, uint8_t bytes[LDM_RNG_TORCH_STATE_BYTES]);

#endif
