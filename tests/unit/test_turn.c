/* TURN core behaviour through fake sockets: auth, allocations, permissions, channels, relaying. */
#include <errno.h>
#include <string.h>

#include "vc/policy.h"
#include "vc/stun.h"
#include "vc/rest_cred.h"
#include "vc/turn.h"
#include "test.h"
#include "turn_fixture.h"

#define GLOBAL_PEER "93.184.216.34:6000"

static int reply_code(struct fixture *f)
{
    struct stun_msg m;

    return fix_last_reply(f, &m);
}

static void started(struct fixture *f)
{
    fix_init(f);
    fix_start(f);
}

TEST(binding_answers_with_xor_mapped_address)
{
    struct fixture f;
    uint8_t buf[64];
    struct stun_builder b;
    struct stun_msg m;
    union vc_addr mapped;

    started(&f);
    fix_begin(&f, &b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST);
    fix_send_plain(&f, &b);
    CHECK_INT(fix_last_reply(&f, &m), 0);
    CHECK_INT(m.method, STUN_BINDING);
    const struct stun_attr *x = stun_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS);
    CHECK(x && stun_attr_xor_addr(&m, x, &mapped) == 0 && addr_equal(&mapped, &f.client.remote));
    CHECK_INT(stun_check_fingerprint(&m), 0);
    fix_free(&f);
}

TEST(unauthenticated_allocate_gets_small_401_challenge)
{
    struct fixture f;
    uint8_t buf[64];
    struct stun_builder b;
    struct stun_msg m;

    started(&f);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    int reqlen = stun_build_finish(&b);
    turn_worker_client_input(f.w, &f.client, buf, (size_t)reqlen);
    CHECK_INT(f.nsent, 1);
    size_t resplen = f.sent[0].len;
    CHECK_INT(fix_last_reply(&f, &m), 401);
    CHECK(stun_find(&m, STUN_ATTR_REALM) != NULL);
    const struct stun_attr *n = stun_find(&m, STUN_ATTR_NONCE);
    CHECK(n && n->len > 13 && memcmp(stun_attr_value(&m, n), "obMatJos2", 9) == 0);
    CHECK(stun_find(&m, STUN_ATTR_PASSWORD_ALGORITHMS) != NULL);
    CHECK(stun_find(&m, STUN_ATTR_SOFTWARE) == NULL);
    /* No amplification: at most 4x a minimal 28-byte request, and never over 100 bytes. */
    CHECK(resplen <= 4 * (size_t)reqlen);
    CHECK(resplen <= 100);
    CHECK_INT(turn_worker_stats(f.w)->allocations, 0);
    fix_free(&f);
}

TEST(refresh_extends_the_lifetime_with_an_integrity_protected_answer)
{
    struct fixture f;
    uint8_t buf[256];
    struct stun_builder b;
    struct stun_msg m;
    uint32_t lifetime = 0;

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(turn_worker_stats(f.w)->allocations, 1);
    CHECK_INT(f.open_relays, 1);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_LIFETIME, 1200);
    fix_send_auth(&f, &b);
    CHECK_INT(fix_last_reply(&f, &m), 0);
    CHECK(stun_attr_u32(&m, stun_find(&m, TURN_ATTR_LIFETIME), &lifetime) == 0);
    CHECK_INT(lifetime, 1200);
    CHECK_INT(stun_check_integrity(&m, f.key, (size_t)f.key_len), 0);
    fix_free(&f);
}

TEST(allocate_success_carries_relayed_mapped_lifetime_and_integrity)
{
    struct fixture f;
    uint8_t buf[256];
    struct stun_builder b;
    struct stun_msg m;
    union vc_addr relay, mapped;
    uint32_t lifetime = 0;

    started(&f);
    fix_fetch_nonce(&f);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    stun_build_u32(&b, TURN_ATTR_LIFETIME, 99999);
    fix_send_auth(&f, &b);
    CHECK_INT(fix_last_reply(&f, &m), 0);
    CHECK_INT(stun_check_integrity(&m, f.key, (size_t)f.key_len), 0);
    CHECK(m.integrity >= 0 && m.integrity_sha256 < 0);
    CHECK(stun_attr_xor_addr(&m, stun_find(&m, TURN_ATTR_XOR_RELAYED_ADDRESS), &relay) == 0);
    CHECK(addr_equal_ip(&relay, &f.set.relay_ip4));
    CHECK(addr_port(&relay) >= 50000);
    CHECK(stun_attr_xor_addr(&m, stun_find(&m, STUN_ATTR_XOR_MAPPED_ADDRESS), &mapped) == 0);
    CHECK(addr_equal(&mapped, &f.client.remote));
    CHECK(stun_attr_u32(&m, stun_find(&m, TURN_ATTR_LIFETIME), &lifetime) == 0);
    CHECK_INT(lifetime, 3600); /* clamped to max-lifetime */
    fix_free(&f);
}

