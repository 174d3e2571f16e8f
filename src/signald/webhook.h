/* vc-signal's signed webhooks: events, signatures, the durable queue, and delivery with libcurl. */
#ifndef VC_SIGNALD_WEBHOOK_H
#define VC_SIGNALD_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct json_t;
struct secret;

/* ---- whsign.c: the Vc-Signature header ---- */

#define WHSIGN_HEX_LEN 64 /* HMAC-SHA256 in hex */
/* "t=" 20 digits ",v1=" 64 hex digits and a NUL */
#define WHSIGN_HEADER_MAX (2 + 20 + 4 + WHSIGN_HEX_LEN + 1)

/* HEX(HMAC-SHA256(key, prefix || msg)) into out (WHSIGN_HEX_LEN + 1 bytes). Returns 0 or -EIO. */
int whsign_hmac_hex(const uint8_t *key, size_t key_len, const char *prefix, size_t prefix_len,
                    const char *msg, size_t msg_len, char out[WHSIGN_HEX_LEN + 1]);
/* "t=T,v1=HEX(HMAC-SHA256(secret, T "." body))" into out. Returns 0, -ENOSPC or -EIO. */
int whsign_header(const uint8_t *secret, size_t secret_len, int64_t t, const char *body,
                  size_t body_len, char *out, size_t outlen);

/* ---- whevent.c: which metadata events become webhooks, with which fields ---- */

#define WHEVENT_ID_LEN 32 /* hex characters of a 128-bit CSPRNG id */
#define WHEVENT_ROOM_MAX 64

/* The webhook body for a metadata log line (borrowed: {"ts", "event", fields...}), or NULL when
 * the event is not one webhooks carry. Only the fields listed for the event are copied, so
 * nothing else a log line may hold reaches a receiver. Returns a JSON text the caller frees
 * ({"id", "type", "ts", "data": {...}}), its length in *len and the event's room in room. */
char *whevent_body(const char *event, struct json_t *line, const char *id, size_t *len,
                   char room[WHEVENT_ROOM_MAX + 1]);
/* True for an event webhooks carry. */
bool whevent_wanted(const char *event);

/* ---- whq.c: the queue in memory, its order and the retry schedule ---- */

/* One queued event. The store holds its body; this is what scheduling needs. */
struct whq_room;
struct whq_item {
    uint64_t seq;                    /* the store's row: the order it was queued in */
    char room[WHEVENT_ROOM_MAX + 1]; /* a room's events go out one at a time, in order */
    int64_t first_ms;                /* unix ms when it was queued */
    int64_t due_ms;                  /* unix ms of its next attempt */
    unsigned attempts;               /* failed attempts so far */
    bool busy;                       /* being sent */
    struct whq_item *older, *newer;  /* every item, by seq */
    struct whq_item *next_in_room;   /* the room's later items */
    struct whq_room *of;             /* its room */
};

/* Items by seq, and by room: a heap of the rooms whose first item waits to be sent. */
struct whq {
    struct whq_item *oldest, *newest;
    size_t count;
    struct whq_room **buckets; /* rooms by key */
    size_t nbuckets;           /* a power of two, or 0 before the first item */
    size_t nrooms;
    struct whq_room **heap; /* by the first item's (due_ms, seq) */
    size_t nheap, heap_cap;
};

/* The retry schedule: exponential from min_ms, capped at max_ms, with jitter; it gives up
 * give_up_ms after the event was queued. */
struct whq_policy {
    unsigned min_ms, max_ms;
    int64_t give_up_ms;
};
#define WHQ_GIVE_UP_MS (24LL * 3600 * 1000)

/* Takes it (malloc'd; freed by whq_remove or whq_free), last of its room. 0 or -ENOMEM. */
int whq_push(struct whq *q, struct whq_item *it);
/* The next item to send at now_ms (marked busy), or NULL: none is due or its room is busy. */
struct whq_item *whq_take(struct whq *q, int64_t now_ms);
/* When the next item is due (INT64_MAX: none waits). */
int64_t whq_next_due(const struct whq *q);
/* A busy item failed: it is due again at due_ms, still ahead of its room's later items. */
void whq_retry(struct whq *q, struct whq_item *it, int64_t due_ms);
/* Unlinks and frees it (delivered, given up or dropped). */
void whq_remove(struct whq *q, struct whq_item *it);
/* The item to drop while q holds more than max: the oldest not being sent; NULL once it holds
 * max or fewer (or every item is being sent). */
