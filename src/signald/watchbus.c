/* Dashboards across vc-signal nodes: each room's entry in Redis and published on its waiting
 * area's channel, the areas this node listens to, and actions passed to a room's home node. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "vc/log.h"
#include "cluster.h"
#include "server_int.h"

/* Keys: vc:entry:ID (a held room's "room" frame, expiring with the room), vc:area:AREA (a sorted
 * set of the area's room ids by expiry); channel vc:w:AREA carries "W" (an entry) and "G" (a
 * room gone) messages in the inbox format. */
#define WATCHBUS_KEY_MAX (16 + HUB_AREA_MAX)
/* Rooms of one area loaded at once, at most. */
#define WATCHBUS_LOAD_MAX 1000
/* The areas listened to are read again this often, in case a publication was missed. */
#define WATCHBUS_RELOAD_MS 5000

struct watchbus_area {
    struct watchbus_area *next;
    unsigned refs;
    char name[HUB_AREA_MAX];
};

static int64_t watchbus_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void watchbus_channel(const char *area, char out[WATCHBUS_KEY_MAX])
{
    snprintf(out, WATCHBUS_KEY_MAX, "vc:w:%s", area);
}

/* ---- a held room's entry: stored and published by its home ---- */

void watchbus_entry(void *ctx, const char *area, const char *id, const char *frame, size_t len,
                    int64_t expires_ms)
{
    struct cluster *cl = ctx;
    char entry[WATCHBUS_KEY_MAX], set[WATCHBUS_KEY_MAX], channel[WATCHBUS_KEY_MAX], at[24];
    int64_t pxat = expires_ms + (int64_t)cl->turn_margin_s * 1000;

    if (!cl->up || !cl->pub)
        return; /* written again when Redis is back (watchbus_resync) */
    snprintf(entry, sizeof(entry), "vc:entry:%s", id);
    snprintf(set, sizeof(set), "vc:area:%s", area);
    snprintf(at, sizeof(at), "%lld", (long long)pxat);
    watchbus_channel(area, channel);
    if (frame) {
        redisAsyncCommand(cl->pub, NULL, NULL, "SET %s %b PXAT %s", entry, frame, len, at);
        redisAsyncCommand(cl->pub, NULL, NULL, "ZADD %s %s %s", set, at, id);
        redisAsyncCommand(cl->pub, NULL, NULL, "PEXPIREAT %s %s GT", set, at);
        redisAsyncCommand(cl->pub, NULL, NULL, "PEXPIREAT %s %s NX", set, at);
        cluster_publish_to(cl, channel, 'W', 0, frame, len);
    } else {
        redisAsyncCommand(cl->pub, NULL, NULL, "DEL %s", entry);
        redisAsyncCommand(cl->pub, NULL, NULL, "ZREM %s %s", set, id);
        cluster_publish_to(cl, channel, 'G', 0, id, strlen(id));
    }
}

/* ---- the areas this node listens to ---- */

static struct watchbus_area **watchbus_find(struct cluster *cl, const char *area)
{
    struct watchbus_area **pp = &cl->areas;

    while (*pp && strcmp((*pp)->name, area) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* Reads the area's entries from Redis into the hub's feed. */
static void watchbus_load(struct cluster *cl, const char *area)
{
    char set[WATCHBUS_KEY_MAX], now[24], lim[16];
    redisReply *ids, *vals;

    snprintf(set, sizeof(set), "vc:area:%s", area);
    snprintf(now, sizeof(now), "(%lld", (long long)watchbus_now_ms());
    snprintf(lim, sizeof(lim), "%d", WATCHBUS_LOAD_MAX);
    const char *zr[8] = {"ZRANGE", set, now, "+inf", "BYSCORE", "LIMIT", "0", lim};
    if (!(ids = cluster_command_argv(cl, 8, zr, NULL)))
        return;
    size_t n = ids->type == REDIS_REPLY_ARRAY ? ids->elements : 0;
    const char **argv = calloc(2 * n + 1, sizeof(*argv));
    char(*keys)[WATCHBUS_KEY_MAX] = calloc(2 * n + 1, sizeof(*keys));
    if (!argv || !keys || n == 0) {
        free(argv);
        free(keys);
        freeReplyObject(ids);
        return;
    }
    argv[0] = "MGET";
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[2 * i], WATCHBUS_KEY_MAX, "vc:entry:%s", ids->element[i]->str);
        snprintf(keys[2 * i + 1], WATCHBUS_KEY_MAX, "vc:home:%s", ids->element[i]->str);
        argv[1 + 2 * i] = keys[2 * i];
        argv[2 + 2 * i] = keys[2 * i + 1];
    }
    vals = cluster_command_argv(cl, (int)(2 * n + 1), argv, NULL);
    for (size_t i = 0; vals && vals->type == REDIS_REPLY_ARRAY && i + 1 < vals->elements; i += 2) {
        redisReply *e = vals->element[i], *home = vals->element[i + 1];
        if (e->type == REDIS_REPLY_STRING && home->type == REDIS_REPLY_STRING &&
            strcmp(home->str, cl->node) != 0)
            hub_feed_put(cl->srv->hub, home->str, e->str, e->len);
    }
    freeReplyObject(vals);
    freeReplyObject(ids);
    free(argv);
    free(keys);
}

