/* mem_weight_file.h — an in-memory ldm_weight_file for tests of io/weights:
 * tensors are views (dtype, shape, strides, offset) into one caller-owned
 * byte array, and every read is counted, so a test can check both what a
 * read returns and how many bytes it asked the "file" for. */
#ifndef LDM_TESTS_MEM_WEIGHT_FILE_H
#define LDM_TESTS_MEM_WEIGHT_FILE_H

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "harness.h"
#include "io/weights.h"

typedef struct mem_impl {
    const unsigned char *bytes;
    size_t size;
    int reads;
    size_t bytes_read;
} mem_impl;

static ldm_status mem_read(const ldm_weight_file *f, int storage, uint64_t off, size_t n,
                           void *dst)
{
    mem_impl *m = f->impl;
    if (storage != 0 || off > m->size || n > m->size - off)
        return ldm_error(LDM_EINPUT, "%s: read outside", f->path);
    memcpy(dst, m->bytes + off, n);
    m->reads++;
    m->bytes_read += n;
    return LDM_OK;
}

static void mem_close(ldm_weight_file *f)
{
    ldm_free(f->impl);
}

static const ldm_weight_file_ops mem_ops = { mem_read, mem_close };

/* A file "mem.bin" over bytes[size] with room for `capacity` tensors; *m is
 * its read counter (owned by the file). */
static ldm_weight_file *mem_file_new(const unsigned char *bytes, size_t size, int capacity,
                                     mem_impl **m)
{
    ldm_weight_file *f = NULL;
    *m = NULL;
    CHECK(ldm_calloc(sizeof *f, "test", (void **)&f) == LDM_OK);
    CHECK(ldm_calloc(sizeof **m, "test", (void **)m) == LDM_OK);
    CHECK(ldm_calloc((size_t)capacity * sizeof(ldm_tensor_entry), "test", (void **)&f->tensors) ==
          LDM_OK);
    CHECK(ldm_strdup("mem.bin", &f->path) == LDM_OK);
    f->format = "test";
    f->ops = &mem_ops;
    (*m)->bytes = bytes;
    (*m)->size = size;
    f->impl = *m;
    return f;
}

/* A tensor view; offset in bytes into the one storage (4096 bytes). */
static void add_entry(ldm_weight_file *f, const char *name, ldm_dtype t, int ndim,
                      const int64_t *shape, const int64_t *stride, uint64_t offset)
{
    ldm_tensor_entry *e = &f->tensors[f->count++];
    CHECK(ldm_strdup(name, &e->name) == LDM_OK);
    e->dtype = t;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        e->shape[i] = shape[i];
        e->stride[i] = stride[i];
    }
    e->storage = 0;
    e->offset = offset;
    e->storage_bytes = 4096;
}

#endif
