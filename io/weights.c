#include "weights.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "io/config.h"
#include "io/safetensors.h"

#include "io/torch_bin.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "weights.c reads little-endian files into native floats: a big-endian host needs byte swaps"
#endif

typedef struct w_item {
    int file;  /* index into files */
    int entry; /* index into files[file]->tensors */
} w_item;

struct ldm_weights {
    char *source;            /* owned: what it was opened from, for messages */
    ldm_weight_file **files; /* owned, nfiles of them */
    int nfiles;
    w_item *items; /* owned, count of them */
    int count;
    int *table; /* owned: open-addressing hash of item indices, -1 empty */
    size_t table_size;
};

const char *const ldm_weights_file_names[] = {
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.safetensors.index.json",
    "model.safetensors",
    "model.safetensors.index.json",
    "diffusion_pytorch_model.bin",
    "diffusion_pytorch_model.bin.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    NULL,
};

/* ---- the name index ---- */

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static const ldm_tensor_entry *item_entry(const ldm_weights *w, int i)
{
    return &w->files[w->items[i].file]->tensors[w->items[i].entry];
}

static int find_index(const ldm_weights *w, const char *name)
{
    if (!w->table_size)
        return -1;
    size_t mask = w->table_size - 1;
    for (size_t h = (size_t)hash_name(name) & mask;; h = (h + 1) & mask) {
        int i = w->table[h];
        if (i < 0)
            return -1;
        if (strcmp(item_entry(w, i)->name, name) == 0)
            return i;
    }
}

static ldm_status build_index(ldm_weights *w)
{
    ldm_status st = LDM_OK;
    size_t total = 0, bytes;
    for (int f = 0; f < w->nfiles; f++)
        total += (size_t)w->files[f]->count;
    if (total > (size_t)(1 << 30))
        return ldm_error(LDM_EINPUT, "%s: too many tensors (%zu)", w->source, total);
    LDM_CHECK(ldm_mul_size(total + 1, sizeof *w->items, &bytes));
    LDM_CHECK(ldm_alloc(bytes, "weights index", (void **)&w->items));
    w->table_size = 16;
    while (w->table_size < 2 * total)
        w->table_size *= 2;
    LDM_CHECK(ldm_mul_size(w->table_size, sizeof *w->table, &bytes));
    LDM_CHECK(ldm_alloc(bytes, "weights index", (void **)&w->table));
    memset(w->table, 0xff, bytes); /* all -1 */
    for (int f = 0; f < w->nfiles; f++) {
        for (int k = 0; k < w->files[f]->count; k++) {
            const char *name = w->files[f]->tensors[k].name;
            int prev = find_index(w, name);
            if (prev >= 0) {
                st = ldm_error(LDM_EINPUT, "tensor \"%s\" is in both %s and %s", name,
                               w->files[w->items[prev].file]->path, w->files[f]->path);
                goto cleanup;
            }
            int i = w->count++;
            w->items[i].file = f;
            w->items[i].entry = k;
            size_t mask = w->table_size - 1, h = (size_t)hash_name(name) & mask;
            while (w->table[h] >= 0)
                h = (h + 1) & mask;
            w->table[h] = i;
        }
    }
cleanup:
    return st;
}

/* ---- opening ---- */

void ldm_weights_close(ldm_weights **wp)
{
    if (!wp || !*wp)
        return;
    ldm_weights *w = *wp;
    for (int f = 0; f < w->nfiles; f++)
        ldm_weight_file_close(&w->files[f]);
    ldm_free(w->files);
    ldm_free(w->items);
    ldm_free(w->table);
    ldm_free(w->source);
    ldm_free(w);
    *wp = NULL;
}

