/* options.h — a table-driven command-line parser for `ldm <command>`.
 *
 * Each command describes its flags once (name, kind, destination, bounds,
 * help); parsing, validation and `--help` text all come from that table, so
 * every bad flag gets the same kind of message naming it:
 *   ldm txt2img: --steps: expected an integer from 1 to 1000, got "abc"
 */
#ifndef LDM_CLI_OPTIONS_H
#define LDM_CLI_OPTIONS_H

#include "core/status.h"

typedef enum ldm_option_kind {
    LDM_OPT_FLAG,        /* --flag: sets an int to 1 */
    LDM_OPT_STRING,      /* --name VALUE: a const char * (borrowed from argv) */
    LDM_OPT_STRING_LIST, /* repeatable --name VALUE: appended to a list */
    LDM_OPT_INT,         /* long long within [min, max] */
    LDM_OPT_DOUBLE,      /* double within [min, max] */
    LDM_OPT_UINT64,      /* unsigned 64-bit (seeds) */
    LDM_OPT_OPTIONAL     /* --name [VALUE]: a const char *; the next argument is its
                            value unless it starts with '-' (or --name=VALUE); the
                            option's `seen` says whether the flag was given at all */
} ldm_option_kind;

enum { LDM_STRING_LIST_CAP = 256 };

typedef struct ldm_string_list {
    const char *items[LDM_STRING_LIST_CAP]; /* borrowed from argv */
    int count;
} ldm_string_list;

typedef struct ldm_option {
    const char *name;      /* "--steps" */
    const char *alias;     /* "-o" or NULL */
    ldm_option_kind kind;
    void *dest;            /* int*, const char**, ldm_string_list*, long long*, double*, unsigned long long* */
    double min, max;       /* for INT and DOUBLE */
    const char *metavar;   /* "N", "FILE", … */
    const char *help;
    int *seen;             /* optional: set to 1 when given */
} ldm_option;

/* Parse argv[first..argc) against `opts` (terminated by a zero entry).
 * Positional arguments go to `positional` (may be NULL: then they are an
 * error). `--help` sets *help and stops. Errors name the command and flag. */
ldm_status ldm_options_parse(const char *command, const ldm_option *opts, int argc, char **argv,
                             int first, ldm_string_list *positional, int *help);

/* Print "usage" + one line per option to stdout. */
void ldm_options_print_help(const char *command, const char *usage, const char *summary,
                            const ldm_option *opts);

#endif
