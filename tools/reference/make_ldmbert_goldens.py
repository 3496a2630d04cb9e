"""Goldens for the LDMBert text encoder (src/models/ldmbert.c).

Everything here comes from diffusers 0.27.2's LDMBertModel (the class of
CompVis/ldm-text2im-large-256's `bert` component, defined in
diffusers/pipelines/latent_diffusion/pipeline_latent_diffusion.py) running in
float32 under torch.no_grad() in eval mode, called as the pipeline calls it:
`bert(input_ids)[0]`, with no attention mask, so padding tokens are attended
to like any other token.

What it writes into tests/fixtures/ldmbert/ (deterministic: fixed seeds):

  wide/config.json, wide/model.safetensors
        a second random LDMBert saved by transformers' save_pretrained:
        d_model 48, 3 layers, 4 heads x head_dim 16 (inner dim 64 != d_model,
        so a q/k/v/out_proj shape mix-up shows), ffn 96, vocab 500,
        max_position_embeddings 77, scale_embedding true (stored by
        LDMBertConfig but never used by LDMBertEncoder.forward: the C side
        must ignore it too).
  act/config.json, act/model.safetensors
        a one-layer LDMBert (d_model 16, 2 heads x 8, ffn 32, vocab 40,
        max_position_embeddings 16) with fc1 and fc2 weights rescaled to
        std 1, so fc1's outputs span about -9..12 (gelu_10 clips at 10) and the
        FFN dominates the output: erf-GELU and the tanh approximations differ
        by 7e-5 relative L2 there, 7x the tolerance.
        The same weights are run once per activation_function of transformers'
        ACT2CLS; the C test swaps the config key. Its model.safetensors has no
        to_logits tensors (the pipeline never uses them; the loader must not
        require them), while tiny-ldm/bert and wide have them.
  index.txt
        one line per case: `<case> model=<folder> batch=B tokens=L d_model=D
        layers=N [act=<activation_function>]`, where <folder> is relative to
        tests/fixtures (tiny-ldm/bert is the tiny pipeline's text encoder from
        make_model_fixtures.py).
  <case>.ids.bin     int32 [B, L] input ids (little-endian)
  <case>.layer0.bin  float32 [B, L, D] hidden state after encoder layer 0
                     (before the final layer_norm), to localise errors
  <case>.out.bin     float32 [B, L, D] last_hidden_state

Cases:
  tiny_b2_l77   tiny-ldm/bert, the pipeline's CFG batch: "" || a prompt, both
                tokenized by the tiny pipeline's BertTokenizer with
                padding="max_length", max_length=77 ([CLS] ... [SEP] then
                [PAD]=0 up to 77), exactly as LDMTextToImagePipeline does
  tiny_b1_l13   tiny-ldm/bert, one prompt without padding (13 tokens)
  wide_b2_l77   wide, "" || prompt (77 tokens, padded), second row has random
                ids up to vocab_size - 1 = 499 in the middle
  wide_b3_l9    wide, three prompts padded to the longest (9 tokens)
  act_<name>    act, batch 1 x 10 tokens, activation_function=<name>

Run:  /opt/ldmref/bin/python tools/reference/make_ldmbert_goldens.py
"""

import json
import os
import shutil

import numpy as np
import torch
from diffusers.pipelines.latent_diffusion.pipeline_latent_diffusion import LDMBertConfig, LDMBertModel
from safetensors.torch import save_file
from transformers import BertTokenizer
from transformers.activations import ACT2CLS, ACT2FN

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(FIX, "ldmbert")

WIDE_CONFIG = dict(vocab_size=500, max_position_embeddings=77, encoder_layers=3, encoder_ffn_dim=96,
                   encoder_attention_heads=4, head_dim=16, d_model=48, activation_function="gelu",
                   scale_embedding=True, pad_token_id=0)
ACT_CONFIG = dict(vocab_size=40, max_position_embeddings=16, encoder_layers=1, encoder_ffn_dim=32,
                  encoder_attention_heads=2, head_dim=8, d_model=16, activation_function="gelu",
                  pad_token_id=0)
NOISE = 0.05


