/* cmd_txt2img.c — `ldm txt2img`: flags → pipeline request → PNG files with
 * the metadata that says how to make each image again. */
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "commands.h"
#include "core/alloc.h"
#include "core/timers.h"
#include "io/npy.h"
#include "io/png.h"
#include "mpi/agree.h"
#include "mpi/util.h"
#include "run_layout.h"
#include "sample/pipeline.h"
#include "timings_csv.h"
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

/* COLLECTIVE on world (every rank calls it, whatever it holds). Each group's leader holds its entries [e0, e1) of
 * `per` bytes each in `mine`; world rank 0 receives all B in `all`. */
static ldm_status gather_entries(const ldm_run_layout *rl, const void *mine, void *all,
                                 int64_t per, int64_t count)
{
    ldm_status st = LDM_OK;
    int size = rl->grid->layout.world, rank = rl->grid->rank;
    int *counts = NULL, *displs = NULL, total = 0, send = 0;
    LDM_CHECK(ldm_mpi_count((size_t)(per * count), &total));
    LDM_CHECK(ldm_alloc(sizeof(int) * (size_t)size, "gather counts", (void **)&counts));
    LDM_CHECK(ldm_alloc(sizeof(int) * (size_t)size, "gather displacements", (void **)&displs));
    for (int r = 0; r < size; r++) {
        int64_t e0, e1;
        ldm_run_layout_entries(rl, r, count, &e0, &e1);
        counts[r] = (int)(per * (e1 - e0));
        displs[r] = (int)(per * e0);
    }
    send = counts[rank];
cleanup:
    st = ldm_mpi_agree(MPI_COMM_WORLD, st);
    if (st == LDM_OK) {
        const double t0 = ldm_timer_now();
        st = ldm_mpi_check(MPI_Gatherv(mine, send, MPI_BYTE, all, counts, displs, MPI_BYTE, 0,
                                       MPI_COMM_WORLD),
                           "txt2img: gathering the images: MPI_Gatherv");
        ldm_timer_add(LDM_T_COMM_OTHER, ldm_timer_now() - t0, (uint64_t)send);
    }
    ldm_free(counts);
    ldm_free(displs);
    return st;
}

static void print_summary(const ldm_txt2img_timings *tm, int threads)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr,
            "timings: load %.3f s, text encoder %.3f s, UNet %.3f s (%.3f s/step), "
            "scheduler %.3f s, decoder %.3f s, total %.3f s, peak memory %.1f MB, %d threads\n",
            tm->load, tm->text_encoder, tm->unet_total, tm->steps ? tm->unet_total / tm->steps : 0.0,
            tm->scheduler_total, tm->decoder, tm->total, (double)ru.ru_maxrss / 1024.0, threads);
}

/* This rank's part of the batch: the pipeline on its group's entries; the
 * group leader's images (and latents) gathered to world rank 0. */
static ldm_status run_parallel(ldm_pipeline *p, ldm_txt2img_request *req, const ldm_run_layout *rl, int count, int h, int w,
                               uint8_t *images, int want_latents, float *latents,
                               int64_t lat_per, ldm_txt2img_timings *tm)
{
    ldm_status st = LDM_OK;
    uint8_t *my_images = NULL;
    float *my_latents = NULL;
    int tty = isatty(STDERR_FILENO);
    /* Ranks of a group all run; only the leader's result is sent. */
    int64_t g0, g1;
    ldm_mpi_partition(count, rl->grid->layout.groups, rl->grid->group, 1, &g0, &g1);
    if (g1 > g0) {
        size_t img = (size_t)h * (size_t)w * 3;
        st = ldm_alloc(img * (size_t)(g1 - g0), "group images", (void **)&my_images);
        if (st == LDM_OK && want_latents)
            st = ldm_alloc(sizeof(float) * (size_t)(lat_per * (g1 - g0)), "group latents",
                           (void **)&my_latents);
        if (st == LDM_OK) {
            req->entry_begin = g0;
            req->entry_end = g1;
            req->parallel = &rl->parallel;
            ldm_txt2img_output out = { .images = my_images, .final_latents = my_latents };
            st = ldm_pipeline_txt2img(p, req, rl->grid->rank == 0 ? progress : NULL, &tty, &out);
            *tm = out.timings;
        }
    }
    /* Everyone agrees before the gathers: a failed group stops all. */
    LDM_CHECK(ldm_mpi_agree(MPI_COMM_WORLD, st));
    LDM_CHECK(gather_entries(rl, my_images, images, (int64_t)h * w * 3, count));
    if (want_latents)
        LDM_CHECK(gather_entries(rl, my_latents, latents, lat_per * (int64_t)sizeof(float), count));
cleanup:
    ldm_free(my_images);
    ldm_free(my_latents);
    return st;
}

