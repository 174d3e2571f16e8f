/* TURN allocations: the worker's pool, 5-tuple table, permissions, channels, budgets, expiry. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vc/log.h"
#include "vc/random.h"
#include "turn_int.h"

struct turn_worker *turn_worker_new(struct turn_server *s, unsigned index,
                                    const struct turn_io_ops *ops, void *ctx)
{
    struct turn_worker *w = calloc(1, sizeof(*w));
    size_t nb = 16;

    if (!w)
        return NULL;
    w->srv = s;
    w->ops = ops;
    w->ctx = ctx;
    w->index = index;
    w->cur = __atomic_load_n(&s->live, __ATOMIC_SEQ_CST);
    /* Every worker can hold the whole server's cap (SO_REUSEPORT need not spread clients
     * evenly); untouched pool pages cost no memory. The total is enforced separately. */
    w->capacity = s->set.max_allocations ? s->set.max_allocations : 1;
    w->pool = calloc(w->capacity, sizeof(*w->pool));
    while (nb < w->capacity)
        nb <<= 1;
    w->buckets = calloc(nb, sizeof(*w->buckets));
    w->bucket_mask = nb - 1;
    if (!w->pool || !w->buckets || random_bytes(&w->prng, sizeof(w->prng)) < 0 ||
        turn_auth_worker_init(w) < 0) {
        turn_auth_worker_free(w);
        free(w->pool);
        free(w->buckets);
        free(w);
        return NULL;
    }
    w->prng |= 1;
    for (size_t i = w->capacity; i-- > 0;) {
        w->pool[i].relay_fd = -1;
        w->pool[i].next = w->free_list;
        w->free_list = &w->pool[i];
    }
    return w;
}

void turn_worker_free(struct turn_worker *w)
{
    if (!w)
        return;
    while (w->live)
        turn_alloc_free(w, w->live, "shutdown");
    turn_resv_sweep(w, true);
    turn_auth_worker_free(w);
    free(w->pool);
    free(w->buckets);
    free(w);
}

void *turn_worker_ctx(const struct turn_worker *w)
{
    return w->ctx;
}

const struct turn_stats *turn_worker_stats(const struct turn_worker *w)
{
    return &w->stats;
}

struct turn_stats *turn_worker_stats_mut(struct turn_worker *w)
{
    return &w->stats;
}

void turn_worker_set_clock(struct turn_worker *w, uint64_t mono_ms, int64_t unix_s)
{
    w->now_ms = mono_ms;
    w->now_unix = unix_s;
    /* The quiescent point: nothing from the previous generation is used after this load. */
    const struct turn_live *cur = __atomic_load_n(&w->srv->live, __ATOMIC_SEQ_CST);
    if (cur != w->cur) {
        bool cap_changed = cur->set.bps != w->cur->set.bps;

        turn_auth_forget_keys(w); /* a rotated secret's keys go with it */
        w->cur = cur;
        if (cap_changed)
            turn_fast_resync(w); /* the kernel's copy of the cap */
    }
}

uint64_t turn_worker_random(struct turn_worker *w)
{
    /* xorshift64*: only for indication transaction ids, which need not be secret. */
    w->prng ^= w->prng >> 12;
    w->prng ^= w->prng << 25;
    w->prng ^= w->prng >> 27;
    return w->prng * 0x2545F4914F6CDD1DULL;
}

static size_t tuple_bucket(const struct turn_worker *w, const struct turn_client *c)
{
    uint32_t h = addr_hash(&c->remote) * 31u + addr_hash(&c->local) + (uint32_t)c->transport;

    return h & w->bucket_mask;
}

static bool same_tuple(const struct turn_client *a, const struct turn_client *b)
{
    return a->transport == b->transport && addr_equal(&a->remote, &b->remote) &&
           addr_equal(&a->local, &b->local);
}

struct turn_alloc *turn_alloc_find(struct turn_worker *w, const struct turn_client *c)
{
    struct turn_alloc *a = w->buckets[tuple_bucket(w, c)];

    while (a && !same_tuple(&a->client, c))
        a = a->hash_next;
    return a;
}

/* A zeroed allocation for c, linked into the table and the live list; NULL if the pool is
 * empty. The caller fills in the relay and the lifetime. */
struct turn_alloc *turn_alloc_new(struct turn_worker *w, const struct turn_client *c)
{
    struct turn_alloc *a = w->free_list;

