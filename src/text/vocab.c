/* vocab.c — vocab.txt as transformers' load_vocab reads it, and a hash table
 * from token bytes to id. */
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "text/tokenizer_internal.h"
#include "text/unicode.h"

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The slot holding `s`, or the empty slot where it would go. */
static size_t find_slot(const ldm_tokenizer *t, const char *s, size_t len)
{
    size_t mask = t->n_slots - 1;
    size_t i = (size_t)hash_bytes(s, len) & mask;
    for (;;) {
        int32_t id = t->slots[i];
        if (id < 0 ||
            (t->token_len[id] == len && memcmp(t->text + t->token_off[id], s, len) == 0))
            return i;
        i = (i + 1) & mask;
    }
}

int32_t ldm_tokenizer_lookup(const ldm_tokenizer *t, const char *s, size_t len)
{
    return t->slots[find_slot(t, s, len)];
}

/* Python's text-mode readlines() ends a line at "\n", "\r\n" or "\r"; a last
 * line without a terminator still counts. Counts lines; when `t` is given,
 * records where each starts and NUL-terminates it in place. */
static size_t split_lines(char *text, size_t len, ldm_tokenizer *t)
{
    size_t n = 0, start = 0, i = 0;
    while (i < len) {
        char c = text[i];
        if (c != '\n' && c != '\r') {
            i++;
            continue;
        }
        if (t) {
            t->token_off[n] = start;
            t->token_len[n] = (uint32_t)(i - start);
            text[i] = '\0';
        }
        n++;
        i += (c == '\r' && i + 1 < len && text[i + 1] == '\n') ? 2 : 1;
        start = i;
    }
    if (start < len) {
        if (t) {
            t->token_off[n] = start;
            t->token_len[n] = (uint32_t)(len - start);
        }
        n++;
    }
    return n;
}

static int count_chars(const char *s, size_t len)
{
    int n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static ldm_status find_special(const ldm_tokenizer *t, const char *path, const char *name,
                               int required, int32_t *id)
{
    *id = ldm_tokenizer_lookup(t, name, strlen(name));
    if (*id < 0 && required)
        return ldm_error(LDM_EINPUT, "%s: the vocabulary has no %s token", path, name);
    return LDM_OK;
}

ldm_status ldm_tokenizer_load(const char *vocab_path, ldm_tokenizer **out)
{
    ldm_status st = LDM_OK;
    ldm_tokenizer *t = NULL;
    size_t len = 0, bytes;
    *out = NULL;
    if (ldm_is_dir(vocab_path))
        return ldm_error(LDM_EINPUT, "%s: is a directory, not a vocab.txt file", vocab_path);
    LDM_CHECK(ldm_calloc(sizeof *t, "tokenizer", (void **)&t));
    LDM_CHECK(ldm_read_file(vocab_path, &t->text, &len));
    if (len > UINT32_MAX) {
        st = ldm_error(LDM_EINPUT, "%s: vocabulary file larger than 4 GiB", vocab_path);
        goto cleanup;
    }
    LDM_CHECK(ldm_text_utf8_check(vocab_path, t->text, len));
    size_t n = split_lines(t->text, len, NULL);
    if (n == 0) {
        st = ldm_error(LDM_EINPUT, "%s: empty vocabulary (no lines)", vocab_path);
        goto cleanup;
    }
    if (n > INT32_MAX / 2) {
        st = ldm_error(LDM_EINPUT, "%s: too many tokens (%zu)", vocab_path, n);
        goto cleanup;
    }
    t->n_tokens = (int32_t)n;
    LDM_CHECK(ldm_mul_size(n, sizeof *t->token_off, &bytes));
    LDM_CHECK(ldm_alloc(bytes, "vocabulary offsets", (void **)&t->token_off));
    LDM_CHECK(ldm_mul_size(n, sizeof *t->token_len, &bytes));
    LDM_CHECK(ldm_alloc(bytes, "vocabulary lengths", (void **)&t->token_len));
    split_lines(t->text, len, t);

    t->n_slots = 16;
    while (t->n_slots < 2 * n)
        t->n_slots *= 2;
    LDM_CHECK(ldm_mul_size(t->n_slots, sizeof *t->slots, &bytes));
    LDM_CHECK(ldm_alloc(bytes, "vocabulary hash table", (void **)&t->slots));
    memset(t->slots, 0xFF, bytes); /* all -1 */
    for (int32_t id = 0; id < t->n_tokens; id++) {
        const char *s = t->text + t->token_off[id];
        /* A later duplicate overwrites: Python's dict keeps the last id. */
        t->slots[find_slot(t, s, t->token_len[id])] = id;
        int chars = count_chars(s, t->token_len[id]);
        if (chars > t->max_token_chars)
            t->max_token_chars = chars;
    }

    LDM_CHECK(find_special(t, vocab_path, "[PAD]", 1, &t->special.pad));
    LDM_CHECK(find_special(t, vocab_path, "[UNK]", 1, &t->special.unk));
    LDM_CHECK(find_special(t, vocab_path, "[CLS]", 1, &t->special.cls));
    LDM_CHECK(find_special(t, vocab_path, "[SEP]", 1, &t->special.sep));
    LDM_CHECK(find_special(t, vocab_path, "[MASK]", 0, &t->special.mask));
    *out = t;
    t = NULL;
cleanup:
    ldm_tokenizer_free(&t);
    return st;
}

void ldm_tokenizer_free(ldm_tokenizer **t)
{
    if (!t || !*t)
        return;
    ldm_free((*t)->text);
    ldm_free((*t)->token_off);
    ldm_free((*t)->token_len);
    ldm_free((*t)->slots);
    ldm_free(*t);
    *t = NULL;
}

int32_t ldm_tokenizer_vocab_size(const ldm_tokenizer *t)
{
    return t->n_tokens;
}

int32_t ldm_tokenizer_token_to_id(const ldm_tokenizer *t, const char *token)
{
    return ldm_tokenizer_lookup(t, token, strlen(token));
}

const char *ldm_tokenizer_id_to_token(const ldm_tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->n_tokens)
        return NULL;
    return t->text + t->token_off[id];
}

ldm_tokenizer_specials ldm_tokenizer_special_ids(const ldm_tokenizer *t)
{
    return t->special;
}
