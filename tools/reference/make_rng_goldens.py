"""Golden fixtures for src/sample/rng.c (torch's CPU generator) and io/npy.c.

Writes, deterministically:

tests/fixtures/rng/
  index.txt        one line per torch call (see the header comment in it):
                   which generator/seed, which torch path, the shape, which
                   values of the output are stored, their file and the exact
                   float64 sum (math.fsum) of ALL values of the output.
  *.f32            raw little-endian float32: the stored values of one call.
                   Outputs up to 4096 values are stored whole; larger ones as
                   the first 4096, every 61st value after that, and the last 16.
  rand_seed0.f32   torch.rand(1000) for seed 0 (uniforms: must match exactly).
  u64_seed0.bin    1024 raw random64() draws for seed 0 (int64 random_ over
                   the full range returns them unchanged), little-endian u64.
  state_*.bin      torch's generator.get_state() bytes (5056) at a few points,
                   to check save/restore and the cached scalar normal.
  README.md        which torch path produced what, and how far the paths are
                   from each other (measured here, not assumed).

tests/fixtures/npy/
  squirrel_latents.npy  numpy.random.RandomState(0).standard_normal((1,4,32,32)),
                        float64 - the latents of diffusers' slow LDM test.
  squirrel_latents.f32  the same values as raw float32 (what the reader returns).
  small_v1_f4.npy, small_v2_f4.npy, small_v3_f4.npy, small_v1_f8.npy
                        one (2,3,4) array written with format versions 1.0, 2.0,
                        3.0 as '<f4' and 1.0 as '<f8'; small.f32 its raw values.
  scalar_f4.npy         a 0-d array (shape ()); empty_f4.npy shape (0, 3).
  README.md             what these are.

Torch has two float32 randn paths for >= 16 values (see src/sample/rng.h):
the default process here reports CPU capability AVX512, which runs torch's AVX2
kernel; the goldens marked "generic" come from a child process started with
ATEN_CPU_CAPABILITY=default. Run with /opt/ldmref/bin/python (torch 2.15.0).
"""

import math
import os
import struct
import subprocess
import sys

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RNG_DIR = os.path.join(ROOT, "tests", "fixtures", "rng")
NPY_DIR = os.path.join(ROOT, "tests", "fixtures", "npy")

NFIRST, STRIDE, NTAIL = 4096, 61, 16
SEEDS = [0, 1, 42, 2**32 + 5, 2**63 - 1, 2**64 - 1, 123456789]
SHAPES = [(1,), (15,), (16,), (17,), (4, 32, 32), (2, 4, 64, 64)]
# Call sequences on one generator: (case name, seed, [shapes]).
SEQUENCES = [
    ("seq17_4x8x8", 42, [(17,), (4, 8, 8)]),
    ("seq17_4x8x8", 0, [(17,), (4, 8, 8)]),
    # randn(3) leaves a cached scalar normal; randn(20) (block path) does not
    # touch it; randn(1) then returns it.
    ("seq3_20_1", 42, [(3,), (20,), (1,)]),
    ("seq3_20_1", 7, [(3,), (20,), (1,)]),
    # diffusers: latents, then DDIM variance noise of the same shape each step.
    ("ddim_like", 42, [(1, 4, 32, 32), (1, 4, 32, 32), (1, 4, 32, 32)]),
]
GENERIC_SEEDS = [0, 42]


def stored_indices(n):
    if n <= NFIRST:
        return list(range(n))
    idx = set(range(NFIRST)) | set(range(NFIRST, n, STRIDE)) | set(range(n - NTAIL, n))
    return sorted(idx)


def shape_str(shape):
    return "x".join(str(d) for d in shape)


def seed_str(seed):
    return str(seed)


def run_calls(seed, shapes):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g).numpy().reshape(-1) for shape in shapes]


def all_cases(generic):
    """(case, seed, [shapes]) for this process's path."""
    cases = []
    for seed in SEEDS:
        if generic and seed not in GENERIC_SEEDS:
            continue
        for shape in SHAPES:
            if generic and math.prod(shape) < 16:
                continue  # the scalar path does not depend on the CPU path
            cases.append(("single_" + shape_str(shape), seed, [shape]))
    for case, seed, shapes in SEQUENCES:
        if generic and seed not in GENERIC_SEEDS:
            continue
        cases.append((case, seed, shapes))
    return cases


def write_outputs(path_name):
    """Write the .f32 files of this process's path; return index lines."""
    lines = []
    for case, seed, shapes in all_cases(path_name == "generic"):
        outs = run_calls(seed, shapes)
        for call, (shape, out) in enumerate(zip(shapes, outs)):
            n = out.size
            fname = "%s_s%s_c%d.%s.f32" % (case, seed_str(seed), call, path_name)
            out[stored_indices(n)].astype("<f4").tofile(os.path.join(RNG_DIR, fname))
            fsum = math.fsum(float(v) for v in out)
            lines.append("%s %d %s %s %s %d %d %d %d %s %.17g" % (
                case, call, seed_str(seed), path_name, shape_str(shape), n,
                NFIRST, STRIDE, NTAIL, fname, fsum))
    return lines


