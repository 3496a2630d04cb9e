"""Build the tiny random LDM text-to-image model that the C tests load.

What it writes (all deterministic: torch.manual_seed(SEED) before each part):

  tests/fixtures/tiny-ldm/        a complete diffusers pipeline folder saved by
                                  LDMTextToImagePipeline.save_pretrained(
                                  safe_serialization=True): model_index.json,
                                  bert/{config.json, model.safetensors},
                                  unet/ and vqvae/{config.json,
                                  diffusion_pytorch_model.safetensors},
                                  scheduler/scheduler_config.json,
                                  tokenizer/{vocab.txt, tokenizer_config.json,
                                  special_tokens_map.json}
  tests/fixtures/tiny-ldm/expected_tensors.txt
                                  every tensor of every component as torch
                                  holds it (see EXPECTED FORMAT below)
  tests/fixtures/tiny-ldm-bin/    the same pipeline saved with
                                  safe_serialization=False (PyTorch .bin
                                  files: pytorch_model.bin,
                                  diffusion_pytorch_model.bin)
  tests/fixtures/weights/         weight files for the reader tests:
    vqvae_fp16.safetensors, vqvae_bf16.safetensors
                                  the vqvae state dict cast by torch to fp16 /
                                  bf16; expected values are torch's cast back
                                  to fp32 (expected_vqvae_fp16.txt, _bf16.txt)
    mixed.safetensors             small tensors of F64/F32/F16/BF16/I64/scalar/
                                  empty shapes (expected_mixed.txt)
    strided.bin                   torch.save of non-contiguous views (a
                                  transpose, a slice with a storage offset, an
                                  expand with stride 0, a permuted 4-D tensor)
                                  for the .bin gather path (expected_strided.txt)
    bert-sharded/                 the bert component saved by transformers with
                                  max_shard_size, in both forms
                                  (model.safetensors.index.json +
                                  model-0000k-of-0000n.safetensors, and
                                  pytorch_model.bin.index.json + shards)

Why: the C side must read the weights of diffusers' own classes, in both
formats, and each loaded value is checked against torch's numbers, never
against our own output. Later work (UNet/VAE/LDMBert numerics, the pipeline)
reuses this same tiny model, so every config is a dict at the top of this file
and the classes are exactly those of CompVis/ldm-text2im-large-256.

Size: the UNet uses block_out_channels (16, 32) rather than (32, 64): that
keeps both pipeline folders near 2.5 MB in total (the (32, 64) UNet alone is
3.2 MB per copy). Every code path of the real model is still present
(CrossAttnDownBlock2D, DownBlock2D, UNetMidBlock2DCrossAttn, UpBlock2D,
CrossAttnUpBlock2D, Transformer2DModel with conv proj_in, AutoencoderKL with
attention in the mid block, LDMBert with to_logits).

Weights: the default init plus 0.05 * randn noise on every parameter, so norm
weights/biases are not all 1/0 (a loader that mixes two tensors up, or a model
that skips a bias, shows in the numbers).

EXPECTED FORMAT (text, one tensor a line, '#' starts a comment line):
  <component> <name> <dtype> <ndim> <d0> ... <dk-1> <sum> <asum> <wsum> <v0> <v1> <v2> <v3>
with sums in float64 over the tensor flattened in C order after conversion to
float32: sum = sum(x), asum = sum(|x|), wsum = sum(x[i] * (1 + i % 7)); v0..v3
are the first four values (fewer when the tensor is smaller; "-" pads).
All numbers printed with 17 significant digits.

Run:  /opt/ldmref/bin/python tools/reference/make_model_fixtures.py
"""

import json
import os
import shutil
import sys

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, LDMTextToImagePipeline, UNet2DConditionModel
from diffusers.pipelines.latent_diffusion.pipeline_latent_diffusion import LDMBertConfig, LDMBertModel
from transformers import BertTokenizer

SEED = 0
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")

