"""Goldens for the C port of the ldm-shapes evaluator (tests/eval/), written to
tests/fixtures/eval/.

The judge is tools/train/evaluate.py itself (its analyse() and score()), on
images made with tools/train/data.py:
- rendered training-style scenes of each caption kind (split "val", seed 0),
- the same scenes scored against a wrong caption (other colour, shape,
  count, relation, background), so every attribute is judged false somewhere,
- "model-like" degraded renders (blur, noise, colour shift: off-palette
  pixels, ragged edges, specks below MIN_AREA),
- hand-made hard cases: noise, blank, off-palette flat image, touching and
  diagonally touching shapes, shapes on the border, exact palette ties
  (pixel and border vote), an even-sized component (lower median),
  components of 29 and 30 pixels, equal-area objects (stable sort), a pair
  caption with one colour twice, a non-square image.

Writes
  NN_<name>.png       8-bit RGB with a tEXt "prompt" chunk = the caption
  judgments.json      {"min_area", "colours", "attributes", "files": [...],
                       "summary": evaluate.summarise(all), "per_kind": {...}}
                       (null where evaluate.py gives NaN); each file entry holds the
                       caption, its kind, evaluate.analyse()'s background and
                       objects (colour, shape, area, cx, cy, fill) and
                       evaluate.score()'s booleans
  heldout_captions.txt  evaluate.test_captions(seed 0, per_kind 32), one a line
                        (32 single, then 32 count, then 32 pair): the captions
                        the training removes, used by the model-quality test

data.py and evaluate.py are imported from tools/train/ of this repository
(the training branch's home); before that branch is merged, point PYTHONPATH
at a checkout that has them:

    PYTHONPATH=/work/wt/train/tools/train /opt/ldmref/bin/python tools/reference/make_eval_goldens.py
"""
import json
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from PIL.PngImagePlugin import PngInfo

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
import data  # noqa: E402
import evaluate  # noqa: E402

OUT = os.path.join(ROOT, "tests", "fixtures", "eval")
C = data.COLOURS


def scene(kind, background, objects, relation=None):
    """A scene dict as data.make_scene returns (boxes only where drawn)."""
    return dict(kind=kind, background=background, relation=relation,
                objects=[dict(colour=c, shape=s) for c, s in objects])


def val_scene(kind, i):
    return data.make_scene(data.scene_rng(0, "val", 1000 * data.KINDS.index(kind) + i), kind)


def degrade(img, rng, blur, sigma, shift):
    """Model-like output: blurred edges, per-pixel noise, a global colour shift."""
    im = Image.fromarray(img).filter(ImageFilter.GaussianBlur(blur))
    x = np.asarray(im, dtype=np.float64) + rng.normal(0, sigma, img.shape) + shift
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def canvas(bg, size=(64, 64)):
    img = Image.new("RGB", size, bg)
    return img, ImageDraw.Draw(img)


