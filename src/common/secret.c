/* Shared secrets from the config: given inline under one option, or as the first line of a file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vc/daemon.h"
#include "vc/secret.h"

int secret_read_file(const char *key, const char *path, struct secret *out, char *err,
                     size_t errlen)
{
    char line[SECRET_MAX + 2];
    FILE *f = fopen(path, "r");
    size_t len, start = 0;

    out->len = 0;
    if (!f)
        return daemon_fail(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
    if (!fgets(line, sizeof(line), f))
        line[0] = '\0';
    fclose(f);
    len = strcspn(line, "\r\n");
    while (start < len && (line[start] == ' ' || line[start] == '\t'))
        start++;
    while (len > start && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len - start > SECRET_MAX) {
        explicit_bzero(line, sizeof(line));
        return daemon_fail(err, errlen, "%s: longer than %d bytes", key, SECRET_MAX);
    }
    memcpy(out->bytes, line + start, len - start);
    out->len = len - start;
    explicit_bzero(line, sizeof(line));
    if (out->len == 0)
        return daemon_fail(err, errlen, "%s: %s has an empty first line", key, path);
    return 0;
}

int secret_load(const struct secret_opt *o, struct secret *out, char *err, size_t errlen)
{
    size_t len;

    out->len = 0;
    if (o->value && o->path)
        return daemon_fail(err, errlen, "%s: give either %s or %s-file, not both", o->key, o->key,
                           o->key);
    if (o->path)
        return secret_read_file(o->file_key, o->path, out, err, errlen);
    if (!o->value)
        return 0;
    len = strlen(o->value);
    if (len == 0 || len > SECRET_MAX)
        return daemon_fail(err, errlen, "%s: must be 1 to %d bytes", o->key, SECRET_MAX);
    memcpy(out->bytes, o->value, len);
    out->len = len;
    return 0;
}

void secret_wipe(struct secret *s)
{
    explicit_bzero(s, sizeof(*s));
}
