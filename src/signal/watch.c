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
    return json_pack("{s:b,s:b,s:b,s:b,s:b}", "camera", pc->camera, "microphone", pc->microphone,
                     "turn_udp", pc->turn_udp, "turn_tcp", pc->turn_tcp, "turn_tls", pc->turn_tls);
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
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:b}", "peer", w[i]->id, "since", since,
                           "browser", w[i]->info.browser, "browser_version",
                           w[i]->info.browser_version, "os", w[i]->info.os, "precheck",
                           hub_precheck_json(&w[i]->precheck), "away", w[i]->sess == NULL));
    }
    return arr;
}

/* The room as dashboards see it. The label goes nowhere else. */
static json_t *room_entry(const struct hub *h, const struct hub_room *r)
{
    char created[32], expires[32];
    struct hub_who owner = r->owner_who;

    hub_rfc3339_ms(created, r->created_ms);
    hub_rfc3339_ms(expires, r->expires_ms);
    if (!owner.id[0])
        snprintf(owner.id, sizeof(owner.id), "%s", r->owner);
    (void)h;
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
static bool same_queue(const struct hub_room *a, const char *owner, const char *team)
{
    return team[0] ? strcmp(a->team, team) == 0 : !a->team[0] && strcmp(a->owner, owner) == 0;
}

/* Tells each connected guest waiting in the queue of (owner, team) its place, when it changed:
 * queue {position, waiting, notified}. */
static void requeue(struct hub *h, const char *owner, const char *team)
{
    size_t n = 0, cap = 0;
    const struct hub_peer **all = NULL;

    for (struct hub_room *r = h->rooms; r; r = r->next) {
        if (!same_queue(r, owner, team))
            continue;
        for (struct hub_peer *p = r->peers; p; p = p->next) {
            if (p->state != HUB_WAITING)
                continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                const struct hub_peer **grown = realloc(all, ncap * sizeof(*all));
                if (!grown) {
                    free(all);
                    return;
                }
                all = grown;
                cap = ncap;
            }
            all[n++] = p;
        }
    }
    if (n > 1)
        qsort(all, n, sizeof(*all), cmp_waiting);
    for (size_t i = 0; i < n; i++) {
        struct hub_peer *g = (struct hub_peer *)all[i];
        if (!g->sess || (g->queue_pos == i + 1 && g->queue_notified == g->notified))
            continue;
        g->queue_pos = (unsigned)(i + 1);
        g->queue_notified = g->notified;
        if (sigmsg_encode(&h->out, "queue", "{s:I,s:I,s:b}", "position", (json_int_t)(i + 1),
                          "waiting", (json_int_t)n, "notified", g->notified) == 0)
            hub_send(h, g->sess);
    }
    free(all);
}

/* ---- dashboards ---- */

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
}

size_t hub_watcher_count(const struct hub *h)
{
    return h->nwatchers;
}

/* Marks r's waiting guests as seen by a clinician. */
static void mark_notified(struct hub_room *r)
{
    for (struct hub_peer *p = r->peers; p; p = p->next)
        if (p->state == HUB_WAITING)
            p->notified = true;
}

static json_t *me_json(const struct hub_clinician *c)
{
    json_t *teams = json_array();

    for (unsigned i = 0; teams && i < c->nteams; i++)
        json_array_append_new(teams, json_string(c->teams[i]));
    return json_pack("{s:s,s:s,s:o}", "id", c->id, "name", c->name, "teams", teams);
}

/* Sends rooms {rooms, me, truncated} with the first n visible rooms. -EMSGSIZE when too big. */
static int send_snapshot(struct hub *h, struct hub_session *s, size_t n)
{
    struct sigmsg_buf b;
    json_t *rooms = json_array();
    size_t k = 0, total = 0;
    int rc;

    for (struct hub_room *r = h->rooms; r; r = r->next) {
        if (!r->linked || r->closing || !hub_room_visible(s->clinician, r))
            continue;
        total++;
        if (k < n && json_array_append_new(rooms, room_entry(h, r)) == 0)
            k++;
    }
    sigmsg_buf_init(&b, WATCH_SNAPSHOT_MAX);
    rc = sigmsg_encode(&b, "rooms", "{s:o,s:o,s:b}", "rooms", rooms, "me", me_json(s->clinician),
                       "truncated", k < total);
    if (rc == 0 && h->ops->send(h->ctx, s->conn, b.data, b.len) == -ENOBUFS)
        hub_close(h, s, 1008, "output queue full");
    sigmsg_buf_free(&b);
    return rc;
}

void hub_watch_start(struct hub *h, struct hub_session *s)
{
    size_t n = HUB_WATCH_MAX_ROOMS;

    if (!s->clinician)
        return hub_send_error(h, s, "forbidden", "Sign in as a clinician to watch consultations.");
    while (send_snapshot(h, s, n) == -EMSGSIZE && n > 0)
        n /= 2;
    if (!s->watching)
        watchers_add(h, s);
    for (struct hub_room *r = h->rooms; r; r = r->next) {
        if (!hub_room_visible(s->clinician, r) || r->closing)
            continue;
        bool waiting = false;
        for (const struct hub_peer *p = r->peers; p && !waiting; p = p->next)
            waiting = p->state == HUB_WAITING && !p->notified;
        if (waiting) {
            mark_notified(r);
            requeue(h, r->owner, r->team);
        }
    }
}

/* Sends the frame in h->out to every dashboard that sees r; true if one did. */
static bool push(struct hub *h, const struct hub_room *r)
{
    bool seen = false;

    for (struct hub_session *w = h->watchers, *next; w; w = next) {
        next = w->watch_next;
        if (!w->closing && hub_room_visible(w->clinician, r)) {
            hub_send(h, w);
            h->stats.watch_updates++;
            seen = true;
        }
    }
    return seen;
}

void hub_watch_room(struct hub *h, struct hub_room *r)
{
    bool has_waiting = false;

    if (r->closing || !r->linked)
        return;
    if (h->nwatchers > 0) {
        json_t *entry = room_entry(h, r);
        if (entry && sigmsg_encode(&h->out, "room", "O", entry) == 0 && push(h, r))
            mark_notified(r);
        json_decref(entry);
    }
    for (const struct hub_peer *p = r->peers; p && !has_waiting; p = p->next)
        has_waiting = p->state == HUB_WAITING;
    /* Places change only where someone waits, or waited until this change. */
    if (has_waiting || r->had_waiting)
        requeue(h, r->owner, r->team);
    r->had_waiting = has_waiting;
}

void hub_watch_gone(struct hub *h, struct hub_room *r)
{
    if (h->nwatchers > 0 && sigmsg_encode(&h->out, "room-gone", "{s:s}", "id", r->id) == 0)
        push(h, r);
}

void hub_watch_requeue_after(struct hub *h, const struct hub_room *gone)
{
    if (gone->had_waiting)
        requeue(h, gone->owner, gone->team);
}
