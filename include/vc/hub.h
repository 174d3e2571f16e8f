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
/* A room's language for the patient's pages: a BCP 47 tag ("cy", "pt-BR") of at most this. */
#define HUB_LANGUAGE_MAX 35
#define HUB_PEER_ID_LEN 12
#define HUB_TURN_ID_LEN 16
#define HUB_HASH_LEN 32 /* SHA-256 of a token (TOKEN_HASH_LEN) */
#define HUB_MAX_CAPACITY 8
/* A room's label: at most this many characters (it may hold personal data: see watch.c). */
#define HUB_LABEL_MAX_CHARS 80
#define HUB_LABEL_MAX_BYTES (HUB_LABEL_MAX_CHARS * 4)
#define HUB_TEAM_MAX 64  /* bytes of a team name */
#define HUB_TEAMS_MAX 16 /* teams a clinician belongs to, at most */
#define HUB_NAME_MAX 128 /* bytes of a clinician's display name (ACCOUNTS_NAME_MAX) */
/* A participant's display name, shown to the others in the call: memory only, never logged. */
#define HUB_DISPLAY_NAME_MAX_CHARS SIGMSG_NAME_MAX_CHARS
#define HUB_DISPLAY_NAME_MAX_BYTES SIGMSG_NAME_MAX_BYTES
#define HUB_INVITE_ID_LEN 8 /* hex characters of an invite's id: not a secret, safe to log */
#define HUB_MAX_INVITES 8   /* live invites per room */

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
    unsigned max_knocks_per_min;     /* knocks per room per minute */
    unsigned max_lobby_msgs_per_min; /* messages to a room's waiting guests per minute */
    unsigned queue_max_msgs;         /* signals buffered for a peer who is away */
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

/* A signed-in clinician, as the I/O layer learnt it from the session cookie. Names are shown to
 * the clinician's team mates and never logged. */
struct hub_clinician {
    char id[HUB_OWNER_MAX + 1];  /* "user:HASH": the owner of their rooms */
    char name[HUB_NAME_MAX + 1]; /* display name ("" if none) */
    unsigned nteams;
    char teams[HUB_TEAMS_MAX][HUB_TEAM_MAX + 1];
};

struct hub_room_opts {
    unsigned ttl;      /* seconds, 1..86400 */
    unsigned capacity; /* 2..8 */
    bool lobby;
    bool relay_only;
    const char *region;     /* borrowed; NULL or "": default_region. Must be a pool region */
    const char *label;      /* borrowed; NULL or at most HUB_LABEL_MAX_CHARS characters */
    const char *team;       /* borrowed; NULL or the team whose waiting area shows the room */
    const char *owner_name; /* borrowed; the creating clinician's display name, or NULL */
    const char *language;   /* borrowed; NULL or "": none. A tag hub_language_ok() passes */
};

struct hub_room_info {
    char id[HUB_ROOM_ID_LEN + 1];
    char host_token[HUB_TOKEN_LEN + 1];  /* filled by hub_room_create only */
    char guest_token[HUB_TOKEN_LEN + 1]; /* filled by hub_room_create only */
    int64_t created_ms, expires_ms;      /* unix milliseconds */
    unsigned capacity, participants, waiting;
    bool lobby, relay_only;
    char region[HUB_REGION_MAX + 1];     /* "" without a pool */
    char label[HUB_LABEL_MAX_BYTES + 1]; /* "" without one */
    char team[HUB_TEAM_MAX + 1];         /* "" without one */
    char language[HUB_LANGUAGE_MAX + 1]; /* "" without one */
};

/* A clinician named on a room: its creator, whom it is handed to, who took the last patient in. */
struct hub_who {
    char id[HUB_OWNER_MAX + 1]; /* "" for nobody */
    char name[HUB_NAME_MAX + 1];
};

/* A room as the cluster registry keeps it: what another node needs to take it over. Tokens are
 * there only as SHA-256 hashes; waiting guests are not kept (they knock again). */
