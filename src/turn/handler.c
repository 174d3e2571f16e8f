/* TURN request handling: Binding, Allocate, Refresh, CreatePermission and ChannelBind. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <jansson.h>

#include "vc/log.h"
#include "vc/policy.h"
#include "reply.h"
#include "relay.h"

#define PROTO_UDP 17

static const char *transport_name(enum turn_transport t)
{
    return t == TURN_TLS ? "tls" : t == TURN_TCP ? "tcp" : "udp";
}

static void log_auth_failure(struct turn_worker *w, const struct turn_client *c, const char *reason)
{
    uint64_t second = w->now_ms / 1000;
    char ip[VC_ADDR_STRLEN];

    TURN_STAT_ADD(w, auth_failures, 1);
    if (second != w->auth_log_second) {
        w->auth_log_second = second;
        w->auth_log_count = 0;
    }
    if (!w->srv->set.log || ++w->auth_log_count > TURN_AUTH_LOG_PER_SEC)
        return;
    event_log_write(w->srv->set.log, "auth.failed", "{s:s,s:s,s:s}", "client",
                    addr_format_ip(&c->remote, ip, sizeof(ip)), "transport",
                    transport_name(c->transport), "reason", reason);
}

/* Answers the long-term credential check already run into auth; false if it failed. */
static bool authenticate(struct turn_worker *w, const struct turn_client *c,
                         const struct stun_msg *m, struct turn_auth *auth)
{
    if (auth->error == 0)
        return true;
    if (auth->error == 438)
        TURN_STAT_ADD(w, stale_nonces, 1);
    else if (auth->error == 401 && strcmp(auth->reason, "no_integrity") != 0)
        log_auth_failure(w, c, auth->reason);
    turn_reply_error(w, c, m, NULL, auth->error);
    return false;
}

/* The allocation this request acts on, checked against the request's credentials. */
static struct turn_alloc *owned_alloc(struct turn_worker *w, const struct turn_client *c,
                                      const struct stun_msg *m, const struct turn_auth *auth)
{
    struct turn_alloc *a = turn_alloc_find(w, c);

    if (!a || a->relay_fd < 0) {
        turn_reply_error(w, c, m, auth, 437);
        return NULL;
    }
    if (memcmp(a->user_digest, auth->user_digest, TURN_USER_DIGEST_LEN) != 0) {
        turn_reply_error(w, c, m, auth, 441);
        return NULL;
    }
    return a;
}

static void handle_binding(struct turn_worker *w, const struct turn_client *c,
                           const struct stun_msg *m)
{
    struct turn_reply r;

    turn_reply_start(&r, m, STUN_SUCCESS, NULL);
    stun_build_xor_addr(&r.b, STUN_ATTR_XOR_MAPPED_ADDRESS, &c->remote);
    turn_reply_send(w, c, &r);
}

/* The relayed address as clients should see it: the external IP when one is configured. */
static union vc_addr advertised_relay(const struct turn_worker *w, const struct turn_alloc *a)
{
    const struct turn_settings *set = &w->srv->set;
    const union vc_addr *ext =
        a->relay.sa.sa_family == AF_INET6 ? &set->external_ip6 : &set->external_ip4;
    union vc_addr out = a->relay;

    if (ext->sa.sa_family == a->relay.sa.sa_family) {
        out = *ext;
        addr_set_port(&out, addr_port(&a->relay));
    }
    return out;
}

static void allocate_success(struct turn_worker *w, const struct turn_client *c,
                             const struct stun_msg *m, const struct turn_auth *auth,
                             const struct turn_alloc *a, bool v6_refused)
{
    struct turn_reply r;
    union vc_addr relay = advertised_relay(w, a);
    uint64_t left = a->expires_ms > w->now_ms ? (a->expires_ms - w->now_ms) / 1000 : 0;

    turn_reply_start(&r, m, STUN_SUCCESS, auth);
    stun_build_xor_addr(&r.b, TURN_ATTR_XOR_RELAYED_ADDRESS, &relay);
    if (v6_refused) {
        /* ADDRESS-ERROR-CODE: family, reserved, then an ERROR-CODE body (440). */
        static const uint8_t err[] = {TURN_FAMILY_IPV6, 0, 0, 0, 0, 0, 4, 40};
        stun_build_attr(&r.b, TURN_ATTR_ADDRESS_ERROR_CODE, err, sizeof(err));
    }
    if (a->token)
        stun_build_attr(&r.b, TURN_ATTR_RESERVATION_TOKEN, &a->token, TURN_TOKEN_LEN);
    stun_build_u32(&r.b, TURN_ATTR_LIFETIME, (uint32_t)left);
    stun_build_xor_addr(&r.b, STUN_ATTR_XOR_MAPPED_ADDRESS, &c->remote);
    turn_reply_send(w, c, &r);
}

