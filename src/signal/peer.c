/* Peers of a room: creation, lookup, removal, the bounded queue for absent peers, metadata log. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vc/log.h"
#include "vc/random.h"
#include "hub_int.h"

static const char *role_name(enum hub_role role)
{
    return role == HUB_HOST ? "host" : "guest";
}

static const char *path_name(enum sigmsg_path path)
{
    return path == SIGMSG_PATH_P2P ? "p2p" : path == SIGMSG_PATH_RELAY ? "relay" : "unknown";
}

struct hub_peer *hub_peer_find(struct hub_room *r, const char *id)
{
    for (struct hub_peer *p = r->peers; p; p = p->next)
        if (strcmp(p->id, id) == 0)
            return p;
    return NULL;
}

/* A new peer with fresh random ids, appended so the list keeps arrival order. */
struct hub_peer *hub_peer_new(struct hub *h, struct hub_room *r, enum hub_role role)
{
    struct hub_peer *p = calloc(1, sizeof(*p)), **pp = &r->peers;

    if (!p)
        return NULL;
    do {
        if (random_token_hex(p->id, sizeof(p->id), HUB_PEER_ID_LEN / 2) < 0 ||
            random_token_hex(p->turn_id, sizeof(p->turn_id), HUB_TURN_ID_LEN / 2) < 0) {
            free(p);
            return NULL;
        }
    } while (hub_peer_find(r, p->id));
    p->room = r;
    p->role = role;
    p->arrived_ms = h->mono_ms;
    p->queue_tail = &p->queue;
    while (*pp)
        pp = &(*pp)->next;
    *pp = p;
    return p;
}

static void queue_clear(struct hub_peer *p)
{
    while (p->queue) {
        struct hub_queued *q = p->queue;
        p->queue = q->next;
        free(q);
    }
    p->queue_tail = &p->queue;
    p->queue_msgs = 0;
    p->queue_bytes = 0;
}

void hub_peer_remove(struct hub *h, struct hub_peer *p, const char *reason)
{
    struct hub_room *r = p->room;
    struct hub_peer **pp = &r->peers;
    bool waiting = p->state == HUB_WAITING;

    hub_turn_release(h, p); /* its TURN node no longer counts it */
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp)
        *pp = p->next;
    if (p->sess)
        p->sess->peer = NULL;
    if (!waiting)
        hub_call_count(h, r); /* one participant fewer */
    if (waiting) {
        if (sigmsg_encode(&h->out, "knock-cancelled", "{s:s}", "peer", p->id) == 0)
            hub_broadcast(h, r, NULL, HUB_TO_JOINED | HUB_TO_HOSTS);
    } else {
        if (sigmsg_encode(&h->out, "peer-left", "{s:s}", "peer", p->id) == 0)
            hub_broadcast(h, r, NULL, HUB_TO_JOINED);
        if (h->set.log)
            event_log_write(h->set.log, "peer.left", "{s:s,s:s,s:s,s:I,s:s,s:s}", "room", r->id,
                            "peer", p->id, "role", role_name(p->role), "duration_s",
                            (json_int_t)((h->mono_ms - p->joined_ms) / 1000), "path",
                            path_name(p->path), "reason", reason);
    }
    queue_clear(p);
    free(p);
    if (!r->closing)
        hub_room_changed(h, r);
}

/* Sends the frame in h->out to p now, or keeps it until p resumes. */
int hub_peer_deliver(struct hub *h, struct hub_peer *p)
{
    if (p->sess) {
        hub_send(h, p->sess);
        return 0;
    }
    if (p->queue_msgs >= h->set.queue_max_msgs ||
        p->queue_bytes + h->out.len > h->set.queue_max_bytes)
        return -ENOBUFS;
    struct hub_queued *q = malloc(sizeof(*q) + h->out.len);
    if (!q)
        return -ENOMEM;
    q->next = NULL;
    q->len = h->out.len;
    memcpy(q->data, h->out.data, h->out.len);
    *p->queue_tail = q;
    p->queue_tail = &q->next;
    p->queue_msgs++;
    p->queue_bytes += q->len;
    return 0;
}

void hub_peer_log_joined(struct hub *h, const struct hub_peer *p, bool resumed)
{
    if (!h->set.log)
        return;
    event_log_write(h->set.log, "peer.joined", "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:b}", "room",
                    p->room->id, "peer", p->id, "role", role_name(p->role), "browser",
                    p->info.browser, "browser_version", p->info.browser_version, "os", p->info.os,
                    "ip", p->info.ip, "wait_ms", (json_int_t)(p->joined_ms - p->arrived_ms),
                    "resumed", resumed);
}

/* Remembers the path; logs call.stats when it or video changes, or every HUB_STATS_LOG_MS. */
void hub_peer_log_stats(struct hub *h, struct hub_peer *p, const struct sigmsg *m)
{
    bool changed = m->path != p->path || m->video_off != p->video_off;

    hub_call_stats(h, p, m);
    p->path = m->path;
    p->video_off = m->video_off;
    if (!h->set.log || (!changed && h->mono_ms - p->stats_log_ms < HUB_STATS_LOG_MS))
        return;
    p->stats_log_ms = h->mono_ms;
    event_log_write(h->set.log, "call.stats", "{s:s,s:s,s:s,s:f,s:f,s:f,s:b}", "room", p->room->id,
                    "peer", p->id, "path", path_name(m->path), "rtt_ms", m->rtt_ms, "loss_pct",
                    m->loss_pct, "bitrate_kbps", m->bitrate_kbps, "video", !m->video_off);
}

void hub_peer_log_knocked(struct hub *h, const struct hub_peer *p)
{
    if (h->set.log)
        event_log_write(h->set.log, "peer.knocked", "{s:s,s:s}", "room", p->room->id, "peer",
                        p->id);
}

void hub_peer_log_decision(struct hub *h, const struct hub_peer *p, bool admitted, const char *by)
{
    json_int_t wait_ms = (json_int_t)(h->mono_ms - p->arrived_ms);

    if (!h->set.log)
        return;
    if (admitted)
        event_log_write(h->set.log, "peer.admitted", "{s:s,s:s,s:I,s:s}", "room", p->room->id,
                        "peer", p->id, "wait_ms", wait_ms, "by", by);
    else
        event_log_write(h->set.log, "peer.denied", "{s:s,s:s,s:I,s:s}", "room", p->room->id, "peer",
                        p->id, "wait_ms", wait_ms, "by", by);
}
