"""docs/parallelism.md §5 summed over the UNet of a config: the bytes one rank
hands to MPI per UNet forward (= per denoising step), as ldm's timers count
them (halo rows sent, its own block of an allgather, the whole buffer of an
allreduce or of the CFG exchange), and how many collective operations of
each class that takes (for a latency term).

    python3 tools/bench/comm_formula.py UNET_CONFIG.json SIZE PC PS CFG
        prints kB per step: all | halo | allgather | allreduce | sendrecv
        (CFG = 2 with --cfg-parallel, else 1; SIZE = image side in pixels)

tools/bench/parallel_study.sh compares this with the measured bytes (they
agree in every class, docs/parallelism.md §10); tools/bench/comm_projection.py
uses it for larger rank counts. Standard library only.
"""
import json
import sys

F = 4.0  # bytes per float
CLASSES = ("halo", "allgather", "allreduce", "sendrecv")


def per_step(cfg, size, pc, ps, cfgsplit, net=None):
    """(bytes, ops, seconds): dicts by class for one UNet forward on one rank.
    seconds (with net = (bytes/s, latency s); else zeros) by a ring model:
    halo and sendrecv b/BW + a; allgather of an own block b over P ranks
    (P-1)(b/BW + a); allreduce of m over P ranks 2(P-1)(m/P/BW + a)."""
    n = 1 if cfgsplit == 2 else 2            # batch of the UNet call (CFG 2)
    ch = cfg["block_out_channels"]
    L = len(ch)
    lpb = cfg.get("layers_per_block", 2)
    G = cfg.get("norm_num_groups", 32)
    down, up = cfg["down_block_types"], cfg["up_block_types"]
    tdim = cfg.get("time_embedding_dim") or 4 * ch[0]
    h = w = size // 8
    B = dict.fromkeys(CLASSES, 0.0)
    N = dict.fromkeys(CLASSES, 0)
    T = dict.fromkeys(CLASSES, 0.0)
    bw, lat = net if net else (float("inf"), 0.0)

    def add(k, v, p=2):
        B[k] += v
        N[k] += 1
        if k == "allgather":
            T[k] += (p - 1) * (v / bw + lat)
        elif k == "allreduce":
            T[k] += 2 * (p - 1) * (v / p / bw + lat)
        else:
            T[k] += v / bw + lat

    def conv3(hh, ww, cin, stride=1):
        # spatial: one halo row to each neighbour; a stride-2 conv (padding 1)
        # needs only the row above, so only the upper rank of a boundary sends.
        if ps > 1:  # rows sent per rank, mean: 2(Ps-1)/Ps (stride 1), (Ps-1)/Ps (stride 2)
            rows = (2.0 if stride == 1 else 1.0) * (ps - 1) / ps
            add("halo", n * ww * cin * F * rows)

    def gather_out(pixels, cout):            # output split + allgather: own block
        if pc > 1 and cout >= pc:
            add("allgather", n * pixels * cout / pc * F, pc)

    def reduce_full(pixels, cout):           # input split (Megatron pair): allreduce
        if pc > 1:
            add("allreduce", n * pixels * cout * F, pc)

    def gnorm():
        if ps > 1:
            add("allreduce", n * G * 3 * 8, ps)

    def resnet(hh, ww, cin, cout):
        gnorm(); conv3(hh, ww, cin)                                   # norm1, conv1
        gnorm(); conv3(hh, ww, cout); reduce_full(hh * ww, cout)      # norm2, conv2
        if cin != cout:
            gather_out(hh * ww, cout)                                 # 1x1 shortcut

    def transformer(hh, ww, c):
        lt = hh * ww
        gnorm(); gather_out(lt, c)                                    # norm, proj_in
        if ps > 1:                                                    # attn1: K and V of the strip
            add("allgather", 2 * n * lt / ps * c * F, ps)
        reduce_full(lt, c); reduce_full(lt, c); reduce_full(lt, c)    # to_out ×2, ff.net.2
        gather_out(lt, c)                                             # proj_out

    gather_out(1, tdim); gather_out(1, tdim)                          # time embedding
    conv3(h, w, cfg.get("in_channels", 4)); gather_out(h * w, ch[0])  # conv_in
    hh, ww, c = h, w, ch[0]
    for i in range(L):
        for _ in range(lpb):
            resnet(hh, ww, c, ch[i]); c = ch[i]
            if down[i].startswith("CrossAttn"):
                transformer(hh, ww, c)
        if i < L - 1:
            conv3(hh, ww, c, stride=2); hh, ww = (hh + 1) // 2, (ww + 1) // 2
            gather_out(hh * ww, c)
    resnet(hh, ww, c, c); transformer(hh, ww, c); resnet(hh, ww, c, c)  # mid block
    rc = list(reversed(ch))
    for i in range(L):
        out_c = rc[i]; in_c = rc[min(i + 1, L - 1)]; prev = c
        for j in range(lpb + 1):
            skip = in_c if j == lpb else out_c
            rin = prev if j == 0 else out_c
            resnet(hh, ww, rin + skip, out_c)
            if up[i].startswith("CrossAttn"):
                transformer(hh, ww, out_c)
        c = out_c
        if i < L - 1:
            hh, ww = hh * 2, ww * 2                                   # power-of-two latents
            conv3(hh, ww, c); gather_out(hh * ww, c)
    out = cfg.get("out_channels", 4)
    gnorm(); conv3(hh, ww, c); gather_out(hh * ww, out)
    if cfgsplit == 2:
        add("sendrecv", 1 * out * h * w * F)                          # eps exchange, batch 1
    return B, N, T


def main():
    cfg = json.load(open(sys.argv[1]))
    size, pc, ps, cfgsplit = (int(a) for a in sys.argv[2:6])
    B, _, _ = per_step(cfg, size, pc, ps, cfgsplit)
    tot = sum(B.values())
    print(" | ".join("%.1f" % (v / 1000) for v in [tot] + [B[k] for k in CLASSES]))


if __name__ == "__main__":
    main()
