/* status.h — the one error convention of ldm.
 *
 * Every function that can fail returns an ldm_status and writes its results
 * through its last parameters. The values are the process exit codes of
 * DESIGN.md §6, so src/cli can exit with the status it got.
 *
 * The first failure records a message (naming the file, field or flag);
 * callers above it may add context in front with ldm_error_context().
 * The message lives in thread-local storage: read it with ldm_error_message().
 */
#ifndef LDM_CORE_STATUS_H
#define LDM_CORE_STATUS_H

typedef enum ldm_status {
    LDM_OK = 0,
    LDM_EINPUT = 1,       /* bad input: file, field, flag, shape, prompt */
    LDM_ERUNTIME = 2,     /* runtime failure: out of memory, I/O error, MPI error */
    LDM_EINTERRUPTED = 3  /* stopped by a signal after writing a checkpoint */
} ldm_status;

/* Record a failure and return `code`. If a message is already recorded (a
 * deeper frame failed first) the new text is ignored: the first cause wins. */
ldm_status ldm_error(ldm_status code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefix context ("loading unet/config.json: ") to the recorded message. */
void ldm_error_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The recorded message, or "" when none. */
const char *ldm_error_message(void);

/* Forget the recorded message (before a new independent operation). */
void ldm_error_clear(void);

/* Check-and-jump helper for functions with one `cleanup:` label and a local
 * `ldm_status st`. */
#define LDM_CHECK(expr)                  \
    do {                                 \
        st = (expr);                     \
        if (st != LDM_OK) goto cleanup;  \
    } while (0)

#endif