def child_main():
    """Runs under ATEN_CPU_CAPABILITY=default: the generic path."""
    assert torch.backends.cpu.get_cpu_capability() == "DEFAULT"
    for line in write_outputs("generic"):
        print(line)
    # Full outputs for the comparison in README.md.
    for seed in SEEDS:
        out = run_calls(seed, [(2, 4, 64, 64)])[0]
        out.astype("<f4").tofile(os.path.join(RNG_DIR, "_cmp_%d.tmp" % (SEEDS.index(seed))))


def compare_paths():
    """Max differences between the two torch paths on the big shape, all seeds."""
    worst_rel, worst_abs, worst_ulp, ndiff, total = 0.0, 0.0, 0, 0, 0
    for i, seed in enumerate(SEEDS):
        a = run_calls(seed, [(2, 4, 64, 64)])[0].astype(np.float32)
        tmp = os.path.join(RNG_DIR, "_cmp_%d.tmp" % i)
        b = np.fromfile(tmp, dtype="<f4")
        os.remove(tmp)
        d = np.abs(a.astype(np.float64) - b.astype(np.float64))
        worst_abs = max(worst_abs, float(d.max()))
        worst_rel = max(worst_rel, float((d / np.maximum(1.0, np.abs(b))).max()))
        ia, ib = a.view(np.int32).astype(np.int64), b.view(np.int32).astype(np.int64)
        big = np.abs(b) >= 0.5  # ulps say little near the zeros of cos/sin
        worst_ulp = max(worst_ulp, int(np.abs(ia - ib)[big].max()))
        ndiff += int((a != b).sum())
        total += a.size
    return worst_rel, worst_abs, worst_ulp, ndiff, total


def write_rng_extras():
    g = torch.Generator().manual_seed(0)
    torch.rand(1000, generator=g).numpy().astype("<f4").tofile(os.path.join(RNG_DIR, "rand_seed0.f32"))
    g = torch.Generator().manual_seed(0)
    t = torch.empty(1024, dtype=torch.int64).random_(-2**63, None, generator=g)
    t.numpy().astype("<i8").tofile(os.path.join(RNG_DIR, "u64_seed0.bin"))
    # States: fresh; after randn(3) (a cached normal); after randn(3), randn(20).
    g = torch.Generator().manual_seed(42)
    g.get_state().numpy().tofile(os.path.join(RNG_DIR, "state_s42_fresh.bin"))
    torch.randn(3, generator=g)
    g.get_state().numpy().tofile(os.path.join(RNG_DIR, "state_s42_after3.bin"))
    torch.randn(20, generator=g)
    g.get_state().numpy().tofile(os.path.join(RNG_DIR, "state_s42_after3_20.bin"))
    # After 700 uniforms (past one twist) and no cache.
    g = torch.Generator().manual_seed(123456789)
    torch.rand(700, generator=g)
    g.get_state().numpy().tofile(os.path.join(RNG_DIR, "state_s123456789_after700.bin"))


def write_readme(stats):
    worst_rel, worst_abs, worst_ulp, ndiff, total = stats
    text = """# RNG goldens (torch %s)

Written by `tools/reference/make_rng_goldens.py`; do not edit by hand.
`index.txt` lists every torch call; its header says what each column is.

## Which torch path
- `avx2` lines: the default process, CPU capability `%s`. torch's AVX-512 build
  does not register a `normal_` kernel and falls back to the AVX2 one
  (`normal_fill_16` with avx_mathfun's `log256_ps`/`sincos256_ps`), so this
  is what `torch.randn` returns on any x86-64 CPU with AVX2 or AVX-512.
  `ldm_rng` reproduces it bit for bit (`LDM_RNG_NORMAL_AVX2`, the default).
- `generic` lines: a child process with `ATEN_CPU_CAPABILITY=default`: the
  scalar libm path (`logf`, `cosf`, `sinf`), what torch does without AVX2.
  `ldm_rng` reproduces it with glibc's libm (`LDM_RNG_NORMAL_GENERIC`).
- Outputs with fewer than 16 values use the scalar double-precision path on
  every CPU; they are recorded once, as `avx2`.

## How far apart the two torch paths are
On randn((2,4,64,64)) for all %d seeds (%d values): %d values differ
(%.1f%%); max |a-b| = %.3g; max |a-b|/max(1,|b|) = %.3g; max %d ulp
where |b| >= 0.5. The uniforms are identical; only the float log/sin/cos
differ. Note that the cross-path difference is right at DESIGN.md's 2e-6
bound: the other path does NOT reliably pass the tolerance, which is why
ldm_rng emulates torch's AVX2 kernel exactly instead of using libm.

## Tolerances in tests/sample/test_rng.c
- uniforms (`rand_seed0.f32`) and raw 64-bit draws: exact.
- normals: |a-b| <= 2e-6 * max(1, |b|) (DESIGN.md §3, with an absolute
  floor of 2e-6 below magnitude 1 because a relative bound is meaningless
  near the zeros of cos/sin). The test also reports how many values are not
  bit-identical; on glibc x86-64 that count is 0 for both paths.
- sums: |sum - fsum| <= 1e-9 * sum|x| over all values of an output.
""" % (torch.__version__, torch.backends.cpu.get_cpu_capability(), len(SEEDS), total,
       ndiff, 100.0 * ndiff / total, worst_abs, worst_rel, worst_ulp)
    with open(os.path.join(RNG_DIR, "README.md"), "w") as f:
        f.write(text)


