/* The clinicians' live waiting area: room entries pushed to dashboards, places in the queue. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "hub_int.h"

/* Waiting guests listed in one room's entry, at most (a lobby is rate limited anyway). */
#define WATCH_MAX_WAITING 50
/* The rooms answer is one frame: its rooms are cut to fit this. */
#define WATCH_SNAPSHOT_MAX (512 * 1024)

bool hub_clinician_sees(const struct hub_clinician *c, const char *owner, const char *team)
{
    if (!c)
        return false;
    if (c->id[0] && strcmp(c->id, owner) == 0)
        return true;
    for (unsigned i = 0; team && team[0] && i < c->nteams; i++)
        if (strcmp(c->teams[i], team) == 0)
            return true;
    return false;
}

bool hub_room_visible(const struct hub_clinician *c, const struct hub_room *r)
{
    return hub_clinician_sees(c, r->owner, r->team);
}

void hub_rfc3339_ms(char out[32], int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char day[24];

    if (!gmtime_r(&t, &tm) || strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        out[0] = '\0';
    else
        snprintf(out, 32, "%s.%03dZ", day, (int)(ms % 1000));
}

json_t *hub_precheck_json(const struct sigmsg_precheck *pc)
{
    if (!pc->present)
        return json_null();
    return json_pack("{s:b,s:b,s:b,s:b,s:b,s:b}", "camera", pc->camera, "microphone",
                     pc->microphone, "turn_udp", pc->turn_udp, "turn_tcp", pc->turn_tcp, "turn_tls",
                     pc->turn_tls, "turn_checked", pc->turn_checked);
}

static json_t *who_json(const struct hub_who *w)
{
    return w->id[0] ? json_pack("{s:s,s:s}", "id", w->id, "name", w->name) : json_null();
}

/* "in-call" once a guest is in, else "waiting" while one waits, else "open". */
static const char *room_state(const struct hub_room *r)
{
    bool waiting = false;

    for (const struct hub_peer *p = r->peers; p; p = p->next) {
        if (p->role == HUB_GUEST && p->state != HUB_WAITING)
            return "in-call";
        waiting |= p->state == HUB_WAITING;
    }
    return waiting ? "waiting" : "open";
}

static int cmp_waiting(const void *a, const void *b)
{
    const struct hub_peer *x = *(const struct hub_peer *const *)a;
    const struct hub_peer *y = *(const struct hub_peer *const *)b;

    if (x->knock_unix_ms != y->knock_unix_ms)
        return x->knock_unix_ms < y->knock_unix_ms ? -1 : 1;
    return x->knock_seq < y->knock_seq ? -1 : x->knock_seq > y->knock_seq;
}

/* The waiting guests of r, earliest knock first (at most max, in out). */
static size_t room_waiting_sorted(const struct hub_room *r, const struct hub_peer **out, size_t max)
{
    size_t n = 0;

    for (const struct hub_peer *p = r->peers; p && n < max; p = p->next) {
        if (p->state != HUB_WAITING)
            continue;
        size_t k = n++;
        while (k > 0 && cmp_waiting(&out[k - 1], &p) > 0) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = p;
    }
    return n;
}

static json_t *waiting_json(const struct hub_room *r)
{
    const struct hub_peer *w[WATCH_MAX_WAITING];
    size_t n = room_waiting_sorted(r, w, WATCH_MAX_WAITING);
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < n; i++) {
        char since[32];
        hub_rfc3339_ms(since, w[i]->knock_unix_ms);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:b,s:b}", "peer", w[i]->id,
                                             "since", since, "browser", w[i]->info.browser,
                                             "browser_version", w[i]->info.browser_version, "os",
                                             w[i]->info.os, "precheck",
                                             hub_precheck_json(&w[i]->precheck), "away",
                                             w[i]->sess == NULL, "notified", w[i]->notified));
    }
    return arr;
}

/* The room as dashboards see it. The label goes nowhere else. */
static json_t *room_entry(const struct hub_room *r)
{
    char created[32], expires[32];
    struct hub_who owner = r->owner_who;

    hub_rfc3339_ms(created, r->created_ms);
    hub_rfc3339_ms(expires, r->expires_ms);
    if (!owner.id[0])
        snprintf(owner.id, sizeof(owner.id), "%s", r->owner);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:b,s:b,s:s?,s:o,s:o,s:o,s:o}", "id", r->id,
                     "label", r->label, "state", room_state(r), "created_at", created, "expires_at",
                     expires, "participants", (json_int_t)hub_room_participants(r), "capacity",
                     (json_int_t)r->capacity, "lobby", r->lobby, "relay_only", r->relay_only,
                     "team", r->team[0] ? r->team : NULL, "owner", who_json(&owner), "assignee",
                     who_json(&r->assignee), "clinician", who_json(&r->clinician), "waiting",
                     waiting_json(r));
}

