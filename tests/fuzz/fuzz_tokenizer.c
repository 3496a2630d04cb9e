/* fuzz_tokenizer.c — ldm_tokenizer_encode on arbitrary bytes, with the
 * fixture vocabulary. Checks: no crash or leak; valid UTF-8 (by utf8proc's
 * own decoder) always encodes and anything else is LDM_EINPUT; the ids are
 * framed [CLS] … [SEP] [PAD] … and all in range; a shorter max_length keeps
 * a prefix of the same tokens (truncation only cuts). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/alloc.h"
#include "core/status.h"
#include "text/tokenizer.h"

#ifndef LDM_FIXTURES
#error "LDM_FIXTURES must name tests/fixtures"
#endif

#define SHORT_LENGTH 8

static int valid_utf8(const char *s)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_ssize_t n = (utf8proc_ssize_t)strlen(s);
    while (n > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, n, &cp);
        if (k <= 0)
            return 0;
        p += k;
        n -= k;
    }
    return 1;
}

static void check_framing(const ldm_tokenizer *t, const int32_t *ids, int max_length, int n)
{
    ldm_tokenizer_specials sp = ldm_tokenizer_special_ids(t);
    int32_t vocab = ldm_tokenizer_vocab_size(t);
    if (n < 2 || n > max_length || ids[0] != sp.cls || ids[n - 1] != sp.sep)
        abort();
    for (int i = 0; i < max_length; i++)
        if (ids[i] < 0 || ids[i] >= vocab || (i >= n && ids[i] != sp.pad))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ldm_tokenizer *t; /* loaded once, reachable: not a leak */
    if (!t && ldm_tokenizer_load(LDM_FIXTURES "/tokenizer/vocab.txt", &t) != LDM_OK)
        abort();
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* a C string: the text ends at the first NUL */

    int32_t ids[LDM_TOKENIZER_MAX_LENGTH], shorter[SHORT_LENGTH];
    int n = 0, n_short = 0;
    ldm_error_clear();
    ldm_status st = ldm_tokenizer_encode(t, text, LDM_TOKENIZER_MAX_LENGTH, ids, &n);
    if (valid_utf8(text)) {
        if (st != LDM_OK)
            abort();
        check_framing(t, ids, LDM_TOKENIZER_MAX_LENGTH, n);
        if (ldm_tokenizer_encode(t, text, SHORT_LENGTH, shorter, &n_short) != LDM_OK)
            abort();
        check_framing(t, shorter, SHORT_LENGTH, n_short);
        int expect = n < SHORT_LENGTH ? n : SHORT_LENGTH;
        if (n_short != expect || memcmp(ids, shorter, (size_t)(n_short - 1) * sizeof *ids) != 0)
            abort();
    } else if (st != LDM_EINPUT || !strstr(ldm_error_message(), "prompt: invalid UTF-8 at byte")) {
        abort();
    }
    ldm_error_clear();
    free(text);
    return 0;
}
