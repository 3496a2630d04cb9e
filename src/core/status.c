#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { MESSAGE_CAP = 2048 };

static _Thread_local char message[MESSAGE_CAP];
static _Thread_local int has_message;

ldm_status ldm_error(ldm_status code, const char *fmt, ...)
{
    if (!has_message) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);
        has_message = 1;
    }
    return code;
}

void ldm_error_context(const char *fmt, ...)
{
    char prefix[MESSAGE_CAP];
    char old[MESSAGE_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, message, sizeof old);
    /* Truncation of an over-long message is acceptable. */
    size_t n = strlen(prefix);
    if (n >= sizeof message)
        n = sizeof message - 1;
    memcpy(message, prefix, n);
    size_t rest = strlen(old);
    if (rest > sizeof message - 1 - n)
        rest = sizeof message - 1 - n;
    memcpy(message + n, old, rest);
    message[n + rest] = '\0';
    has_message = 1;
}

const char *ldm_error_message(void)
{
    return has_message ? message : "";
}

void ldm_error_clear(void)
{
    message[0] = '\0';
    has_message = 0;
}
