#include "sample/sweep_spec.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "io/config.h"

static const char *const known_fields[] = {
    "name", "prompts", "prompt_file", "seeds", "guidance_scales", "steps", "etas", "sizes",
    "negative_prompt", "scheduler", "noise_seed", NULL,
};

/* A field that is a number or a non-empty list of numbers → malloc'd array. */
static ldm_status number_list(const char *file, const cJSON *root, const char *key, int required,
                              double def, double **vals, int *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    *vals = NULL;
    *n = 0;
    if (!v || cJSON_IsNull(v)) {
        if (required)
            return ldm_error(LDM_EINPUT, "%s: \"%s\" is required", file, key);
        ldm_status st = ldm_alloc(sizeof(double), key, (void **)vals);
        if (st == LDM_OK) {
            (*vals)[0] = def;
            *n = 1;
        }
        return st;
    }
    int count = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 1;
    if (!cJSON_IsArray(v) && !cJSON_IsNumber(v))
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be a number or a list of numbers", file, key);
    if (count == 0)
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must not be an empty list", file, key);
    ldm_status st = ldm_alloc(sizeof(double) * (size_t)count, key, (void **)vals);
    if (st != LDM_OK)
        return st;
    for (int i = 0; i < count; i++) {
        const cJSON *e = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, i) : v;
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble)) {
            ldm_free(*vals);
            *vals = NULL;
            return ldm_error(LDM_EINPUT, "%s: \"%s\"[%d] must be a number", file, key, i);
        }
        (*vals)[i] = e->valuedouble;
    }
    *n = count;
    return LDM_OK;
}

/* Every value an integer in [lo, hi]. */
static ldm_status check_ints(const char *file, const char *key, const double *v, int n, double lo,
                             double hi)
{
    for (int i = 0; i < n; i++)
        if (v[i] != floor(v[i]) || v[i] < lo || v[i] > hi)
            return ldm_error(LDM_EINPUT, "%s: \"%s\"[%d] must be an integer from %.0f to %.0f, got %g",
                             file, key, i, lo, hi, v[i]);
    return LDM_OK;
}

static ldm_status check_range(const char *file, const char *key, const double *v, int n, double lo,
                              double hi)
{
    for (int i = 0; i < n; i++)
        if (v[i] < lo || v[i] > hi)
            return ldm_error(LDM_EINPUT, "%s: \"%s\"[%d] must be from %g to %g, got %g", file, key,
                             i, lo, hi, v[i]);
    return LDM_OK;
}

/* "sizes": [[h, w], …] → sizes[2k], sizes[2k+1]; absent → one 0x0. */
static ldm_status parse_sizes(const char *file, const cJSON *root, int **sizes, int *n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "sizes");
    int count = (!v || cJSON_IsNull(v)) ? 1 : cJSON_GetArraySize(v);
    *sizes = NULL;
    *n = 0;
    if (v && !cJSON_IsNull(v) && !cJSON_IsArray(v))
        return ldm_error(LDM_EINPUT, "%s: \"sizes\" must be a list of [height, width] pairs", file);
    if (count == 0)
        return ldm_error(LDM_EINPUT, "%s: \"sizes\" must not be an empty list", file);
    ldm_status st = ldm_calloc((size_t)count * 2 * sizeof(int), "sizes", (void **)sizes);
    if (st != LDM_OK || !v || cJSON_IsNull(v)) {
        *n = st == LDM_OK ? 1 : 0;
        return st;
    }
    for (int i = 0; i < count; i++) {
        const cJSON *pair = cJSON_GetArrayItem(v, i);
        if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2) {
            st = ldm_error(LDM_EINPUT, "%s: \"sizes\"[%d] must be a [height, width] pair", file, i);
            break;
        }
        for (int k = 0; k < 2 && st == LDM_OK; k++) {
            const cJSON *e = cJSON_GetArrayItem(pair, k);
            double d = cJSON_IsNumber(e) ? e->valuedouble : -1;
            if (d != floor(d) || d < 8 || d > 16384 || (long)d % 8 != 0)
                st = ldm_error(LDM_EINPUT, "%s: \"sizes\"[%d] %s must be a multiple of 8 from 8 to 16384",
                               file, i, k == 0 ? "height" : "width");
            else
                (*sizes)[2 * i + k] = (int)d;
        }
        if (st != LDM_OK)
            break;
    }
    if (st != LDM_OK) {
        ldm_free(*sizes);
        *sizes = NULL;
        return st;
    }
    *n = count;
    return LDM_OK;
}

static ldm_status copy_string(const char *file, const cJSON *root, const char *key, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return LDM_OK;
    if (!cJSON_IsString(v))
        return ldm_error(LDM_EINPUT, "%s: \"%s\" must be a string", file, key);
    return ldm_strdup(v->valuestring, out);
}

