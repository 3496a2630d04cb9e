/* commands.h — the subcommands of `ldm`. Each takes the whole argv (its own
 * flags start at argv[2]) and returns a status; only main() turns a status
 * into an exit code. */
#ifndef LDM_CLI_COMMANDS_H
#define LDM_CLI_COMMANDS_H

#include "core/status.h"

ldm_status ldm_cmd_info(int argc, char **argv);
ldm_status ldm_cmd_init(int argc, char **argv);
ldm_status ldm_cmd_txt2img(int argc, char **argv);
ldm_status ldm_cmd_sweep(int argc, char **argv);
ldm_status ldm_cmd_resume(int argc, char **argv);
ldm_status ldm_cmd_status(int argc, char **argv);
ldm_status ldm_cmd_export(int argc, char **argv);

/* The model folder used when --model is not given: $LDM_MODEL, else the
 * model shipped in the source tree. */
const char *ldm_default_model(void);

/* argv joined with spaces (for run-file attributes); *out from ldm_alloc. */
ldm_status ldm_cli_command_line(int argc, char **argv, char **out);

/* Set this rank's kernel threads (see runtime.c); returns the count. */
int ldm_cli_setup_threads(long long requested);

#endif
