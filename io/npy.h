/* npy.h — NumPy .npy files: float arrays in, float32 arrays out.
 *
 * Used for user-supplied latents (`--latents x.npy`, as diffusers' slow test
 * feeds numpy.random.RandomState(0).standard_normal((1,4,32,32))) and for
 * dumping tensors while debugging.
 *
 * The format (numpy/lib/format.py):
 *   "\x93NUMPY", major, minor (1.0, 2.0 or 3.0),
 *   header length: uint16 LE (1.0) or uint32 LE (2.0, 3.0),
 *   header: a Python dict literal with exactly the keys 'descr',
 *   'fortran_order' and 'shape', padded with spaces, ending in '\n'
 *   (ASCII; UTF-8 in 3.0), e.g. {'descr': '<f4', 'fortran_order': False,
 *   'shape': (1, 4, 32, 32), }
 *   then the raw elements.
 * Read: descr '<f4' or '<f8' (converted to float32 by rounding), C order
 * only, at most LDM_MAX_DIMS dimensions, and the data must fill the rest of
 * the file exactly. Anything else is LDM_EINPUT naming the file and what is
 * wrong with it. Write: float32, format 1.0, header padded to 64 bytes as
 * numpy does.
 */
#ifndef LDM_IO_NPY_H
#define LDM_IO_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/dtype.h"

typedef struct ldm_npy {
    int ndim;                    /* 0 for a 0-d array (one element) */
    int64_t shape[LDM_MAX_DIMS];
    int64_t numel;               /* product of shape (1 when ndim == 0) */
    float *data;                 /* owned (ldm_alloc): numel values, C order */
} ldm_npy;

/* Read a .npy file. On failure `out` is empty (data NULL). */
ldm_status ldm_npy_read(const char *path, ldm_npy *out);

/* The same from bytes in memory; `name` is used in messages. */
ldm_status ldm_npy_parse(const char *name, const void *bytes, size_t len, ldm_npy *out);

/* Free the data and zero the struct; NULL is fine. */
void ldm_npy_free(ldm_npy *a);

/* Write `data` ([shape...], C order) as a float32 .npy file. ndim may be 0.
 * Written to a temporary file in the same directory, then renamed, so the
 * path never holds a partial file. Errors (LDM_ERUNTIME) name the path. */
ldm_status ldm_npy_write_f32(const char *path, const float *data, int ndim,
                             const int64_t *shape);

#endif
