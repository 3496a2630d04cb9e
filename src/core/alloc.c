#include "alloc.h"

#include <stdlib.h>
#include <string.h>

enum { ALIGNMENT = 64 };

static long fail_countdown;

void ldm_alloc_fail_after(long n)
{
    fail_countdown = n;
}

ldm_status ldm_mul_size(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b) {
        *out = 0;
        return ldm_error(LDM_EINPUT, "size overflow: %zu x %zu", a, b);
    }
    *out = a * b;
    return LDM_OK;
}

ldm_status ldm_alloc(size_t bytes, const char *what, void **out)
{
    *out = NULL;
    if (fail_countdown > 0 && --fail_countdown == 0)
        return ldm_error(LDM_ERUNTIME, "out of memory allocating %zu bytes for %s (injected)",
                         bytes, what);
    /* aligned_alloc needs a size that is a multiple of the alignment. */
    size_t rounded = (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    if (rounded < bytes)
        return ldm_error(LDM_ERUNTIME, "allocation of %zu bytes for %s overflows", bytes, what);
    if (rounded == 0)
        rounded = ALIGNMENT;
    void *p = aligned_alloc(ALIGNMENT, rounded);
    if (!p)
        return ldm_error(LDM_ERUNTIME, "out of memory allocating %zu bytes for %s", bytes, what);
    *out = p;
    return LDM_OK;
}

ldm_status ldm_calloc(size_t bytes, const char *what, void **out)
{
    ldm_status st = ldm_alloc(bytes, what, out);
    if (st == LDM_OK)
        memset(*out, 0, bytes);
    return st;
}

void ldm_free(void *p)
{
    free(p);
}

ldm_status ldm_strdup(const char *s, char **out)
{
    size_t n = strlen(s) + 1;
    ldm_status st = ldm_alloc(n, "string", (void **)out);
    if (st == LDM_OK)
        memcpy(*out, s, n);
    return st;
}
