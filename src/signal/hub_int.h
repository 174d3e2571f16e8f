/* Internal structures of the signalling core, shared by hub.c, room.c and peer.c only. */
#ifndef VC_HUB_INT_H
#define VC_HUB_INT_H

#include "vc/hub.h"
#include "vc/random.h"
#include "vc/turnpool.h"

/* call.stats is logged at most this often per peer, and whenever the path changes. */
#define HUB_STATS_LOG_MS (30 * 1000)
/* Lifetime of the TURN credential a guest gets in the lobby, for its pre-call check. */
#define HUB_PRECHECK_TTL_S 300
/* Refused messages are counted over this window; past rate x window, the session is closed. */
#define HUB_ABUSE_WINDOW_MS 10000
/* Rooms in one dashboard's rooms answer, at most. */
#define HUB_WATCH_MAX_ROOMS 1000

enum hub_role { HUB_HOST, HUB_GUEST };

/* A count by name (browser or OS family), for call.summary. */
#define HUB_TALLY_MAX 8
struct hub_tally {
    char name[16];
    unsigned n;
};

/* What a room's call adds up to, logged as call.summary when it ends (callsum.c). */
struct hub_call {
    uint64_t together_ms;    /* time with two or more participants, closed intervals */
    uint64_t together_since; /* monotonic: when the current interval began */
    bool together;           /* two or more participants now */
    unsigned hosts, guests;  /* peers admitted, each once */
    bool p2p, relay;         /* paths browsers reported */
    double rtt_sum, loss_sum;
    uint64_t reports; /* stats reports with a known path */
    double bytes;     /* estimated: each report's bitrate over the time it covers */
    struct hub_tally browsers[HUB_TALLY_MAX], os[HUB_TALLY_MAX];
};
enum hub_peer_state { HUB_WAITING, HUB_JOINED, HUB_AWAY };

/* A signal waiting for a peer who is away. */
struct hub_queued {
    struct hub_queued *next;
    size_t len;
    char data[];
};

struct hub_peer {
    struct hub_peer *next;
    struct hub_room *room;
    struct hub_session *sess; /* NULL while away */
    char id[HUB_PEER_ID_LEN + 1];
    unsigned char resume_hash[TOKEN_HASH_LEN]; /* of the last resume token handed out */
    bool has_resume;
    char turn_id[HUB_TURN_ID_LEN + 1];
    enum hub_role role;
    enum hub_peer_state state;
    uint64_t arrived_ms;        /* monotonic: when it first sent join */
    uint64_t joined_ms;         /* monotonic: when it became a participant */
    uint64_t away_ms;           /* monotonic: when its connection dropped */
    uint64_t stats_log_ms;      /* monotonic: last call.stats line */
    uint64_t stats_ms;          /* monotonic: its last stats report (0: none yet) */
    int64_t knock_unix_ms;      /* wall clock: when it first knocked (kept across a resume) */
    uint64_t knock_seq;         /* orders knocks within one millisecond */
    unsigned queue_pos;         /* the place last sent in queue (0: none sent yet) */
    bool notified;              /* its knock reached a host or a watching clinician */
    bool queue_notified;        /* notified as last sent in queue */
    struct hub_who admitted_by; /* the clinician who admitted it from a dashboard */
    struct hub_client_info info;
    struct sigmsg_precheck precheck;
    enum sigmsg_path path;
    bool video_off; /* the last stats said video: false */
    struct hub_queued *queue, **queue_tail;
    unsigned queue_msgs;
    size_t queue_bytes;
    struct turnpool_pick turn_pick;            /* pool nodes counted for this peer (h->set.pool) */
    char name[HUB_DISPLAY_NAME_MAX_BYTES + 1]; /* shown to the others; never logged */
    char invite[HUB_INVITE_ID_LEN + 1];        /* the invite it came in with; "" none */
};

struct hub_invite;

/* One of a room's tokens in the token index (roomindex.c): its host or guest token, or one of
 * its invites. */
struct room_token_key {
    struct room_token_key *next;
    struct hub_room *room;
    enum hub_role role;
    const unsigned char *hash; /* TOKEN_HASH_LEN bytes, owned by the room or the invite */
    struct hub_invite *invite; /* NULL for the room's own tokens */
};

/* A guest invite (members.c): its own token, kept as a hash, and the name it gives its guest. */
struct hub_invite {
    struct hub_invite *next;
    struct room_token_key key;
    char id[HUB_INVITE_ID_LEN + 1];
    unsigned char hash[TOKEN_HASH_LEN];
    char name[HUB_DISPLAY_NAME_MAX_BYTES + 1]; /* memory only; "" none */
};

