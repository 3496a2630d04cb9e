"""Golden fixtures for src/text (the BERT WordPiece tokenizer).

Writes into tests/fixtures/tokenizer/:
  vocab.txt       a made-up bert-style vocabulary (~3,500 lines; we cannot
                  download bert-base-uncased's): [PAD], [unusedN], [UNK],
                  [CLS], [SEP], [MASK], single characters (ASCII, accented,
                  Greek, Cyrillic, CJK, kana, jamo, emoji; '|' '~' 'q' 'x' and
                  more left out on purpose so that [UNK] appears), English
                  words, prefixes and "##" continuation pieces, and one
                  duplicated token ("cat", whose later line wins).
  encode.txt      one test per line: max_length <TAB> hex(UTF-8 text) <TAB>
                  the ids transformers gives for
                  tokenizer(text, padding="max_length", max_length=max_length,
                  truncation=True) -- the call LDMTextToImagePipeline makes
                  with max_length=77.
  basic.txt       hex(UTF-8 text) <TAB> the tokens before WordPiece, each as
                  hex(UTF-8), space-separated (transformers' own tokenize()
                  with WordpieceTokenizer.tokenize replaced by the identity).
                  Some texts here contain NUL, which C strings cannot.
  codepoints.txt  every code point c (no surrogates) once: what tokenize()
                  does with "a" + c + "a", as ranges
                  "<first hex> <last hex> <kind> [hex(UTF-8)]": same =
                  ["a"+c+"a"], drop = ["aa"], space = ["a","a"], split =
                  ["a",c,"a"], hangul = ["a"+NFD(c)+"a"] by Unicode's
                  arithmetic for syllables, map m = ["a"+m+"a"], tokens t =
                  the tokens joined by spaces.
  vocab_crlf.txt, crlf.txt
                  a tiny vocabulary with \r\n and \r line ends, no final
                  newline and a repeated token, and encode tests against it
                  (same format as encode.txt).

It also compares Python's unicodedata (Unicode 14.0) with utf8proc (via
ctypes, when libutf8proc.so.2 is present) over all code points and checks
that they differ exactly where src/text/unicode.c says they do.

Run:  /opt/ldmref/bin/python tools/reference/make_tokenizer_goldens.py
Deterministic (random.Random(20240229)); takes about a minute.
"""
import ctypes
import os
import random
import re
import sys
import unicodedata

import transformers
from transformers import BertTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer")
MAX_LENGTH = 77

WORDS = """
a an the of and or with without in on at by for from to into onto over under above below near
painting photo photograph picture image drawing sketch illustration render rendering portrait
landscape oil watercolor acrylic digital art artwork style detailed highly intricate beautiful
cute ugly old young small large big tiny huge giant little tall short long wide narrow dark light
bright dim red green blue yellow orange purple pink brown black white gray grey gold golden silver
cat dog bird fish horse cow sheep goat pig mouse rat rabbit fox wolf bear lion tiger elephant
monkey squirrel owl eagle duck chicken frog snake turtle dragon unicorn robot astronaut knight
wizard witch king queen prince princess man woman boy girl child baby person people family
friend teacher doctor soldier pirate ninja samurai cowboy chef farmer artist musician
eating drinking sitting standing running walking flying swimming sleeping reading writing
playing singing dancing riding holding wearing looking smiling crying jumping fighting
burger pizza apple banana orange cake bread cheese coffee tea wine beer water milk soup
house home castle tower city town village street road bridge river lake sea ocean beach
mountain hill forest tree trees flower flowers garden field desert island sky cloud clouds
sun moon star stars planet space galaxy universe night day morning evening sunset sunrise
rain snow storm wind fire ice smoke fog mist light shadow reflection water glass mirror
chair table bed window door wall floor roof car bus train plane ship boat bicycle
book books letter paper pen pencil brush canvas camera phone computer screen lamp clock
hat shirt dress coat shoe shoes glasses crown sword shield armor helmet mask
by trending artstation unreal engine octane cinematic lighting volumetric ambient
hdr 4k 8k resolution sharp focus bokeh depth field lens wide angle closeup view
vintage retro modern futuristic ancient medieval gothic baroque renaissance impressionist
surreal abstract realistic photorealistic hyperrealistic minimalist colorful vibrant pastel
neon cyberpunk steampunk fantasy science fiction magic magical mystical epic dramatic
happy sad angry calm peaceful lonely quiet loud soft hard warm cold hot cool wet dry
first second third one two three four five six seven eight nine ten hundred thousand
is are was were be been being have has had do does did will would can could should may might
this that these those it its he she they we you i me my your our their his her them us
what which who whom whose where when why how all any both each few more most other some such
no nor not only own same so than too very just now then here there up down out off again
new york paris london tokyo berlin rome china japan korea india france germany italy spain
van gogh monet picasso rembrandt da vinci dali hokusai klimt munch turner
un re pre dis over super anti inter trans sub non micro macro multi semi auto
play read walk talk jump run swim sing dance paint draw write look smile cry ride hold wear
happi ness light dark quick brown lazy jumps over the lazy dog quick
""".split()

