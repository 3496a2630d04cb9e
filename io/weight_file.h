/* weight_file.h — one opened weight file, whatever its format.
 *
 * A format reader (io/safetensors.c, io/torch_bin.c) only builds an index:
 * name → dtype, shape, strides, and where the bytes are (a storage and a
 * byte offset in it). Bytes are read later, on demand, through `ops->read`,
 * so a rank can read just the slices it owns. Every entry has been checked
 * by the reader: all its elements lie inside its storage.
 */
#ifndef LDM_IO_WEIGHT_FILE_H
#define LDM_IO_WEIGHT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/dtype.h"

typedef struct ldm_tensor_entry {
    char *name;                    /* owned: the state-dict key */
    ldm_dtype dtype;
    int ndim;                      /* 0 for a scalar */
    int64_t shape[LDM_MAX_DIMS];
    int64_t stride[LDM_MAX_DIMS];  /* in elements; C-contiguous for safetensors */
    int storage;                   /* format-specific: .bin zip entry index; 0 for safetensors */
    uint64_t offset;               /* byte offset of element 0 inside the storage */
    uint64_t storage_bytes;        /* size of that storage in bytes */
} ldm_tensor_entry;

typedef struct ldm_weight_file ldm_weight_file;

typedef struct ldm_weight_file_ops {
    /* Read `nbytes` at byte `offset` of storage `storage` into `dst`.
     * Errors name the file. */
    ldm_status (*read)(const ldm_weight_file *f, int storage, uint64_t offset, size_t nbytes,
                       void *dst);
    /* Free `impl` (and whatever it holds) only. */
    void (*close)(ldm_weight_file *f);
} ldm_weight_file_ops;

struct ldm_weight_file {
    char *path;                     /* owned */
    const char *format;             /* "safetensors" or "pytorch" */
    ldm_tensor_entry *tensors;      /* owned, `count` of them, in file order */
    int count;
    const ldm_weight_file_ops *ops; /* borrowed (static) */
    void *impl;                     /* owned by the format reader */
};

/* Closes the file, frees entries, nulls the handle; NULL is fine. */
void ldm_weight_file_close(ldm_weight_file **f);

/* Number of elements of an entry (product of its shape; 1 for a scalar). */
int64_t ldm_tensor_entry_numel(const ldm_tensor_entry *e);

#endif
