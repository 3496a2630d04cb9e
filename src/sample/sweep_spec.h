/* sweep_spec.h — a sweep spec (JSON) and the items it expands to.
 *
 * A spec names a Cartesian product of generation settings, one image per
 * item (docs/sweeps.md, examples in jobs/):
 *
 *   { "name": "shapes-grid",
 *     "prompts": ["a red circle", "a blue square"],   or "prompt_file": "p.txt"
 *     "seeds": [0, 1, 2],              a number or a non-empty list
 *     "guidance_scales": [1.0, 3.0],   idem
 *     "steps": [20],                   idem, each >= 1
 *     "etas": [0.0],                   idem, each in [0, 1]   (optional: 0)
 *     "sizes": [[64, 64]],             [height, width] pairs, multiples of 8
 *                                      (optional: the model's default, 0x0)
 *     "negative_prompt": "",           optional
 *     "scheduler": "ddim",             optional: ddim|pndm|lms (default: the model's)
 *     "noise_seed": 67280421310721 }   optional
 *
 * Item order (deterministic, the index in the run file): prompts outermost,
 * then seeds, guidance scales, steps, etas, sizes innermost:
 *   index = ((((p·S + s)·G + g)·T + t)·E + e)·Z + z
 * Every error names the spec file and the field. A prompt file's path is
 * relative to the spec's folder; its empty lines are skipped.
 */
#ifndef LDM_SAMPLE_SWEEP_SPEC_H
#define LDM_SAMPLE_SWEEP_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

enum { LDM_SWEEP_MAX_ITEMS = 1 << 20 };

typedef struct ldm_sweep_item {
    const char *prompt;  /* borrowed from the spec */
    int prompt_index;
    uint64_t seed;
    double guidance_scale;
    int steps;
    double eta;
    int height, width;   /* 0 = the model's default */
} ldm_sweep_item;

typedef struct ldm_sweep_spec {
    char *name;
    char *negative_prompt;  /* NULL = "" */
    char *scheduler;        /* NULL = the model's */
    uint64_t noise_seed;
    char **prompts;
    int n_prompts;
    ldm_sweep_item *items;  /* the Cartesian product, in the order above */
    int64_t n_items;
} ldm_sweep_spec;

/* Parse and validate the spec file at `path` (LDM_EINPUT naming the file and
 * the field on any problem; nothing is allocated then). */
ldm_status ldm_sweep_spec_load(const char *path, ldm_sweep_spec *out);
/* The same from JSON text; `name` is the file name used in messages and
 * `dir` the folder a prompt_file is relative to (NULL: the current one). */
ldm_status ldm_sweep_spec_parse(const char *name, const char *dir, const char *text, size_t len,
                                ldm_sweep_spec *out);
void ldm_sweep_spec_free(ldm_sweep_spec *s);

#endif
