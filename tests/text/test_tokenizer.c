/* test_tokenizer.c — src/text against transformers' BertTokenizer.
 *
 * Fixtures (tests/fixtures/tokenizer/, from
 * tools/reference/make_tokenizer_goldens.py): encode.txt (ids for whole
 * texts), basic.txt (the words before WordPiece), codepoints.txt (every code
 * point between two letters), vocab_crlf.txt + crlf.txt (line ends). Plus
 * invalid UTF-8, vocabulary errors and allocation failures. One process, one
 * rank. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/status.h"
#include "harness.h"
#include "text/tokenizer.h"
#include "text/tokenizer_internal.h"
#include "text/unicode.h"

#define FIX LDM_FIXTURES "/tokenizer/"

/* Decode hex into a NUL-terminated buffer (static, grows); *len = bytes. */
static char *unhex(const char *h, size_t hlen, size_t *len)
{
    static char *buf;
    static size_t cap;
    if (hlen / 2 + 1 > cap) {
        cap = hlen / 2 + 1;
        buf = realloc(buf, cap);
    }
    for (size_t i = 0; i + 1 < hlen; i += 2) {
        unsigned v;
        sscanf(h + i, "%2x", &v);
        buf[i / 2] = (char)v;
    }
    *len = hlen / 2;
    buf[*len] = '\0';
    return buf;
}

static FILE *open_fixture(const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, FIX "%s", name);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    return f;
}

/* Lines "max_length <TAB> hex(text) <TAB> ids". Returns the tests run. */
static int check_encode_file(const ldm_tokenizer *t, const char *name)
{
    FILE *f = open_fixture(name);
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, reported = 0;
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        int ml = atoi(line);
        char *h = strchr(line, '\t') + 1;
        char *tab = strchr(h, '\t');
        size_t len;
        char *text = unhex(h, (size_t)(tab - h), &len);
        int32_t want[256], got[256];
        int n_want = 0, n_before = -1;
        for (char *p = tab + 1; *p && *p != '\n' && n_want < 256;)
            want[n_want++] = (int32_t)strtol(p, &p, 10);
        CHECK_MSG(n_want == ml, "%s:%d: %d ids for max_length %d", name, lineno, n_want, ml);
        ldm_status st = ldm_tokenizer_encode(t, text, ml, got, &n_before);
        int first_bad = -1;
        for (int i = 0; i < ml && st == LDM_OK; i++)
            if (got[i] != want[i]) {
                first_bad = i;
                break;
            }
        CHECK_MSG(st == LDM_OK && first_bad < 0,
                  "%s:%d: text \"%s\" (max_length %d): status %d (%s), first mismatch at "
                  "position %d: got %d, want %d",
                  name, lineno, text, ml, (int)st, ldm_error_message(), first_bad,
                  first_bad >= 0 ? got[first_bad] : -1, first_bad >= 0 ? want[first_bad] : -1);
        if (st == LDM_OK && first_bad >= 0 && !reported) {
            reported = 1;
            fprintf(stderr, "  got: ");
            for (int i = 0; i < ml; i++)
                fprintf(stderr, "%d ", got[i]);
            fprintf(stderr, "\n  want:");
            for (int i = 0; i < ml; i++)
                fprintf(stderr, " %d", want[i]);
            fprintf(stderr, "\n");
        }
        /* [SEP] is the last id before padding. */
        ldm_tokenizer_specials sp = ldm_tokenizer_special_ids(t);
        CHECK_MSG(n_before >= 2 && n_before <= ml && want[n_before - 1] == sp.sep &&
                      (n_before == ml || want[n_before] == sp.pad),
                  "%s:%d: n_tokens_before_padding %d", name, lineno, n_before);
        ldm_error_clear();
    }
    free(line);
    fclose(f);
    return lineno;
}

/* Collects pretokenize's words as "w1 w2 …" (special tokens by name). */
typedef struct joined {
    const ldm_tokenizer *t;
    char *s;
    size_t len, cap;
} joined;

static void append(joined *j, const char *s, size_t n)
{
    if (j->len + n + 2 > j->cap) {
        j->cap = 2 * (j->len + n + 2);
        j->s = realloc(j->s, j->cap);
    }
    if (j->len)
        j->s[j->len++] = ' ';
    memcpy(j->s + j->len, s, n);
    j->len += n;
    j->s[j->len] = '\0';
}