SUFFIXES = """s es ed ing er ers est ly ness tion tions ment ments able ible ful less ish ism
ist ists ity ous ive al ic y ie en ize ise ized ised ation ations ance ence ant ent
ary ory age ure ship hood dom ward wards like""".split()


def build_vocab(rng):
    v = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    v += [f"[unused{i}]" for i in range(99, 160)]
    singles = [chr(c) for c in range(33, 127) if chr(c) not in "|~" and not chr(c).isupper()]
    singles = [c for c in singles if c not in "qx"]
    singles += list("ßæøłđðþœıĸŋħ¡¿«»“”‘’—–…·•°²³½©®™€£¥₩✓★♥❤")
    singles += [chr(c) for c in range(0x3B1, 0x3CA)]  # α..ω incl. ς
    singles += [chr(c) for c in range(0x430, 0x450)]  # а..я
    singles += list("中日本山水火人大小天一二三龍㐀𠀀豈あいうえおかきくけこカタナ")
    singles += ["\u1112", "\u1161", "\u11ab", "\u1100", "\u116e", "\u11a8"]  # jamo of 한, 국
    singles += ["😀", "🎨", "🐱", "👍", "🏽", "🇺", "🇸", "🚀", "ｆ", "ⓐ", "ⅻ", "ﬁ"]
    v += singles
    v += ["##" + c for c in "abcdefghijklmnoprstuvwyz0123456789"]  # no ##q, ##x
    v += ["##" + c for c in "ßæøαβγδεζηθικλμνξοπρσςτυφχψωабвгдежзийклмнопрстуфхцчшщъыьэюя"]
    v += ["##\u1161", "##\u11ab", "##\u116e", "##\u11a8", "##🏽", "##🇸", "##ｆ"]
    words = list(dict.fromkeys(WORDS))
    v += words
    v += ["##" + s for s in SUFFIXES]
    # Prefix pieces and continuation pieces cut from the words, so that many
    # words not in the list split into several pieces.
    pieces = set()
    for w in words:
        for n in (3, 4, 5):
            if len(w) > n:
                pieces.add(w[:n])
                pieces.add("##" + w[-n:])
                pieces.add("##" + w[1:1 + n])
    letters = "abcdefghijklmnoprstuvwyz"
    pairs = ["##" + a + b for a in letters for b in letters]
    pieces.update(rng.sample(pairs, 420))
    v += sorted(p for p in pieces if p not in set(v))
    v = list(dict.fromkeys(v))
    v += ["cat"]  # repeated on purpose: transformers' dict keeps this later id
    return v


