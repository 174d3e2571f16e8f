/* Per-IP limits: new connections a minute (token buckets) and open connections (counters), each in
 * a fixed table indexed by a seeded hash. */
#include <errno.h>
#include <string.h>

#include "vc/random.h"
#include "signald.h"

int signald_iplimit_init(struct signald_iplimit *l, unsigned per_min)
{
    int r;

    memset(l, 0, sizeof(*l));
    /* A secret seed, so nobody can pick addresses that share a victim's bucket. */
    if ((r = random_bytes(l->seed, sizeof(l->seed))) < 0)
        return r;
    l->burst = per_min;
    l->per_ms = per_min / 60000.0;
    return 0;
}

static uint64_t iplimit_hash(const uint64_t seed[2], const char *ip, size_t len)
{
    uint64_t h = seed[0] ^ 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)ip[i];
        h *= 0x100000001b3ULL;
        h ^= h >> 29;
    }
    h ^= seed[1];
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

bool signald_iplimit_take(struct signald_iplimit *l, const char *ip, size_t len, uint64_t now_ms)
{
    struct signald_iplimit_slot *s =
        &l->slot[iplimit_hash(l->seed, ip, len) % SIGNALD_IPLIMIT_SLOTS];

    if (s->last_ms == 0) {
        s->tokens = l->burst;
    } else if (now_ms > s->last_ms) {
        s->tokens += (double)(now_ms - s->last_ms) * l->per_ms;
        if (s->tokens > l->burst)
            s->tokens = l->burst;
    }
    s->last_ms = now_ms ? now_ms : 1;
    if (s->tokens < 1.0)
        return false;
    s->tokens -= 1.0;
    return true;
}

int signald_ipcount_init(struct signald_ipcount *c)
{
    memset(c, 0, sizeof(*c));
    return random_bytes(c->seed, sizeof(c->seed));
}

uint32_t *signald_ipcount_slot(struct signald_ipcount *c, const char *ip, size_t len)
{
    return &c->count[iplimit_hash(c->seed, ip, len) % SIGNALD_IPCOUNT_SLOTS];
}
