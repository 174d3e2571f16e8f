/* Transactions of the minimal TURN client: Allocate with long-term auth, permission, channel. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "relay_turn_int.h"
#include "vc/random.h"

#define RELAY_TURN_RTO_MS 250

/* What a transaction got back. */
struct relay_turn_reply {
    uint8_t buf[2048];
    struct stun_msg msg;
    int code; /* 0 on success, else the STUN error code */
    char reason[96];
};

int relay_turn_open(struct relay_turn *t, const struct relay_opts *o, unsigned n, char *err,
                    size_t errlen)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    t->transport = o->transport;
    t->server = o->server;
    relay_rest_creds(o, n, t->user, t->pass);
    return relay_turn_connect(t, err, errlen);
}

/* Attributes of a request besides authentication. */
struct relay_turn_attrs {
    const union vc_addr *peer;
    uint16_t channel;
    int lifetime; /* -1: none */
    bool transport;
};

static int relay_turn_build(struct relay_turn *t, uint8_t *buf, size_t cap, uint16_t method,
                            const uint8_t *txid, const struct relay_turn_attrs *a)
{
    struct stun_builder b;

    stun_build_init(&b, buf, cap, method, STUN_REQUEST, txid);
    if (a->transport) {
        stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    }
    if (a->lifetime >= 0) {
        stun_build_u32(&b, TURN_ATTR_LIFETIME, (uint32_t)a->lifetime);
    }
    if (a->channel != 0) {
        stun_build_u32(&b, TURN_ATTR_CHANNEL_NUMBER, (uint32_t)a->channel << 16);
    }
    if (a->peer != NULL) {
        stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, a->peer);
    }
    if (t->keylen > 0) {
        stun_build_attr(&b, STUN_ATTR_USERNAME, t->user, strlen(t->user));
        stun_build_attr(&b, STUN_ATTR_REALM, t->realm, t->realm_len);
        stun_build_attr(&b, STUN_ATTR_NONCE, t->nonce, t->nonce_len);
        stun_build_integrity(&b, t->key, (size_t)t->keylen);
    }
    stun_build_fingerprint(&b);
    return stun_build_finish(&b);
}

/* Sends a request and waits for the response with its transaction id, retransmitting over UDP. */
static int relay_turn_exchange(struct relay_turn *t, const uint8_t *req, size_t len,
                               const uint8_t *txid, struct relay_turn_reply *r)
{
    int waited = 0;
    int rto = RELAY_TURN_RTO_MS;
    int rc = relay_turn_send(t, req, len);

    while (rc == 0 && waited < RELAY_TURN_TIMEOUT_MS) {
        int wait = t->transport == RELAY_UDP ? rto : RELAY_TURN_TIMEOUT_MS - waited;
        int n = relay_turn_recv(t, r->buf, sizeof(r->buf), wait);
        if (n == -ETIMEDOUT) {
            waited += wait;
            rto = rto < 1000 ? rto * 2 : rto;
            if (t->transport == RELAY_UDP && waited < RELAY_TURN_TIMEOUT_MS) {
                rc = relay_turn_send(t, req, len);
            }
            continue;
        }
        if (n < 0) {
            return n;
        }
        if (stun_parse(&r->msg, r->buf, (size_t)n) < 0 ||
            memcmp(r->msg.txid, txid, STUN_TXID_LEN) != 0 ||
            (r->msg.cls != STUN_SUCCESS && r->msg.cls != STUN_ERROR)) {
            continue; /* ChannelData, Data indications or stale answers */
        }
        return 0;
    }
    return rc < 0 ? rc : -ETIMEDOUT;
}

static void relay_turn_read_error(struct relay_turn_reply *r)
{
    const struct stun_attr *a = stun_find(&r->msg, STUN_ATTR_ERROR_CODE);
    const char *reason = NULL;
    size_t rlen = 0;

    r->code = 0;
    r->reason[0] = '\0';
    if (r->msg.cls != STUN_ERROR) {
        return;
    }
    if (a == NULL || stun_attr_error(&r->msg, a, &r->code, &reason, &rlen) < 0) {
        r->code = 500;
        snprintf(r->reason, sizeof(r->reason), "error response without ERROR-CODE");
        return;
    }
    snprintf(r->reason, sizeof(r->reason), "%.*s", (int)(rlen < 80 ? rlen : 80), reason);
}

/* Takes REALM and NONCE from a 401/438 and derives the long-term key. */
static int relay_turn_learn_auth(struct relay_turn *t, const struct relay_turn_reply *r)
{
    const struct stun_attr *realm = stun_find(&r->msg, STUN_ATTR_REALM);
    const struct stun_attr *nonce = stun_find(&r->msg, STUN_ATTR_NONCE);

    if (nonce == NULL || nonce->len > sizeof(t->nonce)) {
        return -EBADMSG;
    }
    if (realm != NULL) {
        if (realm->len > sizeof(t->realm)) {
            return -EBADMSG;
        }
        memcpy(t->realm, stun_attr_value(&r->msg, realm), realm->len);
        t->realm_len = realm->len;
    }
    memcpy(t->nonce, stun_attr_value(&r->msg, nonce), nonce->len);
    t->nonce_len = nonce->len;
    t->keylen = stun_long_term_key(STUN_PWALG_MD5, t->user, strlen(t->user), t->realm, t->realm_len,
                                   t->pass, strlen(t->pass), t->key);
    return t->keylen > 0 ? 0 : -EINVAL;
}

