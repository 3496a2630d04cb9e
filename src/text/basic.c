/* basic.c — transformers' special-token split, lowercasing pre-pass and
 * BasicTokenizer, streamed over the text one whitespace-separated chunk at a
 * time.
 *
 * Python runs each step over the whole string; doing the steps per chunk
 * gives the same words because nothing crosses a separator: the separators
 * (space, Zs, U+2028/9, CJK ideographs and special tokens) are starters with
 * no canonical compositions, so normalization neither merges nor reorders
 * across them, and no step creates a separator inside a chunk.
 *
 * BasicTokenizer's NFC and second lower() are left out because, after the
 * pre-pass, they change nothing we can see: every character is then a
 * fixed point of lower(), whose decomposition is made of fixed points, and
 * every composite made of fixed points is one too (so lower(NFC(x)) ==
 * NFC(x)); and the NFD that follows undoes NFC (NFD(NFC(x)) == NFD(x)).
 * make_tokenizer_goldens.py checks these facts over all of Python 3.11's
 * data. */
#include <string.h>
#include <utf8proc.h>

#include "core/alloc.h"
#include "text/tokenizer_internal.h"
#include "text/unicode.h"

typedef struct cpbuf {
    int32_t *data; /* owned: code points */
    size_t len, cap;
} cpbuf;

static ldm_status cpbuf_reserve(cpbuf *b, size_t need)
{
    if (need <= b->cap)
        return LDM_OK;
    size_t cap = b->cap ? b->cap : 64, bytes;
    while (cap < need)
        cap *= 2;
    int32_t *data;
    ldm_status st = ldm_mul_size(cap, sizeof *data, &bytes);
    if (st == LDM_OK)
        st = ldm_alloc(bytes, "tokenizer scratch", (void **)&data);
    if (st != LDM_OK)
        return st;
    if (b->len)
        memcpy(data, b->data, b->len * sizeof *data);
    ldm_free(b->data);
    b->data = data;
    b->cap = cap;
    return LDM_OK;
}

typedef struct pretok {
    ldm_text_word_fn fn;
    void *ctx;
    cpbuf chunk;   /* the current chunk: lowercased, cleaned, no separators */
    cpbuf work;    /* the chunk after strip_accents */
    char *word;    /* owned: UTF-8 of the word being emitted */
    size_t word_cap;
    int stopped;   /* fn asked to stop */
} pretok;

static int combining_class(int32_t cp)
{
    return utf8proc_get_property(cp)->combining_class;
}

/* Canonical ordering: a stable sort of each run of non-starters by class. */
static void canonical_order(int32_t *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int32_t c = a[i];
        int k = combining_class(c);
        if (k == 0)
            continue;
        size_t j = i;
        while (j > 0 && combining_class(a[j - 1]) > k) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = c;
    }
}

/* out = canonical decomposition of in (NFD) without category Mn: what
 * _run_strip_accents keeps. Marks are dropped only after the canonical
 * ordering: some Mn have class 0 (U+034F) and so end a run of reordering. */
static ldm_status strip_accents(const cpbuf *in, cpbuf *out)
{
    ldm_status st = LDM_OK;
    out->len = 0;
    for (size_t i = 0; i < in->len; i++) {
        utf8proc_ssize_t n;
        for (;;) {
            LDM_CHECK(cpbuf_reserve(out, out->len + 4)); /* 4: longest decomposition */
            int boundclass = 0;
            n = utf8proc_decompose_char(in->data[i], out->data + out->len,
                                        (utf8proc_ssize_t)(out->cap - out->len), UTF8PROC_DECOMPOSE,
                                        &boundclass);
            if (n < 0) {
                st = ldm_error(LDM_ERUNTIME, "utf8proc: %s", utf8proc_errmsg(n));
                goto cleanup;
            }
            if ((size_t)n <= out->cap - out->len)
                break;
            LDM_CHECK(cpbuf_reserve(out, out->len + (size_t)n));
        }
        out->len += (size_t)n;
    }
    canonical_order(out->data, out->len);
    size_t kept = 0;
    for (size_t i = 0; i < out->len; i++)
        if (!ldm_text_is_mark_nonspacing(out->data[i]))
            out->data[kept++] = out->data[i];
    out->len = kept;
cleanup:
    return st;
}

