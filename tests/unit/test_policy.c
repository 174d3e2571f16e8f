/* Unit tests for the TURN peer policy: built-in table, embedded IPv4 forms, lists, self, caps. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "test.h"
#include "vc/policy.h"

/* Builds a peer address from IP text (either family) and a port; the test fails on bad text. */
static union vc_addr mk(const char *ip, uint16_t port)
{
    union vc_addr a;

    memset(&a, 0, sizeof(a));
    if (inet_pton(AF_INET, ip, &a.v4.sin_addr) == 1) {
        a.v4.sin_family = AF_INET;
        a.v4.sin_port = htons(port);
    } else if (inet_pton(AF_INET6, ip, &a.v6.sin6_addr) == 1) {
        a.v6.sin6_family = AF_INET6;
        a.v6.sin6_port = htons(port);
    } else {
        test_fail(__FILE__, __LINE__, "bad test address %s", ip);
    }
    return a;
}

enum v6_form { FORM_MAPPED, FORM_COMPAT, FORM_NAT64 };

/* The IPv6 address that embeds the IPv4 address in a given form. */
static union vc_addr mk_form(const char *v4, enum v6_form form, uint16_t port)
{
    union vc_addr a4 = mk(v4, 0), a;
    uint8_t *b = a.v6.sin6_addr.s6_addr;

    memset(&a, 0, sizeof(a));
    a.v6.sin6_family = AF_INET6;
    a.v6.sin6_port = htons(port);
    if (form == FORM_MAPPED) {
        b[10] = b[11] = 0xff;
    } else if (form == FORM_NAT64) {
        b[1] = 0x64;
        b[2] = 0xff;
        b[3] = 0x9b;
    }
    memcpy(b + 12, &a4.v4.sin_addr, 4);
    return a;
}

static const char *const form_names[] = {"mapped", "compat", "nat64"};

/* Checks one address; reports the text so a failing row is easy to find. */
static void expect(const struct peer_policy *p, const union vc_addr *a, const char *label,
                   bool allowed, const char *reason)
{
    struct policy_verdict v = policy_check(p, a);

    if (v.allowed != allowed || !v.reason || strcmp(v.reason, reason) != 0)
        test_fail(__FILE__, __LINE__, "%s: got %s/%s, want %s/%s", label,
                  v.allowed ? "allow" : "deny", v.reason ? v.reason : "(null)",
                  allowed ? "allow" : "deny", reason);
}

static void expect_ip(const struct peer_policy *p, const char *ip, uint16_t port, bool allowed,
                      const char *reason)
{
    union vc_addr a = mk(ip, port);
    char label[96];

    snprintf(label, sizeof(label), "%s port %u", ip, port);
    expect(p, &a, label, allowed, reason);
}

/* An IPv4 address in its own form and all three transparent IPv6 forms. */
static void expect_v4_all_forms(const struct peer_policy *p, const char *ip, uint16_t port,
                                bool allowed, const char *reason)
{
    expect_ip(p, ip, port, allowed, reason);
    for (int f = FORM_MAPPED; f <= FORM_NAT64; f++) {
        union vc_addr a = mk_form(ip, (enum v6_form)f, port);
        char label[96];

        snprintf(label, sizeof(label), "%s as %s", ip, form_names[f]);
        expect(p, &a, label, allowed, reason);
    }
}

struct row {
    const char *ip;
    bool allowed;
    const char *reason;
};