struct hub_room {
    struct hub_room *next, *prev;
    struct hub_room *next_by_id;   /* roomindex.c's chains */
    struct room_token_key keys[2]; /* host, guest */
    char id[HUB_ROOM_ID_LEN + 1];
    unsigned char host_hash[TOKEN_HASH_LEN]; /* tokens are kept only as SHA-256 hashes */
    unsigned char guest_hash[TOKEN_HASH_LEN];
    char owner[HUB_OWNER_MAX + 1];
    int64_t created_ms, expires_ms; /* wall clock */
    uint64_t created_mono;
    unsigned capacity;
    bool lobby, relay_only;
    char region[HUB_REGION_MAX + 1];     /* the TURN pool region its peers' relays come from */
    char language[HUB_LANGUAGE_MAX + 1]; /* the patient's pages' language; "" none */
    struct hub_peer *peers;
    uint64_t knock_window_ms;
    unsigned knock_count;
    uint64_t msg_window_ms; /* messages to its waiting guests: the rate window */
    unsigned msg_count;
    char label[HUB_LABEL_MAX_BYTES + 1]; /* personal data: memory and the registry only */
    char team[HUB_TEAM_MAX + 1];         /* whose waiting area shows it; "" none */
    struct hub_who owner_who;            /* the creating clinician (id "" for the API key) */
    struct hub_who assignee;             /* handed over to; "" none */
    struct hub_who clinician;            /* who last took a patient in, from a dashboard */
    bool had_waiting;                    /* a guest waited at the last change (watch.c) */
    bool closing;                        /* being destroyed or forgotten: no registry updates */
    bool linked;                         /* in h->rooms and the index */
    struct hub_call call;                /* for call.summary */
    struct hub_invite *invites;          /* owned; at most HUB_MAX_INVITES */
    unsigned ninvites;
};

struct hub_session {
    struct hub_session *next, *prev;
    struct hub_conn *conn;
    struct hub_peer *peer; /* NULL before join, after leave, or once replaced by a resume */
    struct hub_client_info info;
    uint64_t tokens_milli; /* rate limit: tokens x 1000 */
    uint64_t tokens_ms;
    uint64_t refused_window_ms; /* start of the current refusal-counting window */
    uint64_t refused_count;
    uint64_t last_refusal_note_ms;
    bool closing;
    struct hub_clinician *clinician; /* owned; NULL: not a signed-in clinician */
    bool watching;                   /* in h->watchers */
    bool relayed; /* acts for a clinician on another node: never passed on again */
    struct hub_session *watch_next, *watch_prev;
};

/* Live rooms per owner (room.c), so the per-owner limit costs no walk over every room. */
struct room_owner;
struct room_owners {
    struct room_owner **buckets;
    size_t nbuckets; /* a power of two, or 0 before the first room */
    size_t count;    /* records, for growing the table */
};

/* Rooms by id and by token hash (roomindex.c). */
struct room_index {
    struct hub_room **by_id;
    struct room_token_key **by_token;
    size_t nbuckets; /* of each table: a power of two, or 0 before the first room */
    size_t count;    /* rooms */
};

/* A room another node holds, as its home last published it (feed.c). */
struct feed_entry {
    struct feed_entry *next; /* hash chain */
    char id[HUB_ROOM_ID_LEN + 1];
    char home[HUB_OWNER_MAX + 1]; /* the node that holds it */
    char owner[HUB_OWNER_MAX + 1];
    char team[HUB_TEAM_MAX + 1];
    int64_t expires_ms;
    char *frame; /* its "room" frame, as published */
    size_t len;
    struct json_t *entry; /* the same, parsed */
};

struct hub_feed {
    struct feed_entry **buckets;
    size_t nbuckets; /* a power of two, or 0 before the first entry */
    size_t count;
};

struct hub {
    struct hub_settings set;
    const struct hub_io_ops *ops;
    void *ctx;
    uint64_t mono_ms;
    int64_t unix_ms;
    struct hub_room *rooms;
    size_t nrooms;
    struct hub_session *sessions;
    size_t nsessions;
    struct hub_stats stats;
    struct sigmsg_buf out; /* scratch for building frames */
    bool stopping;         /* hub_free() is tearing down: nothing more is sent */
    struct room_owners owners;
    struct room_index index;
    bool draining;                      /* no new rooms; existing ones carry on */
    const struct hub_registry_ops *reg; /* NULL: in-process only */
    void *reg_ctx;
    const struct hub_directory_ops *dir; /* NULL: no hand-over */
    void *dir_ctx;
    struct hub_session *watchers; /* sessions that sent watch */
    struct hub_feed feed;         /* rooms other nodes hold (feed.c) */
    uint64_t knock_seq;           /* the last knock's number */
    size_t nwatchers;
};

/* room.c */
/* The room a token opens, its role, and the invite it belongs to (NULL: the room's own). */
struct hub_room *hub_room_by_token(struct hub *h, const char *token, enum hub_role *role,
                                   struct hub_invite **invite);
