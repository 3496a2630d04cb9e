"""Golden step sequences of diffusers' DDIM, PNDM and LMS schedulers.

Writes tests/fixtures/schedulers/:
  index.json            one entry per variant (see VARIANTS below)
  configs/<name>.json   the scheduler_config.json the C test loads
  data/<name>.bin       raw little-endian float32, in this order:
                          sample0                               [2,4,3,3]
                          then for every step i:
                            model_output_i                      [2,4,3,3]
                            noise_i          (only if eta > 0)  [2,4,3,3]
                            scaled_i   (only for LMSDiscrete)   [2,4,3,3]
                            prev_sample_i                       [2,4,3,3]
  An index entry holds: name, config file, override (the `--scheduler` name or
  null: then "_class_name" chooses), class (what diffusers built), steps, eta,
  shape, timesteps (exact values of scheduler.timesteps), init_noise_sigma,
  file, n_steps (= len(timesteps)), has_noise, has_scaled.

Why: src/sample/scheduler*.c re-implements DDIMScheduler, PNDMScheduler and
LMSDiscreteScheduler (diffusers 0.27.2) and must match their timesteps exactly
and every step() output to 1e-6 relative, for each config key they read.

How a variant runs (as LDMTextToImagePipeline does, plus LMS's scale_model_input
which that pipeline does not call but other pipelines do):
  cls = {ddim: DDIMScheduler, ...}[override] or the config's "_class_name"
  s = cls.from_config(json.load(config))          # diffusers' own key handling
  s.set_timesteps(steps)
  for t in s.timesteps: [scaled = s.scale_model_input(x, t)]
                        x = s.step(model_output, t, x, [eta=eta,
                                   variance_noise=noise]).prev_sample
Inputs come from numpy.random.default_rng(crc32(name)) float32 normals; for DDIM with
eta > 0 the noise diffusers would draw with randn_tensor is passed in as
variance_noise (same arithmetic). sample0 is scaled by init_noise_sigma.

Run:  /opt/ldmref/bin/python tools/reference/make_scheduler_goldens.py
Needs scipy (LMSDiscreteScheduler imports scipy.integrate); it was installed
into /opt/ldmref with `pip install scipy==1.12.0`.
Produced on torch 2.15.0 (CPU capability AVX512; its float32 sqrt comes from
MKL and is 1 ulp low for ~0.8% of inputs, so a few scalars differ from a
correctly rounded sqrtf by 1 ulp), numpy 1.24.2, scipy 1.12.0.
"""

import json
import os
import shutil
import sys
import zlib

import numpy as np
import torch
from diffusers import DDIMScheduler, LMSDiscreteScheduler, PNDMScheduler

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "schedulers")
SHAPE = (2, 4, 3, 3)

CLASSES = {"ddim": DDIMScheduler, "pndm": PNDMScheduler, "lms": LMSDiscreteScheduler}
BY_CLASS_NAME = {c.__name__: c for c in CLASSES.values()}

# CompVis/ldm-text2im-large-256 scheduler/scheduler_config.json
LDM = {
    "_class_name": "DDIMScheduler",
    "_diffusers_version": "0.0.4",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "trained_betas": None,
}


def ldm(**kw):
    c = dict(LDM)
    c.update(kw)
    return c


def trained_betas(n):
    # A smooth, made-up schedule (float64 values; diffusers casts to float32).
    x = np.linspace(0.0, 1.0, n)
    return [float(v) for v in 0.0005 + 0.02 * x**1.5]