static int on_word(void *ctx, const char *word, size_t len, int32_t special_id)
{
    joined *j = ctx;
    if (special_id >= 0) {
        const char *name = ldm_tokenizer_id_to_token(j->t, special_id);
        append(j, name, strlen(name));
    } else {
        append(j, word, len);
    }
    return 0;
}

static ldm_status pretokenize_joined(const ldm_tokenizer *t, const char *text, size_t len,
                                     joined *j)
{
    j->t = t;
    j->len = 0;
    append(j, "", 0);
    return ldm_text_pretokenize(t, "text", text, len, on_word, j);
}

static void check_basic(const ldm_tokenizer *t)
{
    FILE *f = open_fixture("basic.txt");
    if (!f)
        return;
    char *line = NULL, *want = NULL;
    size_t cap = 0;
    int lineno = 0;
    joined j = {0};
    while (getline(&line, &cap, f) > 0) {
        lineno++;
        char *tab = strchr(line, '\t');
        size_t len, wlen = 0;
        /* Expected: the hex tokens decoded and joined with spaces. */
        want = realloc(want, strlen(line) + 1);
        for (char *p = tab + 1; *p && *p != '\n';) {
            size_t n = strcspn(p, " \n");
            size_t blen;
            char *b = unhex(p, n, &blen);
            if (wlen)
                want[wlen++] = ' ';
            memcpy(want + wlen, b, blen);
            wlen += blen;
            p += n;
            if (*p == ' ')
                p++;
        }
        want[wlen] = '\0';
        char *text = unhex(line, (size_t)(tab - line), &len);
        ldm_status st = pretokenize_joined(t, text, len, &j);
        CHECK_MSG(st == LDM_OK && j.len == wlen && memcmp(j.s, want, wlen) == 0,
                  "basic.txt:%d: text \"%s\": got \"%s\", want \"%s\"", lineno, text, j.s, want);
    }
    printf("basic.txt: %d texts\n", lineno);
    free(j.s);
    free(want);
    free(line);
    fclose(f);
}

/* What "a" + c + "a" becomes, per codepoints.txt's kinds. */
static void expected_for(int32_t cp, const char *kind, const char *extra, char *out, size_t *n)
{
    char c[4];
    int cl = ldm_text_utf8_encode(cp, c);
    size_t k = 0;
    if (strcmp(kind, "same") == 0 || strcmp(kind, "split") == 0) {
        int split = kind[1] == 'p';
        out[k++] = 'a';
        if (split)
            out[k++] = ' ';
        memcpy(out + k, c, (size_t)cl);
        k += (size_t)cl;
        if (split)
            out[k++] = ' ';
        out[k++] = 'a';
    } else if (strcmp(kind, "drop") == 0) {
        memcpy(out, "aa", 2);
        k = 2;
    } else if (strcmp(kind, "space") == 0) {
        memcpy(out, "a a", 3);
        k = 3;
    } else if (strcmp(kind, "hangul") == 0) { /* Unicode 3.12, Hangul decomposition */
        int32_t s = cp - 0xAC00, jamo[3] = {0x1100 + s / 588, 0x1161 + (s % 588) / 28,
                                            0x11A7 + s % 28};
        out[k++] = 'a';
        for (int i = 0; i < (s % 28 ? 3 : 2); i++)
            k += (size_t)ldm_text_utf8_encode(jamo[i], out + k);
        out[k++] = 'a';
    } else if (strcmp(kind, "map") == 0) {
        size_t bl;
        char *b = unhex(extra, strlen(extra), &bl);
        out[k++] = 'a';
        memcpy(out + k, b, bl);
        k += bl;
        out[k++] = 'a';
    } else { /* tokens */
        size_t bl;
        char *b = unhex(extra, strlen(extra), &bl);
        memcpy(out, b, bl);
        k = bl;
    }
    out[k] = '\0';
    *n = k;
}

