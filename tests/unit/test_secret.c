/* Tests of loading secrets: inline or first line of a file, trimmed, with the caps and messages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vc/secret.h"
#include "test.h"

/* Writes text to a fresh temporary file whose name goes into path. */
static bool test_write_file(char *path, size_t cap, const char *text)
{
    int fd;
    FILE *f;

    snprintf(path, cap, "/tmp/vc_test_secret_XXXXXX");
    fd = mkstemp(path);
    if (fd < 0)
        return false;
    f = fdopen(fd, "w");
    if (!f)
        return false;
    fputs(text, f);
    fclose(f);
    return true;
}

TEST(secret_reads_first_line_trimmed)
{
    char path[64], err[256] = "";
    struct secret s;

    if (!CHECK(test_write_file(path, sizeof(path), " \tsesame \r\nsecond line\n")))
        return;
    CHECK_INT(secret_read_file("k", path, &s, err, sizeof(err)), 0);
    CHECK_INT(s.len, 6);
    CHECK_MEM(s.bytes, "sesame", 6);
    unlink(path);
}

TEST(secret_refuses_empty_long_and_missing_files)
{
    char path[64], err[256] = "", want[128];
    char *big = malloc(SECRET_MAX + 2);
    struct secret s;

    if (!CHECK(big))
        return;
    memset(big, 'a', SECRET_MAX + 1);
    big[SECRET_MAX + 1] = '\0';
    if (CHECK(test_write_file(path, sizeof(path), "  \n"))) {
        CHECK_INT(secret_read_file("secret-file", path, &s, err, sizeof(err)), -EINVAL);
        snprintf(want, sizeof(want), "secret-file: %s has an empty first line", path);
        CHECK_STR(err, want);
        unlink(path);
    }
    if (CHECK(test_write_file(path, sizeof(path), big))) {
        CHECK_INT(secret_read_file("api-key", path, &s, err, sizeof(err)), -EINVAL);
        CHECK_STR(err, "api-key: longer than 1024 bytes");
        unlink(path);
    }
    /* Exactly SECRET_MAX bytes still fits. */
    big[SECRET_MAX] = '\0';
    if (CHECK(test_write_file(path, sizeof(path), big))) {
        CHECK_INT(secret_read_file("api-key", path, &s, err, sizeof(err)), 0);
        CHECK_INT(s.len, SECRET_MAX);
        unlink(path);
    }
    CHECK_INT(secret_read_file("k", "/nonexistent/vc-secret", &s, err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "k: cannot read /nonexistent/vc-secret: No such file or directory");
    free(big);
}

TEST(secret_load_takes_inline_or_file_but_not_both)
{
    char path[64], err[256] = "";
    struct secret s;
    struct secret_opt o = {"secret", "secret-file", "inline", NULL};

    CHECK_INT(secret_load(&o, &s, err, sizeof(err)), 0);
    CHECK_INT(s.len, 6);
    CHECK_MEM(s.bytes, "inline", 6);
    if (CHECK(test_write_file(path, sizeof(path), "fromfile\n"))) {
        o.path = path;
        CHECK_INT(secret_load(&o, &s, err, sizeof(err)), -EINVAL);
        CHECK_STR(err, "secret: give either secret or secret-file, not both");
        o.value = NULL;
        CHECK_INT(secret_load(&o, &s, err, sizeof(err)), 0);
        CHECK_INT(s.len, 8);
        CHECK_MEM(s.bytes, "fromfile", 8);
        unlink(path);
    }
    o.path = NULL;
    CHECK_INT(secret_load(&o, &s, err, sizeof(err)), 0);
    CHECK_INT(s.len, 0);
    o.value = "";
    CHECK_INT(secret_load(&o, &s, err, sizeof(err)), -EINVAL);
    CHECK_STR(err, "secret: must be 1 to 1024 bytes");
    secret_wipe(&s);
    CHECK_INT(s.len, 0);
}
