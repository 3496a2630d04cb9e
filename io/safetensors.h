/* safetensors.h — the safetensors weight format (huggingface/safetensors).
 *
 * Layout of a file of S bytes:
 *
 *   bytes [0, 8)        N, a little-endian u64: the header length
 *   bytes [8, 8+N)      the header: UTF-8 JSON, an object
 *                         { "<tensor name>": { "dtype": "F32",
 *                                              "shape": [d0, d1, ...],
 *                                              "data_offsets": [begin, end] },
 *                           ...,
 *                           "__metadata__": { "<key>": "<string>", ... } }
 *                       padded with spaces (the writer aligns the data to 8)
 *   bytes [8+N, S)      the data: each tensor's bytes, C order, little-endian,
 *                       at [8+N+begin, 8+N+end)
 *
 * Checks, those of the reference reader (Rust `SafeTensors::read_metadata`
 * and `Metadata::validate`) plus a few it leaves to serde:
 *   - S >= 8; N <= 100,000,000 (LDM_SAFETENSORS_MAX_HEADER); 8 + N <= S;
 *   - the header is valid UTF-8, starts with '{', is one JSON object followed
 *     only by whitespace, and has no "\u0000" in any string;
 *   - each tensor has a known dtype (F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL;
 *     others are rejected by name), a shape of at most LDM_MAX_DIMS
 *     non-negative integers, data_offsets of exactly two integers;
 *     `__metadata__`, if present, maps strings to strings; no name twice;
 *   - sorted by begin, the tensors tile the data exactly: the first begins at
 *     0, each begins where the previous ended, none ends before it begins,
 *     and the last ends at S - 8 - N (so a truncated file is caught here);
 *   - product(shape) * dtype size, computed without overflow, is end - begin.
 * Every error names the file and, where there is one, the tensor.
 */
#ifndef LDM_IO_SAFETENSORS_H
#define LDM_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/weight_file.h"

enum { LDM_SAFETENSORS_MAX_HEADER = 100000000 };

/* Open a .safetensors file: validate it and build its index. The file stays
 * open (its descriptor is read with pread, so reads may come from several
 * threads). Entries are in data order; storage 0 is the whole file. */
ldm_status ldm_safetensors_open(const char *path, ldm_weight_file **out);

/* Parse and validate a header held in memory. `header_len` is N, the header's
 * length; `data_bytes` is S - 8 - N. Entry offsets are file offsets
 * (8 + N + begin) and storage_bytes is the file size 8 + N + data_bytes.
 * `name` is used in messages. On success `*entries` (free with
 * ldm_safetensors_entries_free) holds `*count` entries in data order; on
 * failure nothing is left allocated. */
ldm_status ldm_safetensors_parse_header(const char *name, const unsigned char *header_json,
                                        size_t header_len, uint64_t data_bytes,
                                        ldm_tensor_entry **entries, int *count);

/* Parse a whole file held in memory (8-byte length, header, data): the
 * checks of ldm_safetensors_open without any I/O. For fuzzing and tests. */
ldm_status ldm_safetensors_parse(const char *name, const unsigned char *file, size_t file_len,
                                 ldm_tensor_entry **entries, int *count);

void ldm_safetensors_entries_free(ldm_tensor_entry *entries, int count);

#endif
