/* cmd_info.c — `ldm info --model DIR`: what a model folder holds.
 *
 * For each component: its class, and for models the parameter count, the
 * stored dtypes, the bytes of weights and the file they come from; for the
 * scheduler, its parsed class and every setting of its config; for the
 * tokenizer, the vocabulary size. Reading the folder this way also checks it:
 * a broken file fails here with the same message txt2img would give. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "info_grid.h"
#include "mpi/grid.h"
#include "io/dtype.h"
#include "io/model_folder.h"
#include "io/weights.h"
#include "options.h"
#include "sample/scheduler.h"

static void print_model(const ldm_model_folder *mf, const ldm_component *c, ldm_weights *w)
{
    int64_t params = 0;
    uint64_t bytes = 0;
    int has[LDM_DTYPE_COUNT] = { 0 };
    for (int i = 0; i < ldm_weights_count(w); i++) {
        const ldm_tensor_entry *e = ldm_weights_at(w, i, NULL);
        int64_t n = ldm_tensor_entry_numel(e);
        params += n;
        bytes += (uint64_t)n * ldm_dtype_size(e->dtype);
        has[e->dtype] = 1;
    }
    char dtypes[64] = "";
    for (int t = 0; t < LDM_DTYPE_COUNT; t++) {
        if (has[t]) {
            if (dtypes[0])
                strncat(dtypes, ",", sizeof dtypes - strlen(dtypes) - 1);
            strncat(dtypes, ldm_dtype_name((ldm_dtype)t), sizeof dtypes - strlen(dtypes) - 1);
        }
    }
    const char *file = c->weights_path;
    size_t dl = strlen(mf->dir);
    if (strncmp(file, mf->dir, dl) == 0 && file[dl] == '/')
        file += dl + 1;
    printf("  %-10s %-22s %13lld params  %-9s %9.2f MB  %d tensors  %s\n", c->name, c->class_name,
           (long long)params, dtypes, (double)bytes / 1e6, ldm_weights_count(w), file);
}

static ldm_status print_scheduler(const ldm_component *c)
{
    ldm_scheduler *s = NULL;
    ldm_status st = ldm_scheduler_from_config(&c->config, NULL, &s);
    if (st != LDM_OK)
        return st;
    printf("  %-10s %-22s", c->name, ldm_scheduler_class_name(s));
    const cJSON *it;
    cJSON_ArrayForEach(it, c->config.root)
    {
        if (it->string[0] == '_')
            continue;
        char *v = cJSON_PrintUnformatted(it);
        printf(" %s=%s", it->string, v ? v : "?");
        cJSON_free(v);
    }
    printf("\n");
    ldm_scheduler_free(&s);
    return LDM_OK;
}

static void print_tokenizer(const ldm_component *c)
{
    /* Tokens are lines of vocab.txt. */
    long lines = 0;
    FILE *f = fopen(c->vocab_path, "rb");
    if (f) {
        int ch, last = '\n';
        while ((ch = fgetc(f)) != EOF) {
            if (ch == '\n')
                lines++;
            last = ch;
        }
        if (last != '\n')
            lines++;
        fclose(f);
    }
    printf("  %-10s %-22s %13ld tokens  (vocab.txt)\n", c->name, c->class_name, lines);
}

ldm_status ldm_cmd_info(int argc, char **argv)
{
    const char *model = ldm_default_model(), *grid = NULL;
    long long height = 0, width = 0;
    int help = 0, pc = 1, ps = 1;
    const ldm_option opts[] = {
        { "--model", NULL, LDM_OPT_STRING, &model, 0, 0, "DIR", "diffusers model folder (default: $LDM_MODEL or the shipped model)", NULL },
        { "--grid", NULL, LDM_OPT_STRING, &grid, 0, 0, "PcxPs", "also print what one rank of a Pc x Ps grid holds: weight bytes, activation estimate", NULL },
        { "--height", NULL, LDM_OPT_INT, &height, 8, 16384, "H", "with --grid: image height (default: the model's)", NULL },
        { "--width", NULL, LDM_OPT_INT, &width, 8, 16384, "W", "with --grid: image width (default: the model's)", NULL },
        { 0 },
    };
    ldm_status st = ldm_options_parse("info", opts, argc, argv, 2, NULL, &help);
    if (st != LDM_OK)
        return st;
    if (help) {
        ldm_options_print_help("info", "[--model DIR]",
                               "Describe a model folder: components, classes, parameter counts, "
                               "stored dtypes, bytes, scheduler settings.",
                               opts);
        return LDM_OK;
    }
    if (grid && (st = ldm_grid_parse_shape(grid, &pc, &ps)) != LDM_OK)
        return st;
    if (height % 8 != 0 || width % 8 != 0)
        return ldm_error(LDM_EINPUT, "--%s must be a multiple of 8, got %lld",
                         height % 8 ? "height" : "width", height % 8 ? height : width);
    ldm_model_folder *mf = NULL;
    ldm_weights *w = NULL;
    LDM_CHECK(ldm_model_folder_open(model, &mf));
    printf("model %s\n  pipeline   %s (diffusers %s)\n", mf->dir,
           mf->class_name[0] ? mf->class_name : "?",
           mf->diffusers_version[0] ? mf->diffusers_version : "?");
    for (int i = 0; i < mf->count; i++) {
        const ldm_component *c = &mf->components[i];
        switch (c->kind) {
        case LDM_COMPONENT_MODEL:
            LDM_CHECK(ldm_model_folder_open_weights(mf, c->name, &w));
            print_model(mf, c, w);
            ldm_weights_close(&w);
            break;
        case LDM_COMPONENT_SCHEDULER:
            LDM_CHECK(print_scheduler(c));
            break;
        case LDM_COMPONENT_TOKENIZER:
            print_tokenizer(c);
            break;
        }
    }
    if (grid)
        LDM_CHECK(ldm_info_grid(mf, pc, ps, (int)height, (int)width));
cleanup:
    ldm_weights_close(&w);
    ldm_model_folder_close(&mf);
    return st;
}
