/* TURN peer policy: decides whether a relay may reach a peer address (deny by default). */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "vc/policy.h"

/*
 * Every address, IPv4 or IPv6, is held as a 128-bit key (two host-order halves) plus a family
 * flag. An IPv4 address a.b.c.d is stored as ::ffff:a.b.c.d and an IPv4 /p prefix as /(96+p), so
 * one masked compare serves both families. The family flag stays separate so that an IPv6 rule
 * such as "::/0" never matches a plain IPv4 peer.
 *
 * Canonicalisation. An IPv6 peer may carry an IPv4 address:
 *   - transparent forms reach that IPv4 host directly: IPv4-mapped ::ffff:a.b.c.d, deprecated
 *     IPv4-compatible ::a.b.c.d (but not :: and ::1), and NAT64 64:ff9b::a.b.c.d. The embedded
 *     address is the peer: the allow and deny lists match the original or the embedded address,
 *     the built-in table judges the embedded address. An allow that only covers the IPv6 form
 *     (say "64:ff9b::/96") does not bypass the table for the embedded IPv4 address.
 *   - tunnel forms: 6to4 2002:V4::/48 (router V4 in bits 16..47) and Teredo 2001:0::/32
 *     (server in bits 32..63, client XOR 0xffffffff in the last 32 bits). Both are deprecated or
 *     client-only mechanisms, so the table denies them outright ("6to4", "teredo") whatever they
 *     embed. Only an explicit --allow-peer on the IPv6 form opens them, and then every embedded
 *     IPv4 address must pass the full check too (with the self check treating the port as
 *     unknown, i.e. any own address is refused).
 *
 * Order of a check: self, deny-peer, allow-peer, built-in table (longest prefix wins), "global".
 *
 * Table decisions worth knowing:
 *   - 192.0.0.0/24 is denied whole, although 192.0.0.9/32 (PCP anycast) and 192.0.0.10/32 (TURN
 *     anycast) are globally reachable in the registry: a relay has no business relaying to them.
 *   - 2001::/23 is denied whole for the same reason (its sub-ranges get finer reasons).
 *   - IPv6 outside 2000::/3 is denied ("not-global-unicast"), except the transparent forms above.
 *
 * Checks make no heap calls: the tables live in the policy struct and a check is a scan of about
 * 40 entries with precomputed masks.
 */

#define POL_TABLE_MAX 48
#define POL_LIST_MAX 64 /* entries in each of --allow-peer and --deny-peer */
#define POL_SELF_MAX 64 /* own addresses, wildcard expansion included */

struct pol_key {
    uint64_t hi, lo;
    bool v6;
};

struct pol_net {
    uint64_t hi, lo, mhi, mlo; /* network (already masked) and mask */
    bool v6;
    uint8_t plen; /* 0..128; IPv4 prefixes are offset by 96 */
    const char *reason;
};

struct pol_self {
    struct pol_net net;
    uint16_t port_min, port_max;
};

struct peer_policy {
    struct pol_net table[POL_TABLE_MAX];
    size_t ntable;
    struct pol_net allow[POL_LIST_MAX];
    size_t nallow;
    struct pol_net deny[POL_LIST_MAX];
    size_t ndeny;
    struct pol_self self[POL_SELF_MAX];
    size_t nself;
};

struct pol_builtin {
    const char *cidr;
    const char *reason;
};