static void check_codepoints(const ldm_tokenizer *t)
{
    FILE *f = open_fixture("codepoints.txt");
    if (!f)
        return;
    char line[1024], kind[16], extra[900];
    joined j = {0};
    long covered = 0;
    int32_t next = 0;
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        unsigned first, last;
        extra[0] = '\0';
        if (sscanf(line, "%x %x %15s %899s", &first, &last, kind, extra) < 3) {
            CHECK_MSG(0, "codepoints.txt:%d: unreadable", lineno);
            continue;
        }
        if (next == 0xD800)
            next = 0xE000;
        CHECK_MSG((int32_t)first == next, "codepoints.txt:%d: gap before U+%04X", lineno, first);
        next = (int32_t)last + 1;
        int bad = 0;
        for (int32_t cp = (int32_t)first; cp <= (int32_t)last && !bad; cp++) {
            char text[8], want[64];
            size_t wlen;
            text[0] = 'a';
            int cl = ldm_text_utf8_encode(cp, text + 1);
            text[1 + cl] = 'a';
            expected_for(cp, kind, extra, want, &wlen);
            ldm_status st = pretokenize_joined(t, text, (size_t)cl + 2, &j);
            if (st != LDM_OK || j.len != wlen || memcmp(j.s, want, wlen) != 0) {
                bad = 1;
                CHECK_MSG(0, "U+%04X (%s): \"a%.*sa\" gives \"%s\", transformers \"%s\"", cp,
                          kind, cl, text + 1, j.s, want);
            }
            covered++;
        }
        if (!bad)
            CHECK(1);
    }
    CHECK_MSG(next == 0x110000 && covered == 0x110000 - 0x800,
              "codepoints.txt covers %ld code points", covered);
    printf("codepoints.txt: %ld code points in %d ranges\n", covered, lineno);
    free(j.s);
    fclose(f);
}

static void check_invalid_utf8(const ldm_tokenizer *t)
{
    static const struct {
        const char *text, *needle;
    } cases[] = {
        {"ab\xC3", "byte 2 (truncated sequence)"},
        {"\xE2\x82 euro", "byte 0 (truncated sequence)"},
        {"abcd\xF0\x9F\x98", "byte 4 (truncated sequence)"},
        {"\xC0\xAF", "byte 0 (overlong encoding)"},
        {"x\xC1\xBF", "byte 1 (overlong encoding)"},
        {"\xE0\x80\xAF", "byte 0 (overlong encoding)"},
        {"ok \xF0\x80\x80\xAF", "byte 3 (overlong encoding)"},
        {"\xED\xA0\x80", "byte 0 (surrogate)"},
        {"a\xED\xBF\xBF", "byte 1 (surrogate)"},
        {"\xF4\x90\x80\x80", "byte 0 (code point above U+10FFFF)"},
        {"\xF5\x80\x80\x80", "byte 0 (code point above U+10FFFF)"},
        {"hello\x80", "byte 5 (stray continuation byte)"},
        {"\xBF", "byte 0 (stray continuation byte)"},
        {"\xFF", "byte 0 (invalid byte)"},
        {"caf\xC3\xA9 \xF8", "byte 6 (invalid byte)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t ids[LDM_TOKENIZER_MAX_LENGTH];
        char needle[128];
        snprintf(needle, sizeof needle, "prompt: invalid UTF-8 at %s", cases[i].needle);
        CHECK_FAILS_WITH(ldm_tokenizer_encode(t, cases[i].text, LDM_TOKENIZER_MAX_LENGTH, ids, NULL),
                         LDM_EINPUT, needle);
    }
    /* Valid edges decode. */
    int32_t ids[LDM_TOKENIZER_MAX_LENGTH];
    CHECK(ldm_tokenizer_encode(t, "\xC2\x80 \xED\x9F\xBF \xEE\x80\x80 \xF4\x8F\xBF\xBF \xF0\x90\x80\x80",
                               LDM_TOKENIZER_MAX_LENGTH, ids, NULL) == LDM_OK);
    /* Python: "\u0130".lower() == "i\u0307" (SpecialCasing.txt); accent
     * stripping hides it from every fixture, so check it here. */
    int32_t low[2];
    CHECK(ldm_text_lower(0x130, low) == 2 && low[0] == 'i' && low[1] == 0x307);
    CHECK(ldm_text_lower('A', low) == 1 && low[0] == 'a');
    int32_t cp;
    const char *why;
    CHECK(ldm_text_utf8_decode((const unsigned char *)"\xF4\x8F\xBF\xBF", 4, &cp, &why) == 4 &&
          cp == 0x10FFFF);
}

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(data, f);
        fclose(f);
    }
}

