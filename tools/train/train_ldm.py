"""Stage 2: train LDMBert + UNet2DConditionModel of ldm-shapes on frozen VAE latents.

Needs the stage-1 VAE in <scratch>/vae (train_vae.py).  Steps:
  1. vocab.txt from data.WORDS (+ characters, so no text ever maps to [UNK]); BertTokenizer.
  2. --n-train scenes of split "train" (data.py, seed --seed), minus every scene whose
     caption is one of the held-out test captions (evaluate.test_captions), encoded once
     with the VAE (posterior mean * scaling_factor -> 8x8x4).
  3. Joint training of the text encoder and the UNet from scratch: epsilon prediction,
     scaled_linear betas 0.00085..0.012 (1000 steps, as the real model), 10% of captions
     replaced by "" (the pipeline's unconditional prompt), AdamW, warm-up then cosine
     decay.  A warm-up EMA of both networks (decay min(0.999, (1+n)/(10+n))) is kept.
  4. Every --save-every steps and at the end: an LDMTextToImagePipeline folder
     (EMA weights) in <scratch>/pipe_<step>; resumable state in <scratch>/ldm_state.pt.
"""

import argparse
import copy
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import (AutoencoderKL, DDIMScheduler, DDPMScheduler, LDMTextToImagePipeline,
                       UNet2DConditionModel)
from diffusers.pipelines.latent_diffusion.pipeline_latent_diffusion import (LDMBertConfig,
                                                                            LDMBertModel)
from transformers import BertTokenizer

import data
import evaluate

MAXLEN = 77


def make_tokenizer(path_dir):
    os.makedirs(path_dir, exist_ok=True)
    vocab = os.path.join(path_dir, "vocab.txt")
    toks = data.write_vocab(vocab)
    tok = BertTokenizer(vocab, do_lower_case=True, model_max_length=MAXLEN)
    return tok, len(toks)


def make_bert(vocab_size):
    cfg = LDMBertConfig(vocab_size=vocab_size, max_position_embeddings=MAXLEN,
                        encoder_layers=4, encoder_ffn_dim=512, encoder_attention_heads=4,
                        head_dim=32, d_model=128, dropout=0.0, pad_token_id=0)
    return LDMBertModel(cfg)


def make_unet():
    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=(64, 128, 128), layers_per_block=1,
        cross_attention_dim=128, attention_head_dim=8, norm_num_groups=16)


def make_scheduler_kwargs(zero_snr=False):
    kw = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012,
              beta_schedule="scaled_linear", clip_sample=False)
    if zero_snr:
        # Lin et al. 2024, "Common diffusion noise schedules and sample steps are flawed":
        # betas rescaled so that alpha_bar_T = 0 (x_T is pure noise, the model must take
        # the background from the caption), v-prediction (epsilon is undefined at SNR 0),
        # and sampling that starts at t = 999 ("trailing").
        kw.update(rescale_betas_zero_snr=True, prediction_type="v_prediction")
    return kw


def tokenize(tok, caps):
    return tok(caps, padding="max_length", max_length=MAXLEN, truncation=True,
               return_tensors="pt").input_ids


def build_latents(vae, seed, n, held_out, threads):
    imgs, caps, _ = data.make_dataset(seed, "train", n)
    keep = np.array([c not in held_out for c in caps])
    imgs = imgs[keep]
    caps = [c for c, k in zip(caps, keep) if k]
    sf = vae.config.scaling_factor
    out = []
    with torch.no_grad():
        for i in range(0, len(imgs), 512):
            x = torch.from_numpy(imgs[i:i + 512]).permute(0, 3, 1, 2).float() / 127.5 - 1
            out.append(vae.encode(x).latent_dist.mode() * sf)
    return torch.cat(out), caps


