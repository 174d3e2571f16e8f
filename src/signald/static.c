/* Static files for vc-signal: maps a request path to a regular file under the web root. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

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

int signald_static_load(const char *root, const char *path, char **body, size_t *len,
                        const char **mime)
{
    char full[STATIC_PATH_MAX * 2];
    struct stat st;
    int fd, r, w;

    if (strcmp(path, "/") == 0)
        path = "/index.html";
    else if (strcmp(path, "/join") == 0)
        path = "/join.html";
    if (!static_path_ok(path))
        return -ENOENT;
    w = snprintf(full, sizeof(full), "%s%s", root, path);
    if (w < 0 || (size_t)w >= sizeof(full))
        return -ENOENT;
    fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
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