HAND = [
    "", " ", "   ", "\t\n\r", "\u3000\u00a0\u2028", "a", "A",
    "a painting of a squirrel eating a burger",
    "A PAINTING OF A SQUIRREL EATING A BURGER",
    "A Painting Of A Squirrel Eating A Burger",
    "an astronaut riding a horse on the moon, highly detailed, 4k, trending on artstation",
    "Hello, world!", "hello...world!!!", "?!?!", "((((masterpiece))))", "a--b__c", "$100 & 50%",
    "a|b~c", "q x qx xq", "quick brown fox", "jumps over the lazy dog",
    "unhappiness", "redrawing", "superpaintings", "microcats", "walkers talkers",
    "3.14159 2,718 1/2 10,000,000", "1st 2nd 3rd 4th", "0x1F 1e10 -5 +7",
    "café naïve résumé déjà vu", "CAFÉ NAÏVE", "Ångström", "Dvořák Škoda Łódź",
    "São Paulo, Curaçao", "Straße STRASSE straẞe ẞ", "İstanbul İ i̇ I ı", "ΟΔΟΣ οδος Σίσυφος",
    "ǅemal ǈ ǋ", "ﬁne ﬂow", "Ⅻ Ⓐ Ａ Ｂ ｆｆ", "\u212a \u2126 \u212b", "µ μ",
    "中文字符", "我爱北京天安门", "日本語のテキスト", "한국어 텍스트", "한국",
    "mix中英文mix", "山水画 painting", "龍 dragon", "㐀 𠀀 豈 \U0002a700 \U0002f800",
    "emoji 😀🎨🐱", "👍🏽 thumbs", "👨‍👩‍👧 family", "🇺🇸 flag", "❤️ heart", "🚀🚀🚀",
    "zero\u200bwidth", "zero\u200dwidth", "soft\u00adhyphen", "bom\ufeffhere", "a\u2060b",
    "combining e\u0301 e\u0300\u0301 a\u0308", "n\u0303o\u0302", "\u0301\u0301\u0301",
    "e\u0301\u0327 c\u0327\u0301", "a\u0345 \u1fb3 \u1fbc", "\u0915\u093c \u0958", "a\u20ddb",
    "control\x01chars\x7f", "c1\x85next\x9fline", "vt\x0bff\x0cfs\x1c", "tab\tsep\nnew\rret",
    "private\ue000use", "non\ufffechar \U0010ffff", "replace\ufffdment", "unassigned\u0378x",
    "unicode15\U0001fa75\U0001f6dc x\u0cf3y \U00031350",
    "[MASK]", "a [MASK] b", "a[MASK]b", "[CLS] hello [SEP]", "[cls] [sep] [mask]",
    "[[SEP]]", "[MASK", "MASK]", "[PAD][PAD][UNK]", "[UNK]", "[ MASK ]", "x[Mask]y",
    "\u201cquoted\u201d \u2018single\u2019 «guillemets» \u2014dash\u2013", "…ellipsis…",
    "¡Hola! ¿Qué tal?", "@user #hashtag http://example.com/path?q=1",
    "email@example.com", "C++ C# F#", "<html> </html>", "a\\b/c", "`code` ^caret^",
    "\"double\" 'single'", "semi;colon:colon", "under_score", "{braces} [brackets] (parens)",
    "Привет мир", "ПРИВЕТ", "Ελληνικά ΕΛΛΗΝΙΚΆ", "עברית", "العربية", "हिन्दी", "ไทย",
    "a" * 100, "a" * 101, "b" * 150, "ab" * 50, "e\u0301" * 100, "é" * 100, "é" * 101,
    "x" + "\u0301" * 200 + "y",
    ("a " * 100).strip(), "cat " * 80, ", " * 60, "中" * 90,
    " ".join(["supercalifragilistic"] * 20),
    "the quick brown fox jumps over the lazy dog " * 8,
    "cat cat cat", "CAT Cat cAt", "cats dogs", "thecat",
    "a" * 74 + " supercats", " ".join(["a"] * 74) + " supercats",
    " ".join(["a"] * 75) + " supercats", " ".join(["a"] * 73) + " supercats",
    "leading and trailing   ", "   leading", "multiple    spaces\t\t\ttabs\n\n\nlines",
    "naïveté", "œuvre", "Æsir", "ﬀ", "Ǆ", "\u0130\u0307", "\u03a3\u0301",
    "\u1100\u1161\u11a8", "\u1112\u1161\u11ab\u1100\u116e\u11a8", "\uac00\u11a8",
    # Spacing marks with nonzero combining classes: NFD reorders them.
    "a\U0001d16d\U0001d165b", "x\u302e\u1b44y \U0001d16d\u0301\U0001d172\u302f\u1715z",
    "\U00016ff0\u1b44\U0001d16e", "a\u302e\u0301\u1b44", "\u0915\u1b44\u302e\U0001d16d",
]