# name, override, config, steps, eta
VARIANTS = [
    # DDIM
    ("ddim_ldm_50", None, ldm(), 50, 0.0),
    ("ddim_ldm_50_eta03", None, ldm(), 50, 0.3),
    ("ddim_ldm_1", None, ldm(), 1, 0.0),
    ("ddim_ldm_3_eta1", None, ldm(), 3, 1.0),
    ("ddim_ldm_10", "ddim", ldm(), 10, 0.0),
    ("ddim_defaults_10", None, {"_class_name": "DDIMScheduler"}, 10, 0.0),
    ("ddim_linear_clip05_10", None,
     {"_class_name": "DDIMScheduler", "clip_sample": True, "clip_sample_range": 0.5,
      "set_alpha_to_one": False, "steps_offset": 1}, 10, 0.5),
    ("ddim_cos_10", None, {"_class_name": "DDIMScheduler", "beta_schedule": "squaredcos_cap_v2",
                           "clip_sample": False}, 10, 0.0),
    ("ddim_trained_10", None,
     {"_class_name": "DDIMScheduler", "num_train_timesteps": 100, "trained_betas": trained_betas(100),
      "clip_sample": False, "beta_schedule": "linear"}, 10, 0.0),
    ("ddim_linspace_10", None, ldm(timestep_spacing="linspace"), 10, 0.0),
    ("ddim_trailing_10", None, ldm(timestep_spacing="trailing"), 10, 0.0),
    ("ddim_trailing_3", None, ldm(timestep_spacing="trailing"), 3, 0.0),
    # np.arange(1000, 0, -1000/61) has 62 entries: diffusers runs 62 steps,
    # the last at t = -1, where alphas_cumprod[-1] is Python's last entry
    ("ddim_trailing_61", None, ldm(timestep_spacing="trailing"), 61, 0.0),
    ("ddim_vpred_10", None, ldm(prediction_type="v_prediction"), 10, 0.2),
    ("ddim_sample_10", None, ldm(prediction_type="sample"), 10, 0.0),
    ("ddim_thresh_10", None,
     ldm(thresholding=True, sample_max_value=3.0, dynamic_thresholding_ratio=0.9), 10, 0.0),
    ("ddim_thresh_default_10", None, ldm(thresholding=True, prediction_type="sample"), 10, 0.0),
    ("ddim_zsnr_trailing_10", None,
     ldm(rescale_betas_zero_snr=True, prediction_type="v_prediction", timestep_spacing="trailing",
         set_alpha_to_one=True), 10, 0.0),
    ("ddim_extra_keys_10", None,
     ldm(skip_prk_steps=True, use_karras_sigmas=True, some_future_key=[1, 2], _use_default_values=[]),
     10, 0.0),
    ("ddim_from_pndm_10", "ddim",
     {"_class_name": "PNDMScheduler", "beta_schedule": "scaled_linear", "beta_start": 0.00085,
      "beta_end": 0.012, "skip_prk_steps": True, "set_alpha_to_one": False, "steps_offset": 1},
     10, 0.0),
    ("ddim_use_default_values_10", "ddim",
     ldm(timestep_spacing="trailing", _use_default_values=["timestep_spacing", "set_alpha_to_one"]),
     10, 0.0),
    # PNDM
    ("pndm_ldm_50", "pndm", ldm(), 50, 0.0),
    ("pndm_ldm_4", "pndm", ldm(), 4, 0.0),
    ("pndm_skip_10", "pndm", ldm(skip_prk_steps=True), 10, 0.0),
    ("pndm_skip_1", "pndm", ldm(skip_prk_steps=True), 1, 0.0),
    ("pndm_skip_3", "pndm", ldm(skip_prk_steps=True), 3, 0.0),
    ("pndm_vpred_one_10", None,
     {"_class_name": "PNDMScheduler", "prediction_type": "v_prediction", "set_alpha_to_one": True,
      "beta_schedule": "squaredcos_cap_v2"}, 10, 0.0),
    ("pndm_linspace_10", "pndm", ldm(timestep_spacing="linspace"), 10, 0.0),
    ("pndm_trailing_skip_7", "pndm", ldm(timestep_spacing="trailing", skip_prk_steps=True), 7, 0.0),
    ("pndm_trained_8", None,
     {"_class_name": "PNDMScheduler", "num_train_timesteps": 100, "trained_betas": trained_betas(100)},
     8, 0.0),
    ("pndm_defaults_6", None, {"_class_name": "PNDMScheduler"}, 6, 0.0),
    # LMS
    ("lms_ldm_50", "lms", ldm(), 50, 0.0),
    ("lms_ldm_1", "lms", ldm(), 1, 0.0),
    ("lms_ldm_3", "lms", ldm(), 3, 0.0),
    ("lms_ldm_10", "lms", ldm(), 10, 0.0),
    ("lms_leading_10", "lms", ldm(timestep_spacing="leading"), 10, 0.0),
    ("lms_trailing_10", "lms", ldm(timestep_spacing="trailing"), 10, 0.0),
    ("lms_trailing_61", "lms", ldm(timestep_spacing="trailing"), 61, 0.0),
    ("lms_vpred_10", "lms", ldm(prediction_type="v_prediction"), 10, 0.0),
    ("lms_sample_10", "lms", ldm(prediction_type="sample"), 10, 0.0),
    ("lms_karras_10", "lms", ldm(use_karras_sigmas=True), 10, 0.0),
    ("lms_karras_leading_7", "lms", ldm(use_karras_sigmas=True, timestep_spacing="leading"), 7, 0.0),
    ("lms_defaults_12", None, {"_class_name": "LMSDiscreteScheduler"}, 12, 0.0),
    ("lms_cos_10", None, {"_class_name": "LMSDiscreteScheduler", "beta_schedule": "squaredcos_cap_v2"},
     10, 0.0),
    ("lms_trained_10", None,
     {"_class_name": "LMSDiscreteScheduler", "num_train_timesteps": 100,
      "trained_betas": trained_betas(100)}, 10, 0.0),
]