/* RFC 8656 7.2: the requested lifetime if longer than the default, capped by the maximum. */
static uint32_t granted_lifetime(const struct turn_worker *w, const struct stun_msg *m)
{
    const struct stun_attr *lt = stun_find(m, TURN_ATTR_LIFETIME);
    uint32_t want = TURN_DEFAULT_LIFETIME, asked = 0, max = w->cur->set.max_lifetime;

    if (lt && stun_attr_u32(m, lt, &asked) == 0 && asked > want)
        want = asked;
    return want < max ? want : max;
}

static void log_alloc(struct turn_worker *w, const struct turn_alloc *a, const struct stun_msg *m,
                      uint32_t lifetime)
{
    char id[17], client[VC_ADDR_STRLEN], relay[VC_ADDR_STRLEN], user[TURN_MAX_USERNAME + 1];
    const struct stun_attr *u = stun_find(m, STUN_ATTR_USERNAME);
    const char *name = (const char *)stun_attr_value(m, u);
    const char *colon = memchr(name, ':', u->len);
    size_t off = colon ? (size_t)(colon - name) + 1 : u->len;
    union vc_addr adv = advertised_relay(w, a);

    if (!w->srv->set.log)
        return;
    /* Only the opaque ID part of "EXPIRY:ID", and only printable ASCII of it. */
    size_t n = 0;
    for (size_t i = off; i < u->len && n < 64; i++)
        user[n++] = name[i] > 0x20 && name[i] < 0x7f && name[i] != '"' ? name[i] : '?';
    user[n] = '\0';
    snprintf(id, sizeof(id), "%016" PRIx64, a->id);
    event_log_write(w->srv->set.log, "turn.alloc", "{s:s,s:s,s:s,s:s,s:s,s:i}", "alloc", id,
                    "transport", transport_name(a->client.transport), "client",
                    addr_format_ip(&a->client.remote, client, sizeof(client)), "relay",
                    addr_format(&adv, relay, sizeof(relay)), "user", user, "lifetime_s",
                    (int)lifetime);
}

/* ALTERNATE-SERVER (RFC 8489 14.15): a MAPPED-ADDRESS-style value, not XORed: zero, family,
 * port, address. */
static void build_alternate_server(struct stun_builder *b, const union vc_addr *a)
{
    uint8_t v[4 + 16];
    uint16_t port = addr_port(a);
    size_t len;

    v[0] = 0;
    v[2] = (uint8_t)(port >> 8);
    v[3] = (uint8_t)port;
    if (a->sa.sa_family == AF_INET6) {
        v[1] = TURN_FAMILY_IPV6;
        memcpy(v + 4, &a->v6.sin6_addr, 16);
        len = 20;
    } else {
        v[1] = TURN_FAMILY_IPV4;
        memcpy(v + 4, &a->v4.sin_addr, 4);
        len = 8;
    }
    stun_build_attr(b, STUN_ATTR_ALTERNATE_SERVER, v, len);
}

/* Draining: send the client to the sibling (300 Try Alternate), or 508 when there is none. The
 * answer follows authentication, so it carries MESSAGE-INTEGRITY (RFC 8489 10). */
static void refuse_draining(struct turn_worker *w, const struct turn_client *c,
                            const struct stun_msg *m, const struct turn_auth *auth)
{
    const union vc_addr *alt = &w->cur->set.alternate_server;
    struct turn_reply r;

    TURN_STAT_ADD(w, drain_refused, 1);
    if (alt->sa.sa_family != AF_INET && alt->sa.sa_family != AF_INET6)
        return turn_reply_error(w, c, m, auth, 508);
    turn_reply_start(&r, m, STUN_ERROR, auth);
    stun_build_error(&r.b, 300, NULL);
    build_alternate_server(&r.b, alt);
    turn_reply_send(w, c, &r);
}

