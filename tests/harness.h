/* harness.h — the tiny test harness every C test uses.
 *
 * CHECK(cond) and CHECK_CLOSE(a, b, rel) count failures and keep going; a
 * test's main returns ldm_test_finish(), which prints "N passed, N failed"
 * and returns 1 if anything failed. A test that cannot run returns 77
 * (ctest's SKIP_RETURN_CODE), never 0.
 */
#ifndef LDM_TESTS_HARNESS_H
#define LDM_TESTS_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int ldm_test_passed;
static int ldm_test_failed;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (cond) {                                                        \
            ldm_test_passed++;                                             \
        } else {                                                           \
            ldm_test_failed++;                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                  \
    } while (0)

#define CHECK_MSG(cond, ...)                                               \
    do {                                                                   \
        if (cond) {                                                        \
            ldm_test_passed++;                                             \
        } else {                                                           \
            ldm_test_failed++;                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

/* Relative closeness: |a-b| <= rel * max(|a|,|b|, tiny). */
#define CHECK_CLOSE(a, b, rel)                                             \
    do {                                                                   \
        double ca_ = (double)(a), cb_ = (double)(b);                       \
        double scale_ = fmax(fmax(fabs(ca_), fabs(cb_)), 1e-30);           \
        CHECK_MSG(fabs(ca_ - cb_) <= (rel) * scale_, "%.9g vs %.9g (rel %g)", ca_, cb_, (double)(rel)); \
    } while (0)

/* The status returned is `code` and the recorded message contains `needle`. */
#define CHECK_FAILS_WITH(expr, code, needle)                               \
    do {                                                                   \
        ldm_error_clear();                                                 \
        ldm_status cf_ = (expr);                                           \
        CHECK_MSG(cf_ == (code) && strstr(ldm_error_message(), (needle)) != NULL, \
                  "status %d (want %d), message \"%s\" (want \"%s\")", (int)cf_, (int)(code), \
                  ldm_error_message(), (needle));                          \
        ldm_error_clear();                                                 \
    } while (0)

static inline int ldm_test_finish(void)
{
    printf("%d passed, %d failed\n", ldm_test_passed, ldm_test_failed);
    return ldm_test_failed ? 1 : 0;
}

#endif
