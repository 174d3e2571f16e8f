/* The TURN server's shared state: settings, the nonce key, the server cap and per-credential
 * quotas. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vc/policy.h"
#include "vc/random.h"
#include "turn_int.h"

/* A new generation holding a copy of set and of its secret; the policy stays set's. */
static struct turn_live *live_new(const struct turn_settings *set, const char *realm)
{
    struct turn_live *l = calloc(1, sizeof(*l));

    if (!l)
        return NULL;
    l->secret = malloc(set->secret_len ? set->secret_len : 1);
    if (!l->secret) {
        free(l);
        return NULL;
    }
    memcpy(l->secret, set->secret, set->secret_len);
    l->set = *set;
    l->set.secret = l->secret;
    l->set.realm = realm;
    return l;
}

static void live_free(struct turn_live *l)
{
    if (!l)
        return;
    memset(l->secret, 0, l->set.secret_len);
    free(l->secret);
    if (l->prev_secret)
        memset(l->prev_secret, 0, l->prev_len);
    free(l->prev_secret);
    policy_free(l->policy);
    free(l);
}

struct turn_server *turn_server_new(const struct turn_settings *settings)
{
    struct turn_server *s = calloc(1, sizeof(*s));
    size_t slots = 16;

    if (!s)
        return NULL;
    s->set = *settings;
    s->realm = strdup(settings->realm ? settings->realm : "vc");
    while (slots < 2 * (size_t)settings->max_allocations)
        slots <<= 1;
    s->quota.slots = calloc(slots, sizeof(*s->quota.slots));
    s->quota.mask = slots - 1;
    if (s->realm)
        s->live = live_new(settings, s->realm);
    if (s->live)
        s->live->generation = 1;
    if (!s->realm || !s->live || !s->quota.slots || turn_resv_init(s) < 0 ||
        random_bytes(s->nonce_key, sizeof(s->nonce_key)) < 0) {
        turn_server_free(s);
        return NULL;
    }
    s->set.realm = s->realm;
    /* The secret lives in the current generation only, so a reload can wipe the old one. */
    s->set.secret = NULL;
    s->set.secret_len = 0;
    if (s->set.workers == 0)
        s->set.workers = 1;
    s->live->set.workers = s->set.workers;
    pthread_mutex_init(&s->quota.lock, NULL);
    return s;
}

void turn_server_free(struct turn_server *s)
{
    if (!s)
        return;
    if (s->quota.slots)
        pthread_mutex_destroy(&s->quota.lock);
    turn_server_reclaim(s);
    turn_resv_free(s);
    live_free(s->live);
    free(s->quota.slots);
    free(s->realm);
    free(s);
}

const struct turn_settings *turn_server_settings(const struct turn_server *s)
{
    return &s->set;
}

/* Carries the previous secret into the new generation next (see turn_server_reload()). */
static int live_keep_previous(struct turn_live *next, const struct turn_live *cur, int64_t now_unix)
{
    const uint8_t *old = cur->secret;
    size_t old_len = cur->set.secret_len;
    int64_t until = now_unix + (int64_t)next->set.secret_grace;

    if (old_len == next->set.secret_len && memcmp(old, next->secret, old_len) == 0) {
        /* Unchanged: an earlier rotation's window runs on as it was. */
        if (!cur->prev_secret)
            return 0;
        old = cur->prev_secret;
        old_len = cur->prev_len;
        until = cur->prev_until;
    }
    if (next->set.secret_grace == 0 && old == cur->secret)
        return 0;
    next->prev_secret = malloc(old_len ? old_len : 1);
    if (!next->prev_secret)
        return -ENOMEM;
    memcpy(next->prev_secret, old, old_len);
    next->prev_len = old_len;
    next->prev_until = until;
    return 0;
}

