/* cmd_txt2img.c — `ldm txt2img`: flags → pipeline request → PNG files with
 * the metadata that says how to make each image again. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "commands.h"
#include "core/alloc.h"
#include "io/npy.h"
#include "io/png.h"
#include "sample/pipeline.h"
#include "txt2img_args.h"
#include "txt2img_checkpointed.h"

/* Progress: a bar on a terminal, one line per step in a batch log. */
static void progress(void *ctx, int step, int total)
{
    int tty = *(int *)ctx;
    if (tty) {
        int width = 30, filled = total ? step * width / total : width;
        fprintf(stderr, "\r  [%.*s%*s] %d/%d", filled, "##############################", width - filled, "",
                step, total);
        if (step == total)
            fputc('\n', stderr);
    } else if (step > 0) {
        fprintf(stderr, "step %d/%d\n", step, total);
    }
    fflush(stderr);
}

/* out-<i>.png for several images, the name itself for one. */
static void output_name(char *buf, size_t cap, const char *output, int index, int count)
{
    if (count == 1) {
        snprintf(buf, cap, "%s", output);
        return;
    }
    size_t stem = strlen(output) - 4; /* validated: ends in .png */
    snprintf(buf, cap, "%.*s-%d.png", (int)stem, output, index);
}

static ldm_status write_images(const ldm_txt2img_args *a, const ldm_pipeline *p,
                               const uint8_t *images, int count, int h, int w)
{
    char seed[32], noise_seed[32], steps[16], guidance[32], eta[32], size[32], index[16];
    snprintf(seed, sizeof seed, "%llu", a->seed);
    snprintf(noise_seed, sizeof noise_seed, "%llu", a->noise_seed);
    snprintf(steps, sizeof steps, "%lld", a->steps);
    snprintf(guidance, sizeof guidance, "%.17g", a->guidance_scale);
    snprintf(eta, sizeof eta, "%.17g", a->eta);
    snprintf(size, sizeof size, "%dx%d", w, h);
    for (int i = 0; i < count; i++) {
        int prompt = i / (int)a->images_per_prompt;
        snprintf(index, sizeof index, "%d", i);
        ldm_png_text texts[] = {
            { "prompt", a->prompts.items[prompt] },
            { "negative_prompt", a->negative_prompt ? a->negative_prompt : "" },
            { "seed", seed },
            { "noise_seed", noise_seed },
            { "batch_index", index },
            { "steps", steps },
            { "guidance_scale", guidance },
            { "eta", eta },
            { "scheduler", ldm_pipeline_scheduler_name(p, a->scheduler) },
            { "size", size },
            { "model", a->model },
            { "latents", a->latents ? a->latents : "" },
            { "software", "ldm " LDM_VERSION },
        };
        char path[4096];
        output_name(path, sizeof path, a->output, i, count);
        ldm_status st = ldm_png_write(path, images + (size_t)i * h * w * 3, w, h, texts,
                                      (int)(sizeof texts / sizeof texts[0]));
        if (st != LDM_OK)
            return st;
        fprintf(stderr, "wrote %s\n", path);
    }
    return LDM_OK;
}

ldm_status ldm_cmd_txt2img(int argc, char **argv)
{
    ldm_txt2img_args a;
    ldm_pipeline *p = NULL;
    ldm_npy lat = { 0 };
    uint8_t *images = NULL;
    char *cmdline = NULL;
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    ldm_status st = ldm_txt2img_args_parse(argc, argv, &a);
    if (st != LDM_OK || a.help)
        goto cleanup;
    int threads = ldm_cli_setup_threads(a.threads);
    LDM_CHECK(ldm_pipeline_open(a.model, &p));
    if (a.latents) {
        st = ldm_npy_read(a.latents, &lat);
        if (st != LDM_OK) {
            ldm_error_context("--latents: ");
            goto cleanup;
        }
    }
    ldm_txt2img_request req = {
        .prompts = a.prompts.items,
        .n_prompts = a.prompts.count,
        .images_per_prompt = (int)a.images_per_prompt,
        .negative_prompt = a.negative_prompt,
        .steps = (int)a.steps,
        .guidance_scale = a.guidance_scale,
        .eta = a.eta,
        .seed = a.seed,
        .noise_seed = a.noise_seed,
        .height = (int)a.height,
        .width = (int)a.width,
        .scheduler = a.scheduler,
        .latents = a.latents ? lat.data : NULL,
        .latents_count = a.latents ? lat.numel : 0,
    };
    int count, h, w;
    LDM_CHECK(ldm_pipeline_output_shape(p, &req, &count, &h, &w));
    if (a.dry_run) {
        printf("model %s\n%d image(s) of %dx%d, %lld steps, scheduler %s, guidance %g, eta %g, seed %llu\n",
               a.model, count, w, h, a.steps, ldm_pipeline_scheduler_name(p, a.scheduler),
               a.guidance_scale, a.eta, a.seed);
        goto cleanup;
    }
    LDM_CHECK(ldm_alloc((size_t)count * h * w * 3, "images", (void **)&images));
    int tty = isatty(STDERR_FILENO);
    ldm_txt2img_output out = { .images = images };
    if (a.checkpoint) {
        LDM_CHECK(ldm_cli_command_line(argc, argv, &cmdline));
        LDM_CHECK(ldm_txt2img_checkpointed(&a, p, &req, cmdline, images));
    } else {
        LDM_CHECK(ldm_pipeline_txt2img(p, &req, rank == 0 ? progress : NULL, &tty, &out));
    }
    const ldm_txt2img_timings tm = out.timings;
    /* Every rank computed the same images (until the model split of issue
     * #5); rank 0 alone writes them. */
    if (rank == 0)
        LDM_CHECK(write_images(&a, p, images, count, h, w));
    if (a.timings && rank == 0 && !a.checkpoint) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        fprintf(stderr,
                "timings: load %.3f s, text encoder %.3f s, UNet %.3f s (%.3f s/step), "
                "scheduler %.3f s, decoder %.3f s, total %.3f s, peak memory %.1f MB, %d threads\n",
                tm.load, tm.text_encoder, tm.unet_total, tm.steps ? tm.unet_total / tm.steps : 0.0,
                tm.scheduler_total, tm.decoder, tm.total, (double)ru.ru_maxrss / 1024.0, threads);
    }
cleanup:
    ldm_free(cmdline);
    ldm_free(images);
    ldm_npy_free(&lat);
    ldm_pipeline_close(&p);
    ldm_txt2img_args_free(&a);
    return st;
}