void hub_room_destroy(struct hub *h, struct hub_room *r, const char *reason);
/* Counts and links a filled-in room. 0 or -ENOMEM. */
int hub_room_link(struct hub *h, struct hub_room *r);
void hub_room_unlink(struct hub *h, struct hub_room *r, int code, const char *why);
void hub_room_info_of(const struct hub_room *r, struct hub_room_info *out);
struct hub_room *hub_room_by_id(struct hub *h, const char *id);
unsigned hub_room_participants(const struct hub_room *r);
bool hub_room_expired(const struct hub *h, const struct hub_room *r);

/* roomindex.c */
/* FNV-1a of a NUL-terminated name (room ids, owners: ours or authenticated, not attacker-chosen
 * in bulk). */
size_t hub_name_hash(const char *name);
/* 0, or -ENOMEM when the room could not be indexed. */
int room_index_add(struct room_index *ix, struct hub_room *r);
void room_index_remove(struct room_index *ix, struct hub_room *r);
struct hub_room *room_index_by_id(const struct room_index *ix, const char *id);
struct hub_room *room_index_by_token(const struct room_index *ix, const unsigned char *hash,
                                     enum hub_role *role, struct hub_invite **invite);
/* An invite's key, for a room already in the index. */
void room_index_add_key(struct room_index *ix, struct room_token_key *k);
void room_index_remove_key(struct room_index *ix, struct room_token_key *k);
void room_index_free(struct room_index *ix);

/* record.c */
void hub_room_record_of(const struct hub_room *r, struct hub_room_record *out);
/* Tells the registry (if any) that r changed. */
void hub_registry_update(struct hub *h, const struct hub_room *r);
/* r changed (its peers, label, hand-over): the registry and the dashboards hear of it. */
void hub_room_changed(struct hub *h, struct hub_room *r);

/* watch.c: the dashboards' live waiting area */
/* Answers watch: the rooms the session's clinician sees, then their changes as they happen. */
void hub_watch_start(struct hub *h, struct hub_session *s);
/* r changed: the dashboards that see it get its entry; its waiting guests their place. */
void hub_watch_room(struct hub *h, struct hub_room *r);
/* r is going away: the dashboards that saw it get room-gone. */
void hub_watch_gone(struct hub *h, struct hub_room *r);
/* After r was unlinked: the guests who waited behind its guests move up. */
void hub_watch_requeue_after(struct hub *h, const struct hub_room *gone);
void hub_watch_session_closed(struct hub *h, struct hub_session *s);
bool hub_room_visible(const struct hub_clinician *c, const struct hub_room *r);
/* "2026-12-07T18:30:00.123Z" from unix milliseconds. */
void hub_rfc3339_ms(char out[32], int64_t ms);
/* The pre-call check as JSON (a new reference), or null without one. */
struct json_t *hub_precheck_json(const struct sigmsg_precheck *pc);

/* Sends frame to every dashboard that sees rooms of owner in team; true if one did. */
bool hub_watch_push_raw(struct hub *h, const char *owner, const char *team, const char *frame,
                        size_t len);
/* Tells the guests waiting in the area of (owner, team) their places, where they changed. */
void hub_watch_requeue_area(struct hub *h, const char *owner, const char *team);
/* A clinician saw r's waiting guests: they are told so. */
void hub_watch_mark_seen(struct hub *h, struct hub_room *r);

/* feed.c */
void hub_feed_free(struct hub_feed *f);
/* Drops the entries of rooms past their lifetime, or held here now. */
void hub_feed_expire(struct hub *h);
/* Calls cb for every entry of a room not held here. */
void hub_feed_each(struct hub *h, void (*cb)(void *arg, const struct feed_entry *e), void *arg);
/* The milliseconds of an RFC 3339 time as hub_rfc3339_ms() writes it, or -1. */
int64_t hub_rfc3339_parse_ms(const char *s);

/* lobby.c: what hosts and clinicians' dashboards do with waiting guests */
/* Handles admit, deny, lobby-message, handover and label (frame: the message as received, passed
 * on to the room's home when another node holds it); false for any other message. */
bool hub_lobby_action(struct hub *h, struct hub_session *s, const struct sigmsg *m,
                      const uint8_t *frame, size_t len);
/* 0 for text of 1..max_chars characters (0..max_chars when empty_ok) without control characters
 * (newline_ok lets '\n' through); -EMSGSIZE when too long, -EINVAL otherwise. */
int hub_text_check(const char *text, size_t max_chars, bool empty_ok, bool newline_ok);
/* The room a REST call names, if owner owns it or who may see it; else NULL. */
struct hub_room *hub_api_room(struct hub *h, const char *owner, const struct hub_clinician *who,
                              const char *id);