/* ---- places in the queue ---- */

/* True when a and b share a queue: the same team, or no team and the same owner. */
static bool same_queue(const char *a_owner, const char *a_team, const char *owner, const char *team)
{
    return team[0] ? strcmp(a_team, team) == 0 : !a_team[0] && strcmp(a_owner, owner) == 0;
}

/* One guest waiting in a queue: held here (local), or in another node's room. */
struct queued {
    int64_t ms;
    uint64_t seq;     /* local guests only */
    const char *peer; /* its id */
    struct hub_peer *local;
};

struct queue_list {
    struct queued *q;
    size_t n, cap;
    bool failed;
};

static void queue_add(struct queue_list *l, int64_t ms, uint64_t seq, const char *peer,
                      struct hub_peer *local)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        struct queued *grown = realloc(l->q, cap * sizeof(*grown));
        if (!grown) {
            l->failed = true;
            return;
        }
        l->q = grown;
        l->cap = cap;
    }
    l->q[l->n++] = (struct queued){ms, seq, peer, local};
}

/* Earliest knock first; within a millisecond, knock order here, or the ids across nodes (so
 * that every node orders its own guests against the others' alike). */
static int cmp_queued(const void *a, const void *b)
{
    const struct queued *x = a, *y = b;

    if (x->ms != y->ms)
        return x->ms < y->ms ? -1 : 1;
    if (x->local && y->local)
        return x->seq < y->seq ? -1 : x->seq > y->seq;
    return strcmp(x->peer, y->peer);
}

struct queue_walk {
    struct queue_list *l;
    const char *owner, *team;
};

static void queue_feed(void *arg, const struct feed_entry *e)
{
    struct queue_walk *w = arg;
    json_t *item;
    size_t i;

    if (!same_queue(e->owner, e->team, w->owner, w->team))
        return;
    json_array_foreach(json_object_get(e->entry, "waiting"), i, item)
    {
        const char *peer = json_string_value(json_object_get(item, "peer"));
        int64_t ms = hub_rfc3339_parse_ms(json_string_value(json_object_get(item, "since")));
        if (peer && ms >= 0)
            queue_add(w->l, ms, 0, peer, NULL);
    }
}

void hub_watch_requeue_area(struct hub *h, const char *owner, const char *team)
{
    struct queue_list l = {0};
    struct queue_walk w = {&l, owner, team};

    for (struct hub_room *r = h->rooms; r; r = r->next) {
        if (!same_queue(r->owner, r->team, owner, team))
            continue;
        for (struct hub_peer *p = r->peers; p; p = p->next)
            if (p->state == HUB_WAITING)
                queue_add(&l, p->knock_unix_ms, p->knock_seq, p->id, p);
    }
    hub_feed_each(h, queue_feed, &w);
    if (l.failed) {
        free(l.q);
        return;
    }
    if (l.n > 1)
        qsort(l.q, l.n, sizeof(*l.q), cmp_queued);
    for (size_t i = 0; i < l.n; i++) {
        struct hub_peer *g = l.q[i].local;
        if (!g || !g->sess || (g->queue_pos == i + 1 && g->queue_notified == g->notified))
            continue;
        g->queue_pos = (unsigned)(i + 1);
        g->queue_notified = g->notified;
        if (sigmsg_encode(&h->out, "queue", "{s:I,s:I,s:b}", "position", (json_int_t)(i + 1),
                          "waiting", (json_int_t)l.n, "notified", g->notified) == 0)
            hub_send(h, g->sess);
    }
    free(l.q);
}

static void requeue(struct hub *h, const char *owner, const char *team)
{
    hub_watch_requeue_area(h, owner, team);
}

/* ---- dashboards ---- */

/* Tells the registry this node needs (delta 1) or no longer needs (-1) the other nodes' rooms
 * in the areas clinician c sees: their own, and each of their teams'. */