TEST(allocate_with_sha256_password_algorithm_answers_with_integrity_sha256)
{
    struct fixture f;
    uint8_t buf[256];
    struct stun_builder b;
    struct stun_msg m;

    fix_init(&f);
    f.alg = STUN_PWALG_SHA256;
    fix_start(&f);
    CHECK_INT(fix_allocate(&f), 0);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST);
    fix_send_auth(&f, &b);
    CHECK_INT(fix_last_reply(&f, &m), 0);
    CHECK(m.integrity_sha256 >= 0);
    CHECK_INT(stun_check_integrity(&m, f.key, (size_t)f.key_len), 0);
    fix_free(&f);
}

TEST(password_algorithm_without_matching_list_is_a_bid_down_400)
{
    struct fixture f;
    uint8_t buf[256];
    struct stun_builder b;
    uint8_t alg[4] = {0, STUN_PWALG_MD5, 0, 0};

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST);
    stun_build_attr(&b, STUN_ATTR_PASSWORD_ALGORITHM, alg, sizeof(alg));
    fix_send_auth(&f, &b);
    CHECK_INT(reply_code(&f), 400);
    fix_free(&f);
}

TEST(expired_credential_cannot_allocate_or_refresh)
{
    struct fixture f;
    uint8_t buf[256];
    struct stun_builder b;

    started(&f);
    fix_credentials(&f, -1, "late");
    CHECK_INT(fix_allocate(&f), 401);
    CHECK_INT(turn_worker_stats(f.w)->allocations, 0);
    CHECK_INT(turn_worker_stats(f.w)->auth_failures, 1);

    fix_credentials(&f, 60, "soon");
    CHECK_INT(fix_allocate(&f), 0);
    fix_advance(&f, 61 * 1000);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST);
    fix_send_auth(&f, &b);
    CHECK_INT(reply_code(&f), 401);
    CHECK_INT(turn_worker_stats(f.w)->auth_failures, 2);
    CHECK_INT(f.open_relays, 1);
    fix_free(&f);
}

TEST(wrong_password_is_401_and_counted)
{
    struct fixture f;

    started(&f);
    f.key[0] ^= 1;
    CHECK_INT(fix_allocate(&f), 401);
    CHECK_INT(turn_worker_stats(f.w)->auth_failures, 1);
    CHECK_INT(f.open_relays, 0);
    fix_free(&f);
}

TEST(nonce_is_bound_to_client_address_and_goes_stale)
{
    struct fixture f;
    uint8_t buf[256];
    struct stun_builder b;

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    /* The same nonce from another port of the same address (another client behind one NAT)
     * works: it allocates without a 401 round. */
    addr_parse(&f.client.remote, "203.0.113.7:40001", 0);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    fix_send_auth(&f, &b);
    CHECK_INT(reply_code(&f), 0);
    /* From another address it is stale. */
    addr_parse(&f.client.remote, "203.0.113.8:40001", 0);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    fix_send_auth(&f, &b);
    CHECK_INT(reply_code(&f), 438);
    /* And from the right address after the nonce lifetime. */
    addr_parse(&f.client.remote, "203.0.113.7:40000", 0);
    fix_advance(&f, 601 * 1000);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST);
    fix_send_auth(&f, &b);
    CHECK_INT(reply_code(&f), 438);
    CHECK(turn_worker_stats(f.w)->stale_nonces >= 2);
    fix_free(&f);
}

TEST(retransmitted_allocate_is_answered_again_and_a_new_one_is_437)
{
    struct fixture f;
    uint8_t buf[256];
    struct stun_builder b;

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    /* Re-send the exact same request bytes: same transaction id. */
    fix_begin(&f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    fix_send_auth(&f, &b);
    CHECK_INT(reply_code(&f), 437);
    CHECK_INT(f.open_relays, 1);
    fix_free(&f);
}

TEST(refresh_with_zero_lifetime_deletes_the_allocation)
{
    struct fixture f;
    uint8_t buf[256];
    struct stun_builder b;

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_LIFETIME, 0);
    fix_send_auth(&f, &b);
    CHECK_INT(reply_code(&f), 0);
    CHECK_INT(f.open_relays, 0);
    CHECK_INT(turn_worker_stats(f.w)->allocations, 0);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST);
    fix_send_auth(&f, &b);
    CHECK_INT(reply_code(&f), 437);
    fix_free(&f);
}

TEST(requests_without_allocation_get_437)
{
    struct fixture f;

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    addr_parse(&f.client.remote, "203.0.113.8:1000", 0);
    fix_fetch_nonce(&f); /* the 401 for this new 5-tuple creates nothing */
    CHECK_INT(fix_permit(&f, GLOBAL_PEER), 437);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 437);
    CHECK_INT(f.open_relays, 1);
    fix_free(&f);
}

TEST(another_credential_on_the_same_allocation_is_441)
{
    struct fixture f;

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    fix_credentials(&f, 3600, "someone-else");
    CHECK_INT(fix_permit(&f, GLOBAL_PEER), 441);
    fix_free(&f);
}