struct hub_peer_record {
    char id[HUB_PEER_ID_LEN + 1];
    char turn_id[HUB_TURN_ID_LEN + 1];
    bool host;
    bool has_resume;
    unsigned char resume_hash[HUB_HASH_LEN];
    char invite[HUB_INVITE_ID_LEN + 1]; /* the invite it came in with; "" none */
};
/* An invite as the registry keeps it: its id and token hash (never its display name). */
struct hub_invite_record {
    char id[HUB_INVITE_ID_LEN + 1];
    unsigned char hash[HUB_HASH_LEN];
};
struct hub_room_record {
    struct hub_room_info info; /* tokens empty; participants and waiting are counts */
    char owner[HUB_OWNER_MAX + 1];
    unsigned char host_hash[HUB_HASH_LEN], guest_hash[HUB_HASH_LEN];
    unsigned npeers; /* admitted peers (joined or away) */
    struct hub_peer_record peers[HUB_MAX_CAPACITY];
    struct hub_who owner_who, assignee, clinician;
    unsigned ninvites; /* live invites */
    struct hub_invite_record invites[HUB_MAX_INVITES];
};

/* A shared room registry (Redis) behind the in-process one; every call is on the I/O thread.
 * The hub keeps the rooms it is home to and tells the registry what changes; rooms homed on
 * other nodes are reached through it. Errors: -EAGAIN when the registry is unreachable. */
struct hub_registry_ops {
    /* Records a new room atomically, against cluster-wide limits: 0, -EDQUOT, -ENOSPC, -EAGAIN. */
    int (*create)(void *ctx, const struct hub_room_record *rec, unsigned max_per_owner,
                  unsigned max_total);
    /* The room's peers changed (best effort: the registry catches up after an outage). */
    void (*update)(void *ctx, const struct hub_room_record *rec);
    /* The room ended here: the registry forgets it. */
    void (*ended)(void *ctx, const struct hub_room_record *rec);
    /* Rooms the hub does not hold: 0, -ENOENT, -EAGAIN. */
    int (*get)(void *ctx, const char *owner, const char *id, struct hub_room_info *out);
    int (*end)(void *ctx, const char *owner, const char *id);
    /* Every live room of the owner, cluster-wide: how many were filled, or -EAGAIN. */
    int (*list)(void *ctx, const char *owner, struct hub_room_info *out, size_t max);
    /* The live room a token (borrowed; a host, guest or invite token) opens, held anywhere:
     * 0, -ENOENT, -EAGAIN. May be NULL. */
    int (*token)(void *ctx, const char *token, struct hub_room_info *out);

    /* The dashboards' waiting areas across nodes (watch.c, feed.c). Any of these may be NULL. */
    /* A held room's entry changed (frame: its "room" frame, borrowed) or it ended (frame NULL).
     * area is its waiting area (hub_area_of). */
    void (*entry)(void *ctx, const char *area, const char *id, const char *frame, size_t len,
                  int64_t expires_ms);
    /* This node now needs (delta 1) or no longer needs (-1) the entries of area's rooms that
     * other nodes hold; they arrive through hub_feed_put() and hub_feed_drop(). */
    void (*interest)(void *ctx, const char *area, int delta);
    /* Passes an action frame (borrowed) for room, which this node does not hold, to its home,
     * on behalf of who; the answers come back to conn (NULL: nobody waits for them). 0, -ENOENT
     * (no such room, or who may not see it), -EAGAIN. */
    int (*act)(void *ctx, struct hub_conn *conn, const struct hub_clinician *who, const char *room,
               const uint8_t *frame, size_t len);
    /* A dashboard here saw the waiting guests of room, which home holds. */
    void (*seen)(void *ctx, const char *home, const char *room);
};

/* A waiting area's name: "t:TEAM" for a team's rooms, "o:OWNER" for an owner's other rooms. */
#define HUB_AREA_MAX (2 + HUB_TEAM_MAX + 1) /* HUB_OWNER_MAX is no longer */
void hub_area_of(const char *owner, const char *team, char out[HUB_AREA_MAX]);

/* Entries of rooms other nodes hold, for the dashboards here (feed.c). */
/* home (borrowed) sent a room's "room" frame (borrowed): the dashboards here that see it get
 * it, and guests here waiting in its area their place. 0, or -EINVAL for a bad frame. */
int hub_feed_put(struct hub *h, const char *home, const char *frame, size_t len);
/* The room ended on its home: room-gone to the dashboards that saw it. */
void hub_feed_drop(struct hub *h, const char *id);
/* Forgets every entry of area: nobody here needs it any more. */
void hub_feed_forget_area(struct hub *h, const char *area);
/* An action a clinician (who) took on another node for a room held here; conn carries the
 * answers back (see hub_registry_ops.act). */
