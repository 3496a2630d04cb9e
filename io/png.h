/* png.h — 8-bit RGB PNG files with text metadata (libpng).
 *
 * An image records how it was made (DESIGN.md §5): the caller passes
 * key/value pairs such as "prompt", "negative_prompt", "seed", "steps",
 * "guidance_scale", "eta", "scheduler", "size", "model", "ldm_version".
 * Values are UTF-8. A value that is pure ASCII goes into a tEXt chunk; any
 * other value into an uncompressed iTXt chunk (tEXt is Latin-1 only, and
 * iTXt is where PNG readers look for UTF-8), with empty language tag and
 * translated keyword. Keys must be PNG keywords: 1–79 printable ASCII
 * characters, no leading, trailing or double spaces.
 *
 * The file is written to a temporary file next to `path` and renamed over
 * it at the end, so a failure (missing directory, full disk, libpng error)
 * never leaves a partial PNG, nor destroys an older file at `path`.
 */
#ifndef LDM_IO_PNG_H
#define LDM_IO_PNG_H

#include <stdint.h>

#include "core/status.h"

typedef struct ldm_png_text {
    const char *key;   /* PNG keyword, ASCII */
    const char *value; /* UTF-8 */
} ldm_png_text;

/* Write rgb ([height, width, 3], row-major, 8 bits per sample) to `path`.
 * Bad arguments (size, key, value not UTF-8) and a missing directory are
 * LDM_EINPUT; other I/O failures LDM_ERUNTIME. Messages name the path. */
ldm_status ldm_png_write(const char *path, const uint8_t *rgb, int width, int height,
                         const ldm_png_text *texts, int ntexts);

/* Read a PNG into 8-bit RGB (palette, gray, 16-bit and alpha are converted;
 * alpha is dropped) and its text chunks in file order, all as UTF-8 (tEXt
 * and zTXt Latin-1 is converted). `*rgb` ([h, w, 3]) and `*texts` are owned
 * by the caller: free with ldm_free and ldm_png_texts_free. A file that is
 * not a valid PNG is LDM_EINPUT naming the path. Meant for tests and tools. */
ldm_status ldm_png_read(const char *path, uint8_t **rgb, int *width, int *height,
                        ldm_png_text **texts, int *ntexts);

/* Free texts from ldm_png_read (keys, values and the array); NULL is fine. */
void ldm_png_texts_free(ldm_png_text *texts, int ntexts);

#endif
