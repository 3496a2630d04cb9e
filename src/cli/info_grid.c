#include "info_grid.h"

#include <stdio.h>
#include <string.h>

#include "models/model_specs.h"

static int has(const char *name, const char *part)
{
    return strstr(name, part) != NULL;
}

static int ends_with(const char *name, const char *tail)
{
    size_t n = strlen(name), t = strlen(tail);
    return n >= t && strcmp(name + n - t, tail) == 0;
}

/* What channel rank 0 (the rank holding most) keeps of tensor `s` under a
 * channel split of Pc ranks, as tp's and bert's models read it
 * (docs/parallelism.md §3, §4.1, §8): conv and linear layers hold their
 * output rows (or, paired Megatron-style, their input columns) — 1/Pc —
 * except layers with fewer output channels than Pc and the VAE's one-head
 * mid-block attention, which stay whole; the bias of an input-split layer
 * (resnet conv2, attention to_out / out_proj, ff.net.2 / fc2) is added once
 * after the sum, so rank 0 holds it whole; norms and the text encoder's
 * token and position embeddings are replicated. *layer: 1 for conv/linear
 * tensors (what ldm_model_parallel_weight_bytes counts), 0 for the rest. */
static double rank0_share(const char *cls, const ldm_weight_spec *s, int pc, double bytes,
                          int *layer)
{
    const char *n = s->name;
    int vae = strcmp(cls, "AutoencoderKL") == 0;
    int norm = has(n, "norm") && s->ndim == 1;
    int embedding = has(n, "embed_tokens") || has(n, "embed_positions");
    *layer = !norm && !embedding && s->ndim >= 1;
    if (!*layer || pc <= 1)
        return bytes;
    if (s->shape[0] < pc || (vae && has(n, ".attentions.")))
        return bytes;
    int input_split_bias = s->ndim == 1 &&
                           (ends_with(n, ".conv2.bias") || ends_with(n, "to_out.0.bias") ||
                            ends_with(n, "ff.net.2.bias") || ends_with(n, "out_proj.bias") ||
                            ends_with(n, "fc2.bias"));
    if (input_split_bias)
        return bytes;
    /* rows or columns [0, ceil(rows / Pc)) on rank 0 */
    int64_t split_dim = s->shape[0];
    if (s->ndim >= 2 && (ends_with(n, ".conv2.weight") || ends_with(n, "to_out.0.weight") ||
                         ends_with(n, "ff.net.2.weight") || ends_with(n, "out_proj.weight") ||
                         ends_with(n, "fc2.weight")))
        split_dim = s->shape[1]; /* input columns */
    double share = (double)((split_dim + pc - 1) / pc) / (double)split_dim;
    return bytes * share;
}

