/* ldmbert_config.c — LDMBertConfig from config.json, the activation
 * functions of transformers' ACT2FN, and the list of expected tensors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "kernels/elementwise.h"
#include "models/ldmbert_internal.h"

enum {
    ACT_GELU, /* F.gelu, exact erf form */
    ACT_GELU_10,
    ACT_GELU_TANH, /* gelu_new, gelu_fast, gelu_accurate, gelu_pytorch_tanh */
    ACT_LAPLACE,
    ACT_LEAKY_RELU,
    ACT_LINEAR,
    ACT_MISH,
    ACT_QUICK_GELU,
    ACT_RELU,
    ACT_RELU2,
    ACT_RELU6,
    ACT_SIGMOID,
    ACT_SILU,
    ACT_TANH
};

/* transformers 4.38.2 ACT2CLS: every key. The four tanh approximations of
 * GELU are the same function written four ways; computed here in double,
 * each matches torch's float32 result to a few ulp. */
static const struct {
    const char *name;
    int code;
} activations[] = {
    {"gelu", ACT_GELU},
    {"gelu_10", ACT_GELU_10},
    {"gelu_fast", ACT_GELU_TANH},
    {"gelu_new", ACT_GELU_TANH},
    {"gelu_python", ACT_GELU},
    {"gelu_pytorch_tanh", ACT_GELU_TANH},
    {"gelu_accurate", ACT_GELU_TANH},
    {"laplace", ACT_LAPLACE},
    {"leaky_relu", ACT_LEAKY_RELU},
    {"linear", ACT_LINEAR},
    {"mish", ACT_MISH},
    {"quick_gelu", ACT_QUICK_GELU},
    {"relu", ACT_RELU},
    {"relu2", ACT_RELU2},
    {"relu6", ACT_RELU6},
    {"sigmoid", ACT_SIGMOID},
    {"silu", ACT_SILU},
    {"swish", ACT_SILU},
    {"tanh", ACT_TANH},
};

static double sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* One element of the activations without a vectorised kernel. */
static double act_scalar(int act, double x)
{
    switch (act) {
    case ACT_GELU_TANH: {
        const double c = 0.7978845608028654; /* sqrt(2/pi) */
        return 0.5 * x * (1.0 + tanh(c * (x + 0.044715 * x * x * x)));
    }
    case ACT_LAPLACE: /* mu = 0.707107, sigma = 0.282095 */
        return 0.5 * (1.0 + erf((x - 0.707107) / (0.282095 * sqrt(2.0))));
    case ACT_LEAKY_RELU: /* nn.LeakyReLU(): negative_slope 0.01 */
        return x > 0.0 ? x : 0.01 * x;
    case ACT_MISH:
        return x * tanh(x > 20.0 ? x : log1p(exp(x)));
    case ACT_QUICK_GELU:
        return x * sigmoid(1.702 * x);
    case ACT_RELU:
        return x > 0.0 ? x : 0.0;
    case ACT_RELU2:
        return x > 0.0 ? x * x : 0.0;
    case ACT_RELU6:
        return x < 0.0 ? 0.0 : (x > 6.0 ? 6.0 : x);
    case ACT_SIGMOID:
        return sigmoid(x);
    case ACT_TANH:
        return tanh(x);
    default:
        return x;
    }
}

void ldm_ldmbert_activate(int act, float *x, int64_t count)
{
    switch (act) {
    case ACT_GELU:
        ldm_gelu(x, x, count);
        return;
    case ACT_GELU_10: /* torch.clip(gelu(x), -10, 10) */
        ldm_gelu(x, x, count);
        for (int64_t i = 0; i < count; i++)
            x[i] = x[i] < -10.0f ? -10.0f : (x[i] > 10.0f ? 10.0f : x[i]);
        return;
    case ACT_SILU:
        ldm_silu(x, x, count);
        return;
    case ACT_LINEAR:
        return;
    default:
        for (int64_t i = 0; i < count; i++)
            x[i] = (float)act_scalar(act, (double)x[i]);
        return;
    }
}

/* A positive size key; `alias` (may be NULL), when present, overrides it as
 * LDMBertConfig.attribute_map does. */
static ldm_status read_size(const ldm_config *config, const char *key, const char *alias,
                            long long def, int64_t *out)
{
    ldm_status st = LDM_OK;
    long long v = 0;
    if (alias && ldm_config_has(config, alias))
        key = alias;
    LDM_CHECK(ldm_config_int(config, key, def, &v));
    /* The upper bound keeps every product of two sizes inside int64. */
    if (v < 1 || v > INT32_MAX)
        st = ldm_error(LDM_EINPUT, "%s: \"%s\" must be a positive integer below 2^31, got %lld",
                       config->path, key, v);
    *out = (int64_t)v;
cleanup:
    return st;
}

