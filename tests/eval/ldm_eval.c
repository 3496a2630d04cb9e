/* ldm_eval.c — `ldm-eval`: judge ldm-shapes images with the rules of
 * tools/train/evaluate.py (shapes_eval.h), from PNG files or by generating.
 *
 *   ldm-eval score [--quiet] PATH...
 *       PATH: a PNG written by `ldm txt2img` (its "prompt" text is the
 *       caption) or a directory of them (*.png, by name).
 *   ldm-eval generate [--model DIR] [--captions FILE] [--per-kind N]
 *       [--seeds N | --seed-list S[,S...]] [--guidance G[,G...]] [--steps N]
 *       [--batch N] [--threads N] [--scheduler ddim|pndm|lms]
 *       [--height H --width W] [--save DIR] [--quiet]
 *       --model defaults to the source tree's models/ldm-shapes, --captions to
 *       its tests/fixtures/eval/heldout_captions.txt (evaluate.py's held-out
 *       captions): `ldm-eval generate` alone is evaluate.py's default run.
 *
 * Prints one line per image (unless --quiet), then the accuracy table.
 * Exit 0 done, 1 bad input (the message names the file or flag), 2 runtime.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "eval_run.h"
#include "io/png.h"
#include "kernels/threads.h"

enum { MAX_GUIDANCE = 16, MAX_SEEDS = 1024 };

static const char usage[] =
    "usage: ldm-eval score [--quiet] PATH...\n"
    "       ldm-eval generate [--model DIR] [--captions FILE] [--per-kind N]\n"
    "                [--seeds N | --seed-list S[,S...]] [--guidance G[,G...]] [--steps N]\n"
    "                [--batch N] [--threads N] [--scheduler NAME] [--height H --width W]\n"
    "                [--save DIR] [--quiet]\n"
    "Judges images of ldm-shapes captions by the rules of tools/train/evaluate.py.\n"
    "generate defaults (evaluate.py's): --model " LDM_EVAL_MODEL "\n"
    "  --captions " LDM_EVAL_CAPTIONS "\n"
    "  all captions, seeds 0 and 1, guidance 1,3,5,7, 50 steps; batch 8, the folder's\n"
    "  scheduler and size, threads from OMP_NUM_THREADS or all cores.\n";

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static ldm_status score_one(const char *path, int quiet, ldm_eval_tally *t)
{
    char *caption = NULL;
    ldm_eval_caption c;
    ldm_eval_analysis an;
    ldm_eval_score s;
    ldm_status st = ldm_eval_png(path, &caption, &c, &an, &s);
    if (st != LDM_OK)
        return st;
    ldm_eval_tally_add(t, c.kind, &s);
    if (!quiet)
        ldm_eval_print_image(stdout, path, caption, &an, &s);
    ldm_eval_analysis_free(&an);
    ldm_free(caption);
    return LDM_OK;
}

/* Every *.png of a directory, by name. */
static ldm_status score_dir(const char *dir, int quiet, ldm_eval_tally *t, int *count)
{
    ldm_status st = LDM_OK;
    char **names = NULL, *path = NULL;
    int n = 0, cap = 0;
    DIR *d = opendir(dir);
    if (!d)
        return ldm_error(LDM_EINPUT, "%s: cannot open directory: %s", dir, strerror(errno));
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".png") != 0)
            continue;
        if (n == cap) {
            char **grown = NULL;
            cap = cap ? 2 * cap : 64;
            LDM_CHECK(ldm_alloc((size_t)cap * sizeof *grown, "file names", (void **)&grown));
            if (n)
                memcpy(grown, names, (size_t)n * sizeof *grown);
            ldm_free(names);
            names = grown;
        }
        LDM_CHECK(ldm_strdup(e->d_name, &names[n]));
        n++;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (int i = 0; i < n; i++) {
        LDM_CHECK(ldm_path_join(dir, names[i], &path));
        LDM_CHECK(score_one(path, quiet, t));
        ldm_free(path);
        path = NULL;
    }
    if (n == 0)
        st = ldm_error(LDM_EINPUT, "%s: no .png files", dir);
    *count += n;
cleanup:
    ldm_free(path);
    for (int i = 0; i < n; i++)
        ldm_free(names[i]);
    ldm_free(names);
    closedir(d);
    return st;
}

