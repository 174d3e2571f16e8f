/* Unit tests for log: metadata lines are whole JSON objects with ts and event first, even from
 * threads; oversized lines are refused; diagnostics respect the level. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "test.h"
#include "vc/log.h"

#define THREAD_LINES 1000

/* Creates an empty temp file and returns its path in buf. */
static bool temp_path(char *buf, size_t len)
{
    int fd;

    snprintf(buf, len, "/tmp/vc-test-log-XXXXXX");
    fd = mkstemp(buf);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

/* Reads the whole file into a malloc'd NUL-terminated buffer (caller frees). */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

/* "2026-11-22T23:30:13.123Z" */
static bool is_rfc3339_ms(const char *s)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";

    if (strlen(s) != sizeof(pattern) - 1)
        return false;
    for (size_t i = 0; pattern[i]; i++) {
        if (pattern[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pattern[i])
            return false;
    }
    return true;
}

TEST(event_log_writes_one_json_line_with_ts_and_event_first)
{
    char path[64], *data;
    struct event_log *l;
    json_t *obj, *v;
    json_error_t jerr;
    const char *key;
    size_t len;
    int i = 0;
    struct stat st;

    if (!CHECK(temp_path(path, sizeof(path))))
        return;
    unlink(path); /* event_log_open must create it, mode 0640 */
    l = event_log_open(path);
    if (!CHECK(l != NULL))
        return;
    CHECK_INT(event_log_write(l, "turn.free", "{s:s,s:I,s:b}", "alloc", "a1b2", "bytes",
                              (json_int_t)123456789012LL, "relay", 1),
              0);
    CHECK_INT(event_log_write(l, "turn.alloc", NULL), 0);
    event_log_close(l);
    mode_t mask = umask(0);
    umask(mask);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == (0640 & ~mask));

    data = read_all(path, &len);
    unlink(path);
    if (!CHECK(data != NULL))
        return;
    CHECK(len > 0 && data[len - 1] == '\n');
    CHECK(strncmp(data, "{\"ts\":\"", 7) == 0);
    CHECK(strstr(data, "\",\"event\":\"turn.free\",\"alloc\":\"a1b2\",\"bytes\":123456789012,"
                       "\"relay\":true}\n{\"ts\":\"") != NULL);
    CHECK(strstr(data, "\"event\":\"turn.alloc\"}\n") != NULL);

    obj = json_loadb(data, strcspn(data, "\n"), 0, &jerr);
    free(data);
    if (!CHECK(obj != NULL))
        return;
    json_object_foreach(obj, key, v)
    {
        static const char *want[] = {"ts", "event", "alloc", "bytes", "relay"};
        if (CHECK(i < 5))
            CHECK_STR(key, want[i]);
        i++;
    }
    CHECK_INT(i, 5);
    CHECK(is_rfc3339_ms(json_string_value(json_object_get(obj, "ts"))));
    CHECK_STR(json_string_value(json_object_get(obj, "event")), "turn.free");
    CHECK_INT(json_integer_value(json_object_get(obj, "bytes")), 123456789012LL);
    json_decref(obj);
}

TEST(event_log_refuses_oversized_and_bad_fields)
{
    char path[64], *big, *data;
    struct event_log *l;
    size_t len = 1;

    if (!CHECK(temp_path(path, sizeof(path))))
        return;
    l = event_log_open(path);
    if (!CHECK(l != NULL))
        return;
    big = malloc(5000);
    memset(big, 'x', 4999);
    big[4999] = '\0';
    CHECK_INT(event_log_write(l, "e", "{s:s}", "big", big), -EMSGSIZE);
    big[4000] = '\0';
    CHECK_INT(event_log_write(l, "e", "{s:s}", "big", big), 0);
    free(big);
    CHECK_INT(event_log_write(l, "e", "{s:s}", "ts", "forged"), -EINVAL);
    CHECK_INT(event_log_write(l, "e", "{s:s}", "event", "forged"), -EINVAL);
    CHECK_INT(event_log_write(l, "e", "[i]", 1), -EINVAL);
    CHECK_INT(event_log_write(l, "e", "{s:s", "k", "v"), -EINVAL);
    CHECK_INT(event_log_write(l, "", NULL), -EINVAL);
    event_log_close(l);

    data = read_all(path, &len);
    unlink(path);
    if (!CHECK(data != NULL))
        return;
    /* Only the 4000-byte line made it. */
    CHECK(len > 4000 && len <= 4096);
    CHECK(strchr(data, '\n') == data + len - 1);
    free(data);
}

struct writer {
    struct event_log *l;
    int id;
    int failures;
};

static void *writer_main(void *arg)
{
    struct writer *w = arg;

    for (int i = 0; i < THREAD_LINES; i++) {
        if (event_log_write(w->l, "test.line", "{s:i,s:i,s:s}", "thread", w->id, "seq", i, "pad",
                            "0123456789012345678901234567890123456789") < 0)
            w->failures++;
    }
    return NULL;
}

