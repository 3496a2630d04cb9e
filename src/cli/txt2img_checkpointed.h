/* txt2img_checkpointed.h — txt2img through a one-item run file. */
#ifndef LDM_CLI_TXT2IMG_CHECKPOINTED_H
#define LDM_CLI_TXT2IMG_CHECKPOINTED_H

#include <stdint.h>

#include "sample/pipeline.h"
#include "txt2img_args.h"

/* COLLECTIVE on MPI_COMM_WORLD. Creates a->checkpoint (refused if it exists
 * without --force), runs the one image of `req` with checkpoints every
 * a->checkpoint_every steps, and reads the finished image [H, W, 3] back.
 * LDM_EINTERRUPTED after a signal (the run file holds the checkpoint). */
ldm_status ldm_txt2img_checkpointed(const ldm_txt2img_args *a, ldm_pipeline *p,
                                    const ldm_txt2img_request *req, const char *command_line,
                                    uint8_t *image);

#endif