static const struct row v4_rows[] = {
    {"0.0.0.0", false, "unspecified"},
    {"0.1.2.3", false, "this-network"},
    {"0.255.255.255", false, "this-network"},
    {"10.0.0.1", false, "rfc1918"},
    {"10.255.255.255", false, "rfc1918"},
    {"100.64.0.1", false, "cgnat"},
    {"100.127.255.255", false, "cgnat"},
    {"127.0.0.1", false, "loopback"},
    {"127.255.255.254", false, "loopback"},
    {"169.254.169.254", false, "link-local"},
    {"169.254.0.1", false, "link-local"},
    {"172.16.0.1", false, "rfc1918"},
    {"172.31.255.255", false, "rfc1918"},
    {"192.0.0.1", false, "ds-lite"},
    {"192.0.0.9", false, "ietf-protocol"},
    {"192.0.0.10", false, "ietf-protocol"},
    {"192.0.0.170", false, "nat64-discovery"},
    {"192.0.0.171", false, "nat64-discovery"},
    {"192.0.0.255", false, "ietf-protocol"},
    {"192.0.2.1", false, "documentation"},
    {"192.31.196.1", false, "as112"},
    {"192.52.193.1", false, "amt"},
    {"192.88.99.1", false, "6to4-relay"},
    {"192.168.0.1", false, "rfc1918"},
    {"192.168.255.255", false, "rfc1918"},
    {"192.175.48.6", false, "as112"},
    {"198.18.0.1", false, "benchmarking"},
    {"198.19.255.255", false, "benchmarking"},
    {"198.51.100.7", false, "documentation"},
    {"203.0.113.5", false, "documentation"},
    {"224.0.0.1", false, "multicast"},
    {"239.255.255.250", false, "multicast"},
    {"240.0.0.1", false, "reserved"},
    {"255.255.255.254", false, "reserved"},
    {"255.255.255.255", false, "broadcast"},
    /* Neighbours of denied ranges and well-known globals. */
    {"1.0.0.1", true, "global"},
    {"1.1.1.1", true, "global"},
    {"8.8.8.8", true, "global"},
    {"9.255.255.255", true, "global"},
    {"11.0.0.0", true, "global"},
    {"93.184.216.34", true, "global"},
    {"100.63.255.255", true, "global"},
    {"100.128.0.1", true, "global"},
    {"126.255.255.255", true, "global"},
    {"128.0.0.0", true, "global"},
    {"169.253.255.255", true, "global"},
    {"169.255.0.0", true, "global"},
    {"172.15.255.255", true, "global"},
    {"172.32.0.0", true, "global"},
    {"192.0.1.255", true, "global"},
    {"192.0.3.0", true, "global"},
    {"192.167.255.255", true, "global"},
    {"192.169.0.0", true, "global"},
    {"198.17.255.255", true, "global"},
    {"198.20.0.1", true, "global"},
    {"203.0.112.255", true, "global"},
    {"223.255.255.255", true, "global"},
};

