/* Static files for vc-signal: maps a request path to a regular file under the web root, following
 * no symbolic link. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "signald.h"

#define STATIC_PATH_MAX 512

static const struct {
    const char *ext;
    const char *mime;
} static_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".json", "application/json"},
    {".webmanifest", "application/manifest+json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".jpg", "image/jpeg"},
    {".webp", "image/webp"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
    {".map", "application/json"},
};

const char *signald_static_mime(const char *name)
{
    const char *dot = strrchr(name, '.');

    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof(static_types) / sizeof(static_types[0]); i++)
            if (strcmp(dot, static_types[i].ext) == 0)
                return static_types[i].mime;
    return "application/octet-stream";
}

/* True for a path we are willing to look up: "/" then segments of [A-Za-z0-9._-] that do not
 * start with '.', so no "..", no hidden files, no empty segments, no encoded bytes. */
static bool static_path_ok(const char *path)
{
    size_t len = strlen(path);

    if (len < 2 || len >= STATIC_PATH_MAX || path[0] != '/')
        return false;
    for (size_t i = 1; i < len; i++) {
        char c = path[i];
        bool seg_start = path[i - 1] == '/';

        if (c == '/' && (seg_start || i + 1 == len))
            return false;
        if (c == '.' && seg_start)
            return false;
        if (!(c == '/' || c == '.' || c == '-' || c == '_' || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

static int static_read(int fd, size_t size, char **body)
{
    char *buf = malloc(size ? size : 1);
    size_t got = 0;

    if (!buf)
        return -ENOMEM;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(buf);
            return n < 0 ? -errno : -EIO;
        }
        got += (size_t)n;
    }
    *body = buf;
    return 0;
}

int signald_static_open_walk(int root_fd, const char *rel)
{
    char seg[STATIC_PATH_MAX];
    int dir = root_fd, fd = -1;

    for (const char *p = rel;; p += strlen(seg) + 1) {
        size_t n = strcspn(p, "/");

        if (n == 0 || n >= sizeof(seg)) {
            errno = ENOENT;
            fd = -1;
            break;
        }
        memcpy(seg, p, n);
        seg[n] = '\0';
        if (p[n] == '\0') {
            fd = openat(dir, seg, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
            break;
        }
        /* A symbolic link is no directory: O_NOFOLLOW with O_DIRECTORY fails on it. */
        fd = openat(dir, seg, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir != root_fd)
            close(dir);
        dir = root_fd;
        if (fd < 0)
            break;
        dir = fd;
        fd = -1;
    }
    if (dir != root_fd)
        close(dir);
    return fd;
}

/* Opens rel (a checked path without its leading '/') under root_fd, following no symbolic link
 * on the way or at the end: openat2() where the kernel has it (5.6 and later), else one openat()
 * per component. Returns the descriptor or -1 with errno set. */
static int static_open(int root_fd, const char *rel)
{
    struct open_how how = {
        .flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof(how));

    if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
        return (int)fd;
    return signald_static_open_walk(root_fd, rel); /* no openat2, or a filter refuses it */
}

int signald_static_load(int root_fd, const char *path, char **body, size_t *len, const char **mime)
{
    struct stat st;
    int fd, r;

    if (strcmp(path, "/") == 0)
        path = "/index.html";
    else if (strcmp(path, "/join") == 0)
        path = "/join.html";
    if (!static_path_ok(path))
        return -ENOENT;
    fd = static_open(root_fd, path + 1);
    if (fd < 0)
        return -ENOENT;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -ENOENT;
    }
    if (st.st_size > SIGNALD_STATIC_MAX) {
        close(fd);
        return -EFBIG;
    }
    r = static_read(fd, (size_t)st.st_size, body);
    close(fd);
    if (r < 0)
        return r;
    *len = (size_t)st.st_size;
    *mime = signald_static_mime(path);
    return 0;
}
