/* unicode.h — the character classes and mappings BertTokenizer uses, as
 * Python 3.11 computes them (internal to src/text; exposed for tests).
 *
 * transformers' BertTokenizer asks Python's `unicodedata` (Unicode 14.0) and
 * `str.lower()`; we ask utf8proc 2.8 (Unicode 15.0). Compared over every
 * code point (see tools/reference/make_tokenizer_goldens.py, which checks
 * it again each time it runs), the two differ in exactly two ways:
 *   - the 4,489 code points first assigned in Unicode 15.0 are unassigned
 *     (category Cn) for Python, so BertTokenizer drops them as "control";
 *   - str.lower() uses the full mapping U+0130 'İ' -> "i\u0307", utf8proc's
 *     simple mapping gives "i".
 * Canonical decompositions, compositions and combining classes agree.
 */
#ifndef LDM_TEXT_UNICODE_H
#define LDM_TEXT_UNICODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Python's unicodedata.category(chr(cp)) as a utf8proc_category_t value. */
int ldm_text_category(int32_t cp);

/* _clean_text removes it: NUL, U+FFFD, category C* other than \t \n \r. */
int ldm_text_is_dropped(int32_t cp);
/* Separates words after _clean_text: ' ', \t, \n, \r, category Zs, and
 * U+2028/U+2029 (not whitespace to _clean_text but to Python's str.split). */
int ldm_text_is_space(int32_t cp);
/* _is_chinese_char: the CJK ideograph blocks, which get spaces around them. */
int ldm_text_is_cjk(int32_t cp);
/* _is_punctuation: ASCII non-alphanumerics and category P*. */
int ldm_text_is_punct(int32_t cp);
/* Category Mn: removed by _run_strip_accents after NFD. */
int ldm_text_is_mark_nonspacing(int32_t cp);

/* Python's chr(cp).lower(): writes 1 or 2 code points to out, returns the count. */
int ldm_text_lower(int32_t cp, int32_t out[2]);

/* Decode one code point of strictly valid UTF-8 at s[0..n) (as Python's
 * "utf-8" codec accepts). Returns its byte length (1..4), or 0 if invalid,
 * with *why naming the problem ("truncated sequence", "overlong encoding",
 * "surrogate", "code point above U+10FFFF", "stray continuation byte",
 * "invalid byte"). */
int ldm_text_utf8_decode(const unsigned char *s, size_t n, int32_t *cp, const char **why);

/* Encode one code point as UTF-8 into out[4]; returns the byte length. */
int ldm_text_utf8_encode(int32_t cp, char out[4]);

/* Check that s[0..n) is valid UTF-8; otherwise LDM_EINPUT with
 * "<what>: invalid UTF-8 at byte <offset> (<why>)". */
ldm_status ldm_text_utf8_check(const char *what, const char *s, size_t n);

#endif