TEST(allocation_requires_udp_transport_and_a_known_family)
{
    struct fixture f;
    uint8_t buf[256];
    struct stun_builder b;
    uint32_t v6 = 0x02u << 24, bogus = 0x07u << 24;

    started(&f);
    struct {
        uint16_t attr;
        uint32_t value;
        bool transport;
        int code;
    } cases[] = {
        {TURN_ATTR_REQUESTED_TRANSPORT, 6u << 24, false, 442},
        {TURN_ATTR_REQUESTED_ADDRESS_FAMILY, v6, true, 440}, /* no IPv6 relay configured */
        {TURN_ATTR_REQUESTED_ADDRESS_FAMILY, bogus, true, 440},
    };
    /* A fresh client for each, so no allocation exists yet. */
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fix_free(&f);
        started(&f);
        fix_allocate(&f);
        addr_parse(&f.client.remote, "203.0.113.9:1", 0);
        fix_fetch_nonce(&f);
        fix_begin(&f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
        if (cases[i].transport)
            stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
        stun_build_u32(&b, cases[i].attr, cases[i].value);
        fix_send_auth(&f, &b);
        if (!CHECK_INT(reply_code(&f), cases[i].code))
            fprintf(stderr, "    case %u\n", i);
    }
    CHECK_INT(f.open_relays, 1); /* only the setup allocation */
    fix_free(&f);
}

TEST(ipv6_relay_is_granted_when_configured)
{
    struct fixture f;
    uint8_t buf[256];
    struct stun_builder b;
    struct stun_msg m;
    union vc_addr relay;

    fix_init(&f);
    addr_parse_ip(&f.set.relay_ip6, "2001:db8::10");
    fix_start(&f);
    fix_allocate(&f);
    addr_parse(&f.client.remote, "203.0.113.9:1", 0);
    fix_fetch_nonce(&f);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_ADDRESS_FAMILY, 0x02u << 24);
    fix_send_auth(&f, &b);
    CHECK_INT(fix_last_reply(&f, &m), 0);
    CHECK(stun_attr_xor_addr(&m, stun_find(&m, TURN_ATTR_XOR_RELAYED_ADDRESS), &relay) == 0);
    CHECK_INT(relay.sa.sa_family, AF_INET6);
    /* An IPv4 peer on an IPv6 allocation is a family mismatch. */
    CHECK_INT(fix_permit(&f, GLOBAL_PEER), 443);
    CHECK_INT(fix_permit(&f, "[2606:4700:4700::1111]:53"), 0);
    fix_free(&f);
}

TEST(permission_to_a_refused_peer_is_403_and_counted)
{
    struct fixture f;

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    const char *refused[] = {"127.0.0.1:80",  "10.0.0.1:80",      "169.254.169.254:80",
                             "100.64.0.1:80", "192.168.1.1:80",   "224.0.0.1:80",
                             "0.0.0.0:80",    "255.255.255.255:9"};
    for (unsigned i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (!CHECK_INT(fix_permit(&f, refused[i]), 403))
            fprintf(stderr, "    peer %s\n", refused[i]);
    CHECK_INT(turn_worker_stats(f.w)->peer_denied, 8);
    CHECK_INT(fix_bind(&f, 0x4000, "10.1.2.3:5000"), 403);
    CHECK_INT(fix_permit(&f, GLOBAL_PEER), 0);
    fix_free(&f);
}

TEST(allow_peer_opens_a_refused_range)
{
    struct fixture f;

    fix_init(&f);
    CHECK_INT(policy_allow(f.policy, "127.0.0.0/8"), 0);
    fix_start(&f);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(fix_permit(&f, "127.0.0.1:5000"), 0);
    fix_free(&f);
}

TEST(channel_bind_validates_number_and_uniqueness)
{
    struct fixture f;

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(fix_bind(&f, 0x3FFF, GLOBAL_PEER), 400);
    CHECK_INT(fix_bind(&f, 0x8000, GLOBAL_PEER), 400);
    CHECK_INT(fix_bind(&f, 0xFFFF, GLOBAL_PEER), 400);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 0);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 0); /* refresh */
    CHECK_INT(fix_bind(&f, 0x4000, "93.184.216.35:6000"), 400);
    CHECK_INT(fix_bind(&f, 0x4001, GLOBAL_PEER), 400);
    CHECK_INT(fix_bind(&f, 0x4FFF, "93.184.216.35:6000"), 0);
    CHECK_INT(fix_bind(&f, 0x7FFF, "93.184.216.36:6000"), 0); /* RFC 5766 clients */
    fix_free(&f);
}

static void send_channel_data(struct fixture *f, uint16_t channel, const char *payload)
{
    uint8_t buf[256];
    size_t n = strlen(payload);

    buf[0] = (uint8_t)(channel >> 8);
    buf[1] = (uint8_t)channel;
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    memcpy(buf + 4, payload, n);
    turn_worker_client_input(f->w, &f->client, buf, 4 + n);
}

static void send_indication(struct fixture *f, const char *peer, const char *payload)
{
    uint8_t buf[256];
    struct stun_builder b;
    union vc_addr a;

    addr_parse(&a, peer, 0);
    fix_begin(f, &b, buf, sizeof(buf), TURN_SEND, STUN_INDICATION);
    stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, &a);
    stun_build_attr(&b, TURN_ATTR_DATA, payload, strlen(payload));
    fix_send_plain(f, &b);
}