def cases():
    """(name, image uint8 [H, W, 3], scene) in file order."""
    out = []
    # 1. Rendered scenes: 6 single, 6 count, 8 pair.
    for kind, n in (("single", 6), ("count", 6), ("pair", 8)):
        for i in range(n):
            sc = val_scene(kind, i)
            out.append((f"{kind}{i}", data.render(sc), sc))
    # 2. Right image, wrong caption: each attribute false at least once.
    s, c, p = val_scene("single", 0), val_scene("count", 0), val_scene("pair", 0)
    wrong = [
        ("wrong_colour", s, dict(objects=[dict(s["objects"][0], colour=next(
            k for k in data.COLOUR_NAMES if k not in (s["objects"][0]["colour"], s["background"])))])),
        ("wrong_shape", s, dict(objects=[dict(s["objects"][0], shape=next(
            k for k in data.SHAPES if k != s["objects"][0]["shape"]))])),
        ("wrong_background", s, dict(background=next(
            k for k in data.COLOUR_NAMES if k not in (s["background"], s["objects"][0]["colour"])))),
        ("wrong_count", c, dict(objects=c["objects"] + [c["objects"][0]] if len(c["objects"]) == 2
                                else c["objects"][:2])),
        ("wrong_relation", p, dict(relation={"left of": "right of", "right of": "left of",
                                             "above": "below", "below": "above"}[p["relation"]])),
        ("swapped_pair", p, dict(objects=p["objects"][::-1])),
        ("pair_as_single", p, dict(kind="single", objects=p["objects"][:1], relation=None)),
    ]
    for name, sc, change in wrong:
        out.append((name, data.render(sc), dict(sc, **change)))
    # 3. Model-like degraded renders.
    rng = np.random.default_rng(1234)
    for kind, i, blur, sigma, shift in (
            ("single", 1, 1.0, 12, 0), ("single", 2, 1.8, 25, 20), ("count", 1, 1.2, 18, -15),
            ("count", 2, 2.5, 30, 0), ("pair", 1, 1.0, 15, 10), ("pair", 2, 2.0, 28, -20)):
        sc = val_scene(kind, i)
        out.append((f"degraded_{kind}{i}", degrade(data.render(sc), rng, blur, sigma, shift), sc))
    # 4. Hand-made hard cases.
    noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    out.append(("noise", noise, scene("single", "red", [("blue", "circle")])))
    img, _ = canvas(C["blue"])
    out.append(("blank", np.asarray(img), scene("single", "blue", [("red", "circle")])))
    img, _ = canvas((128, 128, 128))  # off-palette grey: nearest named colour decides
    out.append(("grey", np.asarray(img), scene("count", "white", [("black", "square")] * 2)))
    img, d = canvas(C["white"])  # two red squares sharing an edge: one component
    d.rectangle([10, 20, 25, 35], fill=C["red"])
    d.rectangle([26, 20, 41, 35], fill=C["red"])
    out.append(("touching_same", np.asarray(img), scene("count", "white", [("red", "square")] * 2)))
    img, d = canvas(C["black"])  # red and green touching: one component, median colour
    d.rectangle([8, 8, 27, 27], fill=C["red"])
    d.ellipse([28, 10, 45, 27], fill=C["green"])
    out.append(("touching_two_colours", np.asarray(img),
                scene("pair", "black", [("red", "square"), ("green", "circle")], "left of")))
    img, d = canvas(C["yellow"])  # corners touch diagonally only: two components
    d.rectangle([10, 10, 25, 25], fill=C["purple"])
    d.rectangle([26, 26, 41, 41], fill=C["purple"])
    out.append(("diagonal", np.asarray(img), scene("count", "yellow", [("purple", "square")] * 2)))
    img, d = canvas(C["green"])  # shape cut by the border, triangle at the bottom edge
    d.rectangle([-8, 5, 20, 30], fill=C["orange"])
    d.polygon([(45, 40), (30, 63), (60, 63)], fill=C["white"])
    out.append(("border_shapes", np.asarray(img),
                scene("pair", "green", [("orange", "square"), ("white", "triangle")], "above")))
    img, d = canvas(C["red"])  # a big square covering most of the border: wrong background
    d.rectangle([0, 0, 63, 40], fill=C["blue"])
    d.ellipse([20, 45, 35, 60], fill=C["yellow"])
    out.append(("border_majority", np.asarray(img), scene("single", "red", [("blue", "square")])))
    # Border vote tie: top half red rows, bottom half green (126 : 126 border pixels).
    a = np.zeros((64, 64, 3), np.uint8)
    a[:32] = C["green"]
    a[32:] = C["red"]
    a[20:44, 20:44] = C["blue"]
    out.append(("border_tie", a, scene("single", "green", [("blue", "square")])))
    # Pixel ties: exact midpoints between two palette colours go to the first name.
    a = np.zeros((64, 64, 3), np.uint8)
    mid = lambda x, y: tuple((np.array(C[x]) + np.array(C[y])) // 2)  # noqa: E731
    a[:] = (125, 100, 35)  # midpoint of red (220,30,30) and green (30,170,40): red
    a[16:40, 16:40] = mid("green", "blue")   # (30, 115, 130): green
    a[45:60, 40:60] = mid("blue", "purple")  # (85, 50, 200): blue
    out.append(("pixel_ties", a, scene("single", "red", [("green", "square")])))
    # Even-sized two-colour component: per-channel lower median.
    a = np.zeros((64, 64, 3), np.uint8)
    a[:] = C["black"]
    a[20:30, 10:30] = C["red"]      # 200 px red
    a[30:40, 10:30] = C["orange"]   # 200 px orange, touching: 400 px, median between
    out.append(("even_median", a, scene("single", "black", [("orange", "square")])))
    # Components of 29 (dropped) and 30 (kept) pixels.
    a = np.zeros((64, 64, 3), np.uint8)
    a[:] = C["white"]
    a[10:15, 10:16] = C["blue"]     # 30 px
    a[30, 5:34] = C["blue"]         # 29 px line
    a[45:50, 40:46] = C["blue"]     # 30 px
    out.append(("min_area", a, scene("count", "white", [("blue", "square")] * 2)))
    # Equal areas: the first in scan order stays first (stable sort).
    a = np.zeros((64, 64, 3), np.uint8)
    a[:] = C["purple"]
    a[5:20, 40:55] = C["green"]
    a[30:45, 5:20] = C["yellow"]
    out.append(("equal_area", a, scene("single", "purple", [("yellow", "square")])))
    # Same colour twice in a pair caption ("o is not oa").
    img, d = canvas(C["blue"])
    d.ellipse([5, 20, 25, 40], fill=C["red"])
    d.rectangle([38, 22, 55, 39], fill=C["red"])
    out.append(("pair_same_colour", np.asarray(img),
                scene("pair", "blue", [("red", "circle"), ("red", "square")], "left of")))
    img, d = canvas(C["blue"])  # only one object of that colour: colour false
    d.ellipse([5, 20, 25, 40], fill=C["red"])
    out.append(("pair_one_object", np.asarray(img),
                scene("pair", "blue", [("red", "circle"), ("red", "square")], "left of")))
    # Same centroid x: neither left of nor right of.
    img, d = canvas(C["white"])
    d.rectangle([20, 4, 39, 23], fill=C["black"])
    d.rectangle([20, 40, 39, 59], fill=C["orange"])
    out.append(("same_x", np.asarray(img),
                scene("pair", "white", [("black", "square"), ("orange", "square")], "left of")))
    # Three objects, one too small, one triangle among circles.
    img, d = canvas(C["black"])
    d.ellipse([4, 4, 24, 24], fill=C["yellow"])
    d.ellipse([36, 4, 56, 24], fill=C["yellow"])
    d.polygon([(30, 36), (18, 60), (42, 60)], fill=C["yellow"])
    d.rectangle([58, 58, 61, 61], fill=C["yellow"])
    out.append(("three_mixed", np.asarray(img), scene("count", "black", [("yellow", "circle")] * 3)))
    # fill exactly at the thresholds in 10x10 boxes: 0.63 triangle, 0.64 circle,
    # 0.88 circle, 0.89 square.
    a = np.zeros((64, 64, 3), np.uint8)
    a[:] = C["white"]
    for k, (full_rows, extra, col0) in enumerate(((6, 0, 3), (6, 0, 4), (8, 7, 1), (8, 8, 1))):
        y, x = 4 + 30 * (k // 2), 4 + 30 * (k % 2)
        b = np.zeros((10, 10), bool)
        b[:full_rows] = True
        b[full_rows, :extra] = True
        b[full_rows:, 0] = True        # column 0 down to row 9: the bbox stays 10x10
        b[full_rows:full_rows + col0, 0] = True
        if k == 0:
            b[0, 9] = False            # 63 pixels
        a[y:y + 10, x:x + 10][b] = C["green"]
    out.append(("fill_thresholds", a, scene("count", "white", [("green", "circle")] * 3)))
    # A non-square image (the rules do not depend on 64x64).
    img, d = canvas(C["orange"], (48, 40))
    d.ellipse([8, 8, 30, 30], fill=C["blue"])
    out.append(("nonsquare", np.asarray(img), scene("single", "orange", [("blue", "circle")])))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".png") or f.endswith(".json") or f.endswith(".txt"):
            os.remove(os.path.join(OUT, f))
    files, scores, kinds = [], [], []
    for k, (name, img, sc) in enumerate(cases()):
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        cap = data.caption_of(sc)
        fname = f"{k:02d}_{name}.png"
        info = PngInfo()
        info.add_text("prompt", cap)
        Image.fromarray(img).save(os.path.join(OUT, fname), pnginfo=info, optimize=True)
        back = np.asarray(Image.open(os.path.join(OUT, fname)).convert("RGB"))
        assert (back == img).all()
        a = evaluate.analyse(img)
        r = evaluate.score(sc, img)
        scores.append(r)
        kinds.append(sc["kind"])
        files.append(dict(file=fname, caption=cap, kind=sc["kind"], background=a["background"],
                          objects=a["objects"], score=r))
    # NaN (an attribute no image of a kind is judged on) is written as null: strict JSON.
    nan_to_none = lambda d: {k: (None if v != v else v) for k, v in d.items()}  # noqa: E731
    summary = nan_to_none(evaluate.summarise(scores))
    per_kind = {k: nan_to_none(evaluate.summarise([s for s, kk in zip(scores, kinds) if kk == k]))
                for k in data.KINDS}
    doc = dict(min_area=evaluate.MIN_AREA, colours=data.COLOURS, attributes=evaluate.ATTRS,
               files=files, summary=summary, per_kind=per_kind)
    with open(os.path.join(OUT, "judgments.json"), "w") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")
    with open(os.path.join(OUT, "heldout_captions.txt"), "w") as f:
        f.write("\n".join(evaluate.test_captions(0, 32)) + "\n")
    false = {k: sum(1 for s in scores if k in s and not s[k]) for k in evaluate.ATTRS}
    print(f"{len(files)} images; false judgments per attribute: {false}")
    print("summary:", json.dumps(summary))


if __name__ == "__main__":
    main()
