/* TURN long-term credentials: REST API passwords, stateless nonces bound to the client, checks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "vc/random.h"
#include "vc/rest_cred.h"
#include "turn_int.h"

/* RFC 8489 9.2: the nonce cookie, then 4 base64 characters of the 24-bit security feature set.
 * "gAAA" is bit 0 (the most significant): PASSWORD-ALGORITHMS is supported. */
#define NONCE_COOKIE "obMatJos2gAAA"
#define NONCE_COOKIE_LEN 13
/* After the cookie: base64 of 4 bytes of issue time and an 8-byte MAC. */
#define NONCE_RAW_LEN 12
#define NONCE_B64_LEN 16
#define NONCE_MAC_LEN 8

/* The MAC binds the issue time to the client's transport and IP address, not its port: the
 * many clients behind one NAT address (a hospital's, a carrier's) may share a nonce, and each
 * new 5-tuple of theirs need not spend an unauthenticated request on fetching one. A nonce
 * still works from its own address only. */
static void nonce_mac(const struct turn_worker *w, const struct turn_client *c,
                      const uint8_t when[4], uint8_t out[NONCE_MAC_LEN])
{
    uint8_t input[4 + 1 + sizeof(union vc_addr)], mac[EVP_MAX_MD_SIZE];
    socklen_t alen = addr_len(&c->remote);
    size_t n = 0;

    memcpy(input, when, 4);
    n = 4;
    input[n++] = (uint8_t)c->transport;
    /* The address field only; never the port, padding or the IPv6 scope. */
    if (c->remote.sa.sa_family == AF_INET6) {
        memcpy(input + n, &c->remote.v6.sin6_addr, 16);
        n += 16;
    } else if (alen) {
        memcpy(input + n, &c->remote.v4.sin_addr, 4);
        n += 4;
    }
    /* Re-initialising without a key restarts from the keyed state: no fetch, no key schedule. */
    size_t maclen = 0;
    if (!EVP_MAC_init(w->nonce_mac, NULL, 0, NULL) || !EVP_MAC_update(w->nonce_mac, input, n) ||
        !EVP_MAC_final(w->nonce_mac, mac, &maclen, sizeof(mac)) || maclen < NONCE_MAC_LEN) {
        /* Fail closed: a MAC nobody can match (nonce_check() then answers 438). */
        random_bytes(out, NONCE_MAC_LEN);
        return;
    }
    memcpy(out, mac, NONCE_MAC_LEN);
}

int turn_auth_worker_init(struct turn_worker *w)
{
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };

    w->nonce_mac = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    EVP_MAC_free(hmac); /* the context keeps its own reference */
    if (!w->nonce_mac ||
        !EVP_MAC_init(w->nonce_mac, w->srv->nonce_key, sizeof(w->srv->nonce_key), params)) {
        EVP_MAC_CTX_free(w->nonce_mac);
        w->nonce_mac = NULL;
        return -ENOMEM;
    }
    return 0;
}

void turn_auth_worker_free(struct turn_worker *w)
{
    EVP_MAC_CTX_free(w->nonce_mac);
    w->nonce_mac = NULL;
    turn_auth_forget_keys(w);
}

void turn_auth_forget_keys(struct turn_worker *w)
{
    OPENSSL_cleanse(w->keys, sizeof(w->keys));
}

int turn_nonce_make(const struct turn_worker *w, const struct turn_client *c, char *out,
                    size_t outlen)
{
    uint8_t raw[NONCE_RAW_LEN];
    uint32_t t = (uint32_t)w->now_unix;

    if (outlen < NONCE_COOKIE_LEN + NONCE_B64_LEN + 1)
        return -ENOSPC;
    raw[0] = (uint8_t)(t >> 24);
    raw[1] = (uint8_t)(t >> 16);
    raw[2] = (uint8_t)(t >> 8);
    raw[3] = (uint8_t)t;
    nonce_mac(w, c, raw, raw + 4);
    memcpy(out, NONCE_COOKIE, NONCE_COOKIE_LEN);
    EVP_EncodeBlock((uint8_t *)out + NONCE_COOKIE_LEN, raw, NONCE_RAW_LEN);
    return NONCE_COOKIE_LEN + NONCE_B64_LEN;
}

