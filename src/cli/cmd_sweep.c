/* cmd_sweep.c — `ldm sweep SPEC.json -o run.h5` and `ldm resume run.h5`:
 * a spec → run-file items, then every rank runs unfinished items
 * (sweep_run.h), checkpointing into the run file. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "core/alloc.h"
#include "io/model_identity.h"
#include "io/runfile.h"
#include "mpi/agree.h"
#include "options.h"
#include "sample/pipeline.h"
#include "sample/rng.h"
#include "sample/sweep_spec.h"
#include "signals.h"
#include "run_layout.h"
#include "sweep_run.h"
#include "txt2img_args.h"

/* "DDIMScheduler" → "ddim": the run file stores the name a request takes. */
static const char *short_scheduler(const char *cls)
{
    if (strcmp(cls, "DDIMScheduler") == 0)
        return "ddim";
    if (strcmp(cls, "PNDMScheduler") == 0)
        return "pndm";
    if (strcmp(cls, "LMSDiscreteScheduler") == 0)
        return "lms";
    return "";
}

ldm_status ldm_cli_command_line(int argc, char **argv, char **out)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    ldm_status st = ldm_alloc(n, "command line", (void **)out);
    if (st != LDM_OK)
        return st;
    (*out)[0] = '\0';
    for (int i = 0; i < argc; i++) {
        strcat(*out, argv[i]);
        if (i + 1 < argc)
            strcat(*out, " ");
    }
    return LDM_OK;
}

/* Spec items → run-file items, sizes resolved against the model. Every rank
 * does the same (one pipeline set-up per distinct size, steps, scheduler). */
static ldm_status make_items(ldm_pipeline *p, const ldm_sweep_spec *s, ldm_runfile_item *items)
{
    ldm_status st = LDM_OK;
    const char *sched = short_scheduler(ldm_pipeline_scheduler_name(p, s->scheduler));
    for (int64_t i = 0; i < s->n_items && st == LDM_OK; i++) {
        const ldm_sweep_item *si = &s->items[i];
        ldm_runfile_item *it = &items[i];
        *it = (ldm_runfile_item){
            .prompt = si->prompt, .negative_prompt = s->negative_prompt ? s->negative_prompt : "",
            .scheduler = sched[0] ? sched : (s->scheduler ? s->scheduler : ""),
            .seed = si->seed, .noise_seed = s->noise_seed, .guidance_scale = si->guidance_scale,
            .eta = si->eta, .steps = si->steps, .height = si->height, .width = si->width,
        };
        int count, h, w, dh, dw;
        ldm_pipeline_default_size(p, &dh, &dw);
        it->latent_shape[1] = (si->height ? si->height : dh) / 8;
        it->latent_shape[2] = (si->width ? si->width : dw) / 8;
        const char *prompt;
        ldm_txt2img_request req;
        ldm_sweep_request(it, &prompt, &req);
        st = ldm_pipeline_output_shape(p, &req, &count, &h, &w);
        it->height = h;
        it->width = w;
        for (int64_t j = 0; j < i && st == LDM_OK; j++)
            if (items[j].latent_shape[1] == it->latent_shape[1] &&
                items[j].latent_shape[2] == it->latent_shape[2] && items[j].steps == it->steps) {
                memcpy(it->latent_shape, items[j].latent_shape, sizeof it->latent_shape);
                it->scheduler_state_bytes = items[j].scheduler_state_bytes;
                break;
            }
        if (st == LDM_OK && it->latent_shape[0] == 0)
            st = ldm_sweep_item_sizes(p, it);
    }
    return st;
}

typedef struct sweep_args {
    ldm_string_list positional;
    const char *output, *model, *shard;
    long long every, threads, trajectory;
    int force, dry_run, help, quiet;
    const char *groups, *grid;    /* --groups G, --grid PcxPs */
    int cfg_parallel;             /* --cfg-parallel */
    ldm_grid_options layout;      /* the three, parsed */
} sweep_args;