static void handle_allocate(struct turn_worker *w, const struct turn_client *c,
                            const struct stun_msg *m, const struct turn_auth *auth)
{
    struct turn_alloc *a = turn_alloc_find(w, c);
    const struct stun_attr *rt = stun_find(m, TURN_ATTR_REQUESTED_TRANSPORT);
    bool v6_refused;

    if (a) {
        /* A retransmitted Allocate gets the same answer; anything else is a mismatch. */
        if (memcmp(a->txid, m->txid, STUN_TXID_LEN) == 0 &&
            memcmp(a->user_digest, auth->user_digest, TURN_USER_DIGEST_LEN) == 0)
            return allocate_success(w, c, m, auth, a, false);
        return turn_reply_error(w, c, m, auth, 437);
    }
    if (turn_server_draining(w->srv))
        return refuse_draining(w, c, m, auth);
    if (!rt || rt->len != 4)
        return turn_reply_error(w, c, m, auth, 400);
    if (stun_attr_value(m, rt)[0] != PROTO_UDP)
        return turn_reply_error(w, c, m, auth, 442);
    int code = turn_allocate_relay(w, c, m, auth, &a, &v6_refused);
    if (code)
        return turn_reply_error(w, c, m, auth, code);

    uint32_t lifetime = granted_lifetime(w, m);
    a->expires_ms = w->now_ms + (uint64_t)lifetime * 1000;
    memcpy(a->txid, m->txid, STUN_TXID_LEN);
    TURN_STAT_ADD(w, allocations, 1);
    TURN_STAT_ADD(w, allocations_total, 1);
    log_alloc(w, a, m, lifetime);
    allocate_success(w, c, m, auth, a, v6_refused);
}

static void handle_refresh(struct turn_worker *w, const struct turn_client *c,
                           const struct stun_msg *m, const struct turn_auth *auth)
{
    struct turn_alloc *a = owned_alloc(w, c, m, auth);
    const struct stun_attr *fam = stun_find(m, TURN_ATTR_REQUESTED_ADDRESS_FAMILY);
    const struct stun_attr *lt = stun_find(m, TURN_ATTR_LIFETIME);
    struct turn_reply r;
    uint32_t want = 1;

    if (!a)
        return;
    if (fam) {
        int f =
            fam->len == 4 && stun_attr_value(m, fam)[0] == TURN_FAMILY_IPV6 ? AF_INET6 : AF_INET;
        if (f != a->relay.sa.sa_family)
            return turn_reply_error(w, c, m, auth, 443);
    }
    if (lt && stun_attr_u32(m, lt, &want) == 0 && want == 0) {
        turn_alloc_free(w, a, "deleted");
    } else {
        want = granted_lifetime(w, m);
        a->expires_ms = w->now_ms + (uint64_t)want * 1000;
        turn_fast_sync(w, a);
    }
    turn_reply_start(&r, m, STUN_SUCCESS, auth);
    stun_build_u32(&r.b, TURN_ATTR_LIFETIME, want);
    turn_reply_send(w, c, &r);
}

/* Decodes a XOR-PEER-ADDRESS and applies the peer policy. Returns 0 or a STUN error code. */
static int checked_peer(struct turn_worker *w, const struct turn_alloc *a, const struct stun_msg *m,
                        const struct stun_attr *attr, union vc_addr *peer)
{
    if (stun_attr_xor_addr(m, attr, peer) < 0)
        return 400;
    if (peer->sa.sa_family != a->relay.sa.sa_family)
        return 443;
    return turn_peer_allowed(w, peer) ? 0 : 403;
}

static void handle_create_permission(struct turn_worker *w, const struct turn_client *c,
                                     const struct stun_msg *m, const struct turn_auth *auth)
{
    struct turn_alloc *a = owned_alloc(w, c, m, auth);
    union vc_addr peers[STUN_MAX_ATTRS];
    unsigned n = 0;
    struct turn_reply r;

    if (!a)
        return;
    /* All or nothing: every peer is checked before any permission is installed. */
    for (unsigned i = 0; i < m->nattrs; i++) {
        if (m->attrs[i].type != TURN_ATTR_XOR_PEER_ADDRESS)
            continue;
        int code = checked_peer(w, a, m, &m->attrs[i], &peers[n]);
        if (code)
            return turn_reply_error(w, c, m, auth, code);
        n++;
    }
    if (n == 0)
        return turn_reply_error(w, c, m, auth, 400);
    for (unsigned i = 0; i < n; i++)
        if (turn_perm_install(a, &peers[i], w->now_ms) < 0)
            return turn_reply_error(w, c, m, auth, 508);
    turn_fast_sync(w, a); /* every peer passed the policy above */
    turn_reply_start(&r, m, STUN_SUCCESS, auth);
    turn_reply_send(w, c, &r);
}

