#include "dnnl_util.h"

#include <dnnl_debug.h>

ldm_status ldm_dnnl_status(dnnl_status_t s, const char *what)
{
    if (s == dnnl_success)
        return LDM_OK;
    if (s == dnnl_out_of_memory)
        return ldm_error(LDM_ERUNTIME, "oneDNN %s: out of memory", what);
    return ldm_error(LDM_ERUNTIME, "oneDNN %s: %s", what, dnnl_status2str(s));
}

ldm_status ldm_dnnl_engine_create(dnnl_engine_t *engine, dnnl_stream_t *stream)
{
    ldm_status st = LDM_OK;
    *engine = NULL;
    *stream = NULL;
    LDM_DNNL("engine_create", dnnl_engine_create(engine, dnnl_cpu, 0));
    LDM_DNNL("stream_create", dnnl_stream_create(stream, *engine, dnnl_stream_default_flags));
cleanup:
    if (st != LDM_OK && *engine) {
        dnnl_engine_destroy(*engine);
        *engine = NULL;
    }
    return st;
}

ldm_status ldm_dnnl_execute(dnnl_primitive_t prim, dnnl_stream_t stream, int nargs,
                            const dnnl_exec_arg_t *args, const char *what)
{
    ldm_status st = LDM_OK;
    LDM_DNNL(what, dnnl_primitive_execute(prim, stream, nargs, args));
    LDM_DNNL(what, dnnl_stream_wait(stream));
cleanup:
    return st;
}

ldm_status ldm_dnnl_attr_create(dnnl_primitive_attr_t *attr)
{
    ldm_status st = LDM_OK;
    *attr = NULL;
    LDM_DNNL("attr_create", dnnl_primitive_attr_create(attr));
    LDM_DNNL("set_scratchpad_mode",
             dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user));
cleanup:
    if (st != LDM_OK && *attr) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return st;
}
