/* shapes_eval.c — tables, caption grammar, scoring and tallies of the
 * ldm-shapes evaluator (the pixel analysis is in shapes_analyse.c). */
#include "shapes_eval.h"

#include <math.h>
#include <string.h>
#include <strings.h>

const uint8_t ldm_eval_palette[LDM_EVAL_COLOURS][3] = {
    { 220, 30, 30 },   /* red */
    { 30, 170, 40 },   /* green */
    { 30, 60, 220 },   /* blue */
    { 245, 220, 30 },  /* yellow */
    { 245, 245, 245 }, /* white */
    { 20, 20, 20 },    /* black */
    { 140, 40, 180 },  /* purple */
    { 250, 140, 20 },  /* orange */
};

static const char *const colour_names[LDM_EVAL_COLOURS] = {
    "red", "green", "blue", "yellow", "white", "black", "purple", "orange",
};
static const char *const shape_names[LDM_EVAL_SHAPES] = { "circle", "square", "triangle" };
static const char *const shape_plurals[LDM_EVAL_SHAPES] = { "circles", "squares", "triangles" };
static const char *const kind_names[LDM_EVAL_KINDS] = { "single", "count", "pair" };
static const char *const attr_names[LDM_EVAL_ATTRS] = {
    "background", "colour", "shape", "count", "placement",
};
static const char *const relation_names[] = { "none", "left of", "right of", "above", "below" };

const char *ldm_eval_colour_name(int c)
{
    return c >= 0 && c < LDM_EVAL_COLOURS ? colour_names[c] : NULL;
}

const char *ldm_eval_shape_name(ldm_eval_shape s)
{
    return (int)s >= 0 && s < LDM_EVAL_SHAPES ? shape_names[s] : NULL;
}

const char *ldm_eval_kind_name(ldm_eval_kind k)
{
    return (int)k >= 0 && k < LDM_EVAL_KINDS ? kind_names[k] : NULL;
}

const char *ldm_eval_attr_name(ldm_eval_attr a)
{
    return (int)a >= 0 && a < LDM_EVAL_ATTRS ? attr_names[a] : NULL;
}

const char *ldm_eval_relation_name(ldm_eval_relation r)
{
    return (int)r >= 0 && r <= LDM_EVAL_REL_BELOW ? relation_names[r] : NULL;
}

int ldm_eval_nearest_colour(int r, int g, int b)
{
    int best = 0;
    long best_d = -1;
    for (int i = 0; i < LDM_EVAL_COLOURS; i++) {
        long dr = r - ldm_eval_palette[i][0], dg = g - ldm_eval_palette[i][1];
        long db = b - ldm_eval_palette[i][2];
        long d = dr * dr + dg * dg + db * db;
        if (best_d < 0 || d < best_d) { /* strict: ties keep the first name */
            best = i;
            best_d = d;
        }
    }
    return best;
}

/* ---- caption grammar ---------------------------------------------------- */

enum { MAX_WORDS = 16, MAX_CAPTION = 512 };

typedef struct words {
    const char *text; /* the whole caption, for messages */
    char buf[MAX_CAPTION + 1];
    const char *w[MAX_WORDS];
    int n, at;
} words;

/* Index of the current word in list (case-insensitive), or -1. */
static int match(const words *ws, const char *const *list, int n)
{
    if (ws->at >= ws->n)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcasecmp(ws->w[ws->at], list[i]) == 0)
            return i;
    return -1;
}

static ldm_status expected(const words *ws, const char *what)
{
    if (ws->at >= ws->n)
        return ldm_error(LDM_EINPUT, "caption \"%s\": ends after word %d, expected %s", ws->text,
                         ws->n, what);
    return ldm_error(LDM_EINPUT, "caption \"%s\": word %d \"%s\": expected %s", ws->text, ws->at + 1,
                     ws->w[ws->at], what);
}

static const char *const articles[] = { "a", "an" };
static const char *const counts[] = { "two", "three" };

static ldm_status take(words *ws, const char *const *list, int n, const char *what, int *out)
{
    int i = match(ws, list, n);
    if (i < 0)
        return expected(ws, what);
    ws->at++;
    *out = i;
    return LDM_OK;
}