TEST(channel_data_is_relayed_to_the_bound_peer_only)
{
    struct fixture f;
    union vc_addr peer;

    started(&f);
    addr_parse(&peer, GLOBAL_PEER, 0);
    CHECK_INT(fix_allocate(&f), 0);
    send_channel_data(&f, 0x4000, "nobind");
    CHECK_INT(f.nsent, 0);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 0);
    send_channel_data(&f, 0x4000, "hello");
    if (CHECK_INT(f.nsent, 1)) {
        CHECK(f.sent[0].to_peer);
        CHECK(addr_equal(&f.sent[0].dest, &peer));
        CHECK_INT(f.sent[0].len, 5);
        CHECK_MEM(f.sent[0].data, "hello", 5);
    }
    CHECK_INT(turn_worker_stats(f.w)->relayed_packets, 1);
    CHECK_INT(turn_worker_stats(f.w)->relayed_bytes, 5);
    /* A length field longer than the datagram is dropped. */
    f.nsent = 0;
    uint8_t bad[] = {0x40, 0x00, 0x00, 0x10, 'x'};
    turn_worker_client_input(f.w, &f.client, bad, sizeof(bad));
    CHECK_INT(f.nsent, 0);
    fix_free(&f);
}

TEST(send_indication_needs_a_permission_and_passes_the_policy_again)
{
    struct fixture f;

    fix_init(&f);
    policy_allow(f.policy, "192.0.2.0/24");
    policy_add_self(f.policy, &f.set.relay_ip4, 50000, 50255);
    fix_start(&f);
    CHECK_INT(fix_allocate(&f), 0);
    send_indication(&f, GLOBAL_PEER, "no-permission");
    CHECK_INT(f.nsent, 0);
    CHECK_INT(fix_permit(&f, GLOBAL_PEER), 0);
    send_indication(&f, GLOBAL_PEER, "hi");
    CHECK(f.nsent == 1 && f.sent[0].to_peer && f.sent[0].len == 2);
    f.nsent = 0;
    /* A permission for the relay's own IP (another allocation's relay port) ... */
    CHECK_INT(fix_permit(&f, "192.0.2.10:50001"), 0);
    send_indication(&f, "192.0.2.10:50001", "to-relay");
    CHECK_INT(f.nsent, 1);
    f.nsent = 0;
    /* ... does not open the server's own listener on that IP. */
    uint64_t denied = turn_worker_stats(f.w)->peer_denied;
    send_indication(&f, "192.0.2.10:3478", "loop");
    CHECK_INT(f.nsent, 0);
    CHECK_INT(turn_worker_stats(f.w)->peer_denied, denied + 1);
    fix_free(&f);
}

TEST(peer_data_reaches_the_client_as_channel_data_or_data_indication)
{
    struct fixture f;
    uint8_t space[TURN_HEADROOM + 64 + TURN_TAILROOM];
    uint8_t *payload = space + TURN_HEADROOM;
    union vc_addr peer, other;
    struct stun_msg m;

    started(&f);
    addr_parse(&peer, GLOBAL_PEER, 0);
    addr_parse(&other, "93.184.216.99:1", 0);
    CHECK_INT(fix_allocate(&f), 0);
    struct turn_alloc *a = fix_relay(&f, 3);
    if (!CHECK(a != NULL))
        return fix_free(&f);
    memcpy(payload, "abcde", 5);
    turn_worker_peer_input(f.w, a, &peer, payload, 5);
    CHECK_INT(f.nsent, 0); /* no permission yet */

    CHECK_INT(fix_permit(&f, GLOBAL_PEER), 0);
    memcpy(payload, "abcde", 5);
    turn_worker_peer_input(f.w, a, &peer, payload, 5);
    if (CHECK_INT(f.nsent, 1)) {
        CHECK_INT(stun_parse(&m, f.sent[0].data, f.sent[0].len), 0);
        CHECK_INT(m.method, TURN_DATA);
        CHECK_INT(m.cls, STUN_INDICATION);
        const struct stun_attr *d = stun_find(&m, TURN_ATTR_DATA);
        union vc_addr from;
        CHECK(d && d->len == 5 && memcmp(stun_attr_value(&m, d), "abcde", 5) == 0);
        CHECK(stun_attr_xor_addr(&m, stun_find(&m, TURN_ATTR_XOR_PEER_ADDRESS), &from) == 0 &&
              addr_equal(&from, &peer));
    }
    f.nsent = 0;
    turn_worker_peer_input(f.w, a, &other, payload, 5);
    CHECK_INT(f.nsent, 0); /* other IP: no permission */

    CHECK_INT(fix_bind(&f, 0x4123, GLOBAL_PEER), 0);
    memcpy(payload, "xyz", 3);
    turn_worker_peer_input(f.w, a, &peer, payload, 3);
    if (CHECK_INT(f.nsent, 1)) {
        uint8_t want[] = {0x41, 0x23, 0x00, 0x03, 'x', 'y', 'z'};
        CHECK_INT(f.sent[0].len, sizeof(want));
        CHECK_MEM(f.sent[0].data, want, sizeof(want));
    }
    fix_free(&f);
}

