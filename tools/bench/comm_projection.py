"""Project the UNet's communication per denoising step to 8-256 ranks for
256², 512² and 1024² images (docs/parallelism.md §10 (d)).

    python3 tools/bench/comm_projection.py [UNET_CONFIG.json]
        (default: models/ldm-text2im-large-256-config/unet/config.json)

Layout for R ranks making one image, as ldm's default plan chooses
(mpi/grid.h): the CFG split (2), then the spatial split up to the smallest
latent row count it must cut (latent side / 8), then the channel split up to
8 (Pc must divide the 32 GroupNorm groups and the 8 heads); ranks left over
become data-parallel groups (other images: no communication).

Network (stated, not measured): 100 Gb/s per rank (12.5e9 B/s), 2 µs
latency, every message crossing the network (pessimistic: a node's ranks
share memory, and the channel split belongs inside a node). Bytes from
comm_formula.py (checked against ldm's measured bytes, §10 (c)); time by its
ring model. Compute per step and rank = this VM's measured 1-rank real-size
step at 256² (1.19 s on 2 cores = 2.38 core-seconds) × (side/256)² / (ranks
per image), one core per rank: it ignores self-attention's quadratic growth,
so compute is a lower bound and the communication share an upper bound.
"""
import json
import os
import sys

import comm_formula

BW, LAT = 12.5e9, 2e-6
CORE_S_256 = 2.38


def layout(ranks, side, cfg):
    rows = side // 8 // 2 ** (len(cfg["block_out_channels"]) - 1)
    c = 2 if ranks >= 2 else 1
    left = ranks // c
    ps = max(d for d in range(1, min(rows, left) + 1) if left % d == 0)
    left //= ps
    pc = max(d for d in (1, 2, 4, 8) if d <= left and left % d == 0)
    return ranks // (c * ps * pc), c, pc, ps


def main():
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        root, "models", "ldm-text2im-large-256-config", "unet", "config.json")
    cfg = json.load(open(path))
    print("| image | ranks | G × cfg × Pc × Ps | MB/step/rank | comm s/step | compute s/step | comm share |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for side in (256, 512, 1024):
        for ranks in (8, 16, 32, 64, 128, 256):
            g, c, pc, ps = layout(ranks, side, cfg)
            B, _, T = comm_formula.per_step(cfg, side, pc, ps, c, (BW, LAT))
            comm = sum(T.values())
            comp = CORE_S_256 * (side / 256) ** 2 / (c * pc * ps)
            print(f"| {side}² | {ranks} | {g} × {c} × {pc} × {ps} | {sum(B.values()) / 1e6:.1f} | "
                  f"{comm:.3f} | {comp:.3f} | {comm / (comm + comp):.0%} |")


if __name__ == "__main__":
    main()