static ldm_status add_prompt(ldm_sweep_spec *s, const char *text, int cap)
{
    if (s->n_prompts >= cap)
        return ldm_error(LDM_ERUNTIME, "sweep spec: prompt table overflow");
    return ldm_strdup(text, &s->prompts[s->n_prompts++]);
}

/* "prompts": [...] or "prompt_file": "FILE" (exactly one of them). */
static ldm_status parse_prompts(const char *file, const char *dir, const cJSON *root,
                                ldm_sweep_spec *s)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "prompts");
    const cJSON *pf = cJSON_GetObjectItemCaseSensitive(root, "prompt_file");
    char *path = NULL, *text = NULL;
    ldm_status st = LDM_OK;
    if (list && pf)
        return ldm_error(LDM_EINPUT, "%s: give \"prompts\" or \"prompt_file\", not both", file);
    if (!list && !pf)
        return ldm_error(LDM_EINPUT, "%s: \"prompts\" is required (or \"prompt_file\")", file);
    if (list) {
        if (!cJSON_IsArray(list) && !cJSON_IsString(list))
            return ldm_error(LDM_EINPUT, "%s: \"prompts\" must be a list of strings", file);
        int n = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 1;
        if (n == 0)
            return ldm_error(LDM_EINPUT, "%s: \"prompts\" must not be an empty list", file);
        LDM_CHECK(ldm_calloc((size_t)n * sizeof(char *), "prompts", (void **)&s->prompts));
        for (int i = 0; i < n; i++) {
            const cJSON *e = cJSON_IsArray(list) ? cJSON_GetArrayItem(list, i) : list;
            if (!cJSON_IsString(e)) {
                st = ldm_error(LDM_EINPUT, "%s: \"prompts\"[%d] must be a string", file, i);
                goto cleanup;
            }
            LDM_CHECK(add_prompt(s, e->valuestring, n));
        }
        return LDM_OK;
    }
    if (!cJSON_IsString(pf) || !pf->valuestring[0])
        return ldm_error(LDM_EINPUT, "%s: \"prompt_file\" must be a file name", file);
    if (pf->valuestring[0] == '/' || !dir)
        LDM_CHECK(ldm_strdup(pf->valuestring, &path));
    else
        LDM_CHECK(ldm_path_join(dir, pf->valuestring, &path));
    st = ldm_read_file(path, &text, NULL);
    if (st != LDM_OK) {
        ldm_error_context("%s: \"prompt_file\": ", file);
        goto cleanup;
    }
    int lines = 1;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    LDM_CHECK(ldm_calloc((size_t)lines * sizeof(char *), "prompts", (void **)&s->prompts));
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\r')
            line[n - 1] = '\0';
        if (line[0])
            LDM_CHECK(add_prompt(s, line, lines));
    }
    if (s->n_prompts == 0)
        st = ldm_error(LDM_EINPUT, "%s: \"prompt_file\" %s has no prompts", file, path);
cleanup:
    ldm_free(path);
    ldm_free(text);
    return st;
}

static ldm_status check_fields(const char *file, const cJSON *root)
{
    for (const cJSON *e = root->child; e; e = e->next) {
        int ok = 0;
        for (const char *const *k = known_fields; *k && !ok; k++)
            ok = strcmp(*k, e->string) == 0;
        if (!ok)
            return ldm_error(LDM_EINPUT, "%s: unknown field \"%s\"", file, e->string);
    }
    return LDM_OK;
}

static ldm_status expand(const char *file, ldm_sweep_spec *s, const double *seeds, int ns,
                         const double *gs, int ng, const double *steps, int nt, const double *etas,
                         int ne, const int *sizes, int nz)
{
    double total = (double)s->n_prompts * ns * ng * nt * ne * nz;
    if (total > LDM_SWEEP_MAX_ITEMS)
        return ldm_error(LDM_EINPUT, "%s: %.0f items, more than %d", file, total, LDM_SWEEP_MAX_ITEMS);
    ldm_status st = ldm_calloc((size_t)total * sizeof(ldm_sweep_item), "sweep items", (void **)&s->items);
    if (st != LDM_OK)
        return st;
    int64_t k = 0;
    for (int p = 0; p < s->n_prompts; p++)
        for (int a = 0; a < ns; a++)
            for (int g = 0; g < ng; g++)
                for (int t = 0; t < nt; t++)
                    for (int e = 0; e < ne; e++)
                        for (int z = 0; z < nz; z++)
                            s->items[k++] = (ldm_sweep_item){
                                .prompt = s->prompts[p], .prompt_index = p,
                                .seed = (uint64_t)seeds[a], .guidance_scale = gs[g],
                                .steps = (int)steps[t], .eta = etas[e],
                                .height = sizes[2 * z], .width = sizes[2 * z + 1],
                            };
    s->n_items = k;
    return LDM_OK;
}

