/* Tests of src/core: the error convention and the allocator's fault seam. */
#include "core/alloc.h"
#include "core/arena.h"
#include "core/file.h"
#include "core/status.h"
#include "harness.h"

#include <stdint.h>

static ldm_status inner(void)
{
    return ldm_error(LDM_EINPUT, "unet/config.json: field \"%s\" missing", "in_channels");
}

static ldm_status outer(void)
{
    ldm_status st = inner();
    if (st != LDM_OK)
        ldm_error_context("loading model: ");
    /* A later failure does not overwrite the first cause. */
    ldm_error(LDM_ERUNTIME, "something else");
    return st;
}

int main(void)
{
    ldm_error_clear();
    CHECK(outer() == LDM_EINPUT);
    CHECK(strcmp(ldm_error_message(),
                 "loading model: unet/config.json: field \"in_channels\" missing") == 0);
    ldm_error_clear();
    CHECK(ldm_error_message()[0] == '\0');

    void *p = NULL;
    CHECK(ldm_alloc(100, "test", &p) == LDM_OK && p != NULL && ((uintptr_t)p % 64) == 0);
    ldm_free(p);
    ldm_alloc_fail_after(2);
    CHECK(ldm_alloc(10, "first", &p) == LDM_OK);
    ldm_free(p);
    CHECK_FAILS_WITH(ldm_alloc(10, "second buffer", &p), LDM_ERUNTIME, "second buffer");
    CHECK(p == NULL);
    CHECK(ldm_alloc(10, "third", &p) == LDM_OK);
    ldm_free(p);

    size_t n;
    CHECK(ldm_mul_size(SIZE_MAX / 2, 3, &n) == LDM_EINPUT);
    CHECK(ldm_mul_size(1000, 1000, &n) == LDM_OK && n == 1000000);

    char *j = NULL;
    CHECK(ldm_path_join("models/tiny", "unet", &j) == LDM_OK && strcmp(j, "models/tiny/unet") == 0);
    ldm_free(j);
    char *data = NULL;
    CHECK_FAILS_WITH(ldm_read_file("/nonexistent/x.json", &data, NULL), LDM_EINPUT, "/nonexistent/x.json");
    CHECK_FAILS_WITH(ldm_read_file("/tmp", &data, NULL), LDM_EINPUT, "/tmp: is a directory");
    /* Arena: a measuring pass sizes it, the real pass fits exactly. */
    ldm_arena m;
    ldm_arena_init_measure(&m);
    float *f = NULL;
    CHECK(ldm_arena_push_f32(&m, 10, "a", &f) == LDM_OK && f == NULL);
    size_t mark = ldm_arena_mark(&m);
    CHECK(ldm_arena_push_f32(&m, 100, "b", &f) == LDM_OK);
    ldm_arena_reset_to(&m, mark);
    CHECK(ldm_arena_push_f32(&m, 20, "c", &f) == LDM_OK);
    CHECK(m.peak == 64 + 448);
    ldm_arena a;
    CHECK(ldm_arena_create(&a, m.peak, "test arena") == LDM_OK);
    CHECK(ldm_arena_push_f32(&a, 10, "a", &f) == LDM_OK && f != NULL && ((uintptr_t)f % 64) == 0);
    mark = ldm_arena_mark(&a);
    CHECK(ldm_arena_push_f32(&a, 100, "b", &f) == LDM_OK);
    CHECK_FAILS_WITH(ldm_arena_push_f32(&a, 1, "one more", &f), LDM_ERUNTIME, "one more");
    ldm_arena_reset_to(&a, mark);
    CHECK(ldm_arena_push_f32(&a, 20, "c", &f) == LDM_OK && f != NULL);
    ldm_arena_destroy(&a);
    return ldm_test_finish();
}
