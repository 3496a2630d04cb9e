/* weights.h — the tensors of one model component, over one or several files.
 *
 * A component's weights are one file (`diffusion_pytorch_model.safetensors`,
 * `model.safetensors`, `diffusion_pytorch_model.bin`, `pytorch_model.bin`) or
 * a sharded checkpoint: an index `<name>.index.json` whose "weight_map" maps
 * each tensor name to the shard file that holds it. An ldm_weights opens all
 * of them and indexes every tensor by name; no tensor data is read until a
 * model asks for it, and then only the bytes it asks for (read_rows), so a
 * rank reads just the slice it owns.
 *
 * Names are state-dict keys exactly as torch wrote them ("down_blocks.0.
 * resnets.0.conv1.weight"). Errors name the file (for shards: the shard and
 * the index) and the tensor.
 *
 * Threads: safetensors files are read with pread (no shared cursor), so
 * several threads may read them through one ldm_weights at once; a PyTorch
 * .bin handle keeps one libzip position (io/torch_bin.h), so for .bin files
 * open one ldm_weights per thread.
 */
#ifndef LDM_IO_WEIGHTS_H
#define LDM_IO_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/weight_file.h"

typedef struct ldm_weights ldm_weights;

/* The file names looked for in a component folder, in diffusers' order of
 * preference (safetensors before PyTorch .bin when both exist); NULL-ended. */
extern const char *const ldm_weights_file_names[];

/* The weight file (or shard index) that ldm_weights_open_dir would open in
 * `dir`. `*path` is from ldm_alloc. Error (naming the folder and the names
 * looked for) when there is none. */
ldm_status ldm_weights_resolve_dir(const char *dir, char **path);

/* Open the weights of a component folder (see ldm_weights_resolve_dir). */
ldm_status ldm_weights_open_dir(const char *dir, ldm_weights **out);

/* Open one weights file, or a shard index (a path ending in ".index.json"),
 * whose shards are looked for next to it. The format is chosen by the name:
 * *.safetensors, or *.bin / *.pt / *.pth / *.ckpt (PyTorch zip); any other
 * name by its first bytes. */
ldm_status ldm_weights_open_path(const char *path, ldm_weights **out);

/* Open several weight files as one set (no index): a name in two files is
 * an error naming both. */
ldm_status ldm_weights_open_files(const char *const *paths, int n, ldm_weights **out);

/* Build a set from files already open (any reader, or a test's own).
 * Takes ownership of files[0..n) and sets them to NULL, whether or not it
 * succeeds; the array itself stays the caller's. */
ldm_status ldm_weights_from_files(ldm_weight_file **files, int n, ldm_weights **out);

/* Close every file; NULL is fine; nulls the handle. */
void ldm_weights_close(ldm_weights **w);

/* What the set was opened from (the folder's chosen file, the index, or the
 * first file), for messages. */
const char *ldm_weights_source(const ldm_weights *w);

/* Number of tensors, and the i-th (files in order, each in its file's
 * order). `*file` (may be NULL) gets the file that holds it. */
int ldm_weights_count(const ldm_weights *w);
const ldm_tensor_entry *ldm_weights_at(const ldm_weights *w, int i, const ldm_weight_file **file);

/* The tensor called `name`, or NULL. */
const ldm_tensor_entry *ldm_weights_find(const ldm_weights *w, const char *name,
                                         const ldm_weight_file **file);

/* Check that `name` exists, has a float dtype (F32/F16/BF16/F64) and, when
 * expect_shape is not NULL, exactly the shape expect_shape[0..ndim). Errors:
 * missing tensor, wrong dtype, shape mismatch (naming both shapes). */
ldm_status ldm_weights_check_shape(const ldm_weights *w, const char *name,
                                   const int64_t *expect_shape, int ndim);

/* Read a whole tensor as fp32 into dst (numel floats), converting F16, BF16
 * and F64 and gathering non-contiguous (strided) tensors. expect_shape: as
 * in ldm_weights_check_shape (NULL: no shape check). */
ldm_status ldm_weights_read_f32(const ldm_weights *w, const char *name,
                                const int64_t *expect_shape, int ndim, float *dst);

/* Read rows [row0, row0 + nrows) along the first dimension as fp32 into dst
 * (nrows * numel/shape[0] floats), reading from the file only those rows'
 * bytes (for a strided tensor: only the span they cover). */
ldm_status ldm_weights_read_rows_f32(const ldm_weights *w, const char *name, int64_t row0,
                                     int64_t nrows, float *dst);

/* Read the block rows [row0, row0 + nrows) × columns [col0, col0 + ncols)
 * of a 2-D tensor as fp32: block row i goes to dst + i·ld (ld >= ncols).
 * Reads from the file only what the layout allows: for a row-major tensor
 * (every safetensors tensor, most .bin ones) one read of ncols elements per
 * row; for other strides (a transposed .bin view) the span the block
 * covers, which for a transposed weight is exactly its columns. Never the
 * whole tensor unless the block is the whole tensor. Errors (LDM_EINPUT,
 * naming the file and the tensor): missing, not 2-D, a range outside the
 * shape, ld < ncols. */
ldm_status ldm_weights_read_block_f32(const ldm_weights *w, const char *name, int64_t row0,
                                      int64_t nrows, int64_t col0, int64_t ncols, float *dst,
                                      int64_t ld);

/* Columns [col0, col0 + ncols) of every row of a 2-D tensor [rows, cols]:
 * dst [rows, ncols] (ldm_weights_read_block_f32 over all rows). What a
 * rank reads for an input-channel split (LDMBert's out_proj and fc2). */
ldm_status ldm_weights_read_cols_f32(const ldm_weights *w, const char *name, int64_t col0,
                                     int64_t ncols, float *dst);

/* A tensor [d0, d1, …] seen as the matrix [d0, d1·d2·…]: columns
 * [col0, col0 + ncols) of every row into dst [d0, ncols]. What a rank reads
 * for the input-channel split of a convolution weight [c_out, c_in, kh, kw]
 * (col0 = k0·kh·kw). When the trailing dimensions are row-major (every
 * safetensors tensor, most .bin ones) one read of ncols elements per row;
 * otherwise one row at a time, keeping the columns. A 2-D tensor is
 * ldm_weights_read_cols_f32. Errors as there (a 0- or 1-D tensor, a range
 * outside the d1·d2·… columns). */
ldm_status ldm_weights_read_inner_f32(const ldm_weights *w, const char *name, int64_t col0,
                                      int64_t ncols, float *dst);

/* What a module expects: a name and its shape; ndim < 0 accepts the tensor
 * with any shape (a tensor the file carries but the model does not use,
 * such as LDMBert's to_logits). */
typedef struct ldm_weight_spec {
    const char *name;
    int ndim;
    int64_t shape[LDM_MAX_DIMS];
} ldm_weight_spec;

/* Check the set against the module's list: each spec present with its shape
 * and a float dtype, and no tensor in the files that no spec names. The
 * first problem is the error: "<file>: tensor \"x\" is missing", "<file>:
 * unexpected tensor \"x\" (the model has no such parameter)", "<file>:
 * tensor \"x\" has shape [3, 4], expected [4, 3]". */
ldm_status ldm_weights_check(const ldm_weights *w, const ldm_weight_spec *specs, int n);

#endif
