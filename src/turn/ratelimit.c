/* Per-source rate limit for unauthenticated STUN traffic: a fixed table of hashed token buckets. */
#include "turn_int.h"

/* The table never grows: sources that collide share a bucket, so a flood of spoofed addresses
 * costs memory only once. Burst is two seconds' worth. */
bool turn_rate_allow(struct turn_worker *w, const union vc_addr *ip)
{
    union vc_addr key = *ip;
    unsigned rate = w->cur->set.unauth_rate;

    if (rate == 0)
        return true;
    addr_set_port(&key, 0);
    struct turn_rate_bucket *b = &w->rate[addr_hash(&key) & (TURN_RATE_BUCKETS - 1)];
    uint32_t now = (uint32_t)w->now_ms;
    uint64_t burst = (uint64_t)rate * 2000;
    uint64_t tokens = b->tokens_milli + (uint64_t)(uint32_t)(now - b->last_ms) * rate;

    if (b->last_ms == 0 && b->tokens_milli == 0)
        tokens = burst;
    if (tokens > burst)
        tokens = burst;
    b->last_ms = now ? now : 1;
    if (tokens < 1000) {
        b->tokens_milli = (uint32_t)tokens;
        return false;
    }
    b->tokens_milli = (uint32_t)(tokens - 1000);
    return true;
}
