"""Whole-pipeline goldens: diffusers' LDMTextToImagePipeline on the tiny fixture
model (tests/fixtures/tiny-ldm), written to tests/fixtures/pipeline/.

For each case: the final latents (float32, before the VAE) and the image as
diffusers' numpy_to_pil makes it ((x * 255).round() of (x/2+0.5).clamp(0,1)),
uint8 [N, H, W, 3]. index.json lists the cases and their settings.

Two things the C pipeline does on purpose that diffusers' LDM pipeline does
not, and how the goldens account for them:
- LMS: LDMTextToImagePipeline never multiplies the initial latents by
  scheduler.init_noise_sigma nor calls scheduler.scale_model_input, which
  LMSDiscreteScheduler needs; ldm applies both (a no-op for DDIM and PNDM).
  The LMS golden comes from `reference_loop` below with that fix.
- --negative-prompt: diffusers' pipeline always uses "" for the
  unconditional branch; ldm accepts another text. That golden also comes
  from `reference_loop`.
`reference_loop` is a line-by-line copy of LDMTextToImagePipeline.__call__;
the script checks that it reproduces the pipeline itself bit for bit on the
plain cases before trusting it for the two above.

DDIM with eta > 0 draws its noise inside scheduler.step() from torch's
*global* generator (the pipeline passes no generator to step()). ldm's
--noise-seed (default 67280421310721, torch's default seed, i.e. a fresh
Python process) seeds that generator; here torch.manual_seed(noise_seed) is
called right before each run.

    /opt/ldmref/bin/python tools/reference/make_pipeline_goldens.py
    /opt/ldmref/bin/python tools/reference/make_pipeline_goldens.py --shipped

--shipped: the same comparison on the model ldm ships (models/ldm-shapes, its own
scheduler config, 50 steps as `ldm txt2img` runs it) into
tests/fixtures/shipped-parity/ (issue #4: diffusers loading the shipped folder gives the
images `ldm txt2img` gives). Rerun it whenever the shipped model is retrained.
"""
import argparse
import json
import os

import numpy as np
import torch
from diffusers import DDIMScheduler, LDMTextToImagePipeline, LMSDiscreteScheduler, PNDMScheduler

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MODEL = os.path.join(ROOT, "tests", "fixtures", "tiny-ldm")
OUT = os.path.join(ROOT, "tests", "fixtures", "pipeline")
TORCH_DEFAULT_SEED = 67280421310721

CASES = [
    dict(name="ddim_g1", prompts=["a red circle on a blue background"], guidance=1.0, eta=0.0, steps=5,
         seed=0, height=64, width=64, scheduler="ddim"),
    dict(name="ddim_g6", prompts=["a red circle on a blue background"], guidance=6.0, eta=0.0, steps=5,
         seed=42, height=64, width=64, scheduler="ddim"),
    dict(name="ddim_g6_eta03", prompts=["two green squares"], guidance=6.0, eta=0.3, steps=6,
         seed=7, height=64, width=64, scheduler="ddim"),
    dict(name="pndm_g6", prompts=["a yellow triangle left of a green square"], guidance=6.0, eta=0.0,
         steps=6, seed=3, height=64, width=64, scheduler="pndm"),
    dict(name="lms_g6", prompts=["a yellow triangle left of a green square"], guidance=6.0, eta=0.0,
         steps=6, seed=3, height=64, width=64, scheduler="lms"),
    dict(name="batch2_g6_eta03", prompts=["a red circle", "Two BLUE squares, on a white background!"],
         guidance=6.0, eta=0.3, steps=4, seed=11, height=64, width=64, scheduler="ddim"),
    dict(name="nonsquare_g3", prompts=["a circle above a square"], guidance=3.0, eta=0.0, steps=4,
         seed=5, height=48, width=80, scheduler="ddim"),
    dict(name="negative_g6", prompts=["a red circle"], negative="a blue square", guidance=6.0, eta=0.0,
         steps=4, seed=9, height=64, width=64, scheduler="ddim"),
]


SHIPPED_CASES = [
    dict(name="shipped_g3_s0", prompts=["a red circle on a blue background"], guidance=3.0, eta=0.0,
         steps=50, seed=0, height=64, width=64, scheduler="ddim"),
    dict(name="shipped_g5_s1", prompts=["two yellow squares on a black background"], guidance=5.0,
         eta=0.0, steps=50, seed=1, height=64, width=64, scheduler="ddim"),
    dict(name="shipped_g3_pair", prompts=["a green triangle left of a white circle on a purple background"],
         guidance=3.0, eta=0.0, steps=50, seed=2, height=64, width=64, scheduler="ddim"),
    dict(name="shipped_g1_batch2", prompts=["three orange circles", "a blue square above a red triangle"],
         guidance=1.0, eta=0.0, steps=50, seed=3, height=64, width=64, scheduler="ddim"),
]


def make_scheduler(pipe, name):
    cls = {"ddim": DDIMScheduler, "pndm": PNDMScheduler, "lms": LMSDiscreteScheduler}[name]
    return cls.from_config(pipe.scheduler.config)