# Texts for basic.txt only: C strings cannot hold NUL.
WITH_NUL = ["a\x00b", "\x00", "null\x00\x00byte [MASK]\x00x", "\x00[CLS]\x00"]

POOL = {
    "word": None,
    "punct": list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + list("¡¿«»“”‘’—–…·•§¶†‡‰′″※‼⁇、。「」『』【】〜"),
    "digit": list("0123456789") + ["٣", "५", "๓", "①", "½", "²"],
    "space": [" ", "\t", "\n", "\r", "\u00a0", "\u3000", "\u2028", "\u2029", "\u2003", "\u202f"],
    "control": ["\x01", "\x0b", "\x0c", "\x1c", "\x1f", "\x7f", "\x85", "\x9f", "\u200b",
                "\u200c", "\u200d", "\u200e", "\u2060", "\ufeff", "\u00ad", "\ue000", "\ufffd",
                "\ufffe", "\U000e0001", "\u0378", "\U0001fa75"],
    "mark": ["\u0300", "\u0301", "\u0302", "\u0303", "\u0308", "\u030a", "\u0323", "\u0327",
             "\u0328", "\u0345", "\u034f", "\u0488", "\u20dd", "\u0903", "\u093c", "\u0e31",
             "\u302a", "\u1dc0", "\U0001d165", "\U0001d167"],
    "accent": list("àáâãäåÀÁÂÃÄÅçÇèéêëÈÉÊËìíîïñÑòóôõöÕÖùúûüÙÚÛÜýÿŸǅǈǋǲİẞßĲĳŉǰ"),
    "cjk": list("中日本山水火人大小天一二三龍㐀𠀀豈丽") + ["\U0002a700", "\U0002b740", "\U0002b820", "\U0002f800"],
    "kana": list("あいうえおかきくけこカタナがぱガ゙ｶﾞ"),
    "hangul": list("한국어가각") + ["\u1100", "\u1161", "\u11a8", "\u1112", "\u11ab", "\u116e"],
    "emoji": ["😀", "🎨", "🐱", "👍", "🏽", "🇺", "🇸", "🚀", "❤", "\ufe0f", "👨", "👩", "✨"],
    "greek": list("ΑΒΓΔΣσςΩωΆάΐ") + ["\u1f88", "\u1fbc", "\u2126"],
    "cyrillic": list("ПриветМИРЁёЙй"),
    "special": ["[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[mask]", "[MASK", "["],
    "compat": ["ﬁ", "ﬂ", "Ａ", "ｆ", "Ⅻ", "ⅻ", "Ⓐ", "ⓐ", "\u212a", "\u212b", "µ", "ŉ", "ǆ"],
}


def random_text(rng, words):
    kinds = list(POOL)
    weights = [30, 8, 5, 12, 4, 6, 6, 4, 3, 3, 4, 3, 2, 3, 3]
    parts = []
    for _ in range(rng.randint(1, 30)):
        kind = rng.choices(kinds, weights)[0]
        if kind == "word":
            w = rng.choice(words)
            r = rng.random()
            w = w.upper() if r < 0.15 else w.capitalize() if r < 0.3 else w
            parts.append(w)
        else:
            parts.append(rng.choice(POOL[kind]))
        if rng.random() < 0.5:
            parts.append(" ")
    return "".join(parts)


