/* test_rng.c — src/sample/rng.c against torch 2.15 (tests/fixtures/rng/,
 * made by tools/reference/make_rng_goldens.py) and against the MT19937
 * values the C++ standard requires. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "harness.h"
#include "sample/rng.h"

#define RNG_DIR LDM_FIXTURES "/rng/"

/* DESIGN.md §3: normals within 2e-6 relative, with an absolute floor of
 * 2e-6 for |x| < 1 (see tests/fixtures/rng/README.md). */
static int normal_close(float got, float want)
{
    return fabs((double)got - (double)want) <= 2e-6 * fmax(1.0, fabs((double)want));
}

/* A whole fixture file; `*n` gets its size in bytes. NULL when missing. */
static char *load(const char *name, size_t *n)
{
    char path[512];
    char *data = NULL;
    snprintf(path, sizeof path, "%s%s", RNG_DIR, name);
    if (ldm_read_file(path, &data, n) != LDM_OK) {
        fprintf(stderr, "cannot read %s: %s\n", path, ldm_error_message());
        ldm_error_clear();
        return NULL;
    }
    return data;
}

/* std::mt19937 default-constructed (seed 5489): the 10000th output is
 * 4123659995 ([rand.predef] in the C++ standard); the first is 3499211612. */
static void test_mt19937_standard(void)
{
    ldm_rng r;
    ldm_rng_seed(&r, 5489);
    uint32_t first = ldm_rng_next_u32(&r), v = first;
    for (int i = 1; i < 10000; i++)
        v = ldm_rng_next_u32(&r);
    CHECK(first == 3499211612u);
    CHECK(v == 4123659995u);
    /* torch keeps the 64-bit seed but the state only sees its low 32 bits. */
    ldm_rng a, b;
    ldm_rng_seed(&a, (UINT64_C(1) << 32) + 5);
    ldm_rng_seed(&b, 5);
    CHECK(a.seed == (UINT64_C(1) << 32) + 5);
    CHECK(ldm_rng_next_u32(&a) == ldm_rng_next_u32(&b));
}

static void test_raw_and_uniform(void)
{
    size_t n = 0;
    char *u64 = load("u64_seed0.bin", &n);
    CHECK(u64 != NULL && n == 1024 * 8);
    if (u64) {
        ldm_rng r;
        ldm_rng_seed(&r, 0);
        int bad = 0;
        for (size_t i = 0; i < n / 8; i++) {
            uint64_t want = 0;
            for (int b = 7; b >= 0; b--)
                want = (want << 8) | (uint8_t)u64[i * 8 + (size_t)b];
            bad += ldm_rng_next_u64(&r) != want;
        }
        CHECK_MSG(bad == 0, "%d of %zu random64() draws differ", bad, n / 8);
    }
    ldm_free(u64);

    char *uni = load("rand_seed0.f32", &n);
    CHECK(uni != NULL && n == 1000 * 4);
    if (uni) {
        float got[1000], want[1000];
        memcpy(want, uni, sizeof want);
        ldm_rng r;
        ldm_rng_seed(&r, 0);
        ldm_rng_rand_f32(&r, got, 1000);
        int bad = 0;
        for (int i = 0; i < 1000; i++)
            bad += got[i] != want[i] || got[i] < 0.0f || got[i] >= 1.0f;
        CHECK_MSG(bad == 0, "%d of 1000 uniforms differ from torch.rand", bad);
    }
    ldm_free(uni);
}

/* One line of index.txt. */
typedef struct golden_call {
    char case_name[64], path[16], shape[32], file[128];
    uint64_t seed;
    int call, nfirst, stride, ntail;
    int64_t numel;
    double fsum;
} golden_call;

