/* tokenizer.c — WordpieceTokenizer and the [CLS] … [SEP] [PAD] … framing. */
#include <string.h>

#include "text/tokenizer_internal.h"
#include "text/unicode.h"

typedef struct encoder {
    const ldm_tokenizer *t;
    int32_t *ids;  /* borrowed: [capacity] the tokens between [CLS] and [SEP] */
    int capacity;  /* max_length - 2 */
    int n;         /* tokens stored so far */
} encoder;

/* Store one id; nonzero once full (truncation keeps the first tokens). */
static int put(encoder *e, int32_t id)
{
    if (e->n < e->capacity)
        e->ids[e->n++] = id;
    return e->n >= e->capacity;
}

/* Greedy longest-match-first: at each position take the longest vocabulary
 * piece ("##"-prefixed after the first); if some position has none, the
 * whole word is [UNK]. */
static int wordpiece(encoder *e, const char *w, size_t len)
{
    const ldm_tokenizer *t = e->t;
    size_t start[LDM_TOKENIZER_MAX_WORD_CHARS + 1]; /* byte offset of each code point, + end */
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (((unsigned char)w[i] & 0xC0) == 0x80)
            continue;
        if (n == LDM_TOKENIZER_MAX_WORD_CHARS)
            return put(e, t->special.unk);
        start[n++] = i;
    }
    start[n] = len;

    char key[2 + 4 * LDM_TOKENIZER_MAX_WORD_CHARS] = "##";
    int32_t pieces[LDM_TOKENIZER_MAX_WORD_CHARS];
    int n_pieces = 0;
    for (int s = 0; s < n;) {
        int32_t id = -1;
        /* A piece longer than every token cannot match: skip those ends. */
        int end = n - s > t->max_token_chars ? s + t->max_token_chars : n;
        for (; end > s; end--) {
            size_t bytes = start[end] - start[s];
            if (s == 0) {
                id = ldm_tokenizer_lookup(t, w, bytes);
            } else {
                memcpy(key + 2, w + start[s], bytes);
                id = ldm_tokenizer_lookup(t, key, bytes + 2);
            }
            if (id >= 0)
                break;
        }
        if (id < 0)
            return put(e, t->special.unk);
        pieces[n_pieces++] = id;
        s = end;
    }
    int full = 0;
    for (int i = 0; i < n_pieces && !full; i++)
        full = put(e, pieces[i]);
    return full;
}

static int on_word(void *ctx, const char *word, size_t len, int32_t special_id)
{
    encoder *e = ctx;
    if (special_id >= 0)
        return put(e, special_id);
    return wordpiece(e, word, len);
}

ldm_status ldm_tokenizer_encode(const ldm_tokenizer *t, const char *text, int max_length,
                                int32_t *ids, int *n_tokens_before_padding)
{
    ldm_status st = LDM_OK;
    if (n_tokens_before_padding)
        *n_tokens_before_padding = 0;
    if (max_length < 2)
        return ldm_error(LDM_EINPUT, "tokenizer: max_length %d must be at least 2 ([CLS] and [SEP])",
                         max_length);
    encoder e = {.t = t, .ids = ids + 1, .capacity = max_length - 2};
    if (e.capacity > 0)
        LDM_CHECK(ldm_text_pretokenize(t, "prompt", text, strlen(text), on_word, &e));
    else
        LDM_CHECK(ldm_text_utf8_check("prompt", text, strlen(text)));
    ids[0] = t->special.cls;
    ids[1 + e.n] = t->special.sep;
    for (int i = 2 + e.n; i < max_length; i++)
        ids[i] = t->special.pad;
    if (n_tokens_before_padding)
        *n_tokens_before_padding = 2 + e.n;
cleanup:
    if (st != LDM_OK)
        for (int i = 0; i < max_length; i++)
            ids[i] = t->special.pad;
    return st;
}
