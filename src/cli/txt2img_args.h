/* txt2img_args.h — the flags of `ldm txt2img`, named as in diffusers
 * (num_inference_steps → --steps, guidance_scale → --guidance-scale). */
#ifndef LDM_CLI_TXT2IMG_ARGS_H
#define LDM_CLI_TXT2IMG_ARGS_H

#include "core/status.h"
#include "mpi/grid.h"
#include "options.h"

typedef struct ldm_txt2img_args {
    ldm_string_list prompts;      /* --prompt (repeatable) */
    const char *prompt_file;      /* --prompt-file: one prompt per line */
    const char *negative_prompt;  /* --negative-prompt (our extension) */
    long long steps;              /* --steps (num_inference_steps) */
    double guidance_scale;        /* --guidance-scale */
    double eta;                   /* --eta */
    unsigned long long seed;      /* --seed: torch.Generator().manual_seed(seed) */
    unsigned long long noise_seed;/* --noise-seed: torch.manual_seed(), DDIM's eta noise */
    long long height, width;      /* --height/--width: 0 = the model's default */
    const char *scheduler;        /* --scheduler ddim|pndm|lms; NULL = the folder's */
    long long images_per_prompt;  /* --num-images-per-prompt */
    const char *output;           /* -o */
    const char *model;            /* --model */
    const char *latents;          /* --latents FILE.npy */
    long long threads;            /* --threads: 0 = this rank's share of the cores */
    const char *checkpoint;       /* --checkpoint RUN.h5: run through a run file */
    long long checkpoint_every;   /* --checkpoint-every K */
    int force;                    /* --force: overwrite the run file */
    int timings;                  /* --timings [FILE.csv] given */
    const char *timings_csv;      /* its FILE.csv, or NULL: the human summary only */
    const char *save_latents;     /* --save-latents FILE.npy: final latents [B, C, h, w] */
    const char *groups_flag;      /* --groups G (as given; parsed into grid) */
    const char *grid_flag;        /* --grid PcxPs */
    int cfg_parallel;             /* --cfg-parallel */
    ldm_grid_options grid;        /* the three flags above, parsed (mpi/grid.h) */
    int dry_run;                  /* --dry-run */
    int help;
    char *prompt_file_text;       /* owned: contents of --prompt-file */
} ldm_txt2img_args;

/* The MPI layout flags (NULL / 0 = not given) → grid options; errors name
 * the flag. Shared by txt2img, sweep and info. */
ldm_status ldm_txt2img_grid_flags(const char *groups, const char *grid, int cfg_parallel,
                                  ldm_grid_options *out);

/* Parse and validate; on --help prints the help and sets args->help. */
ldm_status ldm_txt2img_args_parse(int argc, char **argv, ldm_txt2img_args *args);
void ldm_txt2img_args_free(ldm_txt2img_args *args);

#endif
