/* vc-signal nodes over Redis: connections, heartbeats, and clients proxied to their room's home. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <hiredis/adapters/libev.h>

#include "vc/log.h"
#include "vc/sigmsg.h"
#include "cluster.h"
#include "server_int.h"

/* A cluster message on a node's inbox: "K<id, 16 hex> <from node>\n<payload>". Kinds:
 * edge -> home: J join (payload "ip\tbrowser\tversion\tos\tWHO\n" + frame, WHO the signed-in
 * clinician as JSON or "-"), M frame, C closed;
 * home -> edge: S send frame, X close ("code reason"), P probe;
 * anyone -> home: E end room (payload id), A a clinician's action (payload "WHO\n" + frame; the
 * answers come back as S), N a dashboard saw the room's waiting guests (payload id).
 * An edge answers S, X and P for a connection it no longer has with C, so a home that missed a C
 * (Redis was away) frees its session. Waiting areas have channels of their own (watchbus.c). */
#define MSG_HEAD_MAX (1 + 16 + 1 + CLUSTER_NODE_MAX + 1)
#define LINK_MIN_BUCKETS 256

/* ---- the table of proxied (edge) and remote (home) connections, by (node, id) ---- */

static const char *link_node(const struct hub_conn *c)
{
    return c->remote ? c->remote_node : "";
}

static size_t link_hash(const char *node, uint64_t id)
{
    uint64_t x = id * 0x9E3779B97F4A7C15ULL;

    for (; *node; node++)
        x = (x ^ (uint8_t)*node) * 1099511628211ULL;
    return (size_t)(x ^ (x >> 29));
}

static struct hub_conn **link_slot(struct cluster *cl, const char *node, uint64_t id)
{
    struct hub_conn **pp = &cl->links[link_hash(node, id) & (cl->link_buckets - 1)];

    while (*pp && !((*pp)->cluster_id == id && strcmp(link_node(*pp), node) == 0))
        pp = &(*pp)->link_next;
    return pp;
}

static struct hub_conn *link_find(struct cluster *cl, const char *node, uint64_t id)
{
    return cl->link_buckets ? *link_slot(cl, node, id) : NULL;
}

static int link_add(struct cluster *cl, struct hub_conn *c)
{
    if (cl->nlinks >= cl->link_buckets) {
        size_t n = cl->link_buckets ? cl->link_buckets * 2 : LINK_MIN_BUCKETS;
        struct hub_conn **b = calloc(n, sizeof(*b));
        if (!b)
            return -ENOMEM;
        for (size_t i = 0; i < cl->link_buckets; i++) {
            for (struct hub_conn *e = cl->links[i], *next; e; e = next) {
                next = e->link_next;
                size_t k = link_hash(link_node(e), e->cluster_id) & (n - 1);
                e->link_next = b[k];
                b[k] = e;
            }
        }
        free(cl->links);
        cl->links = b;
        cl->link_buckets = n;
    }
    struct hub_conn **pp = link_slot(cl, link_node(c), c->cluster_id);
    c->link_next = *pp;
    *pp = c;
    cl->nlinks++;
    return 0;
}

static void link_del(struct cluster *cl, struct hub_conn *c)
{
    struct hub_conn **pp = cl->link_buckets ? link_slot(cl, link_node(c), c->cluster_id) : NULL;

    if (pp && *pp == c) {
        *pp = c->link_next;
        cl->nlinks--;
    }
    c->link_next = NULL;
}

/* ---- Redis connections ---- */

void cluster_down(struct cluster *cl, const char *reason)
{
    bool was_up = cl->up;
    char why[128];

    snprintf(why, sizeof(why), "%s", reason); /* reason may live in a context freed below */
    cl->up = false;
    cl->connecting = false;
    cl->heartbeat_pending = false;
    cl->pending = cl->pending_bytes = 0;
    if (cl->sync) {
        redisFree(cl->sync);
        cl->sync = NULL;
    }
    redisAsyncContext *acs[2] = {cl->pub, cl->sub};
    cl->pub = cl->sub = NULL;
    for (int i = 0; i < 2; i++) {
        if (acs[i]) {
            acs[i]->data = NULL; /* late callbacks see no cluster and do nothing */
            redisAsyncFree(acs[i]);
        }
    }
    if (was_up && !cl->stopping)
        log_msg(LOG_LEVEL_ERROR, "cluster: Redis lost (%s); not ready until it is back", why);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct cluster *cl = ac->data;

    (void)status;
    if (!cl)
        return;
    /* hiredis frees this context itself after the callback. */
    if (ac == cl->pub)
        cl->pub = NULL;
    if (ac == cl->sub)
        cl->sub = NULL;
    cluster_down(cl, ac->errstr[0] ? ac->errstr : "connection closed");
}