void watchbus_interest(void *ctx, const char *area, int delta)
{
    struct cluster *cl = ctx;
    struct watchbus_area **pp = watchbus_find(cl, area), *a = *pp;

    if (delta > 0) {
        if (a) {
            a->refs++;
            return;
        }
        if (!(a = calloc(1, sizeof(*a))))
            return;
        snprintf(a->name, sizeof(a->name), "%s", area);
        a->refs = 1;
        a->next = cl->areas;
        cl->areas = a;
        if (cl->up) {
            server_clock(cl->srv);
            watchbus_load(cl, area);
        }
        return;
    }
    if (!a || --a->refs > 0)
        return;
    *pp = a->next;
    hub_feed_forget_area(cl->srv->hub, area);
    free(a);
}

/* A publication on an area's channel (every area comes through one pattern subscription, so
 * that listening to an area is bookkeeping here, never a SUBSCRIBE racing an UNSUBSCRIBE): an
 * entry of another node's room, or its end, for an area this node needs. */
static void watchbus_message(redisAsyncContext *ac, void *reply, void *arg)
{
    struct cluster *cl = ac->data;
    redisReply *r = reply, *body;
    char kind, node[CLUSTER_NODE_MAX + 1], id[HUB_ROOM_ID_LEN + 1];
    const char *payload;
    size_t plen;
    uint64_t unused;

    (void)arg;
    if (!cl || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        strcmp(r->element[0]->str, "pmessage") != 0 || r->element[2]->len < 5)
        return;
    body = r->element[3];
    if (body->type != REDIS_REPLY_STRING || !*watchbus_find(cl, r->element[2]->str + 5) ||
        !cluster_msg_head(body->str, body->len, &kind, &unused, node, &payload, &plen) ||
        strcmp(node, cl->node) == 0)
        return;
    cl->received++;
    server_clock(cl->srv);
    if (kind == 'W') {
        hub_feed_put(cl->srv->hub, node, payload, plen);
    } else if (kind == 'G' && plen == HUB_ROOM_ID_LEN) {
        memcpy(id, payload, plen);
        id[plen] = '\0';
        hub_feed_drop(cl->srv->hub, id);
    }
}

void watchbus_resync(struct cluster *cl)
{
    redisAsyncCommand(cl->sub, watchbus_message, NULL, "PSUBSCRIBE vc:w:*");
    /* Sent now, so that the entries read next cannot miss a change published meanwhile (the
     * periodic reload covers the rest). */
    redisAsyncHandleWrite(cl->sub);
    server_clock(cl->srv);
    for (struct watchbus_area *a = cl->areas; a; a = a->next)
        watchbus_load(cl, a->name);
    hub_watch_republish(cl->srv->hub);
    cl->watch_reload_ms = server_mono_ms();
}

void watchbus_tick(struct cluster *cl)
{
    if (!cl->up || server_mono_ms() - cl->watch_reload_ms < WATCHBUS_RELOAD_MS)
        return;
    cl->watch_reload_ms = server_mono_ms();
    for (struct watchbus_area *a = cl->areas; a; a = a->next)
        watchbus_load(cl, a->name);
}