static int parse_line(const char *line, golden_call *g)
{
    char seed[32];
    if (line[0] == '#' || line[0] == '\n' || line[0] == '\0')
        return 0;
    int k = sscanf(line, "%63s %d %31s %15s %31s %" SCNd64 " %d %d %d %127s %lf", g->case_name,
                   &g->call, seed, g->path, g->shape, &g->numel, &g->nfirst, &g->stride,
                   &g->ntail, g->file, &g->fsum);
    if (k != 11)
        return -1;
    g->seed = strtoull(seed, NULL, 10);
    return 1;
}

static int stored(const golden_call *g, int64_t i)
{
    return g->numel <= g->nfirst || i < g->nfirst || (i - g->nfirst) % g->stride == 0 ||
           i >= g->numel - g->ntail;
}

static int64_t total_inexact, total_compared;

/* Draw one call on `r` and compare it with its golden file. */
static void check_call(ldm_rng *r, const golden_call *g)
{
    float *out = NULL;
    size_t nbytes = 0;
    char *want = load(g->file, &nbytes);
    CHECK_MSG(want != NULL, "missing %s", g->file);
    if (!want || ldm_alloc((size_t)g->numel * sizeof(float), "randn", (void **)&out) != LDM_OK) {
        ldm_free(want);
        return;
    }
    ldm_rng_randn_f32(r, out, g->numel);
    int64_t k = 0, far = 0, inexact = 0, first_far = -1;
    double sum = 0.0, sum_abs = 0.0;
    for (int64_t i = 0; i < g->numel; i++) {
        sum += out[i];
        sum_abs += fabs(out[i]);
        if (!stored(g, i))
            continue;
        float w;
        if ((size_t)(k + 1) * 4 > nbytes)
            break;
        memcpy(&w, want + 4 * k++, 4);
        if (!normal_close(out[i], w) && far++ == 0)
            first_far = i;
        inexact += out[i] != w;
    }
    CHECK_MSG((size_t)k * 4 == nbytes, "%s: stored %zu values, used %" PRId64, g->file,
              nbytes / 4, k);
    CHECK_MSG(far == 0, "%s: %" PRId64 " values beyond 2e-6 (first at %" PRId64 ")", g->file,
              far, first_far);
    /* torch's AVX2 kernel is plain float arithmetic plus fmaf and sqrtf, all
     * exactly rounded: there we require identical bits, on any libm. */
    if (strcmp(g->path, "avx2") == 0 && g->numel >= 16)
        CHECK_MSG(inexact == 0, "%s: %" PRId64 " values not bit-identical", g->file, inexact);
    CHECK_MSG(fabs(sum - g->fsum) <= 1e-9 * sum_abs + 1e-12, "%s: sum %.17g, torch %.17g",
              g->file, sum, g->fsum);
    total_inexact += inexact;
    total_compared += k;
    ldm_free(out);
    ldm_free(want);
}

static void test_goldens(void)
{
    char *index = load("index.txt", NULL);
    CHECK(index != NULL);
    if (!index)
        return;
    ldm_rng r;
    golden_call g, prev;
    int ncalls = 0, npaths[2] = {0, 0};
    memset(&prev, 0, sizeof prev);
    for (char *line = strtok(index, "\n"); line; line = strtok(NULL, "\n")) {
        int ok = parse_line(line, &g);
        CHECK_MSG(ok >= 0, "bad index line: %s", line);
        if (ok <= 0)
            continue;
        int generic = strcmp(g.path, "generic") == 0;
        if (g.call == 0) {
            ldm_rng_seed(&r, g.seed);
            ldm_rng_set_normal_path(&r, generic ? LDM_RNG_NORMAL_GENERIC : LDM_RNG_NORMAL_AVX2);
        } else {
            /* Successive calls must follow on the same generator. */
            CHECK_MSG(strcmp(prev.case_name, g.case_name) == 0 && prev.seed == g.seed &&
                          prev.call == g.call - 1 && strcmp(prev.path, g.path) == 0,
                      "index out of order at %s", line);
        }
        check_call(&r, &g);
        prev = g;
        ncalls++;
        npaths[generic]++;
    }
    CHECK(npaths[0] >= 40 && npaths[1] >= 10);
    printf("%d torch calls (%d avx2, %d generic), %" PRId64 " values, %" PRId64
           " not bit-identical\n",
           ncalls, npaths[0], npaths[1], total_compared, total_inexact);
    ldm_free(index);
}