static void on_published(redisAsyncContext *ac, void *reply, void *arg)
{
    struct cluster *cl = ac->data;
    size_t len = (size_t)(uintptr_t)arg;

    (void)reply;
    if (!cl)
        return;
    cl->pending--;
    cl->pending_bytes -= len < cl->pending_bytes ? len : cl->pending_bytes;
}

int cluster_publish_to(struct cluster *cl, const char *channel, char kind, uint64_t id,
                       const char *payload, size_t len)
{
    char head[MSG_HEAD_MAX + 1];

    if (!cl->up || !cl->pub)
        return -EAGAIN;
    if (cl->pending >= CLUSTER_MAX_PENDING || cl->pending_bytes + len > CLUSTER_MAX_PENDING_BYTES)
        return -ENOBUFS;
    int hl = snprintf(head, sizeof(head), "%c%016llx %s\n", kind, (unsigned long long)id, cl->node);
    char *msg = malloc((size_t)hl + len);
    if (!msg)
        return -ENOBUFS;
    memcpy(msg, head, (size_t)hl);
    memcpy(msg + hl, payload, len);
    int rc = redisAsyncCommand(cl->pub, on_published, (void *)(uintptr_t)len, "PUBLISH %b %b",
                               channel, strlen(channel), msg, (size_t)hl + len);
    free(msg);
    if (rc != REDIS_OK)
        return -EAGAIN;
    cl->pending++;
    cl->pending_bytes += len;
    cl->published++;
    return 0;
}

int cluster_publish(struct cluster *cl, const char *node, char kind, uint64_t id,
                    const char *payload, size_t len)
{
    char channel[CLUSTER_NODE_MAX + 8];

    snprintf(channel, sizeof(channel), "vc:n:%s", node);
    return cluster_publish_to(cl, channel, kind, id, payload, len);
}

int cluster_node_alive(struct cluster *cl, const char *node)
{
    char channel[CLUSTER_NODE_MAX + 8], key[CLUSTER_NODE_MAX + 16];
    const char *numsub[3] = {"PUBSUB", "NUMSUB", channel}, *exists[2] = {"EXISTS", key};
    redisReply *a, *b;

    snprintf(channel, sizeof(channel), "vc:n:%s", node);
    snprintf(key, sizeof(key), "vc:node:%s", node);
    if (!(a = cluster_command_argv(cl, 3, numsub, NULL)))
        return -EAGAIN;
    if (!(b = cluster_command_argv(cl, 2, exists, NULL))) {
        freeReplyObject(a);
        return -EAGAIN;
    }
    int alive = a->type == REDIS_REPLY_ARRAY && a->elements == 2 && a->element[1]->integer > 0 &&
                b->type == REDIS_REPLY_INTEGER && b->integer == 1;
    freeReplyObject(a);
    freeReplyObject(b);
    return alive;
}

static void on_heartbeat(redisAsyncContext *ac, void *reply, void *arg)
{
    struct cluster *cl = ac->data;
    redisReply *r = reply;

    (void)arg;
    if (!cl || !r || r->type == REDIS_REPLY_ERROR)
        return;
    cl->heartbeat_pending = false;
    cl->last_ok_ms = server_mono_ms();
}

static void heartbeat(struct cluster *cl)
{
    uint64_t now = server_mono_ms();

    if (cl->heartbeat_pending && now - cl->last_ok_ms > CLUSTER_DOWN_AFTER_MS) {
        cluster_down(cl, "no answer to the heartbeat");
        return;
    }
    if (cl->heartbeat_pending)
        return;
    cl->heartbeat_pending = true;
    redisAsyncCommand(cl->pub, on_heartbeat, NULL, "SET vc:node:%s 1 PX %d", cl->node,
                      CLUSTER_NODE_TTL_MS);
}

static void on_message(redisAsyncContext *ac, void *reply, void *arg);

/* Both asynchronous connections queue AUTH and SELECT first, so order is kept. */
static void async_prelude(struct cluster *cl, redisAsyncContext *ac)
{
    if (cl->password[0])
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", cl->password);
    if (cl->db)
        redisAsyncCommand(ac, NULL, NULL, "SELECT %d", cl->db);
}

