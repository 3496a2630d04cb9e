/* fuzz_safetensors.c — the safetensors parser on arbitrary bytes.
 *
 * The input is a whole file (8-byte length, header, data) parsed from
 * memory with every check ldm_safetensors_open makes. Besides not crashing,
 * an accepted file must satisfy what the readers promise in
 * io/weight_file.h; a violation aborts so the fuzzer reports it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/safetensors.h"

static void check_invariants(const ldm_tensor_entry *e, int n, size_t size)
{
    uint64_t pos = 0;
    for (int i = 0; i < n; i++) {
        uint64_t bytes = (uint64_t)ldm_tensor_entry_numel(&e[i]) * ldm_dtype_size(e[i].dtype);
        if (e[i].storage != 0 || e[i].storage_bytes != size || e[i].ndim < 0 ||
            e[i].ndim > LDM_MAX_DIMS || e[i].offset > size || bytes > size - e[i].offset)
            abort();
        if (i > 0 && e[i].offset != pos) /* data order, no gaps */
            abort();
        pos = e[i].offset + bytes;
        if (e[i].name == NULL)
            abort();
    }
    if (n > 0 && pos != size) /* the last tensor ends the file */
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ldm_tensor_entry *e = NULL;
    int n = 0;
    ldm_error_clear();
    if (ldm_safetensors_parse("fuzz.safetensors", data, size, &e, &n) == LDM_OK)
        check_invariants(e, n, size);
    else if (e != NULL || n != 0 || ldm_error_message()[0] == '\0')
        abort(); /* failures leave nothing and always say why */
    ldm_safetensors_entries_free(e, n);
    ldm_error_clear();
    return 0;
}
