/* Bench TURN client: REST credentials, request building and answers (shared by the loaders). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "turnc.h"

int turnc_init(struct turnc *c, const char *secret, unsigned id)
{
    int n;

    memset(c, 0, sizeof(*c));
    n = snprintf(c->user, sizeof(c->user), "%lld:bench%u-%u", (long long)time(NULL) + 3600, id,
                 (unsigned)getpid());
    if (n < 0 || (size_t)n >= sizeof(c->user))
        return -EINVAL;
    c->user_len = (size_t)n;
    n = rest_cred_password((const uint8_t *)secret, strlen(secret), c->user, c->user_len, c->pass,
                           sizeof(c->pass));
    return n < 0 ? n : 0;
}

int turnc_build(struct turnc *c, const struct turnc_req *r, uint8_t *buf, size_t cap)
{
    struct stun_builder b;

    RAND_bytes(c->txid, sizeof(c->txid));
    stun_build_init(&b, buf, cap, r->method, STUN_REQUEST, c->txid);
    if (r->transport)
        stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    if (r->lifetime >= 0)
        stun_build_u32(&b, TURN_ATTR_LIFETIME, (uint32_t)r->lifetime);
    if (r->channel)
        stun_build_u32(&b, TURN_ATTR_CHANNEL_NUMBER, (uint32_t)r->channel << 16);
    if (r->peer)
        stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, r->peer);
    if (c->nonce_len) {
        stun_build_attr(&b, STUN_ATTR_USERNAME, c->user, c->user_len);
        stun_build_attr(&b, STUN_ATTR_REALM, c->realm, c->realm_len);
        stun_build_attr(&b, STUN_ATTR_NONCE, c->nonce, c->nonce_len);
        stun_build_integrity(&b, c->key, c->keylen);
    }
    stun_build_fingerprint(&b);
    return stun_build_finish(&b);
}

int turnc_handle(struct turnc *c, const uint8_t *buf, size_t len)
{
    const struct stun_attr *a;
    struct stun_msg m;
    const char *reason;
    size_t rlen;
    int code, kl;

    if (!stun_is_message(buf, len) || stun_parse(&m, buf, len) < 0 ||
        memcmp(m.txid, c->txid, STUN_TXID_LEN) != 0)
        return -ENOENT;
    if (m.cls == STUN_SUCCESS) {
        c->retries = 0;
        a = stun_find(&m, TURN_ATTR_XOR_RELAYED_ADDRESS);
        if (a && stun_attr_xor_addr(&m, a, &c->relay) < 0)
            return -EPROTO;
        return 0;
    }
    if (m.cls != STUN_ERROR)
        return -ENOENT;
    a = stun_find(&m, STUN_ATTR_ERROR_CODE);
    if (!a || stun_attr_error(&m, a, &code, &reason, &rlen) < 0)
        return -EPROTO;
    c->last_error = code;
    if (code != 401 && code != 438) {
        if (c->quiet)
            return -EPROTO;
        fprintf(stderr, "bench: server answered %d %.*s\n", code, (int)rlen, reason);
        return -EPROTO;
    }
    /* A second challenge in a row means the credentials were refused (438 may repeat once). */
    if (++c->retries > 2) {
        if (c->quiet)
            return -EPROTO;
        fprintf(stderr, "bench: credentials refused (%d)\n", code);
        return -EPROTO;
    }
    a = stun_find(&m, STUN_ATTR_NONCE);
    if (!a || a->len > sizeof(c->nonce))
        return -EPROTO;
    memcpy(c->nonce, stun_attr_value(&m, a), a->len);
    c->nonce_len = a->len;
    a = stun_find(&m, STUN_ATTR_REALM);
    if (a && a->len <= sizeof(c->realm)) {
        memcpy(c->realm, stun_attr_value(&m, a), a->len);
        c->realm_len = a->len;
        kl = stun_long_term_key(STUN_PWALG_MD5, c->user, c->user_len, (const char *)c->realm,
                                c->realm_len, c->pass, strlen(c->pass), c->key);
        if (kl < 0)
            return -EPROTO;
        c->keylen = (size_t)kl;
    }
    return -EAGAIN;
}