static bool sync_connect(struct cluster *cl)
{
    struct timeval tv = {0, CLUSTER_CMD_TIMEOUT_MS * 1000};
    redisReply *r = NULL;

    cl->sync = redisConnectWithTimeout(cl->host, cl->port, tv);
    if (!cl->sync || cl->sync->err || redisSetTimeout(cl->sync, tv) != REDIS_OK)
        return false;
    if (cl->password[0] &&
        (!(r = redisCommand(cl->sync, "AUTH %s", cl->password)) || r->type == REDIS_REPLY_ERROR)) {
        log_msg(LOG_LEVEL_ERROR, "cluster: Redis refused AUTH (check the password in --redis)");
        freeReplyObject(r);
        return false;
    }
    freeReplyObject(r);
    r = NULL;
    if (cl->db &&
        (!(r = redisCommand(cl->sync, "SELECT %d", cl->db)) || r->type == REDIS_REPLY_ERROR)) {
        freeReplyObject(r);
        return false;
    }
    freeReplyObject(r);
    return true;
}

/* After an outage: asks each edge whether its proxied clients are still there (see 'P'). */
static void probe_remote_links(struct cluster *cl)
{
    for (size_t i = 0; i < cl->link_buckets; i++)
        for (struct hub_conn *c = cl->links[i]; c; c = c->link_next)
            if (c->remote)
                cluster_publish(cl, c->remote_node, 'P', c->cluster_id, "", 0);
}

/* The subscriber connected (or failed to): bring up the other two, subscribe, resync. */
static void on_sub_connect(const redisAsyncContext *ac, int status)
{
    struct cluster *cl = ac->data;

    if (!cl)
        return;
    cl->connecting = false;
    if (status != REDIS_OK) {
        cl->sub = NULL; /* hiredis frees it */
        return;
    }
    cl->pub = redisAsyncConnect(cl->host, cl->port);
    if (!cl->pub || cl->pub->err || !sync_connect(cl)) {
        cl->reset = true; /* not from inside hiredis's connect callback: at the next tick */
        return;
    }
    cl->pub->data = cl;
    redisLibevAttach(cl->loop, cl->pub);
    redisAsyncSetDisconnectCallback(cl->pub, on_disconnect);
    async_prelude(cl, cl->pub);
    redisAsyncCommand(cl->sub, on_message, NULL, "SUBSCRIBE %s", cl->inbox);
    cl->up = true;
    cl->last_ok_ms = server_mono_ms();
    heartbeat(cl);
    log_msg(LOG_LEVEL_INFO, "cluster: connected to Redis %s:%d as node %s", cl->host, cl->port,
            cl->node);
    cluster_resync(cl);
    watchbus_resync(cl);
    probe_remote_links(cl);
}

static void connect_begin(struct cluster *cl)
{
    cl->sub = redisAsyncConnect(cl->host, cl->port);
    if (!cl->sub)
        return;
    if (cl->sub->err) {
        redisAsyncFree(cl->sub);
        cl->sub = NULL;
        return;
    }
    cl->sub->data = cl;
    cl->connecting = true;
    cl->connect_started_ms = server_mono_ms();
    redisLibevAttach(cl->loop, cl->sub);
    redisAsyncSetConnectCallback(cl->sub, on_sub_connect);
    redisAsyncSetDisconnectCallback(cl->sub, on_disconnect);
    async_prelude(cl, cl->sub);
}

/* ---- messages from other nodes ---- */

bool cluster_msg_head(const char *msg, size_t len, char *kind, uint64_t *id, char *node,
                      const char **payload, size_t *plen)
{
    const char *nl = memchr(msg, '\n', len < MSG_HEAD_MAX ? len : MSG_HEAD_MAX);
    char hex[17];

    if (!nl || nl - msg < 19 || msg[17] != ' ' || (size_t)(nl - msg - 18) > CLUSTER_NODE_MAX)
        return false;
    *kind = msg[0];
    memcpy(hex, msg + 1, 16);
    hex[16] = '\0';
    *id = strtoull(hex, NULL, 16);
    memcpy(node, msg + 18, (size_t)(nl - msg - 18));
    node[nl - msg - 18] = '\0';
    *payload = nl + 1;
    *plen = len - (size_t)(nl + 1 - msg);
    return true;
}