static const struct row v6_rows[] = {
    {"::", false, "unspecified"},
    {"::1", false, "loopback"},
    {"fe80::1", false, "link-local"},
    {"febf:ffff::1", false, "link-local"},
    {"fec0::1", false, "site-local"},
    {"fc00::1", false, "ula"},
    {"fd12:3456::1", false, "ula"},
    {"ff02::1", false, "multicast"},
    {"ff0e::1", false, "multicast"},
    {"2001:db8::1", false, "documentation"},
    {"2001:db8:ffff::1", false, "documentation"},
    {"3fff::1", false, "documentation"},
    {"3fff:fff:ffff::1", false, "documentation"},
    {"2002:c000:0201::1", false, "6to4"},
    {"2002:0808:0808::1", false, "6to4"},
    {"2001:0:4136:e378:8000:63bf:3fff:fdd2", false, "teredo"},
    {"2001::1", false, "teredo"},
    {"2001:1::1", false, "ietf-protocol"},
    {"2001:2::1", false, "benchmarking"},
    {"2001:3::1", false, "ietf-protocol"},
    {"2001:10::1", false, "orchid"},
    {"2001:20::1", false, "orchidv2"},
    {"2001:1ff:ffff::1", false, "ietf-protocol"},
    {"64:ff9b:1::1", false, "nat64-local"},
    {"64:ff9b:1:ffff::1", false, "nat64-local"},
    {"64:ff9b::1:0:0:1", false, "not-global-unicast"}, /* outside the /96 */
    {"100::1", false, "discard"},
    {"100::ffff:ffff:ffff:ffff", false, "discard"},
    {"100:0:0:1::1", false, "not-global-unicast"},
    {"5f00::1", false, "srv6-sid"},
    {"4000::1", false, "not-global-unicast"},
    {"1fff:ffff::1", false, "not-global-unicast"},
    {"8000::1", false, "not-global-unicast"},
    {"e000::1", false, "not-global-unicast"},
    {"::ffff:0:7f00:1", false, "not-global-unicast"}, /* SIIT, not a mapped address */
    {"2606:4700:4700::1111", true, "global"},
    {"2001:4860:4860::8888", true, "global"},
    {"2001:200::1", true, "global"},
    {"2001:db7:ffff::1", true, "global"},
    {"2001:db9::1", true, "global"},
    {"2003::1", true, "global"},
    {"2000::1", true, "global"},
    {"3ffe::1", true, "global"},
    {"3fff:1000::1", true, "global"},
    /* Embedded IPv4 given as text, so the parser's forms are covered too. */
    {"::ffff:127.0.0.1", false, "loopback"},
    {"::ffff:8.8.8.8", true, "global"},
    {"::127.0.0.1", false, "loopback"},
    {"64:ff9b::10.0.0.1", false, "rfc1918"},
    {"64:ff9b::8.8.8.8", true, "global"},
    {"64:ff9b::169.254.169.254", false, "link-local"},
};

#define NROWS(t) (sizeof(t) / sizeof((t)[0]))

TEST(policy_table_judges_ipv4_in_every_form)
{
    struct peer_policy *p = policy_new();

    if (!CHECK(p))
        return;
    for (size_t i = 0; i < NROWS(v4_rows); i++)
        expect_v4_all_forms(p, v4_rows[i].ip, 50000, v4_rows[i].allowed, v4_rows[i].reason);
    policy_free(p);
}

TEST(policy_table_judges_ipv6)
{
    struct peer_policy *p = policy_new();

    if (!CHECK(p))
        return;
    for (size_t i = 0; i < NROWS(v6_rows); i++)
        expect_ip(p, v6_rows[i].ip, 50000, v6_rows[i].allowed, v6_rows[i].reason);
    policy_free(p);
}

TEST(policy_verdict_ignores_port_without_self)
{
    struct peer_policy *p = policy_new();

    if (!CHECK(p))
        return;
    expect_ip(p, "127.0.0.1", 0, false, "loopback");
    expect_ip(p, "127.0.0.1", 65535, false, "loopback");
    expect_ip(p, "8.8.8.8", 0, true, "global");
    expect_ip(p, "8.8.8.8", 3478, true, "global");
    policy_free(p);
}

TEST(policy_refuses_unknown_family_and_null)
{
    struct peer_policy *p = policy_new();
    union vc_addr a;
    struct policy_verdict v;

    if (!CHECK(p))
        return;
    memset(&a, 0, sizeof(a));
    a.sa.sa_family = AF_UNIX;
    v = policy_check(p, &a);
    CHECK(!v.allowed);
    CHECK(v.reason != NULL);
    v = policy_check(p, NULL);
    CHECK(!v.allowed);
    policy_free(p);
}

TEST(policy_allow_peer_opens_ipv4_range_in_every_form)
{
    struct peer_policy *p = policy_new();

    if (!CHECK(p))
        return;
    CHECK_INT(policy_allow(p, "127.0.0.0/8"), 0);
    expect_v4_all_forms(p, "127.0.0.1", 50000, true, "allow-peer");
    expect_v4_all_forms(p, "127.255.255.255", 50000, true, "allow-peer");
    expect_ip(p, "::ffff:127.0.0.1", 50000, true, "allow-peer");
    /* Neighbours and the IPv6 loopback stay denied. */
    expect_v4_all_forms(p, "10.0.0.1", 50000, false, "rfc1918");
    expect_ip(p, "::1", 50000, false, "loopback");
    /* 6to4 and Teredo are not opened by an IPv4 allow. */
    expect_ip(p, "2002:7f00:1::1", 50000, false, "6to4");
    policy_free(p);
}

