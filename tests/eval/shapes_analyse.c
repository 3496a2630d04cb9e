/* shapes_analyse.c — rules 1–5 of shapes_eval.h: colour names, background,
 * 4-connected components and their colour, shape and centroid.
 *
 * Every quantity is computed so that it equals evaluate.py's bit for bit:
 * distances are exact integers; area, sums of x and y and bbox sides are
 * integers, so numpy's float64 mean (a sum of small integers, exact in any
 * order, then one division) and area / (w*h) are the same single IEEE
 * divisions here. The lower median comes from a 256-bin histogram per channel
 * instead of a sort. */
#include <string.h>

#include "core/alloc.h"
#include "shapes_eval.h"

typedef struct component {
    int64_t area, sum_x, sum_y;
    int x0, y0, x1, y1;         /* inclusive bbox */
    uint32_t hist[3][256];      /* per-channel value counts */
} component;

/* Value at 0-based rank `k` of the sorted values a histogram counts. */
static int rank_value(const uint32_t *hist, int64_t k)
{
    int64_t seen = 0;
    for (int v = 0; v < 256; v++) {
        seen += hist[v];
        if (seen > k)
            return v;
    }
    return 255; /* not reached: k < total */
}

/* Most frequent name on the border ring, in evaluate.py's order and
 * multiplicity (rows 0 and H-1, then columns 0 and W-1 of rows 1..H-2). */
static int border_background(const uint8_t *names, int w, int h)
{
    int64_t votes[LDM_EVAL_COLOURS] = { 0 };
    for (int x = 0; x < w; x++) {
        votes[names[x]]++;
        votes[names[(size_t)(h - 1) * w + x]]++;
    }
    for (int y = 1; y < h - 1; y++) {
        votes[names[(size_t)y * w]]++;
        votes[names[(size_t)y * w + w - 1]]++;
    }
    int best = 0;
    for (int i = 1; i < LDM_EVAL_COLOURS; i++)
        if (votes[i] > votes[best]) /* strict: bincount().argmax() keeps the first */
            best = i;
    return best;
}

/* Flood-fill the component containing `seed` (all foreground pixels not yet
 * labelled), marking them in `seen`; `stack` holds up to w*h indices. */
static void fill_component(const uint8_t *rgb, const uint8_t *names, int bg, int w, int h,
                           int32_t seed, uint8_t *seen, int32_t *stack, component *c)
{
    memset(c, 0, sizeof *c);
    c->x0 = w;
    c->y0 = h;
    int64_t top = 0;
    stack[top++] = seed;
    seen[seed] = 1;
    while (top > 0) {
        int32_t i = stack[--top];
        int y = i / w, x = i % w;
        c->area++;
        c->sum_x += x;
        c->sum_y += y;
        c->x0 = x < c->x0 ? x : c->x0;
        c->x1 = x > c->x1 ? x : c->x1;
        c->y0 = y < c->y0 ? y : c->y0;
        c->y1 = y > c->y1 ? y : c->y1;
        for (int ch = 0; ch < 3; ch++)
            c->hist[ch][rgb[(size_t)i * 3 + ch]]++;
        const int32_t nb[4] = { y > 0 ? i - w : -1, y < h - 1 ? i + w : -1,
                                x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1 };
        for (int k = 0; k < 4; k++)
            if (nb[k] >= 0 && names[nb[k]] != bg && !seen[nb[k]]) {
                seen[nb[k]] = 1;
                stack[top++] = nb[k];
            }
    }
}

static void describe(const component *c, ldm_eval_object *o)
{
    int64_t k = (c->area - 1) / 2; /* lower median */
    o->colour = ldm_eval_nearest_colour(rank_value(c->hist[0], k), rank_value(c->hist[1], k),
                                        rank_value(c->hist[2], k));
    int64_t box = (int64_t)(c->x1 - c->x0 + 1) * (c->y1 - c->y0 + 1);
    o->area = c->area;
    o->fill = (double)c->area / (double)box;
    o->shape = o->fill < 0.64 ? LDM_EVAL_SHAPE_TRIANGLE
             : o->fill < 0.89 ? LDM_EVAL_SHAPE_CIRCLE : LDM_EVAL_SHAPE_SQUARE;
    o->cx = (double)c->sum_x / (double)c->area;
    o->cy = (double)c->sum_y / (double)c->area;
}

/* Stable sort by area, largest first (bottom-up merge sort through tmp[n]:
 * equal areas keep scan order, as Python's sort does). */
static void sort_by_area(ldm_eval_object *o, ldm_eval_object *tmp, int n)
{
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = o[j].area > o[i].area ? o[j++] : o[i++];
            while (i < mid)
                tmp[k++] = o[i++];
            while (j < hi)
                tmp[k++] = o[j++];
        }
        memcpy(o, tmp, (size_t)n * sizeof *o);
    }
}

ldm_status ldm_eval_analyse(const uint8_t *rgb, int width, int height, ldm_eval_analysis *out)
{
    ldm_status st = LDM_OK;
    uint8_t *names = NULL, *seen = NULL;
    int32_t *stack = NULL;
    component *comp = NULL;
    ldm_eval_object *objs = NULL, *tmp = NULL;
    memset(out, 0, sizeof *out);
    if (width < 1 || height < 1 || width > LDM_EVAL_MAX_SIDE || height > LDM_EVAL_MAX_SIDE)
        return ldm_error(LDM_EINPUT, "image size %dx%d: expected sides from 1 to %d", width, height,
                         LDM_EVAL_MAX_SIDE);
    const size_t n = (size_t)width * (size_t)height;
    const int max_objects = (int)(n / LDM_EVAL_MIN_AREA);
    LDM_CHECK(ldm_alloc(n, "colour names", (void **)&names));
    LDM_CHECK(ldm_calloc(n, "component labels", (void **)&seen));
    LDM_CHECK(ldm_alloc(n * sizeof *stack, "flood-fill stack", (void **)&stack));
    LDM_CHECK(ldm_alloc(sizeof *comp, "component", (void **)&comp));
    LDM_CHECK(ldm_alloc((size_t)(max_objects + 1) * sizeof *objs, "objects", (void **)&objs));
    LDM_CHECK(ldm_alloc((size_t)(max_objects + 1) * sizeof *tmp, "objects", (void **)&tmp));

    for (size_t i = 0; i < n; i++)
        names[i] = (uint8_t)ldm_eval_nearest_colour(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
    int bg = border_background(names, width, height);
    int count = 0;
    for (size_t i = 0; i < n; i++) { /* scan order: components by their first pixel */
        if (names[i] == bg || seen[i])
            continue;
        fill_component(rgb, names, bg, width, height, (int32_t)i, seen, stack, comp);
        if (comp->area >= LDM_EVAL_MIN_AREA)
            describe(comp, &objs[count++]);
    }
    sort_by_area(objs, tmp, count);
    out->background = bg;
    out->n_objects = count;
    out->objects = objs;
    objs = NULL;
cleanup:
    ldm_free(tmp);
    ldm_free(objs);
    ldm_free(comp);
    ldm_free(stack);
    ldm_free(seen);
    ldm_free(names);
    return st;
}

void ldm_eval_analysis_free(ldm_eval_analysis *a)
{
    if (!a)
        return;
    ldm_free(a->objects);
    a->objects = NULL;
    a->n_objects = 0;
}
