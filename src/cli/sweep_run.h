/* sweep_run.h — run the unfinished items of an open run file on every rank
 * of a communicator, checkpointing as it goes (ldm sweep, ldm resume).
 *
 * Items go to data-parallel groups (run_layout.h; without a layout each
 * rank is a group). They are handed out dynamically: at every step all
 * ranks exchange who is idle, and idle groups take the next unfinished
 * items in index order, lowest group first. Every rank of a group runs the
 * group's item (as a CFG branch and/or a grid tile); the group's leader
 * alone writes its checkpoints, frames and image. The hand-out is
 * computed identically on every rank from the same exchanged flags, so it
 * needs no server. Because run-file writes are collective, the ranks move in
 * lockstep, one denoising step per round: a rank whose item ends early takes
 * the next one at the next round, so items with different step counts
 * balance; items whose steps cost different times do not (yet).
 *
 * Checkpoint state in the run file: the pipeline's state blob (sample/
 * pipeline.h) split into its parts — latents [C, h, w] → latents, the two
 * generators → rng [2, 633], and the blob's header + scheduler history →
 * the opaque scheduler state — and joined again on resume.
 */
#ifndef LDM_CLI_SWEEP_RUN_H
#define LDM_CLI_SWEEP_RUN_H

#include <mpi.h>

#include "core/status.h"
#include "io/runfile.h"
#include "run_layout.h"
#include "sample/pipeline.h"

enum { LDM_SWEEP_RNG_STREAMS = 2, LDM_SWEEP_STATE_HEADER = 32 };

/* The pipeline request of a run-file item (borrows its strings; `prompt`
 * is the one-entry prompt array the request points to). */
void ldm_sweep_request(const ldm_runfile_item *it, const char **prompt, ldm_txt2img_request *req);

/* The request of an item whose latent_shape[1..2] (request size / 8) is
 * set: fill latent_shape[0] and scheduler_state_bytes from a run begun with that request (text encoder + UNet
 * set-up: call once per distinct size/steps/scheduler). */
ldm_status ldm_sweep_item_sizes(ldm_pipeline *p, ldm_runfile_item *it);

/* COLLECTIVE on comm (the run file's; the world when `rl` is given, whose
 * groups then share the items; NULL: every rank a group of its own, no
 * CFG branches). Run every item not done; checkpoint
 * every `every` steps (0: only on a signal). On SIGTERM/SIGINT/SIGUSR1 on
 * any rank: finish the step, checkpoint, LDM_EINTERRUPTED. `log`: print one
 * line per item on finishing. Inside a Slurm job the run is first recorded
 * in /status/slurm (ldm_runfile_record_slurm). */
ldm_status ldm_sweep_execute(MPI_Comm comm, ldm_runfile *rf, ldm_pipeline *p,
                             const ldm_run_layout *rl, int every, int log);

#endif