#define COLOUR_LIST "a colour (red, green, blue, yellow, white, black, purple, orange)"

/* "a|an C S": one object of a single or pair caption. */
static ldm_status take_object(words *ws, int *colour, ldm_eval_shape *shape)
{
    ldm_status st = LDM_OK;
    int dummy, s;
    LDM_CHECK(take(ws, articles, 2, "\"a\" or \"an\"", &dummy));
    LDM_CHECK(take(ws, colour_names, LDM_EVAL_COLOURS, COLOUR_LIST, colour));
    LDM_CHECK(take(ws, shape_names, LDM_EVAL_SHAPES, "a shape (circle, square, triangle)", &s));
    *shape = (ldm_eval_shape)s;
cleanup:
    return st;
}

static ldm_status take_relation(words *ws, ldm_eval_relation *out)
{
    static const char *const first[] = { "left", "right", "above", "below" };
    static const char *const of[] = { "of" };
    ldm_status st = LDM_OK;
    int r, dummy;
    LDM_CHECK(take(ws, first, 4, "\"on\" or a relation (left of, right of, above, below)", &r));
    if (r < 2)
        LDM_CHECK(take(ws, of, 1, "\"of\"", &dummy));
    *out = (ldm_eval_relation)(LDM_EVAL_REL_LEFT_OF + r);
cleanup:
    return st;
}

