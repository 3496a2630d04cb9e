/* Fuzz target: a whole PyTorch .bin from memory — zip directory, byteorder,
 * data.pkl, storage lookup — then every tensor's bytes read back through
 * ops->read. Any input must give LDM_OK or LDM_EINPUT, and reads of an
 * accepted file must stay inside its storages. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "io/torch_bin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_READ = 1 << 20 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char buf[MAX_READ];
    ldm_weight_file *f = NULL;
    ldm_error_clear();
    ldm_status st = ldm_torch_bin_open_buffer("fuzz.bin", data, size, &f);
    if (st != LDM_OK && st != LDM_EINPUT)
        abort();
    for (int i = 0; f && i < f->count; i++) {
        const ldm_tensor_entry *e = &f->tensors[i];
        if (e->offset > e->storage_bytes)
            abort();
        /* The bytes from element 0 to the storage end (capped); a read that
         * fails on a corrupt entry (bad CRC) is fine, a crash is not. */
        uint64_t n = e->storage_bytes - e->offset;
        if (n > MAX_READ)
            n = MAX_READ;
        f->ops->read(f, e->storage, e->offset, (size_t)n, buf);
    }
    ldm_weight_file_close(&f);
    ldm_error_clear();
    return 0;
}