TEST(policy_allow_peer_host_and_mapped_text)
{
    struct peer_policy *p = policy_new();

    if (!CHECK(p))
        return;
    CHECK_INT(policy_allow(p, "10.1.2.3"), 0);
    CHECK_INT(policy_allow(p, "::ffff:192.168.1.0/120"), 0);
    CHECK_INT(policy_allow(p, "fd00::/8"), 0);
    expect_v4_all_forms(p, "10.1.2.3", 1, true, "allow-peer");
    expect_v4_all_forms(p, "10.1.2.4", 1, false, "rfc1918");
    expect_v4_all_forms(p, "192.168.1.77", 1, true, "allow-peer");
    expect_v4_all_forms(p, "192.168.2.1", 1, false, "rfc1918");
    expect_ip(p, "fd12:3456::1", 1, true, "allow-peer");
    expect_ip(p, "fc00::1", 1, false, "ula");
    policy_free(p);
}

TEST(policy_ipv6_allow_does_not_bypass_embedded_ipv4)
{
    struct peer_policy *p = policy_new();

    if (!CHECK(p))
        return;
    CHECK_INT(policy_allow(p, "64:ff9b::/96"), 0);
    CHECK_INT(policy_allow(p, "::/96"), 0);
    expect_ip(p, "64:ff9b::10.0.0.1", 1, false, "rfc1918");
    expect_ip(p, "64:ff9b::127.0.0.1", 1, false, "loopback");
    expect_ip(p, "64:ff9b::8.8.8.8", 1, true, "allow-peer");
    expect_ip(p, "::169.254.169.254", 1, false, "link-local");
    /* ::1 and :: embed nothing, and "::/96" literally covers them: the explicit allow wins. */
    expect_ip(p, "::1", 1, true, "allow-peer");
    expect_ip(p, "::", 1, true, "allow-peer");
    policy_free(p);
}

TEST(policy_ipv6_rule_does_not_match_plain_ipv4)
{
    struct peer_policy *p = policy_new();

    if (!CHECK(p))
        return;
    CHECK_INT(policy_deny(p, "::/0"), 0);
    expect_ip(p, "8.8.8.8", 1, true, "global");
    expect_ip(p, "2606:4700:4700::1111", 1, false, "deny-peer");
    /* The IPv6 spelling of an IPv4 peer is an IPv6 address: the rule applies. */
    expect_ip(p, "::ffff:8.8.8.8", 1, false, "deny-peer");
    policy_free(p);
}

TEST(policy_deny_peer_beats_allow_peer)
{
    struct peer_policy *p = policy_new();

    if (!CHECK(p))
        return;
    CHECK_INT(policy_allow(p, "8.8.8.8"), 0);
    CHECK_INT(policy_deny(p, "8.8.8.0/24"), 0);
    CHECK_INT(policy_deny(p, "2606:4700::/32"), 0);
    CHECK_INT(policy_allow(p, "2606:4700:4700::1111"), 0);
    expect_v4_all_forms(p, "8.8.8.8", 1, false, "deny-peer");
    expect_v4_all_forms(p, "8.8.8.255", 1, false, "deny-peer");
    expect_v4_all_forms(p, "8.8.4.4", 1, true, "global");
    expect_ip(p, "2606:4700:4700::1111", 1, false, "deny-peer");
    expect_ip(p, "2606:4701::1", 1, true, "global");
    /* A deny over a private range keeps the deny-peer reason. */
    CHECK_INT(policy_deny(p, "10.0.0.0/8"), 0);
    expect_v4_all_forms(p, "10.0.0.1", 1, false, "deny-peer");
    policy_free(p);
}