void watchbus_free(struct cluster *cl)
{
    while (cl->areas) {
        struct watchbus_area *a = cl->areas;
        cl->areas = a->next;
        free(a);
    }
}

/* ---- a clinician's identity on the wire ---- */

char *watchbus_who_encode(const struct hub_clinician *c)
{
    json_t *teams = json_array();

    for (unsigned i = 0; teams && i < c->nteams; i++)
        json_array_append_new(teams, json_string(c->teams[i]));
    json_t *j = json_pack("{s:s,s:s,s:o}", "id", c->id, "name", c->name, "teams", teams);
    char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return out;
}

int watchbus_who_decode(const char *text, size_t len, struct hub_clinician *out)
{
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *teams = json_object_get(j, "teams"), *t;
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *name = json_string_value(json_object_get(j, "name"));
    size_t i;
    bool ok = id && name && strlen(id) <= HUB_OWNER_MAX && strlen(name) <= HUB_NAME_MAX &&
              json_is_array(teams) && json_array_size(teams) <= HUB_TEAMS_MAX;

    memset(out, 0, sizeof(*out));
    if (ok) {
        memcpy(out->id, id, strlen(id) + 1);
        memcpy(out->name, name, strlen(name) + 1);
    }
    json_array_foreach(teams, i, t)
    {
        const char *s = json_string_value(t);
        ok = ok && s && strlen(s) <= HUB_TEAM_MAX;
        if (ok)
            memcpy(out->teams[out->nteams++], s, strlen(s) + 1);
    }
    json_decref(j);
    return ok ? 0 : -EINVAL;
}

/* ---- actions on rooms another node holds ---- */

int watchbus_act(void *ctx, struct hub_conn *conn, const struct hub_clinician *who,
                 const char *room, const uint8_t *frame, size_t len)
{
    struct cluster *cl = ctx;
    struct hub_room_record rec;
    char home[CLUSTER_NODE_MAX + 1];
    int rc = cluster_lookup_room(cl, room, home, sizeof(home), &rec);

    if (rc <= 0)
        return rc < 0 ? -EAGAIN : -ENOENT;
    if (!hub_clinician_sees(who, rec.owner, rec.info.team))
        return -ENOENT;
    if (!home[0] || strcmp(home, cl->node) == 0 || cluster_node_alive(cl, home) <= 0)
        return -EAGAIN; /* its node is gone: the room moves when one of its people is back */
    char *whotext = watchbus_who_encode(who);
    size_t wl = whotext ? strlen(whotext) : 0;
    char *msg = whotext ? malloc(wl + 1 + len) : NULL;
    if (!msg) {
        free(whotext);
        return -EAGAIN;
    }
    memcpy(msg, whotext, wl);
    msg[wl] = '\n';
    memcpy(msg + wl + 1, frame, len);
    free(whotext);
    uint64_t id = conn ? cluster_watch_link(cl, conn) : 0;
    rc = cluster_publish(cl, home, 'A', id, msg, wl + 1 + len);
    free(msg);
    return rc < 0 ? -EAGAIN : 0;
}

/* 'A' on this node's inbox: a clinician on node acted on a room held here. The answers go back
 * to node's connection id through a connection that lives for this one frame. */
void watchbus_relayed(struct cluster *cl, const char *node, uint64_t id, const char *p, size_t len)
{
    const char *nl = memchr(p, '\n', len);
    struct hub_clinician who;
    struct hub_conn *rc;

    if (!nl || watchbus_who_decode(p, (size_t)(nl - p), &who) < 0)
        return;
    if (!(rc = calloc(1, sizeof(*rc))) || !(rc->remote_node = strdup(node))) {
        free(rc);
        return;
    }
    rc->remote = true;
    rc->mute = id == 0; /* nobody waits for answers (a REST call) */
    rc->cluster_id = id;
    server_clock(cl->srv);
    hub_relayed_action(cl->srv->hub, rc, &who, (const uint8_t *)nl + 1, len - (size_t)(nl + 1 - p));
    free(rc->remote_node);
    free(rc);
}

void watchbus_seen(void *ctx, const char *home, const char *room)
{
    cluster_publish(ctx, home, 'N', 0, room, strlen(room));
}
