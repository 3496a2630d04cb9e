/* model_specs.c — state-dict lists by class name (see model_specs.h). */
#include "models/model_specs.h"

#include <string.h>

#include "core/alloc.h"
#include "models/ldmbert.h"
#include "models/ldmbert_internal.h"
#include "models/unet.h"
#include "models/vae.h"

static const char *const CLASSES[] = {"UNet2DConditionModel", "AutoencoderKL", "LDMBertModel"};

int ldm_model_class_supported(const char *class_name)
{
    for (size_t i = 0; i < sizeof CLASSES / sizeof CLASSES[0]; i++)
        if (strcmp(class_name, CLASSES[i]) == 0)
            return 1;
    return 0;
}

static ldm_status ldmbert_specs(const ldm_config *config, ldm_spec_list *list)
{
    ldm_status st = LDM_OK;
    ldm_ldmbert_config c;
    ldm_weight_spec *specs = NULL;
    char *names = NULL;
    int n = 0;
    LDM_CHECK(ldm_ldmbert_config_read(config, &c));
    LDM_CHECK(ldm_ldmbert_weight_specs(&c, 0, &specs, &names, &n));
    for (int i = 0; i < n; i++)
        LDM_CHECK(ldm_spec_list_add(list, specs[i].ndim, specs[i].shape, "%s", specs[i].name));
    /* to_logits = nn.Linear(hidden_size, vocab_size) */
    const int64_t logits[2] = {c.vocab_size, c.d_model};
    LDM_CHECK(ldm_spec_list_add(list, 2, logits, "to_logits.weight"));
    LDM_CHECK(ldm_spec_list_add(list, 1, logits, "to_logits.bias"));
cleanup:
    ldm_free(specs);
    ldm_free(names);
    return st;
}

ldm_status ldm_model_weight_specs(const char *class_name, const ldm_config *config,
                                  ldm_spec_list *list)
{
    if (strcmp(class_name, "UNet2DConditionModel") == 0)
        return ldm_unet_weight_specs(config, list);
    if (strcmp(class_name, "AutoencoderKL") == 0)
        return ldm_vae_weight_specs(config, list);
    if (strcmp(class_name, "LDMBertModel") == 0)
        return ldmbert_specs(config, list);
    return ldm_error(LDM_EINPUT, "%s: model class \"%s\" is not supported (ldm implements "
                     "UNet2DConditionModel, AutoencoderKL, LDMBertModel)", config->path,
                     class_name);
}
