/* Private data files under --data-dir: the directory and the file exist with owner-only modes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vc/datafile.h"

int datafile_prepare(const char *dir, const char *name, char *path, size_t pathlen, char *err,
                     size_t errlen)
{
    struct stat st;
    int fd, n;

    if (mkdir(dir, 0700) == 0) {
        if (chmod(dir, 0700) < 0) {
            snprintf(err, errlen, "chmod %s: %s", dir, strerror(errno));
            return -errno;
        }
    } else if (errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", dir, strerror(errno));
        return -errno;
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a directory", dir);
        return -ENOTDIR;
    }
    n = snprintf(path, pathlen, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= pathlen) {
        snprintf(err, errlen, "data directory path too long");
        return -ENAMETOOLONG;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -errno;
    }
    if (fchmod(fd, 0600) < 0) {
        n = errno;
        close(fd);
        snprintf(err, errlen, "chmod %s: %s", path, strerror(n));
        return -n;
    }
    close(fd);
    return 0;
}
