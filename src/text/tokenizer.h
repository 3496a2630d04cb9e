/* tokenizer.h — BERT WordPiece tokenizer, id-for-id with transformers.
 *
 * Matches transformers 4.38.2 `BertTokenizer(vocab_file, do_lower_case=True)`
 * (the tokenizer of CompVis/ldm-text2im-large-256, bert-base-uncased's
 * settings) called as LDMTextToImagePipeline calls it:
 *
 *     tokenizer(prompt, padding="max_length", max_length=77,
 *               truncation=True, return_tensors="pt").input_ids
 *
 * which gives [CLS] t1 … tk [SEP] [PAD] … with k ≤ max_length - 2 (longer
 * texts keep their first max_length - 2 tokens).
 *
 * The steps, in transformers' order:
 *  1. The texts "[PAD]" "[UNK]" "[CLS]" "[SEP]" "[MASK]" (exact case) are
 *     special tokens: they map to their ids and split the text around them.
 *     Everything else is lowercased code point by code point (str.lower()).
 *  2. BasicTokenizer: drop NUL, U+FFFD and control/format/unassigned/private
 *     characters; whitespace separates words; CJK ideographs become words of
 *     their own; NFC; lowercase; NFD and drop nonspacing marks (accents);
 *     every punctuation character becomes a word of its own. (After step 1
 *     the NFC and the second lowercase change nothing; src/text/basic.c
 *     says why and skips them.)
 *  3. WordpieceTokenizer: greedy longest-match-first pieces ("##" marks a
 *     continuation); a word of more than 100 code points, or one that cannot
 *     be covered by pieces, becomes [UNK].
 * Unicode properties follow Python 3.11 (Unicode 14.0); see text/unicode.h
 * for where utf8proc (Unicode 15.0) needed correcting.
 *
 * Known difference: if the vocabulary has no "[MASK]", transformers still
 * treats "[MASK]" in a prompt as special and gives it an id past the end of
 * the vocabulary; we tokenize it as ordinary text instead.
 *
 * A loaded tokenizer is immutable: encode may run from several threads.
 */
#ifndef LDM_TEXT_TOKENIZER_H
#define LDM_TEXT_TOKENIZER_H

#include <stdint.h>

#include "core/status.h"

/* The sequence length LDMTextToImagePipeline asks for. */
#define LDM_TOKENIZER_MAX_LENGTH 77

typedef struct ldm_tokenizer ldm_tokenizer;

/* Load a vocab.txt: one token per line (\n, \r\n or \r), id = line number
 * from 0; a repeated token takes the id of its last line, as transformers'
 * load_vocab does. LDM_EINPUT naming the file when it is missing, empty, not
 * UTF-8, or lacks one of [PAD] [UNK] [CLS] [SEP]. */
ldm_status ldm_tokenizer_load(const char *vocab_path, ldm_tokenizer **out);

/* Free and set *t to NULL; NULL or *t == NULL is fine. */
void ldm_tokenizer_free(ldm_tokenizer **t);

/* Encode a NUL-terminated UTF-8 text into ids[0..max_length): [CLS], the
 * first max_length - 2 tokens, [SEP], then [PAD] up to max_length.
 * `*n_tokens_before_padding` (may be NULL) gets the count up to and
 * including [SEP]. Invalid UTF-8: LDM_EINPUT, "prompt: invalid UTF-8 at
 * byte N (why)". max_length must be at least 2 (at 2 transformers refuses
 * to truncate and returns more ids; we give [CLS] [SEP]). Out of memory:
 * LDM_ERUNTIME. Each call allocates a little scratch (three buffers, grown
 * for a long run of text between spaces) and frees it before returning. */
ldm_status ldm_tokenizer_encode(const ldm_tokenizer *t, const char *text, int max_length,
                                int32_t *ids, int *n_tokens_before_padding);

/* Number of ids (lines of vocab.txt). */
int32_t ldm_tokenizer_vocab_size(const ldm_tokenizer *t);

/* The id of an exact token string, or -1 if it is not in the vocabulary. */
int32_t ldm_tokenizer_token_to_id(const ldm_tokenizer *t, const char *token);

/* The token of an id (owned by the tokenizer), or NULL when out of range. */
const char *ldm_tokenizer_id_to_token(const ldm_tokenizer *t, int32_t id);

/* Ids of the special tokens. */
typedef struct ldm_tokenizer_specials {
    int32_t pad, unk, cls, sep;
    int32_t mask; /* -1 when the vocabulary has no [MASK] */
} ldm_tokenizer_specials;
ldm_tokenizer_specials ldm_tokenizer_special_ids(const ldm_tokenizer *t);

#endif