/* IANA IPv4 and IPv6 Special-Purpose Address Registries, the non-global entries and more. */
static const struct pol_builtin pol_builtin_table[] = {
    /* IPv4 */
    {"0.0.0.0/8", "this-network"},
    {"0.0.0.0/32", "unspecified"},
    {"10.0.0.0/8", "rfc1918"},
    {"100.64.0.0/10", "cgnat"},
    {"127.0.0.0/8", "loopback"},
    {"169.254.0.0/16", "link-local"}, /* cloud metadata 169.254.169.254 included */
    {"172.16.0.0/12", "rfc1918"},
    {"192.0.0.0/24", "ietf-protocol"}, /* whole /24, see above */
    {"192.0.0.0/29", "ds-lite"},
    {"192.0.0.170/31", "nat64-discovery"},
    {"192.0.2.0/24", "documentation"},
    {"192.31.196.0/24", "as112"},
    {"192.52.193.0/24", "amt"},
    {"192.88.99.0/24", "6to4-relay"}, /* deprecated 6to4 relay anycast */
    {"192.168.0.0/16", "rfc1918"},
    {"192.175.48.0/24", "as112"},
    {"198.18.0.0/15", "benchmarking"},
    {"198.51.100.0/24", "documentation"},
    {"203.0.113.0/24", "documentation"},
    {"224.0.0.0/4", "multicast"},
    {"240.0.0.0/4", "reserved"},
    {"255.255.255.255/32", "broadcast"},
    /* IPv6; ::ffff:0:0/96, ::/96 and 64:ff9b::/96 are canonicalised before the table */
    {"::/128", "unspecified"},
    {"::1/128", "loopback"},
    {"64:ff9b:1::/48", "nat64-local"},
    {"100::/64", "discard"},
    {"2001::/23", "ietf-protocol"},
    {"2001::/32", "teredo"},
    {"2001:2::/48", "benchmarking"},
    {"2001:10::/28", "orchid"},
    {"2001:20::/28", "orchidv2"},
    {"2001:db8::/32", "documentation"},
    {"2002::/16", "6to4"}, /* deprecated (RFC 7526): denied whatever it embeds */
    {"3fff::/20", "documentation"},
    {"5f00::/16", "srv6-sid"},
    {"fc00::/7", "ula"},
    {"fe80::/10", "link-local"},
    {"fec0::/10", "site-local"},
    {"ff00::/8", "multicast"},
    /* Everything outside 2000::/3 global unicast. */
    {"::/3", "not-global-unicast"},
    {"4000::/2", "not-global-unicast"},
    {"8000::/1", "not-global-unicast"},
};

enum pol_embed {
    POL_EMBED_NONE,
    POL_EMBED_MAPPED,
    POL_EMBED_COMPAT,
    POL_EMBED_NAT64,
    POL_EMBED_6TO4,
    POL_EMBED_TEREDO,
};

#define POL_MAPPED_LO 0x0000ffff00000000ULL
#define POL_NAT64_HI 0x0064ff9b00000000ULL

static void pol_mask(uint8_t plen, uint64_t *mhi, uint64_t *mlo)
{
    *mhi = plen == 0 ? 0 : plen >= 64 ? ~0ULL : ~0ULL << (64 - plen);
    *mlo = plen <= 64 ? 0 : plen == 128 ? ~0ULL : ~0ULL << (128 - plen);
}

static uint64_t pol_load64(const uint8_t *b)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static struct pol_key pol_key_v4(uint32_t v4)
{
    struct pol_key k = {.hi = 0, .lo = POL_MAPPED_LO | v4, .v6 = false};
    return k;
}

static struct pol_key pol_key_v6(const uint8_t b[16])
{
    struct pol_key k = {.hi = pol_load64(b), .lo = pol_load64(b + 8), .v6 = true};
    return k;
}

/* Classifies an IPv6 key and extracts the IPv4 address(es) it embeds: v4[0] always, v4[1] for
 * Teredo (the server). */
static enum pol_embed pol_embedded(const struct pol_key *k, uint32_t v4[2])
{
    uint32_t low32 = (uint32_t)k->lo;

    if (!k->v6)
        return POL_EMBED_NONE;
    v4[0] = low32;
    if (k->hi == 0 && k->lo >> 32 == 0xffff)
        return POL_EMBED_MAPPED;
    if (k->hi == 0 && k->lo >> 32 == 0 && low32 > 1) /* not :: or ::1 */
        return POL_EMBED_COMPAT;
    if (k->hi == POL_NAT64_HI && k->lo >> 32 == 0)
        return POL_EMBED_NAT64;
    if (k->hi >> 48 == 0x2002) {
        v4[0] = (uint32_t)(k->hi >> 16);
        return POL_EMBED_6TO4;
    }
    if (k->hi >> 32 == 0x20010000) {
        v4[0] = ~low32;
        v4[1] = (uint32_t)k->hi;
        return POL_EMBED_TEREDO;
    }
    return POL_EMBED_NONE;
}

static bool pol_net_match(const struct pol_net *n, const struct pol_key *k)
{
    return n->v6 == k->v6 && (k->hi & n->mhi) == n->hi && (k->lo & n->mlo) == n->lo;
}

static bool pol_list_match(const struct pol_net *list, size_t n, const struct pol_key *k)
{
    for (size_t i = 0; i < n; i++)
        if (pol_net_match(&list[i], k))
            return true;
    return false;
}

/* Longest-prefix match over the built-in table; NULL when nothing matches. */
static const struct pol_net *pol_table_match(const struct peer_policy *p, const struct pol_key *k)
{
    const struct pol_net *best = NULL;

    for (size_t i = 0; i < p->ntable; i++) {
        const struct pol_net *n = &p->table[i];
        if (pol_net_match(n, k) && (!best || n->plen > best->plen))
            best = n;
    }
    return best;
}