TEST(channel_data_to_a_stream_client_is_padded)
{
    struct fixture f;
    uint8_t space[TURN_HEADROOM + 64 + TURN_TAILROOM];
    uint8_t *payload = space + TURN_HEADROOM;
    union vc_addr peer;

    fix_init(&f);
    f.client.transport = TURN_TCP;
    fix_start(&f);
    addr_parse(&peer, GLOBAL_PEER, 0);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 0);
    memcpy(payload, "xyzzy", 5);
    turn_worker_peer_input(f.w, fix_relay(&f, 3), &peer, payload, 5);
    CHECK(f.nsent == 1 && f.sent[0].len == 12);
    turn_worker_stream_closed(f.w, &f.client);
    CHECK_INT(f.open_relays, 0);
    fix_free(&f);
}

TEST(permissions_expire_after_five_minutes_and_allocations_at_lifetime)
{
    struct fixture f;
    uint8_t space[TURN_HEADROOM + 64 + TURN_TAILROOM];
    union vc_addr peer;

    started(&f);
    addr_parse(&peer, GLOBAL_PEER, 0);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(fix_permit(&f, GLOBAL_PEER), 0);
    fix_advance(&f, 301 * 1000);
    turn_worker_tick(f.w);
    turn_worker_peer_input(f.w, fix_relay(&f, 3), &peer, space + TURN_HEADROOM, 4);
    CHECK_INT(f.nsent, 0);
    CHECK_INT(f.open_relays, 1);
    fix_advance(&f, 300 * 1000);
    turn_worker_tick(f.w);
    CHECK_INT(f.open_relays, 0);
    CHECK_INT(turn_worker_stats(f.w)->allocations, 0);
    fix_free(&f);
}

TEST(per_credential_quota_is_486_and_server_cap_is_508)
{
    struct fixture f;
    char addr[64];

    fix_init(&f);
    f.set.user_quota = 2;
    f.set.max_allocations = 3;
    fix_start(&f);
    for (int i = 0; i < 2; i++) {
        snprintf(addr, sizeof(addr), "203.0.113.7:%d", 1000 + i);
        addr_parse(&f.client.remote, addr, 0);
        CHECK_INT(fix_allocate(&f), 0);
    }
    addr_parse(&f.client.remote, "203.0.113.7:1002", 0);
    CHECK_INT(fix_allocate(&f), 486);
    fix_credentials(&f, 3600, "peer2");
    CHECK_INT(fix_allocate(&f), 0);
    addr_parse(&f.client.remote, "203.0.113.7:1003", 0);
    CHECK_INT(fix_allocate(&f), 508);
    CHECK_INT(turn_worker_stats(f.w)->quota_rejected, 2);
    /* Freeing one gives the quota back. */
    turn_worker_stream_closed(f.w, &(struct turn_client){
                                       .transport = TURN_UDP,
                                       .fd = 1,
                                       .local = f.client.local,
                                       .remote = f.client.remote,
                                   });
    fix_free(&f);
}

TEST(relay_port_exhaustion_is_508_and_leaks_nothing)
{
    struct fixture f;

    started(&f);
    f.fail_relay_open = 1;
    CHECK_INT(fix_allocate(&f), 508);
    CHECK_INT(turn_worker_stats(f.w)->allocations, 0);
    f.fail_relay_open = 0;
    CHECK_INT(fix_allocate(&f), 0);
    fix_free(&f);
}

TEST(unauthenticated_requests_are_rate_limited_per_source_ip)
{
    struct fixture f;
    uint8_t buf[64];
    struct stun_builder b;
    unsigned answered = 0;

    fix_init(&f);
    f.set.unauth_rate = 10;
    fix_start(&f);
    for (int i = 0; i < 200; i++) {
        fix_begin(&f, &b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST);
        fix_send_plain(&f, &b);
        answered += f.nsent;
        f.nsent = 0;
    }
    CHECK_INT(answered, 20); /* the two-second burst */
    CHECK_INT(turn_worker_stats(f.w)->rate_limited, 180);
    addr_parse(&f.client.remote, "198.51.100.1:9", 0);
    fix_begin(&f, &b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST);
    fix_send_plain(&f, &b);
    CHECK_INT(f.nsent, 1);
    fix_advance(&f, 1000);
    f.nsent = 0;
    addr_parse(&f.client.remote, "203.0.113.7:40000", 0);
    fix_begin(&f, &b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST);
    fix_send_plain(&f, &b);
    CHECK_INT(f.nsent, 1);
    fix_free(&f);
}