static ldm_status parse_args(const char *cmd, int argc, char **argv, sweep_args *a)
{
    memset(a, 0, sizeof *a);
    a->model = ldm_default_model();
    a->every = 10;
    int is_sweep = strcmp(cmd, "sweep") == 0;
    const ldm_option opts[] = {
        { "--output", "-o", LDM_OPT_STRING, &a->output, 0, 0, "RUN.h5", "the run file to create (sweep)", NULL },
        { "--model", NULL, LDM_OPT_STRING, &a->model, 0, 0, "DIR", "diffusers model folder (default: $LDM_MODEL or the shipped model)", NULL },
        { "--checkpoint-every", NULL, LDM_OPT_INT, &a->every, 0, 100000, "K", "checkpoint every K steps (default 10; 0: only on a signal)", NULL },
        { "--trajectory", NULL, LDM_OPT_INT, &a->trajectory, 0, 100000, "K", "keep the latents after every K-th step in the run file (sweep; default 0: none)", NULL },
        { "--shard", NULL, LDM_OPT_STRING, &a->shard, 0, 0, "I/N", "only shard I of N (0 <= I < N): the I-th of N contiguous, near-equal ranges of the spec's items (sweep; for job arrays, docs/slurm.md)", NULL },
        { "--force", NULL, LDM_OPT_FLAG, &a->force, 0, 0, NULL, "overwrite an existing run file (sweep)", NULL },
        { "--threads", NULL, LDM_OPT_INT, &a->threads, 1, 1024, "N", "threads of this rank (default: its share of the cores)", NULL },
        { "--dry-run", NULL, LDM_OPT_FLAG, &a->dry_run, 0, 0, NULL, "validate the spec and print the items, write nothing (sweep)", NULL },
        { "--quiet", "-q", LDM_OPT_FLAG, &a->quiet, 0, 0, NULL, "no line per finished item", NULL },
        { "--groups", NULL, LDM_OPT_STRING, &a->groups, 0, 0, "G", "MPI: data-parallel groups sharing the items (default: one per rank when there are enough items)", NULL },
        { "--grid", NULL, LDM_OPT_STRING, &a->grid, 0, 0, "PcxPs", "MPI: channel x spatial ranks inside a group", NULL },
        { "--cfg-parallel", NULL, LDM_OPT_FLAG, &a->cfg_parallel, 0, 0, NULL, "MPI: the two guidance passes of an item on separate ranks", NULL },
        { 0 },
    };
    ldm_status st = ldm_options_parse(cmd, opts, argc, argv, 2, &a->positional, &a->help);
    if (st != LDM_OK)
        return st;
    if (a->help) {
        ldm_options_print_help(cmd, is_sweep ? "SPEC.json -o RUN.h5 [options]" : "RUN.h5 [options]",
                               is_sweep ? "Run a sweep spec (docs/sweeps.md) into an HDF5 run file."
                                        : "Continue a sweep: finished items are skipped, partial ones "
                                          "continue from their checkpoint.",
                               opts);
        return LDM_OK;
    }
    if (a->positional.count != 1)
        return ldm_error(LDM_EINPUT, "expected one %s, got %d arguments", is_sweep ? "SPEC.json" : "RUN.h5",
                         a->positional.count);
    if (is_sweep && !a->output && !a->dry_run)
        return ldm_error(LDM_EINPUT, "-o RUN.h5 is required");
    if (!is_sweep && (a->output || a->force || a->dry_run || a->shard))
        return ldm_error(LDM_EINPUT, "resume takes no %s",
                         a->output ? "-o" : a->force ? "--force" : a->dry_run ? "--dry-run" : "--shard");
    if (!a->model || !a->model[0])
        return ldm_error(LDM_EINPUT, "no model: pass --model DIR or set LDM_MODEL");
    return ldm_txt2img_grid_flags(a->groups, a->grid, a->cfg_parallel, &a->layout);
}

/* "--shard I/N" → items [I·n/N, (I+1)·n/N) of the spec's n: contiguous,
 * so shard I's run-file item k is spec item first + k. An empty shard (more
 * shards than items) is an error rather than an empty run file. */
static ldm_status shard_range(const char *shard, int64_t n, int64_t *first, int64_t *count)
{
    *first = 0;
    *count = n;
    if (!shard)
        return LDM_OK;
    long long i = -1, k = 0;
    int used = 0;
    if (sscanf(shard, "%lld/%lld%n", &i, &k, &used) != 2 || shard[used] != '\0' || k < 1 ||
        k > LDM_SWEEP_MAX_ITEMS || i < 0 || i >= k)
        return ldm_error(LDM_EINPUT, "--shard must be I/N with 0 <= I < N <= %d, got \"%s\"",
                         (int)LDM_SWEEP_MAX_ITEMS, shard);
    *first = (int64_t)(i * n / k);
    *count = (int64_t)((i + 1) * n / k) - *first;
    if (*count == 0)
        return ldm_error(LDM_EINPUT, "--shard %s: shard %lld of %lld is empty: the spec has only %lld "
                         "items (use at most %lld shards)", shard, i, k, (long long)n, (long long)n);
    return LDM_OK;
}

static void print_items(const ldm_runfile_item *items, int64_t n, int64_t first)
{
    for (int64_t i = 0; i < n; i++)
        printf("%lld: seed %llu, guidance %g, %d steps, eta %g, %dx%d, %s: \"%s\"\n", (long long)(first + i),
               (unsigned long long)items[i].seed, items[i].guidance_scale, items[i].steps,
               items[i].eta, items[i].width, items[i].height, items[i].scheduler, items[i].prompt);
}

/* COLLECTIVE. The process layout for the run file's items: guidance on if
 * any item has it, the smallest item size for the strip limit. */
static ldm_status make_layout(const sweep_args *a, const ldm_pipeline *p, const ldm_runfile *rf,
                              ldm_run_layout *rl)
{
    const ldm_runfile_info *info = ldm_runfile_get_info(rf);
    int cfg = 0, min_h = 0;
    for (int64_t i = 0; i < info->count; i++) {
        const ldm_runfile_item *it = ldm_runfile_get_item(rf, i);
        cfg |= it->guidance_scale != 1.0;
        if (min_h == 0 || it->latent_shape[1] * 8 < min_h)
            min_h = it->latent_shape[1] * 8;
    }
    return ldm_run_layout_create(p, &a->layout, info->count, cfg, min_h, 0, rl);
}