/* True when k is one of our own addresses and the port is not a relay port. port < 0 means the
 * port is unknown: any own address is refused. */
static bool pol_self_refuses(const struct peer_policy *p, const struct pol_key *k, int port)
{
    bool own = false;

    for (size_t i = 0; i < p->nself; i++) {
        const struct pol_self *s = &p->self[i];
        if (!pol_net_match(&s->net, k))
            continue;
        if (port >= s->port_min && port <= s->port_max)
            return false;
        own = true;
    }
    return own;
}

static struct policy_verdict pol_verdict(bool allowed, const char *reason)
{
    struct policy_verdict v = {.allowed = allowed, .reason = reason};
    return v;
}

/* Full check of a plain (canonical) key, no embedded forms. */
static struct policy_verdict pol_check_plain(const struct peer_policy *p, const struct pol_key *k,
                                             int port)
{
    const struct pol_net *n;

    if (pol_self_refuses(p, k, port))
        return pol_verdict(false, "self");
    if (pol_list_match(p->deny, p->ndeny, k))
        return pol_verdict(false, "deny-peer");
    if (pol_list_match(p->allow, p->nallow, k))
        return pol_verdict(true, "allow-peer");
    n = pol_table_match(p, k);
    if (n)
        return pol_verdict(false, n->reason);
    return pol_verdict(true, "global");
}

/* An IPv6 peer that reaches an IPv4 host directly (mapped, compatible, NAT64). */
static struct policy_verdict pol_check_transparent(const struct peer_policy *p,
                                                   const struct pol_key *orig,
                                                   const struct pol_key *canon, int port)
{
    const struct pol_net *n;

    if (pol_self_refuses(p, orig, port) || pol_self_refuses(p, canon, port))
        return pol_verdict(false, "self");
    if (pol_list_match(p->deny, p->ndeny, orig) || pol_list_match(p->deny, p->ndeny, canon))
        return pol_verdict(false, "deny-peer");
    if (pol_list_match(p->allow, p->nallow, canon))
        return pol_verdict(true, "allow-peer");
    n = pol_table_match(p, canon);
    if (n)
        return pol_verdict(false, n->reason);
    if (pol_list_match(p->allow, p->nallow, orig))
        return pol_verdict(true, "allow-peer");
    return pol_verdict(true, "global");
}

/* A 6to4 or Teredo peer: refused by the table unless explicitly allowed, and then each embedded
 * IPv4 address must pass a full check as well. */
static struct policy_verdict pol_check_tunnel(const struct peer_policy *p,
                                              const struct pol_key *orig, const uint32_t *v4,
                                              size_t nv4, int port)
{
    const struct pol_net *n;

    if (pol_self_refuses(p, orig, port))
        return pol_verdict(false, "self");
    if (pol_list_match(p->deny, p->ndeny, orig))
        return pol_verdict(false, "deny-peer");
    if (!pol_list_match(p->allow, p->nallow, orig)) {
        n = pol_table_match(p, orig);
        return pol_verdict(false, n ? n->reason : "tunnel");
    }
    for (size_t i = 0; i < nv4; i++) {
        struct pol_key k = pol_key_v4(v4[i]);
        struct policy_verdict v = pol_check_plain(p, &k, -1);
        if (!v.allowed)
            return v;
    }
    return pol_verdict(true, "allow-peer");
}

struct policy_verdict policy_check(const struct peer_policy *p, const union vc_addr *peer)
{
    struct pol_key orig, canon;
    uint32_t v4[2] = {0, 0};
    int port;

    if (!p || !peer)
        return pol_verdict(false, "bad-address");
    if (peer->sa.sa_family == AF_INET) {
        orig = pol_key_v4(ntohl(peer->v4.sin_addr.s_addr));
        return pol_check_plain(p, &orig, ntohs(peer->v4.sin_port));
    }
    if (peer->sa.sa_family != AF_INET6)
        return pol_verdict(false, "bad-address");
    orig = pol_key_v6(peer->v6.sin6_addr.s6_addr);
    port = ntohs(peer->v6.sin6_port);
    switch (pol_embedded(&orig, v4)) {
    case POL_EMBED_MAPPED:
    case POL_EMBED_COMPAT:
    case POL_EMBED_NAT64:
        canon = pol_key_v4(v4[0]);
        return pol_check_transparent(p, &orig, &canon, port);
    case POL_EMBED_6TO4:
        return pol_check_tunnel(p, &orig, v4, 1, port);
    case POL_EMBED_TEREDO:
        return pol_check_tunnel(p, &orig, v4, 2, port);
    case POL_EMBED_NONE:
        break;
    }
    return pol_check_plain(p, &orig, port);
}

