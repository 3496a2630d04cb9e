#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static int log_rank;
static ldm_log_level log_level = LDM_LOG_INFO;

void ldm_log_set_rank(int rank)
{
    log_rank = rank;
}

void ldm_log_set_level(ldm_log_level level)
{
    log_level = level;
}

void ldm_log(ldm_log_level level, const char *fmt, ...)
{
    /* Errors are printed by every rank (prefixed with it by the caller);
     * everything else by rank 0 alone. */
    if (level > log_level || (level != LDM_LOG_ERROR && log_rank != 0))
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
