/* Fuzz target: the .npy parser (--latents FILE.npy is user input). */
#include <stddef.h>
#include <stdint.h>

#include "io/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ldm_npy a;
    if (ldm_npy_parse("fuzz.npy", data, size, &a) == LDM_OK) {
        /* Touch every element: the parser promised numel floats. */
        volatile float sink = 0;
        for (int64_t i = 0; i < a.numel; i++)
            sink += a.data[i];
        (void)sink;
        ldm_npy_free(&a);
    }
    ldm_error_clear();
    return 0;
}