/* The first frame of a client of another node: it becomes a session here, if the room is. */
static void home_join(struct cluster *cl, const char *node, uint64_t id, const char *p, size_t len)
{
    struct hub *h = cl->srv->hub;
    struct hub_client_info info;
    struct hub_clinician who;
    const char *nl = memchr(p, '\n', len), *tab = p;
    struct sigmsg m;
    const char *code;

    memset(&info, 0, sizeof(info));
    for (int tabs = 0; nl && tab < nl && tabs < 4; tab++)
        tabs += *tab == '\t';
    /* tab is just past the fourth tab: the clinician's JSON, or "-", runs to the newline. */
    if (!nl || tab >= nl ||
        sscanf(p, "%63[^\t]\t%15[^\t]\t%15[^\t]\t%15[^\t\n]", info.ip, info.browser,
               info.browser_version, info.os) != 4)
        return;
    bool signed_in = nl - tab > 1 && watchbus_who_decode(tab, (size_t)(nl - tab), &who) == 0;
    char *fields[4] = {info.ip, info.browser, info.browser_version, info.os};
    for (int i = 0; i < 4; i++)
        if (strcmp(fields[i], "-") == 0)
            fields[i][0] = '\0';
    size_t flen = len - (size_t)(nl + 1 - p);
    const uint8_t *frame = (const uint8_t *)nl + 1;
    if (sigmsg_parse(frame, flen, &m, &code) < 0 || m.type != SIGMSG_JOIN ||
        !(m.room[0] ? hub_room_held(h, m.room) : hub_token_held(h, m.token)) ||
        link_find(cl, node, id)) {
        /* Not (or no longer) this node's room: the client reconnects and looks again. */
        cluster_publish(cl, node, 'X', id, "1012 moved", 10);
        return;
    }
    struct hub_conn *rc = calloc(1, sizeof(*rc));
    if (!rc || !(rc->remote_node = strdup(node))) {
        free(rc);
        return;
    }
    rc->remote = true;
    rc->cluster_id = id;
    rc->info = info;
    if (link_add(cl, rc) < 0 || !(rc->session = hub_session_open(h, rc, &info)) ||
        (signed_in && hub_session_set_clinician(h, rc->session, &who) < 0)) {
        if (rc->session)
            hub_session_closed(h, rc->session);
        link_del(cl, rc);
        free(rc->remote_node);
        free(rc);
        return;
    }
    server_clock(cl->srv);
    hub_session_message(h, rc->session, frame, flen);
}

static void remote_free(struct cluster *cl, struct hub_conn *rc)
{
    link_del(cl, rc);
    if (rc->session) {
        server_clock(cl->srv);
        hub_session_closed(cl->srv->hub, rc->session);
    }
    free(rc->remote_node);
    free(rc);
}

static void dispatch(struct cluster *cl, char kind, uint64_t id, const char *node, const char *p,
                     size_t len)
{
    struct hub_conn *c;
    char reason[128] = "";
    int code = 1011;

    switch (kind) {
    case 'J':
        return home_join(cl, node, id, p, len);
    case 'M':
        if (!(c = link_find(cl, node, id)) || !c->session) {
            cluster_publish(cl, node, 'X', id, "1012 moved", 10);
            return;
        }
        server_clock(cl->srv);
        return hub_session_message(cl->srv->hub, c->session, (const uint8_t *)p, len);
    case 'C':
        if ((c = link_find(cl, node, id)))
            remote_free(cl, c);
        return;
    case 'S':
    case 'P':
        if (!(c = link_find(cl, "", id)))
            cluster_publish(cl, node, 'C', id, "", 0);
        else if (kind == 'S')
            server_hub_ops.send(cl->srv, c, p, len);
        return;
    case 'X':
        if (!(c = link_find(cl, "", id)))
            cluster_publish(cl, node, 'C', id, "", 0);
        else if (c->home) { /* a dashboard's answers never close it */
            if (len >= sizeof(reason))
                len = sizeof(reason) - 1;
            memcpy(reason, p, len);
            reason[len] = '\0';
            code = (int)strtol(reason, NULL, 10);
            const char *sp = strchr(reason, ' ');
            server_hub_ops.close(cl->srv, c, code >= 1000 && code < 5000 ? code : 1011,
                                 sp ? sp + 1 : "");
        }
        return;
    case 'A':
        return watchbus_relayed(cl, node, id, p, len);
    case 'N':
        if (len == HUB_ROOM_ID_LEN) {
            memcpy(reason, p, len);
            reason[len] = '\0';
            server_clock(cl->srv);
            hub_room_seen(cl->srv->hub, reason);
        }
        return;
    case 'E':
        if (len == HUB_ROOM_ID_LEN) {
            memcpy(reason, p, len);
            reason[len] = '\0';
            server_clock(cl->srv);
            hub_room_end_held(cl->srv->hub, reason);
        }
        return;
    default:
        return;
    }
}

