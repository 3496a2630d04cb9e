#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ldm_option *find(const ldm_option *opts, const char *arg, const char **inline_value)
{
    *inline_value = NULL;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    for (const ldm_option *o = opts; o->name; o++) {
        if ((strlen(o->name) == len && strncmp(o->name, arg, len) == 0) ||
            (o->alias && strlen(o->alias) == len && strncmp(o->alias, arg, len) == 0)) {
            if (eq)
                *inline_value = eq + 1;
            return o;
        }
    }
    return NULL;
}

static ldm_status parse_value(const ldm_option *o, const char *v)
{
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case LDM_OPT_FLAG:
        *(int *)o->dest = 1;
        return LDM_OK;
    case LDM_OPT_STRING:
    case LDM_OPT_OPTIONAL:
        *(const char **)o->dest = v;
        return LDM_OK;
    case LDM_OPT_STRING_LIST: {
        ldm_string_list *l = o->dest;
        if (l->count >= LDM_STRING_LIST_CAP)
            return ldm_error(LDM_EINPUT, "%s: at most %d values", o->name,
                             LDM_STRING_LIST_CAP);
        l->items[l->count++] = v;
        return LDM_OK;
    }
    case LDM_OPT_INT: {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end != '\0' || (double)x < o->min || (double)x > o->max)
            return ldm_error(LDM_EINPUT, "%s: expected an integer from %.0f to %.0f, got \"%s\"",
                             o->name, o->min, o->max, v);
        *(long long *)o->dest = x;
        return LDM_OK;
    }
    case LDM_OPT_DOUBLE: {
        double x = strtod(v, &end);
        if (errno || end == v || *end != '\0' || !isfinite(x) || x < o->min || x > o->max)
            return ldm_error(LDM_EINPUT, "%s: expected a number from %g to %g, got \"%s\"",
                             o->name, o->min, o->max, v);
        *(double *)o->dest = x;
        return LDM_OK;
    }
    case LDM_OPT_UINT64: {
        if (v[0] == '-')
            end = (char *)v;
        unsigned long long x = end ? 0 : strtoull(v, &end, 10);
        if (errno || end == v || *end != '\0')
            return ldm_error(LDM_EINPUT, "%s: expected an integer from 0 to 2^64-1, got \"%s\"",
                             o->name, v);
        *(unsigned long long *)o->dest = x;
        return LDM_OK;
    }
    }
    return ldm_error(LDM_ERUNTIME, "%s: unknown option kind", o->name);
}

ldm_status ldm_options_parse(const char *command, const ldm_option *opts, int argc, char **argv,
                             int first, ldm_string_list *positional, int *help)
{
    *help = 0;
    int only_positional = 0;
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_positional && strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (!only_positional && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            *help = 1;
            return LDM_OK;
        }
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            if (!positional || positional->count >= LDM_STRING_LIST_CAP)
                return ldm_error(LDM_EINPUT, "unexpected argument \"%s\" (see ldm %s --help)",
                                 arg, command);
            positional->items[positional->count++] = arg;
            continue;
        }
        const char *inline_value;
        const ldm_option *o = find(opts, arg, &inline_value);
        if (!o)
            return ldm_error(LDM_EINPUT, "unknown option \"%s\" (see ldm %s --help)",
                             arg, command);
        const char *value = NULL;
        if (o->kind == LDM_OPT_FLAG) {
            if (inline_value)
                return ldm_error(LDM_EINPUT, "%s takes no value", o->name);
        } else if (o->kind == LDM_OPT_OPTIONAL && !inline_value) {
            if (i + 1 < argc && argv[i + 1][0] != '-')
                value = argv[++i];
        } else if (inline_value) {
            value = inline_value;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return ldm_error(LDM_EINPUT, "%s needs a value (%s)", o->name,
                             o->metavar ? o->metavar : "VALUE");
        }
        ldm_status st = parse_value(o, value);
        if (st != LDM_OK)
            return st;
        if (o->seen)
            *o->seen = 1;
    }
    return LDM_OK;
}

void ldm_options_print_help(const char *command, const char *usage, const char *summary,
                            const ldm_option *opts)
{
    printf("usage: ldm %s %s\n\n%s\n\noptions:\n", command, usage, summary);
    for (const ldm_option *o = opts; o->name; o++) {
        char left[64];
        int opt = o->kind == LDM_OPT_OPTIONAL && o->metavar;
        snprintf(left, sizeof left, "%s%s%s%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "",
                 o->name, o->metavar ? (opt ? " [" : " ") : "", o->metavar ? o->metavar : "",
                 opt ? "]" : "");
        printf("  %-28s %s\n", left, o->help);
    }
    printf("  %-28s %s\n", "-h, --help", "show this help");
}
