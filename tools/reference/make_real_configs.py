"""Writes the configuration files (no weights) of CompVis/ldm-text2im-large-256
into models/ldm-text2im-large-256-config/, in the diffusers folder layout.

The values are those of diffusers' conversion of the CompVis checkpoint; the
parameter counts printed at the end must be UNet 872,300,484, AutoencoderKL
83,653,863 and LDMBert 581,994,042 (the real checkpoint's). `ldm init` turns
this folder into a random-weight model of the real size for benchmarks and
scaling studies. tokenizer/vocab.txt (bert-base-uncased) is not included: it
comes with the real download.

    /opt/ldmref/bin/python tools/reference/make_real_configs.py
"""
import json
import os

import accelerate
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from diffusers.pipelines.latent_diffusion.pipeline_latent_diffusion import LDMBertConfig, LDMBertModel

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "models", "ldm-text2im-large-256-config")

UNET = dict(sample_size=32, in_channels=4, out_channels=4, center_input_sample=False,
            flip_sin_to_cos=True, freq_shift=0,
            down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
            up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
            block_out_channels=[320, 640, 1280, 1280], layers_per_block=2, downsample_padding=1,
            mid_block_scale_factor=1, act_fn="silu", norm_num_groups=32, norm_eps=1e-5,
            cross_attention_dim=1280, attention_head_dim=8)
VAE = dict(in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
           up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=[128, 256, 512, 512],
           layers_per_block=2, act_fn="silu", latent_channels=4, norm_num_groups=32, sample_size=256)
BERT = dict(vocab_size=30522, max_position_embeddings=77, encoder_layers=32, encoder_ffn_dim=5120,
            encoder_attention_heads=8, head_dim=64, d_model=1280)
SCHEDULER = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                 num_train_timesteps=1000, set_alpha_to_one=False, steps_offset=1)


def main():
    os.makedirs(OUT, exist_ok=True)
    with accelerate.init_empty_weights():
        unet = UNet2DConditionModel(**UNET)
        vae = AutoencoderKL(**VAE)
        bert = LDMBertModel(LDMBertConfig(**BERT))
    unet.save_config(os.path.join(OUT, "unet"))
    vae.save_config(os.path.join(OUT, "vqvae"))
    os.makedirs(os.path.join(OUT, "bert"), exist_ok=True)
    bert_cfg = bert.config.to_dict()
    bert_cfg["architectures"] = ["LDMBertModel"]
    with open(os.path.join(OUT, "bert", "config.json"), "w") as f:
        json.dump(bert_cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    DDIMScheduler(**SCHEDULER).save_config(os.path.join(OUT, "scheduler"))
    index = {"_class_name": "LDMTextToImagePipeline", "_diffusers_version": "0.27.2",
             "bert": ["latent_diffusion", "LDMBertModel"], "scheduler": ["diffusers", "DDIMScheduler"],
             "tokenizer": ["transformers", "BertTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
             "vqvae": ["diffusers", "AutoencoderKL"]}
    with open(os.path.join(OUT, "model_index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    for name, m in (("unet", unet), ("vqvae", vae), ("bert", bert)):
        print(name, sum(p.numel() for p in m.parameters()))


if __name__ == "__main__":
    main()