def random_marks(rng):
    """Base letters followed by runs of combining marks in random order:
    canonical reordering and composition (NFC), then stripping."""
    bases = list("aeiouncAEIOUNCzZ") + ["\u03b1", "\u0391", "\u1100", "\u1161", "\u0627"]
    marks = POOL["mark"] + ["\u0306", "\u0307", "\u030c", "\u031b", "\u0316", "\u0325",
                            "\u0653", "\u0654", "\u0655", "\u05b0", "\u0f71", "\u0f72",
                            "\u1b44", "\u302e", "\U0001d16d", "\U0001d16e", "\U00016ff0",
                            "\u034f", "\u0f39", "\u0e48", "\u0ecb", "\u0f74"]
    out = []
    for _ in range(rng.randint(1, 8)):
        out.append(rng.choice(bases))
        out.extend(rng.choice(marks) for _ in range(rng.randint(0, 5)))
        if rng.random() < 0.3:
            out.append(" ")
    return "".join(out)


def hexs(s):
    return s.encode("utf-8").hex()


def check_unicode_tables():
    """Python 3.11 vs utf8proc: the differences must be the ones unicode.c
    corrects (code points new in Unicode 15.0; U+0130's full lowercase)."""
    try:
        lib = ctypes.CDLL("libutf8proc.so.2")
    except OSError:
        print("libutf8proc.so.2 not found: skipping the utf8proc comparison")
        return
    lib.utf8proc_unicode_version.restype = ctypes.c_char_p
    new15, lower_diff = [], []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        if unicodedata.category(c) == "Cn" and lib.utf8proc_category(cp) != 0:
            new15.append(cp)
        if c.lower() != chr(lib.utf8proc_tolower(cp)):
            lower_diff.append(cp)
    ranges = []
    for cp in new15:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    src = open(os.path.join(ROOT, "src", "text", "unicode.c")).read()
    table = src[src.index("unicode15_new[][2]"):src.index("};", src.index("unicode15_new[][2]"))]
    c_ranges = [[int(a, 16), int(b, 16)] for a, b in re.findall(r"\{0x([0-9A-F]+), 0x([0-9A-F]+)\}", table)]
    print(f"utf8proc Unicode {lib.utf8proc_unicode_version().decode()} vs Python "
          f"{unicodedata.unidata_version}: {len(new15)} code points new in utf8proc "
          f"({len(ranges)} ranges), lower() differs at {[hex(c) for c in lower_diff]}")
    assert c_ranges == ranges, "src/text/unicode.c's unicode15_new table is out of date"
    assert lower_diff == [0x130], "lower() differs beyond U+0130: update ldm_text_lower"


