/* cmd_init.c — `ldm init --config DIR -o MODEL`: a model folder with random
 * weights for any LDMTextToImagePipeline configuration.
 *
 * The folder is built in a sibling staging folder ("MODEL.init-XXXXXX") and
 * renamed onto MODEL only when every file is complete, so an interrupted or
 * failed run (a full disk) never leaves a half-written model under MODEL; the
 * staging folder is removed on failure. An existing MODEL is replaced only
 * with --force, and only when it is a model folder (has model_index.json) or
 * empty. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "commands.h"
#include "core/alloc.h"
#include "core/file.h"
#include "init.h"
#include "options.h"

typedef struct init_args {
    const char *config;
    const char *output;
    unsigned long long seed;
    int force, dry_run, help;
} init_args;

/* ---- files and folders ----------------------------------------------------- */

static ldm_status copy_file(const char *from, const char *to)
{
    ldm_status st = LDM_OK;
    char *data = NULL;
    size_t len = 0;
    FILE *f = NULL;
    LDM_CHECK(ldm_read_file(from, &data, &len));
    f = fopen(to, "wb");
    if (!f) {
        st = ldm_error(LDM_ERUNTIME, "%s: cannot create: %s", to, strerror(errno));
        goto cleanup;
    }
    size_t put = fwrite(data, 1, len, f);
    int bad = put != len || ferror(f);
    if (fclose(f) != 0 || bad)
        st = ldm_error(LDM_ERUNTIME, "%s: write failed: %s", to, strerror(errno));
cleanup:
    ldm_free(data);
    return st;
}