static void on_message(redisAsyncContext *ac, void *reply, void *arg)
{
    struct cluster *cl = ac->data;
    redisReply *r = reply, *body;
    char kind, node[CLUSTER_NODE_MAX + 1];
    const char *payload;
    size_t plen;
    uint64_t id;

    (void)arg;
    if (!cl || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
        return;
    body = r->element[2];
    if (strcmp(r->element[0]->str, "message") != 0 || body->type != REDIS_REPLY_STRING)
        return;
    if (!cluster_msg_head(body->str, body->len, &kind, &id, node, &payload, &plen))
        return;
    cl->received++;
    dispatch(cl, kind, id, node, payload, plen);
}

/* ---- this node's clients ---- */

static void client_error(struct cluster *cl, struct hub_conn *c, const char *code,
                         const char *message)
{
    struct sigmsg_buf b;

    sigmsg_buf_init(&b, 512);
    if (sigmsg_encode_error(&b, code, message) == 0)
        server_hub_ops.send(cl->srv, c, b.data, b.len);
    sigmsg_buf_free(&b);
}

/* Hands the client's join to the room's home node; its session here ends unused. */
static bool proxy(struct cluster *cl, struct hub_conn *c, const char *home, const uint8_t *buf,
                  size_t len)
{
    char head[160];
    char *who = c->clinician ? watchbus_who_encode(c->clinician) : NULL;
    /* Empty fields travel as "-", so that every field has a value. */
    int hl = snprintf(head, sizeof(head), "%s\t%s\t%s\t%s\t", c->info.ip[0] ? c->info.ip : "-",
                      c->info.browser[0] ? c->info.browser : "-",
                      c->info.browser_version[0] ? c->info.browser_version : "-",
                      c->info.os[0] ? c->info.os : "-");
    size_t wl = who ? strlen(who) : 1;
    char *msg = malloc((size_t)hl + wl + 1 + len);

    if (!msg || !(c->home = strdup(home))) {
        free(msg);
        free(who);
        return false;
    }
    memcpy(msg, head, (size_t)hl);
    memcpy(msg + hl, who ? who : "-", wl);
    msg[hl + wl] = '\n';
    free(who);
    hl += (int)wl + 1;
    memcpy(msg + hl, buf, len);
    c->cluster_id = ++cl->next_conn_id;
    if (link_add(cl, c) < 0) {
        free(msg);
        free(c->home);
        c->home = NULL;
        return false;
    }
    server_clock(cl->srv);
    hub_session_closed(cl->srv->hub, c->session);
    c->session = NULL;
    cl->proxied_joins++;
    if (cluster_publish(cl, home, 'J', c->cluster_id, msg, (size_t)hl + len) < 0)
        server_hub_ops.close(cl->srv, c, 1013, "try again later");
    free(msg);
    return true;
}

/* A join for a room this node does not hold: take the room over, or proxy to its home. */
static bool route_join(struct cluster *cl, struct hub_conn *c, const struct sigmsg *m,
                       const uint8_t *buf, size_t len)
{
    struct hub_room_record rec;
    char home[CLUSTER_NODE_MAX + 1];
    int rc = m->room[0] ? cluster_lookup_room(cl, m->room, home, sizeof(home), &rec)
                        : cluster_lookup_token(cl, m->token, home, sizeof(home), &rec);

    if (rc == 0)
        return false; /* the hub answers invalid_token (or forbidden for a room id) */
    for (int tries = 0; rc > 0 && tries < 3; tries++) {
        int alive = strcmp(home, cl->node) == 0 ? 0 : home[0] ? cluster_node_alive(cl, home) : 0;
        if (alive > 0)
            return proxy(cl, c, home, buf, len);
        if (alive < 0)
            break;
        rc = cluster_claim(cl, rec.info.id, home, home, sizeof(home));
        if (rc == 1) {
            cl->takeovers++;
            log_msg(LOG_LEVEL_INFO, "cluster: room %s taken over by this node", rec.info.id);
            return hub_room_adopt(cl->srv->hub, &rec) == -ENOMEM;
        }
        if (rc == -ENOENT)
            return false;
        rc = rc == 0 ? 1 : rc; /* another node claimed it first: look at that one */
    }
    client_error(cl, c, "unavailable", "The service is briefly unavailable; trying again.");
    return true;
}

bool cluster_client_frame(struct cluster *cl, struct hub_conn *c, const uint8_t *buf, size_t len)
{
    struct sigmsg m;
    const char *code;

    if (c->home) {
        int rc = cluster_publish(cl, c->home, 'M', c->cluster_id, (const char *)buf, len);
        if (rc < 0)
            server_hub_ops.close(cl->srv, c, rc == -ENOBUFS ? 1013 : 1012,
                                 rc == -ENOBUFS ? "try again later" : "service restart");
        return true;
    }
    if (!c->session || hub_session_joined(c->session) || sigmsg_parse(buf, len, &m, &code) < 0 ||
        m.type != SIGMSG_JOIN)
        return false;
    bool held =
        m.room[0] ? hub_room_held(cl->srv->hub, m.room) : hub_token_held(cl->srv->hub, m.token);
    if (!cl->up) {
        if (held && m.resume[0])
            return false; /* a call in a room held here carries on */
        client_error(cl, c, "unavailable", "The service is briefly unavailable; trying again.");
        return true;
    }
    return held ? false : route_join(cl, c, &m, buf, len);
}

uint64_t cluster_watch_link(struct cluster *cl, struct hub_conn *c)
{
    if (c->remote || c->home || c->watch_linked)
        return c->cluster_id;
    c->cluster_id = ++cl->next_conn_id;
    if (link_add(cl, c) < 0)
        return 0;
    c->watch_linked = true;
    return c->cluster_id;
}

void cluster_client_closed(struct cluster *cl, struct hub_conn *c)
{
    if (c->watch_linked) {
        link_del(cl, c);
        c->watch_linked = false;
    }
    if (!c->home)
        return;
    cluster_publish(cl, c->home, 'C', c->cluster_id, "", 0);
    link_del(cl, c);
    free(c->home);
    c->home = NULL;
}

int cluster_remote_send(struct cluster *cl, struct hub_conn *c, const char *buf, size_t len)
{
    if (c->mute)
        return 0;
    int rc = cluster_publish(cl, c->remote_node, 'S', c->cluster_id, buf, len);

    return rc == -ENOBUFS ? -ENOBUFS : 0;
}

void cluster_remote_close(struct cluster *cl, struct hub_conn *c, int code, const char *reason)
{
    char msg[160];
    int n = snprintf(msg, sizeof(msg), "%d %s", code, reason ? reason : "");

    cluster_publish(cl, c->remote_node, 'X', c->cluster_id, msg, (size_t)n);
}

/* ---- the node's life ---- */

/* Closes the connections whose other end (home or edge) is a node no longer alive. */
static void drop_dead_links(struct cluster *cl)
{
    char dead[16][CLUSTER_NODE_MAX + 1], alive[16][CLUSTER_NODE_MAX + 1];
    unsigned ndead = 0, nalive = 0;

    for (size_t i = 0; i < cl->link_buckets; i++) {
        for (struct hub_conn *c = cl->links[i], *next; c; c = next) {
            const char *node = c->remote ? c->remote_node : c->home;
            bool known_dead = false, known_alive = false;
            next = c->link_next;
            if (!node)
                continue; /* a dashboard: bound to no other node */
            for (unsigned k = 0; k < ndead; k++)
                known_dead |= strcmp(dead[k], node) == 0;
            for (unsigned k = 0; k < nalive; k++)
                known_alive |= strcmp(alive[k], node) == 0;
            if (!known_dead && !known_alive) {
                int a = cluster_node_alive(cl, node);
                if (a < 0)
                    return;
                if (a && nalive < 16)
                    snprintf(alive[nalive++], sizeof(alive[0]), "%s", node);
                if (!a && ndead < 16)
                    snprintf(dead[ndead++], sizeof(dead[0]), "%s", node);
                known_dead = !a;
            }
            if (!known_dead)
                continue;
            if (c->remote)
                remote_free(cl, c); /* the peer goes away, and may resume anywhere */
            else
                server_hub_ops.close(cl->srv, c, 1012, "signalling node lost");
        }
    }
}

void cluster_tick(struct cluster *cl)
{
    struct hub *h = cl->srv->hub;

    if (cl->reset) {
        cl->reset = false;
        cluster_down(cl, "cannot open every connection");
    }
    if (!cl->up && !cl->connecting)
        connect_begin(cl);
    else if (cl->connecting && server_mono_ms() - cl->connect_started_ms > CLUSTER_DOWN_AFTER_MS)
        cluster_down(cl, "connect timed out");
    if (!cl->up)
        return;
    heartbeat(cl);
    server_clock(cl->srv);
    for (unsigned i = 0; i < cl->nlost; i++)
        if (hub_room_forget(h, cl->lost[i]) == 0)
            log_msg(LOG_LEVEL_INFO, "cluster: room %s moved to another node", cl->lost[i]);
    cl->nlost = 0;
    for (unsigned i = 0; i < cl->nended_here; i++)
        hub_room_end_held(h, cl->ended_here[i]);
    cl->nended_here = 0;
    if (cl->up)
        drop_dead_links(cl);
    if (cl->up)
        watchbus_tick(cl);
}

bool cluster_ready(const struct cluster *cl)
{
    return cl->up;
}

/* redis://[:PASSWORD@]HOST[:PORT][/DB] */
static int parse_url(struct cluster *cl, const char *url, char *err, size_t errlen)
{
    const char *p = url, *at, *slash;
    char hostport[256];

    if (strncmp(p, "redis://", 8) != 0)
        goto bad;
    p += 8;
    slash = strchr(p, '/');
    at = strchr(p, '@');
    if (at && (!slash || at < slash)) {
        const char *pw = memchr(p, ':', (size_t)(at - p));
        if (!pw || (size_t)(at - pw - 1) >= sizeof(cl->password))
            goto bad;
        memcpy(cl->password, pw + 1, (size_t)(at - pw - 1));
        p = at + 1;
    }
    size_t hl = slash ? (size_t)(slash - p) : strlen(p);
    if (hl == 0 || hl >= sizeof(hostport))
        goto bad;
    memcpy(hostport, p, hl);
    hostport[hl] = '\0';
    cl->port = 6379;
    char *colon = strrchr(hostport, ':');
    if (colon && !strchr(colon, ']')) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port < 1 || port > 65535)
            goto bad;
        cl->port = (int)port;
        *colon = '\0';
    }
    snprintf(cl->host, sizeof(cl->host), "%s", hostport);
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 1000)
            goto bad;
        cl->db = (int)db;
    }
    return cl->host[0] ? 0 : -EINVAL;
