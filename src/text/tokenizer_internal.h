/* tokenizer_internal.h — what the files of src/text share (and tests use):
 * the vocabulary table and the pre-WordPiece stage. Not a public header. */
#ifndef LDM_TEXT_TOKENIZER_INTERNAL_H
#define LDM_TEXT_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

/* transformers' WordpieceTokenizer.max_input_chars_per_word. */
#define LDM_TOKENIZER_MAX_WORD_CHARS 100

struct ldm_tokenizer {
    char *text;          /* owned: vocab.txt's bytes, each line NUL-terminated in place */
    size_t *token_off;   /* owned: [n_tokens] where token `id` starts in text */
    uint32_t *token_len; /* owned: [n_tokens] its length in bytes */
    int32_t *slots;      /* owned: [n_slots] open-addressing hash table of ids, -1 empty */
    size_t n_slots;      /* a power of two, at least twice the distinct tokens */
    int32_t n_tokens;    /* lines in vocab.txt */
    int max_token_chars; /* longest token in code points: bounds WordPiece's search */
    ldm_tokenizer_specials special;
};

/* The id of the bytes s[0..len), or -1. */
int32_t ldm_tokenizer_lookup(const ldm_tokenizer *t, const char *s, size_t len);

/* Called for each word BasicTokenizer produces, in order: either a word
 * (UTF-8 bytes, not NUL-terminated; special_id == -1) or a special token
 * found in the text (word == NULL, special_id its id). Return nonzero to stop. */
typedef int (*ldm_text_word_fn)(void *ctx, const char *word, size_t len, int32_t special_id);

/* Run steps 1 and 2 of tokenizer.h over text[0..len), which must be valid
 * UTF-8 (checked; LDM_EINPUT otherwise, the message naming `what`). */
ldm_status ldm_text_pretokenize(const ldm_tokenizer *t, const char *what, const char *text,
                                size_t len, ldm_text_word_fn fn, void *ctx);

#endif
