#include "file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"

ldm_status ldm_read_file(const char *path, char **data, size_t *len)
{
    ldm_status st = LDM_OK;
    char *buf = NULL;
    *data = NULL;
    if (len)
        *len = 0;
    if (ldm_is_dir(path))
        return ldm_error(LDM_EINPUT, "%s: is a directory, not a file", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return ldm_error(LDM_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        st = ldm_error(LDM_EINPUT, "%s: cannot seek: %s", path, strerror(errno));
        goto cleanup;
    }
    long size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = ldm_error(LDM_EINPUT, "%s: not a regular file", path);
        goto cleanup;
    }
    LDM_CHECK(ldm_alloc((size_t)size + 1, path, (void **)&buf));
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        st = ldm_error(LDM_EINPUT, "%s: short read", path);
        goto cleanup;
    }
    buf[size] = '\0';
    *data = buf;
    buf = NULL;
    if (len)
        *len = (size_t)size;
cleanup:
    ldm_free(buf);
    fclose(f);
    return st;
}

ldm_status ldm_path_join(const char *dir, const char *name, char **out)
{
    size_t a = strlen(dir), b = strlen(name);
    ldm_status st = ldm_alloc(a + b + 2, "path", (void **)out);
    if (st != LDM_OK)
        return st;
    memcpy(*out, dir, a);
    size_t pos = a;
    if (a > 0 && dir[a - 1] != '/')
        (*out)[pos++] = '/';
    memcpy(*out + pos, name, b + 1);
    return LDM_OK;
}

int ldm_is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int ldm_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}