void hub_relayed_action(struct hub *h, struct hub_conn *conn, const struct hub_clinician *who,
                        const uint8_t *frame, size_t len);
/* A dashboard on another node saw the room's waiting guests. */
void hub_room_seen(struct hub *h, const char *id);
/* Every held room's entry again (to the registry and the dashboards): after Redis came back. */
void hub_watch_republish(struct hub *h);
/* True when this hub holds the room. */
bool hub_room_held(struct hub *h, const char *id);

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

/* What the hub asks the I/O layer about other clinicians (handing a consultation over). */
struct hub_directory_ops {
    /* The clinician with that id, their name and teams: 0, or -ENOENT. */
    int (*clinician)(void *ctx, const char *id, struct hub_clinician *out);
};
/* ops and ctx are borrowed; NULL: nobody can be handed a consultation. */
void hub_set_directory(struct hub *h, const struct hub_directory_ops *ops, void *ctx);

/* True when clinician c may see and act on rooms of owner in team ("" for none): their own
 * rooms, and their teams' rooms. */
bool hub_clinician_sees(const struct hub_clinician *c, const char *owner, const char *team);

/* REST side. owner is "key" for the API key or "user:ID" for a clinician. */
/* Returns 0, -EINVAL for bad options (a region the pool does not have included), -EDQUOT past the
 * owner's limit, -ENOSPC past the total, -ESHUTDOWN while draining. */
int hub_room_create(struct hub *h, const char *owner, const struct hub_room_opts *opts,
                    struct hub_room_info *out);
/* -ENOENT for unknown, expired and other owners' rooms alike. */
int hub_room_get(struct hub *h, const char *owner, const char *id, struct hub_room_info *out);
/* What a link's page may know before it joins: the live room token (borrowed) opens, without
 * its tokens, held here or (through the registry) elsewhere. 0, -ENOENT for an unknown or
 * expired token alike, -EAGAIN. */
int hub_link_get(struct hub *h, const char *token, struct hub_room_info *out);
/* True for a language tag a room may carry: a BCP 47 shape of 2 or 3 letters, then subtags of
 * 1 to 8 letters or digits after '-', HUB_LANGUAGE_MAX bytes at most. */
bool hub_language_ok(const char *tag);
/* Ends the room for everyone (room-ended). -ENOENT as above. */
int hub_room_end(struct hub *h, const char *owner, const char *id);
/* Fills up to max of the owner's live rooms (tokens left empty); returns how many, or -EAGAIN
 * when the shared registry is unreachable. Get, end and create may answer -EAGAIN too. */
int hub_room_list(struct hub *h, const char *owner, struct hub_room_info *out, size_t max);
/* The calls below act on a room that owner owns, or (who: a clinician, else NULL) that who
 * may see; -ENOENT for any other room alike. */
/* Replaces the room's label ("" clears it): 0, -ENOENT, -EMSGSIZE (over HUB_LABEL_MAX_CHARS),
 * -EINVAL (control characters), or -EINPROGRESS when another node holds the room and the change
 * went to it (out is then not filled), -EAGAIN. out gets the room. */
int hub_room_set_label(struct hub *h, const char *owner, const struct hub_clinician *who,
                       const char *id, const char *label, struct hub_room_info *out);
/* Sends text (1..SIGMSG_TEXT_MAX_CHARS characters) to the waiting guest peer, or to every
 * waiting guest when peer is NULL or "". Returns how many got it, or -ENOENT, -ESRCH (nobody
 * by that id is waiting), -EMSGSIZE, -EINVAL (empty text), -EBUSY (over the room's rate),
 * -EINPROGRESS (another node holds the room: the text went to it), -EAGAIN. */
int hub_lobby_send(struct hub *h, const char *owner, const struct hub_clinician *who,
                   const char *id, const char *peer, const char *text);
/* A guest invite: its own link to the room, made and revoked by the room's owner or a clinician
 * who may see it. */
