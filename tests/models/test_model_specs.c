/* test_model_specs.c — the state-dict lists by class (models/model_specs.h):
 * each equals, name for name and shape for shape, what diffusers /
 * transformers saved for the tiny fixture model (tools/reference/
 * make_model_fixtures.py), and the real configuration's parameter counts are
 * those torch reports for the real classes (UNet 872,300,484, AutoencoderKL
 * 83,653,863, LDMBert 581,994,042 with to_logits; /work/shared/notes/
 * reference-python.md). Single process. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "io/config.h"
#include "io/weights.h"
#include "models/model_specs.h"

static const char *const COMPONENTS[3][2] = {
    {"bert", "LDMBertModel"}, {"unet", "UNet2DConditionModel"}, {"vqvae", "AutoencoderKL"}};

static void test_tiny_matches_diffusers(void)
{
    for (int i = 0; i < 3; i++) {
        char path[4200], dir[4096];
        snprintf(dir, sizeof dir, "%s/tiny-ldm/%s", LDM_FIXTURES, COMPONENTS[i][0]);
        snprintf(path, sizeof path, "%s/config.json", dir);
        ldm_config cfg = {0};
        ldm_spec_list list = {0};
        ldm_weights *w = NULL;
        CHECK(ldm_config_load(path, &cfg) == LDM_OK);
        CHECK(ldm_model_weight_specs(COMPONENTS[i][1], &cfg, &list) == LDM_OK);
        CHECK(ldm_weights_open_dir(dir, &w) == LDM_OK);
        /* every spec present with its shape, nothing else in the file */
        ldm_status st = w ? ldm_spec_list_check(&list, w) : LDM_EINPUT;
        CHECK_MSG(st == LDM_OK, "%s: %s", COMPONENTS[i][0], ldm_error_message());
        CHECK(w && list.count == ldm_weights_count(w));
        for (int k = 0; k < list.count; k++)
            CHECK_MSG(list.items[k].ndim >= 0, "%s has no fixed shape", list.items[k].name);
        ldm_error_clear();
        ldm_weights_close(&w);
        ldm_spec_list_free(&list);
        ldm_config_free(&cfg);
    }
}

static int64_t params(const ldm_spec_list *list, const char *skip_prefix)
{
    int64_t total = 0;
    for (int k = 0; k < list->count; k++) {
        const ldm_weight_spec *s = &list->items[k];
        if (skip_prefix && strncmp(s->name, skip_prefix, strlen(skip_prefix)) == 0)
            continue;
        int64_t n = 1;
        for (int d = 0; d < s->ndim; d++)
            n *= s->shape[d];
        total += n;
    }
    return total;
}

static void test_real_counts(void)
{
    const int64_t want[3] = {581994042, 872300484, 83653863};
    for (int i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/../../models/ldm-text2im-large-256-config/%s/config.json",
                 LDM_FIXTURES, COMPONENTS[i][0]);
        ldm_config cfg = {0};
        ldm_spec_list list = {0};
        CHECK(ldm_config_load(path, &cfg) == LDM_OK);
        CHECK(ldm_model_weight_specs(COMPONENTS[i][1], &cfg, &list) == LDM_OK);
        CHECK_MSG(params(&list, NULL) == want[i], "%s: %lld params, want %lld",
                  COMPONENTS[i][0], (long long)params(&list, NULL), (long long)want[i]);
        if (i == 0)
            CHECK(params(&list, "to_logits.") == 542895360);
        ldm_spec_list_free(&list);
        ldm_config_free(&cfg);
    }
}

static void test_errors(void)
{
    ldm_config cfg = {0};
    ldm_spec_list list = {0};
    const char *text = "{\"block_out_channels\": [32, 64], \"layers_per_block\": 1, "
                       "\"resnet_time_scale_shift\": \"scale_shift\"}";
    CHECK(ldm_config_parse("unet/config.json", text, strlen(text), &cfg) == LDM_OK);
    CHECK_FAILS_WITH(ldm_model_weight_specs("VQModel", &cfg, &list), LDM_EINPUT,
                     "unet/config.json: model class \"VQModel\" is not supported");
    CHECK_FAILS_WITH(ldm_model_weight_specs("UNet2DConditionModel", &cfg, &list), LDM_EINPUT,
                     "resnet_time_scale_shift");
    CHECK(!ldm_model_class_supported("VQModel") && ldm_model_class_supported("AutoencoderKL"));
    ldm_spec_list_free(&list);
    ldm_config_free(&cfg);
}

int main(void)
{
    test_tiny_matches_diffusers();
    test_real_counts();
    test_errors();
    return ldm_test_finish();
}
