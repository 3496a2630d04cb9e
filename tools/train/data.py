"""Synthetic captioned scenes for the small ldm-shapes model.

Every image is 64x64 RGB: a flat named background colour with one to three flat shapes
(circle, square, triangle) in other named colours.  Three caption kinds:

  single:  "a red circle on a blue background"
  count:   "two red circles on a blue background"   (two or three identical objects)
  pair:    "a red circle left of a green square on a blue background"
           (relations: "left of", "right of", "above", "below")

Everything is deterministic from an integer seed: scene i of split s uses
numpy.random.default_rng([seed, split_id, i]).  No antialiasing (pure palette pixels), so
the pixel evaluator (evaluate.py) scores the training images themselves at ~100%.
"""

import numpy as np
from PIL import Image, ImageDraw

SIZE = 64

# Names and RGB values; chosen to be far apart in RGB so "nearest named colour" is robust.
COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 60, 220),
    "yellow": (245, 220, 30),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "purple": (140, 40, 180),
    "orange": (250, 140, 20),
}
COLOUR_NAMES = list(COLOURS)
SHAPES = ["circle", "square", "triangle"]
PLURAL = {"circle": "circles", "square": "squares", "triangle": "triangles"}
COUNT_WORDS = {2: "two", 3: "three"}


def article(word):
    return "an" if word[0] in "aeiou" else "a"
RELATIONS = ["left of", "right of", "above", "below"]
KINDS = ["single", "count", "pair"]
SPLITS = {"train": 0, "val": 1, "test": 2}

# Every word any caption can contain (the tokenizer vocabulary is built from this).
WORDS = sorted(set(COLOUR_NAMES + SHAPES + list(PLURAL.values()) +
                   ["a", "an", "two", "three", "on", "background", "left", "right", "of",
                    "above", "below"]))


def caption_of(scene):
    """Caption string of a scene dict (see make_scene)."""
    bg = scene["background"]
    objs = scene["objects"]
    if scene["kind"] == "single":
        o = objs[0]
        return f"{article(o['colour'])} {o['colour']} {o['shape']} on a {bg} background"
    if scene["kind"] == "count":
        o = objs[0]
        n = len(objs)
        return f"{COUNT_WORDS[n]} {o['colour']} {PLURAL[o['shape']]} on a {bg} background"
    a, b = objs
    return (f"{article(a['colour'])} {a['colour']} {a['shape']} {scene['relation']}"
            f" {article(b['colour'])} {b['colour']} {b['shape']}"
            f" on a {bg} background")


def _boxes_apart(b1, b2, gap):
    return (b1[2] + gap <= b2[0] or b2[2] + gap <= b1[0] or
            b1[3] + gap <= b2[1] or b2[3] + gap <= b1[1])


def _place(rng, size, region):
    """Random top-left corner so that a size x size box fits in region (x0,y0,x1,y1)."""
    x0, y0, x1, y1 = region
    x = int(rng.integers(x0, max(x0, x1 - size) + 1))
    y = int(rng.integers(y0, max(y0, y1 - size) + 1))
    return (x, y, x + size, y + size)