TEST(authenticated_requests_from_one_address_are_not_rate_limited)
{
    struct fixture f;
    uint8_t buf[512];
    struct stun_builder b;
    char addr[64];
    int ok = 0, limited = 0;

    fix_init(&f);
    f.set.unauth_rate = 5; /* a burst of 10 anonymous requests */
    f.set.max_allocations = 1000;
    f.set.user_quota = 1000;
    fix_start(&f);
    fix_credentials(&f, 3600, "nat");
    fix_fetch_nonce(&f); /* one anonymous request: the nonce serves every port of the address */
    for (int i = 0; i < 100; i++) {
        snprintf(addr, sizeof(addr), "203.0.113.7:%d", 41000 + i);
        addr_parse(&f.client.remote, addr, 0);
        fix_begin(&f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
        stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
        fix_send_auth(&f, &b);
        ok += reply_code(&f) == 0;
    }
    CHECK_INT(ok, 100);
    CHECK_INT(turn_worker_stats(f.w)->rate_limited, 0);
    /* Requests whose integrity fails, and anonymous ones, still count: the burst, then silence. */
    memset(f.key, 0x55, sizeof(f.key));
    for (int i = 0; i < 30; i++) {
        snprintf(addr, sizeof(addr), "203.0.113.7:%d", 42000 + i);
        addr_parse(&f.client.remote, addr, 0);
        f.nsent = 0;
        fix_begin(&f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
        stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
        fix_send_auth(&f, &b);
        limited += f.nsent == 0;
    }
    CHECK_INT(limited, 30 - 9); /* the nonce fetch spent one of the ten */
    fix_free(&f);
}

TEST(unknown_comprehension_required_attribute_gets_420)
{
    struct fixture f;
    uint8_t buf[64];
    struct stun_builder b;
    struct stun_msg m;

    started(&f);
    fix_begin(&f, &b, buf, sizeof(buf), STUN_BINDING, STUN_REQUEST);
    stun_build_u32(&b, 0x0031, 1);
    fix_send_plain(&f, &b);
    CHECK_INT(fix_last_reply(&f, &m), 420);
    const struct stun_attr *u = stun_find(&m, STUN_ATTR_UNKNOWN_ATTRIBUTES);
    CHECK(u && u->len == 2 && stun_attr_value(&m, u)[1] == 0x31);
    fix_free(&f);
}

TEST(bandwidth_cap_drops_beyond_the_budget)
{
    struct fixture f;

    fix_init(&f);
    f.set.bps = 8 * 100; /* 100 bytes a second */
    fix_start(&f);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 0);
    for (int i = 0; i < 20; i++)
        send_channel_data(&f, 0x4000, "0123456789");
    CHECK_INT(turn_worker_stats(f.w)->relayed_packets, 10);
    CHECK_INT(turn_worker_stats(f.w)->bandwidth_dropped, 10);
    fix_advance(&f, 500);
    send_channel_data(&f, 0x4000, "0123456789");
    CHECK_INT(turn_worker_stats(f.w)->relayed_packets, 11);
    fix_free(&f);
}

TEST(malformed_client_bytes_are_counted_and_ignored)
{
    struct fixture f;
    uint8_t junk[] = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4,
                      5,    6,    7,    8,    9,    10,   11,   12,   0, 1, 0, 9};

    started(&f);
    turn_worker_client_input(f.w, &f.client, junk, sizeof(junk));
    turn_worker_client_input(f.w, &f.client, junk, 3);
    CHECK_INT(f.nsent, 0);
    CHECK_INT(turn_worker_stats(f.w)->bad_messages, 2);
    fix_free(&f);
}

TEST(stream_frame_length_reads_stun_and_channel_data_headers)
{
    uint8_t stun[8] = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42};
    uint8_t chan[4] = {0x40, 0x00, 0x00, 0x05};
    uint8_t bad_cookie[8] = {0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00};
    uint8_t junk[4] = {0xC0, 0, 0, 0};

    CHECK_INT(turn_stream_frame_len(stun, 3), 0);
    CHECK_INT(turn_stream_frame_len(stun, 8), 28);
    CHECK_INT(turn_stream_frame_len(chan, 4), 12);
    CHECK(turn_stream_frame_len(bad_cookie, 8) < 0);
    CHECK(turn_stream_frame_len(junk, 4) < 0);
}

TEST(rest_password_is_base64_hmac_sha1)
{
    char out[64];
    /* printf %s 1900000000:peer | openssl dgst -sha1 -hmac test-secret -binary | base64 */
    int n = rest_cred_password((const uint8_t *)FIX_SECRET, strlen(FIX_SECRET), "1900000000:peer",
                               15, out, sizeof(out));

    CHECK_INT(n, 28);
    CHECK_STR(out, "6Sb0Aq0tNYB4ge/wOfDLnloouAE=");
}

/* Publishes f->set through turn_server_reload() and lets the worker pass its quiescent point. */
static int reload(struct fixture *f)
{
    int r;

    if (f->set.policy == f->policy)
        f->set.policy = policy_new(); /* the server takes each reload's policy */
    r = turn_server_reload(f->srv, &f->set, f->unix_s);
    if (r < 0)
        policy_free(f->set.policy);
    f->set.policy = f->policy;

    fix_advance(f, 0);
    turn_server_reclaim(f->srv);
    return r;
}