static ldm_status split(const char *text, words *ws)
{
    size_t len = strlen(text);
    if (len > MAX_CAPTION)
        return ldm_error(LDM_EINPUT, "caption \"%.40s...\": longer than %d bytes", text, MAX_CAPTION);
    memcpy(ws->buf, text, len + 1);
    ws->text = text;
    ws->n = ws->at = 0;
    for (char *p = ws->buf; *p;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            *p++ = '\0';
        if (!*p)
            break;
        if (ws->n == MAX_WORDS)
            return ldm_error(LDM_EINPUT, "caption \"%s\": more than %d words", text, MAX_WORDS);
        ws->w[ws->n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            p++;
    }
    if (ws->n == 0)
        return ldm_error(LDM_EINPUT, "caption \"%s\": empty", text);
    return LDM_OK;
}

ldm_status ldm_eval_parse_caption(const char *text, ldm_eval_caption *out)
{
    static const char *const on[] = { "on" };
    static const char *const background[] = { "background" };
    ldm_status st = LDM_OK;
    words ws;
    ldm_eval_caption c = { 0 };
    int n, dummy;
    LDM_CHECK(split(text, &ws));
    if ((n = match(&ws, counts, 2)) >= 0) {
        int s;
        ws.at++;
        c.kind = LDM_EVAL_KIND_COUNT;
        c.count = n + 2;
        LDM_CHECK(take(&ws, colour_names, LDM_EVAL_COLOURS, COLOUR_LIST, &c.colour[0]));
        LDM_CHECK(take(&ws, shape_plurals, LDM_EVAL_SHAPES, "a plural shape (circles, squares, triangles)", &s));
        c.shape[0] = (ldm_eval_shape)s;
        c.colour[1] = c.colour[0];
        c.shape[1] = c.shape[0];
    } else {
        if (match(&ws, articles, 2) < 0)
            LDM_CHECK(expected(&ws, "\"a\", \"an\", \"two\" or \"three\""));
        LDM_CHECK(take_object(&ws, &c.colour[0], &c.shape[0]));
        c.kind = LDM_EVAL_KIND_SINGLE;
        c.count = 1;
        if (match(&ws, on, 1) < 0) {
            c.kind = LDM_EVAL_KIND_PAIR;
            c.count = 2;
            LDM_CHECK(take_relation(&ws, &c.relation));
            LDM_CHECK(take_object(&ws, &c.colour[1], &c.shape[1]));
        } else {
            c.colour[1] = c.colour[0];
            c.shape[1] = c.shape[0];
        }
    }
    LDM_CHECK(take(&ws, on, 1, "\"on\"", &dummy));
    LDM_CHECK(take(&ws, articles, 2, "\"a\" or \"an\"", &dummy));
    LDM_CHECK(take(&ws, colour_names, LDM_EVAL_COLOURS, COLOUR_LIST, &c.background));
    LDM_CHECK(take(&ws, background, 1, "\"background\"", &dummy));
    if (ws.at < ws.n)
        LDM_CHECK(expected(&ws, "the end after \"background\""));
    *out = c;
cleanup:
    return st;
}

/* ---- scoring (rule 6) --------------------------------------------------- */

/* First (= largest) object of `colour` other than `skip`, or NULL. */
static const ldm_eval_object *largest_of(const ldm_eval_analysis *a, int colour,
                                         const ldm_eval_object *skip)
{
    for (int i = 0; i < a->n_objects; i++)
        if (a->objects[i].colour == colour && &a->objects[i] != skip)
            return &a->objects[i];
    return NULL;
}

void ldm_eval_score_image(const ldm_eval_caption *c, const ldm_eval_analysis *a, ldm_eval_score *out)
{
    const int n = a->n_objects;
    const ldm_eval_object *o = a->objects;
    signed char *ok = out->ok;
    ok[LDM_EVAL_ATTR_BACKGROUND] = a->background == c->background;
    ok[LDM_EVAL_ATTR_PLACEMENT] = -1;
    if (c->kind == LDM_EVAL_KIND_SINGLE) {
        ok[LDM_EVAL_ATTR_COUNT] = n == 1;
        ok[LDM_EVAL_ATTR_COLOUR] = n > 0 && o[0].colour == c->colour[0];
        ok[LDM_EVAL_ATTR_SHAPE] = n > 0 && o[0].shape == c->shape[0];
    } else if (c->kind == LDM_EVAL_KIND_COUNT) {
        int colour = n > 0, shape = n > 0;
        for (int i = 0; i < n; i++) {
            colour &= o[i].colour == c->colour[0];
            shape &= o[i].shape == c->shape[0];
        }
        ok[LDM_EVAL_ATTR_COUNT] = n == c->count;
        ok[LDM_EVAL_ATTR_COLOUR] = (signed char)colour;
        ok[LDM_EVAL_ATTR_SHAPE] = (signed char)shape;
    } else {
        const ldm_eval_object *pa = largest_of(a, c->colour[0], NULL);
        const ldm_eval_object *pb = pa ? largest_of(a, c->colour[1], pa) : NULL;
        int both = pa && pb, placed = 0;
        if (both) {
            switch (c->relation) {
            case LDM_EVAL_REL_LEFT_OF: placed = pa->cx < pb->cx; break;
            case LDM_EVAL_REL_RIGHT_OF: placed = pa->cx > pb->cx; break;
            case LDM_EVAL_REL_ABOVE: placed = pa->cy < pb->cy; break;
            case LDM_EVAL_REL_BELOW: placed = pa->cy > pb->cy; break;
            default: placed = 0; break;
            }
        }
        ok[LDM_EVAL_ATTR_COUNT] = n == 2;
        ok[LDM_EVAL_ATTR_COLOUR] = (signed char)both;
        ok[LDM_EVAL_ATTR_SHAPE] = both && pa->shape == c->shape[0] && pb->shape == c->shape[1];
        ok[LDM_EVAL_ATTR_PLACEMENT] = (signed char)placed;
    }
}

void ldm_eval_tally_add(ldm_eval_tally *t, ldm_eval_kind kind, const ldm_eval_score *s)
{
    for (int a = 0; a < LDM_EVAL_ATTRS; a++) {
        if (s->ok[a] < 0)
            continue;
        t->judged[kind][a]++;
        t->right[kind][a] += s->ok[a] > 0;
    }
}

int64_t ldm_eval_tally_judged(const ldm_eval_tally *t, int kind, ldm_eval_attr a)
{
    int64_t n = 0;
    for (int k = 0; k < LDM_EVAL_KINDS; k++)
        if (kind < 0 || kind == k)
            n += t->judged[k][a];
    return n;
}

double ldm_eval_tally_accuracy(const ldm_eval_tally *t, int kind, ldm_eval_attr a)
{
    int64_t right = 0, judged = ldm_eval_tally_judged(t, kind, a);
    for (int k = 0; k < LDM_EVAL_KINDS; k++)
        if (kind < 0 || kind == k)
            right += t->right[k][a];
    return judged ? (double)right / (double)judged : NAN;
}