# The exact configs of the tiny model (the keys are diffusers'/transformers').
TINY_UNET_CONFIG = dict(
    sample_size=8,
    in_channels=4,
    out_channels=4,
    block_out_channels=(16, 32),
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    layers_per_block=1,
    cross_attention_dim=32,
    attention_head_dim=4,  # diffusers' misnomer: the number of heads
    norm_num_groups=8,
    flip_sin_to_cos=True,
    freq_shift=0,
)
TINY_VQVAE_CONFIG = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
    up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
    block_out_channels=(8, 16),
    layers_per_block=2,
    latent_channels=4,
    norm_num_groups=4,
    sample_size=16,
)
TINY_BERT_CONFIG = dict(
    # vocab_size is set from the vocabulary written below
    max_position_embeddings=77,
    encoder_layers=2,
    encoder_ffn_dim=64,
    encoder_attention_heads=2,
    head_dim=16,
    d_model=32,
    activation_function="gelu",
    pad_token_id=0,
)
# As in CompVis/ldm-text2im-large-256's scheduler_config.json.
DDIM_CONFIG = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    clip_sample=False,
    set_alpha_to_one=False,
    steps_offset=1,
)
NOISE = 0.05

# Vocabulary in BertTokenizer's layout: [PAD] at 0, [unused*], then [UNK]
# [CLS] [SEP] [MASK] at 100..103 as in bert-base-uncased, punctuation, digits,
# letters, their ## forms, whole words and ## suffixes.
WORDS = """
a an the of and in on with at by to for from is are was it its this that
painting photo photograph picture drawing sketch portrait illustration render
oil watercolor digital art artwork style detailed beautiful high quality
squirrel cat dog horse bird fish cow sheep bear fox owl lion tiger rabbit mouse
eating drinking sitting standing running flying swimming riding reading playing
burger pizza apple banana cake coffee tea bread cheese soup
red green blue yellow black white orange purple pink brown gray golden silver
big small tiny large old young happy sad dark light bright night day morning
house city street forest mountain river lake sea ocean beach sky cloud sun moon
star tree flower garden field desert snow rain storm fire water stone castle
man woman child boy girl person people king queen knight robot astronaut wizard
car bike boat ship train plane rocket space planet earth world room table chair
hat glasses book lamp window door road bridge tower wall
very by under over near behind front top bottom left right
van gogh monet picasso trending artstation unreal engine
""".split()
SUFFIXES = "s es ed ing er est ly y ful ness less ion al ic ous ive".split()