static int refresh(struct fixture *f)
{
    uint8_t buf[256];
    struct stun_builder b;

    fix_begin(f, &b, buf, sizeof(buf), TURN_REFRESH, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_LIFETIME, 600);
    fix_send_auth(f, &b);
    return reply_code(f);
}

TEST(draining_allocate_gets_300_with_alternate_server_and_refresh_still_works)
{
    struct fixture f;
    struct turn_client first;
    struct stun_msg m;
    uint8_t buf[512];
    struct stun_builder b;
    const uint8_t want[] = {0, 0x01, 0x0d, 0x96, 198, 51, 100, 7}; /* IPv4, 3478, 198.51.100.7 */

    fix_init(&f);
    addr_parse(&f.set.alternate_server, "198.51.100.7:3478", 0);
    fix_start(&f);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 0);
    first = f.client;
    turn_server_set_draining(f.srv, true);
    CHECK(turn_server_draining(f.srv));

    /* The existing allocation carries on: refresh, permission, data. */
    CHECK_INT(refresh(&f), 0);
    CHECK_INT(fix_permit(&f, "93.184.216.35:6000"), 0);
    send_channel_data(&f, 0x4000, "still");
    CHECK(f.nsent == 1 && f.sent[0].to_peer);
    f.nsent = 0;

    /* A new client is sent to the sibling, with an integrity-protected answer. */
    addr_parse(&f.client.remote, "203.0.113.8:40001", 0);
    fix_fetch_nonce(&f);
    fix_begin(&f, &b, buf, sizeof(buf), TURN_ALLOCATE, STUN_REQUEST);
    stun_build_u32(&b, TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
    fix_send_auth(&f, &b);
    CHECK_INT(fix_last_reply(&f, &m), 300);
    const struct stun_attr *alt = stun_find(&m, STUN_ATTR_ALTERNATE_SERVER);
    CHECK(alt && alt->len == sizeof(want) && memcmp(stun_attr_value(&m, alt), want, 8) == 0);
    CHECK_INT(stun_check_integrity(&m, f.key, (size_t)f.key_len), 0);
    CHECK_INT(f.open_relays, 1);
    CHECK_INT(turn_worker_stats(f.w)->drain_refused, 1);

    /* Undrained, the same client gets its allocation. */
    turn_server_set_draining(f.srv, false);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(f.open_relays, 2);
    f.client = first;
    fix_fetch_nonce(&f);
    CHECK_INT(refresh(&f), 0);
    fix_free(&f);
}

TEST(draining_without_alternate_server_is_508)
{
    struct fixture f;

    started(&f);
    turn_server_set_draining(f.srv, true);
    CHECK_INT(fix_allocate(&f), 508);
    CHECK_INT(f.open_relays, 0);
    fix_free(&f);
}

TEST(secret_rotation_keeps_the_old_secret_for_credentials_issued_before_it)
{
    struct fixture f;
    char old_user[128], late_user[128];
    uint8_t old_key[STUN_MAX_KEY_LEN], late_key[STUN_MAX_KEY_LEN];
    int old_len, late_len;

    fix_init(&f);
    f.set.secret_grace = 7200;
    fix_start(&f);
    /* Issued before the rotation: within the grace window, and past it. */
    fix_credentials(&f, 3600, "early");
    CHECK_INT(fix_allocate(&f), 0);
    memcpy(old_user, f.user, sizeof(old_user));
    memcpy(old_key, f.key, sizeof(old_key));
    old_len = f.key_len;
    fix_credentials(&f, 3 * 3600, "late");
    memcpy(late_user, f.user, sizeof(late_user));
    memcpy(late_key, f.key, sizeof(late_key));
    late_len = f.key_len;

    f.set.secret = (const uint8_t *)"rotated-secret";
    f.set.secret_len = strlen("rotated-secret");
    CHECK_INT(reload(&f), 0);

    /* The allocation made with the old secret refreshes; its credential is inside the window. */
    memcpy(f.user, old_user, sizeof(f.user));
    memcpy(f.key, old_key, sizeof(f.key));
    f.key_len = old_len;
    CHECK_INT(refresh(&f), 0);
    /* An old-secret credential expiring after the window is refused, and counted. */
    addr_parse(&f.client.remote, "203.0.113.8:40001", 0);
    memcpy(f.user, late_user, sizeof(f.user));
    memcpy(f.key, late_key, sizeof(f.key));
    f.key_len = late_len;
    CHECK_INT(fix_allocate(&f), 401);
    /* A credential under the new secret works; one under neither is refused. */
    fix_credentials(&f, 3 * 3600, "new");
    CHECK_INT(fix_allocate(&f), 0);
    addr_parse(&f.client.remote, "203.0.113.9:40002", 0);
    f.set.secret = (const uint8_t *)"wrong-secret!!"; /* same length, other bytes */
    fix_credentials(&f, 600, "wrong");
    CHECK_INT(fix_allocate(&f), 401);
    CHECK_INT(turn_worker_stats(f.w)->auth_failures, 2);

    /* A second reload with the same secret keeps the window; once it ends, the old is gone. */
    f.set.secret = (const uint8_t *)"rotated-secret";
    CHECK_INT(reload(&f), 0);
    fix_advance(&f, 7201 * 1000);
    addr_parse(&f.client.remote, "203.0.113.10:40003", 0);
    f.set.secret = (const uint8_t *)FIX_SECRET;
    f.set.secret_len = strlen(FIX_SECRET);
    fix_credentials(&f, 600, "stale-secret");
    CHECK_INT(fix_allocate(&f), 401);
    fix_free(&f);
}