ldm_status ldm_ldmbert_config_read(const ldm_config *config, ldm_ldmbert_config *out)
{
    ldm_status st = LDM_OK;
    ldm_ldmbert_config c;
    memset(&c, 0, sizeof c);
    const char *act = NULL;
    LDM_CHECK(read_size(config, "vocab_size", NULL, 30522, &c.vocab_size));
    LDM_CHECK(read_size(config, "max_position_embeddings", NULL, 77, &c.max_position_embeddings));
    LDM_CHECK(read_size(config, "d_model", "hidden_size", 1280, &c.d_model));
    LDM_CHECK(read_size(config, "encoder_ffn_dim", NULL, 5120, &c.encoder_ffn_dim));
    LDM_CHECK(read_size(config, "encoder_layers", NULL, 32, &c.encoder_layers));
    LDM_CHECK(read_size(config, "encoder_attention_heads", "num_attention_heads", 8,
                        &c.encoder_attention_heads));
    LDM_CHECK(read_size(config, "head_dim", NULL, 64, &c.head_dim));
    LDM_CHECK(ldm_config_string(config, "activation_function", "gelu", &act));
    c.activation = -1;
    for (size_t i = 0; i < sizeof activations / sizeof activations[0]; i++)
        if (strcmp(act, activations[i].name) == 0) {
            c.activation = activations[i].code;
            c.activation_function = activations[i].name;
        }
    if (c.activation < 0) {
        st = ldm_error(LDM_EINPUT, "%s: unsupported \"activation_function\": \"%s\"",
                       config->path, act);
        goto cleanup;
    }
    *out = c;
cleanup:
    return st;
}

enum { NAME_BYTES = 64 }; /* longest: "model.layers.2147483647.self_attn_layer_norm.weight" */

ldm_status ldm_ldmbert_weight_specs(const ldm_ldmbert_config *c, int with_logits,
                                    ldm_weight_spec **specs, char **names, int *n)
{
    ldm_status st = LDM_OK;
    *specs = NULL;
    *names = NULL;
    const int64_t d = c->d_model, inner = c->encoder_attention_heads * c->head_dim;
    const int64_t ffn = c->encoder_ffn_dim;
    const int64_t count = 4 + 13 * c->encoder_layers + (with_logits & 1) + (with_logits >> 1 & 1);
    ldm_weight_spec *s = NULL;
    char *buf = NULL;
    LDM_CHECK(ldm_calloc((size_t)count * sizeof *s, "LDMBert weight list", (void **)&s));
    LDM_CHECK(ldm_alloc((size_t)count * NAME_BYTES, "LDMBert weight names", (void **)&buf));
    int k = 0;
#define SPEC(d0, d1, ...)                                                                  \
    do {                                                                                   \
        char *name_ = buf + (size_t)k * NAME_BYTES;                                        \
        snprintf(name_, NAME_BYTES, __VA_ARGS__);                                          \
        s[k].name = name_;                                                                 \
        s[k].ndim = (d1) > 0 ? 2 : 1;                                                      \
        s[k].shape[0] = (d0);                                                              \
        s[k].shape[1] = (d1);                                                              \
        k++;                                                                               \
    } while (0)
    SPEC(c->vocab_size, d, "model.embed_tokens.weight");
    SPEC(c->max_position_embeddings, d, "model.embed_positions.weight");
    for (int64_t l = 0; l < c->encoder_layers; l++) {
        const long long i = (long long)l;
        SPEC(inner, d, "model.layers.%lld.self_attn.k_proj.weight", i);
        SPEC(inner, d, "model.layers.%lld.self_attn.v_proj.weight", i);
        SPEC(inner, d, "model.layers.%lld.self_attn.q_proj.weight", i);
        SPEC(d, inner, "model.layers.%lld.self_attn.out_proj.weight", i);
        SPEC(d, 0, "model.layers.%lld.self_attn.out_proj.bias", i);
        SPEC(d, 0, "model.layers.%lld.self_attn_layer_norm.weight", i);
        SPEC(d, 0, "model.layers.%lld.self_attn_layer_norm.bias", i);
        SPEC(ffn, d, "model.layers.%lld.fc1.weight", i);
        SPEC(ffn, 0, "model.layers.%lld.fc1.bias", i);
        SPEC(d, ffn, "model.layers.%lld.fc2.weight", i);
        SPEC(d, 0, "model.layers.%lld.fc2.bias", i);
        SPEC(d, 0, "model.layers.%lld.final_layer_norm.weight", i);
        SPEC(d, 0, "model.layers.%lld.final_layer_norm.bias", i);
    }
    SPEC(d, 0, "model.layer_norm.weight");
    SPEC(d, 0, "model.layer_norm.bias");
    if (with_logits & 1) {
        SPEC(0, 0, "to_logits.weight");
        s[k - 1].ndim = -1;
    }
    if (with_logits & 2) {
        SPEC(0, 0, "to_logits.bias");
        s[k - 1].ndim = -1;
    }
#undef SPEC
    *specs = s;
    *names = buf;
    *n = k;
    s = NULL;
    buf = NULL;
cleanup:
    ldm_free(s);
    ldm_free(buf);
    return st;
}
