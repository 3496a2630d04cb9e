"""Golden fixtures for the compute kernels in src/kernels/.

Writes tests/fixtures/kernels/:
  index.txt            one line per case: `<case> key=value ...` (sizes and
                       options the C test needs to call the kernel)
  <case>.<tensor>.bin  raw little-endian float32, row-major in the layout
                       torch uses (activations NCHW, conv weights
                       [Cout, Cin, kh, kw], linear weights [out, in],
                       attention q/k/v/out as [B, L, heads*head_dim])

Every output comes from torch.nn.functional or from diffusers' own functions
(get_timestep_embedding, the GEGLU formula of diffusers.models.activations),
never from our C code. Inputs are torch.randn with a fixed seed, so a rerun
reproduces the files byte for byte on the same torch build (torch 2.15.0,
CPU capability recorded in index.txt). Each case seeds torch with the CRC-32
of its name, so adding a case leaves the others' bytes unchanged.

Run: /opt/ldmref/bin/python tools/reference/make_kernel_goldens.py
"""
import math
import os
import zlib

import torch
import torch.nn.functional as F
from diffusers.models.embeddings import get_timestep_embedding

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "tests", "fixtures", "kernels")


class Writer:
    def __init__(self, out_dir):
        self.out_dir = os.path.normpath(out_dir)
        os.makedirs(self.out_dir, exist_ok=True)
        for name in os.listdir(self.out_dir):
            if name.endswith(".bin") or name == "index.txt":
                os.remove(os.path.join(self.out_dir, name))
        self.lines = []
        self.total = 0

    def case(self, name, params, tensors):
        fields = [name] + [f"{k}={v}" for k, v in params.items()]
        self.lines.append(" ".join(fields))
        for tname, t in tensors.items():
            data = t.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
            with open(os.path.join(self.out_dir, f"{name}.{tname}.bin"), "wb") as f:
                f.write(data)
            self.total += len(data)

    def finish(self):
        header = [
            "# kernel goldens from tools/reference/make_kernel_goldens.py",
            f"# torch {torch.__version__} cpu capability {torch.backends.cpu.get_cpu_capability()}",
        ]
        with open(os.path.join(self.out_dir, "index.txt"), "w") as f:
            f.write("\n".join(header + self.lines) + "\n")
        print(f"wrote {len(self.lines)} cases, {self.total} bytes of tensors to {self.out_dir}")


def seed(name):
    torch.manual_seed(zlib.crc32(name.encode()))


def randn(*shape, scale=1.0, offset=0.0):
    return torch.randn(*shape, dtype=torch.float32) * scale + offset


def conv_cases(w):
    # (name, n, cin, cout, h, w, k, stride, (top, bottom, left, right))
    specs = [
        ("conv3x3_s1_p1", 2, 5, 7, 9, 11, 3, 1, (1, 1, 1, 1)),
        ("conv3x3_s1_p1_c32", 2, 32, 48, 12, 12, 3, 1, (1, 1, 1, 1)),
        ("conv3x3_s2_p0101", 2, 4, 6, 10, 13, 3, 2, (0, 1, 0, 1)),   # Downsample2D padding=0
        ("conv3x3_s2_p0101_odd", 1, 16, 16, 9, 7, 3, 2, (0, 1, 0, 1)),
        ("conv3x3_s2_p1", 1, 6, 5, 11, 8, 3, 2, (1, 1, 1, 1)),       # Downsample2D padding=1
        ("conv1x1", 2, 8, 3, 5, 7, 1, 1, (0, 0, 0, 0)),
        ("conv1x1_c64", 1, 64, 32, 6, 5, 1, 1, (0, 0, 0, 0)),
        # 64 channels, 16x16: where AUTO picks Winograd
        ("conv3x3_s1_p1_c64_16x16", 1, 64, 64, 16, 16, 3, 1, (1, 1, 1, 1)),
    ]
    for name, n, cin, cout, h, wd, k, s, (pt, pb, pl, pr) in specs:
        seed(name)
        x = randn(n, cin, h, wd)
        weight = randn(cout, cin, k, k, scale=1.0 / math.sqrt(cin * k * k))
        bias = randn(cout, scale=0.1)
        xp = F.pad(x, (pl, pr, pt, pb))  # torch pads (left, right, top, bottom)
        y = F.conv2d(xp, weight, bias, stride=s, padding=0)
        w.case(name, dict(n=n, cin=cin, cout=cout, h=h, w=wd, k=k, stride=s,
                          pt=pt, pb=pb, pl=pl, pr=pr, oh=y.shape[2], ow=y.shape[3]),
               dict(x=x, weight=weight, bias=bias, y=y))


