/* A TURN core under test: a fake clock and fake sockets that record what the core sends. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vc/policy.h"
#include "vc/rest_cred.h"
#include "turn_fixture.h"

static struct fixture *fixture_of(struct turn_worker *w)
{
    return turn_worker_ctx(w);
}

static void record(struct fixture *f, bool to_peer, int relay, const union vc_addr *dest,
                   const uint8_t *buf, size_t len)
{
    if (f->nsent == FIX_MAX_SENT)
        memmove(f->sent, f->sent + 1, sizeof(f->sent[0]) * --f->nsent);
    struct fix_packet *p = &f->sent[f->nsent++];
    p->to_peer = to_peer;
    p->relay = relay;
    p->dest = *dest;
    p->len = len < sizeof(p->data) ? len : sizeof(p->data);
    memcpy(p->data, buf, p->len);
}

static int fake_relay_open(struct turn_worker *w, struct turn_alloc *alloc, const union vc_addr *ip,
                           union vc_addr *bound)
{
    struct fixture *f = fixture_of(w);

    if (f->fail_relay_open || f->next_fd >= 256)
        return -EADDRINUSE;
    int fd = f->next_fd++;
    *bound = *ip;
    addr_set_port(bound, (uint16_t)(50000 + fd));
    f->relays[fd] = alloc;
    f->open_relays++;
    return fd;
}

static void fake_relay_close(struct turn_worker *w, int relay)
{
    struct fixture *f = fixture_of(w);

    f->relays[relay] = NULL;
    f->df[relay] = false;
    f->open_relays--;
}

/* Port 50000 + fd: an even fd for the relay and the next one reserved. */
static int fake_relay_open_pair(struct turn_worker *w, struct turn_alloc *alloc,
                                const union vc_addr *ip, union vc_addr *bound, int *reserved,
                                union vc_addr *reserved_addr)
{
    struct fixture *f = fixture_of(w);

    f->next_fd += f->next_fd & 1;
    if (f->fail_relay_pair || f->next_fd + 1 >= 256)
        return -EADDRINUSE;
    int fd = f->next_fd;
    f->next_fd += 2;
    *bound = *reserved_addr = *ip;
    addr_set_port(bound, (uint16_t)(50000 + fd));
    addr_set_port(reserved_addr, (uint16_t)(50000 + fd + 1));
    f->relays[fd] = alloc;
    f->open_relays++;
    *reserved = fd + 1;
    f->reserved[fd + 1] = true;
    f->open_reserved++;
    return fd;
}

static int fake_relay_adopt(struct turn_worker *w, struct turn_alloc *alloc, int reserved,
                            const union vc_addr *bound)
{
    struct fixture *f = fixture_of(w);

    (void)bound;
    if (reserved < 0 || reserved >= 256 || !f->reserved[reserved]) {
        f->bad_closes++;
        return -EBADF;
    }
    f->reserved[reserved] = false;
    f->open_reserved--;
    f->relays[reserved] = alloc;
    f->open_relays++;
    return reserved;
}

static void fake_reserved_close(struct turn_worker *w, int reserved)
{
    struct fixture *f = fixture_of(w);

    if (reserved < 0 || reserved >= 256 || !f->reserved[reserved]) {
        f->bad_closes++;
        return;
    }
    f->reserved[reserved] = false;
    f->open_reserved--;
}

static int fake_relay_dont_fragment(struct turn_worker *w, int relay)
{
    struct fixture *f = fixture_of(w);

    if (f->fail_dont_fragment)
        return -EOPNOTSUPP;
    f->df[relay] = true;
    return 0;
}

static int fake_send_peer(struct turn_worker *w, int relay, const union vc_addr *peer,
                          const uint8_t *buf, size_t len)
{
    record(fixture_of(w), true, relay, peer, buf, len);
    return 0;
}

static int fake_send_client(struct turn_worker *w, const struct turn_client *c, const uint8_t *buf,
                            size_t len)
{
    struct fixture *f = fixture_of(w);
    struct stun_msg m;
    const struct stun_attr *t;

    record(f, false, -1, &c->remote, buf, len);
    if (stun_parse(&m, buf, len) == 0 && m.cls == STUN_SUCCESS &&
        (t = stun_find(&m, TURN_ATTR_RESERVATION_TOKEN)) && t->len == sizeof(f->last_token))
        memcpy(f->last_token, stun_attr_value(&m, t), sizeof(f->last_token));
    return 0;
}

