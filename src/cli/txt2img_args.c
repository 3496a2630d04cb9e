#include "txt2img_args.h"

#include <string.h>

#include "commands.h"
#include "core/alloc.h"
#include "core/file.h"

static const char *summary =
    "Generate images from text prompts, exactly as diffusers' LDMTextToImagePipeline does.";

ldm_status ldm_txt2img_grid_flags(const char *groups, const char *grid, int cfg_parallel,
                                  ldm_grid_options *out)
{
    ldm_status st = LDM_OK;
    ldm_grid_options_init(out);
    if (groups)
        LDM_CHECK(ldm_grid_parse_flag(out, "--groups", groups));
    if (grid)
        LDM_CHECK(ldm_grid_parse_flag(out, "--grid", grid));
    if (cfg_parallel)
        LDM_CHECK(ldm_grid_parse_flag(out, "--cfg-parallel", NULL));
cleanup:
    return st;
}

ldm_status ldm_txt2img_args_parse(int argc, char **argv, ldm_txt2img_args *a)
{
    ldm_status st = LDM_OK;
    memset(a, 0, sizeof *a);
    a->steps = 50;
    a->guidance_scale = 1.0; /* diffusers' default for this pipeline */
    a->eta = 0.0;
    a->images_per_prompt = 1;
    a->noise_seed = 67280421310721ULL; /* torch's default seed: a fresh Python process */
    a->output = "ldm.png";
    a->model = ldm_default_model();
    a->checkpoint_every = 10;

    const ldm_option opts[] = {
        { "--prompt", "-p", LDM_OPT_STRING_LIST, &a->prompts, 0, 0, "TEXT", "prompt (repeat for a batch)", NULL },
        { "--prompt-file", NULL, LDM_OPT_STRING, &a->prompt_file, 0, 0, "FILE", "prompts, one per line", NULL },
        { "--negative-prompt", NULL, LDM_OPT_STRING, &a->negative_prompt, 0, 0, "TEXT", "unconditional prompt (default \"\")", NULL },
        { "--steps", NULL, LDM_OPT_INT, &a->steps, 1, 1000, "N", "num_inference_steps (default 50)", NULL },
        { "--guidance-scale", NULL, LDM_OPT_DOUBLE, &a->guidance_scale, 0, 100, "G", "classifier-free guidance (default 1: none)", NULL },
        { "--eta", NULL, LDM_OPT_DOUBLE, &a->eta, 0, 1, "ETA", "DDIM eta (default 0)", NULL },
        { "--seed", NULL, LDM_OPT_UINT64, &a->seed, 0, 0, "S", "torch.Generator().manual_seed(S) (default 0)", NULL },
        { "--noise-seed", NULL, LDM_OPT_UINT64, &a->noise_seed, 0, 0, "S", "seed of torch's global generator, which DDIM's eta noise comes from (default 67280421310721, a fresh process)", NULL },
        { "--height", NULL, LDM_OPT_INT, &a->height, 8, 16384, "H", "image height, a multiple of 8 (default: the model's)", NULL },
        { "--width", NULL, LDM_OPT_INT, &a->width, 8, 16384, "W", "image width, a multiple of 8 (default: the model's)", NULL },
        { "--scheduler", NULL, LDM_OPT_STRING, &a->scheduler, 0, 0, "NAME", "ddim, pndm or lms (default: the model's)", NULL },
        { "--num-images-per-prompt", NULL, LDM_OPT_INT, &a->images_per_prompt, 1, 64, "N", "images per prompt (default 1)", NULL },
        { "--output", "-o", LDM_OPT_STRING, &a->output, 0, 0, "FILE.png", "output (several images: FILE-0.png, FILE-1.png, …)", NULL },
        { "--model", NULL, LDM_OPT_STRING, &a->model, 0, 0, "DIR", "diffusers model folder (default: $LDM_MODEL or the shipped model)", NULL },
        { "--latents", NULL, LDM_OPT_STRING, &a->latents, 0, 0, "FILE.npy", "initial latents instead of drawing them", NULL },
        { "--threads", NULL, LDM_OPT_INT, &a->threads, 1, 1024, "N", "threads of this rank (default: its share of the cores)", NULL },
        { "--checkpoint", NULL, LDM_OPT_STRING, &a->checkpoint, 0, 0, "RUN.h5", "checkpoint into a run file; a stopped run continues with ldm resume RUN.h5 (one image)", NULL },
        { "--checkpoint-every", NULL, LDM_OPT_INT, &a->checkpoint_every, 0, 100000, "K", "with --checkpoint: every K steps (default 10; 0: only on a signal)", NULL },
        { "--force", NULL, LDM_OPT_FLAG, &a->force, 0, 0, NULL, "with --checkpoint: overwrite an existing run file", NULL },
        { "--timings", NULL, LDM_OPT_OPTIONAL, &a->timings_csv, 0, 0, "FILE.csv", "print the time of each stage; with FILE.csv also write every rank's phases, kernels and MPI calls there", &a->timings },
        { "--save-latents", NULL, LDM_OPT_STRING, &a->save_latents, 0, 0, "FILE.npy", "also write the final latents [B, C, H/8, W/8] (before 1/scaling_factor)", NULL },
        { "--groups", NULL, LDM_OPT_STRING, &a->groups_flag, 0, 0, "G", "MPI: data-parallel groups, each making whole images (default: chosen)", NULL },
        { "--grid", NULL, LDM_OPT_STRING, &a->grid_flag, 0, 0, "PcxPs", "MPI: channel x spatial ranks inside a group (default: chosen)", NULL },
        { "--cfg-parallel", NULL, LDM_OPT_FLAG, &a->cfg_parallel, 0, 0, NULL, "MPI: the two guidance passes on separate ranks", NULL },
        { "--dry-run", NULL, LDM_OPT_FLAG, &a->dry_run, 0, 0, NULL, "validate and print the plan, generate nothing", NULL },
        { 0 },
    };
    LDM_CHECK(ldm_options_parse("txt2img", opts, argc, argv, 2, NULL, &a->help));
    if (a->help) {
        ldm_options_print_help("txt2img", "--prompt TEXT [options]", summary, opts);
        return LDM_OK;
    }
    if (a->prompt_file) {
        if (a->prompts.count > 0) {
            st = ldm_error(LDM_EINPUT, "give --prompt or --prompt-file, not both");
            goto cleanup;
        }
        st = ldm_read_file(a->prompt_file, &a->prompt_file_text, NULL);
        if (st != LDM_OK) {
            ldm_error_context("--prompt-file: ");
            goto cleanup;
        }
        for (char *line = strtok(a->prompt_file_text, "\n"); line; line = strtok(NULL, "\n")) {
            size_t n = strlen(line);
            if (n > 0 && line[n - 1] == '\r')
                line[n - 1] = '\0';
            if (line[0] == '\0')
                continue;
            if (a->prompts.count >= LDM_STRING_LIST_CAP) {
                st = ldm_error(LDM_EINPUT, "--prompt-file %s: more than %d prompts",
                               a->prompt_file, LDM_STRING_LIST_CAP);
                goto cleanup;
            }
            a->prompts.items[a->prompts.count++] = line;
        }
        if (a->prompts.count == 0) {
            st = ldm_error(LDM_EINPUT, "--prompt-file %s: no prompts in it", a->prompt_file);
            goto cleanup;
        }
    }
    if (a->prompts.count == 0) {
        st = ldm_error(LDM_EINPUT, "--prompt is required (or --prompt-file)");
        goto cleanup;
    }
    if (a->height % 8 != 0 || a->width % 8 != 0) {
        st = ldm_error(LDM_EINPUT, "--%s must be a multiple of 8, got %lld",
                       a->height % 8 != 0 ? "height" : "width",
                       a->height % 8 != 0 ? a->height : a->width);
        goto cleanup;
    }
    if (a->scheduler && strcmp(a->scheduler, "ddim") != 0 && strcmp(a->scheduler, "pndm") != 0 &&
        strcmp(a->scheduler, "lms") != 0) {
        st = ldm_error(LDM_EINPUT, "--scheduler: expected ddim, pndm or lms, got \"%s\"",
                       a->scheduler);
        goto cleanup;
    }
    size_t olen = strlen(a->output);
    if (olen < 5 || strcmp(a->output + olen - 4, ".png") != 0) {
        st = ldm_error(LDM_EINPUT, "--output must name a .png file, got \"%s\"", a->output);
        goto cleanup;
    }
    if (a->checkpoint && (a->prompts.count * a->images_per_prompt != 1 || a->latents)) {
        st = ldm_error(LDM_EINPUT, "--checkpoint runs one image without --latents "
                       "(a batch draws its latents in one call); use ldm sweep for many");
        goto cleanup;
    }
    if (a->timings_csv) {
        size_t n = strlen(a->timings_csv);
        if (n < 5 || strcmp(a->timings_csv + n - 4, ".csv") != 0) {
            st = ldm_error(LDM_EINPUT, "--timings: expected no value or a FILE.csv, got \"%s\"",
                           a->timings_csv);
            goto cleanup;
        }
    }
    if (a->save_latents) {
        size_t n = strlen(a->save_latents);
        if (n < 5 || strcmp(a->save_latents + n - 4, ".npy") != 0) {
            st = ldm_error(LDM_EINPUT, "--save-latents must name a .npy file, got \"%s\"",
                           a->save_latents);
            goto cleanup;
        }
    }
    if (a->checkpoint && a->timings_csv) {
        st = ldm_error(LDM_EINPUT, "--timings FILE.csv is not available with --checkpoint "
                       "(the run file keeps each item's timings)");
        goto cleanup;
    }
    if (a->checkpoint && (a->groups_flag || a->grid_flag || a->cfg_parallel)) {
        st = ldm_error(LDM_EINPUT, "--checkpoint runs its one image on one rank per group; "
                       "--groups, --grid and --cfg-parallel are not available with it");
        goto cleanup;
    }
    LDM_CHECK(ldm_txt2img_grid_flags(a->groups_flag, a->grid_flag, a->cfg_parallel, &a->grid));
    if (!a->model || !a->model[0]) {
        st = ldm_error(LDM_EINPUT, "no model: pass --model DIR or set LDM_MODEL");
        goto cleanup;
    }
cleanup:
    return st;
}

void ldm_txt2img_args_free(ldm_txt2img_args *a)
{
    ldm_free(a->prompt_file_text);
    a->prompt_file_text = NULL;
}