def linear_cases(w):
    for name, m, k, n, has_bias in [("linear_7x24x10", 7, 24, 10, True),
                                    ("linear_77x64x48", 77, 64, 48, True),
                                    ("linear_nobias_33x40x17", 33, 40, 17, False)]:
        seed(name)
        x = randn(m, k)
        weight = randn(n, k, scale=1.0 / math.sqrt(k))
        bias = randn(n, scale=0.1) if has_bias else None
        y = F.linear(x, weight, bias)
        tensors = dict(x=x, weight=weight, y=y)
        if has_bias:
            tensors["bias"] = bias
        w.case(name, dict(m=m, k=k, n=n, bias=int(has_bias)), tensors)


def norm_cases(w):
    for name, n, c, h, wd, g, eps, offset in [("groupnorm_c32_g8", 2, 32, 5, 6, 8, 1e-5, 0.0),
                                              ("groupnorm_c64_g32", 1, 64, 4, 4, 32, 1e-6, 0.0),
                                              ("groupnorm_c12_g3_offset", 2, 12, 7, 3, 3, 1e-6, 3.0),
                                              ("groupnorm_c6_g1", 1, 6, 3, 5, 1, 1e-5, -1.0),
                                              # NHWC: several channel chunks per batch entry
                                              ("groupnorm_c640_g32", 2, 640, 3, 3, 32, 1e-5, 0.5),
                                              # NHWC: groups wider than one chunk (cpg 260)
                                              ("groupnorm_c520_g2", 1, 520, 2, 3, 2, 1e-6, 0.0)]:
        seed(name)
        x = randn(n, c, h, wd, scale=2.0, offset=offset)
        gamma = randn(c, scale=0.5, offset=1.0)
        beta = randn(c, scale=0.5)
        y = F.group_norm(x, g, gamma, beta, eps)
        w.case(name, dict(n=n, c=c, h=h, w=wd, groups=g, eps=repr(eps)),
               dict(x=x, gamma=gamma, beta=beta, y=y, y_silu=F.silu(y)))
    for name, m, d, eps, offset in [("layernorm_5x40", 5, 40, 1e-5, 0.0),
                                    ("layernorm_77x64_offset", 77, 64, 1e-5, 5.0),
                                    ("layernorm_3x1280", 3, 1280, 1e-6, 0.0)]:
        seed(name)
        x = randn(m, d, scale=1.5, offset=offset)
        gamma = randn(d, scale=0.5, offset=1.0)
        beta = randn(d, scale=0.5)
        y = F.layer_norm(x, (d,), gamma, beta, eps)
        w.case(name, dict(m=m, d=d, eps=repr(eps)), dict(x=x, gamma=gamma, beta=beta, y=y))