static ldm_status from_files(const char *source, ldm_weight_file **files, int n, ldm_weights **out)
{
    ldm_status st = LDM_OK;
    ldm_weights *w = NULL;
    *out = NULL;
    st = ldm_calloc(sizeof *w, "weights", (void **)&w);
    if (st == LDM_OK)
        st = ldm_calloc(sizeof *w->files * (size_t)(n > 0 ? n : 1), "weights", (void **)&w->files);
    if (st != LDM_OK) {
        for (int f = 0; f < n; f++)
            ldm_weight_file_close(&files[f]);
        ldm_weights_close(&w);
        return st;
    }
    for (int f = 0; f < n; f++) {
        w->files[f] = files[f];
        files[f] = NULL;
    }
    w->nfiles = n;
    LDM_CHECK(ldm_strdup(source ? source : (n > 0 ? w->files[0]->path : "(no files)"),
                         &w->source));
    LDM_CHECK(build_index(w));
    *out = w;
    w = NULL;
cleanup:
    ldm_weights_close(&w);
    return st;
}

ldm_status ldm_weights_from_files(ldm_weight_file **files, int n, ldm_weights **out)
{
    return from_files(NULL, files, n, out);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int is_torch_name(const char *path)
{
    return ends_with(path, ".bin") || ends_with(path, ".pt") || ends_with(path, ".pth") ||
           ends_with(path, ".ckpt");
}

/* A PyTorch zip starts with a local file header "PK\3\4". */
static int sniff_zip(const char *path)
{
    unsigned char magic[4] = { 0 };
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    size_t got = fread(magic, 1, 4, fp);
    fclose(fp);
    return got == 4 && memcmp(magic, "PK\3\4", 4) == 0;
}

static ldm_status open_one(const char *path, ldm_weight_file **out)
{
    *out = NULL;
    if (!ldm_is_file(path))
        return ldm_error(LDM_EINPUT, "%s: no such weights file", path);
    int torch = is_torch_name(path) || (!ends_with(path, ".safetensors") && sniff_zip(path));
    if (!torch)
        return ldm_safetensors_open(path, out);
    return ldm_torch_bin_open(path, out);
}

static ldm_status open_list(const char *source, const char *const *paths, int n,
                            ldm_weights **out)
{
    ldm_status st = LDM_OK;
    ldm_weight_file **files = NULL;
    *out = NULL;
    if (n <= 0)
        return ldm_error(LDM_EINPUT, "%s: no weight files to open", source ? source : "weights");
    LDM_CHECK(ldm_calloc(sizeof *files * (size_t)n, "weights", (void **)&files));
    for (int f = 0; f < n; f++)
        LDM_CHECK(open_one(paths[f], &files[f]));
    st = from_files(source, files, n, out);
cleanup:
    for (int f = 0; files && f < n; f++)
        ldm_weight_file_close(&files[f]);
    ldm_free(files);
    return st;
}

ldm_status ldm_weights_open_files(const char *const *paths, int n, ldm_weights **out)
{
    return open_list(NULL, paths, n, out);
}

/* A shard named in an index must be a plain file name next to the index. */
static int plain_file_name(const char *s)
{
    return s[0] != '\0' && strchr(s, '/') == NULL && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Every weight_map entry must be in the shard it names, and every tensor of
 * the shards must be listed. */
static ldm_status check_weight_map(const ldm_weights *w, const char *index, const cJSON *map)
{
    const cJSON *it;
    int listed = 0;
    cJSON_ArrayForEach(it, map)
    {
        const ldm_weight_file *f = NULL;
        listed++;
        if (!ldm_weights_find(w, it->string, &f))
            return ldm_error(LDM_EINPUT, "%s: tensor \"%s\" is listed in weight_map for %s, "
                             "which does not hold it",
                             index, it->string, it->valuestring);
        size_t lp = strlen(f->path), ls = strlen(it->valuestring);
        if (lp <= ls || f->path[lp - ls - 1] != '/' || strcmp(f->path + lp - ls, it->valuestring))
            return ldm_error(LDM_EINPUT, "%s: tensor \"%s\" is listed in weight_map for %s but "
                             "is in %s",
                             index, it->string, it->valuestring, f->path);
    }
    if (listed == w->count)
        return LDM_OK;
    for (int i = 0; i < w->count; i++) {
        const ldm_tensor_entry *e = item_entry(w, i);
        int n = 0;
        cJSON_ArrayForEach(it, map) n += strcmp(it->string, e->name) == 0;
        if (n == 0)
            return ldm_error(LDM_EINPUT, "%s: tensor \"%s\" of %s is not listed in weight_map",
                             index, e->name, w->files[w->items[i].file]->path);
        if (n > 1)
            return ldm_error(LDM_EINPUT, "%s: tensor \"%s\" is listed twice in weight_map",
                             index, e->name);
    }
    return LDM_OK;
}

static ldm_status open_index(const char *index, ldm_weights **out)
{
    ldm_status st = LDM_OK;
    ldm_config cfg = { 0 };
    const char **shards = NULL;
    char **paths = NULL;
    char *dir = NULL;
    int nshards = 0;
    *out = NULL;

    LDM_CHECK(ldm_config_load(index, &cfg));
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(cfg.root, "weight_map");
    if (!cJSON_IsObject(map) || cJSON_GetArraySize(map) == 0) {
        st = ldm_error(LDM_EINPUT, "%s: \"weight_map\" must be a non-empty object of tensor name "
                       "-> shard file name",
                       index);
        goto cleanup;
    }
    int nmap = cJSON_GetArraySize(map);
    LDM_CHECK(ldm_calloc(sizeof *shards * (size_t)nmap, "shard list", (void **)&shards));
    const cJSON *it;
    cJSON_ArrayForEach(it, map)
    {
        if (!cJSON_IsString(it) || !plain_file_name(it->valuestring)) {
            st = ldm_error(LDM_EINPUT, "%s: weight_map: tensor \"%s\" must map to a file name in "
                           "the same folder",
                           index, it->string);
            goto cleanup;
        }
        int known = 0;
        for (int s = 0; s < nshards && !known; s++)
            known = strcmp(shards[s], it->valuestring) == 0;
        if (!known)
            shards[nshards++] = it->valuestring;
    }
    /* Shards live next to the index. */
    LDM_CHECK(ldm_strdup(index, &dir));
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        strcpy(dir, ".");
    LDM_CHECK(ldm_calloc(sizeof *paths * (size_t)nshards, "shard list", (void **)&paths));
    for (int s = 0; s < nshards; s++)
        LDM_CHECK(ldm_path_join(dir, shards[s], &paths[s]));
    st = open_list(index, (const char *const *)paths, nshards, out);
    if (st != LDM_OK) {
        ldm_error_context("%s: ", index);
        goto cleanup;
    }
    st = check_weight_map(*out, index, map);
    if (st != LDM_OK)
        ldm_weights_close(out);
cleanup:
    for (int s = 0; paths && s < nshards; s++)
        ldm_free(paths[s]);
    ldm_free(paths);
    ldm_free(shards);
    ldm_free(dir);
    ldm_config_free(&cfg);
    return st;
}

ldm_status ldm_weights_open_path(const char *path, ldm_weights **out)
{
    *out = NULL;
    if (ends_with(path, ".index.json"))
        return open_index(path, out);
    return open_list(path, &path, 1, out);
}

ldm_status ldm_weights_resolve_dir(const char *dir, char **path)
{
    *path = NULL;
    if (!ldm_is_dir(dir))
        return ldm_error(LDM_EINPUT, "%s: no such folder", dir);
    for (int i = 0; ldm_weights_file_names[i]; i++) {
        char *p = NULL;
        ldm_status st = ldm_path_join(dir, ldm_weights_file_names[i], &p);
        if (st != LDM_OK)
            return st;
        if (ldm_is_file(p)) {
            *path = p;
            return LDM_OK;
        }
        ldm_free(p);
    }
    return ldm_error(LDM_EINPUT, "%s: no weights file (looked for diffusion_pytorch_model"
                     ".safetensors, model.safetensors, diffusion_pytorch_model.bin, "
                     "pytorch_model.bin and their .index.json shard indexes)",
                     dir);
}

ldm_status ldm_weights_open_dir(const char *dir, ldm_weights **out)
{
    char *path = NULL;
    *out = NULL;
    ldm_status st = ldm_weights_resolve_dir(dir, &path);
    if (st == LDM_OK)
        st = ldm_weights_open_path(path, out);
    ldm_free(path);
    return st;
}

/* ---- lookup ---- */

const char *ldm_weights_source(const ldm_weights *w)
{
    return w->source;
}

int ldm_weights_count(const ldm_weights *w)
{
    return w ? w->count : 0;
}

const ldm_tensor_entry *ldm_weights_at(const ldm_weights *w, int i, const ldm_weight_file **file)
{
    if (!w || i < 0 || i >= w->count)
        return NULL;
    if (file)
        *file = w->files[w->items[i].file];
    return item_entry(w, i);
}

const ldm_tensor_entry *ldm_weights_find(const ldm_weights *w, const char *name,
                                         const ldm_weight_file **file)
{
    int i = find_index(w, name);
    return i < 0 ? NULL : ldm_weights_at(w, i, file);
}

static void format_shape(const int64_t *shape, int ndim, char *buf, size_t cap)
{
    size_t pos = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && pos < cap; i++)
        pos += (size_t)snprintf(buf + pos, cap - pos, "%s%lld", i ? ", " : "",
                                (long long)shape[i]);
    if (pos < cap)
        snprintf(buf + pos, cap - pos, "]");
}

static ldm_status get_float(const ldm_weights *w, const char *name, const ldm_tensor_entry **e,
                            const ldm_weight_file **f)
{
    *e = ldm_weights_find(w, name, f);
    if (!*e)
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\" is missing", w->source, name);
    if (!ldm_dtype_is_float((*e)->dtype))
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\" has dtype %s, expected a float type "
                         "(F32, F16, BF16, F64)",
                         (*f)->path, name, ldm_dtype_name((*e)->dtype));
    return LDM_OK;
}