@torch.no_grad()
def reference_loop(pipe, prompts, negative, guidance, eta, steps, generator, height, width, lms_fix):
    """LDMTextToImagePipeline.__call__ (diffusers 0.27.2), with an optional
    negative prompt and, for `lms_fix`, init_noise_sigma/scale_model_input."""
    batch_size = len(prompts)
    if guidance != 1.0:
        uncond_input = pipe.tokenizer([negative] * batch_size, padding="max_length", max_length=77,
                                      truncation=True, return_tensors="pt")
        negative_prompt_embeds = pipe.bert(uncond_input.input_ids)[0]
    text_input = pipe.tokenizer(prompts, padding="max_length", max_length=77, truncation=True,
                                return_tensors="pt")
    prompt_embeds = pipe.bert(text_input.input_ids)[0]
    latents = torch.randn((batch_size, pipe.unet.config.in_channels, height // 8, width // 8),
                          generator=generator, dtype=prompt_embeds.dtype)
    pipe.scheduler.set_timesteps(steps)
    if lms_fix:
        latents = latents * pipe.scheduler.init_noise_sigma
    for t in pipe.scheduler.timesteps:
        if guidance == 1.0:
            latents_input, context = latents, prompt_embeds
        else:
            latents_input = torch.cat([latents] * 2)
            context = torch.cat([negative_prompt_embeds, prompt_embeds])
        if lms_fix:
            latents_input = pipe.scheduler.scale_model_input(latents_input, t)
        noise_pred = pipe.unet(latents_input, t, encoder_hidden_states=context).sample
        if guidance != 1.0:
            noise_pred_uncond, noise_prediction_text = noise_pred.chunk(2)
            noise_pred = noise_pred_uncond + guidance * (noise_prediction_text - noise_pred_uncond)
        kwargs = {"eta": eta} if isinstance(pipe.scheduler, DDIMScheduler) else {}
        latents = pipe.scheduler.step(noise_pred, t, latents, **kwargs).prev_sample
    final_latents = latents.clone()
    latents = 1 / pipe.vqvae.config.scaling_factor * latents
    image = pipe.vqvae.decode(latents).sample
    image = (image / 2 + 0.5).clamp(0, 1)
    image = image.cpu().permute(0, 2, 3, 1).numpy()
    return final_latents.numpy(), image


def to_uint8(image):
    # diffusers' numpy_to_pil: (images * 255).round().astype("uint8")
    return (image * 255).round().astype("uint8")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shipped", action="store_true", help="goldens of models/ldm-shapes")
    args = ap.parse_args()
    model, out_dir, cases, model_rel = MODEL, OUT, CASES, "tests/fixtures/tiny-ldm"
    if args.shipped:
        model_rel = "models/ldm-shapes"
        model = os.path.join(ROOT, model_rel)
        out_dir = os.path.join(ROOT, "tests", "fixtures", "shipped-parity")
        cases = SHIPPED_CASES
    torch.set_num_threads(1)
    os.makedirs(out_dir, exist_ok=True)
    pipe = LDMTextToImagePipeline.from_pretrained(model)
    pipe.set_progress_bar_config(disable=True)
    index = {"model": model_rel, "torch": torch.__version__,
             "cpu_capability": torch.backends.cpu.get_cpu_capability(),
             "noise_seed": TORCH_DEFAULT_SEED, "cases": []}
    for case in cases:
        pipe.scheduler = make_scheduler(pipe, case["scheduler"])
        negative = case.get("negative", "")
        lms_fix = case["scheduler"] == "lms"
        use_reference = lms_fix or negative != ""
        torch.manual_seed(TORCH_DEFAULT_SEED)
        gen = torch.Generator().manual_seed(case["seed"])
        lat, img = reference_loop(pipe, case["prompts"], negative, case["guidance"], case["eta"],
                                  case["steps"], gen, case["height"], case["width"], lms_fix)
        if not use_reference:
            # The copy must be the pipeline: compare with diffusers' own call.
            torch.manual_seed(TORCH_DEFAULT_SEED)
            gen = torch.Generator().manual_seed(case["seed"])
            out = pipe(case["prompts"], height=case["height"], width=case["width"],
                       num_inference_steps=case["steps"], guidance_scale=case["guidance"],
                       eta=case["eta"], generator=gen, output_type="np")
            assert np.array_equal(out.images, img), case["name"]
        u8 = to_uint8(img)
        lat.astype("<f4").tofile(os.path.join(out_dir, case["name"] + ".latents.f32"))
        u8.tofile(os.path.join(out_dir, case["name"] + ".image.u8"))
        entry = dict(case)
        entry.update(negative=negative, latents_shape=list(lat.shape), image_shape=list(u8.shape),
                     source="reference_loop" if use_reference else "LDMTextToImagePipeline")
        index["cases"].append(entry)
        print(case["name"], lat.shape, u8.shape, entry["source"])
    with open(os.path.join(out_dir, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
