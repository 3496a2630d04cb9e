/* file.h — whole-file reads and path joins, with errors naming the path. */
#ifndef LDM_CORE_FILE_H
#define LDM_CORE_FILE_H

#include <stddef.h>

#include "status.h"

/* Read a whole file into a NUL-terminated buffer from ldm_alloc.
 * `*len` (may be NULL) gets the byte count without the NUL. */
ldm_status ldm_read_file(const char *path, char **data, size_t *len);

/* Join dir + "/" + name into a buffer from ldm_alloc. */
ldm_status ldm_path_join(const char *dir, const char *name, char **out);

/* 1 if the path exists and is a regular file, else 0. */
int ldm_is_file(const char *path);
/* 1 if the path exists and is a directory, else 0. */
int ldm_is_dir(const char *path);

#endif