ldm_status ldm_weights_check_shape(const ldm_weights *w, const char *name,
                                   const int64_t *expect_shape, int ndim)
{
    const ldm_tensor_entry *e;
    const ldm_weight_file *f;
    ldm_status st = get_float(w, name, &e, &f);
    if (st != LDM_OK || !expect_shape)
        return st;
    int same = e->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = e->shape[i] == expect_shape[i];
    if (same)
        return LDM_OK;
    char have[200], want[200];
    format_shape(e->shape, e->ndim, have, sizeof have);
    format_shape(expect_shape, ndim < 0 ? 0 : (ndim > LDM_MAX_DIMS ? LDM_MAX_DIMS : ndim), want,
                 sizeof want);
    return ldm_error(LDM_EINPUT, "%s: tensor \"%s\" has shape %s, expected %s", f->path, name,
                     have, want);
}

ldm_status ldm_weights_check(const ldm_weights *w, const ldm_weight_spec *specs, int n)
{
    ldm_status st = LDM_OK;
    unsigned char *used = NULL;
    LDM_CHECK(ldm_calloc((size_t)w->count + 1, "weights check", (void **)&used));
    for (int s = 0; s < n; s++) {
        int i = find_index(w, specs[s].name);
        if (i < 0) {
            st = ldm_error(LDM_EINPUT, "%s: tensor \"%s\" is missing", w->source, specs[s].name);
            goto cleanup;
        }
        used[i] = 1;
        if (specs[s].ndim >= 0)
            LDM_CHECK(ldm_weights_check_shape(w, specs[s].name, specs[s].shape, specs[s].ndim));
    }
    for (int i = 0; i < w->count; i++)
        if (!used[i]) {
            st = ldm_error(LDM_EINPUT, "%s: unexpected tensor \"%s\" (the model has no such "
                           "parameter)",
                           w->files[w->items[i].file]->path, item_entry(w, i)->name);
            goto cleanup;
        }
cleanup:
    ldm_free(used);
    return st;
}