def f32(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


def run_variant(seed, name, override, config, steps, eta):
    cls = CLASSES[override] if override else BY_CLASS_NAME[config["_class_name"]]
    s = cls.from_config(json.loads(json.dumps(config)))
    s.set_timesteps(steps)
    timesteps = s.timesteps.tolist()
    sigma0 = float(s.init_noise_sigma)

    rng = np.random.default_rng(seed)
    x = torch.from_numpy(f32(rng.standard_normal(SHAPE))) * s.init_noise_sigma
    chunks = [f32(x)]
    is_lms = cls is LMSDiscreteScheduler
    for t in s.timesteps:
        mo = torch.from_numpy(f32(rng.standard_normal(SHAPE)))
        chunks.append(f32(mo))
        kw = {}
        if cls is DDIMScheduler:
            kw["eta"] = eta
            if eta > 0:
                # what randn_tensor(model_output.shape, generator=...) would give
                noise = torch.from_numpy(f32(rng.standard_normal(SHAPE)))
                kw["variance_noise"] = noise
                chunks.append(f32(noise))
        if is_lms:
            chunks.append(f32(s.scale_model_input(x, t)))
        x = s.step(mo, t, x, **kw).prev_sample
        assert x.dtype == torch.float32
        chunks.append(f32(x))

    entry = {
        "name": name,
        "config": f"configs/{name}.json",
        "override": override,
        "class": cls.__name__,
        "steps": steps,
        "eta": eta,
        "shape": list(SHAPE),
        "timesteps": timesteps,
        "n_steps": len(timesteps),
        "init_noise_sigma": sigma0,
        "has_noise": cls is DDIMScheduler and eta > 0,
        "has_scaled": is_lms,
        "file": f"data/{name}.bin",
    }
    return entry, config, np.concatenate([c.reshape(-1) for c in chunks])


def main():
    assert torch.__version__.startswith("2.15.0"), torch.__version__
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(os.path.join(OUT, "configs"))
    os.makedirs(os.path.join(OUT, "data"))
    names = set()
    entries = []
    for name, override, config, steps, eta in VARIANTS:
        assert name not in names
        names.add(name)
        entry, config, data = run_variant(zlib.crc32(name.encode()), name, override, config, steps, eta)
        with open(os.path.join(OUT, entry["config"]), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
        data.astype("<f4").tofile(os.path.join(OUT, entry["file"]))
        entries.append(entry)
    index = {
        "generator": "tools/reference/make_scheduler_goldens.py",
        "versions": {"torch": torch.__version__, "diffusers": "0.27.2", "numpy": np.__version__,
                     "cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "variants": entries,
    }
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(OUT) for fn in fns)
    print(f"{len(entries)} variants, {total} bytes in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