ldm_status ldm_sweep_spec_parse(const char *file, const char *dir, const char *text, size_t len,
                                ldm_sweep_spec *out)
{
    ldm_config cfg = { 0 };
    ldm_sweep_spec s = { 0 };
    double *seeds = NULL, *gs = NULL, *steps = NULL, *etas = NULL, *nseed = NULL;
    int *sizes = NULL, ns, ng, nt, ne, nz, nn;
    memset(out, 0, sizeof *out);
    ldm_status st = ldm_config_parse(file, text, len, &cfg);
    if (st != LDM_OK)
        return st;
    const cJSON *root = cfg.root;
    LDM_CHECK(check_fields(file, root));
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!name) {
        st = ldm_error(LDM_EINPUT, "%s: \"name\" is required", file);
        goto cleanup;
    }
    if (!cJSON_IsString(name) || !name->valuestring[0]) {
        st = ldm_error(LDM_EINPUT, "%s: \"name\" must be a non-empty string", file);
        goto cleanup;
    }
    LDM_CHECK(ldm_strdup(name->valuestring, &s.name));
    LDM_CHECK(parse_prompts(file, dir, root, &s));
    LDM_CHECK(number_list(file, root, "seeds", 1, 0, &seeds, &ns));
    LDM_CHECK(check_ints(file, "seeds", seeds, ns, 0, 9007199254740992.0)); /* 2^53: exact in JSON */
    LDM_CHECK(number_list(file, root, "guidance_scales", 0, 1.0, &gs, &ng));
    LDM_CHECK(check_range(file, "guidance_scales", gs, ng, 0, 100));
    LDM_CHECK(number_list(file, root, "steps", 1, 0, &steps, &nt));
    LDM_CHECK(check_ints(file, "steps", steps, nt, 1, 1000));
    LDM_CHECK(number_list(file, root, "etas", 0, 0.0, &etas, &ne));
    LDM_CHECK(check_range(file, "etas", etas, ne, 0, 1));
    LDM_CHECK(parse_sizes(file, root, &sizes, &nz));
    LDM_CHECK(copy_string(file, root, "negative_prompt", &s.negative_prompt));
    LDM_CHECK(copy_string(file, root, "scheduler", &s.scheduler));
    if (s.scheduler && strcmp(s.scheduler, "ddim") != 0 && strcmp(s.scheduler, "pndm") != 0 &&
        strcmp(s.scheduler, "lms") != 0) {
        st = ldm_error(LDM_EINPUT, "%s: \"scheduler\" must be ddim, pndm or lms, got \"%s\"", file,
                       s.scheduler);
        goto cleanup;
    }
    LDM_CHECK(number_list(file, root, "noise_seed", 0, 67280421310721.0, &nseed, &nn));
    if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(root, "noise_seed"))) {
        st = ldm_error(LDM_EINPUT, "%s: \"noise_seed\" must be one integer", file);
        goto cleanup;
    }
    LDM_CHECK(check_ints(file, "noise_seed", nseed, 1, 0, 9007199254740992.0));
    s.noise_seed = (uint64_t)nseed[0];
    LDM_CHECK(expand(file, &s, seeds, ns, gs, ng, steps, nt, etas, ne, sizes, nz));
    *out = s;
    memset(&s, 0, sizeof s);
cleanup:
    ldm_free(seeds);
    ldm_free(gs);
    ldm_free(steps);
    ldm_free(etas);
    ldm_free(nseed);
    ldm_free(sizes);
    ldm_sweep_spec_free(&s);
    ldm_config_free(&cfg);
    return st;
}

ldm_status ldm_sweep_spec_load(const char *path, ldm_sweep_spec *out)
{
    char *text = NULL, *dir = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    ldm_status st = ldm_read_file(path, &text, &len);
    if (st != LDM_OK)
        return st;
    LDM_CHECK(ldm_strdup(path, &dir));
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    st = ldm_sweep_spec_parse(path, slash ? dir : NULL, text, len, out);
cleanup:
    ldm_free(dir);
    ldm_free(text);
    return st;
}

void ldm_sweep_spec_free(ldm_sweep_spec *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_prompts; i++)
        ldm_free(s->prompts[i]);
    ldm_free(s->prompts);
    ldm_free(s->items);
    ldm_free(s->name);
    ldm_free(s->negative_prompt);
    ldm_free(s->scheduler);
    memset(s, 0, sizeof *s);
}
