/* main.c — `ldm`: dispatch to a subcommand, report its error, exit with its
 * status (0 done, 1 bad input, 2 runtime failure, 3 interrupted). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
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
        if (st != LDM_OK) {
            const char *who = c->name ? c->name : "ldm";
            if (size == 1)
                fprintf(stderr, "ldm%s%s: error: %s\n", c->name ? " " : "", c->name ? who : "",
                        ldm_error_message());
            else
                fprintf(stderr, "ldm%s%s: rank %d: error: %s\n", c->name ? " " : "",
                        c->name ? who : "", rank, ldm_error_message());
        }
    }
    MPI_Finalize();
    return (int)st;
}