static void check_vocab_errors(void)
{
    ldm_tokenizer *t = NULL;
    char path[4096];
    mkdir(LDM_TEST_TMP, 0777);

    CHECK_FAILS_WITH(ldm_tokenizer_load(LDM_TEST_TMP "/no-such-vocab.txt", &t), LDM_EINPUT,
                     "no-such-vocab.txt: cannot open");
    CHECK(t == NULL);

    snprintf(path, sizeof path, "%s/empty.txt", LDM_TEST_TMP);
    write_file(path, "");
    CHECK_FAILS_WITH(ldm_tokenizer_load(path, &t), LDM_EINPUT, "empty.txt: empty vocabulary");

    static const char *specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]"};
    for (int miss = 0; miss < 4; miss++) {
        char text[256] = "", needle[128];
        for (int i = 0; i < 4; i++)
            if (i != miss) {
                strcat(text, specials[i]);
                strcat(text, "\n");
            }
        strcat(text, "[pad]\n[UNK] \ncat\n");
        snprintf(path, sizeof path, "%s/missing%d.txt", LDM_TEST_TMP, miss);
        write_file(path, text);
        snprintf(needle, sizeof needle, "missing%d.txt: the vocabulary has no %s token", miss,
                 specials[miss]);
        CHECK_FAILS_WITH(ldm_tokenizer_load(path, &t), LDM_EINPUT, needle);
    }

    snprintf(path, sizeof path, "%s/blank.txt", LDM_TEST_TMP);
    write_file(path, "\n\n");
    CHECK_FAILS_WITH(ldm_tokenizer_load(path, &t), LDM_EINPUT, "blank.txt: the vocabulary has no [PAD]");

    snprintf(path, sizeof path, "%s/latin1.txt", LDM_TEST_TMP);
    write_file(path, "[PAD]\n[UNK]\n[CLS]\n[SEP]\ncaf\xE9\n");
    CHECK_FAILS_WITH(ldm_tokenizer_load(path, &t), LDM_EINPUT,
                     "latin1.txt: invalid UTF-8 at byte 27 (truncated sequence)");

    CHECK_FAILS_WITH(ldm_tokenizer_load(LDM_FIXTURES "/tokenizer", &t), LDM_EINPUT,
                     "tokenizer: is a directory");

    /* No [MASK]: loads; "[MASK]" in a text is then ordinary text. */
    snprintf(path, sizeof path, "%s/nomask.txt", LDM_TEST_TMP);
    write_file(path, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[\n]\nmask");
    CHECK(ldm_tokenizer_load(path, &t) == LDM_OK);
    if (t) {
        int32_t ids[8], want[8] = {2, 4, 6, 5, 3, 0, 0, 0};
        int n = 0;
        CHECK(ldm_tokenizer_special_ids(t).mask == -1);
        CHECK(ldm_tokenizer_encode(t, "[MASK]", 8, ids, &n) == LDM_OK && n == 5 &&
              memcmp(ids, want, sizeof ids) == 0);
    }
    ldm_tokenizer_free(&t);
    CHECK(t == NULL);
    ldm_tokenizer_free(&t);
    ldm_tokenizer_free(NULL);
}