static int fake_fast_sync(struct turn_worker *w, const struct turn_fast_view *v, uint64_t **budget)
{
    struct fixture *f = fixture_of(w);

    if (!f->fast_on)
        return -1;
    f->fast_syncs++;
    f->fast_last = *v;
    *budget = &f->fast_budget;
    return 7;
}

static void fake_fast_unbind(struct turn_worker *w, const struct turn_fast_view *v, uint16_t number,
                             const union vc_addr *peer)
{
    struct fixture *f = fixture_of(w);

    (void)v, (void)peer;
    f->fast_unbinds++;
    f->fast_unbound = number;
}

static void fake_fast_free(struct turn_worker *w, const struct turn_fast_view *v,
                           struct turn_fast_counts *c)
{
    struct fixture *f = fixture_of(w);

    (void)v;
    f->fast_frees++;
    *c = f->fast_counts;
}

static const struct turn_io_ops fake_ops = {
    .relay_open = fake_relay_open,
    .relay_close = fake_relay_close,
    .relay_open_pair = fake_relay_open_pair,
    .relay_adopt = fake_relay_adopt,
    .reserved_close = fake_reserved_close,
    .relay_dont_fragment = fake_relay_dont_fragment,
    .send_peer = fake_send_peer,
    .send_client = fake_send_client,
    .fast_sync = fake_fast_sync,
    .fast_unbind = fake_fast_unbind,
    .fast_free = fake_fast_free,
};

struct turn_worker *fix_worker_new(struct fixture *f, unsigned index)
{
    struct turn_worker *w = turn_worker_new(f->srv, index, &fake_ops, f);

    turn_worker_set_clock(w, f->mono_ms, f->unix_s);
    return w;
}

void fix_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->policy = policy_new();
    f->set.realm = "vc";
    f->set.secret = (const uint8_t *)FIX_SECRET;
    f->set.secret_len = strlen(FIX_SECRET);
    f->set.policy = f->policy;
    addr_parse_ip(&f->set.relay_ip4, "192.0.2.10");
    f->set.port_min = 50000;
    f->set.port_max = 50255;
    f->set.max_allocations = 64;
    f->set.user_quota = 4;
    f->set.bps = 0;
    f->set.max_lifetime = 3600;
    f->set.nonce_lifetime = 600;
    f->set.unauth_rate = 1000;
    f->set.workers = 1;
    f->mono_ms = 1000000;
    f->unix_s = 1900000000;
    f->next_fd = 3;
    f->client.transport = TURN_UDP;
    f->client.fd = 1;
    addr_parse(&f->client.local, "192.0.2.10:3478", 0);
    addr_parse(&f->client.remote, "203.0.113.7:40000", 0);
}

void fix_start(struct fixture *f)
{
    f->srv = turn_server_new(&f->set);
    f->w = turn_worker_new(f->srv, 0, &fake_ops, f);
    turn_worker_set_clock(f->w, f->mono_ms, f->unix_s);
    fix_credentials(f, 3600, "peer1");
}

void fix_free(struct fixture *f)
{
    turn_worker_free(f->w);
    turn_server_free(f->srv);
    policy_free(f->policy);
}

void fix_advance(struct fixture *f, uint64_t ms)
{
    f->mono_ms += ms;
    f->unix_s += (int64_t)(ms / 1000);
    turn_worker_set_clock(f->w, f->mono_ms, f->unix_s);
}

void fix_credentials(struct fixture *f, int64_t ttl, const char *id)
{
    char pass[64];
    int plen;

    snprintf(f->user, sizeof(f->user), "%lld:%s", (long long)(f->unix_s + ttl), id);
    plen = rest_cred_password(f->set.secret, f->set.secret_len, f->user, strlen(f->user), pass,
                              sizeof(pass));
    f->key_len = stun_long_term_key(f->alg ? f->alg : STUN_PWALG_MD5, f->user, strlen(f->user),
                                    "vc", 2, pass, (size_t)plen, f->key);
}

void fix_begin(struct fixture *f, struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
               uint8_t cls)
{
    uint8_t txid[STUN_TXID_LEN];
    static unsigned counter;

    (void)f;
    counter++;
    memset(txid, 0, sizeof(txid));
    memcpy(txid, &counter, sizeof(counter));
    txid[11] = 0x5a;
    stun_build_init(b, buf, cap, method, cls, txid);
}