TEST(policy_6to4_and_teredo_need_allow_and_clean_embedded_ipv4)
{
    struct peer_policy *p = policy_new();

    if (!CHECK(p))
        return;
    expect_ip(p, "2002:0808:0808::1", 1, false, "6to4");
    expect_ip(p, "2001:0:4136:e378:8000:63bf:f7f7:f7f7", 1, false, "teredo");
    CHECK_INT(policy_allow(p, "2002::/16"), 0);
    CHECK_INT(policy_allow(p, "2001::/32"), 0);
    /* 6to4: the router address sits in bits 16..47. */
    expect_ip(p, "2002:0808:0808::1", 1, true, "allow-peer");
    expect_ip(p, "2002:c000:0201::1", 1, false, "documentation");
    expect_ip(p, "2002:7f00:0001::1", 1, false, "loopback");
    expect_ip(p, "2002:a9fe:a9fe::1", 1, false, "link-local");
    /* Teredo: client 192.0.2.45 (XOR 0xffffffff), server 65.54.227.120. */
    expect_ip(p, "2001:0:4136:e378:8000:63bf:3fff:fdd2", 1, false, "documentation");
    expect_ip(p, "2001:0:4136:e378:8000:63bf:f7f7:f7f7", 1, true, "allow-peer");
    expect_ip(p, "2001:0:4136:e378:8000:63bf:80ff:fffe", 1, false, "loopback");
    /* A private server is refused even with a global client. */
    expect_ip(p, "2001:0:a00:1:8000:63bf:f7f7:f7f7", 1, false, "rfc1918");
    /* The embedded address goes through the deny list as well. */
    CHECK_INT(policy_deny(p, "8.8.8.8"), 0);
    expect_ip(p, "2002:0808:0808::1", 1, false, "deny-peer");
    policy_free(p);
}

TEST(policy_self_refuses_own_ip_outside_relay_ports)
{
    struct peer_policy *p = policy_new();
    union vc_addr self = mk("93.184.216.34", 0);

    if (!CHECK(p))
        return;
    CHECK_INT(policy_add_self(p, &self, 49152, 65535), 0);
    expect_v4_all_forms(p, "93.184.216.34", 50000, true, "global");
    expect_v4_all_forms(p, "93.184.216.34", 49152, true, "global");
    expect_v4_all_forms(p, "93.184.216.34", 65535, true, "global");
    expect_v4_all_forms(p, "93.184.216.34", 49151, false, "self");
    expect_v4_all_forms(p, "93.184.216.34", 3478, false, "self");
    expect_v4_all_forms(p, "93.184.216.35", 3478, true, "global");
    /* An allow covering the relay does not reopen its listeners. */
    CHECK_INT(policy_allow(p, "93.184.216.0/24"), 0);
    expect_v4_all_forms(p, "93.184.216.34", 3478, false, "self");
    expect_v4_all_forms(p, "93.184.216.34", 50000, true, "allow-peer");
    /* Self cannot be reached through 6to4 either, whatever the port. */
    CHECK_INT(policy_allow(p, "2002::/16"), 0);
    expect_ip(p, "2002:5db8:d822::1", 50000, false, "self");
    policy_free(p);
}

TEST(policy_self_loopback_dev_setup)
{
    struct peer_policy *p = policy_new();
    union vc_addr self = mk("127.0.0.1", 0);

    if (!CHECK(p))
        return;
    CHECK_INT(policy_allow(p, "127.0.0.0/8"), 0);
    CHECK_INT(policy_add_self(p, &self, 49152, 65535), 0);
    expect_v4_all_forms(p, "127.0.0.1", 50000, true, "allow-peer");
    expect_v4_all_forms(p, "127.0.0.1", 3478, false, "self");
    expect_v4_all_forms(p, "127.0.0.1", 9100, false, "self");
    expect_v4_all_forms(p, "127.0.0.2", 3478, true, "allow-peer");
    policy_free(p);
}