static void check_api(const ldm_tokenizer *t)
{
    /* The fixture has one token per \n-terminated line, "cat" last (and
     * earlier too); the special ids are bert's layout. */
    FILE *f = open_fixture("vocab.txt");
    int32_t lines = 0;
    for (int c; f && (c = fgetc(f)) != EOF;)
        lines += c == '\n';
    if (f)
        fclose(f);
    CHECK(ldm_tokenizer_vocab_size(t) == lines);
    ldm_tokenizer_specials sp = ldm_tokenizer_special_ids(t);
    CHECK(sp.pad == 0 && sp.unk == 100 && sp.cls == 101 && sp.sep == 102 && sp.mask == 103);
    CHECK(strcmp(ldm_tokenizer_id_to_token(t, 0), "[PAD]") == 0);
    CHECK(ldm_tokenizer_id_to_token(t, lines) == NULL && ldm_tokenizer_id_to_token(t, -1) == NULL);
    /* "cat" is on two lines: the later one wins, as in transformers. */
    CHECK(ldm_tokenizer_token_to_id(t, "cat") == lines - 1);
    CHECK(strcmp(ldm_tokenizer_id_to_token(t, lines - 1), "cat") == 0);
    CHECK(ldm_tokenizer_token_to_id(t, "no-such-token") == -1);
    CHECK(ldm_tokenizer_token_to_id(t, "") == -1);
    for (int32_t id = 0; id < ldm_tokenizer_vocab_size(t); id++) {
        const char *tok = ldm_tokenizer_id_to_token(t, id);
        int32_t back = ldm_tokenizer_token_to_id(t, tok);
        if (back != id && strcmp(tok, "cat") != 0)
            CHECK_MSG(0, "token %d \"%s\" looks up as %d", id, tok, back);
    }

    int32_t ids[LDM_TOKENIZER_MAX_LENGTH];
    int n = -1;
    CHECK_FAILS_WITH(ldm_tokenizer_encode(t, "cat", 1, ids, &n), LDM_EINPUT, "max_length 1");
    CHECK(ldm_tokenizer_encode(t, "cat dog", 2, ids, &n) == LDM_OK && n == 2 &&
          ids[0] == sp.cls && ids[1] == sp.sep);
    CHECK_FAILS_WITH(ldm_tokenizer_encode(t, "\xFF", 2, ids, &n), LDM_EINPUT, "invalid UTF-8");
}

/* Every allocation of load and encode may fail: the status says so, nothing
 * crashes, and once enough allocations succeed the result is right. */
static void check_alloc_failures(void)
{
    const char *text = "A long-ish prompt: naïve café, 中文, e\xCC\x81 and [MASK] again";
    int32_t want[LDM_TOKENIZER_MAX_LENGTH], ids[LDM_TOKENIZER_MAX_LENGTH];
    ldm_tokenizer *t = NULL;
    if (ldm_tokenizer_load(FIX "vocab.txt", &t) != LDM_OK)
        return;
    CHECK(ldm_tokenizer_encode(t, text, LDM_TOKENIZER_MAX_LENGTH, want, NULL) == LDM_OK);
    ldm_tokenizer_free(&t);
    int failures = 0, ok = 0;
    for (long k = 1; k < 100 && !ok; k++) {
        ldm_error_clear();
        ldm_alloc_fail_after(k);
        ldm_status st = ldm_tokenizer_load(FIX "vocab.txt", &t);
        if (st == LDM_OK)
            st = ldm_tokenizer_encode(t, text, LDM_TOKENIZER_MAX_LENGTH, ids, NULL);
        ldm_alloc_fail_after(0);
        if (st == LDM_OK) {
            ok = 1;
            CHECK(memcmp(ids, want, sizeof ids) == 0);
        } else {
            failures++;
            CHECK_MSG(st == LDM_ERUNTIME && strstr(ldm_error_message(), "out of memory"),
                      "allocation %ld failing: status %d, \"%s\"", k, (int)st,
                      ldm_error_message());
        }
        ldm_tokenizer_free(&t);
    }
    CHECK(ok && failures >= 5);
    ldm_error_clear();
}

int main(void)
{
    ldm_tokenizer *t = NULL;
    ldm_status st = ldm_tokenizer_load(FIX "vocab.txt", &t);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st != LDM_OK)
        return ldm_test_finish();
    printf("encode.txt: %d texts\n", check_encode_file(t, "encode.txt"));
    check_basic(t);
    check_codepoints(t);
    check_invalid_utf8(t);
    check_api(t);
    ldm_tokenizer_free(&t);

    st = ldm_tokenizer_load(FIX "vocab_crlf.txt", &t);
    CHECK_MSG(st == LDM_OK, "%s", ldm_error_message());
    if (st == LDM_OK) {
        CHECK(ldm_tokenizer_vocab_size(t) == 10 && ldm_tokenizer_token_to_id(t, "cat") == 8);
        printf("crlf.txt: %d texts\n", check_encode_file(t, "crlf.txt"));
    }
    ldm_tokenizer_free(&t);

    check_vocab_errors();
    check_alloc_failures();
    return ldm_test_finish();
}