static void feed(struct fixture *f, struct stun_builder *b)
{
    int len = stun_build_finish(b);

    if (len > 0)
        turn_worker_client_input(f->w, &f->client, b->buf, (size_t)len);
}

void fix_send_plain(struct fixture *f, struct stun_builder *b)
{
    stun_build_fingerprint(b);
    feed(f, b);
}

void fix_send_auth(struct fixture *f, struct stun_builder *b)
{
    static const uint8_t algs[] = {0, STUN_PWALG_SHA256, 0, 0, 0, STUN_PWALG_MD5, 0, 0};

    stun_build_attr(b, STUN_ATTR_USERNAME, f->user, strlen(f->user));
    stun_build_attr(b, STUN_ATTR_REALM, "vc", 2);
    stun_build_attr(b, STUN_ATTR_NONCE, f->nonce, strlen(f->nonce));
    if (f->alg == STUN_PWALG_SHA256) {
        uint8_t alg[4] = {0, STUN_PWALG_SHA256, 0, 0};
        stun_build_attr(b, STUN_ATTR_PASSWORD_ALGORITHMS, algs, sizeof(algs));
        stun_build_attr(b, STUN_ATTR_PASSWORD_ALGORITHM, alg, sizeof(alg));
        stun_build_integrity_sha256(b, f->key, (size_t)f->key_len);
    } else {
        stun_build_integrity(b, f->key, (size_t)f->key_len);
    }
    stun_build_fingerprint(b);
    feed(f, b);
}

int fix_last_reply(struct fixture *f, struct stun_msg *m)
{
    static struct fix_packet last;

    for (unsigned i = f->nsent; i-- > 0;) {
        if (f->sent[i].to_peer)
            continue;
        last = f->sent[i];
        f->nsent = 0;
        if (stun_parse(m, last.data, last.len) < 0)
            return -1;
        if (m->cls != STUN_ERROR)
            return 0;
        int code = -1;
        const char *reason;
        size_t rlen;
        const struct stun_attr *e = stun_find(m, STUN_ATTR_ERROR_CODE);
        if (e)
            stun_attr_error(m, e, &code, &reason, &rlen);
        return code;
    }
    f->nsent = 0;
    return -1;
}

void fix_fetch_nonce(struct fixture *f)
{
    uint8_t buf[256];
    struct stun_builder b;
    struct stun_msg m;
    uint32_t udp = 17u << 24;

    fix_begin(f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, udp);
    fix_send_plain(f, &b);
    if (fix_last_reply(f, &m) == 401) {
        const struct stun_attr *n = stun_find(&m, STUN_ATTR_NONCE);
        memcpy(f->nonce, stun_attr_value(&m, n), n->len);
        f->nonce[n->len] = '\0';
    }
}

int fix_allocate(struct fixture *f)
{
    uint8_t buf[512];
    struct stun_builder b;
    struct stun_msg m;

    fix_fetch_nonce(f);
    fix_begin(f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    fix_send_auth(f, &b);
    return fix_last_reply(f, &m);
}

int fix_permit(struct fixture *f, const char *peer)
{
    uint8_t buf[512];
    struct stun_builder b;
    struct stun_msg m;
    union vc_addr a;

    addr_parse(&a, peer, 0);
    fix_begin(f, &b, buf, sizeof(buf), TURN_CREATE_PERMISSION, STUN_REQUEST);
    stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &a);
    fix_send_auth(f, &b);
    return fix_last_reply(f, &m);
}

int fix_bind(struct fixture *f, uint16_t channel, const char *peer)
{
    uint8_t buf[512];
    struct stun_builder b;
    struct stun_msg m;
    union vc_addr a;

    addr_parse(&a, peer, 0);
    fix_begin(f, &b, buf, sizeof(buf), TURN_CHANNEL_BIND, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_CHANNEL_NUMBER, (uint32_t)channel << 16);
    stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &a);
    fix_send_auth(f, &b);
    return fix_last_reply(f, &m);
}

struct turn_alloc *fix_relay(struct fixture *f, int fd)
{
    return fd >= 0 && fd < 256 ? f->relays[fd] : NULL;
}
