/* alloc.h — the single allocation entry point.
 *
 * Everything in ldm allocates through ldm_alloc/ldm_calloc so that tests can
 * inject failures (fail the N-th allocation) and so large buffers can be
 * aligned for SIMD kernels. Sizes are bytes (size_t).
 */
#ifndef LDM_CORE_ALLOC_H
#define LDM_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Allocate `bytes` (64-byte aligned). On failure: LDM_ERUNTIME with a message
 * naming `what`. `*out` is NULL on failure. bytes == 0 gives a valid pointer. */
ldm_status ldm_alloc(size_t bytes, const char *what, void **out);
/* Same, zero-filled. */
ldm_status ldm_calloc(size_t bytes, const char *what, void **out);
/* Free memory from ldm_alloc/ldm_calloc; NULL is fine. */
void ldm_free(void *p);

/* Multiply element count by element size, failing on overflow. */
ldm_status ldm_mul_size(size_t a, size_t b, size_t *out);

/* Fault injection for tests: the n-th allocation from now (1-based) fails;
 * 0 disables. */
void ldm_alloc_fail_after(long n);

/* Duplicate a string through ldm_alloc. */
ldm_status ldm_strdup(const char *s, char **out);

#endif