def build_vocab():
    vocab = ["[PAD]"] + ["[unused%d]" % i for i in range(99)]
    vocab += ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    vocab += [str(d) for d in range(10)]
    vocab += [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab += ["##" + chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab += ["##" + str(d) for d in range(10)]
    seen = set(vocab)
    for w in WORDS + ["##" + s for s in SUFFIXES]:
        if w not in seen:
            seen.add(w)
            vocab.append(w)
    return vocab


def perturb(model):
    """Default init + NOISE * randn on every parameter (see docstring)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(NOISE * torch.randn_like(p))
    return model.eval()


def make_pipeline(tmp):
    torch.manual_seed(SEED)
    vocab = build_vocab()
    vocab_path = os.path.join(tmp, "vocab.txt")
    with open(vocab_path, "w") as f:
        f.write("\n".join(vocab) + "\n")
    tokenizer = BertTokenizer(vocab_path, do_lower_case=True, model_max_length=512)

    torch.manual_seed(SEED)
    unet = perturb(UNet2DConditionModel(**TINY_UNET_CONFIG))
    torch.manual_seed(SEED + 1)
    vqvae = perturb(AutoencoderKL(**TINY_VQVAE_CONFIG))
    torch.manual_seed(SEED + 2)
    bert = perturb(LDMBertModel(LDMBertConfig(vocab_size=len(vocab), **TINY_BERT_CONFIG)))
    scheduler = DDIMScheduler(**DDIM_CONFIG)
    return LDMTextToImagePipeline(vqvae=vqvae, bert=bert, tokenizer=tokenizer, unet=unet,
                                  scheduler=scheduler)


def fmt(v):
    return "%.17g" % v


def tensor_line(component, name, t):
    x = t.detach().to(torch.float32).contiguous().reshape(-1).to(torch.float64).numpy()
    w = 1.0 + (np.arange(x.size) % 7)
    first = [fmt(v) for v in x[:4]] + ["-"] * max(0, 4 - x.size)
    dtype = str(t.dtype).replace("torch.", "")
    return " ".join([component, name, dtype, str(t.dim())] + [str(d) for d in t.shape] +
                    [fmt(x.sum()), fmt(np.abs(x).sum()), fmt((x * w).sum())] + first)


def write_expected(path, entries, header):
    with open(path, "w") as f:
        f.write("# " + header + "\n")
        f.write("# component name dtype ndim shape... sum asum wsum v0 v1 v2 v3 "
                "(float64 over the fp32 values, C order; see make_model_fixtures.py)\n")
        for comp, name, t in entries:
            f.write(tensor_line(comp, name, t) + "\n")


def save_folder(pipe, out, safe):
    if os.path.exists(out):
        shutil.rmtree(out)
    pipe.save_pretrained(out, safe_serialization=safe)


def make_weights_dir(pipe):
    out = os.path.join(FIX, "weights")
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    from safetensors.torch import save_file

    sd = pipe.vqvae.state_dict()
    for tag, dt in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        cast = {k: v.to(dt).contiguous() for k, v in sd.items()}
        save_file(cast, os.path.join(out, "vqvae_%s.safetensors" % tag), metadata={"format": "pt"})
        write_expected(os.path.join(out, "expected_vqvae_%s.txt" % tag),
                       [("vqvae", k, v) for k, v in cast.items()],
                       "vqvae state dict cast by torch to %s; values are torch's cast back to fp32" % tag)

    torch.manual_seed(SEED + 3)
    mixed = {
        "f64": torch.randn(3, 5, dtype=torch.float64),
        "f32": torch.randn(2, 3, 4),
        "f16": torch.randn(7).to(torch.float16),
        "bf16": torch.randn(4, 2).to(torch.bfloat16),
        "f16_special": torch.tensor([6e-8, 65504.0, float("inf"), -2.0, 0.0, -0.0], dtype=torch.float16),
        "i64": torch.arange(6, dtype=torch.int64).reshape(2, 3),
        "scalar": torch.tensor(3.25),
        "empty": torch.zeros(0, 4),
    }
    save_file(mixed, os.path.join(out, "mixed.safetensors"))
    write_expected(os.path.join(out, "expected_mixed.txt"),
                   [("mixed", k, v) for k, v in mixed.items() if v.is_floating_point()],
                   "mixed.safetensors: float tensors converted by torch to fp32")

    torch.manual_seed(SEED + 4)
    base = torch.randn(6, 10)
    big = torch.randn(64)
    four = torch.randn(2, 3, 4, 5)
    strided = {
        "transposed": base.t(),                       # [10, 6], strides (1, 10)
        "row_slice": base[2:5],                       # storage offset 20
        "col_slice": base[:, 3:7],                    # [6, 4], strides (10, 1), offset 3
        "offset_view": big[10:40].view(5, 6),         # storage offset 10
        "expanded": torch.randn(3, 1).expand(3, 4),   # stride 0 along dim 1
        "permuted": four.permute(2, 0, 3, 1),         # [4, 2, 5, 3]
        "contiguous": torch.randn(3, 4),
        "half_t": torch.randn(5, 3).to(torch.float16).t(),
    }
    torch.save(strided, os.path.join(out, "strided.bin"))
    write_expected(os.path.join(out, "expected_strided.txt"),
                   [("strided", k, v) for k, v in strided.items()],
                   "strided.bin: non-contiguous views saved by torch.save")

    shard_dir = os.path.join(out, "bert-sharded")
    pipe.bert.save_pretrained(shard_dir, safe_serialization=True, max_shard_size="80KB")
    pipe.bert.save_pretrained(shard_dir, safe_serialization=False, max_shard_size="80KB")


def main():
    torch.set_num_threads(1)
    tmp = os.path.join(FIX, ".tmp-make-model")
    os.makedirs(tmp, exist_ok=True)
    pipe = make_pipeline(tmp)

    safe_dir = os.path.join(FIX, "tiny-ldm")
    bin_dir = os.path.join(FIX, "tiny-ldm-bin")
    save_folder(pipe, safe_dir, True)
    save_folder(pipe, bin_dir, False)
    entries = []
    for comp in ("bert", "unet", "vqvae"):
        for k, v in getattr(pipe, comp).state_dict().items():
            entries.append((comp, k, v))
    header = ("tiny LDMTextToImagePipeline state dicts from torch (seed %d, diffusers, transformers %s, torch %s)"
              % (SEED, __import__("transformers").__version__, torch.__version__))
    write_expected(os.path.join(safe_dir, "expected_tensors.txt"), entries, header)
    make_weights_dir(pipe)
    shutil.rmtree(tmp)

    for d in (safe_dir, bin_dir, os.path.join(FIX, "weights")):
        total = 0
        for dp, _, fns in os.walk(d):
            for fn in fns:
                total += os.path.getsize(os.path.join(dp, fn))
        print("%s: %.1f KB" % (os.path.relpath(d, ROOT), total / 1024.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
