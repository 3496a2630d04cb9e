/* Fuzz target: the restricted unpickler on arbitrary bytes. Any input must
 * give LDM_OK or LDM_EINPUT (never a crash, leak or hang), and an accepted
 * state dict must satisfy what the reader promises about it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/pickle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ldm_pickle_state_dict sd;
    ldm_error_clear();
    ldm_status st = ldm_pickle_load_state_dict("fuzz/data.pkl", data, size, &sd);
    if (st != LDM_OK && st != LDM_EINPUT)
        abort();
    for (int i = 0; i < sd.count; i++) {
        const ldm_pickle_tensor *t = &sd.tensors[i];
        if (t->ndim < 0 || t->ndim > LDM_MAX_DIMS || t->storage_offset < 0 ||
            t->storage_numel < 0 || !t->name || !t->storage_key || t->storage_key[0] == '\0')
            abort();
        int64_t last = t->storage_offset, n = 1;
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0 || t->stride[d] < 0)
                abort();
            n *= t->shape[d];
            if (t->shape[d] > 0)
                last += (t->shape[d] - 1) * t->stride[d];
        }
        if (n > 0 ? last >= t->storage_numel : t->storage_offset > t->storage_numel)
            abort();
    }
    ldm_pickle_state_dict_free(&sd);
    ldm_error_clear();
    return 0;
}