def write_npy():
    os.makedirs(NPY_DIR, exist_ok=True)
    lat = np.random.RandomState(0).standard_normal((1, 4, 32, 32))
    assert lat.dtype == np.float64
    np.save(os.path.join(NPY_DIR, "squirrel_latents.npy"), lat)
    lat.astype("<f4").tofile(os.path.join(NPY_DIR, "squirrel_latents.f32"))
    small = (np.arange(24, dtype=np.float64).reshape(2, 3, 4) - 11.5) / 7.0
    small[0, 0, 0] = 1e-30  # f8 -> f4 rounding of a tiny value
    small[1, 2, 3] = -3.0e38
    for version in [(1, 0), (2, 0), (3, 0)]:
        with open(os.path.join(NPY_DIR, "small_v%d_f4.npy" % version[0]), "wb") as f:
            np.lib.format.write_array(f, small.astype("<f4"), version=version)
    with open(os.path.join(NPY_DIR, "small_v1_f8.npy"), "wb") as f:
        np.lib.format.write_array(f, small.astype("<f8"), version=(1, 0))
    small.astype("<f4").tofile(os.path.join(NPY_DIR, "small.f32"))
    np.save(os.path.join(NPY_DIR, "scalar_f4.npy"), np.array(2.5, dtype="<f4"))
    np.save(os.path.join(NPY_DIR, "empty_f4.npy"), np.zeros((0, 3), dtype="<f4"))
    with open(os.path.join(NPY_DIR, "README.md"), "w") as f:
        f.write("""# .npy fixtures (numpy %s)

Written by `tools/reference/make_rng_goldens.py`; do not edit by hand.

- `squirrel_latents.npy`: `numpy.random.RandomState(0).standard_normal((1, 4, 32, 32))`,
  float64: the latents diffusers' slow LDMTextToImagePipeline test passes in.
  `squirrel_latents.f32`: the same values rounded to float32, raw little-endian.
- `small_v{1,2,3}_f4.npy`, `small_v1_f8.npy`: one (2, 3, 4) array in format
  versions 1.0/2.0/3.0 as '<f4' and 1.0 as '<f8'; `small.f32` its float32 values.
- `scalar_f4.npy` (shape (), value 2.5), `empty_f4.npy` (shape (0, 3)).

Malformed files are built by tests/io/test_npy.c itself.
""" % np.__version__)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--generic-child":
        child_main()
        return
    assert torch.__version__.startswith("2.15.0"), torch.__version__
    os.makedirs(RNG_DIR, exist_ok=True)
    for f in os.listdir(RNG_DIR):
        if f.endswith(".f32") or f.endswith(".bin"):
            os.remove(os.path.join(RNG_DIR, f))
    lines = write_outputs("avx2")
    env = dict(os.environ, ATEN_CPU_CAPABILITY="default")
    child = subprocess.run([sys.executable, __file__, "--generic-child"], env=env,
                           check=True, capture_output=True, text=True)
    lines += child.stdout.split("\n")
    lines = [l for l in lines if l.strip()]
    with open(os.path.join(RNG_DIR, "index.txt"), "w") as f:
        f.write("# case call seed path shape numel nfirst stride ntail file fsum\n")
        f.write("# One torch.randn call per line; lines with the same case and seed are\n")
        f.write("# successive calls on ONE generator (call = 0, 1, ...), seeded once.\n")
        f.write("# Stored values: indices [0, nfirst) + [nfirst, numel) step stride +\n")
        f.write("# the last ntail (all of them when numel <= nfirst), ascending, no repeats.\n")
        f.write("# fsum: exactly rounded float64 sum of all numel values.\n")
        for l in lines:
            f.write(l + "\n")
    write_rng_extras()
    write_readme(compare_paths())
    write_npy()


if __name__ == "__main__":
    main()
