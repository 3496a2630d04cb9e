/* shapes_eval.h — the ldm-shapes evaluator: caption grammar and pixel rules,
 * ported exactly from tools/train/evaluate.py (and data.py's tables).
 *
 * An image of a caption is judged on five attributes. Rules (evaluate.py's
 * docstring, with the details its code fixes):
 *  1. Every pixel gets the nearest named colour: smallest squared RGB distance
 *     to the palette (ldm_eval_palette, data.COLOURS); ties go to the first
 *     name in palette order.
 *  2. Background = the most frequent name over the border ring: row 0, row
 *     H-1, then column 0 and column W-1 of rows 1..H-2 (252 pixels at 64×64);
 *     ties go to the first name in palette order.
 *  3. Foreground = pixels whose name is not the background's (whatever their
 *     own name: touching shapes of two colours are ONE component). Objects =
 *     its 4-connected components of at least LDM_EVAL_MIN_AREA pixels, in
 *     scan order of their first pixel, then stably sorted by area, largest
 *     first (equal areas keep scan order).
 *  4. Object colour = nearest name (rule 1) of the per-channel lower median
 *     of the component's RGB values (sorted value at index (area-1)/2).
 *  5. fill = area / (bbox width × bbox height) in double: fill < 0.64
 *     triangle, fill < 0.89 circle, else square. Centroid cx, cy = mean x, y
 *     of the component's pixels (double; image y grows downwards).
 *  6. Per caption kind (count applies to every kind, placement to pair only):
 *     single: count ok iff exactly 1 object; colour / shape ok iff there is
 *             an object and the largest one has the caption's colour / shape.
 *     count:  count ok iff exactly n objects; colour / shape ok iff there is
 *             at least one object and every object has the colour / shape.
 *     pair:   A = the largest object of colour C1, B = the largest object
 *             other than A of colour C2 (C1 may equal C2); colour ok iff both
 *             exist; shape ok iff both exist with shapes S1 / S2; placement
 *             ok iff both exist and cx_A < cx_B (left of), cx_A > cx_B (right
 *             of), cy_A < cy_B (above), cy_A > cy_B (below) — strictly;
 *             count ok iff exactly 2 objects.
 *     background ok iff rule 2 gives the caption's background.
 *  Accuracy of an attribute = right / judged over the images it applies to.
 *
 * Captions (data.caption_of), words separated by spaces, case-insensitive;
 * "a" and "an" are accepted in every article position (data.py writes
 * "on a orange background"):
 *   single: a|an C S on a|an B background
 *   count:  two|three C Ss on a|an B background         (Ss: circles, squares, triangles)
 *   pair:   a|an C1 S1 REL a|an C2 S2 on a|an B background
 *           REL: "left of", "right of", "above", "below"
 * The rules are written for 64×64 images but hold for any size.
 */
#ifndef LDM_TESTS_EVAL_SHAPES_EVAL_H
#define LDM_TESTS_EVAL_SHAPES_EVAL_H

#include <stdint.h>

#include "core/status.h"

enum {
    LDM_EVAL_COLOURS = 8,   /* data.COLOURS */
    LDM_EVAL_MIN_AREA = 30, /* evaluate.MIN_AREA */
    LDM_EVAL_MAX_SIDE = 4096
};

/* data.COLOURS in data.COLOUR_NAMES order: red, green, blue, yellow, white,
 * black, purple, orange. */
extern const uint8_t ldm_eval_palette[LDM_EVAL_COLOURS][3];

typedef enum ldm_eval_kind {
    LDM_EVAL_KIND_SINGLE = 0,
    LDM_EVAL_KIND_COUNT,
    LDM_EVAL_KIND_PAIR,
    LDM_EVAL_KINDS
} ldm_eval_kind;

typedef enum ldm_eval_shape {
    LDM_EVAL_SHAPE_CIRCLE = 0,
    LDM_EVAL_SHAPE_SQUARE,
    LDM_EVAL_SHAPE_TRIANGLE,
    LDM_EVAL_SHAPES
} ldm_eval_shape;