static ldm_status cmd_score(int argc, char **argv)
{
    ldm_eval_tally t = { 0 };
    int quiet = 0, count = 0;
    for (int i = 0; i < argc; i++) {
        ldm_status st = LDM_OK;
        if (strcmp(argv[i], "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (argv[i][0] == '-')
            return ldm_error(LDM_EINPUT, "score: unknown option \"%s\"", argv[i]);
        if (ldm_is_dir(argv[i])) {
            st = score_dir(argv[i], quiet, &t, &count);
        } else {
            st = score_one(argv[i], quiet, &t);
            count++;
        }
        if (st != LDM_OK)
            return st;
    }
    if (count == 0)
        return ldm_error(LDM_EINPUT, "score: no PNG files given");
    ldm_eval_print_table(stdout, "-", &t, 1, 1);
    return LDM_OK;
}

/* ---- generate ----------------------------------------------------------- */

typedef struct gen_args {
    const char *model, *captions, *scheduler, *save;
    long per_kind, steps, batch, threads, height, width;
    double guidance[MAX_GUIDANCE];
    uint64_t seeds[MAX_SEEDS];
    int n_guidance, n_seeds, quiet;
} gen_args;

static ldm_status parse_long(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return ldm_error(LDM_EINPUT, "%s: expected an integer from %ld to %ld, got \"%s\"", flag, lo, hi, v);
    *out = x;
    return LDM_OK;
}

static ldm_status parse_guidance(const char *v, gen_args *a)
{
    a->n_guidance = 0;
    for (const char *p = v; *p;) {
        char *end = NULL;
        errno = 0;
        double g = strtod(p, &end);
        if (errno || end == p || !(g >= 0.0 && g <= 100.0) || (*end && *end != ','))
            return ldm_error(LDM_EINPUT, "--guidance: expected numbers from 0 to 100 separated by commas, got \"%s\"", v);
        if (a->n_guidance == MAX_GUIDANCE)
            return ldm_error(LDM_EINPUT, "--guidance: at most %d values", MAX_GUIDANCE);
        a->guidance[a->n_guidance++] = g;
        p = *end ? end + 1 : end;
    }
    if (a->n_guidance == 0)
        return ldm_error(LDM_EINPUT, "--guidance: no value");
    return LDM_OK;
}

static ldm_status parse_seed_list(const char *v, gen_args *a)
{
    a->n_seeds = 0;
    for (const char *p = v; *p;) {
        char *end = NULL;
        errno = 0;
        unsigned long long s = strtoull(p, &end, 10);
        if (errno || end == p || *p == '-' || (*end && *end != ','))
            return ldm_error(LDM_EINPUT, "--seed-list: expected integers from 0 separated by commas, got \"%s\"", v);
        if (a->n_seeds == MAX_SEEDS)
            return ldm_error(LDM_EINPUT, "--seed-list: at most %d values", MAX_SEEDS);
        a->seeds[a->n_seeds++] = (uint64_t)s;
        p = *end ? end + 1 : end;
    }
    if (a->n_seeds == 0)
        return ldm_error(LDM_EINPUT, "--seed-list: no value");
    return LDM_OK;
}

static ldm_status parse_gen(int argc, char **argv, gen_args *a)
{
    ldm_status st = LDM_OK;
    *a = (gen_args){ .model = LDM_EVAL_MODEL, .captions = LDM_EVAL_CAPTIONS, .steps = 50, .batch = 8,
                     .guidance = { 1, 3, 5, 7 }, .n_guidance = 4, .seeds = { 0, 1 }, .n_seeds = 2 };
    long n_seeds = 0;
    for (int i = 0; i < argc; i++) {
        const char *f = argv[i];
        if (strcmp(f, "--quiet") == 0) {
            a->quiet = 1;
            continue;
        }
        if (f[0] != '-' || f[1] != '-')
            return ldm_error(LDM_EINPUT, "generate: unexpected argument \"%s\"", f);
        if (i + 1 >= argc)
            return ldm_error(LDM_EINPUT, "%s needs a value", f);
        const char *v = argv[++i];
        if (strcmp(f, "--model") == 0) a->model = v;
        else if (strcmp(f, "--captions") == 0) a->captions = v;
        else if (strcmp(f, "--scheduler") == 0) a->scheduler = v;
        else if (strcmp(f, "--save") == 0) a->save = v;
        else if (strcmp(f, "--per-kind") == 0) LDM_CHECK(parse_long(f, v, 0, INT_MAX, &a->per_kind));
        else if (strcmp(f, "--seeds") == 0) LDM_CHECK(parse_long(f, v, 1, MAX_SEEDS, &n_seeds));
        else if (strcmp(f, "--seed-list") == 0) LDM_CHECK(parse_seed_list(v, a));
        else if (strcmp(f, "--steps") == 0) LDM_CHECK(parse_long(f, v, 1, 1000, &a->steps));
        else if (strcmp(f, "--batch") == 0) LDM_CHECK(parse_long(f, v, 1, 256, &a->batch));
        else if (strcmp(f, "--threads") == 0) LDM_CHECK(parse_long(f, v, 1, 4096, &a->threads));
        else if (strcmp(f, "--height") == 0) LDM_CHECK(parse_long(f, v, 8, 4096, &a->height));
        else if (strcmp(f, "--width") == 0) LDM_CHECK(parse_long(f, v, 8, 4096, &a->width));
        else if (strcmp(f, "--guidance") == 0) LDM_CHECK(parse_guidance(v, a));
        else return ldm_error(LDM_EINPUT, "generate: unknown option \"%s\"", f);
    }
    if (n_seeds > 0) { /* evaluate.py's --seeds N: 0..N-1 */
        for (long s = 0; s < n_seeds; s++)
            a->seeds[s] = (uint64_t)s;
        a->n_seeds = (int)n_seeds;
    }
    if (a->save && !ldm_is_dir(a->save))
        return ldm_error(LDM_EINPUT, "--save: %s is not a directory", a->save);
cleanup:
    return st;
}

typedef struct gen_ctx {
    const gen_args *a;
    const ldm_eval_captions *caps;
    double guidance;
    const char *scheduler_name;
    int index;
    ldm_status st; /* first failure to write a PNG */
} gen_ctx;

static void on_image(void *vctx, int ci, uint64_t seed, const uint8_t *rgb, int w, int h,
                     const ldm_eval_analysis *an, const ldm_eval_score *s)
{
    gen_ctx *c = vctx;
    char label[64], path[4096], seed_s[32], steps_s[16], g_s[32];
    snprintf(label, sizeof label, "g%g/s%llu/%d", c->guidance, (unsigned long long)seed, ci);
    if (!c->a->quiet)
        ldm_eval_print_image(stdout, label, c->caps->text[ci], an, s);
    if (c->a->save && c->st == LDM_OK) {
        snprintf(path, sizeof path, "%s/g%g_s%llu_%03d.png", c->a->save, c->guidance,
                 (unsigned long long)seed, ci);
        snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)seed);
        snprintf(steps_s, sizeof steps_s, "%ld", c->a->steps);
        snprintf(g_s, sizeof g_s, "%.17g", c->guidance);
        ldm_png_text texts[] = {
            { "prompt", c->caps->text[ci] }, { "seed", seed_s }, { "steps", steps_s },
            { "guidance_scale", g_s }, { "eta", "0" }, { "scheduler", c->scheduler_name },
            { "model", c->a->model }, { "software", "ldm-eval " LDM_VERSION },
        };
        c->st = ldm_png_write(path, rgb, w, h, texts, (int)(sizeof texts / sizeof texts[0]));
    }
    c->index++;
}