/* Both commands: arguments, model and identity agreed on every rank. */
static ldm_status setup(const char *cmd, int argc, char **argv, sweep_args *a, ldm_pipeline **p,
                        ldm_model_identity *id)
{
    ldm_status st = parse_args(cmd, argc, argv, a);
    if (st == LDM_OK && !a->help) {
        ldm_cli_setup_threads(a->threads);
        st = ldm_pipeline_open(a->model, p);
        if (st == LDM_OK)
            st = ldm_model_identity_compute(a->model, id);
    }
    return ldm_mpi_agree(MPI_COMM_WORLD, st);
}

ldm_status ldm_cmd_sweep(int argc, char **argv)
{
    sweep_args a;
    ldm_pipeline *p = NULL;
    ldm_model_identity id = { 0 };
    ldm_sweep_spec spec = { 0 };
    ldm_runfile_item *items = NULL;
    ldm_runfile *rf = NULL;
    ldm_run_layout rl = { 0 };
    char *cmdline = NULL;
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    ldm_status st = setup("sweep", argc, argv, &a, &p, &id);
    if (st != LDM_OK || a.help)
        goto cleanup;
    int64_t first = 0, count = 0;
    st = ldm_sweep_spec_load(a.positional.items[0], &spec);
    if (st == LDM_OK)
        st = shard_range(a.shard, spec.n_items, &first, &count);
    if (st == LDM_OK) {
        /* A shard is a sweep of its own range of items. */
        memmove(spec.items, spec.items + first, sizeof *spec.items * (size_t)count);
        spec.n_items = count;
        st = ldm_calloc(sizeof *items * (size_t)spec.n_items, "run-file items", (void **)&items);
    }
    if (st == LDM_OK)
        st = make_items(p, &spec, items);
    if (st == LDM_OK)
        st = ldm_cli_command_line(argc, argv, &cmdline);
    LDM_CHECK(ldm_mpi_agree(MPI_COMM_WORLD, st));
    if (a.dry_run) {
        if (rank == 0) {
            if (a.shard)
                printf("sweep \"%s\" shard %s: %lld items, %lld to %lld\n", spec.name, a.shard,
                       (long long)spec.n_items, (long long)first, (long long)(first + spec.n_items - 1));
            else
                printf("sweep \"%s\": %lld items\n", spec.name, (long long)spec.n_items);
            print_items(items, spec.n_items, first);
        }
        goto cleanup;
    }
    ldm_runfile_spec rs = { .command_line = cmdline, .model = &id,
                            .rng_streams = LDM_SWEEP_RNG_STREAMS, .rng_words = LDM_RNG_STATE_WORDS,
                            .trajectory_every = (int32_t)a.trajectory };
    LDM_CHECK(ldm_runfile_create(MPI_COMM_WORLD, a.output, &rs, items, spec.n_items, a.force, &rf));
    if (rank == 0 && !a.quiet)
        fprintf(stderr, "sweep \"%s\": %lld items into %s\n", spec.name, (long long)spec.n_items, a.output);
    LDM_CHECK(make_layout(&a, p, rf, &rl));
    ldm_signals_install();
    st = ldm_sweep_execute(MPI_COMM_WORLD, rf, p, &rl, (int)a.every, !a.quiet);
cleanup:
    if (rf) {
        ldm_status cst = ldm_runfile_close(&rf);
        if (st == LDM_OK)
            st = cst;
    }
    ldm_run_layout_destroy(&rl);
    ldm_free(cmdline);
    ldm_free(items);
    ldm_sweep_spec_free(&spec);
    ldm_model_identity_free(&id);
    ldm_pipeline_close(&p);
    return st;
}

ldm_status ldm_cmd_resume(int argc, char **argv)
{
    sweep_args a;
    ldm_pipeline *p = NULL;
    ldm_model_identity id = { 0 };
    ldm_runfile *rf = NULL;
    ldm_run_layout rl = { 0 };
    ldm_status st = setup("resume", argc, argv, &a, &p, &id);
    if (st != LDM_OK || a.help)
        goto cleanup;
    LDM_CHECK(ldm_runfile_open(MPI_COMM_WORLD, a.positional.items[0], 1, &id, &rf));
    LDM_CHECK(make_layout(&a, p, rf, &rl));
    ldm_signals_install();
    st = ldm_sweep_execute(MPI_COMM_WORLD, rf, p, &rl, (int)a.every, !a.quiet);
cleanup:
    if (rf) {
        ldm_status cst = ldm_runfile_close(&rf);
        if (st == LDM_OK)
            st = cst;
    }
    ldm_run_layout_destroy(&rl);
    ldm_model_identity_free(&id);
    ldm_pipeline_close(&p);
    return st;
}