def elementwise_cases(w):
    seed("activations")
    x = randn(1000, scale=3.0)
    x[:8] = torch.tensor([0.0, -0.0, 1e-8, -1e-8, 9.0, -9.0, 30.0, -30.0])
    w.case("activations", dict(n=x.numel()),
           dict(x=x, silu=F.silu(x), gelu=F.gelu(x)))  # gelu: approximate="none" (erf)
    seed("geglu")
    m, dim = 6, 20
    h = randn(m, 2 * dim, scale=2.0)
    hidden, gate = h.chunk(2, dim=-1)  # diffusers GEGLU.forward after self.proj
    w.case("geglu", dict(m=m, dim=dim), dict(x=h, y=hidden * F.gelu(gate)))
    seed("add_div")
    a, b = randn(2, 3, 4, 5), randn(2, 3, 4, 5)
    w.case("add_div", dict(n=a.numel(), divisor=repr(1.5)),
           dict(a=a, b=b, sum=a + b, y=(a + b) / 1.5))
    seed("channel_bias")
    hs, temb = randn(2, 6, 3, 4), randn(2, 6)
    w.case("channel_bias", dict(n=2, c=6, h=3, w=4),
           dict(x=hs, bias=temb, y=hs + temb[:, :, None, None],
                y_nhwc=(hs + temb[:, :, None, None]).permute(0, 2, 3, 1)))
    seed("permute")
    p = randn(2, 3, 4, 5)
    w.case("permute", dict(n=2, c=3, h=4, w=5), dict(x=p, y=p.permute(0, 2, 3, 1)))
    seed("concat")
    a, b = randn(2, 3, 4, 5), randn(2, 2, 4, 5)
    y = torch.cat([a, b], dim=1)  # UNet up blocks: torch.cat([hidden, res_hidden], dim=1)
    w.case("concat", dict(n=2, ca=3, cb=2, h=4, w=5),
           dict(a=a, b=b, y=y, a_nhwc=a.permute(0, 2, 3, 1), b_nhwc=b.permute(0, 2, 3, 1),
                y_nhwc=y.permute(0, 2, 3, 1)))


def upsample_cases(w):
    for name, n, c, h, wd in [("upsample_2x3x5x7", 2, 3, 5, 7), ("upsample_1x4x1x1", 1, 4, 1, 1)]:
        seed(name)
        x = randn(n, c, h, wd)
        y = F.interpolate(x, scale_factor=2.0, mode="nearest")  # diffusers Upsample2D
        w.case(name, dict(n=n, c=c, h=h, w=wd),
               dict(x=x, y=y, x_nhwc=x.permute(0, 2, 3, 1), y_nhwc=y.permute(0, 2, 3, 1)))


def timestep_cases(w):
    t = torch.tensor([0, 1, 37, 500, 999], dtype=torch.int64)
    tf = torch.tensor([0.0, 0.5, 261.25, 999.0], dtype=torch.float32)
    for name, ts, dim, flip, shift in [("temb_320_flip_s0", t, 320, True, 0),
                                       ("temb_32_noflip_s1", t, 32, False, 1),
                                       ("temb_33_flip_s1", t, 33, True, 1),
                                       ("temb_64_noflip_s0_frac", tf, 64, False, 0)]:
        y = get_timestep_embedding(ts, dim, flip_sin_to_cos=flip, downscale_freq_shift=shift)
        w.case(name, dict(n=ts.numel(), dim=dim, flip=int(flip), shift=shift),
               dict(t=ts.to(torch.float32), y=y))


def attention_cases(w):
    # q/k/v/out are stored as [B, L, heads*head_dim] (what to_q/to_k/to_v produce).
    for name, b, heads, lq, lk, d in [("attn_self_2x2x70x8", 2, 2, 70, 70, 8),
                                      ("attn_cross_2x4x64x77x10", 2, 4, 64, 77, 10),
                                      ("attn_large_1x1x300x520x16", 1, 1, 300, 520, 16),
                                      ("attn_self_1x4x133x40", 1, 4, 133, 133, 40)]:
        seed(name)
        q = randn(b, heads, lq, d)
        k = randn(b, heads, lk, d)
        v = randn(b, heads, lk, d)
        y = F.scaled_dot_product_attention(q, k, v)  # scale 1/sqrt(d), as diffusers' AttnProcessor2_0

        def flat(t):
            return t.permute(0, 2, 1, 3).reshape(t.shape[0], t.shape[2], heads * d)
        w.case(name, dict(b=b, heads=heads, lq=lq, lk=lk, d=d),
               dict(q=flat(q), k=flat(k), v=flat(v), y=flat(y)))


def main():
    torch.set_num_threads(1)
    w = Writer(OUT)
    conv_cases(w)
    linear_cases(w)
    norm_cases(w)
    elementwise_cases(w)
    upsample_cases(w)
    timestep_cases(w)
    attention_cases(w)
    w.finish()


if __name__ == "__main__":
    main()
