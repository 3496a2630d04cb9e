/* fuzz_eval.c — the caption grammar and the pixel analysis on arbitrary
 * bytes: the whole input as a caption, and (after a 2-byte width) as RGB
 * pixels. Neither may crash, leak or read out of bounds; a caption that
 * parses must name a kind, colours and shapes in range. */
#include <stdlib.h>
#include <string.h>

#include "shapes_eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    ldm_eval_caption c;
    if (ldm_eval_parse_caption(text, &c) == LDM_OK) {
        if (c.kind >= LDM_EVAL_KINDS || c.background >= LDM_EVAL_COLOURS || c.colour[0] >= LDM_EVAL_COLOURS ||
            c.colour[1] >= LDM_EVAL_COLOURS || c.shape[0] >= LDM_EVAL_SHAPES || c.shape[1] >= LDM_EVAL_SHAPES)
            abort();
    }
    free(text);
    ldm_error_clear();
    if (size >= 5) {
        int w = 1 + (data[0] | data[1] << 8) % 64;
        size_t pixels = (size - 2) / 3;
        int h = (int)(pixels / (size_t)w);
        ldm_eval_analysis an;
        if (h > 0 && ldm_eval_analyse(data + 2, w, h, &an) == LDM_OK) {
            ldm_eval_score s;
            if (ldm_eval_parse_caption("a red circle left of a red square on a blue background", &c) == LDM_OK)
                ldm_eval_score_image(&c, &an, &s);
            ldm_eval_analysis_free(&an);
        }
        ldm_error_clear();
    }
    return 0;
}