static void interest_of(struct hub *h, const struct hub_clinician *c, int delta)
{
    char area[HUB_AREA_MAX];

    if (!h->reg || !h->reg->interest)
        return;
    hub_area_of(c->id, NULL, area);
    h->reg->interest(h->reg_ctx, area, delta);
    for (unsigned i = 0; i < c->nteams; i++) {
        hub_area_of(NULL, c->teams[i], area);
        h->reg->interest(h->reg_ctx, area, delta);
    }
}

static void watchers_add(struct hub *h, struct hub_session *s)
{
    s->watching = true;
    s->watch_prev = NULL;
    s->watch_next = h->watchers;
    if (h->watchers)
        h->watchers->watch_prev = s;
    h->watchers = s;
    h->nwatchers++;
}

void hub_watch_session_closed(struct hub *h, struct hub_session *s)
{
    if (!s->watching)
        return;
    if (s->watch_prev)
        s->watch_prev->watch_next = s->watch_next;
    else
        h->watchers = s->watch_next;
    if (s->watch_next)
        s->watch_next->watch_prev = s->watch_prev;
    s->watching = false;
    h->nwatchers--;
    if (!h->stopping)
        interest_of(h, s->clinician, -1);
}

size_t hub_watcher_count(const struct hub *h)
{
    return h->nwatchers;
}

void hub_watch_mark_seen(struct hub *h, struct hub_room *r)
{
    bool changed = false;

    for (struct hub_peer *p = r->peers; p; p = p->next)
        if (p->state == HUB_WAITING && !p->notified) {
            p->notified = true;
            changed = true;
        }
    if (changed)
        hub_room_changed(h, r); /* their places, and the entry's notified flags */
}

static json_t *me_json(const struct hub_clinician *c)
{
    json_t *teams = json_array();

    for (unsigned i = 0; teams && i < c->nteams; i++)
        json_array_append_new(teams, json_string(c->teams[i]));
    return json_pack("{s:s,s:s,s:o}", "id", c->id, "name", c->name, "teams", teams);
}

/* The rooms a snapshot lists: held here, then those of other nodes (feed.c). */
struct snapshot {
    const struct hub_clinician *who;
    json_t *rooms;
    size_t k, n, total;
};

static void snapshot_add(struct snapshot *sn, json_t *entry)
{
    sn->total++;
    if (sn->k < sn->n && entry && json_array_append(sn->rooms, entry) == 0)
        sn->k++;
}

static void snapshot_feed(void *arg, const struct feed_entry *e)
{
    struct snapshot *sn = arg;
    json_t *copy;

    if (!hub_clinician_sees(sn->who, e->owner, e->team) || !(copy = json_copy(e->entry)))
        return;
    json_object_del(copy, "type");
    snapshot_add(sn, copy);
    json_decref(copy);
}

/* Sends rooms {rooms, me, truncated} with the first n visible rooms. -EMSGSIZE when too big. */
static int send_snapshot(struct hub *h, struct hub_session *s, size_t n)
{
    struct snapshot sn = {s->clinician, json_array(), 0, n, 0};
    struct sigmsg_buf b;
    int rc;

    for (struct hub_room *r = h->rooms; r; r = r->next) {
        if (!r->linked || r->closing || !hub_room_visible(s->clinician, r))
            continue;
        json_t *e = room_entry(r);
        snapshot_add(&sn, e);
        json_decref(e);
    }
    hub_feed_each(h, snapshot_feed, &sn);
    sigmsg_buf_init(&b, WATCH_SNAPSHOT_MAX);
    rc = sigmsg_encode(&b, "rooms", "{s:o,s:o,s:b}", "rooms", sn.rooms, "me", me_json(s->clinician),
                       "truncated", sn.k < sn.total);
    if (rc == 0 && h->ops->send(h->ctx, s->conn, b.data, b.len) == -ENOBUFS)
        hub_close(h, s, 1008, "output queue full");
    sigmsg_buf_free(&b);
    return rc;
}

/* Tells the homes of the other nodes' rooms a new dashboard sees whose guests nobody had seen. */
struct seen_walk {
    struct hub *h;
    const struct hub_clinician *who;
};

static void seen_feed(void *arg, const struct feed_entry *e)
{
    struct seen_walk *w = arg;
    json_t *item;
    size_t i;

    if (!hub_clinician_sees(w->who, e->owner, e->team) || !w->h->reg || !w->h->reg->seen)
        return;
    json_array_foreach(json_object_get(e->entry, "waiting"), i, item)
    {
        if (json_is_false(json_object_get(item, "notified"))) {
            w->h->reg->seen(w->h->reg_ctx, e->home, e->id);
            return;
        }
    }
}

