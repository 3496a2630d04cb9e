/* timers.h — per-process counters of where the time goes (layer types and
 * communication kinds), read by `ldm txt2img --timings FILE.csv`.
 *
 * Kernels (src/kernels) add one entry per call at their entry points; the
 * collectives in mpi/ add their seconds and the payload bytes this rank
 * sent. The counters are plain process globals: add only from the thread
 * that calls the kernels (never inside an OpenMP parallel region). An add
 * costs one clock read at each end of the call (tens of nanoseconds), so
 * they are always on; nothing is printed unless a caller reads them.
 *
 * No MPI dependency: gathering the rows of all ranks is the caller's job
 * (src/cli/timings_csv.c).
 */
#ifndef LDM_CORE_TIMERS_H
#define LDM_CORE_TIMERS_H

#include <stdint.h>

typedef enum {
    LDM_T_CONV,
    LDM_T_LINEAR,
    LDM_T_NORM,
    LDM_T_ATTENTION,
    LDM_T_ELEMENTWISE,
    LDM_T_OTHER,
    LDM_T_COMM_HALO,
    LDM_T_COMM_ALLGATHER,
    LDM_T_COMM_ALLREDUCE,
    LDM_T_COMM_REDUCE_SCATTER,
    LDM_T_COMM_SENDRECV,
    LDM_T_COMM_BCAST,
    LDM_T_COMM_OTHER,
    LDM_T_COUNT
} ldm_timer_kind;

/* Totals per kind since the last reset. */
typedef struct ldm_timer_totals {
    uint64_t calls[LDM_T_COUNT];
    double seconds[LDM_T_COUNT];
    uint64_t bytes[LDM_T_COUNT];   /* payload bytes sent (communication kinds) */
} ldm_timer_totals;

/* Monotonic seconds (CLOCK_MONOTONIC). */
double ldm_timer_now(void);

/* One call of kind k that took `seconds` and sent `bytes` (0 for compute).
 * Out-of-range kinds count as LDM_T_OTHER. */
void ldm_timer_add(ldm_timer_kind k, double seconds, uint64_t bytes);

/* More seconds for a call already counted (e.g. the wait of a halo exchange
 * begun earlier: begin counts the call and its bytes, end adds its wait). */
void ldm_timer_extend(ldm_timer_kind k, double seconds);

void ldm_timer_snapshot(ldm_timer_totals *out);
void ldm_timer_reset(void);

/* The CSV names: "conv", "linear", …, "halo", "allgather", …, "other";
 * *category "compute" or "comm". */
const char *ldm_timer_name(ldm_timer_kind k, const char **category);

#endif