def make_scene(rng, kind=None):
    """Draw a random scene description.  Returns dict(kind, background, objects, relation);
    objects are dicts(colour, shape, box=(x0,y0,x1,y1) exclusive)."""
    if kind is None:
        kind = KINDS[int(rng.integers(0, 3))]
    cols = list(rng.permutation(len(COLOUR_NAMES)))
    bg = COLOUR_NAMES[cols[0]]
    m = 2  # margin from the image border
    if kind == "single":
        s = int(rng.integers(18, 31))
        objs = [dict(colour=COLOUR_NAMES[cols[1]], shape=SHAPES[int(rng.integers(0, 3))],
                     box=_place(rng, s, (m, m, SIZE - m, SIZE - m)))]
        return dict(kind=kind, background=bg, objects=objs, relation=None)
    if kind == "count":
        n = int(rng.integers(2, 4))
        colour = COLOUR_NAMES[cols[1]]
        shape = SHAPES[int(rng.integers(0, 3))]
        while True:  # rejection sampling of non-touching boxes (gap >= 4 px)
            lo, hi = (14, 23) if n == 2 else (12, 19)
            boxes = []
            for _ in range(n):
                s = int(rng.integers(lo, hi))
                for _try in range(50):
                    b = _place(rng, s, (m, m, SIZE - m, SIZE - m))
                    if all(_boxes_apart(b, o, 4) for o in boxes):
                        boxes.append(b)
                        break
            if len(boxes) == n:
                break
        objs = [dict(colour=colour, shape=shape, box=b) for b in boxes]
        return dict(kind=kind, background=bg, objects=objs, relation=None)
    # pair: A <relation> B.  Put A and B in opposite halves along the relation's axis.
    rel = RELATIONS[int(rng.integers(0, 4))]
    sa, sb = int(rng.integers(14, 25)), int(rng.integers(14, 25))
    half = SIZE // 2
    first = (m, m, half - 1, SIZE - m)     # left half
    second = (half + 1, m, SIZE - m, SIZE - m)
    if rel in ("above", "below"):
        first = (m, m, SIZE - m, half - 1)  # top half
        second = (m, half + 1, SIZE - m, SIZE - m)
    if rel in ("left of", "above"):
        ra, rb = first, second
    else:
        ra, rb = second, first
    a = dict(colour=COLOUR_NAMES[cols[1]], shape=SHAPES[int(rng.integers(0, 3))],
             box=_place(rng, sa, ra))
    b = dict(colour=COLOUR_NAMES[cols[2]], shape=SHAPES[int(rng.integers(0, 3))],
             box=_place(rng, sb, rb))
    return dict(kind=kind, background=bg, objects=[a, b], relation=rel)


def render(scene):
    """uint8 array [64, 64, 3] of a scene (no antialiasing)."""
    img = Image.new("RGB", (SIZE, SIZE), COLOURS[scene["background"]])
    d = ImageDraw.Draw(img)
    for o in scene["objects"]:
        x0, y0, x1, y1 = o["box"]
        c = COLOURS[o["colour"]]
        if o["shape"] == "circle":
            d.ellipse([x0, y0, x1 - 1, y1 - 1], fill=c)
        elif o["shape"] == "square":
            d.rectangle([x0, y0, x1 - 1, y1 - 1], fill=c)
        else:  # upright isosceles triangle filling its box
            d.polygon([((x0 + x1 - 1) / 2, y0), (x0, y1 - 1), (x1 - 1, y1 - 1)], fill=c)
    return np.asarray(img, dtype=np.uint8)


def scene_rng(seed, split, i):
    return np.random.default_rng([seed, SPLITS[split], i])


def make_dataset(seed, split, n):
    """(images uint8 [n,64,64,3], captions list[str], scenes list[dict])."""
    imgs = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    caps, scenes = [], []
    for i in range(n):
        sc = make_scene(scene_rng(seed, split, i))
        imgs[i] = render(sc)
        caps.append(caption_of(sc))
        scenes.append(sc)
    return imgs, caps, scenes


def write_vocab(path):
    """bert-base-uncased-like layout: [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3, [MASK]=4, then the
    caption words, then single characters and ##-continuations so that any lower-case
    ASCII text tokenizes without [UNK]."""
    toks = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    punct = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    for t in chars + punct + ["##" + c for c in chars]:
        if t not in toks:
            toks.append(t)
    with open(path, "w") as f:
        f.write("\n".join(toks) + "\n")
    return toks


if __name__ == "__main__":
    import sys
    imgs, caps, _ = make_dataset(0, "train", 16)
    for c in caps:
        print(c)
    grid = imgs.reshape(4, 4, SIZE, SIZE, 3).transpose(0, 2, 1, 3, 4).reshape(4 * SIZE, 4 * SIZE, 3)
    Image.fromarray(grid).resize((512, 512), Image.NEAREST).save(sys.argv[1] if len(sys.argv) > 1 else "/tmp/data_grid.png")
