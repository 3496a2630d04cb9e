/* init_vocab.c — a synthetic BertTokenizer vocabulary for `ldm init` (see
 * init.h). It has the layout of bert-base-uncased's vocab.txt (the special
 * tokens at the same ids, lower-case characters, "##" continuation pieces),
 * so our tokenizer and transformers' BertTokenizer both load it and split
 * prompts into real-looking ids; the words are not bert's. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "init.h"

/* Words and pieces common in prompts, so they are single tokens. */
static const char *const WORDS[] = {
    "the", "of", "and", "in", "to", "with", "on", "at", "by", "for", "from", "an", "is", "are",
    "it", "its", "as", "or", "over", "under", "near", "into", "through", "painting", "photo",
    "photograph", "drawing", "sketch", "illustration", "portrait", "landscape", "picture",
    "image", "art", "style", "oil", "watercolor", "digital", "render", "realistic", "detailed",
    "beautiful", "high", "quality", "cat", "dog", "horse", "bird", "fish", "squirrel", "bear",
    "lion", "tiger", "fox", "rabbit", "cow", "sheep", "man", "woman", "child", "people",
    "person", "girl", "boy", "king", "queen", "robot", "astronaut", "car", "train", "boat",
    "ship", "plane", "bicycle", "house", "castle", "city", "street", "road", "bridge", "tower",
    "building", "room", "window", "door", "table", "chair", "tree", "trees", "forest", "flower",
    "flowers", "grass", "garden", "mountain", "mountains", "river", "lake", "sea", "ocean",
    "beach", "sky", "cloud", "clouds", "sun", "moon", "star", "stars", "night", "day", "morning",
    "evening", "sunset", "sunrise", "rain", "snow", "fire", "water", "light", "dark", "shadow",
    "red", "blue", "green", "yellow", "orange", "purple", "pink", "black", "white", "gray",
    "brown", "gold", "golden", "silver", "big", "small", "large", "tiny", "old", "new", "young",
    "happy", "sad", "round", "square", "circle", "circles", "squares", "triangle", "one",
    "two", "three", "four", "five", "eating", "burger", "pizza", "apple", "cake", "coffee",
    "tea", "cup", "book", "hat", "shirt", "dress", "glasses", "wearing", "holding", "sitting",
    "standing", "running", "flying", "walking", "playing", "reading", "looking", "top", "bottom",
    "left", "right", "front", "behind", "background", "foreground", "space", "planet", "earth",
    "world", "fantasy", "future", "futuristic", "ancient", "medieval", "modern", "abstract",
    "van", "gogh", "monet", "picasso", "rembrandt", "cinematic", "lighting", "trending",
    "##s", "##es", "##ed", "##ing", "##er", "##est", "##ly", "##y", "##ion", "##ness",
};

typedef struct vocab {
    char **tokens;    /* owned [cap], each owned */
    int64_t count, cap;
    int64_t *table;   /* owned [mask + 1]: token index + 1, 0 = empty */
    uint64_t mask;
} vocab;

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Append `tok` unless it is already there or the vocabulary is full. */
static ldm_status add(vocab *v, const char *tok)
{
    if (v->count >= v->cap)
        return LDM_OK;
    uint64_t i = hash(tok) & v->mask;
    for (; v->table[i]; i = (i + 1) & v->mask)
        if (strcmp(v->tokens[v->table[i] - 1], tok) == 0)
            return LDM_OK;
    ldm_status st = ldm_strdup(tok, &v->tokens[v->count]);
    if (st == LDM_OK)
        v->table[i] = ++v->count;
    return st;
}

/* Every lower-case string of `len` letters, plain or with a "##" prefix. */
static ldm_status add_letter_strings(vocab *v, int len, int piece)
{
    ldm_status st = LDM_OK;
    char buf[16];
    int64_t n = 1;
    for (int k = 0; k < len; k++)
        n *= 26;
    for (int64_t i = 0; i < n && v->count < v->cap; i++) {
        int o = 0;
        if (piece) {
            buf[o++] = '#';
            buf[o++] = '#';
        }
        int64_t x = i;
        for (int k = len - 1; k >= 0; k--, x /= 26)
            buf[o + k] = (char)('a' + x % 26);
        buf[o + len] = '\0';
        LDM_CHECK(add(v, buf));
    }
cleanup:
    return st;
}

static ldm_status fill(vocab *v)
{
    ldm_status st = LDM_OK;
    char buf[32];
    LDM_CHECK(add(v, "[PAD]"));
    for (int i = 0; i < 99; i++) {
        snprintf(buf, sizeof buf, "[unused%d]", i);
        LDM_CHECK(add(v, buf));
    }
    LDM_CHECK(add(v, "[UNK]"));
    LDM_CHECK(add(v, "[CLS]"));
    LDM_CHECK(add(v, "[SEP]"));
    LDM_CHECK(add(v, "[MASK]"));
    /* printable ASCII without upper case (the tokenizer lower-cases) */
    for (int piece = 0; piece < 2; piece++)
        for (int c = '!'; c <= '~'; c++) {
            if (c >= 'A' && c <= 'Z')
                continue;
            snprintf(buf, sizeof buf, "%s%c", piece ? "##" : "", c);
            LDM_CHECK(add(v, buf));
        }
    for (size_t i = 0; i < sizeof WORDS / sizeof WORDS[0]; i++)
        LDM_CHECK(add(v, WORDS[i]));
    for (int len = 2; len <= 4 && v->count < v->cap; len++)
        for (int piece = 0; piece < 2; piece++)
            LDM_CHECK(add_letter_strings(v, len, piece));
    /* only an enormous vocab_size gets here */
    for (int64_t i = 0; v->count < v->cap; i++) {
        snprintf(buf, sizeof buf, "[filler%lld]", (long long)i);
        LDM_CHECK(add(v, buf));
    }
cleanup:
    return st;
}

ldm_status ldm_init_write_vocab(const char *path, int64_t vocab_size)
{
    ldm_status st = LDM_OK;
    vocab v = {0};
    FILE *f = NULL;
    if (vocab_size < LDM_INIT_VOCAB_SPECIALS || vocab_size > (1 << 24))
        return ldm_error(LDM_EINPUT, "%s: a synthetic vocabulary needs a vocab_size from %d to "
                         "%d, got %lld", path, LDM_INIT_VOCAB_SPECIALS, 1 << 24,
                         (long long)vocab_size);
    v.cap = vocab_size;
    v.mask = 1;
    while (v.mask < (uint64_t)vocab_size * 2)
        v.mask <<= 1;
    LDM_CHECK(ldm_calloc((size_t)v.mask * sizeof *v.table, "vocabulary", (void **)&v.table));
    v.mask -= 1;
    LDM_CHECK(ldm_calloc((size_t)vocab_size * sizeof *v.tokens, "vocabulary",
                         (void **)&v.tokens));
    LDM_CHECK(fill(&v));
    f = fopen(path, "wb");
    if (!f) {
        st = ldm_error(LDM_ERUNTIME, "%s: cannot create: %s", path, strerror(errno));
        goto cleanup;
    }
    for (int64_t i = 0; i < v.count; i++)
        fprintf(f, "%s\n", v.tokens[i]);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        st = ldm_error(LDM_ERUNTIME, "%s: write failed: %s", path, strerror(errno));
    f = NULL;
cleanup:
    for (int64_t i = 0; i < v.count; i++)
        ldm_free(v.tokens[i]);
    ldm_free(v.tokens);
    ldm_free(v.table);
    return st;
}
