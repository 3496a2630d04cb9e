/* parallel.h — the model-parallel context (SESSION3 contract 1).
 *
 * Placeholder written by helper `bert` so that LDMBert can take the context
 * before helper `tp` (who owns this file) lands; it holds ONLY the struct of
 * the contract, with exactly its name and fields. At merge, tp's version
 * (which adds ldm_model_parallel_rows and the align notes) replaces it.
 */
#ifndef LDM_MODELS_PARALLEL_H
#define LDM_MODELS_PARALLEL_H

#include <mpi.h>

typedef struct ldm_model_parallel {
    MPI_Comm channel;  /* Pc ranks sharing one spatial strip; MPI_COMM_NULL = no split */
    MPI_Comm spatial;  /* Ps ranks, row strips;                MPI_COMM_NULL = no split */
} ldm_model_parallel;

#endif
