/* txt2img_checkpointed.c — `ldm txt2img --checkpoint RUN.h5`: the request
 * becomes a one-item run file and runs through the sweep loop, so it is
 * checkpointed every K steps, stops on SIGTERM/SIGINT/SIGUSR1 with exit 3,
 * and `ldm resume RUN.h5` finishes it with exactly the same image. */
#include <string.h>

#include "commands.h"
#include "core/alloc.h"
#include "io/model_identity.h"
#include "io/runfile.h"
#include "mpi/agree.h"
#include "sample/rng.h"
#include "signals.h"
#include "sweep_run.h"
#include "txt2img_checkpointed.h"

ldm_status ldm_txt2img_checkpointed(const ldm_txt2img_args *a, ldm_pipeline *p,
                                    const ldm_txt2img_request *req, const char *command_line,
                                    uint8_t *image)
{
    ldm_status st = LDM_OK;
    ldm_model_identity id = { 0 };
    ldm_runfile *rf = NULL;
    int dh, dw, count, h, w;
    ldm_pipeline_default_size(p, &dh, &dw);
    ldm_runfile_item it = {
        .prompt = req->prompts[0],
        .negative_prompt = req->negative_prompt ? req->negative_prompt : "",
        .scheduler = req->scheduler ? req->scheduler : "",
        .seed = req->seed, .noise_seed = req->noise_seed,
        .guidance_scale = req->guidance_scale, .eta = req->eta, .steps = req->steps,
        .latent_shape = { 0, (req->height ? req->height : dh) / 8, (req->width ? req->width : dw) / 8 },
    };
    st = ldm_pipeline_output_shape(p, req, &count, &h, &w);
    it.height = h;
    it.width = w;
    if (st == LDM_OK)
        st = ldm_sweep_item_sizes(p, &it);
    if (st == LDM_OK)
        st = ldm_model_identity_compute(a->model, &id);
    LDM_CHECK(ldm_mpi_agree(MPI_COMM_WORLD, st));
    ldm_runfile_spec spec = { .command_line = command_line, .model = &id,
                              .rng_streams = LDM_SWEEP_RNG_STREAMS,
                              .rng_words = LDM_RNG_STATE_WORDS };
    LDM_CHECK(ldm_runfile_create(MPI_COMM_WORLD, a->checkpoint, &spec, &it, 1, a->force, &rf));
    ldm_signals_install();
    LDM_CHECK(ldm_sweep_execute(MPI_COMM_WORLD, rf, p, NULL, (int)a->checkpoint_every, 0));
    ldm_runfile_image img = { .item = 0, .rgb = image, .rgb_bytes = (int64_t)h * w * 3 };
    LDM_CHECK(ldm_runfile_image_read(rf, &img, 1));
cleanup:
    if (rf) {
        ldm_status cst = ldm_runfile_close(&rf);
        if (st == LDM_OK)
            st = cst;
    }
    ldm_model_identity_free(&id);
    return st;
}