def save_pipeline(path, vae, bert, tok, unet, zero_snr=False):
    extra = dict(timestep_spacing="trailing") if zero_snr else dict(steps_offset=1)
    sched = DDIMScheduler(**make_scheduler_kwargs(zero_snr), set_alpha_to_one=False, **extra)
    pipe = LDMTextToImagePipeline(vqvae=vae, bert=bert, tokenizer=tok, unet=unet,
                                  scheduler=sched)
    pipe.save_pretrained(path, safe_serialization=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scratch", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-train", type=int, default=20000)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--save-every", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ema-max", type=float, default=0.999,
                    help="upper bound of the warm-up EMA decay")
    ap.add_argument("--offset-noise", type=float, default=0.0,
                    help="add this times a per-(image, channel) N(0,1) constant to the noise")
    ap.add_argument("--zero-snr", action="store_true",
                    help="zero-terminal-SNR betas + v-prediction + trailing DDIM timesteps")
    ap.add_argument("--stop-at", type=int, default=0,
                    help="checkpoint and exit at this step (the lr schedule still uses --steps)")
    ap.add_argument("--bench", type=int, default=0, help="time this many steps and exit")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t_start = time.time()

    vae = AutoencoderKL.from_pretrained(os.path.join(a.scratch, "vae")).eval()
    tok, vsize = make_tokenizer(os.path.join(a.scratch, "tokenizer_src"))
    bert, unet = make_bert(vsize), make_unet()
    print(f"bert params {sum(p.numel() for p in bert.parameters())} unet params "
          f"{sum(p.numel() for p in unet.parameters())} vocab {vsize}", flush=True)
    lat_path = os.path.join(a.scratch, f"latents_{a.seed}_{a.n_train}.pt")
    if os.path.exists(lat_path):
        lat, ids = torch.load(lat_path)
    else:
        held = set(evaluate.test_captions(a.seed))
        lat, caps = build_latents(vae, a.seed, a.n_train if not a.bench else 1024, held, a.threads)
        ids = tokenize(tok, caps)
        assert not (ids == tok.unk_token_id).any()
        if not a.bench:
            torch.save((lat, ids), lat_path)
    empty_ids = tokenize(tok, [""])[0]
    n = len(lat)
    print(f"{n} training latents, std {lat.std().item():.3f}, prep {time.time() - t_start:.0f} s",
          flush=True)

    noise_sched = DDPMScheduler(**make_scheduler_kwargs(a.zero_snr))
    alphas_cum = noise_sched.alphas_cumprod
    params = list(bert.parameters()) + list(unet.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.01)
    ema_bert, ema_unet = copy.deepcopy(bert).eval(), copy.deepcopy(unet).eval()
    for p in list(ema_bert.parameters()) + list(ema_unet.parameters()):
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(a.seed + 1)
    step = 0
    state_path = os.path.join(a.scratch, "ldm_state.pt")
    if os.path.exists(state_path) and not a.bench:
        st = torch.load(state_path)
        bert.load_state_dict(st["bert"]); unet.load_state_dict(st["unet"])
        ema_bert.load_state_dict(st["ema_bert"]); ema_unet.load_state_dict(st["ema_unet"])
        opt.load_state_dict(st["opt"]); gen.set_state(st["gen"]); step = st["step"]
        print(f"resumed at step {step}", flush=True)

    t0, losses = time.time(), []
    bert.train(); unet.train()
    total = a.bench or a.steps
    while step < total:
        if step < a.warmup:
            lr = a.lr * (step + 1) / a.warmup
        else:
            frac = (step - a.warmup) / max(1, total - a.warmup)
            lr = a.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        idx = torch.randint(0, n, (a.batch,), generator=gen)
        x0 = lat[idx]
        tid = ids[idx].clone()
        drop = torch.rand(a.batch, generator=gen) < 0.1
        tid[drop] = empty_ids
        t = torch.randint(0, 1000, (a.batch,), generator=gen)
        eps = torch.randn(x0.shape, generator=gen)
        if a.offset_noise:
            # 8x8 latents: with betas ending at 0.012, x_T still holds 0.068 * x0, and the
            # mean of x_T over 64 positions (noise std 0.125) tells the background, so the
            # model read the background from the start noise instead of the caption.
            eps = eps + a.offset_noise * torch.randn(x0.shape[0], x0.shape[1], 1, 1,
                                                     generator=gen)
        ac = alphas_cum[t].view(-1, 1, 1, 1)
        xt = ac.sqrt() * x0 + (1 - ac).sqrt() * eps
        ctx = bert(tid)[0]
        pred = unet(xt, t, encoder_hidden_states=ctx).sample
        target = noise_sched.get_velocity(x0, eps, t) if a.zero_snr else eps
        loss = F.mse_loss(pred, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        d = min(a.ema_max, (1 + step) / (10 + step))
        with torch.no_grad():
            for m, e in ((bert, ema_bert), (unet, ema_unet)):
                for p, q in zip(m.parameters(), e.parameters()):
                    q.mul_(d).add_(p.detach(), alpha=1 - d)
        losses.append(loss.item())
        if step % 50 == 0 or a.bench:
            el = time.time() - t0
            print(f"step {step} loss {np.mean(losses[-50:]):.4f} lr {lr:.2e} "
                  f"{el / 60:.1f} min ({el / max(1, len(losses)):.2f} s/step)", flush=True)
        if a.bench:
            continue
        if step % a.ckpt_every == 0 or step == total:
            torch.save(dict(bert=bert.state_dict(), unet=unet.state_dict(),
                            ema_bert=ema_bert.state_dict(), ema_unet=ema_unet.state_dict(),
                            opt=opt.state_dict(), gen=gen.get_state(), step=step),
                       state_path + ".tmp")
            os.replace(state_path + ".tmp", state_path)
        if a.stop_at and step >= a.stop_at:
            torch.save(dict(bert=bert.state_dict(), unet=unet.state_dict(),
                            ema_bert=ema_bert.state_dict(), ema_unet=ema_unet.state_dict(),
                            opt=opt.state_dict(), gen=gen.get_state(), step=step),
                       state_path + ".tmp")
            os.replace(state_path + ".tmp", state_path)
            print(f"stopped at step {step}", flush=True)
            return
        if step % a.save_every == 0 or step == total:
            save_pipeline(os.path.join(a.scratch, f"pipe_{step}"), vae, ema_bert, tok, ema_unet, a.zero_snr)
            save_pipeline(os.path.join(a.scratch, f"pipe_raw_{step}"), vae, bert, tok, unet, a.zero_snr)
            print(f"saved pipe_{step} (ema) and pipe_raw_{step}", flush=True)
    print(f"done {step} steps, total wall {(time.time() - t_start) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
