/* Rooms of the signalling core: creation with CSPRNG tokens, lookup, listing, expiry, ending. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vc/log.h"
#include "vc/random.h"
#include "hub_int.h"

/* How many live rooms each owner has, so that room creation checks max_rooms_per_owner without
 * walking every room: a chained hash table of per-owner records, a record freed with its
 * owner's last room. Owners are authenticated identities ("key", "user:HASH"), so the unkeyed
 * hash cannot be flooded by strangers. */
#define ROOM_OWNERS_MIN_BUCKETS 16

struct room_owner {
    struct room_owner *next;
    size_t rooms;
    char name[HUB_OWNER_MAX + 1];
};

static struct room_owners *room_owners_of(struct hub *h)
{
    return &h->owners;
}

static struct room_owner **room_owner_slot(struct room_owners *o, const char *name)
{
    struct room_owner **pp = &o->buckets[hub_name_hash(name) & (o->nbuckets - 1)];

    while (*pp && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* The owner's live rooms (0 for an owner without any). */
static size_t room_owner_rooms(struct room_owners *o, const char *name)
{
    struct room_owner *rec = o->nbuckets ? *room_owner_slot(o, name) : NULL;

    return rec ? rec->rooms : 0;
}

/* Doubles the table (or creates it). -ENOMEM leaves it as it was. */
static int room_owners_grow(struct room_owners *o)
{
    size_t n = o->nbuckets ? o->nbuckets * 2 : ROOM_OWNERS_MIN_BUCKETS;
    struct room_owner **b = calloc(n, sizeof(*b));

    if (!b)
        return -ENOMEM;
    for (size_t i = 0; i < o->nbuckets; i++) {
        for (struct room_owner *rec = o->buckets[i], *next; rec; rec = next) {
            next = rec->next;
            size_t k = hub_name_hash(rec->name) & (n - 1);
            rec->next = b[k];
            b[k] = rec;
        }
    }
    free(o->buckets);
    o->buckets = b;
    o->nbuckets = n;
    return 0;
}

/* Counts one more room for name (at most HUB_OWNER_MAX bytes). 0 or -ENOMEM. */
static int room_owner_add(struct room_owners *o, const char *name)
{
    if (o->count >= o->nbuckets && room_owners_grow(o) < 0 && o->nbuckets == 0)
        return -ENOMEM; /* a full table that cannot grow still works, with longer chains */
    struct room_owner **pp = room_owner_slot(o, name);
    if (!*pp) {
        struct room_owner *rec = calloc(1, sizeof(*rec));
        if (!rec)
            return -ENOMEM;
        memcpy(rec->name, name, strlen(name) + 1);
        *pp = rec;
        o->count++;
    }
    (*pp)->rooms++;
    return 0;
}

/* Counts one room less for name, freeing its record with its last room. */
static void room_owner_remove(struct room_owners *o, const char *name)
{
    struct room_owner **pp = o->nbuckets ? room_owner_slot(o, name) : NULL;
    struct room_owner *rec = pp ? *pp : NULL;

    if (!rec)
        return;
    if (--rec->rooms == 0) {
        *pp = rec->next;
        free(rec);
        o->count--;
    }
}

struct hub *hub_new(const struct hub_settings *settings, const struct hub_io_ops *ops, void *ctx)
{
    struct hub *h = calloc(1, sizeof(*h));

    if (!h)
        return NULL;
    h->set = *settings;
    h->ops = ops;
    h->ctx = ctx;
    sigmsg_buf_init(&h->out, SIGMSG_MAX_FRAME + 1024);
    return h;
}

void hub_free(struct hub *h)
{
    if (!h)
        return;
    h->stopping = true;
    while (h->sessions)
        hub_session_closed(h, h->sessions);
    while (h->rooms)
        hub_room_destroy(h, h->rooms, "shutdown");
    sigmsg_buf_free(&h->out);
    hub_feed_free(&h->feed);
    free(room_owners_of(h)->buckets); /* every record went with its owner's last room */
    room_index_free(&h->index);
    free(h);
}

void hub_set_settings(struct hub *h, const struct hub_settings *settings)
{
    struct turnpool *pool = h->set.pool;

    h->set = *settings;
    h->set.pool = pool; /* peers hold counts on the first one: it is not reloadable */
}

void hub_set_draining(struct hub *h, bool draining)
{
    h->draining = draining;
}

bool hub_draining(const struct hub *h)
{
    return h->draining;
}

void hub_set_clock(struct hub *h, uint64_t mono_ms, int64_t unix_ms)
{
    h->mono_ms = mono_ms;
    h->unix_ms = unix_ms;
}

const struct hub_stats *hub_get_stats(const struct hub *h)
{
    return &h->stats;
}

size_t hub_room_count(const struct hub *h)
{
    return h->nrooms;
}

size_t hub_session_count(const struct hub *h)
{
    return h->nsessions;
}

bool hub_room_expired(const struct hub *h, const struct hub_room *r)
{
    return h->unix_ms >= r->expires_ms;
}

unsigned hub_room_participants(const struct hub_room *r)
{
    unsigned n = 0;

    for (const struct hub_peer *p = r->peers; p; p = p->next)
        n += p->state != HUB_WAITING;
    return n;
}

static unsigned room_waiting(const struct hub_room *r)
{
    unsigned n = 0;

    for (const struct hub_peer *p = r->peers; p; p = p->next)
        n += p->state == HUB_WAITING;
    return n;
}

/* Fills out but its tokens, which only hub_room_create() knows. */
void hub_room_info_of(const struct hub_room *r, struct hub_room_info *out)
{
    memcpy(out->id, r->id, sizeof(out->id));
    out->created_ms = r->created_ms;
    out->expires_ms = r->expires_ms;
    out->capacity = r->capacity;
    out->participants = hub_room_participants(r);
    out->waiting = room_waiting(r);
    out->lobby = r->lobby;
    out->relay_only = r->relay_only;
    memcpy(out->region, r->region, sizeof(out->region));
    memcpy(out->label, r->label, sizeof(out->label));
    memcpy(out->team, r->team, sizeof(out->team));
    memcpy(out->language, r->language, sizeof(out->language));
}

#define ROOM_LETTERS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

bool hub_language_ok(const char *tag)
{
    size_t first;

    if (!tag || strlen(tag) > HUB_LANGUAGE_MAX)
        return false;
    first = strspn(tag, ROOM_LETTERS);
    if (first < 2 || first > 3)
        return false;
    for (const char *p = tag + first; *p;) {
        size_t sub = p[0] == '-' ? strspn(p + 1, ROOM_LETTERS "0123456789") : 0;

        if (sub < 1 || sub > 8)
            return false;
        p += 1 + sub;
    }
    return true;
}

/* The room's region: the one asked for, else the default; "" without a pool. -EINVAL for a
 * region the pool does not have. */
static int room_region(const struct hub *h, const struct hub_room_opts *opts,
                       char out[HUB_REGION_MAX + 1])
{
    const char *want = opts->region && opts->region[0] ? opts->region : h->set.default_region;

    out[0] = '\0';
    if (!h->set.pool)
        return opts->region && opts->region[0] ? -EINVAL : 0;
    if (!want || strlen(want) > HUB_REGION_MAX || !turnpool_has_region(h->set.pool, want))
        return -EINVAL;
    memcpy(out, want, strlen(want) + 1);
    return 0;
}

/* The label, team and owner a new room starts with; the owner is its first assignee. */
static void room_set_people(struct hub_room *r, const char *owner, const struct hub_room_opts *o)
{
    if (o->label)
        memcpy(r->label, o->label, strlen(o->label) + 1);
    if (o->team)
        memcpy(r->team, o->team, strlen(o->team) + 1);
    if (strncmp(owner, "user:", 5) == 0) {
        memcpy(r->owner_who.id, owner, strlen(owner) + 1);
        snprintf(r->owner_who.name, sizeof(r->owner_who.name), "%s",
                 o->owner_name ? o->owner_name : "");
        r->assignee = r->owner_who;
    }
}

/* Records a new room in the shared registry, if there is one, against cluster-wide limits. */
static int room_register(struct hub *h, const struct hub_room *r)
{
    struct hub_room_record rec;

    if (!h->reg)
        return 0;
    hub_room_record_of(r, &rec);
    return h->reg->create(h->reg_ctx, &rec, h->set.max_rooms_per_owner, h->set.max_rooms);
}

int hub_room_link(struct hub *h, struct hub_room *r)
{
    if (room_index_add(&h->index, r) < 0)
        return -ENOMEM;
    if (room_owner_add(room_owners_of(h), r->owner) < 0) {
        room_index_remove(&h->index, r);
        return -ENOMEM;
    }
    r->prev = NULL;
    r->next = h->rooms;
    if (h->rooms)
        h->rooms->prev = r;
    h->rooms = r;
    h->nrooms++;
    r->linked = true;
    return 0;
}

int hub_room_create(struct hub *h, const char *owner, const struct hub_room_opts *opts,
                    struct hub_room_info *out)
{
    char region[HUB_REGION_MAX + 1];
    struct room_owners *owners = room_owners_of(h);

    if (!owner || strlen(owner) > HUB_OWNER_MAX || opts->ttl < 1 || opts->ttl > 86400 ||
        opts->capacity < 2 || opts->capacity > 8 || room_region(h, opts, region) < 0 ||
        (opts->label && strlen(opts->label) > HUB_LABEL_MAX_BYTES) ||
        (opts->team && strlen(opts->team) > HUB_TEAM_MAX) ||
        (opts->owner_name && strlen(opts->owner_name) > HUB_NAME_MAX) ||
        (opts->language && opts->language[0] && !hub_language_ok(opts->language)))
        return -EINVAL;
    if (h->draining)
        return -ESHUTDOWN;
    if (room_owner_rooms(owners, owner) >= h->set.max_rooms_per_owner)
        return -EDQUOT;
    if (h->nrooms >= h->set.max_rooms)
        return -ENOSPC;
    struct hub_room *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    memset(out, 0, sizeof(*out));
    if (random_token_hex(r->id, sizeof(r->id), HUB_ROOM_ID_LEN / 2) < 0 ||
        random_token_hex(out->host_token, sizeof(out->host_token), HUB_TOKEN_LEN / 2) < 0 ||
        random_token_hex(out->guest_token, sizeof(out->guest_token), HUB_TOKEN_LEN / 2) < 0) {
        free(r);
        return -EIO;
    }
    token_hash(out->host_token, HUB_TOKEN_LEN, r->host_hash);
    token_hash(out->guest_token, HUB_TOKEN_LEN, r->guest_hash);
    memcpy(r->owner, owner, strlen(owner) + 1);
    r->created_ms = h->unix_ms;
    r->created_mono = h->mono_ms;
    r->expires_ms = h->unix_ms + (int64_t)opts->ttl * 1000;
    r->capacity = opts->capacity;
    r->lobby = opts->lobby;
    r->relay_only = opts->relay_only;
    memcpy(r->region, region, sizeof(r->region));
    if (opts->language)
        memcpy(r->language, opts->language, strlen(opts->language) + 1);
    room_set_people(r, owner, opts);
    int rc = room_register(h, r);
    if (rc == 0)
        rc = hub_room_link(h, r);
    if (rc < 0) {
        free(r);
        return rc;
    }
    hub_watch_room(h, r);
    if (h->set.log)
        event_log_write(h->set.log, "room.created", "{s:s,s:s,s:i,s:b,s:b,s:i}", "room", r->id,
                        "owner", r->owner, "capacity", (int)r->capacity, "lobby", r->lobby,
                        "relay_only", r->relay_only, "ttl_s", (int)opts->ttl);
    hub_room_info_of(r, out);
    return 0;
}

struct hub_room *hub_room_by_id(struct hub *h, const char *id)
{
    return room_index_by_id(&h->index, id);
}

bool hub_room_held(struct hub *h, const char *id)
{
    return hub_room_by_id(h, id) != NULL;
}

static struct hub_room *room_by_id(struct hub *h, const char *owner, const char *id)
{
    struct hub_room *r = hub_room_by_id(h, id);

    return r && strcmp(r->owner, owner) == 0 ? r : NULL;
}

int hub_room_get(struct hub *h, const char *owner, const char *id, struct hub_room_info *out)
{
    struct hub_room *r = room_by_id(h, owner, id);

    if (!r)
        return h->reg ? h->reg->get(h->reg_ctx, owner, id, out) : -ENOENT;
    memset(out, 0, sizeof(*out));
    hub_room_info_of(r, out);
    return 0;
}

int hub_room_end(struct hub *h, const char *owner, const char *id)
{
    struct hub_room *r = room_by_id(h, owner, id);

    if (!r)
        return h->reg ? h->reg->end(h->reg_ctx, owner, id) : -ENOENT;
    hub_room_destroy(h, r, "ended");
    return 0;
}

int hub_room_list(struct hub *h, const char *owner, struct hub_room_info *out, size_t max)
{
    size_t n = 0;

    if (h->reg)
        return h->reg->list(h->reg_ctx, owner, out, max);

    for (struct hub_room *r = h->rooms; r && n < max; r = r->next)
        if (strcmp(r->owner, owner) == 0) {
            memset(&out[n], 0, sizeof(out[n]));
            hub_room_info_of(r, &out[n++]);
        }
    return (int)n;
}

int hub_link_get(struct hub *h, const char *token, struct hub_room_info *out)
{
    enum hub_role role;
    struct hub_invite *inv;
    struct hub_room *r = hub_room_by_token(h, token, &role, &inv);

    memset(out, 0, sizeof(*out));
    if (r && !hub_room_expired(h, r)) {
        hub_room_info_of(r, out);
        return 0;
    }
    if (r || !h->reg || !h->reg->token || strlen(token) != HUB_TOKEN_LEN)
        return -ENOENT;
    return h->reg->token(h->reg_ctx, token, out);
}

/* Looked up by the token's SHA-256 hash (see roomindex.c for why that is safe from timing). */
struct hub_room *hub_room_by_token(struct hub *h, const char *token, enum hub_role *role,
                                   struct hub_invite **invite)
{
    unsigned char hash[TOKEN_HASH_LEN];

    *invite = NULL;
    if (strlen(token) != HUB_TOKEN_LEN)
        return NULL;
    token_hash(token, HUB_TOKEN_LEN, hash);
    return room_index_by_token(&h->index, hash, role, invite);
}

/* Closes every connection of the room with code, then frees its peers (logging who was in the
 * call) and unlinks the room; the caller frees it. */
void hub_room_unlink(struct hub *h, struct hub_room *r, int code, const char *why)
{
    if (r->linked && code == 1000)
        hub_watch_gone(h, r); /* a room that moved to another node lives on there */
    r->closing = true;        /* the registry hears nothing of the peers leaving one by one */
    for (struct hub_peer *p = r->peers; p; p = p->next) {
        if (p->sess) {
            hub_close(h, p->sess, code, why);
            p->sess->peer = NULL;
            p->sess = NULL;
        }
    }
    /* Nobody is connected any more, so removing the peers only logs their departure. */
    while (r->peers)
        hub_peer_remove(h, r->peers, code == 1000 ? "room_ended" : "moved");
    if (!r->linked) {
        hub_invites_free(r);
        return;
    }
    r->linked = false;
    if (r->prev)
        r->prev->next = r->next;
    else
        h->rooms = r->next;
    if (r->next)
        r->next->prev = r->prev;
    h->nrooms--;
    room_index_remove(&h->index, r);
    hub_invites_free(r);
    room_owner_remove(room_owners_of(h), r->owner);
    hub_watch_requeue_after(h, r);
}

/* Ends a room for everyone: room-ended, connections closed, peers and the room freed. */
void hub_room_destroy(struct hub *h, struct hub_room *r, const char *reason)
{
    if (sigmsg_encode(&h->out, "room-ended", "{s:s}", "reason", reason) == 0)
        hub_broadcast(h, r, NULL, HUB_TO_JOINED | HUB_TO_WAITING);
    hub_room_unlink(h, r, 1000, "room ended");
    if (h->reg && !h->stopping) {
        struct hub_room_record rec;

        hub_room_record_of(r, &rec);
        h->reg->ended(h->reg_ctx, &rec);
    }
    if (h->set.log)
        event_log_write(h->set.log, "room.ended", "{s:s,s:s,s:I}", "room", r->id, "reason", reason,
                        "duration_s", (json_int_t)((h->unix_ms - r->created_ms) / 1000));
    hub_call_log_summary(h, r);
    free(r);
}

void hub_tick(struct hub *h)
{
    struct hub_room *r = h->rooms, *next_room;

    hub_feed_expire(h);
    for (; r; r = next_room) {
        next_room = r->next;
        for (struct hub_peer *p = r->peers, *next; p; p = next) {
            next = p->next;
            bool away = p->state == HUB_AWAY || (p->state == HUB_WAITING && !p->sess);
            if (away && h->mono_ms - p->away_ms >= (uint64_t)h->set.resume_grace * 1000)
                hub_peer_remove(h, p, "timeout");
        }
        /* An expired room takes no new joins; it ends once nobody is in it, and for good
         * once the TURN credentials it handed out have run out too. */
        bool empty = hub_room_participants(r) == 0;
        if (hub_room_expired(h, r) &&
            (empty || h->unix_ms >= r->expires_ms + (int64_t)h->set.turn_margin * 1000))
            hub_room_destroy(h, r, "expired");
    }
}