void hub_watch_start(struct hub *h, struct hub_session *s)
{
    struct seen_walk w = {h, s->clinician};
    size_t n = HUB_WATCH_MAX_ROOMS;

    if (!s->clinician)
        return hub_send_error(h, s, "forbidden", "Sign in as a clinician to watch consultations.");
    if (!s->watching)
        interest_of(h, s->clinician, 1); /* the registry loads the other nodes' rooms now */
    /* Its guests are seen from now on: the other dashboards and the guests hear it first. */
    for (struct hub_room *r = h->rooms, *next; r; r = next) {
        next = r->next;
        if (hub_room_visible(s->clinician, r) && !r->closing)
            hub_watch_mark_seen(h, r);
    }
    if (!s->watching)
        watchers_add(h, s);
    while (send_snapshot(h, s, n) == -EMSGSIZE && n > 0)
        n /= 2;
    hub_feed_each(h, seen_feed, &w);
}

bool hub_watch_push_raw(struct hub *h, const char *owner, const char *team, const char *frame,
                        size_t len)
{
    bool seen = false;

    for (struct hub_session *w = h->watchers, *next; w; w = next) {
        next = w->watch_next;
        if (w->closing || !hub_clinician_sees(w->clinician, owner, team))
            continue;
        if (h->ops->send(h->ctx, w->conn, frame, len) == -ENOBUFS)
            hub_close(h, w, 1008, "output queue full");
        h->stats.watch_updates++;
        seen = true;
    }
    return seen;
}

/* True when a dashboard here sees r. */
static bool watched_here(const struct hub *h, const struct hub_room *r)
{
    for (const struct hub_session *w = h->watchers; w; w = w->watch_next)
        if (!w->closing && hub_room_visible(w->clinician, r))
            return true;
    return false;
}

void hub_watch_room(struct hub *h, struct hub_room *r)
{
    char area[HUB_AREA_MAX];
    bool has_waiting = false;

    if (r->closing || !r->linked)
        return;
    for (struct hub_peer *p = r->peers; p; p = p->next)
        has_waiting |= p->state == HUB_WAITING;
    if (has_waiting && watched_here(h, r)) /* the dashboards about to get the entry see them */
        for (struct hub_peer *p = r->peers; p; p = p->next)
            p->notified |= p->state == HUB_WAITING;
    hub_area_of(r->owner, r->team, area);
    if (h->nwatchers > 0 || (h->reg && h->reg->entry)) {
        json_t *entry = room_entry(r);
        if (entry && sigmsg_encode(&h->out, "room", "O", entry) == 0) {
            hub_watch_push_raw(h, r->owner, r->team, h->out.data, h->out.len);
            if (h->reg && h->reg->entry)
                h->reg->entry(h->reg_ctx, area, r->id, h->out.data, h->out.len, r->expires_ms);
        }
        json_decref(entry);
    }
    /* Guests waiting here need the other nodes' guests of the area for their places. */
    if (h->reg && h->reg->interest && has_waiting != r->had_waiting)
        h->reg->interest(h->reg_ctx, area, has_waiting ? 1 : -1);
    /* Places change only where someone waits, or waited until this change. */
    if (has_waiting || r->had_waiting)
        requeue(h, r->owner, r->team);
    r->had_waiting = has_waiting;
}

void hub_watch_gone(struct hub *h, struct hub_room *r)
{
    char area[HUB_AREA_MAX];

    if (sigmsg_encode(&h->out, "room-gone", "{s:s}", "id", r->id) == 0 && h->nwatchers > 0)
        hub_watch_push_raw(h, r->owner, r->team, h->out.data, h->out.len);
    if (!h->reg)
        return;
    hub_area_of(r->owner, r->team, area);
    if (h->reg->entry)
        h->reg->entry(h->reg_ctx, area, r->id, NULL, 0, r->expires_ms);
}

void hub_watch_requeue_after(struct hub *h, const struct hub_room *gone)
{
    char area[HUB_AREA_MAX];

    if (!gone->had_waiting)
        return;
    requeue(h, gone->owner, gone->team);
    if (h->reg && h->reg->interest && !h->stopping) {
        hub_area_of(gone->owner, gone->team, area);
        h->reg->interest(h->reg_ctx, area, -1);
    }
}

void hub_watch_republish(struct hub *h)
{
    for (struct hub_room *r = h->rooms; r; r = r->next)
        hub_watch_room(h, r);
}
