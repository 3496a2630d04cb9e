#include "arena.h"

#include <string.h>
#include <unistd.h>

#include "alloc.h"

enum { ARENA_ALIGN = 64 };

ldm_status ldm_arena_create(ldm_arena *a, size_t bytes, const char *what)
{
    memset(a, 0, sizeof *a);
    void *p = NULL;
    ldm_status st = ldm_alloc(bytes, what, &p);
    if (st != LDM_OK)
        return st;
    /* Pre-fault: write one byte per page so the first step pays no faults. */
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        page = 4096;
    for (size_t off = 0; off < bytes; off += (size_t)page)
        ((volatile unsigned char *)p)[off] = 0;
    a->base = p;
    a->size = bytes;
    return LDM_OK;
}

void ldm_arena_init_measure(ldm_arena *a)
{
    memset(a, 0, sizeof *a);
    a->size = SIZE_MAX;
    a->measuring = 1;
}

void ldm_arena_destroy(ldm_arena *a)
{
    if (!a)
        return;
    ldm_free(a->base);
    memset(a, 0, sizeof *a);
}

ldm_status ldm_arena_push(ldm_arena *a, size_t bytes, const char *what, void **out)
{
    *out = NULL;
    size_t rounded = (bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (rounded < bytes || a->size - a->used < rounded)
        return ldm_error(LDM_ERUNTIME, "activation arena too small for %s (%zu bytes, %zu of %zu used)",
                         what, bytes, a->used, a->size);
    if (!a->measuring)
        *out = a->base + a->used;
    a->used += rounded;
    if (a->used > a->peak)
        a->peak = a->used;
    return LDM_OK;
}

ldm_status ldm_arena_push_f32(ldm_arena *a, int64_t count, const char *what, float **out)
{
    size_t bytes;
    ldm_status st = ldm_mul_size((size_t)(count < 0 ? 0 : count), sizeof(float), &bytes);
    if (st != LDM_OK)
        return st;
    return ldm_arena_push(a, bytes, what, (void **)out);
}
