/* The signalling core: rooms, peers, lobby, brokering, resume and TURN credentials. No sockets. */
#ifndef VC_HUB_H
#define VC_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vc/sigmsg.h"

struct event_log;
struct turnpool;
struct hub;
struct hub_session; /* the core's state for one WebSocket connection */
struct hub_conn;    /* the I/O layer's connection: opaque to the core */

#define HUB_ROOM_ID_LEN 16 /* hex characters of a 64-bit random id: safe to log */
#define HUB_TOKEN_LEN 32   /* hex characters of a 128-bit CSPRNG token */
#define HUB_OWNER_MAX 64
#define HUB_MAX_ICE_SERVERS 8
#define HUB_REGION_MAX 32 /* as TURNPOOL_REGION_MAX */

/* What the core needs from the I/O layer; every call happens on the I/O thread. */
struct hub_io_ops {
    /* Queues one text frame (copied) on conn. Returns 0, or -ENOBUFS when the connection's
     * output queue is over its cap: the core then closes it with 1008. */
    int (*send)(void *ctx, struct hub_conn *conn, const char *buf, size_t len);
    /* Closes conn with a WebSocket close code once queued frames are written. The I/O layer
     * still calls hub_session_closed() for it later. */
    void (*close)(void *ctx, struct hub_conn *conn, int code, const char *reason);
};

struct hub_settings {
    const char *public_url;         /* "https://localhost:8443": links are PUBLIC_URL/join#TOKEN */
    const uint8_t *turn_secret;     /* borrowed */
    size_t turn_secret_len;         /* 0: hand out no TURN credentials */
    const char *const *ice_servers; /* borrowed URLs: stun:, turn:, turns: */
    unsigned n_ice_servers;
    unsigned turn_ttl;     /* seconds: cap on a credential's lifetime (default 4 h) */
    unsigned turn_margin;  /* seconds past the room's expiry a credential stays valid */
    unsigned resume_grace; /* seconds a dropped peer may resume (default 60) */
    unsigned max_msg_rate; /* messages per second per connection; burst is twice this */
    unsigned max_rooms;    /* live rooms in total */
    unsigned max_rooms_per_owner;
    unsigned max_knocks_per_min; /* knocks per room per minute */
    unsigned queue_max_msgs;     /* signals buffered for a peer who is away */
    size_t queue_max_bytes;
    struct event_log *log; /* borrowed; may be NULL */
    /* The vc-turn pool (borrowed; NULL: none). With a pool, TURN URLs come from the room's
     * region's nodes instead of ice_servers' turn: and turns: entries (stun: ones stay). */
    struct turnpool *pool;
    const char *default_region; /* borrowed: the region of rooms created without one */
};

/* What the I/O layer learnt about a connection; only normalised, non-identifying fields. */
struct hub_client_info {
    char ip[64];
    char browser[16];         /* "chrome", "firefox", "safari", "edge", "samsung", "other" */
    char browser_version[16]; /* digits and dots only */
    char os[16]; /* "android", "ios", "windows", "macos", "linux", "chromeos", "other" */
};

struct hub_room_opts {
    unsigned ttl;      /* seconds, 1..86400 */
    unsigned capacity; /* 2..8 */
    bool lobby;
    bool relay_only;
    const char *region; /* borrowed; NULL or "": default_region. Must be a pool region */
};

struct hub_room_info {
    char id[HUB_ROOM_ID_LEN + 1];
    char host_token[HUB_TOKEN_LEN + 1];  /* filled by hub_room_create only */
    char guest_token[HUB_TOKEN_LEN + 1]; /* filled by hub_room_create only */
    int64_t created_ms, expires_ms;      /* unix milliseconds */
    unsigned capacity, participants, waiting;
    bool lobby, relay_only;
    char region[HUB_REGION_MAX + 1]; /* "" without a pool */
};

/* Takes a copy of settings (its pointers stay borrowed). NULL on ENOMEM. */
struct hub *hub_new(const struct hub_settings *settings, const struct hub_io_ops *ops, void *ctx);
/* Closes nothing: the I/O layer closes its connections first. */
void hub_free(struct hub *h);
/* Replaces the settings on reload (a copy; its pointers stay borrowed, and the caller may free
 * the old ones once this returns, except the pool: peers hold counts on it, so it stays). Rooms,
 * sessions and peers carry on: new TURN credentials use the new secret, URLs and TTL, and the
 * limits apply from the next message, join or room. */
void hub_set_settings(struct hub *h, const struct hub_settings *settings);
/* Draining: hub_room_create() refuses with -ESHUTDOWN, while existing rooms carry on (joins,
 * resumes, lobby and signals all work). */
void hub_set_draining(struct hub *h, bool draining);
bool hub_draining(const struct hub *h);
/* Set once per loop iteration: a monotonic and a wall clock, both in milliseconds. */
void hub_set_clock(struct hub *h, uint64_t mono_ms, int64_t unix_ms);
/* Grace periods, room expiry and rate windows. Call about once a second. */
void hub_tick(struct hub *h);

/* REST side. owner is "key" for the API key or "user:ID" for a clinician. */
/* Returns 0, -EINVAL for bad options (a region the pool does not have included), -EDQUOT past the
 * owner's limit, -ENOSPC past the total, -ESHUTDOWN while draining. */
int hub_room_create(struct hub *h, const char *owner, const struct hub_room_opts *opts,
                    struct hub_room_info *out);
/* -ENOENT for unknown, expired and other owners' rooms alike. */
int hub_room_get(struct hub *h, const char *owner, const char *id, struct hub_room_info *out);
/* Ends the room for everyone (room-ended). -ENOENT as above. */
int hub_room_end(struct hub *h, const char *owner, const char *id);
/* Fills up to max of the owner's live rooms (tokens left empty); returns how many. */
size_t hub_room_list(struct hub *h, const char *owner, struct hub_room_info *out, size_t max);
size_t hub_room_count(const struct hub *h);
size_t hub_session_count(const struct hub *h);

/* WebSocket side. A session begins when the upgrade is accepted and ends at close. */
struct hub_session *hub_session_open(struct hub *h, struct hub_conn *conn,
                                     const struct hub_client_info *info);
/* One complete text frame (borrowed); at most SIGMSG_MAX_FRAME bytes. */
void hub_session_message(struct hub *h, struct hub_session *s, const uint8_t *buf, size_t len);
/* The connection is gone (or the I/O layer closed it): a joined peer goes away for the grace
 * period; the session is freed. conn is not used afterwards. */
void hub_session_closed(struct hub *h, struct hub_session *s);

/* Counters for /metrics. */
struct hub_stats {
    uint64_t messages_relayed; /* signal messages forwarded */
    uint64_t joins, resumes, knocks, denied, errors, rate_limited;
    /* Join latency: from join to joined, in ms buckets 10, 25, 50, 100, 250, 500, 1000, +Inf */
    uint64_t join_latency_buckets[8];
    double join_latency_sum_ms;
    uint64_t join_latency_count;
};
const struct hub_stats *hub_get_stats(const struct hub *h);

#endif