int turn_server_reload(struct turn_server *s, const struct turn_settings *set, int64_t now_unix)
{
    struct turn_live *cur = s->live, *next;
    struct turn_settings merged = cur->set;

    if (set->max_allocations > s->set.max_allocations)
        return -EINVAL;
    merged.secret = set->secret;
    merged.secret_len = set->secret_len;
    merged.policy = set->policy;
    merged.max_allocations = set->max_allocations;
    merged.user_quota = set->user_quota;
    merged.bps = set->bps;
    merged.max_lifetime = set->max_lifetime;
    merged.unauth_rate = set->unauth_rate;
    merged.alternate_server = set->alternate_server;
    merged.secret_grace = set->secret_grace;
    next = live_new(&merged, s->realm);
    if (!next)
        return -ENOMEM;
    if (live_keep_previous(next, cur, now_unix) < 0) {
        live_free(next);
        return -ENOMEM;
    }
    next->policy = set->policy;
    next->generation = cur->generation + 1;
    __atomic_store_n(&s->live, next, __ATOMIC_SEQ_CST);
    cur->retired_next = s->retired;
    s->retired = cur;
    return 0;
}

void turn_server_reclaim(struct turn_server *s)
{
    while (s->retired) {
        struct turn_live *l = s->retired;

        s->retired = l->retired_next;
        live_free(l);
    }
}

void turn_server_set_draining(struct turn_server *s, bool on)
{
    __atomic_store_n(&s->draining, on, __ATOMIC_RELAXED);
}

bool turn_server_draining(const struct turn_server *s)
{
    return __atomic_load_n(&s->draining, __ATOMIC_RELAXED);
}

/* Linear probing; the table holds at least twice as many slots as there can be credentials
 * with a live allocation, so a probe always ends. */
static size_t quota_slot(const struct turn_quota *q, uint64_t key)
{
    size_t i = (size_t)(key ^ (key >> 29)) & q->mask;

    while (q->slots[i].key && q->slots[i].key != key)
        i = (i + 1) & q->mask;
    return i;
}

/* Takes one allocation from the credential's quota; -EDQUOT past the limit. */
int turn_quota_acquire(struct turn_server *s, uint64_t key, unsigned limit)
{
    struct turn_quota *q = &s->quota;
    int rc = 0;

    pthread_mutex_lock(&q->lock);
    size_t i = quota_slot(q, key);
    if (q->slots[i].count >= limit) {
        rc = -EDQUOT;
    } else {
        q->slots[i].key = key;
        q->slots[i].count++;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

/* Gives one back; an emptied slot is removed by shifting its probe chain back. */
void turn_quota_release(struct turn_server *s, uint64_t key)
{
    struct turn_quota *q = &s->quota;

    pthread_mutex_lock(&q->lock);
    size_t i = quota_slot(q, key);
    if (q->slots[i].key == key && --q->slots[i].count == 0) {
        size_t hole = i, j = i;
        q->slots[hole].key = 0;
        for (;;) {
            j = (j + 1) & q->mask;
            if (!q->slots[j].key)
                break;
            size_t home = (size_t)(q->slots[j].key ^ (q->slots[j].key >> 29)) & q->mask;
            /* Move j into the hole unless its home lies cyclically in (hole, j]. */
            bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
            if (!stays) {
                q->slots[hole] = q->slots[j];
                q->slots[j].key = 0;
                q->slots[j].count = 0;
                hole = j;
            }
        }
    }
    pthread_mutex_unlock(&q->lock);
}

int turn_charge(struct turn_worker *w, uint64_t key, unsigned n)
{
    const struct turn_settings *set = &w->cur->set;
    unsigned got = 0;

    if (__atomic_add_fetch(&w->srv->live_allocations, n, __ATOMIC_RELAXED) > set->max_allocations) {
        __atomic_sub_fetch(&w->srv->live_allocations, n, __ATOMIC_RELAXED);
        TURN_STAT_ADD(w, quota_rejected, 1);
        return 508;
    }
    while (got < n && turn_quota_acquire(w->srv, key, set->user_quota) == 0)
        got++;
    if (got == n)
        return 0;
    while (got-- > 0)
        turn_quota_release(w->srv, key);
    __atomic_sub_fetch(&w->srv->live_allocations, n, __ATOMIC_RELAXED);
    TURN_STAT_ADD(w, quota_rejected, 1);
    return 486;
}

void turn_uncharge(struct turn_server *s, uint64_t key, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        turn_quota_release(s, key);
    __atomic_sub_fetch(&s->live_allocations, n, __ATOMIC_RELAXED);
}