/* ---- reading ---- */

/* Read `numel` contiguous elements at byte `offset` of a storage as fp32:
 * F32 straight into dst, other types through a bounded staging buffer. */
static ldm_status read_contiguous(const ldm_weight_file *f, const ldm_tensor_entry *e,
                                  uint64_t offset, size_t numel, float *dst)
{
    ldm_status st = LDM_OK;
    size_t esize = ldm_dtype_size(e->dtype);
    if (e->dtype == LDM_DTYPE_F32)
        return f->ops->read(f, e->storage, offset, numel * esize, dst);
    enum { CHUNK = 1 << 16 }; /* elements per staging round */
    unsigned char *buf = NULL;
    size_t chunk = numel < CHUNK ? numel : CHUNK;
    LDM_CHECK(ldm_alloc(chunk * esize, e->name, (void **)&buf));
    for (size_t done = 0; done < numel; done += chunk) {
        size_t m = numel - done < chunk ? numel - done : chunk;
        LDM_CHECK(f->ops->read(f, e->storage, offset + done * esize, m * esize, buf));
        ldm_dtype_to_f32(e->dtype, buf, dst + done, m);
    }
cleanup:
    ldm_free(buf);
    return st;
}

/* Read the span a strided view covers, then gather it in C order. */
static ldm_status read_strided(const ldm_weight_file *f, const ldm_tensor_entry *e,
                               uint64_t offset, int ndim, const int64_t *shape,
                               const int64_t *stride, float *dst)
{
    ldm_status st = LDM_OK;
    unsigned char *span = NULL;
    size_t esize = ldm_dtype_size(e->dtype);
    uint64_t last = 0; /* element offset of the view's last element */
    for (int k = 0; k < ndim; k++)
        last += (uint64_t)(shape[k] - 1) * (uint64_t)stride[k];
    size_t bytes;
    LDM_CHECK(ldm_mul_size((size_t)last + 1, esize, &bytes));
    LDM_CHECK(ldm_alloc(bytes, e->name, (void **)&span));
    LDM_CHECK(f->ops->read(f, e->storage, offset, bytes, span));

    int64_t idx[LDM_MAX_DIMS] = { 0 };
    int64_t inner = shape[ndim - 1], inner_stride = stride[ndim - 1];
    for (;;) {
        uint64_t base = 0;
        for (int k = 0; k < ndim - 1; k++)
            base += (uint64_t)idx[k] * (uint64_t)stride[k];
        if (inner_stride == 1) {
            ldm_dtype_to_f32(e->dtype, span + base * esize, dst, (size_t)inner);
        } else {
            for (int64_t j = 0; j < inner; j++)
                ldm_dtype_to_f32(e->dtype, span + (base + (uint64_t)(j * inner_stride)) * esize,
                                 dst + j, 1);
        }
        dst += inner;
        int k = ndim - 2;
        while (k >= 0 && ++idx[k] == shape[k])
            idx[k--] = 0;
        if (k < 0)
            break;
    }
cleanup:
    ldm_free(span);
    return st;
}