/* Golden values of one call (whole output, numel <= nfirst). */
static int load_call(const char *file, float *dst, int n)
{
    size_t nbytes = 0;
    char *data = load(file, &nbytes);
    int ok = data && nbytes == (size_t)n * 4;
    if (ok)
        memcpy(dst, data, nbytes);
    ldm_free(data);
    return ok;
}

static int same_state(const ldm_rng *a, const ldm_rng *b)
{
    return a->left == b->left && a->next == b->next && a->has_normal == b->has_normal &&
           (!a->has_normal || a->normal == b->normal) && a->seed == b->seed &&
           memcmp(a->mt, b->mt, sizeof a->mt) == 0;
}

static void test_torch_states(void)
{
    size_t n = 0;
    ldm_rng r, t;
    float buf[32];
    uint8_t bytes[LDM_RNG_TORCH_STATE_BYTES];

    /* fresh; after randn(3) (cached normal); after randn(3), randn(20). */
    char *fresh = load("state_s42_fresh.bin", &n);
    ldm_rng_seed(&r, 42);
    CHECK(fresh && ldm_rng_import_torch(&t, (const uint8_t *)fresh, n) == LDM_OK &&
          same_state(&r, &t) && !t.has_normal);
    ldm_rng_export_torch(&r, bytes);
    CHECK(fresh && n == sizeof bytes && memcmp(bytes, fresh, n) == 0);
    ldm_free(fresh);

    /* The cached normal is libm's sin() in double: glibc gives torch's bits. */
    char *after3 = load("state_s42_after3.bin", &n);
    ldm_rng_randn_f32(&r, buf, 3);
    CHECK(r.has_normal);
    CHECK(after3 && ldm_rng_import_torch(&t, (const uint8_t *)after3, n) == LDM_OK &&
          same_state(&r, &t));
    ldm_rng_export_torch(&r, bytes);
    CHECK(after3 && memcmp(bytes, after3, n) == 0);

    char *after20 = load("state_s42_after3_20.bin", &n);
    ldm_rng_randn_f32(&r, buf, 20);
    CHECK(r.has_normal); /* the block path leaves the scalar cache alone */
    CHECK(after20 && ldm_rng_import_torch(&t, (const uint8_t *)after20, n) == LDM_OK &&
          same_state(&r, &t));
    ldm_free(after20);

    /* Continue from torch's own state: the next calls match torch's. */
    float want20[20], want1[1];
    CHECK(load_call("seq3_20_1_s42_c1.avx2.f32", want20, 20));
    CHECK(load_call("seq3_20_1_s42_c2.avx2.f32", want1, 1));
    ldm_rng_seed(&t, 999);
    CHECK(after3 && ldm_rng_import_torch(&t, (const uint8_t *)after3, LDM_RNG_TORCH_STATE_BYTES) ==
                        LDM_OK);
    ldm_rng_randn_f32(&t, buf, 20);
    CHECK(memcmp(buf, want20, sizeof want20) == 0);
    ldm_rng_randn_f32(&t, buf, 1);
    CHECK(buf[0] == want1[0]);
    ldm_free(after3);

    char *after700 = load("state_s123456789_after700.bin", &n);
    float u[700];
    ldm_rng_seed(&r, 123456789);
    ldm_rng_rand_f32(&r, u, 700);
    ldm_rng_export_torch(&r, bytes);
    CHECK(after700 && n == sizeof bytes && memcmp(bytes, after700, n) == 0);

    /* Bad torch states. */
    if (after700) {
        CHECK_FAILS_WITH(ldm_rng_import_torch(&t, (const uint8_t *)after700, 100), LDM_EINPUT,
                         "100 bytes, expected 5056");
        memcpy(bytes, after700, sizeof bytes);
        bytes[8] = 0; /* left = 0 */
        bytes[9] = bytes[10] = bytes[11] = 0;
        CHECK_FAILS_WITH(ldm_rng_import_torch(&t, bytes, sizeof bytes), LDM_EINPUT, "'left'");
        memcpy(bytes, after700, sizeof bytes);
        bytes[12] = 0; /* seeded = false */
        CHECK_FAILS_WITH(ldm_rng_import_torch(&t, bytes, sizeof bytes), LDM_EINPUT, "'seeded'");
        memcpy(bytes, after700, sizeof bytes);
        bytes[16] = 0x71; /* next = 625 */
        bytes[17] = 0x02;
        CHECK_FAILS_WITH(ldm_rng_import_torch(&t, bytes, sizeof bytes), LDM_EINPUT, "'next'");
    }
    ldm_free(after700);
}