typedef enum ldm_eval_relation {
    LDM_EVAL_REL_NONE = 0,
    LDM_EVAL_REL_LEFT_OF,
    LDM_EVAL_REL_RIGHT_OF,
    LDM_EVAL_REL_ABOVE,
    LDM_EVAL_REL_BELOW
} ldm_eval_relation;

/* evaluate.ATTRS order. */
typedef enum ldm_eval_attr {
    LDM_EVAL_ATTR_BACKGROUND = 0,
    LDM_EVAL_ATTR_COLOUR,
    LDM_EVAL_ATTR_SHAPE,
    LDM_EVAL_ATTR_COUNT,
    LDM_EVAL_ATTR_PLACEMENT,
    LDM_EVAL_ATTRS
} ldm_eval_attr;

/* Names as data.py / evaluate.py spell them; NULL when out of range. */
const char *ldm_eval_colour_name(int colour);
const char *ldm_eval_shape_name(ldm_eval_shape s);
const char *ldm_eval_kind_name(ldm_eval_kind k);
const char *ldm_eval_attr_name(ldm_eval_attr a);
const char *ldm_eval_relation_name(ldm_eval_relation r);

/* What a caption asks for. */
typedef struct ldm_eval_caption {
    ldm_eval_kind kind;
    int background;            /* colour index */
    int count;                 /* objects asked for: single 1, count 2 or 3, pair 2 */
    int colour[2];             /* [0] the object(s) / pair's A, [1] pair's B */
    ldm_eval_shape shape[2];
    ldm_eval_relation relation; /* pair only, else LDM_EVAL_REL_NONE */
} ldm_eval_caption;

/* Parse a caption of the grammar above. Anything else is LDM_EINPUT with a
 * message quoting the caption, the word number and what was expected. */
ldm_status ldm_eval_parse_caption(const char *text, ldm_eval_caption *out);

/* Nearest named colour of one RGB value (rule 1). */
int ldm_eval_nearest_colour(int r, int g, int b);

typedef struct ldm_eval_object {
    int colour;           /* rule 4 */
    ldm_eval_shape shape; /* rule 5 */
    int64_t area;         /* pixels */
    double cx, cy;        /* centroid */
    double fill;          /* area / bbox area */
} ldm_eval_object;

typedef struct ldm_eval_analysis {
    int background;            /* rule 2 */
    int n_objects;
    ldm_eval_object *objects;  /* owned: n_objects, largest first (rule 3) */
} ldm_eval_analysis;

/* Rules 1–5 on rgb [height, width, 3] (row-major, 8-bit). Sides from 1 to
 * LDM_EVAL_MAX_SIDE, else LDM_EINPUT. Free with ldm_eval_analysis_free. */
ldm_status ldm_eval_analyse(const uint8_t *rgb, int width, int height, ldm_eval_analysis *out);
void ldm_eval_analysis_free(ldm_eval_analysis *a);

/* Rule 6: per attribute 1 right, 0 wrong, -1 not judged (placement outside pair). */
typedef struct ldm_eval_score {
    signed char ok[LDM_EVAL_ATTRS];
} ldm_eval_score;

void ldm_eval_score_image(const ldm_eval_caption *c, const ldm_eval_analysis *a, ldm_eval_score *out);

/* Counts of right / judged per kind and attribute. Zero-initialise. */
typedef struct ldm_eval_tally {
    int64_t right[LDM_EVAL_KINDS][LDM_EVAL_ATTRS];
    int64_t judged[LDM_EVAL_KINDS][LDM_EVAL_ATTRS];
} ldm_eval_tally;

void ldm_eval_tally_add(ldm_eval_tally *t, ldm_eval_kind kind, const ldm_eval_score *s);
/* right / judged as evaluate.summarise computes it; kind < 0 means all
 * kinds together. NaN when nothing was judged. */
double ldm_eval_tally_accuracy(const ldm_eval_tally *t, int kind, ldm_eval_attr a);
int64_t ldm_eval_tally_judged(const ldm_eval_tally *t, int kind, ldm_eval_attr a);

#endif