/* Fills n from a 16-byte address and prefix length; an IPv4-mapped prefix of /96 or longer
 * becomes the IPv4 prefix it denotes. Returns -EINVAL when host bits are set. */
static int pol_net_set_v6(struct pol_net *n, const uint8_t b[16], unsigned plen)
{
    struct pol_key k = pol_key_v6(b);

    if (plen >= 96 && k.hi == 0 && k.lo >> 32 == 0xffff)
        k.v6 = false;
    n->v6 = k.v6;
    n->plen = (uint8_t)plen;
    pol_mask(n->plen, &n->mhi, &n->mlo);
    n->hi = k.hi & n->mhi;
    n->lo = k.lo & n->mlo;
    n->reason = NULL;
    return n->hi == k.hi && n->lo == k.lo ? 0 : -EINVAL;
}

static int pol_net_set_v4(struct pol_net *n, uint32_t v4, unsigned plen)
{
    uint8_t b[16] = {[10] = 0xff, [11] = 0xff};

    b[12] = (uint8_t)(v4 >> 24);
    b[13] = (uint8_t)(v4 >> 16);
    b[14] = (uint8_t)(v4 >> 8);
    b[15] = (uint8_t)v4;
    return pol_net_set_v6(n, b, 96 + plen);
}

/* Parses "IP" or "IP/len" (host bits must be zero, so typos do not silently widen a rule).
 * Returns 0 or -EINVAL. */
static int pol_parse_cidr(struct pol_net *out, const char *text)
{
    char ip[INET6_ADDRSTRLEN];
    const char *slash;
    size_t iplen;
    unsigned plen = 0, ndigits = 0;
    struct in_addr a4;
    struct in6_addr a6;
    bool has_plen;

    if (!text)
        return -EINVAL;
    slash = strchr(text, '/');
    has_plen = slash != NULL;
    iplen = has_plen ? (size_t)(slash - text) : strlen(text);
    if (iplen == 0 || iplen >= sizeof(ip))
        return -EINVAL;
    memcpy(ip, text, iplen);
    ip[iplen] = '\0';
    if (has_plen) {
        for (const char *c = slash + 1; *c; c++) {
            if (*c < '0' || *c > '9' || ++ndigits > 3)
                return -EINVAL;
            plen = plen * 10 + (unsigned)(*c - '0');
        }
        if (ndigits == 0)
            return -EINVAL;
    }
    if (inet_pton(AF_INET, ip, &a4) == 1) {
        if (!has_plen)
            plen = 32;
        if (plen > 32)
            return -EINVAL;
        return pol_net_set_v4(out, ntohl(a4.s_addr), plen);
    }
    if (inet_pton(AF_INET6, ip, &a6) == 1) {
        if (!has_plen)
            plen = 128;
        if (plen > 128)
            return -EINVAL;
        return pol_net_set_v6(out, a6.s6_addr, plen);
    }
    return -EINVAL;
}

struct peer_policy *policy_new(void)
{
    struct peer_policy *p = calloc(1, sizeof(*p));
    size_t n = sizeof(pol_builtin_table) / sizeof(pol_builtin_table[0]);

    _Static_assert(sizeof(pol_builtin_table) / sizeof(pol_builtin_table[0]) <= POL_TABLE_MAX,
                   "POL_TABLE_MAX too small");
    if (!p)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        /* The table is constant text, so this only fails on a typo caught by the unit tests. */
        if (pol_parse_cidr(&p->table[i], pol_builtin_table[i].cidr) < 0) {
            free(p);
            errno = EINVAL;
            return NULL;
        }
        p->table[i].reason = pol_builtin_table[i].reason;
    }
    p->ntable = n;
    return p;
}

void policy_free(struct peer_policy *p)
{
    free(p);
}

static int pol_list_add(struct pol_net *list, size_t *n, const char *cidr, const char *reason)
{
    struct pol_net net;
    int rc = pol_parse_cidr(&net, cidr);

    if (rc < 0)
        return rc;
    net.reason = reason;
    for (size_t i = 0; i < *n; i++)
        if (list[i].v6 == net.v6 && list[i].plen == net.plen && list[i].hi == net.hi &&
            list[i].lo == net.lo)
            return 0; /* duplicate */
    if (*n >= POL_LIST_MAX)
        return -ENOSPC;
    list[(*n)++] = net;
    return 0;
}