static void test_save_restore(void)
{
    ldm_rng r, s;
    float a[40], b[40];
    uint32_t words[LDM_RNG_STATE_WORDS];
    ldm_rng_seed(&r, 42);
    ldm_rng_set_normal_path(&r, LDM_RNG_NORMAL_GENERIC);
    ldm_rng_randn_f32(&r, a, 3); /* leaves a cached normal */
    ldm_rng_save(&r, words);
    ldm_rng_randn_f32(&r, a, 20);
    ldm_rng_randn_f32(&r, a + 20, 1);
    ldm_rng_randn_f32(&r, a + 21, 19);

    ldm_rng_seed(&s, 7);
    CHECK(ldm_rng_restore(&s, words) == LDM_OK);
    CHECK(s.path == LDM_RNG_NORMAL_GENERIC && s.has_normal && s.seed == 42);
    ldm_rng_randn_f32(&s, b, 20);
    ldm_rng_randn_f32(&s, b + 20, 1);
    ldm_rng_randn_f32(&s, b + 21, 19);
    CHECK(memcmp(a, b, sizeof a) == 0);

    /* Invalid words: each names its field and leaves the generator alone. */
    struct {
        int index;
        uint32_t value;
        const char *needle;
    } bad[] = {{0, 2, "'version'"}, {3, 0, "'left'"}, {3, 625, "'left'"},
               {4, 625, "'next'"},  {5, 2, "'has_normal'"}, {8, 7, "'path'"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t w[LDM_RNG_STATE_WORDS];
        memcpy(w, words, sizeof w);
        w[bad[i].index] = bad[i].value;
        ldm_rng_seed(&s, 7);
        ldm_rng before = s;
        CHECK_FAILS_WITH(ldm_rng_restore(&s, w), LDM_EINPUT, bad[i].needle);
        CHECK(memcmp(&before, &s, sizeof s) == 0);
    }
}

static void test_edges(void)
{
    ldm_rng r, fresh;
    float x[4], want[1];
    /* n <= 0 draws nothing. */
    ldm_rng_seed(&r, 1);
    ldm_rng_seed(&fresh, 1);
    ldm_rng_randn_f32(&r, x, 0);
    ldm_rng_randn_f32(&r, x, -5);
    CHECK(ldm_rng_next_u32(&r) == ldm_rng_next_u32(&fresh));
    /* manual_seed drops a cached normal: randn(3); seed; randn(1) equals a
     * fresh randn(1). */
    CHECK(load_call("single_1_s42_c0.avx2.f32", want, 1));
    ldm_rng_seed(&r, 42);
    ldm_rng_randn_f32(&r, x, 3);
    ldm_rng_seed(&r, 42);
    ldm_rng_randn_f32(&r, x, 1);
    CHECK(normal_close(x[0], want[0]));
}

int main(void)
{
    test_mt19937_standard();
    test_raw_and_uniform();
    test_goldens();
    test_torch_states();
    test_save_restore();
    test_edges();
    return ldm_test_finish();
}
