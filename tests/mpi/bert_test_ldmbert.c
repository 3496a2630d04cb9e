/* bert_test_ldmbert.c — the distributed LDMBert (ldm_ldmbert_create_opts over
 * a channel communicator) against the single-process encoder.
 *
 * Models: the tiny pipeline's text encoder (2 heads, d 32, ffn 64) from its
 * .safetensors and its .bin copy, and the "wide" config (4 heads, inner 64
 * != d 48, ffn 96, 3 layers) of tests/fixtures/ldmbert, with the ids of the
 * golden cases. Every rank builds the single-process encoder as reference;
 * the distributed outputs (after layer 0 and the last_hidden_state) must
 * match it at relative L2 <= 1e-5 (DESIGN.md §3) on every rank, for the
 * head/FFN split and for PBLAS with several grids and blocks; the single
 * encoder is also checked against transformers' goldens. Where Pc does not
 * divide the head count the split fails with LDM_EINPUT naming the count
 * and --grid; a PBLAS grid that does not fit fails naming the grid. One
 * rank's bad argument fails every rank (no hang). A size-1 channel
 * (MPI_COMM_SELF) gives bit-identical output to the single-process code.
 * Injected allocation failures on one rank fail every rank's create.
 * Run at 1, 2, 3, 4 ranks (ldm_mpi_test).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "io/config.h"
#include "io/weights.h"
#include "models/ldmbert.h"
#include "mpi_harness.h"

#define GOLD LDM_FIXTURES "/ldmbert"
#define TOL 1e-5

typedef struct model_case {
    const char *model;  /* folder under LDM_FIXTURES */
    const char *golden; /* case name in tests/fixtures/ldmbert */
    int64_t batch, tokens, d, heads;
} model_case;

static void *load_bin(const char *name, const char *what, size_t bytes)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.%s.bin", GOLD, name, what);
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f)
        return NULL;
    void *p = malloc(bytes + 1);
    size_t got = fread(p, 1, bytes + 1, f);
    fclose(f);
    CHECK_MSG(got == bytes, "%s: %zu bytes, expected %zu", path, got, bytes);
    return p;
}

static void compare(const char *label, const float *got, const float *ref, int64_t n)
{
    double num = 0, den = 0, max_abs = 0;
    int finite = 1;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)got[i] - (double)ref[i];
        finite &= isfinite(got[i]) != 0;
        num += e * e;
        den += (double)ref[i] * ref[i];
        max_abs = fabs(e) > max_abs ? fabs(e) : max_abs;
    }
    double rel = sqrt(num / (den > 0 ? den : 1));
    if (ldm_mpi_test_rank == 0)
        printf("  %-48s rel L2 %.2e  max abs %.2e\n", label, rel, max_abs);
    CHECK_MSG(finite && rel <= TOL, "rank %d: %s: rel L2 %.3g (max abs %.3g)%s",
              ldm_mpi_test_rank, label, rel, max_abs, finite ? "" : ", non-finite");
}

/* Layer 0 and the full output of `m` into l0, out. */
static ldm_status run(ldm_ldmbert *m, const int32_t *ids, float *l0, float *out)
{
    ldm_status st = ldm_ldmbert_forward_layers(m, ids, 1, l0);
    if (st == LDM_OK)
        st = ldm_ldmbert_forward(m, ids, out);
    return st;
}

typedef struct variant {
    const char *label;
    ldm_ldmbert_dist dist;
    int nprow, npcol, block;
} variant;

