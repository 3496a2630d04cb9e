"""Evaluate an ldm-shapes pipeline folder with a deterministic pixel analysis.

  /opt/ldmref/bin/python evaluate.py --model models/ldm-shapes --out /tmp/eval \
      [--guidance 1 3 5 7] [--seeds 2] [--per-kind 32] [--grid docs/images/ldm-shapes-samples.png]

Held-out captions: the captions of `--per-kind` scenes of each kind from split "test"
(data.py, seed 0); train_ldm.py removes every training scene with one of these captions.
Each caption is generated with diffusers' LDMTextToImagePipeline, 50 DDIM steps, eta 0,
with generator torch.Generator().manual_seed(s) for s in 0..seeds-1, at every guidance.

Scoring rules (simple on purpose, so that a C evaluator can port them exactly):
  1. Every pixel gets the nearest named colour (Euclidean RGB distance to data.COLOURS;
     ties go to the first name in data.COLOURS order).
  2. Background = the most frequent name over the 252 border pixels (outermost ring)
     (ties: first in COLOURS order).
  3. Foreground = pixels whose name differs from the background's.  Objects = its
     4-connected components with at least MIN_AREA pixels.
  4. Object colour = nearest name of the per-channel median (lower median for an even
     count) of the component's RGB values.
  5. Object shape from fill = area / (bbox width * bbox height): fill < 0.64 triangle,
     fill < 0.89 circle, else square.
  6. Per caption kind:
     single  "a C S on a B background": count ok iff exactly 1 object; colour / shape
             judged on the largest object.
     count   "two|three C Ss on ...": count ok iff exactly n objects; colour / shape ok
             iff there is at least one object and every object has C / S.
     pair    "a C1 S1 REL a C2 S2 on ...": A = the largest object coloured C1, B = the
             largest other object coloured C2; colour ok iff both exist; shape ok iff both
             exist and have S1 / S2; placement ok iff both exist and the centroids compare
             the right way (left of: xA < xB, right of: xA > xB, above: yA < yB, below:
             yA > yB; image y grows downwards); count ok iff exactly 2 objects.
     background ok iff step 2 gives B.
  Accuracies are means over the images where the attribute applies (placement: pair only).
"""

import argparse
import json
import os

import numpy as np

import data

MIN_AREA = 30
PALETTE = np.array([data.COLOURS[c] for c in data.COLOUR_NAMES], dtype=np.float64)


def test_scenes(seed=0, per_kind=32):
    """Held-out scenes: per_kind of each kind from split "test", distinct captions."""
    out, seen, i = [], set(), 0
    for kind in data.KINDS:
        got = 0
        while got < per_kind:
            sc = data.make_scene(np.random.default_rng([seed, data.SPLITS["test"], i]), kind)
            i += 1
            c = data.caption_of(sc)
            if c in seen:
                continue
            seen.add(c)
            out.append(sc)
            got += 1
    return out


def test_captions(seed=0, per_kind=32):
    return [data.caption_of(s) for s in test_scenes(seed, per_kind)]


def name_map(img):
    """[64,64] int index into COLOUR_NAMES of the nearest named colour."""
    d = ((img[:, :, None, :].astype(np.float64) - PALETTE[None, None]) ** 2).sum(-1)
    return d.argmin(-1)


def components(mask):
    """4-connected components: list of (ys, xs) index arrays, in scan order."""
    h, w = mask.shape
    lab = np.zeros((h, w), dtype=np.int32)
    comps = []
    for y in range(h):
        for x in range(w):
            if mask[y, x] and not lab[y, x]:
                lab[y, x] = len(comps) + 1
                stack, pix = [(y, x)], []
                while stack:
                    cy, cx = stack.pop()
                    pix.append((cy, cx))
                    for ny, nx in ((cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)):
                        if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not lab[ny, nx]:
                            lab[ny, nx] = lab[y, x]
                            stack.append((ny, nx))
                p = np.array(pix)
                comps.append((p[:, 0], p[:, 1]))
    return comps