static void handle_channel_bind(struct turn_worker *w, const struct turn_client *c,
                                const struct stun_msg *m, const struct turn_auth *auth)
{
    struct turn_alloc *a = owned_alloc(w, c, m, auth);
    const struct stun_attr *num = stun_find(m, TURN_ATTR_CHANNEL_NUMBER);
    const struct stun_attr *pa = stun_find(m, TURN_ATTR_XOR_PEER_ADDRESS);
    union vc_addr peer;
    uint32_t v = 0;
    struct turn_reply r;

    if (!a)
        return;
    if (!num || !pa || stun_attr_u32(m, num, &v) < 0)
        return turn_reply_error(w, c, m, auth, 400);
    uint16_t number = (uint16_t)(v >> 16);
    if (number < TURN_CHANNEL_MIN || number > TURN_CHANNEL_LEGACY_MAX)
        return turn_reply_error(w, c, m, auth, 400);
    int code = checked_peer(w, a, m, pa, &peer);
    if (code)
        return turn_reply_error(w, c, m, auth, code);
    int rc = turn_chan_bind(w, a, number, &peer, w->now_ms);
    if (rc == 0)
        rc = turn_perm_install(a, &peer, w->now_ms);
    if (rc < 0)
        return turn_reply_error(w, c, m, auth, rc == -EEXIST ? 400 : 508);
    turn_fast_sync(w, a); /* peer passed the policy above */
    turn_reply_start(&r, m, STUN_SUCCESS, auth);
    turn_reply_send(w, c, &r);
}

static void handle_unknown_attributes(struct turn_worker *w, const struct turn_client *c,
                                      const struct stun_msg *m)
{
    struct turn_reply r;
    uint8_t types[2 * 8];

    for (unsigned i = 0; i < m->nunknown; i++) {
        types[2 * i] = (uint8_t)(m->unknown[i] >> 8);
        types[2 * i + 1] = (uint8_t)m->unknown[i];
    }
    turn_reply_start(&r, m, STUN_ERROR, NULL);
    stun_build_error(&r.b, 420, NULL);
    stun_build_attr(&r.b, STUN_ATTR_UNKNOWN_ATTRIBUTES, types, 2 * m->nunknown);
    turn_reply_send(w, c, &r);
}

static bool needs_credentials(uint16_t method)
{
    return method == TURN_ALLOCATE || method == TURN_REFRESH || method == TURN_CREATE_PERMISSION ||
           method == TURN_CHANNEL_BIND;
}

static void handle_request(struct turn_worker *w, const struct turn_client *c,
                           const struct stun_msg *m)
{
    struct turn_auth auth;
    bool credentials = needs_credentials(m->method) && !m->nunknown;

    /* The credential check runs first for the requests that need one; only those that fail it,
     * and requests without credentials, are anonymous. From a 5-tuple without an allocation,
     * anonymous requests are limited per source before any more work: hundreds of people behind
     * one hospital NAT set up their allocations at full speed, while a flood without a valid
     * credential (a spoofed one cannot have a nonce for its address) costs one nonce check. */
    memset(&auth, 0, sizeof(auth));
    if (credentials)
        turn_auth_check(w, c, m, &auth);
    if ((!credentials || auth.error != 0) && !turn_alloc_find(w, c) &&
        !turn_rate_allow(w, &c->remote)) {
        TURN_STAT_ADD(w, rate_limited, 1);
        return;
    }
    TURN_STAT_ADD(w, requests, 1);
    if (m->nunknown)
        return handle_unknown_attributes(w, c, m);
    if (m->method == STUN_BINDING)
        return handle_binding(w, c, m);
    if (!credentials)
        return turn_reply_error(w, c, m, NULL, 400);
    if (!authenticate(w, c, m, &auth))
        return;
    switch (m->method) {
    case TURN_ALLOCATE:
        return handle_allocate(w, c, m, &auth);
    case TURN_REFRESH:
        return handle_refresh(w, c, m, &auth);
    case TURN_CREATE_PERMISSION:
        return handle_create_permission(w, c, m, &auth);
    default:
        return handle_channel_bind(w, c, m, &auth);
    }
}

void turn_worker_client_input(struct turn_worker *w, const struct turn_client *c,
                              const uint8_t *buf, size_t len)
{
    struct stun_msg m;

    if (turn_is_channel_data(buf, len))
        return turn_relay_channel_data(w, c, buf, len);
    if (stun_parse(&m, buf, len) < 0 || (m.fingerprint >= 0 && stun_check_fingerprint(&m) < 0)) {
        TURN_STAT_ADD(w, bad_messages, 1);
        return;
    }
    if (m.cls == STUN_REQUEST)
        handle_request(w, c, &m);
    else if (m.cls == STUN_INDICATION && m.method == TURN_SEND)
        turn_relay_send_indication(w, c, &m);
}