static void test_model(const model_case *mc)
{
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/%s", LDM_FIXTURES, mc->model);
    snprintf(path, sizeof path, "%s/config.json", dir);
    ldm_config cfg = { 0 };
    ldm_weights *w = NULL;
    CHECK_MSG(ldm_config_load(path, &cfg) == LDM_OK, "%s", ldm_error_message());
    CHECK_MSG(ldm_weights_open_dir(dir, &w) == LDM_OK, "%s", ldm_error_message());
    const int64_t rows = mc->batch * mc->tokens, n = rows * mc->d;
    int32_t *ids = load_bin(mc->golden, "ids", (size_t)rows * sizeof(int32_t));
    float *gold = load_bin(mc->golden, "out", (size_t)n * sizeof(float));
    float *ref0 = malloc((size_t)n * sizeof(float)), *ref = malloc((size_t)n * sizeof(float));
    float *got0 = malloc((size_t)n * sizeof(float)), *got = malloc((size_t)n * sizeof(float));
    ldm_ldmbert *single = NULL, *m = NULL;
    char label[160];
    if (!w || !ids || !gold)
        goto done;

    CHECK_MSG(ldm_ldmbert_create(&cfg, w, mc->batch, mc->tokens, &single) == LDM_OK, "%s",
              ldm_error_message());
    if (!single)
        goto done;
    CHECK(run(single, ids, ref0, ref) == LDM_OK);
    snprintf(label, sizeof label, "%s: single vs transformers", mc->model);
    compare(label, ref, gold, n);

    /* A size-1 channel and a NULL context: exactly the single-process code. */
    ldm_model_parallel self = { MPI_COMM_SELF, MPI_COMM_NULL };
    ldm_ldmbert_options o1 = { .parallel = &self, .dist = LDM_LDMBERT_DIST_PBLAS };
    CHECK(ldm_ldmbert_create_opts(&cfg, w, mc->batch, mc->tokens, &o1, &m) == LDM_OK);
    if (m) {
        int ranks = 0;
        CHECK(ldm_ldmbert_distribution(m, &ranks) == LDM_LDMBERT_DIST_DEFAULT && ranks == 1);
        CHECK(run(m, ids, got0, got) == LDM_OK);
        CHECK_MSG(memcmp(got, ref, (size_t)n * sizeof(float)) == 0 &&
                      memcmp(got0, ref0, (size_t)n * sizeof(float)) == 0,
                  "%s: a size-1 channel differs from the single-process encoder", mc->model);
    }
    ldm_ldmbert_destroy(&m);

    /* Distributed over the world (Pc = world size). */
    ldm_model_parallel par = { MPI_COMM_WORLD, MPI_COMM_NULL };
    const int np = ldm_mpi_test_size;
    const variant vars[] = {
        { "split (default)", LDM_LDMBERT_DIST_DEFAULT, 0, 0, 0 },
        { "pblas 1xPc block 64", LDM_LDMBERT_DIST_PBLAS, 0, 0, 0 },
        { "pblas 1xPc block 8", LDM_LDMBERT_DIST_PBLAS, 0, 0, 8 },
        { "pblas Pcx1 block 8", LDM_LDMBERT_DIST_PBLAS, np, 1, 8 },
        { "pblas 2x2 block 16", LDM_LDMBERT_DIST_PBLAS, 2, 2, 16 },
    };
    for (size_t v = 0; v < sizeof vars / sizeof vars[0]; v++) {
        const variant *va = &vars[v];
        if (va->nprow * va->npcol != 0 && va->nprow * va->npcol != np)
            continue;
        ldm_ldmbert_options o = { .parallel = &par, .dist = va->dist, .pblas_nprow = va->nprow,
                                  .pblas_npcol = va->npcol, .pblas_block = va->block };
        ldm_status st = ldm_ldmbert_create_opts(&cfg, w, mc->batch, mc->tokens, &o, &m);
        int split = va->dist != LDM_LDMBERT_DIST_PBLAS;
        if (split && np > 1 && mc->heads % np != 0) {
            char want[96];
            snprintf(want, sizeof want, "encoder_attention_heads = %lld cannot be split over %d",
                     (long long)mc->heads, np);
            CHECK_MSG(st == LDM_EINPUT && strstr(ldm_error_message(), want) &&
                          strstr(ldm_error_message(), "--grid"),
                      "%s at %d ranks: got %d \"%s\"", mc->model, np, (int)st,
                      ldm_error_message());
            CHECK(m == NULL);
            ldm_error_clear();
            continue;
        }
        CHECK_MSG(st == LDM_OK, "%s %s: %s", mc->model, va->label, ldm_error_message());
        if (!m)
            continue;
        int ranks = 0;
        ldm_ldmbert_dist want = np == 1 ? LDM_LDMBERT_DIST_DEFAULT
                                : split ? LDM_LDMBERT_DIST_SPLIT
                                        : LDM_LDMBERT_DIST_PBLAS;
        CHECK(ldm_ldmbert_distribution(m, &ranks) == want && ranks == np);
        for (int64_t i = 0; i < n; i++)
            got[i] = got0[i] = NAN;
        st = run(m, ids, got0, got);
        CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
        snprintf(label, sizeof label, "%s np%d %s layer 0", mc->model, np, va->label);
        compare(label, got0, ref0, n);
        snprintf(label, sizeof label, "%s np%d %s", mc->model, np, va->label);
        compare(label, got, ref, n);
        ldm_ldmbert_destroy(&m);
    }
done:
    ldm_ldmbert_destroy(&single);
    ldm_weights_close(&w);
    ldm_config_free(&cfg);
    free(ids);
    free(gold);
    free(ref0);
    free(ref);
    free(got0);
    free(got);
}