TEST(policy_self_ipv6_and_multiple_ranges)
{
    struct peer_policy *p = policy_new();
    union vc_addr self6 = mk("2606:4700:4700::1111", 0), self4 = mk("1.1.1.1", 0);

    if (!CHECK(p))
        return;
    CHECK_INT(policy_add_self(p, &self6, 40000, 40100), 0);
    CHECK_INT(policy_add_self(p, &self6, 50000, 50100), 0);
    CHECK_INT(policy_add_self(p, &self4, 40000, 40100), 0);
    expect_ip(p, "2606:4700:4700::1111", 40050, true, "global");
    expect_ip(p, "2606:4700:4700::1111", 50050, true, "global");
    expect_ip(p, "2606:4700:4700::1111", 45000, false, "self");
    expect_ip(p, "2606:4700:4700::1112", 45000, true, "global");
    expect_v4_all_forms(p, "1.1.1.1", 50050, false, "self");
    expect_v4_all_forms(p, "1.1.1.1", 40100, true, "global");
    policy_free(p);
}

TEST(policy_self_wildcard_covers_local_addresses)
{
    struct peer_policy *p = policy_new();
    union vc_addr any4 = mk("0.0.0.0", 0), any6 = mk("::", 0);

    if (!CHECK(p))
        return;
    CHECK_INT(policy_allow(p, "0.0.0.0/8"), 0);
    CHECK_INT(policy_allow(p, "127.0.0.0/8"), 0);
    CHECK_INT(policy_allow(p, "::1"), 0);
    CHECK_INT(policy_add_self(p, &any4, 49152, 65535), 0);
    /* lo is enumerated, and its whole network reaches this host. */
    expect_v4_all_forms(p, "127.0.0.1", 3478, false, "self");
    expect_v4_all_forms(p, "127.0.0.53", 3478, false, "self");
    expect_v4_all_forms(p, "127.0.0.1", 50000, true, "allow-peer");
    expect_ip(p, "0.0.0.0", 3478, false, "self");
    expect_ip(p, "8.8.8.8", 3478, true, "global");
    /* 0.0.0.0 does not cover IPv6 addresses; :: covers both. */
    expect_ip(p, "::1", 3478, true, "allow-peer");
    CHECK_INT(policy_add_self(p, &any6, 49152, 65535), 0);
    expect_ip(p, "::1", 3478, false, "self");
    expect_ip(p, "::1", 50000, true, "allow-peer");
    policy_free(p);
}

TEST(policy_add_self_rejects_bad_arguments)
{
    struct peer_policy *p = policy_new();
    union vc_addr a = mk("1.1.1.1", 0), bad;

    if (!CHECK(p))
        return;
    memset(&bad, 0, sizeof(bad));
    bad.sa.sa_family = AF_UNIX;
    CHECK_INT(policy_add_self(p, &a, 50000, 49152), -EINVAL);
    CHECK_INT(policy_add_self(p, &bad, 1, 2), -EINVAL);
    CHECK_INT(policy_add_self(p, NULL, 1, 2), -EINVAL);
    expect_ip(p, "1.1.1.1", 3478, true, "global");
    policy_free(p);
}