static ldm_status emit_word(pretok *p, const int32_t *cps, size_t n)
{
    if (n == 0 || p->stopped)
        return LDM_OK;
    size_t need = 4 * n;
    if (need > p->word_cap) {
        size_t cap = p->word_cap ? p->word_cap : 256;
        while (cap < need)
            cap *= 2;
        ldm_free(p->word);
        p->word = NULL;
        p->word_cap = 0;
        ldm_status st = ldm_alloc(cap, "tokenizer word", (void **)&p->word);
        if (st != LDM_OK)
            return st;
        p->word_cap = cap;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)ldm_text_utf8_encode(cps[i], p->word + len);
    p->stopped = p->fn(p->ctx, p->word, len, -1);
    return LDM_OK;
}

/* BasicTokenizer on one chunk: strip accents (NFD, drop Mn), then every
 * punctuation character is a word of its own. */
static ldm_status flush_chunk(pretok *p)
{
    ldm_status st = LDM_OK;
    if (p->chunk.len == 0 || p->stopped)
        goto cleanup;
    LDM_CHECK(strip_accents(&p->chunk, &p->work));

    const int32_t *w = p->work.data;
    size_t start = 0;
    for (size_t i = 0; i < p->work.len; i++) {
        if (!ldm_text_is_punct(w[i]))
            continue;
        LDM_CHECK(emit_word(p, w + start, i - start));
        LDM_CHECK(emit_word(p, w + i, 1));
        start = i + 1;
    }
    LDM_CHECK(emit_word(p, w + start, p->work.len - start));
cleanup:
    p->chunk.len = 0;
    return st;
}

static ldm_status push(pretok *p, int32_t cp)
{
    ldm_status st = cpbuf_reserve(&p->chunk, p->chunk.len + 1);
    if (st == LDM_OK)
        p->chunk.data[p->chunk.len++] = cp;
    return st;
}

/* The id of the special token that text[0..n) starts with, or -1. */
static int32_t match_special(const ldm_tokenizer *t, const char *s, size_t n, size_t *len)
{
    static const char *names[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    const int32_t ids[] = {t->special.pad, t->special.unk, t->special.cls, t->special.sep,
                           t->special.mask};
    for (int i = 0; i < 5; i++) {
        size_t k = strlen(names[i]);
        if (ids[i] >= 0 && k <= n && memcmp(s, names[i], k) == 0) {
            *len = k;
            return ids[i];
        }
    }
    return -1;
}

ldm_status ldm_text_pretokenize(const ldm_tokenizer *t, const char *what, const char *text,
                                size_t len, ldm_text_word_fn fn, void *ctx)
{
    ldm_status st = LDM_OK;
    pretok p = {.fn = fn, .ctx = ctx};
    LDM_CHECK(ldm_text_utf8_check(what, text, len));
    size_t pos = 0;
    while (pos < len && !p.stopped) {
        size_t special_len;
        int32_t special = text[pos] == '[' ? match_special(t, text + pos, len - pos, &special_len)
                                           : -1;
        if (special >= 0) {
            /* Special tokens are cut out before anything else and never lowercased. */
            LDM_CHECK(flush_chunk(&p));
            if (!p.stopped)
                p.stopped = fn(ctx, NULL, 0, special);
            pos += special_len;
            continue;
        }
        int32_t cp, lower[2];
        const char *why;
        pos += (size_t)ldm_text_utf8_decode((const unsigned char *)text + pos, len - pos, &cp, &why);
        /* The do_lower_case pre-pass lowers each character by itself, so
         * Python's final-sigma rule never applies. */
        int n = ldm_text_lower(cp, lower);
        for (int i = 0; i < n; i++) {
            int32_t c = lower[i];
            if (ldm_text_is_dropped(c))
                continue;
            if (ldm_text_is_space(c)) {
                LDM_CHECK(flush_chunk(&p));
            } else if (ldm_text_is_cjk(c)) {
                LDM_CHECK(flush_chunk(&p));
                LDM_CHECK(push(&p, c));
                LDM_CHECK(flush_chunk(&p));
            } else {
                LDM_CHECK(push(&p, c));
            }
        }
    }
    LDM_CHECK(flush_chunk(&p));
cleanup:
    ldm_free(p.chunk.data);
    ldm_free(p.work.data);
    ldm_free(p.word);
    return st;
}