/* 0 if the nonce is ours, for this client, and fresh; -ESTALE otherwise. */
static int nonce_check(const struct turn_worker *w, const struct turn_client *c,
                       const uint8_t *nonce, size_t len)
{
    uint8_t raw[NONCE_RAW_LEN + 2], mac[NONCE_MAC_LEN];
    char b64[NONCE_B64_LEN + 1];

    if (len != NONCE_COOKIE_LEN + NONCE_B64_LEN || memcmp(nonce, NONCE_COOKIE, NONCE_COOKIE_LEN))
        return -ESTALE;
    memcpy(b64, nonce + NONCE_COOKIE_LEN, NONCE_B64_LEN);
    b64[NONCE_B64_LEN] = '\0';
    if (EVP_DecodeBlock(raw, (const uint8_t *)b64, NONCE_B64_LEN) != NONCE_RAW_LEN)
        return -ESTALE;
    nonce_mac(w, c, raw, mac);
    if (!ct_equal(mac, raw + 4, NONCE_MAC_LEN))
        return -ESTALE;
    int64_t issued =
        (int64_t)((uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 | (uint32_t)raw[2] << 8 | raw[3]);
    if (issued > w->now_unix + 5 || w->now_unix - issued > (int64_t)w->srv->set.nonce_lifetime)
        return -ESTALE;
    return 0;
}

void turn_build_password_algorithms(struct stun_builder *b)
{
    /* Each entry: algorithm (2 bytes), parameters length (2 bytes, 0). */
    static const uint8_t algs[] = {0x00, STUN_PWALG_SHA256, 0, 0, 0x00, STUN_PWALG_MD5, 0, 0};

    stun_build_attr(b, STUN_ATTR_PASSWORD_ALGORITHMS, algs, sizeof(algs));
}

/* The PASSWORD-ALGORITHM the client chose: MD5 when absent. A choice must come with an echo
 * of exactly the PASSWORD-ALGORITHMS list we offer, or a bid-down is under way (RFC 8489
 * 9.2.4). Returns the algorithm, or -EBADMSG. */
static int chosen_algorithm(const struct stun_msg *m)
{
    static const uint8_t offered[] = {0x00, STUN_PWALG_SHA256, 0, 0, 0x00, STUN_PWALG_MD5, 0, 0};
    const struct stun_attr *alg = stun_find(m, STUN_ATTR_PASSWORD_ALGORITHM);
    const struct stun_attr *algs = stun_find(m, STUN_ATTR_PASSWORD_ALGORITHMS);

    if (!alg && !algs)
        return STUN_PWALG_MD5;
    if (!alg || !algs || alg->len < 4 || algs->len != sizeof(offered) ||
        memcmp(stun_attr_value(m, algs), offered, sizeof(offered)))
        return -EBADMSG;
    const uint8_t *v = stun_attr_value(m, alg);
    int which = v[0] << 8 | v[1];
    return which == STUN_PWALG_MD5 || which == STUN_PWALG_SHA256 ? which : -EBADMSG;
}

/* Parses the EXPIRY of a REST username "EXPIRY:ID" (or a bare "EXPIRY"). */
static int username_expiry(const uint8_t *user, size_t len, int64_t *expiry)
{
    int64_t v = 0;
    size_t i = 0;

    for (; i < len && user[i] != ':'; i++) {
        if (user[i] < '0' || user[i] > '9' || i >= 12)
            return -EINVAL;
        v = v * 10 + (user[i] - '0');
    }
    if (i == 0)
        return -EINVAL;
    *expiry = v;
    return 0;
}

static void fail(struct turn_auth *out, int code, const char *reason)
{
    out->error = code;
    out->reason = reason;
}

/* The long-term key of user under one secret, into out->key. Returns 0 or -EINVAL. */
static int message_key(int alg, const char *name, size_t name_len, const char *realm,
                       const uint8_t *secret, size_t secret_len, struct turn_auth *out)
{
    char pass[64];
    int plen = rest_cred_password(secret, secret_len, name, name_len, pass, sizeof(pass));

    out->key_len = plen < 0 ? -1
                            : stun_long_term_key(alg, name, name_len, realm, strlen(realm), pass,
                                                 (size_t)plen, out->key);
    memset(pass, 0, sizeof(pass));
    return out->key_len < 0 ? -EINVAL : 0;
}

/* The cache slot of a username (FNV-1a). */
static struct turn_key_entry *key_slot(struct turn_worker *w, const char *name, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)name[i]) * 16777619u;
    return &w->keys[h & (TURN_KEY_CACHE - 1)];
}

/* Copies a key cached for (alg, name) under the current settings into out; false if none. */
static bool key_cached(struct turn_worker *w, int alg, const char *name, size_t len,
                       struct turn_auth *out)
{
    const struct turn_key_entry *e = key_slot(w, name, len);

    if (e->generation != w->cur->generation || e->alg != alg || e->user_len != len ||
        memcmp(e->user, name, len) != 0)
        return false;
    memcpy(out->key, e->key, e->key_len);
    out->key_len = e->key_len;
    memcpy(out->user_digest, e->user_digest, TURN_USER_DIGEST_LEN);
    return true;
}