/* Rows [row0, row0+nrows) of e (the whole tensor for a scalar). */
static ldm_status read_view(const ldm_weight_file *f, const ldm_tensor_entry *e, int64_t row0,
                            int64_t nrows, float *dst)
{
    int ndim = e->ndim;
    int64_t shape[LDM_MAX_DIMS], stride[LDM_MAX_DIMS];
    uint64_t offset = e->offset;
    size_t esize = ldm_dtype_size(e->dtype);
    if (ndim == 0)
        return read_contiguous(f, e, offset, 1, dst);
    memcpy(shape, e->shape, sizeof shape);
    memcpy(stride, e->stride, sizeof stride);
    for (int k = 0; k < ndim; k++)
        if (stride[k] < 0)
            return ldm_error(LDM_EINPUT, "%s: tensor \"%s\" has a negative stride", f->path,
                             e->name);
    shape[0] = nrows;
    offset += (uint64_t)row0 * (uint64_t)stride[0] * esize;
    uint64_t numel = 1;
    for (int k = 0; k < ndim; k++)
        numel *= (uint64_t)shape[k];
    if (numel == 0)
        return LDM_OK;
    /* C-contiguous: each stride is the product of the later sizes
     * (dimensions of size 1 may have any stride). */
    int contiguous = 1;
    int64_t expect = 1;
    for (int k = ndim - 1; k >= 0; k--) {
        if (shape[k] != 1 && stride[k] != expect)
            contiguous = 0;
        expect *= shape[k];
    }
    if (contiguous)
        return read_contiguous(f, e, offset, (size_t)numel, dst);
    return read_strided(f, e, offset, ndim, shape, stride, dst);
}