TEST(event_log_lines_from_threads_never_interleave)
{
    char path[64], *data, *line, *nl;
    struct writer w[2];
    pthread_t th[2];
    int seen[2][THREAD_LINES] = {{0}};
    int lines = 0, bad = 0;
    size_t len;

    if (!CHECK(temp_path(path, sizeof(path))))
        return;
    w[0].l = w[1].l = event_log_open(path);
    if (!CHECK(w[0].l != NULL))
        return;
    for (int t = 0; t < 2; t++) {
        w[t].id = t;
        w[t].failures = 0;
        pthread_create(&th[t], NULL, writer_main, &w[t]);
    }
    for (int t = 0; t < 2; t++)
        pthread_join(th[t], NULL);
    event_log_close(w[0].l);
    CHECK_INT(w[0].failures + w[1].failures, 0);

    data = read_all(path, &len);
    unlink(path);
    if (!CHECK(data != NULL))
        return;
    CHECK(len > 0 && data[len - 1] == '\n');
    for (line = data; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        json_t *o = json_loadb(line, (size_t)(nl - line), 0, NULL);
        json_int_t t, s;
        lines++;
        if (!o) {
            bad++;
            continue;
        }
        t = json_integer_value(json_object_get(o, "thread"));
        s = json_integer_value(json_object_get(o, "seq"));
        if (t >= 0 && t < 2 && s >= 0 && s < THREAD_LINES)
            seen[t][s]++;
        else
            bad++;
        json_decref(o);
    }
    free(data);
    CHECK_INT(lines, 2 * THREAD_LINES);
    CHECK_INT(bad, 0);
    for (int t = 0; t < 2; t++) {
        for (int s = 0; s < THREAD_LINES; s++) {
            if (seen[t][s] != 1) {
                test_fail(__FILE__, __LINE__, "thread %d line %d seen %d times", t, s, seen[t][s]);
                return;
            }
        }
    }
}

TEST(event_log_open_fails_with_errno)
{
    errno = 0;
    CHECK(event_log_open("/nonexistent-dir/x.log") == NULL);
    CHECK_INT(errno, ENOENT);
}

TEST(log_msg_prints_level_and_respects_threshold)
{
    char path[64], *data, want[128];
    int saved, fd;
    size_t len;

    if (!CHECK(temp_path(path, sizeof(path))))
        return;
    fd = open(path, O_WRONLY | O_TRUNC);
    saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);

    log_set_level(LOG_LEVEL_INFO);
    log_msg(LOG_LEVEL_ERROR, "bind %s: %s", "127.0.0.1:3478", "Address in use");
    log_msg(LOG_LEVEL_DEBUG, "hidden %d", 1);
    log_msg(LOG_LEVEL_WARN, "careful");
    CHECK(log_enabled(LOG_LEVEL_INFO));
    CHECK(!log_enabled(LOG_LEVEL_DEBUG));
    log_set_level(LOG_LEVEL_DEBUG);
    CHECK(log_enabled(LOG_LEVEL_DEBUG));
    log_msg(LOG_LEVEL_DEBUG, "shown %d", 2);
    log_set_level(LOG_LEVEL_INFO);

    dup2(saved, STDERR_FILENO);
    close(saved);
    data = read_all(path, &len);
    unlink(path);
    if (!CHECK(data != NULL))
        return;
    snprintf(want, sizeof(want),
             "%1$s: error: bind 127.0.0.1:3478: Address in use\n%1$s: warning: careful\n"
             "%1$s: debug: shown 2\n",
             program_invocation_short_name);
    CHECK_STR(data, want);
    free(data);
}

/* The tap's view of one event: its name and the "ts" and fields of its line. */
struct tap_seen {
    int calls;
    char event[32];
    char line[256];
};

static void tap_record(void *ctx, const char *event, json_t *line)
{
    struct tap_seen *t = ctx;
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);

    t->calls++;
    snprintf(t->event, sizeof(t->event), "%s", event);
    snprintf(t->line, sizeof(t->line), "%s", text ? text : "");
    free(text);
}

TEST(event_log_taps_each_see_every_event_up_to_four)
{
    char path[64];
    struct tap_seen seen[5];
    struct event_log *l;

    memset(seen, 0, sizeof(seen));
    if (!CHECK(temp_path(path, sizeof(path))) || !CHECK((l = event_log_open(path)) != NULL))
        return;
    for (int i = 0; i < 4; i++)
        CHECK_INT(event_log_add_tap(l, tap_record, &seen[i]), 0);
    CHECK_INT(event_log_add_tap(l, tap_record, &seen[4]), -ENOSPC);
    CHECK_INT(event_log_write(l, "call.summary", "{s:s}", "room", "r1"), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_INT(seen[i].calls, 1);
        CHECK_STR(seen[i].event, "call.summary");
    }
    CHECK_INT(seen[4].calls, 0);
    event_log_set_tap(l, tap_record, &seen[4]); /* the only one now */
    CHECK_INT(event_log_write(l, "room.ended", NULL), 0);
    CHECK_INT(seen[0].calls, 1);
    CHECK_INT(seen[4].calls, 1);
    event_log_set_tap(l, NULL, NULL);
    CHECK_INT(event_log_write(l, "room.ended", NULL), 0);
    CHECK_INT(seen[4].calls, 1);
    event_log_close(l);
    unlink(path);
}

TEST(event_log_tap_sees_each_event_until_removed)
{
    char path[64];
    struct tap_seen seen = {0};
    struct event_log *l;

    if (!CHECK(temp_path(path, sizeof(path))) || !CHECK((l = event_log_open(path)) != NULL))
        return;
    event_log_set_tap(l, tap_record, &seen);
    CHECK_INT(
        event_log_write(l, "room.ended", "{s:s,s:I}", "room", "r1", "duration_s", (json_int_t)7),
        0);
    CHECK_INT(seen.calls, 1);
    CHECK_STR(seen.event, "room.ended");
    CHECK(strncmp(seen.line, "{\"ts\":\"", 7) == 0);
    CHECK(strstr(seen.line, "\"event\":\"room.ended\",\"room\":\"r1\",\"duration_s\":7}") != NULL);
    CHECK_INT(event_log_write(l, "x", "{s:i}", "ts", 1), -EINVAL); /* refused: never tapped */
    event_log_set_tap(l, NULL, NULL);
    CHECK_INT(event_log_write(l, "room.created", NULL), 0);
    CHECK_INT(seen.calls, 1);
    event_log_close(l);
    unlink(path);
}