struct hub_invite_info {
    char id[HUB_INVITE_ID_LEN + 1];
    char token[HUB_TOKEN_LEN + 1]; /* a fresh 128-bit CSPRNG token; only its hash is kept */
    int64_t expires_ms;            /* the room's expiry */
};
/* Makes an invite to room id; name (borrowed; NULL or "" for none, at most
 * HUB_DISPLAY_NAME_MAX_CHARS characters) is what the others see until the guest types its own.
 * 0, -ENOENT (no room the caller may see), -EINVAL (control characters in name), -EMSGSIZE (name
 * too long), -EBUSY (the room is full), -EDQUOT (HUB_MAX_INVITES live already), -EREMOTE
 * (another node holds the room), -EIO. */
int hub_invite_create(struct hub *h, const char *owner, const struct hub_clinician *who,
                      const char *id, const char *name, struct hub_invite_info *out);
/* Revokes invite of room id: its link opens nothing any more (whoever came in with it stays). 0,
 * -ENOENT (no such room or invite), -EINPROGRESS (another node holds the room: passed on),
 * -EAGAIN. */
int hub_invite_revoke(struct hub *h, const char *owner, const struct hub_clinician *who,
                      const char *id, const char *invite);
size_t hub_room_count(const struct hub *h);
size_t hub_session_count(const struct hub *h);
size_t hub_watcher_count(const struct hub *h);

/* Cluster side (record.c). ops and ctx are borrowed; NULL ops: the in-process registry only. */
void hub_set_registry(struct hub *h, const struct hub_registry_ops *ops, void *ctx);
/* The registry's record of a room this hub holds: 0 or -ENOENT. */
int hub_room_export(const struct hub *h, const char *id, struct hub_room_record *out);
/* Takes over a room from its record (its peers away since now, awaiting their resume): 0,
 * -EEXIST when held already, -EINVAL for a bad record, -ENOMEM. */
int hub_room_adopt(struct hub *h, const struct hub_room_record *rec);
/* The room has a new home elsewhere: its connections here are closed with 1012 (the clients
 * resume, reaching the new home) and the room is freed without telling anyone. 0 or -ENOENT. */
int hub_room_forget(struct hub *h, const char *id);
/* Ends a room this hub holds, for everyone (room-ended): 0 or -ENOENT. */
int hub_room_end_held(struct hub *h, const char *id);
/* True if token (borrowed) opens a room this hub holds. */
bool hub_token_held(struct hub *h, const char *token);
/* Fills up to max ids of the rooms this hub holds; returns how many. */
size_t hub_room_ids(const struct hub *h, char (*ids)[HUB_ROOM_ID_LEN + 1], size_t max);
/* A room record as JSON (record.c), for the registry: 0, or -ENOSPC when it does not fit. */
int hub_record_encode(const struct hub_room_record *rec, char *out, size_t outlen);
/* Parses and checks a record from the registry: 0 or -EINVAL. */
int hub_record_decode(const char *json, size_t len, struct hub_room_record *out);

/* WebSocket side. A session begins when the upgrade is accepted and ends at close. */
struct hub_session *hub_session_open(struct hub *h, struct hub_conn *conn,
                                     const struct hub_client_info *info);
/* The session is a signed-in clinician's (c is copied): it may watch its waiting area, join its
 * rooms by id as a host, and admit, turn away and message waiting guests. 0 or -ENOMEM. */
int hub_session_set_clinician(struct hub *h, struct hub_session *s, const struct hub_clinician *c);
/* One complete text frame (borrowed); at most SIGMSG_MAX_FRAME bytes. */
void hub_session_message(struct hub *h, struct hub_session *s, const uint8_t *buf, size_t len);
/* True once the session's join (or resume) made it a peer. */
bool hub_session_joined(const struct hub_session *s);
/* The connection is gone (or the I/O layer closed it): a joined peer goes away for the grace
 * period; the session is freed. conn is not used afterwards. */
void hub_session_closed(struct hub *h, struct hub_session *s);

/* Counters for /metrics. */
struct hub_stats {
    uint64_t messages_relayed; /* signal messages forwarded */
    uint64_t joins, resumes, knocks, denied, errors, rate_limited;
    uint64_t lobby_messages; /* texts delivered to waiting guests */
    uint64_t watch_updates;  /* room and room-gone frames sent to dashboards */
    /* Join latency: from join to joined, in ms buckets 10, 25, 50, 100, 250, 500, 1000, +Inf */
    uint64_t join_latency_buckets[8];
    double join_latency_sum_ms;
    uint64_t join_latency_count;
};
const struct hub_stats *hub_get_stats(const struct hub *h);

#endif