ldm_status ldm_cmd_txt2img(int argc, char **argv)
{
    ldm_txt2img_args a;
    ldm_pipeline *p = NULL;
    ldm_npy lat = { 0 };
    ldm_run_layout rl = { 0 };
    uint8_t *images = NULL;
    float *latents = NULL;
    char *cmdline = NULL;
    int rank = 0;
    ldm_txt2img_timings tm = { 0 };
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    ldm_status st = ldm_txt2img_args_parse(argc, argv, &a);
    if (st != LDM_OK || a.help)
        goto cleanup;
    int threads = ldm_cli_setup_threads(a.threads);
    /* Every rank opens the folder; the same input fails on all of them. */
    st = ldm_pipeline_open(a.model, &p);
    if (st == LDM_OK && a.latents) {
        st = ldm_npy_read(a.latents, &lat);
        if (st != LDM_OK)
            ldm_error_context("--latents: ");
    }
    LDM_CHECK(ldm_mpi_agree(MPI_COMM_WORLD, st));
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
    /* The process layout: flags, model sizes, world size (same on all ranks). */
    LDM_CHECK(ldm_run_layout_create(p, &a.grid, count, a.guidance_scale != 1.0, (int)a.height,
                                    (int)a.width, &rl));
    if (a.dry_run) {
        if (rank == 0) {
            printf("model %s\n%d image(s) of %dx%d, %lld steps, scheduler %s, guidance %g, eta %g, seed %llu\n",
                   a.model, count, w, h, a.steps, ldm_pipeline_scheduler_name(p, a.scheduler),
                   a.guidance_scale, a.eta, a.seed);
            ldm_run_layout_print(&rl, stdout);
        }
        goto cleanup;
    }
    int dh, dw;
    ldm_pipeline_default_size(p, &dh, &dw);
    int64_t lh = (a.height ? a.height : dh) / 8, lw = (a.width ? a.width : dw) / 8;
    int64_t lat_per = 0;
    if (rank == 0)
        st = ldm_alloc((size_t)count * h * w * 3, "images", (void **)&images);
    LDM_CHECK(ldm_mpi_agree(MPI_COMM_WORLD, st));
    ldm_timer_reset();
    if (a.checkpoint) {
        LDM_CHECK(ldm_cli_command_line(argc, argv, &cmdline));
        if (rank != 0)
            LDM_CHECK(ldm_alloc((size_t)h * w * 3, "image", (void **)&images));
        LDM_CHECK(ldm_txt2img_checkpointed(&a, p, &req, cmdline, images));
    } else {
        lat_per = ldm_pipeline_latent_channels(p) * lh * lw;
        if (a.save_latents && rank == 0)
            st = ldm_alloc(sizeof(float) * (size_t)(lat_per * count), "latents", (void **)&latents);
        LDM_CHECK(ldm_mpi_agree(MPI_COMM_WORLD, st));
        LDM_CHECK(run_parallel(p, &req, &rl, count, h, w, images, a.save_latents != NULL,
                               latents, lat_per, &tm));
    }
    ldm_timer_totals totals;
    ldm_timer_snapshot(&totals);
    /* World rank 0 writes the images (all of them: gathered from the groups). */
    if (rank == 0) {
        st = write_images(&a, p, images, count, h, w);
        if (st == LDM_OK && a.save_latents) {
            int64_t shape[4] = { count, ldm_pipeline_latent_channels(p), lh, lw };
            st = ldm_npy_write_f32(a.save_latents, latents, 4, shape);
            if (st != LDM_OK)
                ldm_error_context("--save-latents: ");
            else
                fprintf(stderr, "wrote %s\n", a.save_latents);
        }
    }
    LDM_CHECK(ldm_mpi_agree(MPI_COMM_WORLD, st));
    if (a.timings && rank == 0 && !a.checkpoint)
        print_summary(&tm, threads);
    if (a.timings_csv && !a.checkpoint) {
        const ldm_grid_layout *l = &rl.grid->layout;
        ldm_timings_run run = { .world = l->world, .groups = l->groups, .cfg = l->cfg,
                                .pc = l->pc, .ps = l->ps, .height = h, .width = w,
                                .steps = tm.steps ? tm.steps : (int)a.steps, .batch = count };
        LDM_CHECK(ldm_timings_csv_write(MPI_COMM_WORLD, a.timings_csv, &run, &tm, &totals));
        if (rank == 0)
            fprintf(stderr, "wrote %s\n", a.timings_csv);
    }
cleanup:
    ldm_run_layout_destroy(&rl);
    ldm_free(cmdline);
    ldm_free(images);
    ldm_free(latents);
    ldm_npy_free(&lat);
    ldm_pipeline_close(&p);
    ldm_txt2img_args_free(&a);
    return st;
}