ldm_status ldm_weights_read_f32(const ldm_weights *w, const char *name,
                                const int64_t *expect_shape, int ndim, float *dst)
{
    const ldm_tensor_entry *e;
    const ldm_weight_file *f;
    ldm_status st = ldm_weights_check_shape(w, name, expect_shape, ndim);
    if (st == LDM_OK)
        st = get_float(w, name, &e, &f);
    if (st != LDM_OK)
        return st;
    st = read_view(f, e, 0, e->ndim > 0 ? e->shape[0] : 1, dst);
    if (st != LDM_OK)
        ldm_error_context("reading tensor \"%s\": ", name);
    return st;
}

ldm_status ldm_weights_read_rows_f32(const ldm_weights *w, const char *name, int64_t row0,
                                     int64_t nrows, float *dst)
{
    const ldm_tensor_entry *e;
    const ldm_weight_file *f;
    ldm_status st = get_float(w, name, &e, &f);
    if (st != LDM_OK)
        return st;
    if (e->ndim == 0)
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\" is a scalar: it has no rows", f->path,
                         name);
    if (row0 < 0 || nrows < 0 || row0 > e->shape[0] || nrows > e->shape[0] - row0)
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": rows [%lld, %lld) are outside its %lld "
                         "rows",
                         f->path, name, (long long)row0, (long long)row0 + (long long)nrows,
                         (long long)e->shape[0]);
    st = read_view(f, e, row0, nrows, dst);
    if (st != LDM_OK)
        ldm_error_context("reading tensor \"%s\": ", name);
    return st;
}

/* ---- 2-D blocks (column slices) ---- */

/* Block of a 2-D entry whose rows are strided but whose columns are not
 * contiguous (stride[1] != 1): gather the span the block covers, then copy
 * its rows to dst with ld. */
static ldm_status read_block_strided(const ldm_weight_file *f, const ldm_tensor_entry *e,
                                     uint64_t offset, int64_t nrows, int64_t ncols, float *dst,
                                     int64_t ld)
{
    ldm_status st = LDM_OK;
    float *tmp = NULL;
    const int64_t shape[2] = { nrows, ncols };
    if (ld == ncols)
        return read_strided(f, e, offset, 2, shape, e->stride, dst);
    LDM_CHECK(ldm_alloc((size_t)(nrows * ncols) * sizeof(float), e->name, (void **)&tmp));
    LDM_CHECK(read_strided(f, e, offset, 2, shape, e->stride, tmp));
    for (int64_t i = 0; i < nrows; i++)
        memcpy(dst + i * ld, tmp + i * ncols, (size_t)ncols * sizeof(float));
cleanup:
    ldm_free(tmp);
    return st;
}

