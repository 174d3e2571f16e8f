/* The waiting area's other half: entries of rooms that other nodes hold, kept for the dashboards
 * and waiting guests here, as their homes publish them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "hub_int.h"

#define FEED_MIN_BUCKETS 64

void hub_area_of(const char *owner, const char *team, char out[HUB_AREA_MAX])
{
    bool t = team && team[0];

    out[0] = t ? 't' : 'o';
    out[1] = ':';
    snprintf(out + 2, HUB_AREA_MAX - 2, "%s", t ? team : owner);
}

static struct feed_entry **feed_slot(struct hub_feed *f, const char *id)
{
    struct feed_entry **pp = &f->buckets[hub_name_hash(id) & (f->nbuckets - 1)];

    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    return pp;
}

static struct feed_entry *feed_find(struct hub_feed *f, const char *id)
{
    return f->nbuckets ? *feed_slot(f, id) : NULL;
}

static int feed_grow(struct hub_feed *f)
{
    size_t n = f->nbuckets ? f->nbuckets * 2 : FEED_MIN_BUCKETS;
    struct feed_entry **b = calloc(n, sizeof(*b));

    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < f->nbuckets; i++)
        for (struct feed_entry *e = f->buckets[i], *next; e; e = next) {
            next = e->next;
            size_t k = hub_name_hash(e->id) & (n - 1);
            e->next = b[k];
            b[k] = e;
        }
    free(f->buckets);
    f->buckets = b;
    f->nbuckets = n;
    return 0;
}

static void feed_entry_free(struct feed_entry *e)
{
    json_decref(e->entry);
    free(e->frame);
    free(e);
}

/* Unlinks and frees the entry for id, if any. */
static void feed_remove(struct hub_feed *f, const char *id)
{
    struct feed_entry **pp = f->nbuckets ? feed_slot(f, id) : NULL;

    if (pp && *pp) {
        struct feed_entry *e = *pp;
        *pp = e->next;
        f->count--;
        feed_entry_free(e);
    }
}

void hub_feed_free(struct hub_feed *f)
{
    for (size_t i = 0; i < f->nbuckets; i++)
        while (f->buckets[i]) {
            struct feed_entry *e = f->buckets[i];
            f->buckets[i] = e->next;
            feed_entry_free(e);
        }
    free(f->buckets);
    memset(f, 0, sizeof(*f));
}

