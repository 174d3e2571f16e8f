/* Login limits in this node's memory: failures per account and attempts per client IP. */
#include <string.h>

#include "vc/random.h"
#include "accounts_int.h"

#define LOGINLIMIT_FAIL_MAX 5
#define LOGINLIMIT_FAIL_WINDOW 900
#define LOGINLIMIT_IP_MAX 20
#define LOGINLIMIT_IP_WINDOW 60
#define LOGINLIMIT_KEY 16 /* bytes of an account's key compared in the failure table */

int loginlimit_init(struct loginlimit *l)
{
    return random_bytes(l->hash_key, sizeof(l->hash_key));
}

void loginlimit_account(const struct loginlimit *l, const char *email, uint8_t key[32])
{
    pwhash_sha256(key, l->hash_key, sizeof(l->hash_key), email, strlen(email));
}

static struct loginlimit_fail *loginlimit_find(struct loginlimit *l, const uint8_t key[32])
{
    for (size_t i = 0; i < LOGINLIMIT_FAIL_SLOTS; i++)
        if (l->fails[i].count && memcmp(l->fails[i].key, key, LOGINLIMIT_KEY) == 0)
            return &l->fails[i];
    return NULL;
}

bool loginlimit_locked(struct loginlimit *l, const uint8_t key[32], int64_t now_s)
{
    struct loginlimit_fail *f = loginlimit_find(l, key);

    if (!f)
        return false;
    if (now_s - f->start >= LOGINLIMIT_FAIL_WINDOW) {
        f->count = 0;
        return false;
    }
    return f->count >= LOGINLIMIT_FAIL_MAX;
}

void loginlimit_fail(struct loginlimit *l, const uint8_t key[32], int64_t now_s)
{
    struct loginlimit_fail *f = loginlimit_find(l, key), *victim = NULL;

    if (f && now_s - f->start < LOGINLIMIT_FAIL_WINDOW) {
        f->count++;
        return;
    }
    if (!f) {
        for (size_t i = 0; i < LOGINLIMIT_FAIL_SLOTS; i++) {
            struct loginlimit_fail *c = &l->fails[i];

            if (!c->count || now_s - c->start >= LOGINLIMIT_FAIL_WINDOW) {
                victim = c;
                break;
            }
            if (!victim || c->start < victim->start)
                victim = c;
        }
        f = victim;
    }
    memcpy(f->key, key, LOGINLIMIT_KEY);
    f->start = now_s;
    f->count = 1;
}

void loginlimit_reset(struct loginlimit *l, const uint8_t key[32])
{
    struct loginlimit_fail *f = loginlimit_find(l, key);

    if (f)
        f->count = 0;
}

bool loginlimit_ip(struct loginlimit *l, const char *ip, int64_t now_s)
{
    uint8_t h[32];
    struct loginlimit_ip *b;
    int64_t window = now_s / LOGINLIMIT_IP_WINDOW;

    if (!ip)
        return false; /* local tools (the CLI) have no client address */
    pwhash_sha256(h, l->hash_key, sizeof(l->hash_key), ip, strnlen(ip, 64));
    b = &l->ips[((size_t)h[0] << 8 | h[1]) % LOGINLIMIT_IP_BUCKETS];
    if (b->window != window) {
        b->window = window;
        b->count = 0;
    }
    if (b->count >= LOGINLIMIT_IP_MAX)
        return true;
    b->count++;
    return false;
}