static ldm_status cmd_generate(int argc, char **argv)
{
    ldm_status st = LDM_OK;
    gen_args a;
    ldm_eval_captions caps = { 0 };
    ldm_pipeline *p = NULL;
    LDM_CHECK(parse_gen(argc, argv, &a));
    long threads = a.threads;
    if (threads <= 0 && getenv("OMP_NUM_THREADS"))
        threads = atol(getenv("OMP_NUM_THREADS"));
    threads = ldm_kernels_set_threads((int)threads);
    st = ldm_eval_captions_read(a.captions, (int)a.per_kind, &caps);
    if (st != LDM_OK) {
        ldm_error_context("--captions: ");
        goto cleanup;
    }
    LDM_CHECK(ldm_pipeline_open(a.model, &p));
    const char *sched = ldm_pipeline_scheduler_name(p, a.scheduler);
    printf("model %s: %d captions x %d seeds, %ld steps %s, eta 0, %ld threads\n", a.model, caps.n,
           a.n_seeds, a.steps, sched, threads);
    ldm_eval_tally tallies[MAX_GUIDANCE];
    for (int gi = 0; gi < a.n_guidance; gi++) {
        ldm_eval_gen g = { .model_dir = a.model, .steps = (int)a.steps, .guidance = a.guidance[gi],
                           .seeds = a.seeds, .n_seeds = a.n_seeds, .scheduler = a.scheduler,
                           .batch = (int)a.batch, .height = (int)a.height, .width = (int)a.width };
        gen_ctx ctx = { .a = &a, .caps = &caps, .guidance = a.guidance[gi], .scheduler_name = sched };
        memset(&tallies[gi], 0, sizeof tallies[gi]);
        LDM_CHECK(ldm_eval_generate(p, &g, &caps, on_image, &ctx, &tallies[gi]));
        LDM_CHECK(ctx.st);
        char label[32];
        snprintf(label, sizeof label, "%g", a.guidance[gi]);
        ldm_eval_print_table(stdout, label, &tallies[gi], 1, 1);
        fflush(stdout);
    }
    if (a.n_guidance > 1) {
        int best = 0;
        printf("\nall guidance values:\n");
        for (int gi = 0; gi < a.n_guidance; gi++) {
            char label[32];
            snprintf(label, sizeof label, "%g", a.guidance[gi]);
            ldm_eval_print_table(stdout, label, &tallies[gi], gi == 0, 0);
            if (ldm_eval_tally_mean(&tallies[gi]) > ldm_eval_tally_mean(&tallies[best]))
                best = gi; /* first of equals, as Python's max() */
        }
        printf("best guidance %g (mean accuracy %.3f)\n", a.guidance[best], ldm_eval_tally_mean(&tallies[best]));
    }
cleanup:
    ldm_pipeline_close(&p);
    ldm_eval_captions_free(&caps);
    return st;
}

int main(int argc, char **argv)
{
    ldm_status st;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    if (strcmp(argv[1], "score") == 0)
        st = cmd_score(argc - 2, argv + 2);
    else if (strcmp(argv[1], "generate") == 0)
        st = cmd_generate(argc - 2, argv + 2);
    else
        st = ldm_error(LDM_EINPUT, "unknown command \"%s\" (score or generate)", argv[1]);
    if (st != LDM_OK)
        fprintf(stderr, "ldm-eval: %s\n", ldm_error_message());
    return (int)st;
}
