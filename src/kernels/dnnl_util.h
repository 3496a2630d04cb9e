/* dnnl_util.h — internal: oneDNN error mapping shared by conv2d.c and linear.c. */
#ifndef LDM_KERNELS_DNNL_UTIL_H
#define LDM_KERNELS_DNNL_UTIL_H

#include <dnnl.h>

#include "core/status.h"

/* LDM_OK for dnnl_success, else LDM_ERUNTIME with "oneDNN <what>: <reason>". */
ldm_status ldm_dnnl_status(dnnl_status_t s, const char *what);

/* For functions with a `cleanup:` label and a local `ldm_status st`. */
#define LDM_DNNL(what, expr) LDM_CHECK(ldm_dnnl_status((expr), (what)))

/* Round a byte count up to the 64-byte alignment scratch regions keep. */
static inline size_t ldm_align64(size_t bytes)
{
    return (bytes + 63) & ~(size_t)63;
}

/* One CPU engine and in-order stream. */
ldm_status ldm_dnnl_engine_create(dnnl_engine_t *engine, dnnl_stream_t *stream);

/* Run a primitive and wait for it (CPU streams are in-order). */
ldm_status ldm_dnnl_execute(dnnl_primitive_t prim, dnnl_stream_t stream, int nargs,
                            const dnnl_exec_arg_t *args, const char *what);

/* Primitive attributes with a user-managed scratchpad (so no primitive ever
 * allocates while running: scratch is the caller's). */
ldm_status ldm_dnnl_attr_create(dnnl_primitive_attr_t *attr);

#endif
