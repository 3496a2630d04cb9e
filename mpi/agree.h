/* agree.h — ranks agree on failure before the next collective.
 *
 * Collective on `comm`. Every rank passes its local status; all get the
 * worst (MAX) one back, so that one rank's bad input makes all ranks stop
 * together instead of leaving the others hanging in the next collective.
 * A rank that did not fail itself gets a message saying which rank did. */
#ifndef LDM_MPI_AGREE_H
#define LDM_MPI_AGREE_H

#include <mpi.h>

#include "core/status.h"

ldm_status ldm_mpi_agree(MPI_Comm comm, ldm_status local);

#endif