    if (!a)
        return NULL;
    w->free_list = a->next;
    memset(a, 0, sizeof(*a));
    a->relay_fd = -1;
    a->fast_slot = -1;
    a->client = *c;
    a->created_ms = w->now_ms;
    a->id = turn_worker_random(w);
    size_t bucket = tuple_bucket(w, c);
    a->hash_next = w->buckets[bucket];
    w->buckets[bucket] = a;
    a->next = w->live;
    if (w->live)
        w->live->prev = a;
    w->live = a;
    return a;
}

/* Takes a out of the table and the live list. */
static void alloc_unlink(struct turn_worker *w, struct turn_alloc *a)
{
    struct turn_alloc **pp = &w->buckets[tuple_bucket(w, &a->client)];

    while (*pp && *pp != a)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = a->hash_next;
    if (a->prev)
        a->prev->next = a->next;
    else
        w->live = a->next;
    if (a->next)
        a->next->prev = a->prev;
}

/* Unlinks and returns a to the pool, closing its relay socket, giving back its quota, and
 * logging turn.free if it had been announced by turn.alloc (relay_fd >= 0). */
void turn_alloc_free(struct turn_worker *w, struct turn_alloc *a, const char *why)
{
    alloc_unlink(w, a);
    if (a->relay_fd >= 0) {
        turn_fast_free(w, a);
        w->ops->relay_close(w, a->relay_fd);
        turn_uncharge(w->srv, turn_user_quota_key(a->user_digest), 1);
        TURN_STAT_ADD(w, allocations, -1);
        if (w->srv->set.log) {
            char alloc_id[17];
            snprintf(alloc_id, sizeof(alloc_id), "%016" PRIx64, a->id);
            event_log_write(
                w->srv->set.log, "turn.free", "{s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "alloc", alloc_id,
                "reason", why, "duration_ms", (json_int_t)(w->now_ms - a->created_ms),
                "packets_to_peer", (json_int_t)a->packets_to_peer, "packets_to_client",
                (json_int_t)a->packets_to_client, "bytes_to_peer", (json_int_t)a->bytes_to_peer,
                "bytes_to_client", (json_int_t)a->bytes_to_client);
        }
    }
    a->relay_fd = -1;
    a->prev = NULL;
    a->next = w->free_list;
    w->free_list = a;
}

bool turn_worker_serves(struct turn_worker *w, const struct turn_client *c)
{
    return turn_alloc_find(w, c) != NULL;
}

const struct turn_client *turn_alloc_client(const struct turn_alloc *a)
{
    return &a->client;
}

uint16_t turn_alloc_relay_port(const struct turn_alloc *a)
{
    return addr_port(&a->relay);
}

struct turn_alloc *turn_worker_detach(struct turn_worker *w, struct turn_alloc *a)
{
    struct turn_alloc *copy = malloc(sizeof(*copy));

    if (!copy)
        return NULL;
    alloc_unlink(w, a);
    *copy = *a;
    TURN_STAT_ADD(w, allocations, -1);
    a->relay_fd = -1;
    a->prev = NULL;
    a->next = w->free_list;
    w->free_list = a;
    return copy;
}

struct turn_alloc *turn_worker_attach(struct turn_worker *w, struct turn_alloc *moved,
                                      int client_fd)
{
    struct turn_alloc *a = w->free_list;

    /* Every pool holds the whole server's cap, so a live allocation always finds a slot; if
     * not, it ends here, and the caller closes its relay socket. */
    if (!a) {
        turn_uncharge(w->srv, turn_user_quota_key(moved->user_digest), 1);
        free(moved);
        return NULL;
    }
    w->free_list = a->next;
    *a = *moved;
    free(moved);
    a->client.fd = client_fd;
    size_t bucket = tuple_bucket(w, &a->client);
    a->hash_next = w->buckets[bucket];
    w->buckets[bucket] = a;
    a->prev = NULL;
    a->next = w->live;
    if (w->live)
        w->live->prev = a;
    w->live = a;
    TURN_STAT_ADD(w, allocations, 1);
    TURN_STAT_ADD(w, allocations_moved, 1);
    return a;
}

struct turn_perm *turn_perm_find(struct turn_alloc *a, const union vc_addr *ip, uint64_t now)
{
    for (unsigned i = 0; i < a->nperms; i++) {
        struct turn_perm *p = &a->perms[i];
        if (p->expires_ms > now && addr_equal_ip(&p->ip, ip))
            return p;
    }
    return NULL;
}

