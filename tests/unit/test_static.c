/* Unit tests for vc-signal's static files: paths map under the root and no symbolic link is
 * followed, through openat2() and through the per-component fallback alike. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../../src/signald/signald.h"
#include "test.h"

struct root {
    char dir[64];
    int fd;
};

/* A root with index.html, js/app.js, and links: to a file and a directory inside, and to /etc
 * and /etc/passwd outside. */
static bool root_make(struct root *r)
{
    char p[160];
    FILE *f;

    snprintf(r->dir, sizeof(r->dir), "/tmp/vc-test-static-XXXXXX");
    if (!mkdtemp(r->dir))
        return false;
    snprintf(p, sizeof(p), "%s/js", r->dir);
    mkdir(p, 0700);
    for (const char *name = "index.html"; name; name = name[0] == 'i' ? "js/app.js" : NULL) {
        snprintf(p, sizeof(p), "%s/%s", r->dir, name);
        if (!(f = fopen(p, "w")))
            return false;
        fputs("hello", f);
        fclose(f);
    }
    static const char *const links[][2] = {{"/etc", "etc"},
                                           {"/etc/passwd", "passwd.txt"},
                                           {"index.html", "alias.html"},
                                           {"js", "jslink"}};
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", r->dir, links[i][1]);
        if (symlink(links[i][0], p) < 0)
            return false;
    }
    r->fd = open(r->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return r->fd >= 0;
}

static void root_free(struct root *r)
{
    static const char *const names[] = {"etc",    "passwd.txt", "alias.html",
                                        "jslink", "index.html", "js/app.js"};
    char p[160];

    close(r->fd);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", r->dir, names[i]);
        unlink(p);
    }
    snprintf(p, sizeof(p), "%s/js", r->dir);
    rmdir(p);
    rmdir(r->dir);
}

static int load(struct root *r, const char *path)
{
    char *body = NULL;
    size_t len = 0;
    const char *mime = NULL;
    int rc = signald_static_load(r->fd, path, &body, &len, &mime);

    if (rc == 0 && len != 5)
        rc = -EIO;
    free(body);
    return rc;
}

TEST(static_serves_files_and_follows_no_link)
{
    struct root r;

    if (!CHECK(root_make(&r)))
        return;
    CHECK_INT(load(&r, "/"), 0);
    CHECK_INT(load(&r, "/index.html"), 0);
    CHECK_INT(load(&r, "/js/app.js"), 0);
    CHECK_INT(load(&r, "/etc/passwd"), -ENOENT);
    CHECK_INT(load(&r, "/passwd.txt"), -ENOENT);
    CHECK_INT(load(&r, "/alias.html"), -ENOENT);
    CHECK_INT(load(&r, "/jslink/app.js"), -ENOENT);
    CHECK_INT(load(&r, "/js"), -ENOENT);
    CHECK_INT(load(&r, "/../etc/passwd"), -ENOENT);
    root_free(&r);
}

TEST(static_fallback_walk_follows_no_link_either)
{
    struct root r;
    int fd;

    if (!CHECK(root_make(&r)))
        return;
    fd = signald_static_open_walk(r.fd, "js/app.js");
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    fd = signald_static_open_walk(r.fd, "index.html");
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    CHECK_INT(signald_static_open_walk(r.fd, "etc/passwd"), -1);
    CHECK_INT(signald_static_open_walk(r.fd, "passwd.txt"), -1);
    CHECK_INT(signald_static_open_walk(r.fd, "alias.html"), -1);
    CHECK_INT(signald_static_open_walk(r.fd, "jslink/app.js"), -1);
    CHECK_INT(signald_static_open_walk(r.fd, "js//app.js"), -1);
    root_free(&r);
}