/* Bad grids, and one rank's bad argument failing every rank. */
static void test_bad_input(void)
{
    ldm_config cfg = { 0 };
    ldm_weights *w = NULL;
    ldm_ldmbert *m = NULL;
    CHECK(ldm_config_load(LDM_FIXTURES "/ldmbert/wide/config.json", &cfg) == LDM_OK);
    CHECK(ldm_weights_open_dir(LDM_FIXTURES "/ldmbert/wide", &w) == LDM_OK);
    ldm_model_parallel par = { MPI_COMM_WORLD, MPI_COMM_NULL };
    const int np = ldm_mpi_test_size;
    ldm_ldmbert_dist d = LDM_LDMBERT_DIST_DEFAULT;
    CHECK(ldm_ldmbert_dist_parse("pblas", "--text-encoder", &d) == LDM_OK &&
          d == LDM_LDMBERT_DIST_PBLAS);
    CHECK(ldm_ldmbert_dist_parse("split", "--text-encoder", &d) == LDM_OK &&
          d == LDM_LDMBERT_DIST_SPLIT);
    CHECK(strcmp(ldm_ldmbert_dist_name(LDM_LDMBERT_DIST_PBLAS), "pblas") == 0);
    CHECK_FAILS_WITH(ldm_ldmbert_dist_parse("scalapack", "--text-encoder", &d), LDM_EINPUT,
                     "--text-encoder: \"scalapack\" is not a text-encoder distribution");
    if (np > 1 && w) {
        ldm_ldmbert_options o = { .parallel = &par, .dist = LDM_LDMBERT_DIST_PBLAS,
                                  .pblas_nprow = np + 1, .pblas_npcol = 1 };
        char want[64];
        snprintf(want, sizeof want, "BLACS grid %dx1 does not fit the %d ranks", np + 1, np);
        CHECK_FAILS_WITH(ldm_ldmbert_create_opts(&cfg, w, 1, 8, &o, &m), LDM_EINPUT, want);
        CHECK(m == NULL);
        o.pblas_nprow = np;
        o.pblas_block = -2;
        CHECK_FAILS_WITH(ldm_ldmbert_create_opts(&cfg, w, 1, 8, &o, &m), LDM_EINPUT,
                         "block -2 must be positive");
        /* rank 1 alone asks for 0 tokens: all ranks fail, none hangs */
        ldm_ldmbert_dist dists[2] = { LDM_LDMBERT_DIST_SPLIT, LDM_LDMBERT_DIST_PBLAS };
        for (int k = 0; k < 2; k++) {
            if (dists[k] == LDM_LDMBERT_DIST_SPLIT && 4 % np != 0)
                continue;
            ldm_ldmbert_options ob = { .parallel = &par, .dist = dists[k] };
            int64_t tokens = ldm_mpi_test_rank == 1 ? 0 : 8;
            ldm_status st = ldm_ldmbert_create_opts(&cfg, w, 1, tokens, &ob, &m);
            CHECK_MSG(st != LDM_OK && m == NULL, "rank %d: one rank's failure was not shared",
                      ldm_mpi_test_rank);
            if (ldm_mpi_test_rank == 1)
                CHECK(st == LDM_EINPUT && strstr(ldm_error_message(), "must be positive"));
            ldm_error_clear();
        }
    }
    ldm_weights_close(&w);
    ldm_config_free(&cfg);
}