TEST(reload_swaps_the_peer_policy_for_new_permissions_only)
{
    struct fixture f;
    struct peer_policy *next = policy_new();

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 0);
    CHECK_INT(fix_permit(&f, "10.0.0.1:80"), 403);

    CHECK_INT(policy_allow(next, "10.0.0.0/8"), 0);
    CHECK_INT(policy_deny(next, "93.184.216.0/24"), 0);
    f.set.policy = next; /* taken by the server */
    f.set.user_quota = 1;
    CHECK_INT(reload(&f), 0);
    CHECK_INT(fix_permit(&f, "10.0.0.1:80"), 0);
    CHECK_INT(fix_permit(&f, "93.184.216.99:80"), 403);
    /* The channel bound before the reload keeps relaying. */
    send_channel_data(&f, 0x4000, "kept");
    CHECK(f.nsent == 1 && f.sent[0].to_peer);
    /* The new limits apply to new allocations: this credential already holds one. */
    addr_parse(&f.client.remote, "203.0.113.8:40001", 0);
    CHECK_INT(fix_allocate(&f), 486);
    fix_free(&f);
}

TEST(reload_refuses_max_allocations_above_the_start_up_pools)
{
    struct fixture f;

    started(&f);
    f.set.max_allocations = 65;
    CHECK_INT(reload(&f), -EINVAL);
    f.set.max_allocations = 1;
    CHECK_INT(reload(&f), 0);
    CHECK_INT(fix_allocate(&f), 0);
    addr_parse(&f.client.remote, "203.0.113.8:40001", 0);
    fix_credentials(&f, 600, "other");
    CHECK_INT(fix_allocate(&f), 508);
    fix_free(&f);
}

TEST(cached_key_is_dropped_when_the_secret_rotates_without_grace)
{
    struct fixture f;

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(refresh(&f), 0); /* now the worker holds this username's key */
    f.set.secret = (const uint8_t *)"rotated-secret";
    f.set.secret_len = strlen("rotated-secret");
    f.set.secret_grace = 0;
    CHECK_INT(reload(&f), 0);
    CHECK_INT(refresh(&f), 401);
    fix_free(&f);
}

TEST(cached_key_does_not_vouch_for_a_forged_request_with_the_same_username)
{
    struct fixture f;

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(refresh(&f), 0);
    f.key[0] ^= 1; /* same username, wrong password */
    CHECK_INT(refresh(&f), 401);
    f.key[0] ^= 1;
    CHECK_INT(refresh(&f), 0);
    fix_free(&f);
}

TEST(a_moved_allocation_keeps_its_state_and_answers_from_its_new_worker)
{
    struct fixture f;
    struct turn_alloc *a = NULL, *copy, *moved;
    struct turn_worker *first, *second;

    started(&f);
    CHECK_INT(fix_allocate(&f), 0);
    CHECK_INT(fix_bind(&f, 0x4000, GLOBAL_PEER), 0);
    for (int fd = 0; fd < 256 && !a; fd++)
        a = fix_relay(&f, fd);
    if (!CHECK(a != NULL)) {
        fix_free(&f);
        return;
    }
    first = f.w;
    second = fix_worker_new(&f, 1);
    copy = turn_worker_detach(first, a);
    CHECK(copy != NULL);
    CHECK(!turn_worker_serves(first, &f.client));
    CHECK_INT(turn_worker_stats(first)->allocations, 0);
    CHECK_INT(f.open_relays, 1); /* the relay socket goes along, open */
    moved = turn_worker_attach(second, copy, 99);
    if (!CHECK(moved != NULL)) {
        turn_worker_free(second);
        fix_free(&f);
        return;
    }
    f.client.fd = 99;
    CHECK(turn_worker_serves(second, &f.client));
    CHECK_INT(turn_alloc_client(moved)->fd, 99);
    CHECK_INT(turn_worker_stats(second)->allocations, 1);
    CHECK_INT(turn_worker_stats(second)->allocations_moved, 1);
    /* Its channel came along, and the old worker no longer knows the client. */
    f.w = second;
    send_channel_data(&f, 0x4000, "hello");
    if (CHECK_INT(f.nsent, 1))
        CHECK(f.sent[0].to_peer);
    f.nsent = 0;
    CHECK_INT(refresh(&f), 0);
    f.w = first;
    CHECK_INT(refresh(&f), 437);
    turn_worker_free(first);
    f.w = second;
    fix_free(&f); /* ends the allocation on its new worker, closing the relay */
    CHECK_INT(f.open_relays, 0);
}