/* Installs or refreshes the permission for ip (its port is ignored). -ENOSPC when full. */
int turn_perm_install(struct turn_alloc *a, const union vc_addr *ip, uint64_t now)
{
    struct turn_perm *slot = NULL;

    for (unsigned i = 0; i < a->nperms; i++) {
        if (addr_equal_ip(&a->perms[i].ip, ip)) {
            slot = &a->perms[i];
            break;
        }
        if (!slot && a->perms[i].expires_ms <= now)
            slot = &a->perms[i];
    }
    if (!slot) {
        if (a->nperms == TURN_MAX_PERMS)
            return -ENOSPC;
        slot = &a->perms[a->nperms++];
    }
    slot->ip = *ip;
    addr_set_port(&slot->ip, 0);
    slot->expires_ms = now + TURN_PERM_LIFETIME_MS;
    return 0;
}

struct turn_channel *turn_chan_by_number(struct turn_alloc *a, uint16_t number, uint64_t now)
{
    for (unsigned i = 0; i < a->nchans; i++)
        if (a->chans[i].number == number && a->chans[i].expires_ms > now)
            return &a->chans[i];
    return NULL;
}

struct turn_channel *turn_chan_by_peer(struct turn_alloc *a, const union vc_addr *peer,
                                       uint64_t now)
{
    for (unsigned i = 0; i < a->nchans; i++)
        if (a->chans[i].expires_ms > now && addr_equal(&a->chans[i].peer, peer))
            return &a->chans[i];
    return NULL;
}

/* Binds or refreshes number <-> peer. -EEXIST if either is bound (or still quarantined) to
 * something else, -ENOSPC when the table is full. */
int turn_chan_bind(struct turn_worker *w, struct turn_alloc *a, uint16_t number,
                   const union vc_addr *peer, uint64_t now)
{
    struct turn_channel *slot = NULL, *free_slot = NULL;

    for (unsigned i = 0; i < a->nchans; i++) {
        struct turn_channel *ch = &a->chans[i];
        bool reserved = ch->expires_ms + TURN_CHANNEL_QUARANTINE_MS > now;
        bool same_number = ch->number == number, same_peer = addr_equal(&ch->peer, peer);
        if (same_number && same_peer) {
            slot = ch;
            break;
        }
        if (reserved && (same_number || same_peer))
            return -EEXIST;
        if (!reserved && !free_slot)
            free_slot = ch;
    }
    if (!slot)
        slot = free_slot;
    if (!slot) {
        if (a->nchans == TURN_MAX_CHANNELS)
            return -ENOSPC;
        slot = &a->chans[a->nchans++];
    } else if (slot->number != number || !addr_equal(&slot->peer, peer)) {
        turn_fast_unbind(w, a, slot); /* a quarantined binding's slot, reused */
    }
    slot->number = number;
    slot->peer = *peer;
    slot->expires_ms = now + TURN_CHANNEL_LIFETIME_MS;
    return 0;
}

bool turn_alloc_charge(struct turn_worker *w, struct turn_alloc *a, size_t len)
{
    uint64_t rate = w->cur->set.bps / 8; /* bytes per second; one second of burst */
    uint64_t *tat = a->bw_shared ? a->bw_shared : &a->bw_tat;
    uint64_t now = w->now_ms * 1000000, seen, base, cost;

    if (rate == 0)
        return true;
    cost = (uint64_t)len * 1000000000 / rate;
    seen = __atomic_load_n(tat, __ATOMIC_RELAXED);
    /* The kernel charges a shared word too: a few tries at the swap, as it makes. */
    for (int i = 0; i < 4; i++) {
        base = seen > now ? seen : now;
        if (base + cost > now + TURN_BURST_NS)
            break;
        if (__atomic_compare_exchange_n(tat, &seen, base + cost, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return true;
    }
    TURN_STAT_ADD(w, bandwidth_dropped, 1);
    return false;
}

void turn_worker_tick(struct turn_worker *w)
{
    struct turn_alloc *a = w->live, *next;

    w->last_tick_ms = w->now_ms;
    turn_resv_sweep(w, false);
    for (; a; a = next) {
        next = a->next;
        if (a->expires_ms <= w->now_ms) {
            turn_alloc_free(w, a, "expired");
            continue;
        }
        /* Drop expired permissions and long-quarantined channels from the ends of the tables. */
        while (a->nperms && a->perms[a->nperms - 1].expires_ms <= w->now_ms)
            a->nperms--;
        while (a->nchans &&
               a->chans[a->nchans - 1].expires_ms + TURN_CHANNEL_QUARANTINE_MS <= w->now_ms)
            turn_fast_unbind(w, a, &a->chans[--a->nchans]);
    }
}

void turn_worker_stream_closed(struct turn_worker *w, const struct turn_client *c)
{
    struct turn_alloc *a = turn_alloc_find(w, c);

    if (a)
        turn_alloc_free(w, a, "closed");
}