struct whq_item *whq_over(const struct whq *q, size_t max);
void whq_free(struct whq *q);
/* The wait before attempt attempts + 1, after attempts (>= 1) failed: min_ms x 2^(attempts-1),
 * capped at max_ms, of which the upper half is jitter from rnd. */
int64_t whq_backoff_ms(const struct whq_policy *p, unsigned attempts, uint32_t rnd);
/* After a failed attempt at now_ms (it->attempts counts it): when to try again (never later
 * than give_up_ms after it was queued), or -1 to give up. */
int64_t whq_next_try(const struct whq_policy *p, const struct whq_item *it, int64_t now_ms,
                     uint32_t rnd);

/* ---- whstore.c: the queue on disk (SQLite, DATA_DIR/webhooks.db) ---- */

#define WHSTORE_DB_NAME "webhooks.db"
struct whstore;

/* Opens (creating) DIR/webhooks.db, the file mode 0600. 0, or -errno with a message in err. */
int whstore_open(const char *dir, struct whstore **out, char *err, size_t errlen);
void whstore_close(struct whstore *s);
/* Stores an event (id, room, body, it->first_ms, it->due_ms) and sets it->seq. 0 or -EIO. */
int whstore_put(struct whstore *s, struct whq_item *it, const char *id, const char *body,
                size_t len);
/* Forgets an event (delivered, given up or dropped). 0 or -EIO. */
int whstore_del(struct whstore *s, uint64_t seq);
/* Records a failed attempt: attempts and the next due time. 0 or -EIO. */
int whstore_retry(struct whstore *s, const struct whq_item *it);
/* The id and body of an event (*body malloc'd, the caller frees it). 0, -ENOENT or -EIO. */
int whstore_body(struct whstore *s, uint64_t seq, char id[WHEVENT_ID_LEN + 1], char **body,
                 size_t *len);
/* Pushes every stored event onto q, in the order queued. Returns how many, or -EIO/-ENOMEM. */
int whstore_load(struct whstore *s, struct whq *q);

/* ---- whcurl.c: libcurl's multi interface on a libev loop ---- */

struct whcurl;
/* A transfer finished: easy (still the caller's) and curl's result. */
typedef void (*whcurl_done_fn)(void *ctx, void *easy, int result);
/* 0, -ENOMEM. done and ctx are borrowed. */
int whcurl_start(struct whcurl **out, struct ev_loop *loop, whcurl_done_fn done, void *ctx);
/* Starts easy (a configured CURL *; the caller keeps it and frees it after done). 0 or -EIO. */
int whcurl_add(struct whcurl *c, void *easy);
/* Takes easy off the loop without calling done (the caller frees it). */
void whcurl_remove(struct whcurl *c, void *easy);
/* Stops every watcher and frees c; transfers must have been removed first. */
void whcurl_stop(struct whcurl *c);

/* ---- webhook.c: the whole ---- */

struct webhook;

/* What main.c resolved. Strings are copied; secret is borrowed. */
struct webhook_settings {
    const char *url;             /* https://... */
    const char *ca;              /* a PEM CA bundle, or NULL for the system's */
    const struct secret *secret; /* the HMAC key, the secret file's first line: a reload
                                  * replaces it in place */
    const char *data_dir;
    unsigned max_queue;
    unsigned retry_min_ms, retry_max_ms;
    unsigned timeout_ms; /* one attempt, connecting included */
};

struct webhook_stats {
    uint64_t delivered; /* answered 2xx */
    uint64_t retried;   /* attempts that failed and were scheduled again */
    uint64_t failed;    /* given up after 24 h */
    uint64_t dropped;   /* pushed out of a full queue (oldest first), or not stored */
    size_t queued;      /* waiting or being sent */
};

/* Start-up checks, each naming its key in err: the URL is https, parses and its host resolves;
 * the CA file holds at least one PEM certificate. 0 or -EINVAL. */
int webhook_check_url(const char *url, char *err, size_t errlen);
int webhook_check_ca(const char *path, char *err, size_t errlen);

/* Opens the queue under data_dir and loads what a previous run left. 0, or -errno with err. */
int webhook_open(const struct webhook_settings *s, struct webhook **out, char *err, size_t errlen);
/* Delivers on loop from now on. 0 or -ENOMEM. */
int webhook_start(struct webhook *w, struct ev_loop *loop);
/* Stops delivering (before the loop goes); events after this are only stored. */
void webhook_stop(struct webhook *w);
void webhook_close(struct webhook *w);
/* The metadata log's tap (see event_log_set_tap): events webhooks carry are queued. */
void webhook_tap(void *ctx, const char *event, struct json_t *line);
const struct webhook_stats *webhook_get_stats(const struct webhook *w);

#endif