int policy_allow(struct peer_policy *p, const char *cidr)
{
    if (!p)
        return -EINVAL;
    return pol_list_add(p->allow, &p->nallow, cidr, "allow-peer");
}

int policy_deny(struct peer_policy *p, const char *cidr)
{
    if (!p)
        return -EINVAL;
    return pol_list_add(p->deny, &p->ndeny, cidr, "deny-peer");
}

static int pol_self_add_net(struct peer_policy *p, const struct pol_net *net, uint16_t pmin,
                            uint16_t pmax)
{
    for (size_t i = 0; i < p->nself; i++) {
        const struct pol_self *s = &p->self[i];
        if (s->net.v6 == net->v6 && s->net.plen == net->plen && s->net.hi == net->hi &&
            s->net.lo == net->lo && s->port_min == pmin && s->port_max == pmax)
            return 0;
    }
    if (p->nself >= POL_SELF_MAX)
        return -ENOSPC;
    p->self[p->nself].net = *net;
    p->self[p->nself].net.reason = "self";
    p->self[p->nself].port_min = pmin;
    p->self[p->nself].port_max = pmax;
    p->nself++;
    return 0;
}

/* Adds one interface address; for a loopback interface its whole network (127.0.0.0/8 reaches
 * this host through every address, not only 127.0.0.1). */
static int pol_self_add_ifa(struct peer_policy *p, const struct ifaddrs *ifa, uint16_t pmin,
                            uint16_t pmax)
{
    struct pol_net net;
    unsigned plen = 0;
    bool loop = (ifa->ifa_flags & IFF_LOOPBACK) != 0;

    if (ifa->ifa_addr->sa_family == AF_INET) {
        uint32_t v4 = ntohl(((const struct sockaddr_in *)ifa->ifa_addr)->sin_addr.s_addr);
        if (loop && ifa->ifa_netmask) {
            uint32_t m = ntohl(((const struct sockaddr_in *)ifa->ifa_netmask)->sin_addr.s_addr);
            plen = (unsigned)__builtin_popcount(m);
            v4 &= m;
        } else {
            plen = 32;
        }
        if (pol_net_set_v4(&net, v4, plen) < 0 && pol_net_set_v4(&net, v4, 32) < 0)
            return 0;
        return pol_self_add_net(p, &net, pmin, pmax);
    }
    /* AF_INET6: host route (::1 is the only IPv6 loopback address). */
    pol_net_set_v6(&net, ((const struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr.s6_addr, 128);
    return pol_self_add_net(p, &net, pmin, pmax);
}

/* A wildcard bind serves every local address: 0.0.0.0 the IPv4 ones, :: (dual stack) all. */
static int pol_self_add_wildcard(struct peer_policy *p, bool v6, uint16_t pmin, uint16_t pmax)
{
    struct ifaddrs *ifas, *ifa;
    int rc = 0;

    if (getifaddrs(&ifas) < 0)
        return -errno;
    for (ifa = ifas; ifa && rc == 0; ifa = ifa->ifa_next) {
        if (!ifa->ifa_addr)
            continue;
        if (ifa->ifa_addr->sa_family == AF_INET || (v6 && ifa->ifa_addr->sa_family == AF_INET6))
            rc = pol_self_add_ifa(p, ifa, pmin, pmax);
    }
    freeifaddrs(ifas);
    return rc;
}

int policy_add_self(struct peer_policy *p, const union vc_addr *ip, uint16_t relay_port_min,
                    uint16_t relay_port_max)
{
    struct pol_net net;
    struct pol_key k;
    int rc;

    if (!p || !ip || relay_port_min > relay_port_max)
        return -EINVAL;
    if (ip->sa.sa_family == AF_INET) {
        pol_net_set_v4(&net, ntohl(ip->v4.sin_addr.s_addr), 32);
    } else if (ip->sa.sa_family == AF_INET6) {
        pol_net_set_v6(&net, ip->v6.sin6_addr.s6_addr, 128);
    } else {
        return -EINVAL;
    }
    /* The wildcard itself counts as self too: connecting to 0.0.0.0 or :: reaches this host. */
    rc = pol_self_add_net(p, &net, relay_port_min, relay_port_max);
    if (rc < 0)
        return rc;
    k.hi = net.hi;
    k.lo = net.lo;
    if (!net.v6 && k.lo == POL_MAPPED_LO)
        return pol_self_add_wildcard(p, false, relay_port_min, relay_port_max);
    if (net.v6 && k.hi == 0 && k.lo == 0)
        return pol_self_add_wildcard(p, true, relay_port_min, relay_port_max);
    return 0;
}
