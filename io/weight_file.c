#include "weight_file.h"

#include "core/alloc.h"

void ldm_weight_file_close(ldm_weight_file **f)
{
    if (!f || !*f)
        return;
    ldm_weight_file *w = *f;
    if (w->ops && w->ops->close)
        w->ops->close(w);
    for (int i = 0; i < w->count; i++)
        ldm_free(w->tensors[i].name);
    ldm_free(w->tensors);
    ldm_free(w->path);
    ldm_free(w);
    *f = NULL;
}

int64_t ldm_tensor_entry_numel(const ldm_tensor_entry *e)
{
    int64_t n = 1;
    for (int i = 0; i < e->ndim; i++)
        n *= e->shape[i];
    return n;
}
