#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"

ldm_status ldm_atomic_file_open(const char *path, ldm_atomic_file *af)
{
    af->path = path;
    af->tmp = NULL;
    af->f = NULL;
    size_t plen = strlen(path) + 32;
    ldm_status st = ldm_alloc(plen, "temporary path", (void **)&af->tmp);
    if (st != LDM_OK)
        return st;
    snprintf(af->tmp, plen, "%s.tmp%ld", path, (long)getpid());
    int fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd >= 0)
        af->f = fdopen(fd, "wb");
    if (!af->f) {
        int err = errno;
        if (fd >= 0) {
            close(fd);
            unlink(af->tmp);
        }
        ldm_free(af->tmp);
        af->tmp = NULL;
        return ldm_error(err == ENOENT || err == ENOTDIR ? LDM_EINPUT : LDM_ERUNTIME,
                         "%s: cannot create: %s", path, strerror(err));
    }
    return LDM_OK;
}

ldm_status ldm_atomic_file_commit(ldm_atomic_file *af, const char *what)
{
    ldm_status st = LDM_OK;
    int rc = fclose(af->f);
    af->f = NULL;
    if (rc != 0)
        st = ldm_error(LDM_ERUNTIME, "%s: %s: %s", af->path, what, strerror(errno));
    else if (rename(af->tmp, af->path) != 0)
        st = ldm_error(LDM_ERUNTIME, "%s: cannot rename %s to it: %s", af->path, af->tmp,
                       strerror(errno));
    if (st != LDM_OK)
        unlink(af->tmp);
    ldm_free(af->tmp);
    af->tmp = NULL;
    return st;
}

void ldm_atomic_file_abort(ldm_atomic_file *af)
{
    if (af->f) {
        fclose(af->f);
        af->f = NULL;
    }
    if (af->tmp) {
        unlink(af->tmp);
        ldm_free(af->tmp);
        af->tmp = NULL;
    }
}