def perturb(model):
    """Default init + NOISE * randn, so LayerNorm gammas/betas and biases are
    not 1/0 (a skipped bias or swapped tensor shows in the numbers)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(NOISE * torch.randn_like(p))
    return model.eval()


def save_model(model, name, drop_logits=False):
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    model.save_pretrained(folder, safe_serialization=True)
    if drop_logits:
        # An encoder-only file: to_logits is never used, so a loader must not need it.
        sd = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("to_logits.")}
        save_file(sd, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
    cfg_path = os.path.join(folder, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg.pop("_name_or_path", None)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    return os.path.relpath(folder, FIX)


def run(model, ids):
    """(layer-0 hidden state, last_hidden_state) for ids [B, L]."""
    got = {}
    hook = model.model.layers[0].register_forward_hook(lambda m, i, o: got.__setitem__("l0", o[0]))
    with torch.no_grad():
        out = model(torch.tensor(ids, dtype=torch.long))[0]
    hook.remove()
    return got["l0"], out


def write_case(index, case, folder, model, ids, act=None):
    ids = np.asarray(ids, dtype=np.int32)
    layer0, out = run(model, ids)
    b, l = ids.shape
    d = model.config.d_model
    assert out.shape == (b, l, d) and out.dtype == torch.float32
    ids.astype("<i4").tofile(os.path.join(OUT, case + ".ids.bin"))
    layer0.numpy().astype("<f4").tofile(os.path.join(OUT, case + ".layer0.bin"))
    out.numpy().astype("<f4").tofile(os.path.join(OUT, case + ".out.bin"))
    line = "%s model=%s batch=%d tokens=%d d_model=%d layers=%d" % (
        case, folder, b, l, d, model.config.encoder_layers)
    if act:
        line += " act=%s" % act
    index.append(line)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".bin") or f == "index.txt":
            os.remove(os.path.join(OUT, f))
    index = []
    tok = BertTokenizer.from_pretrained(os.path.join(FIX, "tiny-ldm", "tokenizer"))
    prompt = "A painting of a squirrel eating a burger"

    def padded(prompts, **kw):
        return tok(prompts, truncation=True, return_tensors="np", **kw).input_ids

    # The tiny pipeline's own text encoder, as make_model_fixtures.py saved it.
    tiny_dir = os.path.join(FIX, "tiny-ldm", "bert")
    tiny = LDMBertModel.from_pretrained(tiny_dir).eval()
    cfg77 = padded(["", prompt], padding="max_length", max_length=77)
    assert list(cfg77[0, :3]) == [101, 102, 0] and cfg77[1, 0] == 101
    write_case(index, "tiny_b2_l77", os.path.relpath(tiny_dir, FIX), tiny, cfg77)
    short = padded([prompt + ", oil painting"])
    assert short.shape[1] < 16, short.shape
    write_case(index, "tiny_b1_l%d" % short.shape[1], os.path.relpath(tiny_dir, FIX), tiny, short)

    # Second config: inner dim != d_model, three layers, scale_embedding set.
    torch.manual_seed(1)
    wide = perturb(LDMBertModel(LDMBertConfig(**WIDE_CONFIG)))
    wide_folder = save_model(wide, "wide")
    wide = LDMBertModel.from_pretrained(os.path.join(FIX, wide_folder)).eval()
    ids = padded(["", prompt], padding="max_length", max_length=77).astype(np.int64)
    rng = np.random.RandomState(1)
    ids[1, 12:40] = rng.randint(104, 500, size=28)
    ids[1, 40] = 499
    write_case(index, "wide_b2_l77", wide_folder, wide, ids)
    three = padded(["a red fox", "the moon over a dark forest, trending on artstation",
                    "robot"], padding="longest")
    assert three.shape[1] < 16, three.shape
    write_case(index, "wide_b3_l%d" % three.shape[1], wide_folder, wide, three)

    # One layer, FFN-dominated, once per activation of ACT2CLS.
    torch.manual_seed(2)
    act = perturb(LDMBertModel(LDMBertConfig(**ACT_CONFIG)))
    with torch.no_grad():
        act.model.layers[0].fc1.weight.mul_(1.0 / act.model.layers[0].fc1.weight.std())
        act.model.layers[0].fc2.weight.mul_(1.0 / act.model.layers[0].fc2.weight.std())
    act_folder = save_model(act, "act", drop_logits=True)
    act_ids = np.array([[1, 7, 39, 12, 4, 25, 2, 0, 0, 0]], dtype=np.int64)
    outs = {}
    for name in sorted(ACT2CLS):
        act.model.layers[0].activation_fn = ACT2FN[name]
        outs[name] = write_case(index, "act_" + name, act_folder, act, act_ids, act=name)
    # A case can only catch a wrong activation if the outputs differ.
    names = sorted(outs)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            rel = (outs[a] - outs[b]).norm() / outs[b].norm()
            if rel < 1e-4:
                print("note: act_%s and act_%s differ by only %.2e" % (a, b, rel))
    with torch.no_grad():
        x = act.model.embed_tokens(torch.tensor(act_ids)) + act.model.embed_positions.weight[:10]
        x = x + act.model.layers[0].self_attn(act.model.layers[0].self_attn_layer_norm(x))[0]
        pre = act.model.layers[0].fc1(act.model.layers[0].final_layer_norm(x))
    print("act: fc1 output range [%.2f, %.2f]" % (pre.min(), pre.max()))

    with open(os.path.join(OUT, "index.txt"), "w") as f:
        f.write("\n".join(index) + "\n")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(OUT) for fn in fns)
    print("wrote %d cases, %d bytes in %s" % (len(index), total, OUT))


if __name__ == "__main__":
    main()