ldm_status ldm_weights_read_block_f32(const ldm_weights *w, const char *name, int64_t row0,
                                      int64_t nrows, int64_t col0, int64_t ncols, float *dst,
                                      int64_t ld)
{
    const ldm_tensor_entry *e;
    const ldm_weight_file *f;
    ldm_status st = get_float(w, name, &e, &f);
    if (st != LDM_OK)
        return st;
    if (e->ndim != 2)
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\" has %d dimensions: a column slice needs "
                         "a 2-D tensor",
                         f->path, name, e->ndim);
    if (row0 < 0 || nrows < 0 || row0 > e->shape[0] || nrows > e->shape[0] - row0)
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": rows [%lld, %lld) are outside its %lld "
                         "rows",
                         f->path, name, (long long)row0, (long long)row0 + (long long)nrows,
                         (long long)e->shape[0]);
    if (col0 < 0 || ncols < 0 || col0 > e->shape[1] || ncols > e->shape[1] - col0)
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": columns [%lld, %lld) are outside its "
                         "%lld columns",
                         f->path, name, (long long)col0, (long long)col0 + (long long)ncols,
                         (long long)e->shape[1]);
    if (ld < ncols)
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": destination row stride %lld is below "
                         "the %lld columns read",
                         f->path, name, (long long)ld, (long long)ncols);
    if (e->stride[0] < 0 || e->stride[1] < 0)
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\" has a negative stride", f->path, name);
    if (nrows == 0 || ncols == 0)
        return LDM_OK;
    size_t esize = ldm_dtype_size(e->dtype);
    uint64_t base = e->offset +
                    ((uint64_t)row0 * (uint64_t)e->stride[0] +
                     (uint64_t)col0 * (uint64_t)e->stride[1]) * esize;
    if (ncols == e->shape[1] && ld == ncols)
        st = read_view(f, e, row0, nrows, dst); /* whole rows: the row-slice path */
    else if (e->stride[1] == 1 || ncols == 1)
        /* Row-major: each block row is ncols contiguous elements. */
        for (int64_t i = 0; i < nrows && st == LDM_OK; i++)
            st = read_contiguous(f, e, base + (uint64_t)i * (uint64_t)e->stride[0] * esize,
                                 (size_t)ncols, dst + i * ld);
    else
        st = read_block_strided(f, e, base, nrows, ncols, dst, ld);
    if (st != LDM_OK)
        ldm_error_context("reading tensor \"%s\": ", name);
    return st;
}

ldm_status ldm_weights_read_inner_f32(const ldm_weights *w, const char *name, int64_t col0,
                                      int64_t ncols, float *dst)
{
    const ldm_tensor_entry *e;
    const ldm_weight_file *f;
    ldm_status st = get_float(w, name, &e, &f);
    if (st != LDM_OK)
        return st;
    if (e->ndim <= 2)
        return ldm_weights_read_cols_f32(w, name, col0, ncols, dst);
    int64_t rows = e->shape[0], inner = 1, expect = 1;
    int row_major = 1;
    for (int d = e->ndim - 1; d >= 1; d--) {
        row_major &= e->shape[d] == 1 || e->stride[d] == expect;
        expect *= e->shape[d];
        inner *= e->shape[d];
    }
    if (col0 < 0 || ncols < 0 || col0 > inner || ncols > inner - col0)
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\": columns [%lld, %lld) are outside its "
                         "%lld columns (dimensions after the first, flattened)",
                         f->path, name, (long long)col0, (long long)col0 + (long long)ncols,
                         (long long)inner);
    if (e->stride[0] < 0)
        return ldm_error(LDM_EINPUT, "%s: tensor \"%s\" has a negative stride", f->path, name);
    if (rows == 0 || ncols == 0)
        return LDM_OK;
    size_t esize = ldm_dtype_size(e->dtype);
    float *row = NULL;
    if (row_major) {
        /* Each row's columns are ncols contiguous elements. */
        for (int64_t i = 0; i < rows && st == LDM_OK; i++)
            st = read_contiguous(f, e, e->offset + ((uint64_t)i * (uint64_t)e->stride[0] +
                                                    (uint64_t)col0) * esize,
                                 (size_t)ncols, dst + i * ncols);
    } else {
        /* Another layout (a permuted .bin view): whole rows, one at a time. */
        st = ldm_alloc((size_t)inner * sizeof(float), name, (void **)&row);
        for (int64_t i = 0; i < rows && st == LDM_OK; i++) {
            st = read_view(f, e, i, 1, row);
            if (st == LDM_OK)
                memcpy(dst + i * ncols, row + col0, (size_t)ncols * sizeof(float));
        }
        ldm_free(row);
    }
    if (st != LDM_OK)
        ldm_error_context("reading tensor \"%s\": ", name);
    return st;
}

ldm_status ldm_weights_read_cols_f32(const ldm_weights *w, const char *name, int64_t col0,
                                     int64_t ncols, float *dst)
{
    const ldm_tensor_entry *e = ldm_weights_find(w, name, NULL);
    int64_t rows = e && e->ndim == 2 ? e->shape[0] : 0;
    return ldm_weights_read_block_f32(w, name, 0, rows, col0, ncols, dst, ncols);
}
