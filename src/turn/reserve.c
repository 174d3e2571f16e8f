/* EVEN-PORT R=1 port reservations (RFC 8656 7.2): a fixed server-wide table of 64-bit tokens. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vc/random.h"
#include "turn_int.h"

int turn_resv_init(struct turn_server *s)
{
    struct turn_reservations *r = &s->resv;
    unsigned span = s->set.port_max >= s->set.port_min ? s->set.port_max - s->set.port_min + 1u : 1;
    unsigned cap = span / 4;

    /* Held ports are taken from the relay range: at most a quarter of it. Each reservation is
     * charged as an allocation too, so more than max_allocations could never be used. */
    if (cap > s->set.max_allocations)
        cap = s->set.max_allocations;
    r->cap = cap < 1 ? 1 : cap < TURN_RESERVATIONS_MAX ? cap : TURN_RESERVATIONS_MAX;
    r->slots = calloc(r->cap, sizeof(*r->slots));
    if (!r->slots)
        return -ENOMEM;
    pthread_mutex_init(&r->lock, NULL);
    return 0;
}

void turn_resv_free(struct turn_server *s)
{
    if (!s->resv.slots)
        return;
    pthread_mutex_destroy(&s->resv.lock);
    free(s->resv.slots);
    s->resv.slots = NULL;
}

bool turn_resv_full(const struct turn_server *s)
{
    return __atomic_load_n(&s->resv.live, __ATOMIC_RELAXED) >= s->resv.cap;
}

/* The first free slot for a new token t, or NULL (table full, or t already in use: *dup). */
static struct turn_reservation *resv_free_slot(struct turn_reservations *r, uint64_t t, bool *dup)
{
    struct turn_reservation *slot = NULL;

    *dup = false;
    for (unsigned i = 0; i < r->cap; i++) {
        if (r->slots[i].token == t) {
            *dup = true;
            return NULL;
        }
        if (!slot && r->slots[i].token == 0)
            slot = &r->slots[i];
    }
    return slot;
}

int turn_resv_add(struct turn_worker *w, int handle, const union vc_addr *relay,
                  const uint8_t digest[TURN_USER_DIGEST_LEN], uint64_t *token)
{
    struct turn_reservations *r = &w->srv->resv;
    struct turn_reservation *slot = NULL;
    bool dup = true;
    uint64_t t = 0;

    /* A token already in use (a 2^-64 chance) is drawn again rather than shared. */
    for (unsigned tries = 0; dup && tries < 4; tries++) {
        if (random_bytes(&t, sizeof(t)) < 0 || t == 0)
            continue;
        pthread_mutex_lock(&r->lock);
        slot = resv_free_slot(r, t, &dup);
        if (slot) {
            slot->token = t;
            slot->expires_ms = w->now_ms + TURN_RESERVATION_MS;
            memcpy(slot->user_digest, digest, TURN_USER_DIGEST_LEN);
            slot->relay = *relay;
            slot->handle = handle;
            slot->worker = w->index;
            __atomic_add_fetch(&r->live, 1, __ATOMIC_RELAXED);
        }
        pthread_mutex_unlock(&r->lock);
    }
    if (!slot)
        return dup ? -EIO : -ENOSPC;
    TURN_STAT_ADD(w, reservations, 1);
    TURN_STAT_ADD(w, reservations_total, 1);
    *token = t;
    return 0;
}

int turn_resv_take(struct turn_worker *w, uint64_t token,
                   const uint8_t digest[TURN_USER_DIGEST_LEN], struct turn_reservation *out)
{
    struct turn_reservations *r = &w->srv->resv;
    int rc = -ENOENT;

    pthread_mutex_lock(&r->lock);
    for (unsigned i = 0; i < r->cap && token; i++) {
        struct turn_reservation *slot = &r->slots[i];

        if (slot->token != token)
            continue;
        /* An expired one waits for the sweep; another credential's stays for its owner. */
        if (slot->expires_ms > w->now_ms &&
            memcmp(slot->user_digest, digest, TURN_USER_DIGEST_LEN) == 0) {
            *out = *slot;
            memset(slot, 0, sizeof(*slot));
            __atomic_sub_fetch(&r->live, 1, __ATOMIC_RELAXED);
            rc = 0;
        }
        break;
    }
    pthread_mutex_unlock(&r->lock);
    if (rc < 0) {
        TURN_STAT_ADD(w, reservation_tokens_rejected, 1);
        return rc;
    }
    TURN_STAT_ADD(w, reservations, -1);
    TURN_STAT_ADD(w, reservations_redeemed, 1);
    return 0;
}

/* Moves up to n reservations that are done (expired, or at shutdown w's own) out of the table
 * into out, scanning from *next on; returns how many. */
static unsigned resv_collect(struct turn_worker *w, bool shutdown, unsigned *next,
                             struct turn_reservation *out, unsigned n)
{
    struct turn_reservations *r = &w->srv->resv;
    unsigned got = 0;

    pthread_mutex_lock(&r->lock);
    for (; *next < r->cap && got < n; (*next)++) {
        struct turn_reservation *slot = &r->slots[*next];

        if (slot->token == 0 ||
            (shutdown ? slot->worker != w->index : slot->expires_ms > w->now_ms))
            continue;
        out[got++] = *slot;
        memset(slot, 0, sizeof(*slot));
        __atomic_sub_fetch(&r->live, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&r->lock);
    return got;
}

void turn_resv_sweep(struct turn_worker *w, bool shutdown)
{
    struct turn_reservation gone[16];
    unsigned next = 0, n;

    if (__atomic_load_n(&w->srv->resv.live, __ATOMIC_RELAXED) == 0)
        return;
    do {
        n = resv_collect(w, shutdown, &next, gone, sizeof(gone) / sizeof(gone[0]));
        /* Outside the lock: nobody else can reach these sockets or charges any more. */
        for (unsigned i = 0; i < n; i++) {
            w->ops->reserved_close(w, gone[i].handle);
            turn_uncharge(w->srv, turn_user_quota_key(gone[i].user_digest), 1);
            TURN_STAT_ADD(w, reservations, -1);
            if (!shutdown)
                TURN_STAT_ADD(w, reservations_expired, 1);
        }
    } while (next < w->srv->resv.cap);
}