ldm_status ldm_info_grid_weights(const ldm_component *c, int pc, ldm_info_weights *out)
{
    ldm_spec_list list = { 0 };
    ldm_status st = ldm_model_weight_specs(c->class_name, &c->config, &list);
    memset(out, 0, sizeof *out);
    for (int i = 0; st == LDM_OK && i < list.count; i++) {
        const ldm_weight_spec *s = &list.items[i];
        double n = 1;
        for (int d = 0; d < s->ndim; d++)
            n *= (double)s->shape[d];
        if (s->ndim < 0)
            continue; /* tolerated extras (to_logits): never loaded */
        /* txt2img loads only the autoencoder's decoder half. */
        if (strcmp(c->class_name, "AutoencoderKL") == 0 && strncmp(s->name, "decoder.", 8) != 0 &&
            strncmp(s->name, "post_quant_conv.", 16) != 0)
            continue;
        int layer = 0;
        double bytes = 4.0 * n, mine = rank0_share(c->class_name, s, pc, bytes, &layer);
        out->total += bytes;
        out->per_rank += mine;
        if (layer)
            out->layers_per_rank += mine;
    }
    ldm_spec_list_free(&list);
    return st;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* The activation estimate of info_grid.h, in bytes. */
static ldm_status activation_bytes(const ldm_model_folder *mf, int ps, int64_t lh, int64_t lw,
                                   double *unet, double *vae)
{
    ldm_status st = LDM_OK;
    const ldm_component *u = NULL, *v = NULL;
    long long ub[8], vb[8], layers = 2;
    int nu = 0, nv = 0;
    LDM_CHECK(ldm_model_folder_component(mf, "unet", &u));
    LDM_CHECK(ldm_model_folder_component(mf, "vqvae", &v));
    LDM_CHECK(ldm_config_int_list(&u->config, "block_out_channels", 0, 0, ub, 8, &nu));
    LDM_CHECK(ldm_config_int_list(&v->config, "block_out_channels", 0, 0, vb, 8, &nv));
    LDM_CHECK(ldm_config_int(&u->config, "layers_per_block", 2, &layers));
    const double batch = 2.0; /* guidance: uncond ‖ cond */
    double skips = 0;
    int64_t h = lh, w = lw;
    for (int i = 0; i < nu; i++) {
        skips += (double)(layers + 1) * (double)(ceil_div(h, ps) + 2) * (double)w * (double)ub[i];
        h = ceil_div(h, 2);
        w = ceil_div(w, 2);
    }
    double work = 6.0 * (double)(ceil_div(lh, ps) + 2) * (double)lw * (double)(nu ? ub[0] : 0);
    double kv = ps > 1 ? 2.0 * (double)(lh * lw) * (double)(nu ? ub[0] : 0) : 0;
    *unet = 4.0 * batch * (skips + work + kv);
    /* Decoder levels: channels vb[nv-1] at the latent size up to vb[0] at
     * latent × 2^(nv-1). */
    double worst = 0;
    for (int i = 0; i < nv; i++) {
        int64_t f = (int64_t)1 << i;
        double t = (double)(ceil_div(lh * f, ps) + 2) * (double)(lw * f) * (double)vb[nv - 1 - i];
        worst = t > worst ? t : worst;
    }
    *vae = 4.0 * 4.0 * worst;
cleanup:
    return st;
}

ldm_status ldm_info_grid(const ldm_model_folder *mf, int pc, int ps, int height, int width)
{
    ldm_status st = LDM_OK;
    const ldm_component *u = NULL;
    long long sample = 32;
    LDM_CHECK(ldm_model_folder_component(mf, "unet", &u));
    LDM_CHECK(ldm_config_int(&u->config, "sample_size", 32, &sample));
    int64_t lh = height ? height / 8 : sample, lw = width ? width / 8 : sample;
    printf("grid %dx%d (Pc = %d channel ranks, Ps = %d spatial ranks), latents %lldx%lld:\n", pc,
           ps, pc, ps, (long long)lh, (long long)lw);
    double all = 0, mine = 0;
    for (int i = 0; i < mf->count; i++) {
        const ldm_component *c = &mf->components[i];
        if (c->kind != LDM_COMPONENT_MODEL || !ldm_model_class_supported(c->class_name))
            continue;
        ldm_info_weights wb;
        LDM_CHECK(ldm_info_grid_weights(c, pc, &wb));
        printf("  %-10s weights %10.2f MB, per rank %10.2f MB%s\n", c->name, wb.total / 1e6,
               wb.per_rank / 1e6, strcmp(c->class_name, "AutoencoderKL") == 0 ? "  (decoder)" : "");
        all += wb.total;
        mine += wb.per_rank;
    }
    printf("  %-10s weights %10.2f MB, per rank %10.2f MB\n", "all", all / 1e6, mine / 1e6);
    double unet, vae;
    LDM_CHECK(activation_bytes(mf, ps, lh, lw, &unet, &vae));
    printf("  activations per rank (estimate): UNet %.2f MB (batch 2), VAE decoder %.2f MB "
           "(per image)\n",
           unet / 1e6, vae / 1e6);
cleanup:
    return st;
}
