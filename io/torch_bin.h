/* torch_bin.h — PyTorch `.bin` / `.pt` weight files (torch.save, zip format).
 *
 * Since torch 1.6, `torch.save(state_dict, path)` writes a zip archive:
 *
 *     <archive>/data.pkl          pickle of the state dict (see io/pickle.h)
 *     <archive>/data/<key>        one entry per storage, raw little-endian
 *                                 elements, stored (not compressed)
 *     <archive>/byteorder         "little" (absent in older files: little)
 *     <archive>/version, .format_version, .storage_alignment, .data/…  ignored
 *
 * where <archive> is the file's stem or "archive". Each tensor becomes an
 * ldm_tensor_entry whose `storage` is the zip entry index of its storage,
 * `offset` its byte offset in that entry (storage_offset × element size) and
 * `storage_bytes` the entry's size; every element reachable through its shape
 * and strides has been checked to lie inside the entry. `ops->read` seeks
 * inside the stored entry and reads only the bytes asked for.
 *
 * Rejected with LDM_EINPUT and a message naming the file (and tensor or
 * entry): the legacy pre-1.6 format, anything the restricted unpickler
 * refuses, compressed or encrypted storage entries, storages missing from
 * the archive or whose size disagrees with the pickle, big-endian data.
 *
 * A handle is not safe to read from two threads at once (libzip keeps one
 * file position per archive); open the file once per thread or rank.
 */
#ifndef LDM_IO_TORCH_BIN_H
#define LDM_IO_TORCH_BIN_H

#include <stddef.h>

#include "core/status.h"
#include "io/weight_file.h"

/* Open a torch.save zip file and index its tensors. */
ldm_status ldm_torch_bin_open(const char *path, ldm_weight_file **out);

/* The same from bytes in memory (tests, fuzzing). `data` is borrowed and must
 * outlive the handle; `name` stands for the path in messages. */
ldm_status ldm_torch_bin_open_buffer(const char *name, const void *data, size_t len,
                                     ldm_weight_file **out);

#endif