def analyse(img):
    """dict(background=name, objects=[dict(colour, shape, area, cx, cy, fill)])"""
    names = name_map(img)
    border = np.concatenate([names[0], names[-1], names[1:-1, 0], names[1:-1, -1]])
    bg = int(np.bincount(border, minlength=len(PALETTE)).argmax())
    objs = []
    for ys, xs in components(names != bg):
        area = len(ys)
        if area < MIN_AREA:
            continue
        px = img[ys, xs].astype(np.int64)
        med = np.sort(px, axis=0)[(area - 1) // 2]
        col = int(((PALETTE - med) ** 2).sum(-1).argmin())
        fill = area / ((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1))
        shape = "triangle" if fill < 0.64 else ("circle" if fill < 0.89 else "square")
        objs.append(dict(colour=data.COLOUR_NAMES[col], shape=shape, area=area,
                         cx=float(xs.mean()), cy=float(ys.mean()), fill=float(fill)))
    objs.sort(key=lambda o: -o["area"])  # stable: equal areas keep scan order
    return dict(background=data.COLOUR_NAMES[bg], objects=objs)


def score(scene, img):
    """dict attribute -> bool for one generated image of scene's caption."""
    a = analyse(img)
    objs, want = a["objects"], scene["objects"]
    r = dict(background=a["background"] == scene["background"])
    if scene["kind"] == "single":
        r["count"] = len(objs) == 1
        r["colour"] = bool(objs) and objs[0]["colour"] == want[0]["colour"]
        r["shape"] = bool(objs) and objs[0]["shape"] == want[0]["shape"]
    elif scene["kind"] == "count":
        r["count"] = len(objs) == len(want)
        r["colour"] = bool(objs) and all(o["colour"] == want[0]["colour"] for o in objs)
        r["shape"] = bool(objs) and all(o["shape"] == want[0]["shape"] for o in objs)
    else:
        wa, wb = want
        oa = next((o for o in objs if o["colour"] == wa["colour"]), None)
        ob = next((o for o in objs if o["colour"] == wb["colour"] and o is not oa), None)
        both = oa is not None and ob is not None
        r["count"] = len(objs) == 2
        r["colour"] = both
        r["shape"] = both and oa["shape"] == wa["shape"] and ob["shape"] == wb["shape"]
        ok = False
        if both:
            rel = scene["relation"]
            ok = {"left of": oa["cx"] < ob["cx"], "right of": oa["cx"] > ob["cx"],
                  "above": oa["cy"] < ob["cy"], "below": oa["cy"] > ob["cy"]}[rel]
        r["placement"] = bool(ok)
    return r


ATTRS = ["background", "colour", "shape", "count", "placement"]


def summarise(scores):
    out = {}
    for k in ATTRS:
        v = [s[k] for s in scores if k in s]
        out[k] = float(np.mean(v)) if v else float("nan")
    return out


def generate(pipe, captions, seeds, guidance, chunk=64):
    import torch
    imgs = []
    jobs = [(c, s) for s in seeds for c in captions]
    for i in range(0, len(jobs), chunk):
        part = jobs[i:i + chunk]
        gens = [torch.Generator().manual_seed(s) for _, s in part]
        out = pipe([c for c, _ in part], num_inference_steps=50, guidance_scale=guidance,
                   eta=0.0, generator=gens, output_type="np").images
        imgs.append((out * 255).round().astype(np.uint8))
    return np.concatenate(imgs), jobs


def save_grid(path, imgs, caps, cols=4, scale=3):
    from PIL import Image, ImageDraw
    s = data.SIZE * scale
    th = 30
    rows = (len(imgs) + cols - 1) // cols
    g = Image.new("RGB", (cols * s, rows * (s + th)), (255, 255, 255))
    d = ImageDraw.Draw(g)
    for i, (im, c) in enumerate(zip(imgs, caps)):
        x, y = (i % cols) * s, (i // cols) * (s + th)
        g.paste(Image.fromarray(im).resize((s, s), Image.NEAREST), (x, y))
        words, lines, cur = c.split(), [], ""
        for w in words:
            if len(cur) + len(w) + 1 > 32:
                lines.append(cur)
                cur = w
            else:
                cur = (cur + " " + w).strip()
        lines.append(cur)
        d.multiline_text((x + 3, y + s + 1), "\n".join(lines[:2]), fill=(0, 0, 0), spacing=1)
    g.save(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--guidance", type=float, nargs="+", default=[1, 3, 5, 7])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--per-kind", type=int, default=32)
    ap.add_argument("--grid", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--self-test", action="store_true",
                    help="score the rendered test scenes themselves (should be ~100%)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    scenes = test_scenes(0, a.per_kind)
    caps = [data.caption_of(s) for s in scenes]
    if a.self_test:
        res = summarise([score(s, data.render(s)) for s in scenes])
        print(json.dumps(res))
        tr = [data.make_scene(data.scene_rng(0, "train", i)) for i in range(3000)]
        print("train 3000:", json.dumps(summarise([score(s, data.render(s)) for s in tr])))
        return
    import torch
    from diffusers import LDMTextToImagePipeline
    torch.set_num_threads(a.threads)
    pipe = LDMTextToImagePipeline.from_pretrained(a.model)
    pipe.set_progress_bar_config(disable=True)
    ids = pipe.tokenizer(caps, padding="max_length", max_length=77).input_ids
    assert not any(pipe.tokenizer.unk_token_id in x for x in ids), "[UNK] in a caption"
    results, best, all_imgs = {}, None, {}
    seeds = list(range(a.seeds))
    for g in a.guidance:
        imgs, jobs = generate(pipe, caps, seeds, g)
        sc = [score(scenes[i % len(scenes)], im) for i, im in enumerate(imgs)]
        per_kind = {k: summarise([s for j, s in enumerate(sc) if scenes[j % len(scenes)]["kind"] == k])
                    for k in data.KINDS}
        results[str(g)] = dict(all=summarise(sc), per_kind=per_kind)
        all_imgs[g] = imgs
        print(f"guidance {g}: " + " ".join(f"{k} {v:.3f}" for k, v in results[str(g)]["all"].items()),
              flush=True)
        np.save(os.path.join(a.out, f"images_g{g:g}.npy"), imgs)
    # best guidance = highest mean over the five attributes
    best = max(a.guidance, key=lambda g: np.mean(list(results[str(g)]["all"].values())))
    results["best_guidance"] = best
    results["n_images_per_guidance"] = len(caps) * len(seeds)
    with open(os.path.join(a.out, "eval.json"), "w") as f:
        json.dump(results, f, indent=1)
    lines = ["| guidance | " + " | ".join(ATTRS) + " |", "|---" * (len(ATTRS) + 1) + "|"]
    for g in a.guidance:
        r = results[str(g)]["all"]
        lines.append(f"| {g:g} | " + " | ".join(f"{100 * r[k]:.1f}%" for k in ATTRS) + " |")
    open(os.path.join(a.out, "eval_table.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"best guidance {best}")
    if a.grid:
        # 16 tiles: the first 6 single, 5 count, 5 pair captions at seed 0, best guidance
        k = a.per_kind
        pick = list(range(0, min(k, 6))) + list(range(k, k + min(k, 5))) + \
            list(range(2 * k, 2 * k + min(k, 5)))
        save_grid(a.grid, [all_imgs[best][i] for i in pick], [caps[i] for i in pick])


if __name__ == "__main__":
    main()
