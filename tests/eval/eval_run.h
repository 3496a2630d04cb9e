/* eval_run.h — the evaluator's drivers: captions files, PNG files written by
 * `ldm txt2img`, generation through the pipeline, and the printed tables.
 * Used by the ldm-eval program and by the model-quality test. */
#ifndef LDM_TESTS_EVAL_EVAL_RUN_H
#define LDM_TESTS_EVAL_EVAL_RUN_H

#include <stdint.h>
#include <stdio.h>

#include "sample/pipeline.h"
#include "shapes_eval.h"

/* Captions, each with its parse. */
typedef struct ldm_eval_captions {
    int n;
    char **text;                /* owned: n strings */
    ldm_eval_caption *parsed;   /* owned: n */
} ldm_eval_captions;

/* One caption a line (blank lines and lines starting with '#' skipped); each
 * must parse (else LDM_EINPUT naming path:line). per_kind > 0 keeps only the
 * first per_kind captions of each kind, in file order; 0 keeps all. */
ldm_status ldm_eval_captions_read(const char *path, int per_kind, ldm_eval_captions *out);
void ldm_eval_captions_free(ldm_eval_captions *c);

/* Judge a PNG: its tEXt/iTXt "prompt" is the caption. `*caption` (owned by
 * the caller, ldm_free) gets that text, `*an` the analysis (free with
 * ldm_eval_analysis_free). No "prompt", an unparsable one or a file that is
 * not a PNG: LDM_EINPUT naming the path. */
ldm_status ldm_eval_png(const char *path, char **caption, ldm_eval_caption *parsed,
                        ldm_eval_analysis *an, ldm_eval_score *score);

/* Called for each generated image, in job order, after it was judged. */
typedef void (*ldm_eval_image_fn)(void *ctx, int caption_index, uint64_t seed, const uint8_t *rgb,
                                  int width, int height, const ldm_eval_analysis *an,
                                  const ldm_eval_score *score);

typedef struct ldm_eval_gen {
    const char *model_dir;    /* the folder `p` was opened from (for unet/config.json) */
    int steps;                /* 50 in evaluate.py */
    double guidance;
    const uint64_t *seeds;    /* torch.Generator().manual_seed(s) per image */
    int n_seeds;
    const char *scheduler;    /* NULL: the folder's (as evaluate.py) */
    int batch;                /* images per pipeline call, ≥ 1 (results do not depend on it
                               * beyond float rounding) */
    int height, width;        /* 0: the model's default, as evaluate.py */
} ldm_eval_gen;

/* Generate one image per (seed, caption), seeds outer and captions inner as
 * evaluate.py orders its jobs, eta 0, each image's latents drawn from its own
 * generator seeded with its seed (diffusers with a list of generators), at
 * the model's default size unless g->height/width are set. Judges each, adds it to `tally`, calls `fn` (may
 * be NULL). */
ldm_status ldm_eval_generate(ldm_pipeline *p, const ldm_eval_gen *g, const ldm_eval_captions *caps,
                             ldm_eval_image_fn fn, void *ctx, ldm_eval_tally *tally);

/* "| guidance | kind | images | background | colour | shape | count | placement |"
 * rows: all kinds, then (per_kind != 0) each kind that has images; accuracy
 * as "%.1f%%", "-" when not judged. `label` fills the first column.
 * header != 0 prints the two header lines first. */
void ldm_eval_print_table(FILE *f, const char *label, const ldm_eval_tally *t, int header, int per_kind);

/* Mean of the overall accuracies of the attributes that were judged
 * (evaluate.py picks the best guidance by this mean). NaN if none. */
double ldm_eval_tally_mean(const ldm_eval_tally *t);

/* One line: label, the five judgments (1, 0, -), the caption, what was found. */
void ldm_eval_print_image(FILE *f, const char *label, const char *caption, const ldm_eval_analysis *an,
                          const ldm_eval_score *s);

#endif