/* Milliseconds since the epoch of "2026-12-07T18:30:00.123Z" (as hub_rfc3339_ms writes it). */
int64_t hub_rfc3339_parse_ms(const char *s)
{
    struct tm tm;
    int ms = 0;
    char *end;

    memset(&tm, 0, sizeof(tm));
    if (!s || !(end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
        return -1;
    if (end[0] == '.' && strlen(end) == 5 && end[4] == 'Z')
        ms = (end[1] - '0') * 100 + (end[2] - '0') * 10 + (end[3] - '0');
    return (int64_t)timegm(&tm) * 1000 + ms;
}

/* Checks a room frame from another node and fills e's keys from it. */
static bool feed_parse(struct feed_entry *e, json_t *j)
{
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *owner = json_string_value(json_object_get(json_object_get(j, "owner"), "id"));
    const char *team = json_string_value(json_object_get(j, "team"));
    const char *expires = json_string_value(json_object_get(j, "expires_at"));
    json_t *waiting = json_object_get(j, "waiting");

    if (!json_is_object(j) || !id || strlen(id) != HUB_ROOM_ID_LEN || !owner ||
        strlen(owner) > HUB_OWNER_MAX || (team && strlen(team) > HUB_TEAM_MAX) ||
        !json_is_array(waiting) ||
        strcmp(json_string_value(json_object_get(j, "type")) ?: "", "room") != 0)
        return false;
    memcpy(e->id, id, HUB_ROOM_ID_LEN + 1);
    memcpy(e->owner, owner, strlen(owner) + 1);
    memcpy(e->team, team ? team : "", team ? strlen(team) + 1 : 1);
    e->expires_ms = hub_rfc3339_parse_ms(expires);
    return e->expires_ms > 0;
}

/* True when one of e's waiting guests has not been seen by a clinician yet. */
static bool feed_unseen(const struct feed_entry *e)
{
    json_t *w;
    size_t i;

    json_array_foreach(json_object_get(e->entry, "waiting"), i, w)
    {
        if (json_is_false(json_object_get(w, "notified")))
            return true;
    }
    return false;
}

int hub_feed_put(struct hub *h, const char *home, const char *frame, size_t len)
{
    struct hub_feed *f = &h->feed;
    struct feed_entry *e = calloc(1, sizeof(*e));
    json_t *j = json_loadb(frame, len, JSON_REJECT_DUPLICATES, NULL);

    if (!e || !j || !feed_parse(e, j) || hub_room_by_id(h, e->id) || !(e->frame = malloc(len))) {
        json_decref(j);
        if (e)
            free(e->frame);
        free(e);
        return -EINVAL; /* held here: this node's own entry is the truth */
    }
    memcpy(e->frame, frame, len);
    e->len = len;
    e->entry = j;
    snprintf(e->home, sizeof(e->home), "%s", home);
    feed_remove(f, e->id);
    if ((f->count >= f->nbuckets && feed_grow(f) < 0 && f->nbuckets == 0)) {
        feed_entry_free(e);
        return -ENOMEM;
    }
    struct feed_entry **pp = feed_slot(f, e->id);
    e->next = *pp;
    *pp = e;
    f->count++;
    if (hub_watch_push_raw(h, e->owner, e->team, e->frame, e->len) && feed_unseen(e) && h->reg &&
        h->reg->seen)
        h->reg->seen(h->reg_ctx, e->home, e->id);
    hub_watch_requeue_area(h, e->owner, e->team);
    return 0;
}

void hub_feed_drop(struct hub *h, const char *id)
{
    struct feed_entry *e = feed_find(&h->feed, id);
    char owner[HUB_OWNER_MAX + 1], team[HUB_TEAM_MAX + 1];

    if (!e)
        return;
    memcpy(owner, e->owner, sizeof(owner));
    memcpy(team, e->team, sizeof(team));
    feed_remove(&h->feed, id);
    if (sigmsg_encode(&h->out, "room-gone", "{s:s}", "id", id) == 0)
        hub_watch_push_raw(h, owner, team, h->out.data, h->out.len);
    hub_watch_requeue_area(h, owner, team);
}

void hub_feed_forget_area(struct hub *h, const char *area)
{
    struct hub_feed *f = &h->feed;
    char a[HUB_AREA_MAX];

    for (size_t i = 0; i < f->nbuckets; i++)
        for (struct feed_entry **pp = &f->buckets[i]; *pp;) {
            struct feed_entry *e = *pp;
            hub_area_of(e->owner, e->team, a);
            if (strcmp(a, area) != 0) {
                pp = &e->next;
                continue;
            }
            *pp = e->next;
            f->count--;
            feed_entry_free(e);
        }
}

void hub_feed_expire(struct hub *h)
{
    struct hub_feed *f = &h->feed;

    for (size_t i = 0; i < f->nbuckets; i++)
        for (struct feed_entry **pp = &f->buckets[i]; *pp;) {
            struct feed_entry *e = *pp;
            /* A home that died takes its publications with it: the entry lasts as the room. */
            if (e->expires_ms + (int64_t)h->set.turn_margin * 1000 > h->unix_ms &&
                !hub_room_by_id(h, e->id)) {
                pp = &e->next;
                continue;
            }
            *pp = e->next;
            f->count--;
            feed_entry_free(e);
        }
}

void hub_feed_each(struct hub *h, void (*cb)(void *arg, const struct feed_entry *e), void *arg)
{
    struct hub_feed *f = &h->feed;

    for (size_t i = 0; i < f->nbuckets; i++)
        for (const struct feed_entry *e = f->buckets[i]; e; e = e->next)
            if (!hub_room_by_id(h, e->id))
                cb(arg, e);
}

void hub_room_seen(struct hub *h, const char *id)
{
    struct hub_room *r = hub_room_by_id(h, id);

    if (r)
        hub_watch_mark_seen(h, r);
}