/* Every allocation of a distributed create can fail on one rank (the last):
 * all ranks then fail together (no rank left waiting in a collective),
 * with *out NULL and nothing leaked or crashed. */
static void test_alloc_failures(void)
{
    const int np = ldm_mpi_test_size, victim = np - 1;
    if (np == 1)
        return;
    ldm_config cfg = { 0 };
    ldm_weights *w = NULL;
    CHECK(ldm_config_load(LDM_FIXTURES "/ldmbert/wide/config.json", &cfg) == LDM_OK);
    CHECK(ldm_weights_open_dir(LDM_FIXTURES "/ldmbert/wide", &w) == LDM_OK);
    ldm_model_parallel par = { MPI_COMM_WORLD, MPI_COMM_NULL };
    ldm_ldmbert_dist dists[2] = { LDM_LDMBERT_DIST_SPLIT, LDM_LDMBERT_DIST_PBLAS };
    for (int k = 0; k < 2 && w; k++) {
        if (dists[k] == LDM_LDMBERT_DIST_SPLIT && 4 % np != 0)
            continue;
        ldm_ldmbert_options o = { .parallel = &par, .dist = dists[k], .pblas_block = 8 };
        int failures = 0, ok = 0;
        for (long n = 1; n < 1000 && !ok; n++) {
            ldm_ldmbert *m = NULL;
            ldm_error_clear();
            if (ldm_mpi_test_rank == victim)
                ldm_alloc_fail_after(n);
            ldm_status st = ldm_ldmbert_create_opts(&cfg, w, 2, 12, &o, &m);
            ldm_alloc_fail_after(0);
            int mine = st == LDM_OK, all = 0, any = 0;
            MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
            MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
            CHECK_MSG(all == any, "allocation %ld on rank %d: ranks disagree", n, victim);
            if (st == LDM_OK) {
                ok = 1;
            } else {
                failures++;
                CHECK_MSG(m == NULL && ldm_error_message()[0], "allocation %ld: status %d", n,
                          (int)st);
            }
            ldm_ldmbert_destroy(&m);
            if (all != any)
                break;
        }
        CHECK(ok);
        if (ldm_mpi_test_rank == 0)
            printf("  %s create: %d injected allocation failures on rank %d, all shared\n",
                   ldm_ldmbert_dist_name(dists[k]), failures, victim);
        CHECK(failures >= 10);
    }
    ldm_error_clear();
    ldm_weights_close(&w);
    ldm_config_free(&cfg);
}

int main(int argc, char **argv)
{
    ldm_mpi_test_init(&argc, &argv);
    const model_case cases[] = {
        { "tiny-ldm/bert", "tiny_b2_l77", 2, 77, 32, 2 },
        { "tiny-ldm-bin/bert", "tiny_b1_l13", 1, 13, 32, 2 },
        { "ldmbert/wide", "wide_b3_l12", 3, 12, 48, 4 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        test_model(&cases[i]);
    test_bad_input();
    test_alloc_failures();
    return ldm_mpi_test_finish();
}