/* Passes a REST call for a room another node holds to it as a vc.v1 frame (taken): -EINPROGRESS
 * once passed on, -ENOENT (no room the caller may see), -EAGAIN. */
int hub_api_relay(struct hub *h, const char *owner, const struct hub_clinician *who, const char *id,
                  struct json_t *frame);
/* The room a clinician's join names by id, if they may see it; else NULL after an error. */
struct hub_room *hub_lobby_join_room(struct hub *h, struct hub_session *s, const char *id);

/* members.c: who is in a call beyond its two links: invites, display names, removal */
/* remove, invite and revoke on r (from its host, or a clinician's dashboard, or another node). */
void hub_member_action(struct hub *h, struct hub_session *s, struct hub_room *r,
                       const struct sigmsg *m);
/* The name p shows the others: the one it typed, else its invite's, else (a clinician joining
 * from the dashboard) the clinician's; cut at HUB_DISPLAY_NAME_MAX_CHARS characters. */
void hub_member_name(struct hub_peer *p, const char *typed, const struct hub_invite *inv,
                     const struct hub_clinician *c);
/* {peer, role, name, invited}: a new reference. */
struct json_t *hub_member_json(const struct hub_peer *p);
/* Takes an invite record back (hub_room_adopt): 0 or -ENOMEM. */
int hub_invite_adopt(struct hub *h, struct hub_room *r, const struct hub_invite_record *rec);
/* Frees every invite of r; r must be out of the index already. */
void hub_invites_free(struct hub_room *r);

/* peer.c */
struct hub_peer *hub_peer_new(struct hub *h, struct hub_room *r, enum hub_role role);
struct hub_peer *hub_peer_find(struct hub_room *r, const char *id);
/* Unlinks and frees a peer, telling the others (peer-left or knock-cancelled) and logging. */
void hub_peer_remove(struct hub *h, struct hub_peer *p, const char *reason);
/* Sends the frame in h->out to p, or queues it while p is away (-ENOBUFS when full). */
int hub_peer_deliver(struct hub *h, struct hub_peer *p);
void hub_peer_flush_queue(struct hub *h, struct hub_peer *p);
void hub_peer_log_joined(struct hub *h, const struct hub_peer *p, bool resumed);
void hub_peer_log_stats(struct hub *h, struct hub_peer *p, const struct sigmsg *m);

/* The lobby's decisions in the metadata log: by is the clinician's id, or "host". */
void hub_peer_log_knocked(struct hub *h, const struct hub_peer *p);
void hub_peer_log_decision(struct hub *h, const struct hub_peer *p, bool admitted, const char *by);

/* callsum.c: the per-call aggregate behind call.summary */
/* p became a participant (or was adopted from another node): counted once, by role and family. */
void hub_call_admitted(struct hub *h, struct hub_room *r, const struct hub_peer *p);
/* r's participants changed: the time two or more spend together is kept up to date. */
void hub_call_count(struct hub *h, struct hub_room *r);
/* A stats report from p: path, RTT, loss and the bytes its bitrate stands for. */
void hub_call_stats(struct hub *h, struct hub_peer *p, const struct sigmsg *m);
/* Logs call.summary for r, which is ending (after room.ended). */
void hub_call_log_summary(struct hub *h, struct hub_room *r);

/* hub.c */
/* Sends the frame in h->out on a session; a full queue closes it (1008). */
void hub_send(struct hub *h, struct hub_session *s);
void hub_send_error(struct hub *h, struct hub_session *s, const char *code, const char *msg);
/* hub_send_error with "by" (borrowed; NULL: none): whom the error is about. */
void hub_send_error_by(struct hub *h, struct hub_session *s, const char *code, const char *msg,
                       const char *by);
void hub_send_simple(struct hub *h, struct hub_session *s, const char *type);
/* p becomes a participant: joined to it, peer-joined to the others, knocks to a new host. */
void hub_make_participant(struct hub *h, struct hub_peer *p, uint64_t asked_ms);
/* Tells every connected host about a waiting guest (again, when its pre-check changes). */
void hub_knock_hosts(struct hub *h, struct hub_peer *g);
void hub_close(struct hub *h, struct hub_session *s, int code, const char *reason);
/* Who hub_broadcast() reaches: connected peers in the given states, optionally hosts only. */
#define HUB_TO_WAITING 1u
#define HUB_TO_JOINED 2u
#define HUB_TO_HOSTS 4u
/* Sends the frame in h->out to the connected peers of r selected by to, except skip. */
void hub_broadcast(struct hub *h, struct hub_room *r, const struct hub_peer *skip, unsigned to);
/* Uncounts p from the pool nodes it was given; call before hub_peer_remove(). */
void hub_turn_release(struct hub *h, struct hub_peer *p);

#endif
