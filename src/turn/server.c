/* The TURN server's shared state: settings, the nonce key and per-credential allocation quotas. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vc/random.h"
#include "turn_int.h"

struct turn_server *turn_server_new(const struct turn_settings *settings)
{
    struct turn_server *s = calloc(1, sizeof(*s));
    size_t slots = 16;

    if (!s)
        return NULL;
    s->set = *settings;
    s->realm = strdup(settings->realm ? settings->realm : "vc");
    s->secret = malloc(settings->secret_len ? settings->secret_len : 1);
    while (slots < 2 * (size_t)settings->max_allocations)
        slots <<= 1;
    s->quota.slots = calloc(slots, sizeof(*s->quota.slots));
    s->quota.mask = slots - 1;
    if (!s->realm || !s->secret || !s->quota.slots ||
        random_bytes(s->nonce_key, sizeof(s->nonce_key)) < 0) {
        turn_server_free(s);
        return NULL;
    }
    memcpy(s->secret, settings->secret, settings->secret_len);
    s->set.realm = s->realm;
    s->set.secret = s->secret;
    if (s->set.workers == 0)
        s->set.workers = 1;
    pthread_mutex_init(&s->quota.lock, NULL);
    return s;
}

void turn_server_free(struct turn_server *s)
{
    if (!s)
        return;
    if (s->quota.slots)
        pthread_mutex_destroy(&s->quota.lock);
    free(s->quota.slots);
    free(s->realm);
    if (s->secret)
        memset(s->secret, 0, s->set.secret_len);
    free(s->secret);
    free(s);
}

const struct turn_settings *turn_server_settings(const struct turn_server *s)
{
    return &s->set;
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