static void relay_turn_io_error(struct relay_turn *t, int rc, char *err, size_t errlen)
{
    if (rc == -ETIMEDOUT) {
        snprintf(err, errlen, "%s: no TURN response within %d s", t->server_text,
                 RELAY_TURN_TIMEOUT_MS / 1000);
    } else if (rc == -ECONNREFUSED) {
        snprintf(err, errlen, "%s: connection refused (is a TURN server listening there?)",
                 t->server_text);
    } else {
        snprintf(err, errlen, "%s: %s", t->server_text, strerror(-rc));
    }
}

/* One authenticated request: handles the 401 challenge and up to two 438 stale nonces. */
static int relay_turn_request(struct relay_turn *t, uint16_t method,
                              const struct relay_turn_attrs *a, struct relay_turn_reply *r,
                              char *err, size_t errlen)
{
    uint8_t req[1024];
    uint8_t txid[STUN_TXID_LEN];
    int tries;

    for (tries = 0; tries < 4; tries++) {
        int len;
        int rc;
        bool had_key = t->keylen > 0;

        (void)random_bytes(txid, sizeof(txid));
        len = relay_turn_build(t, req, sizeof(req), method, txid, a);
        if (len < 0) {
            snprintf(err, errlen, "cannot build request: %s", strerror(-len));
            return len;
        }
        rc = relay_turn_exchange(t, req, (size_t)len, txid, r);
        if (rc < 0) {
            relay_turn_io_error(t, rc, err, errlen);
            return rc;
        }
        relay_turn_read_error(r);
        if ((r->code == 401 && !had_key) || r->code == 438) {
            if (relay_turn_learn_auth(t, r) < 0) {
                snprintf(err, errlen, "%s: %d challenge without a usable REALM/NONCE",
                         t->server_text, r->code);
                return -EPROTO;
            }
            continue;
        }
        return 0;
    }
    snprintf(err, errlen, "%s: authentication did not converge (nonce keeps going stale)",
             t->server_text);
    return -EPROTO;
}

static int relay_turn_refused(const struct relay_turn *t, const struct relay_turn_reply *r,
                              const char *what, char *err, size_t errlen)
{
    const char *hint = "";

    if (r->code == 401) {
        hint = " (check --secret)";
    } else if (r->code == 403) {
        hint = " (peer address forbidden by the server's policy?)";
    } else if (r->code == 508) {
        hint = " (server out of relay ports)";
    }
    snprintf(err, errlen, "%s: %s refused: %d %s%s", t->server_text, what, r->code, r->reason,
             hint);
    return -EACCES;
}

int relay_turn_allocate(struct relay_turn *t, char *err, size_t errlen)
{
    struct relay_turn_reply r;
    struct relay_turn_attrs a = {.lifetime = -1, .transport = true};
    const struct stun_attr *relayed;
    int rc = relay_turn_request(t, TURN_ALLOCATE, &a, &r, err, errlen);

    if (rc < 0) {
        return rc;
    }
    if (r.code != 0) {
        return relay_turn_refused(t, &r, "allocation", err, errlen);
    }
    relayed = stun_find(&r.msg, TURN_ATTR_XOR_RELAYED_ADDRESS);
    if (relayed == NULL || stun_attr_xor_addr(&r.msg, relayed, &t->relayed) < 0) {
        snprintf(err, errlen, "%s: Allocate success without XOR-RELAYED-ADDRESS", t->server_text);
        return -EPROTO;
    }
    return 0;
}

int relay_turn_permit(struct relay_turn *t, const union vc_addr *peer, char *err, size_t errlen)
{
    struct relay_turn_reply r;
    struct relay_turn_attrs a = {.peer = peer, .lifetime = -1};
    int rc = relay_turn_request(t, TURN_CREATE_PERMISSION, &a, &r, err, errlen);

    if (rc == 0 && r.code != 0) {
        rc = relay_turn_refused(t, &r, "permission", err, errlen);
    }
    return rc;
}

int relay_turn_bind(struct relay_turn *t, const union vc_addr *peer, uint16_t channel, char *err,
                    size_t errlen)
{
    struct relay_turn_reply r;
    struct relay_turn_attrs a = {.peer = peer, .channel = channel, .lifetime = -1};
    int rc = relay_turn_request(t, TURN_CHANNEL_BIND, &a, &r, err, errlen);

    if (rc == 0 && r.code != 0) {
        rc = relay_turn_refused(t, &r, "channel bind", err, errlen);
    }
    return rc;
}

void relay_turn_release(struct relay_turn *t)
{
    struct relay_turn_reply r;
    struct relay_turn_attrs a = {.lifetime = 0};
    uint8_t req[1024];
    uint8_t txid[STUN_TXID_LEN];
    int len;

    if (t->fd >= 0 && t->keylen > 0) {
        (void)random_bytes(txid, sizeof(txid));
        len = relay_turn_build(t, req, sizeof(req), TURN_REFRESH, txid, &a);
        if (len > 0 && relay_turn_send(t, req, (size_t)len) == 0) {
            /* Best effort: one answer or 1 s, whichever comes first. */
            (void)relay_turn_recv(t, r.buf, sizeof(r.buf), 1000);
        }
    }
    relay_turn_close(t);
}

int relay_preflight(const struct relay_opts *o, char *err, size_t errlen)
{
    struct relay_turn t;
    int rc = relay_turn_open(&t, o, 0, err, errlen);

    if (rc == 0) {
        rc = relay_turn_allocate(&t, err, errlen);
    }
    if (rc == 0 && o->realm != NULL &&
        (strlen(o->realm) != t.realm_len || memcmp(o->realm, t.realm, t.realm_len) != 0)) {
        fprintf(stderr, "vc-load: warning: server realm is \"%.*s\", not \"%s\"\n",
                (int)t.realm_len, t.realm, o->realm);
    }
    if (rc == 0) {
        relay_turn_release(&t);
    } else {
        relay_turn_close(&t);
    }
    return rc;
}
