/* arena.h — activation memory planned once, reused every step.
 *
 * A model computes its worst-case activation bytes up front, allocates one
 * arena of that size before the first step (pre-faulted: a fresh page costs
 * ~10 µs on these machines), and inside a forward pass takes buffers with
 * ldm_arena_push and gives them back with ldm_arena_reset_to (stack order).
 * Nothing is allocated inside the step loop.
 *
 *   size_t mark = ldm_arena_mark(&a);
 *   float *tmp; LDM_CHECK(ldm_arena_push_f32(&a, n, "resnet tmp", &tmp));
 *   …
 *   ldm_arena_reset_to(&a, mark);
 *
 * To size an arena, run the same sequence of pushes on a "measuring" arena
 * (ldm_arena_init_measure): pushes succeed without memory (pointers NULL)
 * and `peak` records the high-water mark.
 */
#ifndef LDM_CORE_ARENA_H
#define LDM_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct ldm_arena {
    unsigned char *base; /* owned (NULL for a measuring arena) */
    size_t size;         /* bytes available (SIZE_MAX when measuring) */
    size_t used;         /* bytes in use now */
    size_t peak;         /* high-water mark */
    int measuring;       /* 1: no memory, only count */
} ldm_arena;

/* Allocate `bytes` (64-byte aligned) and touch every page once. */
ldm_status ldm_arena_create(ldm_arena *a, size_t bytes, const char *what);
/* A measuring arena: pushes return NULL pointers and record the peak. */
void ldm_arena_init_measure(ldm_arena *a);
void ldm_arena_destroy(ldm_arena *a);

static inline size_t ldm_arena_mark(const ldm_arena *a)
{
    return a->used;
}
static inline void ldm_arena_reset_to(ldm_arena *a, size_t mark)
{
    a->used = mark;
}

/* Take `bytes` (rounded up to 64). LDM_ERUNTIME naming `what` if the arena is
 * too small (a planning bug, never a user error). */
ldm_status ldm_arena_push(ldm_arena *a, size_t bytes, const char *what, void **out);
/* Take `count` floats. */
ldm_status ldm_arena_push_f32(ldm_arena *a, int64_t count, const char *what, float **out);

#endif
