#include "timers.h"

#include <string.h>
#include <time.h>

static ldm_timer_totals totals;

double ldm_timer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ldm_timer_add(ldm_timer_kind k, double seconds, uint64_t bytes)
{
    if ((int)k < 0 || k >= LDM_T_COUNT)
        k = LDM_T_OTHER;
    totals.calls[k]++;
    totals.seconds[k] += seconds;
    totals.bytes[k] += bytes;
}

void ldm_timer_extend(ldm_timer_kind k, double seconds)
{
    if ((int)k < 0 || k >= LDM_T_COUNT)
        k = LDM_T_OTHER;
    totals.seconds[k] += seconds;
}

void ldm_timer_snapshot(ldm_timer_totals *out)
{
    *out = totals;
}

void ldm_timer_reset(void)
{
    memset(&totals, 0, sizeof totals);
}

const char *ldm_timer_name(ldm_timer_kind k, const char **category)
{
    static const char *names[LDM_T_COUNT] = {
        "conv", "linear", "norm", "attention", "elementwise", "other",
        "halo", "allgather", "allreduce", "reduce_scatter", "sendrecv", "bcast", "other",
    };
    if ((int)k < 0 || k >= LDM_T_COUNT)
        k = LDM_T_OTHER;
    if (category)
        *category = k < LDM_T_COMM_HALO ? "compute" : "comm";
    return names[k];
}