/* Remembers a key that just verified a request from name, and the name's quota digest. */
static void key_remember(struct turn_worker *w, int alg, const char *name, size_t len,
                         const struct turn_auth *in)
{
    struct turn_key_entry *e = key_slot(w, name, len);

    if (len > sizeof(e->user) || in->key_len < 0 || (size_t)in->key_len > sizeof(e->key))
        return;
    e->generation = w->cur->generation;
    e->alg = (uint8_t)alg;
    e->user_len = (uint8_t)len;
    memcpy(e->user, name, len);
    e->key_len = (uint8_t)in->key_len;
    memcpy(e->key, in->key, (size_t)in->key_len);
    memcpy(e->user_digest, in->user_digest, TURN_USER_DIGEST_LEN);
}

/* Derives the key of name and checks the request's integrity with it: first under the current
 * secret, then under the previous one if it still vouches for the username. Fills out->key and
 * out->user_digest; returns 0, or the failing reason's error. */
static int derive_and_check(struct turn_worker *w, const struct stun_msg *m, int alg,
                            const char *name, size_t len, int64_t expiry, struct turn_auth *out)
{
    const struct turn_server *s = w->srv;
    const struct turn_live *live = w->cur;

    if (message_key(alg, name, len, s->realm, live->secret, live->set.secret_len, out) < 0)
        return -EINVAL;
    if (stun_check_integrity(m, out->key, (size_t)out->key_len) < 0) {
        /* After a rotation the previous secret still vouches for credentials issued before
         * it, which expire within the grace window (see turn_server_reload()). */
        if (!live->prev_secret || expiry > live->prev_until ||
            message_key(alg, name, len, s->realm, live->prev_secret, live->prev_len, out) < 0 ||
            stun_check_integrity(m, out->key, (size_t)out->key_len) < 0)
            return -EACCES;
    }
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned dlen = 0;
    if (!EVP_Digest(name, len, digest, &dlen, EVP_sha256(), NULL) || dlen < TURN_USER_DIGEST_LEN)
        return -EINVAL;
    memcpy(out->user_digest, digest, TURN_USER_DIGEST_LEN);
    key_remember(w, alg, name, len, out);
    return 0;
}

void turn_auth_check(struct turn_worker *w, const struct turn_client *c, const struct stun_msg *m,
                     struct turn_auth *out)
{
    const struct turn_server *s = w->srv;
    const struct stun_attr *user, *realm, *nonce;
    int64_t expiry;

    memset(out, 0, sizeof(*out));
    if (m->integrity < 0 && m->integrity_sha256 < 0)
        return fail(out, 401, "no_integrity");
    user = stun_find(m, STUN_ATTR_USERNAME);
    realm = stun_find(m, STUN_ATTR_REALM);
    nonce = stun_find(m, STUN_ATTR_NONCE);
    if (!user || !realm || !nonce || user->len > TURN_MAX_USERNAME)
        return fail(out, 400, "missing_attribute");
    if (nonce_check(w, c, stun_attr_value(m, nonce), nonce->len) < 0)
        return fail(out, 438, "stale_nonce");
    if (realm->len != strlen(s->realm) || memcmp(stun_attr_value(m, realm), s->realm, realm->len))
        return fail(out, 401, "wrong_realm");
    int alg = chosen_algorithm(m);
    if (alg < 0)
        return fail(out, 400, "bad_password_algorithm");
    const char *name = (const char *)stun_attr_value(m, user);
    if (username_expiry((const uint8_t *)name, user->len, &expiry) < 0)
        return fail(out, 401, "bad_username");
    if (expiry < w->now_unix)
        return fail(out, 401, "expired");
    /* A cached key that no longer verifies (the request is forged, or the key went with a
     * secret) falls through to a fresh derivation, which decides. */
    if (!key_cached(w, alg, name, user->len, out) ||
        stun_check_integrity(m, out->key, (size_t)out->key_len) < 0) {
        int rc = derive_and_check(w, m, alg, name, user->len, expiry, out);
        if (rc == -EACCES)
            return fail(out, 401, "bad_integrity");
        if (rc < 0)
            return fail(out, 500, "key");
    }
    out->sha256 = m->integrity_sha256 >= 0;
}

uint64_t turn_user_quota_key(const uint8_t digest[TURN_USER_DIGEST_LEN])
{
    uint64_t k;

    memcpy(&k, digest, sizeof(k));
    return k ? k : 1; /* 0 marks an empty quota slot */
}
