/* cmd_export.c — `ldm export run.h5 DIR/`: every finished item as
 * DIR/item-NNNNN.png with the metadata that makes it again (DESIGN.md §5),
 * and one contact sheet per group of items that differ only in seed and
 * guidance: DIR/sheet-NNN.png, seeds down, guidance scales across, in the
 * order they first appear in the run file. Rank 0 reads and writes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "core/alloc.h"
#include "io/png.h"
#include "io/runfile.h"
#include "mpi/agree.h"
#include "options.h"

enum { SHEET_GAP = 2, SHEET_GRAY = 128 };

/* Same group: everything but seed and guidance equal. */
static int same_group(const ldm_runfile_item *a, const ldm_runfile_item *b)
{
    return strcmp(a->prompt, b->prompt) == 0 && strcmp(a->negative_prompt, b->negative_prompt) == 0 &&
           strcmp(a->scheduler, b->scheduler) == 0 && a->steps == b->steps && a->eta == b->eta &&
           a->height == b->height && a->width == b->width && a->noise_seed == b->noise_seed;
}

static ldm_status write_item(const char *dir, const ldm_runfile_info *info, const ldm_runfile_item *it,
                             int64_t index, const uint8_t *rgb)
{
    char seed[32], noise_seed[32], steps[16], guidance[32], eta[32], size[32], item[32], path[4096];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)it->seed);
    snprintf(noise_seed, sizeof noise_seed, "%llu", (unsigned long long)it->noise_seed);
    snprintf(steps, sizeof steps, "%d", it->steps);
    snprintf(guidance, sizeof guidance, "%.17g", it->guidance_scale);
    snprintf(eta, sizeof eta, "%.17g", it->eta);
    snprintf(size, sizeof size, "%dx%d", it->width, it->height);
    snprintf(item, sizeof item, "%lld", (long long)index);
    ldm_png_text texts[] = {
        { "prompt", it->prompt },
        { "negative_prompt", it->negative_prompt },
        { "seed", seed },
        { "noise_seed", noise_seed },
        { "steps", steps },
        { "guidance_scale", guidance },
        { "eta", eta },
        { "scheduler", it->scheduler },
        { "size", size },
        { "model", info->model_identity },
        { "sweep_item", item },
        { "software", "ldm " LDM_VERSION },
    };
    snprintf(path, sizeof path, "%s/item-%05lld.png", dir, (long long)index);
    return ldm_png_write(path, rgb, it->width, it->height, texts, (int)(sizeof texts / sizeof texts[0]));
}

/* Distinct values in first-appearance order; returns the index of v. */
static int slot_of(double *vals, int *n, double v)
{
    for (int i = 0; i < *n; i++)
        if (vals[i] == v)
            return i;
    vals[*n] = v;
    return (*n)++;
}

