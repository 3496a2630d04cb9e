/* safetensors_write.h — writing a .safetensors file (format: io/safetensors.h).
 *
 * The writer declares every tensor up front (name, dtype, shape), so the
 * header — and with it each tensor's data_offsets — is known before any data:
 *
 *   bytes [0, 8)      N, little-endian u64
 *   bytes [8, 8+N)    {"__metadata__":{...},"<name>":{"dtype":"F32","shape":[..],
 *                      "data_offsets":[b,e]},...}  compact JSON, padded with
 *                     spaces so that 8 + N is a multiple of 8
 *   bytes [8+N, S)    the data, tensor after tensor
 *
 * Tensors are laid out in the reference writer's order (Python safetensors
 * 0.4+/0.8: dtype by descending size class — I64, F64, F32, I32, BF16, F16,
 * I16, I8, U8, BOOL — then name, bytewise), with the header listing them in
 * that order after "__metadata__", so the same tensors give the same bytes
 * as safetensors.torch.save_file.
 *
 * Data is then streamed in pieces of any size (ldm_safetensors_writer_write),
 * so a 3.5 GB tensor set is never held in memory. The bytes go to a temporary
 * file next to the target ("<path>.tmp-XXXXXX"), which finish flushes, syncs
 * and renames onto the target; on any failure (a full disk, a short write)
 * the temporary file is removed, so the target is either the complete new
 * file or untouched. Errors name the target file: LDM_EINPUT for a bad
 * declaration (duplicate or empty name, "__metadata__", negative dimension,
 * size overflow) or a folder that cannot be written to, LDM_ERUNTIME for
 * a failed write ("<path>: write failed: No space left on device").
 */
#ifndef LDM_IO_SAFETENSORS_WRITE_H
#define LDM_IO_SAFETENSORS_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/dtype.h"

/* One tensor to write. `name` is borrowed until open returns. */
typedef struct ldm_safetensors_decl {
    const char *name;
    ldm_dtype dtype;
    int ndim;                      /* 0 (a scalar) .. LDM_MAX_DIMS */
    int64_t shape[LDM_MAX_DIMS];
} ldm_safetensors_decl;

typedef struct ldm_safetensors_writer ldm_safetensors_writer;

/* Create the temporary file next to `path` and write the header for
 * tensors[0..n). `metadata` is NULL or a NULL-terminated list of key, value
 * string pairs for "__metadata__" (transformers wants {"format": "pt"}). */
ldm_status ldm_safetensors_writer_open(const char *path, const ldm_safetensors_decl *tensors,
                                       int n, const char *const *metadata,
                                       ldm_safetensors_writer **out);

/* Append `bytes` of tensor data (little-endian, C order), tensor after
 * tensor in file order (ask ldm_safetensors_writer_tensor which comes
 * next). Pieces may cross tensor boundaries; writing more than the declared
 * total is LDM_EINPUT. After a failure the writer only accepts abort. */
ldm_status ldm_safetensors_writer_write(ldm_safetensors_writer *w, const void *data,
                                        size_t bytes);

/* The declaration index of the tensor the next byte belongs to (n when all
 * are done), and how many of its bytes are still due: callers generate data
 * tensor by tensor in this order. */
int ldm_safetensors_writer_tensor(const ldm_safetensors_writer *w, uint64_t *bytes_left);

/* Check that every declared byte was written, flush, fsync, close and
 * rename the temporary file onto the target. The writer is freed and *w
 * nulled whether or not this succeeds (on failure the temporary file is
 * removed). */
ldm_status ldm_safetensors_writer_finish(ldm_safetensors_writer **w);

/* Give up: close and remove the temporary file, free, null the handle.
 * NULL is fine. */
void ldm_safetensors_writer_abort(ldm_safetensors_writer **w);

/* Bytes of the whole file open would write for these tensors (header and
 * data), for disk-space checks; LDM_EINPUT as open for a bad declaration. */
ldm_status ldm_safetensors_file_size(const ldm_safetensors_decl *tensors, int n,
                                     const char *const *metadata, uint64_t *bytes);

/* Write tensors[0..n) whose data are in memory (data[i]: the bytes of
 * tensor i) in one call: open, write each, finish. */
ldm_status ldm_safetensors_write_file(const char *path, const ldm_safetensors_decl *tensors,
                                      const void *const *data, int n,
                                      const char *const *metadata);

#endif
