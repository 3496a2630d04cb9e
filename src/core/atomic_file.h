/* atomic_file.h — write a file so that it is either complete or absent.
 *
 * Output goes to "<path>.tmp<pid>" (created exclusively, next to the
 * target so the rename stays on one filesystem); commit closes it — a full
 * disk may only show at that point — and renames it onto `path`. Any
 * failure, or abort, removes the temporary file, so a failed write never
 * leaves a half-written file and never destroys an older one at `path`.
 *
 *   ldm_atomic_file af;
 *   LDM_CHECK(ldm_atomic_file_open(path, &af));
 *   … fwrite(…, af.f) …
 *   LDM_CHECK(ldm_atomic_file_commit(&af));
 * cleanup:
 *   ldm_atomic_file_abort(&af);     (a no-op after a commit)
 */
#ifndef LDM_CORE_ATOMIC_FILE_H
#define LDM_CORE_ATOMIC_FILE_H

#include <stdio.h>

#include "status.h"

typedef struct ldm_atomic_file {
    const char *path; /* borrowed: the target */
    char *tmp;        /* owned: the temporary file, NULL when none */
    FILE *f;          /* the stream to write; NULL after commit/abort */
} ldm_atomic_file;

/* A missing directory is LDM_EINPUT (a bad output path from the user),
 * anything else LDM_ERUNTIME; both name `path`. */
ldm_status ldm_atomic_file_open(const char *path, ldm_atomic_file *af);
/* Close and rename; on failure the temporary file is removed. `what`
 * names the kind of write in the message ("PNG write failed"). */
ldm_status ldm_atomic_file_commit(ldm_atomic_file *af, const char *what);
/* Close and remove the temporary file if it is still there. */
void ldm_atomic_file_abort(ldm_atomic_file *af);

#endif
