/* Logging: plain diagnostics on stderr, and the metadata log as one JSON object per line. */
#ifndef VC_LOG_H
#define VC_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Diagnostics threshold; hot paths test log_enabled() before formatting. */
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);

/* "vc-turn: error: bind 0.0.0.0:3478: Address in use" style lines on stderr. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The metadata log. One per process; opened in main and passed explicitly. */
struct event_log;

/* Opens path for appending, or stdout for "-". Returns NULL and sets errno on failure. */
struct event_log *event_log_open(const char *path);
void event_log_close(struct event_log *l);

/* Writes {"ts":"2026-01-02T03:04:05.678Z","event":EVENT,...} as one line with one write(2), so
 * threads never interleave. Fields are given as a jansson json_pack() format for an object plus
 * its arguments, e.g. event_log_write(l, "turn.free", "{s:s,s:I}", "alloc", id, "bytes", n).
 * Only ids, counts, times, addresses and client software belong here: never payloads, SDP,
 * candidates, names or tokens. Returns 0, or a negative errno. */
int event_log_write(struct event_log *l, const char *event, const char *fmt, ...);

/* A tap sees every event as it is written: its name and the whole object, "ts" and "event"
 * included (jansson's json_t, borrowed for the call). It is called on the writing thread, whether
 * or not the line reached the file. vc-signal writes events on its service thread only. */
struct json_t;
typedef void (*event_log_tap_fn)(void *ctx, const char *event, struct json_t *line);
/* Makes fn the only tap of l (fn NULL: none); ctx is borrowed. Set taps while no other thread
 * writes. */
void event_log_set_tap(struct event_log *l, event_log_tap_fn fn, void *ctx);
/* Adds a tap after those l has (up to 4; each sees every event, in the order added): 0 or
 * -ENOSPC. */
int event_log_add_tap(struct event_log *l, event_log_tap_fn fn, void *ctx);

#endif
