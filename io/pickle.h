/* pickle.h — a restricted unpickler for PyTorch state dicts.
 *
 * `torch.save(state_dict)` writes a zip whose `<archive>/data.pkl` is a
 * pickle (protocol 2) of an OrderedDict name → tensor, each tensor rebuilt by
 * `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride,
 * requires_grad, backward_hooks)` where `storage` is a persistent id
 * ('storage', torch.<T>Storage, key, location, numel).
 *
 * This reader interprets only the opcodes and globals such a file needs and
 * rejects everything else by name ("unsupported pickle global os.system").
 * It never imports, calls or executes anything: GLOBAL/REDUCE are matched
 * against a fixed allow-list and evaluated by hand. Every input byte is
 * untrusted: all reads are bounds-checked, memo and stack sizes are capped.
 */
#ifndef LDM_IO_PICKLE_H
#define LDM_IO_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/dtype.h"

typedef struct ldm_pickle_tensor {
    char *name;            /* owned: the state-dict key */
    char *storage_key;     /* owned: persistent-id key, the zip entry is <archive>/data/<key> */
    ldm_dtype dtype;       /* from the storage class (FloatStorage → F32, HalfStorage → F16, …) */
    int64_t storage_numel; /* the numel recorded in the persistent id */
    int64_t storage_offset;/* in elements */
    int ndim;
    int64_t shape[LDM_MAX_DIMS];
    int64_t stride[LDM_MAX_DIMS]; /* in elements */
} ldm_pickle_tensor;

typedef struct ldm_pickle_state_dict {
    ldm_pickle_tensor *tensors; /* owned, in file order */
    int count;
} ldm_pickle_state_dict;

/* Parse `data` (the bytes of data.pkl). `name` is used in messages. On
 * failure nothing is left allocated and `out` is zeroed. */
ldm_status ldm_pickle_load_state_dict(const char *name, const unsigned char *data, size_t len,
                                      ldm_pickle_state_dict *out);
void ldm_pickle_state_dict_free(ldm_pickle_state_dict *sd);

#endif
