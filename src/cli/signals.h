/* signals.h — stop a long run cleanly: SIGTERM, SIGINT and SIGUSR1 (what
 * SLURM sends before a time limit, with --signal) only set a flag; the run
 * checks it after each denoising step, checkpoints and exits 3. */
#ifndef LDM_CLI_SIGNALS_H
#define LDM_CLI_SIGNALS_H

/* Install the handlers (idempotent). */
void ldm_signals_install(void);
/* The signal number that asked us to stop, 0 when none. */
int ldm_signals_pending(void);

#endif