/* One group: read its done items (rank 0), write them and their sheet. */
static ldm_status export_group(ldm_runfile *rf, const char *dir, int rank, const int64_t *members,
                               int m, int sheet_no)
{
    const ldm_runfile_info *info = ldm_runfile_get_info(rf);
    const ldm_runfile_item *first = ldm_runfile_get_item(rf, members[0]);
    size_t px = (size_t)first->height * first->width * 3;
    ldm_runfile_image *imgs = NULL;
    uint8_t *pixels = NULL, *sheet = NULL;
    double *seeds = NULL, *gs = NULL;
    int n = 0, ns = 0, ng = 0;
    ldm_status st = ldm_calloc(sizeof *imgs * (size_t)m, "images", (void **)&imgs);
    if (st == LDM_OK)
        st = ldm_alloc(px * (size_t)m, "images", (void **)&pixels);
    if (st == LDM_OK)
        st = ldm_alloc(sizeof(double) * (size_t)m, "seeds", (void **)&seeds);
    if (st == LDM_OK)
        st = ldm_alloc(sizeof(double) * (size_t)m, "guidance", (void **)&gs);
    LDM_CHECK(ldm_mpi_agree(MPI_COMM_WORLD, st));
    for (int k = 0; k < m && rank == 0; k++)
        if (ldm_runfile_get_progress(rf, members[k])->state == LDM_RUNFILE_DONE) {
            imgs[n] = (ldm_runfile_image){ .item = members[k], .rgb = pixels + px * (size_t)n,
                                           .rgb_bytes = (int64_t)px };
            n++;
        }
    LDM_CHECK(ldm_runfile_image_read(rf, imgs, n));
    if (rank != 0 || n == 0)
        goto cleanup;
    for (int k = 0; k < m; k++) {
        const ldm_runfile_item *it = ldm_runfile_get_item(rf, members[k]);
        slot_of(seeds, &ns, (double)it->seed);
        slot_of(gs, &ng, it->guidance_scale);
    }
    int H = first->height, W = first->width;
    int SW = ng * W + (ng + 1) * SHEET_GAP, SH = ns * H + (ns + 1) * SHEET_GAP;
    LDM_CHECK(ldm_alloc((size_t)SW * SH * 3, "contact sheet", (void **)&sheet));
    memset(sheet, SHEET_GRAY, (size_t)SW * SH * 3);
    for (int k = 0; k < n; k++) {
        const ldm_runfile_item *it = ldm_runfile_get_item(rf, imgs[k].item);
        LDM_CHECK(write_item(dir, info, it, imgs[k].item, imgs[k].rgb));
        int r = slot_of(seeds, &ns, (double)it->seed), c = slot_of(gs, &ng, it->guidance_scale);
        for (int y = 0; y < H; y++)
            memcpy(sheet + (((size_t)(SHEET_GAP + r * (H + SHEET_GAP) + y)) * SW + SHEET_GAP + c * (W + SHEET_GAP)) * 3,
                   imgs[k].rgb + (size_t)y * W * 3, (size_t)W * 3);
    }
    char rows[1024] = "", cols[1024] = "", steps[16], eta[32], path[4096];
    for (int i = 0; i < ns; i++)
        snprintf(rows + strlen(rows), sizeof rows - strlen(rows), "%s%.0f", i ? "," : "", seeds[i]);
    for (int i = 0; i < ng; i++)
        snprintf(cols + strlen(cols), sizeof cols - strlen(cols), "%s%g", i ? "," : "", gs[i]);
    snprintf(steps, sizeof steps, "%d", first->steps);
    snprintf(eta, sizeof eta, "%.17g", first->eta);
    ldm_png_text texts[] = {
        { "prompt", first->prompt }, { "rows_seed", rows }, { "columns_guidance_scale", cols },
        { "steps", steps }, { "eta", eta }, { "scheduler", first->scheduler },
        { "model", info->model_identity }, { "software", "ldm " LDM_VERSION },
    };
    snprintf(path, sizeof path, "%s/sheet-%03d.png", dir, sheet_no);
    LDM_CHECK(ldm_png_write(path, sheet, SW, SH, texts, (int)(sizeof texts / sizeof texts[0])));
cleanup:
    st = ldm_mpi_agree(MPI_COMM_WORLD, st);
    ldm_free(imgs);
    ldm_free(pixels);
    ldm_free(sheet);
    ldm_free(seeds);
    ldm_free(gs);
    return st;
}

ldm_status ldm_cmd_export(int argc, char **argv)
{
    ldm_string_list pos = { 0 };
    int help = 0, rank;
    ldm_runfile *rf = NULL;
    int64_t *members = NULL;
    unsigned char *grouped = NULL;
    const ldm_option opts[] = { { 0 } };
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    ldm_status st = ldm_options_parse("export", opts, argc, argv, 2, &pos, &help);
    if (st != LDM_OK)
        return st;
    if (help) {
        ldm_options_print_help("export", "RUN.h5 DIR", "Write a run file's images as PNGs and contact sheets.", opts);
        return LDM_OK;
    }
    if (pos.count != 2)
        return ldm_error(LDM_EINPUT, "expected RUN.h5 and DIR, got %d arguments", pos.count);
    const char *dir = pos.items[1];
    if (rank == 0 && mkdir(dir, 0777) != 0 && errno != EEXIST)
        st = ldm_error(LDM_EINPUT, "%s: cannot create the folder: %s", dir, strerror(errno));
    LDM_CHECK(ldm_mpi_agree(MPI_COMM_WORLD, st));
    LDM_CHECK(ldm_runfile_open(MPI_COMM_WORLD, pos.items[0], 0, NULL, &rf));
    int64_t count = ldm_runfile_get_info(rf)->count, done = 0;
    st = ldm_alloc(sizeof *members * (size_t)(count ? count : 1), "groups", (void **)&members);
    if (st == LDM_OK)
        st = ldm_calloc((size_t)(count ? count : 1), "groups", (void **)&grouped);
    LDM_CHECK(ldm_mpi_agree(MPI_COMM_WORLD, st));
    int sheet_no = 0;
    for (int64_t i = 0; i < count; i++) {
        if (grouped[i])
            continue;
        const ldm_runfile_item *head = ldm_runfile_get_item(rf, i);
        int m = 0;
        for (int64_t j = i; j < count; j++)
            if (!grouped[j] && same_group(head, ldm_runfile_get_item(rf, j))) {
                grouped[j] = 1;
                members[m++] = j;
                done += ldm_runfile_get_progress(rf, j)->state == LDM_RUNFILE_DONE;
            }
        LDM_CHECK(export_group(rf, dir, rank, members, m, sheet_no++));
    }
    if (rank == 0)
        fprintf(stderr, "exported %lld of %lld items to %s\n", (long long)done, (long long)count, dir);
cleanup:
    ldm_free(members);
    ldm_free(grouped);
    if (rf) {
        ldm_status cst = ldm_runfile_close(&rf);
        if (st == LDM_OK)
            st = cst;
    }
    return st;
}
