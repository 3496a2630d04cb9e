/* main.c — `ldm`: dispatch to a subcommand, report its error, exit with its
 * status (0 done, 1 bad input, 2 runtime failure, 3 interrupted). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"

#ifndef LDM_SOURCE_MODEL
#define LDM_SOURCE_MODEL ""
#endif

typedef struct command {
    const char *name;
    const char *summary;
    ldm_status (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    { "txt2img", "generate images from text prompts", ldm_cmd_txt2img },
    { "sweep", "run a sweep spec (prompts × seeds × guidance × …) into an HDF5 run file", ldm_cmd_sweep },
    { "resume", "continue a sweep from its run file", ldm_cmd_resume },
    { "status", "items done / partial / pending in a run file, time left", ldm_cmd_status },
    { "export", "a run file's images as PNGs with metadata, and contact sheets", ldm_cmd_export },
    { "info", "describe a model folder: components, parameters, dtypes, scheduler", ldm_cmd_info },
    { "init", "write a model folder with random weights for a configuration", ldm_cmd_init },
    { NULL, NULL, NULL },
};

const char *ldm_default_model(void)
{
    const char *env = getenv("LDM_MODEL");
    return env && env[0] ? env : LDM_SOURCE_MODEL;
}

enum { REPORT_CAP = 1024 };

/* "rank N failed (see its message)" is what mpi/agree.h tells the ranks
 * that did not fail themselves: not worth printing when N's message is. */
static int is_echo(const char *msg)
{
    int r = 0, n = 0;
    return sscanf(msg, "rank %d failed (see its message)%n", &r, &n) == 1 && msg[n] == '\0';
}

/* COLLECTIVE on `comm` (a duplicate of the world made before the command,
 * so it cannot match a collective the command left behind). Rank 0 prints
 * each distinct error once: without a rank when every rank failed with it
 * (bad flags: the same on all ranks), else as "rank R: error: …" naming the
 * lowest rank that had it. Returns the worst status, so every rank exits
 * with the same code. */
static ldm_status report(MPI_Comm comm, const char *cmd, ldm_status st)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    char mine[REPORT_CAP] = { 0 };
    if (st != LDM_OK)
        snprintf(mine, sizeof mine, "%s", ldm_error_message());
    char *all = NULL;
    if (rank == 0 && size > 1 &&
        ldm_alloc((size_t)size * REPORT_CAP, "error messages", (void **)&all) != LDM_OK)
        all = NULL;
    /* [0] the worst status; [1] rank 0 cannot collect: each rank prints. */
    int mine_flags[2] = { (int)st, rank == 0 && size > 1 && !all }, flags[2];
    if (MPI_Allreduce(mine_flags, flags, 2, MPI_INT, MPI_MAX, comm) != MPI_SUCCESS) {
        flags[0] = (int)st;
        flags[1] = 1;
    }
    if (flags[0] == LDM_OK)
        return LDM_OK;
    if (size == 1 || flags[1]) {
        char who[32] = "";
        if (size > 1)
            snprintf(who, sizeof who, " rank %d:", rank);
        if (st != LDM_OK)
            fprintf(stderr, "ldm%s%s:%s error: %s\n", cmd ? " " : "", cmd ? cmd : "", who, mine);
        ldm_free(all);
        return (ldm_status)flags[0];
    }
    MPI_Gather(mine, REPORT_CAP, MPI_CHAR, all, REPORT_CAP, MPI_CHAR, 0, comm);
    if (rank == 0 && all) {
        int primaries = 0, same = 1;
        const char *first = NULL;
        for (int r = 0; r < size; r++) {
            const char *m = all + (size_t)r * REPORT_CAP;
            if (!m[0] || is_echo(m))
                continue;
            primaries++;
            if (!first)
                first = m;
            else if (strcmp(first, m) != 0)
                same = 0;
        }
        if (primaries == size && same) {
            fprintf(stderr, "ldm%s%s: error: %s\n", cmd ? " " : "", cmd ? cmd : "", first);
        } else {
            for (int r = 0; r < size; r++) {
                const char *m = all + (size_t)r * REPORT_CAP;
                int dup = 0;
                for (int q = 0; q < r && !dup; q++)
                    dup = strcmp(all + (size_t)q * REPORT_CAP, m) == 0;
                if (m[0] && !dup && (!is_echo(m) || primaries == 0))
                    fprintf(stderr, "ldm%s%s: rank %d: error: %s\n", cmd ? " " : "",
                            cmd ? cmd : "", r, m);
            }
        }
        fflush(stderr);
    }
    ldm_free(all);
    return (ldm_status)flags[0];
}

static void usage(FILE *to)
{
    fprintf(to, "usage: ldm <command> [options]\n\n"
                "Latent Diffusion text-to-image (diffusers' LDMTextToImagePipeline) as an MPI program.\n\n"
                "commands:\n");
    for (const command *c = commands; c->name; c++)
        fprintf(to, "  %-10s %s\n", c->name, c->summary);
    fprintf(to, "\n'ldm <command> --help' describes a command's options.\n"
                "Exit codes: 0 done, 1 bad input, 2 runtime failure, 3 stopped by a signal after a checkpoint.\n");
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    ldm_log_set_rank(rank);

    ldm_status st = LDM_OK;
    const command *c = commands;
    MPI_Comm errors = MPI_COMM_WORLD;
    if (MPI_Comm_dup(MPI_COMM_WORLD, &errors) != MPI_SUCCESS)
        errors = MPI_COMM_WORLD;
    if (argc < 2) {
        if (rank == 0)
            usage(stderr);
        st = LDM_EINPUT;
    } else if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
               strcmp(argv[1], "help") == 0) {
        if (rank == 0)
            usage(stdout);
    } else if (strcmp(argv[1], "--version") == 0) {
        if (rank == 0)
            printf("ldm %s\n", LDM_VERSION);
    } else {
        while (c->name && strcmp(c->name, argv[1]) != 0)
            c++;
        if (!c->name)
            st = ldm_error(LDM_EINPUT, "unknown command \"%s\" (see ldm --help)", argv[1]);
        else
            st = c->run(argc, argv);
        st = report(errors, c->name, st);
    }
    if (errors != MPI_COMM_WORLD)
        MPI_Comm_free(&errors);
    MPI_Finalize();
    return (int)st;
}