static ldm_status join_copy(const char *from_dir, const char *to_dir, const char *name)
{
    ldm_status st = LDM_OK;
    char *a = NULL, *b = NULL;
    LDM_CHECK(ldm_path_join(from_dir, name, &a));
    LDM_CHECK(ldm_path_join(to_dir, name, &b));
    if (ldm_is_file(a))
        LDM_CHECK(copy_file(a, b));
cleanup:
    ldm_free(a);
    ldm_free(b);
    return st;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* rm -rf of a folder this command created or was told to replace. */
static int remove_tree(const char *dir)
{
    return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* 1 when `dir` has no entries besides . and .. */
static int dir_is_empty(const char *dir)
{
    int empty = rmdir(dir) == 0; /* only an empty folder goes; put it back */
    if (empty)
        mkdir(dir, 0777);
    return empty;
}

/* ---- the folder's contents ------------------------------------------------- */

static ldm_status write_readme(const init_args *a, const ldm_init_plan *p, const char *dir)
{
    ldm_status st = LDM_OK;
    char *path = NULL;
    FILE *f = NULL;
    LDM_CHECK(ldm_path_join(dir, "README.md", &path));
    f = fopen(path, "wb");
    if (!f) {
        st = ldm_error(LDM_ERUNTIME, "%s: cannot create: %s", path, strerror(errno));
        goto cleanup;
    }
    fprintf(f, "# Random-weight %s\n\n"
               "Written by `ldm init --config %s --seed %llu` (ldm %s). The weights are random,\n"
               "not trained: images made with this folder are noise-like. It has the sizes,\n"
               "names and file layout of the configuration, for benchmarks and tests, and\n"
               "loads in ldm and in diffusers (`LDMTextToImagePipeline.from_pretrained`).\n\n"
               "Values (float32, deterministic from the seed and each tensor's name):\n"
               "Linear/Conv weights and biases uniform(±1/sqrt(fan_in)) as torch's default\n"
               "init, norm weights 1 and biases 0, embeddings N(0, 0.02).\n\n",
            p->class_name[0] ? p->class_name : "pipeline", a->config, a->seed, LDM_VERSION);
    for (int i = 0; i < p->count; i++) {
        const ldm_init_component *c = &p->comps[i];
        if (c->kind == LDM_COMPONENT_MODEL)
            fprintf(f, "- %s: %s, %lld parameters, %s/%s\n", c->name, c->class_name,
                    (long long)c->params, c->name, c->weights_file);
        else if (c->kind == LDM_COMPONENT_TOKENIZER && !c->has_vocab)
            fprintf(f, "- %s: %s with a SYNTHETIC vocab.txt (%lld tokens in "
                       "bert-base-uncased's layout: [PAD], [unused0..98], [UNK], [CLS], "
                       "[SEP], [MASK], characters, common words, letter strings); it is not "
                       "bert's vocabulary\n",
                    c->name, c->class_name, (long long)p->vocab_size);
        else
            fprintf(f, "- %s: %s, configuration copied\n", c->name, c->class_name);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        st = ldm_error(LDM_ERUNTIME, "%s: write failed: %s", path, strerror(errno));
cleanup:
    ldm_free(path);
    return st;
}

static ldm_status write_component(const init_args *a, const ldm_init_plan *p,
                                  const ldm_init_component *c, const char *stage)
{
    ldm_status st = LDM_OK;
    char *dir = NULL, *path = NULL;
    LDM_CHECK(ldm_path_join(stage, c->name, &dir));
    if (mkdir(dir, 0777) != 0) {
        st = ldm_error(LDM_ERUNTIME, "%s: cannot create: %s", dir, strerror(errno));
        goto cleanup;
    }
    switch (c->kind) {
    case LDM_COMPONENT_MODEL:
        LDM_CHECK(join_copy(c->dir, dir, "config.json"));
        LDM_CHECK(ldm_path_join(dir, c->weights_file, &path));
        LDM_CHECK(ldm_init_write_weights(path, &c->specs, a->seed));
        break;
    case LDM_COMPONENT_SCHEDULER:
        LDM_CHECK(join_copy(c->dir, dir, "scheduler_config.json"));
        break;
    case LDM_COMPONENT_TOKENIZER: {
        static const char *const files[] = {"vocab.txt", "tokenizer_config.json",
                                            "special_tokens_map.json", "added_tokens.json"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
            LDM_CHECK(join_copy(c->dir, dir, files[i]));
        if (!c->has_vocab) {
            LDM_CHECK(ldm_path_join(dir, "vocab.txt", &path));
            LDM_CHECK(ldm_init_write_vocab(path, p->vocab_size));
        }
        break;
    }
    }
cleanup:
    ldm_free(dir);
    ldm_free(path);
    return st;
}

static void print_plan(const ldm_init_plan *p)
{
    int64_t params = 0;
    printf("config %s (%s)\n", p->config_dir, p->class_name[0] ? p->class_name : "?");
    for (int i = 0; i < p->count; i++) {
        const ldm_init_component *c = &p->comps[i];
        switch (c->kind) {
        case LDM_COMPONENT_MODEL:
            params += c->params;
            printf("  %-10s %-22s %13lld params  %4d tensors  %9.2f MB  %s/%s\n", c->name,
                   c->class_name, (long long)c->params, c->specs.count, (double)c->bytes / 1e6,
                   c->name, c->weights_file);
            break;
        case LDM_COMPONENT_SCHEDULER:
            printf("  %-10s %-22s (scheduler_config.json copied)\n", c->name, c->class_name);
            break;
        case LDM_COMPONENT_TOKENIZER:
            if (c->has_vocab)
                printf("  %-10s %-22s (vocab.txt copied)\n", c->name, c->class_name);
            else
                printf("  %-10s %-22s synthetic vocab.txt of %lld tokens\n", c->name,
                       c->class_name, (long long)p->vocab_size);
            break;
        }
    }
    printf("  %-33s %13lld params               %9.2f MB\n", "total", (long long)params,
           (double)p->bytes / 1e6);
}

/* ---- the output folder ----------------------------------------------------- */

/* May MODEL be (re)placed? Returns whether it exists now. */
static ldm_status check_output(const init_args *a, const char *out, int *exists)
{
    ldm_status st = LDM_OK;
    char *index = NULL;
    struct stat sb;
    *exists = lstat(out, &sb) == 0;
    if (!*exists)
        return LDM_OK;
    if (!a->force)
        return ldm_error(LDM_EINPUT, "-o %s: already exists (pass --force to replace it)", out);
    if (!S_ISDIR(sb.st_mode))
        return ldm_error(LDM_EINPUT, "-o %s: exists and is not a folder; not replacing it", out);
    LDM_CHECK(ldm_path_join(out, "model_index.json", &index));
    if (!ldm_is_file(index) && !dir_is_empty(out))
        st = ldm_error(LDM_EINPUT, "-o %s: is not empty and holds no model_index.json; not "
                       "replacing it, even with --force", out);
cleanup:
    ldm_free(index);
    return st;
}

/* The parent folder of `out` ("." when it has none). */
static ldm_status parent_of(const char *out, char **parent)
{
    ldm_status st = ldm_strdup(out, parent);
    if (st != LDM_OK)
        return st;
    char *slash = strrchr(*parent, '/');
    if (!slash)
        strcpy(*parent, ".");
    else if (slash == *parent)
        slash[1] = '\0';
    else
        *slash = '\0';
    return LDM_OK;
}

static ldm_status check_space(const char *parent, uint64_t need)
{
    struct statvfs vfs;
    if (statvfs(parent, &vfs) != 0)
        return LDM_OK; /* cannot tell: the writes will say */
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (avail < need + (need >> 6))
        return ldm_error(LDM_ERUNTIME, "%s: not enough disk space: the model needs %.2f GB, "
                         "%.2f GB are free", parent, (double)need / 1e9, (double)avail / 1e9);
    return LDM_OK;
}

/* Move the finished stage onto `out` (moving an old model aside first). */
static ldm_status publish(const char *stage, const char *out, int exists)
{
    ldm_status st = LDM_OK;
    char *old = NULL;
    if (exists) {
        size_t cap = strlen(out) + 16;
        LDM_CHECK(ldm_alloc(cap, "folder name", (void **)&old));
        snprintf(old, cap, "%s.old-XXXXXX", out);
        if (!mkdtemp(old) || rename(out, old) != 0) {
            st = ldm_error(LDM_ERUNTIME, "-o %s: cannot move the old model aside: %s", out,
                           strerror(errno));
            if (old[strlen(old) - 1] != 'X')
                rmdir(old);
            goto cleanup;
        }
    }
    if (rename(stage, out) != 0) {
        int e = errno;
        if (old)
            rename(old, out);
        st = ldm_error(LDM_ERUNTIME, "-o %s: cannot rename %s onto it: %s", out, stage,
                       strerror(e));
        goto cleanup;
    }
    if (old && remove_tree(old) != 0)
        fprintf(stderr, "ldm init: warning: could not remove the old model %s\n", old);
cleanup:
    ldm_free(old);
    return st;
}

static ldm_status write_model(const init_args *a, const ldm_init_plan *p)
{
    ldm_status st = LDM_OK;
    char *out = NULL, *parent = NULL, *stage = NULL;
    int exists = 0;
    LDM_CHECK(ldm_strdup(a->output, &out));
    for (size_t n = strlen(out); n > 1 && out[n - 1] == '/'; n--)
        out[n - 1] = '\0';
    LDM_CHECK(check_output(a, out, &exists));
    LDM_CHECK(parent_of(out, &parent));
    if (!ldm_is_dir(parent)) {
        st = ldm_error(LDM_EINPUT, "-o %s: %s is not an existing folder", out, parent);
        goto cleanup;
    }
    size_t cap = strlen(out) + 16;
    LDM_CHECK(ldm_alloc(cap, "folder name", (void **)&stage));
    snprintf(stage, cap, "%s.init-XXXXXX", out);
    if (!mkdtemp(stage)) {
        st = ldm_error(LDM_EINPUT, "-o %s: cannot write in %s: %s", out, parent,
                       strerror(errno));
        ldm_free(stage);
        stage = NULL;
        goto cleanup;
    }
    mode_t mask = umask(0); /* mkdtemp made it 0700: give it the usual mode */
    umask(mask);
    chmod(stage, 0777 & ~mask);
    LDM_CHECK(check_space(parent, p->bytes));
    LDM_CHECK(join_copy(p->config_dir, stage, "model_index.json"));
    for (int i = 0; i < p->count; i++) {
        LDM_CHECK(write_component(a, p, &p->comps[i], stage));
        if (p->comps[i].kind == LDM_COMPONENT_MODEL)
            fprintf(stderr, "wrote %s/%s (%lld params)\n", p->comps[i].name,
                    p->comps[i].weights_file, (long long)p->comps[i].params);
    }
    LDM_CHECK(write_readme(a, p, stage));
    LDM_CHECK(publish(stage, out, exists));
    ldm_free(stage);
    stage = NULL;
    printf("wrote %s\n", out);
cleanup:
    if (st != LDM_OK && stage)
        ldm_error_context("writing %s (in %s, now removed): ", out, stage);
    if (stage && remove_tree(stage) != 0)
        fprintf(stderr, "ldm init: warning: could not remove %s\n", stage);
    ldm_free(stage);
    ldm_free(parent);
    ldm_free(out);
    return st;
}

ldm_status ldm_cmd_init(int argc, char **argv)
{
    ldm_status st = LDM_OK;
    init_args a = {0};
    ldm_init_plan plan;
    memset(&plan, 0, sizeof plan);
    const ldm_option opts[] = {
        { "--config", NULL, LDM_OPT_STRING, &a.config, 0, 0, "DIR", "pipeline configuration folder: model_index.json and each component's config (weights in it are ignored)", NULL },
        { "--output", "-o", LDM_OPT_STRING, &a.output, 0, 0, "MODEL", "model folder to write (must not exist, see --force)", NULL },
        { "--seed", NULL, LDM_OPT_UINT64, &a.seed, 0, 0, "S", "seed of the random weights (default 0)", NULL },
        { "--force", NULL, LDM_OPT_FLAG, &a.force, 0, 0, NULL, "replace MODEL if it is a model folder (or empty)", NULL },
        { "--dry-run", NULL, LDM_OPT_FLAG, &a.dry_run, 0, 0, NULL, "print the components, parameter counts and sizes; write nothing", NULL },
        { 0 },
    };
    LDM_CHECK(ldm_options_parse("init", opts, argc, argv, 2, NULL, &a.help));
    if (a.help) {
        ldm_options_print_help("init", "--config DIR -o MODEL [--seed S] [--force] [--dry-run]",
                               "Write a model folder with random weights (float32 .safetensors) "
                               "for a pipeline configuration: for benchmarks and tests at any "
                               "size, without downloading a model.",
                               opts);
        return LDM_OK;
    }
    if (!a.config) {
        st = ldm_error(LDM_EINPUT, "--config is required");
        goto cleanup;
    }
    if (!a.dry_run && (!a.output || !a.output[0])) {
        st = ldm_error(LDM_EINPUT, "-o MODEL is required (or --dry-run)");
        goto cleanup;
    }
    int ranks = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    if (ranks > 1) {
        st = ldm_error(LDM_EINPUT, "init runs as one process, not under mpirun (%d ranks)", ranks);
        goto cleanup;
    }
    LDM_CHECK(ldm_init_plan_read(a.config, &plan));
    print_plan(&plan);
    if (!a.dry_run)
        LDM_CHECK(write_model(&a, &plan));
cleanup:
    ldm_init_plan_free(&plan);
    return st;
}
