/* vc-signal nodes sharing rooms through Redis: the registry, node liveness and proxied clients. */
#ifndef VC_SIGNALD_CLUSTER_H
#define VC_SIGNALD_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "vc/hub.h"
#include "vc/sigapi.h"

struct server;
struct hub_conn;
struct ev_loop;
struct watchbus_area;

#define CLUSTER_NODE_MAX 64
/* A node's liveness key lives this long; it is refreshed every second. */
#define CLUSTER_NODE_TTL_MS 4000
/* No answer from Redis for this long: it counts as lost. */
#define CLUSTER_DOWN_AFTER_MS 3000
/* Commands on the synchronous connection give up after this. */
#define CLUSTER_CMD_TIMEOUT_MS 300
/* Cap on cluster messages published but not yet acknowledged by Redis, and on their bytes. */
#define CLUSTER_MAX_PENDING 20000
#define CLUSTER_MAX_PENDING_BYTES (32u * 1024 * 1024)
/* Rooms ended while Redis was away, told to it once it is back. */
#define CLUSTER_MAX_ENDED 4096

struct cluster_ended {
    char id[HUB_ROOM_ID_LEN + 1];
};

struct cluster {
    struct server *srv;
    struct ev_loop *loop;
    char host[256];
    int port;
    char password[256];
    int db;
    char node[CLUSTER_NODE_MAX + 1];  /* this node's name: unique per process */
    char inbox[CLUSTER_NODE_MAX + 8]; /* its channel, "vc:n:NODE" */
    unsigned turn_margin_s;           /* room keys outlive the room by this */
    redisContext *sync;               /* registry commands, each within CLUSTER_CMD_TIMEOUT_MS */
    redisAsyncContext *pub;           /* publishes, heartbeats and record updates, in order */
    redisAsyncContext *sub;           /* SUBSCRIBE to the inbox */
    bool up;                          /* all three connected, subscribed and resynchronised */
    bool connecting;
    bool reset;    /* a failed start-up: cluster_tick() drops the connections */
    bool stopping; /* cluster_stop(): dropping the connections is no loss */
    uint64_t connect_started_ms;
    uint64_t last_ok_ms; /* the last heartbeat answer */
    bool heartbeat_pending;
    size_t pending, pending_bytes;
    uint64_t next_conn_id;
    struct hub_conn **links; /* open hash: proxied and remote connections by (node, id) */
    size_t nlinks, link_buckets;
    char lost[64][HUB_ROOM_ID_LEN + 1]; /* held rooms another node took over, forgotten at tick */
    unsigned nlost;
    char ended_here[16][HUB_ROOM_ID_LEN + 1]; /* held rooms ended through the registry */
    unsigned nended_here;
    struct cluster_ended *ended; /* ended while Redis was away */
    unsigned nended;
    uint64_t published, received, proxied_joins, takeovers;
    struct watchbus_area *areas; /* waiting areas listened to (watchbus.c) */
    uint64_t watch_reload_ms;
};

/* cluster.c: the node's life and proxied clients */
/* Parses url ("redis://[:PASSWORD@]HOST[:PORT][/DB]") and starts connecting; Redis being away is
 * not an error (the node starts unready and keeps trying). 0, or -EINVAL with a message in err. */
int cluster_start(struct cluster *cl, struct server *srv, struct ev_loop *loop, const char *url,
                  const char *node, unsigned turn_margin_s, char *err, size_t errlen);
void cluster_stop(struct cluster *cl);
bool cluster_ready(const struct cluster *cl);
void cluster_tick(struct cluster *cl);
/* A frame from a local client. True when the cluster took it: proxied to the room's home, or
 * answered itself (Redis away). */
bool cluster_client_frame(struct cluster *cl, struct hub_conn *c, const uint8_t *buf, size_t len);
void cluster_client_closed(struct cluster *cl, struct hub_conn *c);
/* The hub's ops for a client of another node (c->remote). */
int cluster_remote_send(struct cluster *cl, struct hub_conn *c, const char *buf, size_t len);
void cluster_remote_close(struct cluster *cl, struct hub_conn *c, int code, const char *reason);
/* Publishes kind/id/payload to node's inbox. 0, or -ENOBUFS past the caps, -EAGAIN while down. */
int cluster_publish(struct cluster *cl, const char *node, char kind, uint64_t id,
                    const char *payload, size_t len);
/* The same on any channel. */
int cluster_publish_to(struct cluster *cl, const char *channel, char kind, uint64_t id,
                       const char *payload, size_t len);
/* Parses the head "K<16 hex> NODE\n" of a cluster message: its kind, id, sender and payload. */
bool cluster_msg_head(const char *msg, size_t len, char *kind, uint64_t *id, char *node,
                      const char **payload, size_t *plen);
/* Gives a local connection (a dashboard) an id that answers from other nodes reach it by. */
uint64_t cluster_watch_link(struct cluster *cl, struct hub_conn *c);
/* A node is alive: subscribed to its inbox and its liveness key current. -EAGAIN on error. */
int cluster_node_alive(struct cluster *cl, const char *node);
/* Marks Redis lost: every connection dropped; the tick reconnects. */
void cluster_down(struct cluster *cl, const char *why);

/* sessions.c: clinician sessions in Redis */
extern const struct sigapi_session_store cluster_session_ops;

/* registry.c: rooms in Redis */
extern const struct hub_registry_ops cluster_registry_ops;
/* Runs a command on the synchronous connection: the reply (freeReplyObject), or NULL with Redis
 * marked lost. */
redisReply *cluster_command_argv(struct cluster *cl, int argc, const char **argv,
                                 const size_t *lens);
/* The room and home a token opens, from Redis: 1 found (id, home and rec filled), 0 not found,
 * -EAGAIN. */
int cluster_lookup_token(struct cluster *cl, const char *token, char *home, size_t homelen,
                         struct hub_room_record *rec);
/* The same for a room id. */
int cluster_lookup_room(struct cluster *cl, const char *id, char *home, size_t homelen,
                        struct hub_room_record *rec);
/* Makes this node the room's home if its home is expected (or none): 1 done, 0 another node
 * got there first (home updated), -ENOENT room gone, -EAGAIN. */
int cluster_claim(struct cluster *cl, const char *id, const char *expected, char *home,
                  size_t homelen);
/* After Redis came back: re-registers every held room (forgetting those another node took and
 * ending those ended meanwhile) and tells Redis of rooms ended while it was away. */
void cluster_resync(struct cluster *cl);

/* watchbus.c: dashboards across nodes (the registry's watch ops and their messages) */
void watchbus_entry(void *ctx, const char *area, const char *id, const char *frame, size_t len,
                    int64_t expires_ms);
void watchbus_interest(void *ctx, const char *area, int delta);
int watchbus_act(void *ctx, struct hub_conn *conn, const struct hub_clinician *who,
                 const char *room, const uint8_t *frame, size_t len);
void watchbus_seen(void *ctx, const char *home, const char *room);
/* 'A' from node: an action for a room held here. */
void watchbus_relayed(struct cluster *cl, const char *node, uint64_t id, const char *p, size_t len);
/* After Redis came back: listens to the areas again, reloads them, republishes held rooms. */
void watchbus_resync(struct cluster *cl);
void watchbus_tick(struct cluster *cl);
void watchbus_free(struct cluster *cl);
/* A clinician as JSON (free()), and back: 0 or -EINVAL. */
char *watchbus_who_encode(const struct hub_clinician *c);
int watchbus_who_decode(const char *text, size_t len, struct hub_clinician *out);

#endif