TEST(policy_rejects_bad_cidrs)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "10.0.0.0/33",
        "::/129",
        "10.0.0.0/",
        "/8",
        "10.0.0.0/8x",
        "10.0.0.0/-1",
        "10.0.0.0/+8",
        "10.0.0.0/ 8",
        "10.0.0.0 /8",
        "1.2.3",
        "1.2.3.4.5",
        "256.0.0.0/8",
        "010.0.0.0/8",
        "10.0.0.1/8",
        "fe80::1%eth0",
        "fe80::1/10",
        "::1/0128",
        "10.0.0.0/8/8",
        "::ffff:127.0.0.1/104",
        "2001:db8::/16",
        "1.2.3.4/1000",
        "10.0.0.0/8 ",
        ":::/0",
    };
    struct peer_policy *p = policy_new();

    if (!CHECK(p))
        return;
    for (size_t i = 0; i < NROWS(bad); i++) {
        if (policy_allow(p, bad[i]) != -EINVAL)
            test_fail(__FILE__, __LINE__, "policy_allow accepted \"%s\"", bad[i]);
        if (policy_deny(p, bad[i]) != -EINVAL)
            test_fail(__FILE__, __LINE__, "policy_deny accepted \"%s\"", bad[i]);
    }
    CHECK_INT(policy_allow(p, NULL), -EINVAL);
    CHECK_INT(policy_allow(NULL, "10.0.0.0/8"), -EINVAL);
    /* Nothing was added by the failures. */
    expect_ip(p, "10.0.0.1", 1, false, "rfc1918");
    expect_ip(p, "8.8.8.8", 1, true, "global");
    policy_free(p);
}

TEST(policy_accepts_edge_prefixes)
{
    struct peer_policy *p = policy_new();

    if (!CHECK(p))
        return;
    CHECK_INT(policy_deny(p, "0.0.0.0/0"), 0);
    CHECK_INT(policy_deny(p, "2606:4700::/32"), 0);
    CHECK_INT(policy_allow(p, "::/0"), 0);
    CHECK_INT(policy_allow(p, "1.2.3.4/32"), 0);
    CHECK_INT(policy_allow(p, "::1/128"), 0);
    expect_ip(p, "1.2.3.4", 1, false, "deny-peer");
    expect_ip(p, "8.8.8.8", 1, false, "deny-peer");
    expect_ip(p, "::1", 1, true, "allow-peer");
    expect_ip(p, "fe80::1", 1, true, "allow-peer");
    expect_ip(p, "2606:4700::1", 1, false, "deny-peer");
    policy_free(p);
}

TEST(policy_lists_are_capped)
{
    struct peer_policy *p = policy_new();
    char cidr[32];
    int rc = 0, n = 0;

    if (!CHECK(p))
        return;
    for (n = 0; n < 200; n++) {
        snprintf(cidr, sizeof(cidr), "10.%d.0.0/16", n);
        rc = policy_allow(p, cidr);
        if (rc)
            break;
    }
    CHECK_INT(n, 64);
    CHECK_INT(rc, -ENOSPC);
    /* A duplicate of an existing entry is not a new entry. */
    CHECK_INT(policy_allow(p, "10.0.0.0/16"), 0);
    expect_ip(p, "10.63.0.1", 1, true, "allow-peer");
    expect_ip(p, "10.64.0.1", 1, false, "rfc1918");
    for (n = 0; n < 200; n++) {
        snprintf(cidr, sizeof(cidr), "2606:%x::/32", n);
        rc = policy_deny(p, cidr);
        if (rc)
            break;
    }
    CHECK_INT(n, 64);
    CHECK_INT(rc, -ENOSPC);
    policy_free(p);
}

TEST(policy_self_is_capped)
{
    struct peer_policy *p = policy_new();
    char ip[32];
    int rc = 0, n = 0;

    if (!CHECK(p))
        return;
    for (n = 0; n < 200; n++) {
        union vc_addr a;
        snprintf(ip, sizeof(ip), "8.8.%d.%d", n / 250, n % 250);
        a = mk(ip, 0);
        rc = policy_add_self(p, &a, 49152, 65535);
        if (rc)
            break;
    }
    CHECK_INT(n, 64);
    CHECK_INT(rc, -ENOSPC);
    expect_ip(p, "8.8.0.63", 3478, false, "self");
    expect_ip(p, "8.8.0.64", 3478, true, "global");
    policy_free(p);
}