def hangul_nfd(cp):
    """Unicode 3.12's arithmetic decomposition of a precomposed syllable."""
    s = cp - 0xAC00
    jamo = [0x1100 + s // 588, 0x1161 + (s % 588) // 28]
    if s % 28:
        jamo.append(0x11A7 + s % 28)
    return "".join(map(chr, jamo))


def check_nfc_premise():
    """src/text/basic.c skips BasicTokenizer's NFC and second lower(): after
    the per-character lower() pre-pass they change nothing: lower() is
    idempotent, the decomposition of a fixed point of lower() is made of
    fixed points, and a composite made of fixed points is one too, so NFC
    only builds fixed points (and NFD(NFC(x)) == NFD(x) by definition)."""
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        assert c.lower().lower() == c.lower(), hex(cp)
        d = unicodedata.normalize("NFD", c)
        fixed = all(ch.lower() == ch for ch in d)
        assert fixed or c.lower() != c, hex(cp)
        assert not fixed or c.lower() == c, hex(cp)


def codepoint_table(tok):
    rows = []  # [first, last, kind, extra]
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        got = tok.tokenize("a" + c + "a")
        extra = ""
        if got == ["a" + c + "a"]:
            kind = "same"
        elif got == ["aa"]:
            kind = "drop"
        elif got == ["a", "a"]:
            kind = "space"
        elif got == ["a", c, "a"]:
            kind = "split"
        elif 0xAC00 <= cp <= 0xD7A3 and got == ["a" + hangul_nfd(cp) + "a"]:
            kind = "hangul"
        elif len(got) == 1 and got[0][0] == "a" and got[0][-1] == "a":
            kind, extra = "map", hexs(got[0][1:-1])
        else:
            kind, extra = "tokens", hexs(" ".join(got))
        if not extra and rows and rows[-1][2] == kind and rows[-1][1] == cp - 1:
            rows[-1][1] = cp
        else:
            rows.append([cp, cp, kind, extra])
    return rows


def write_lines(name, lines):
    with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


def main():
    assert transformers.__version__ == "4.38.2", transformers.__version__
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(20240229)
    check_unicode_tables()
    check_nfc_premise()

    vocab = build_vocab(rng)
    vocab_path = os.path.join(OUT, "vocab.txt")
    write_lines("vocab.txt", vocab)
    tok = BertTokenizer(vocab_path, do_lower_case=True)

    words = list(dict.fromkeys(WORDS))
    texts = list(HAND)
    texts += [random_text(rng, words) for _ in range(160)]
    texts += [" ".join(random_text(rng, words) for _ in range(6)) for _ in range(10)]  # long
    texts = list(dict.fromkeys(texts))
    for t in texts:
        assert "\x00" not in t
        t.encode("utf-8")  # no lone surrogates

    enc = []
    for t in texts:
        ids = tok(t, padding="max_length", max_length=MAX_LENGTH, truncation=True)["input_ids"]
        assert len(ids) == MAX_LENGTH
        enc.append(f"{MAX_LENGTH}\t{hexs(t)}\t{' '.join(map(str, ids))}")
    for ml in (3, 5, 16, 128):  # other lengths (the API takes any)
        for t in texts[7:12] + [texts[-1]]:
            ids = tok(t, padding="max_length", max_length=ml, truncation=True)["input_ids"]
            assert len(ids) == ml
            enc.append(f"{ml}\t{hexs(t)}\t{' '.join(map(str, ids))}")
    write_lines("encode.txt", enc)

    # Tokens before WordPiece: transformers' own path with WordPiece as identity.
    basic_tok = BertTokenizer(vocab_path, do_lower_case=True)
    basic_tok.wordpiece_tokenizer.tokenize = lambda text: [text]
    basic_texts = texts + WITH_NUL + [random_marks(rng) for _ in range(400)]
    basic_texts = list(dict.fromkeys(basic_texts))
    basic = []
    for t in basic_texts:
        toks = basic_tok.tokenize(t)
        assert all(tk and " " not in tk for tk in toks)
        basic.append(f"{hexs(t)}\t{' '.join(hexs(tk) for tk in toks)}")
    write_lines("basic.txt", basic)

    rows = codepoint_table(basic_tok)
    write_lines("codepoints.txt",
                [f"{a:X} {b:X} {k}" + (f" {x}" if x else "") for a, b, k, x in rows])

    # CRLF / CR line ends, no final newline, a repeated token.
    crlf_tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "cat", "dog", "##s", "cat", "a"]
    ends = ["\r\n", "\r", "\n", "\r\n", "\r", "\r\n", "\n", "\r", "\r\n"]
    with open(os.path.join(OUT, "vocab_crlf.txt"), "w", newline="") as f:
        f.write("".join(tok_ + end for tok_, end in zip(crlf_tokens, ends)) + crlf_tokens[-1])
    ctok = BertTokenizer(os.path.join(OUT, "vocab_crlf.txt"), do_lower_case=True)
    assert len(ctok.vocab) == 9, ctok.vocab
    crlf = []
    for t in ["cat dogs a", "Cats [MASK] bird", "", "a a a a a a a a"]:
        ids = ctok(t, padding="max_length", max_length=8, truncation=True)["input_ids"]
        crlf.append(f"8\t{hexs(t)}\t{' '.join(map(str, ids))}")
    write_lines("crlf.txt", crlf)
    print(f"vocab {len(vocab)} lines, {len(enc)} encode tests, {len(basic)} basic tests, "
          f"{len(rows)} code point ranges")


if __name__ == "__main__":
    sys.exit(main())
