/* Logging: leveled diagnostics on stderr, and the JSON-lines metadata log written atomically. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "vc/log.h"

/* One metadata line, '\n' included. Also PIPE_BUF, so a line to a pipe is written atomically. */
#define EVENT_LOG_LINE_MAX 4096

/* Taps one log may have at once (webhooks, reports). */
#define EVENT_LOG_TAPS_MAX 4

/* Longest diagnostic line; longer messages are cut and end in "...". */
#define LOG_MSG_MAX 1024

/* The one process-wide mutable global (house rule 15 exception): the diagnostics threshold. main
 * sets it once at start-up from the config, before any thread starts; readers only load it. It is
 * atomic so that a late change (e.g. from a test) is still well defined. */
static _Atomic int log_level_current = LOG_LEVEL_INFO;

struct event_log {
    int fd;
    bool owns_fd;
    struct {
        event_log_tap_fn fn;
        void *ctx; /* borrowed */
    } taps[EVENT_LOG_TAPS_MAX];
    unsigned ntaps;
};

void log_set_level(enum log_level level)
{
    atomic_store_explicit(&log_level_current, (int)level, memory_order_relaxed);
}

bool log_enabled(enum log_level level)
{
    return (int)level <= atomic_load_explicit(&log_level_current, memory_order_relaxed);
}

static const char *log_level_name(enum log_level level)
{
    switch (level) {
    case LOG_LEVEL_ERROR:
        return "error";
    case LOG_LEVEL_WARN:
        return "warning";
    case LOG_LEVEL_INFO:
        return "info";
    case LOG_LEVEL_DEBUG:
        return "debug";
    }
    return "?";
}

/* The line is built in one buffer and written with one write(2), so threads do not interleave.
 * The program name comes from glibc (argv[0]'s basename), so no global is needed for it. */
void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[LOG_MSG_MAX];
    va_list ap;
    int n, m;
    size_t len;
    ssize_t w;

    if (!log_enabled(level))
        return;
    n = snprintf(line, sizeof(line), "%s: %s: ", program_invocation_short_name,
                 log_level_name(level));
    if (n < 0)
        return;
    len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    va_start(ap, fmt);
    m = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    len += (size_t)m;
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2;
        memcpy(line + len - 3, "...", 3);
    }
    line[len++] = '\n';
    do {
        w = write(STDERR_FILENO, line, len);
    } while (w < 0 && errno == EINTR);
}

struct event_log *event_log_open(const char *path)
{
    struct event_log *l;
    int fd;

    if (!path || !*path) {
        errno = EINVAL;
        return NULL;
    }
    if (strcmp(path, "-") == 0) {
        fd = STDOUT_FILENO;
    } else {
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return NULL;
    }
    l = calloc(1, sizeof(*l));
    if (!l) {
        if (fd != STDOUT_FILENO)
            close(fd);
        errno = ENOMEM;
        return NULL;
    }
    l->fd = fd;
    l->owns_fd = fd != STDOUT_FILENO;
    return l;
}

void event_log_set_tap(struct event_log *l, event_log_tap_fn fn, void *ctx)
{
    l->ntaps = 0;
    if (fn)
        event_log_add_tap(l, fn, ctx);
}

int event_log_add_tap(struct event_log *l, event_log_tap_fn fn, void *ctx)
{
    if (l->ntaps == EVENT_LOG_TAPS_MAX)
        return -ENOSPC;
    l->taps[l->ntaps].fn = fn;
    l->taps[l->ntaps++].ctx = ctx;
    return 0;
}

void event_log_close(struct event_log *l)
{
    if (!l)
        return;
    if (l->owns_fd)
        close(l->fd);
    free(l);
}

/* Writes "2026-11-22T23:30:13.123Z" (RFC 3339, UTC, milliseconds) into out. */
static int event_log_timestamp(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;
    size_t n;

    if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !gmtime_r(&ts.tv_sec, &tm))
        return -errno;
    n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0)
        return -EOVERFLOW;
    snprintf(out + n, outlen - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return 0;
}

/* Builds {"ts","event",fields...} in that order. The caller's fields may not reuse ts or event. */
static json_t *event_log_build(const char *event, json_t *fields)
{
    char ts[40];
    json_t *obj;
    const char *key;
    json_t *val;

    if (event_log_timestamp(ts, sizeof(ts)) < 0)
        return NULL;
    obj = json_object();
    if (!obj)
        return NULL;
    if (json_object_set_new(obj, "ts", json_string(ts)) < 0 ||
        json_object_set_new(obj, "event", json_string(event)) < 0)
        goto fail;
    /* jansson (>= 2.8) iterates objects in insertion order, so the caller's order is kept. */
    json_object_foreach(fields, key, val)
    {
        if (strcmp(key, "ts") == 0 || strcmp(key, "event") == 0)
            goto fail;
        if (json_object_set(obj, key, val) < 0)
            goto fail;
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

int event_log_write(struct event_log *l, const char *event, const char *fmt, ...)
{
    char line[EVENT_LOG_LINE_MAX];
    json_error_t jerr;
    json_t *fields, *obj;
    va_list ap;
    size_t len;
    ssize_t w;

    if (!l || !event || !*event)
        return -EINVAL;
    if (fmt && *fmt) {
        va_start(ap, fmt);
        fields = json_vpack_ex(&jerr, 0, fmt, ap);
        va_end(ap);
    } else {
        fields = json_object();
    }
    if (!fields)
        return -EINVAL;
    if (!json_is_object(fields)) {
        json_decref(fields);
        return -EINVAL;
    }
    obj = event_log_build(event, fields);
    json_decref(fields);
    if (!obj)
        return -EINVAL;
    len = json_dumpb(obj, line, sizeof(line), JSON_COMPACT | JSON_PRESERVE_ORDER);
    for (unsigned i = 0; i < l->ntaps; i++)
        l->taps[i].fn(l->taps[i].ctx, event, obj);
    json_decref(obj);
    if (len == 0)
        return -EINVAL;
    if (len > sizeof(line) - 1) /* room for the '\n' */
        return -EMSGSIZE;
    line[len++] = '\n';

    /* One write(2): O_APPEND makes it land whole at the end of a file. A short write cannot be
     * finished without risking a split line, so it is reported rather than retried. */
    do {
        w = write(l->fd, line, len);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return -errno;
    if ((size_t)w != len)
        return -EIO;
    return 0;
}