bad:
    snprintf(err, errlen, "redis: expected redis://[:PASSWORD@]HOST[:PORT][/DB]");
    return -EINVAL;
}

int cluster_start(struct cluster *cl, struct server *srv, struct ev_loop *loop, const char *url,
                  const char *node, unsigned turn_margin_s, char *err, size_t errlen)
{
    memset(cl, 0, sizeof(*cl));
    if (parse_url(cl, url, err, errlen) < 0)
        return -EINVAL;
    cl->srv = srv;
    cl->loop = loop;
    cl->turn_margin_s = turn_margin_s;
    snprintf(cl->node, sizeof(cl->node), "%s", node);
    snprintf(cl->inbox, sizeof(cl->inbox), "vc:n:%s", node);
    cl->ended = calloc(CLUSTER_MAX_ENDED, sizeof(*cl->ended));
    if (!cl->ended) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    connect_begin(cl);
    return 0;
}

void cluster_stop(struct cluster *cl)
{
    if (cl->up && cl->sync) {
        /* Others see this node gone at once, and take its rooms over on the next join. */
        redisReply *r = redisCommand(cl->sync, "DEL vc:node:%s", cl->node);
        freeReplyObject(r);
    }
    cl->stopping = true;
    cluster_down(cl, "stopping");
    while (cl->link_buckets && cl->nlinks) {
        for (size_t i = 0; i < cl->link_buckets; i++)
            while (cl->links[i]) {
                struct hub_conn *c = cl->links[i];
                if (c->remote) {
                    remote_free(cl, c);
                } else {
                    link_del(cl, c);
                    free(c->home);
                    c->home = NULL;
                    c->watch_linked = false;
                }
            }
    }
    free(cl->links);
    free(cl->ended);
    watchbus_free(cl);
}
