/* vc-turn: command line and config, start-up checks, signals (reload, drain), the engine's life. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vc/addr.h"
#include "vc/config.h"
#include "vc/daemon.h"
#include "vc/log.h"
#include "vc/policy.h"
#include "vc/secret.h"
#include "vc/turn.h"
#include "turnd.h"

/* Every option, as cfg_load() fills it. */
struct main_config {
    char *config;
    struct cfg_list listen;
    struct cfg_list tls_listen;
    char *cert;
    char *key;
    char *relay_ip;
    char *relay_ip6;
    char *external_ip;
    char *ports;
    char *realm;
    char *secret;
    char *secret_file;
    struct cfg_list allow_peer;
    struct cfg_list deny_peer;
    long long max_allocations;
    long long user_quota;
    long long bps;
    long long threads;
    bool colocate_pairs;
    bool kernel_path;
    char *metrics;
    char *log;
    char *log_level;
    long long max_lifetime;
    long long nonce_lifetime;
    long long unauth_rate;
    long long max_connections;
    long long idle_timeout;
    char *alternate_server;
    long long secret_grace;
};

/* What start-up derives from the config; everything the running daemon owns. */
struct main_state {
    union vc_addr listen[TURND_LISTEN_MAX];
    unsigned n_listen;
    union vc_addr tls_listen[TURND_LISTEN_MAX];
    unsigned n_tls_listen;
    union vc_addr metrics;
    bool has_metrics;
    struct secret secret;
    uint16_t port_min, port_max;
    unsigned threads;
    struct turn_settings settings;
    struct peer_policy *policy;
    struct event_log *log;
    SSL_CTX *tls;
    struct turn_server *server;
    struct turnd_engine *engine;
    struct turnd_metrics *metrics_srv;
};

static int main_check_ip(const char *v)
{
    union vc_addr a;

    return addr_parse_ip(&a, v);
}

#define OPT(...) DAEMON_OPT(main_config, __VA_ARGS__)

static const struct cfg_option main_options[] = {
    OPT("config", CFG_STR, 0, 0, NULL, config, "JSON config file (flags override it)", NULL),
    OPT("listen", CFG_LIST, 0, 0, "0.0.0.0:3478", listen, "UDP and TCP listen address ADDR:PORT",
        daemon_check_addr, "ADDR:PORT"),
    OPT("tls-listen", CFG_LIST, 0, 0, NULL, tls_listen,
        "TLS listen address (default 0.0.0.0:5349 when --cert is given)", daemon_check_addr,
        "ADDR:PORT"),
    OPT("cert", CFG_STR, 0, 0, NULL, cert, "TLS certificate chain (PEM)", NULL, "FILE"),
    OPT("key", CFG_STR, 0, 0, NULL, key, "TLS private key (PEM)", NULL, "FILE"),
    OPT("relay-ip", CFG_STR, 0, 0, NULL, relay_ip,
        "IPv4 address relay sockets bind to (default: the listen IP, or the first interface)",
        main_check_ip, "IP"),
    OPT("relay-ip6", CFG_STR, 0, 0, NULL, relay_ip6, "IPv6 address for IPv6 relaying (optional)",
        main_check_ip, "IP"),
    OPT("external-ip", CFG_STR, 0, 0, NULL, external_ip,
        "address advertised instead of the relay IP (behind NAT)", main_check_ip, "IP"),
    OPT("ports", CFG_STR, 0, 0, "49152-65535", ports, "relay port range MIN-MAX", NULL, "MIN-MAX"),
    OPT("realm", CFG_STR, 0, 0, "vc", realm, "authentication realm", NULL, "REALM"),
    OPT("secret", CFG_STR, 0, 0, NULL, secret, "TURN REST API shared secret", NULL, "SECRET"),
    OPT("secret-file", CFG_STR, 0, 0, NULL, secret_file, "file whose first line is the secret",
        NULL, "FILE"),
    OPT("allow-peer", CFG_LIST, 0, 0, NULL, allow_peer, "CIDR exempt from the peer policy", NULL,
        "CIDR"),
    OPT("deny-peer", CFG_LIST, 0, 0, NULL, deny_peer, "CIDR refused as a peer", NULL, "CIDR"),
    OPT("max-allocations", CFG_INT, 1, 10000000, "10000", max_allocations,
        "allocations on the whole server", NULL, "N"),
    OPT("user-quota", CFG_INT, 1, 1000000, "10", user_quota, "allocations per credential", NULL),
    OPT("bps", CFG_INT, 0, 100000000000LL, "10000000", bps,
        "bits per second per allocation (0 = unlimited)", NULL),
    OPT("threads", CFG_INT, 1, 256, NULL, threads, "worker threads (default: number of CPUs)",
        NULL),
    OPT("colocate-pairs", CFG_BOOL, 0, 1, "true", colocate_pairs,
        "move one of two allocations relaying to each other to the other's thread (eBPF)", NULL),
    OPT("kernel-path", CFG_BOOL, 0, 1, "true", kernel_path,
        "relay bound IPv4 UDP channels in the kernel (eBPF at tc ingress) where the kernel "
        "(6.6+, BTF) and the capabilities (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN at start) allow",
        NULL),
    OPT("metrics", CFG_STR, 0, 0, NULL, metrics, "Prometheus endpoint ADDR:PORT (default: none)",
        daemon_check_addr, "ADDR:PORT"),
    OPT("log", CFG_STR, 0, 0, "-", log, "metadata log file, - for stdout", NULL, "FILE"),
    OPT("log-level", CFG_STR, 0, 0, "info", log_level, "error, warn, info or debug",
        daemon_check_level, "LEVEL"),
    OPT("max-lifetime", CFG_INT, 60, 86400, "3600", max_lifetime,
        "longest allocation lifetime, seconds", NULL),
    OPT("nonce-lifetime", CFG_INT, 10, 86400, "600", nonce_lifetime,
        "seconds before a nonce goes stale", NULL),
    OPT("unauth-rate", CFG_INT, 1, 1000000, "50", unauth_rate,
        "unauthenticated requests per second per source IP", NULL),
    OPT("max-connections", CFG_INT, 1, 1000000, "10000", max_connections,
        "TCP and TLS client connections", NULL),
    OPT("idle-timeout", CFG_INT, 1, 3600, "30", idle_timeout,
        "seconds a connection without an allocation may stay idle", NULL),
    OPT("alternate-server", CFG_STR, 0, 0, NULL, alternate_server,
        "sibling ADDR:PORT that new allocations are sent to while draining (SIGUSR1)",
        daemon_check_addr, "ADDR:PORT"),
    OPT("secret-grace", CFG_INT, 0, 7 * 86400, "14400", secret_grace,
        "after a secret rotation (SIGHUP), seconds within which credentials under the old "
        "secret may expire and still work: vc-signal's turn-ttl",
        NULL),
};
#define MAIN_NOPTS (sizeof(main_options) / sizeof(main_options[0]))

static const struct daemon_info main_info = {
    "vc-turn",
    TURND_VERSION,
    "usage: vc-turn [--config FILE] [--OPTION VALUE]...\n"
    "STUN/TURN relay (RFC 8656) with TURN REST API credentials.\n\n",
    main_options,
    MAIN_NOPTS,
};

static int main_parse_ports(const char *text, uint16_t *lo, uint16_t *hi)
{
    unsigned long a, b;
    char *end;

    if (text[0] < '0' || text[0] > '9')
        return -EINVAL;
    a = strtoul(text, &end, 10);
    if (*end != '-' || end[1] < '0' || end[1] > '9')
        return -EINVAL;
    b = strtoul(end + 1, &end, 10);
    if (*end != '\0' || a < 1 || b > 65535 || a > b)
        return -EINVAL;
    *lo = (uint16_t)a;
    *hi = (uint16_t)b;
    return 0;
}

/* The relay IPv4 address when --relay-ip is absent: the first concrete IPv4 listen address, else
 * the first non-loopback IPv4 interface address. */
static int main_default_relay_ip(struct main_state *st, union vc_addr *out, char *err,
                                 size_t errlen)
{
    char text[VC_ADDR_STRLEN];
    struct ifaddrs *ifs, *i;

    for (unsigned k = 0; k < st->n_listen; k++) {
        if (st->listen[k].sa.sa_family == AF_INET && !addr_is_any(&st->listen[k])) {
            *out = st->listen[k];
            addr_set_port(out, 0);
            return 0;
        }
    }
    if (getifaddrs(&ifs) < 0)
        return daemon_fail(err, errlen, "relay-ip: required (getifaddrs: %s)", strerror(errno));
    for (i = ifs; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
            (i->ifa_flags & IFF_LOOPBACK))
            continue;
        addr_from_sockaddr(out, i->ifa_addr, sizeof(struct sockaddr_in));
        addr_set_port(out, 0);
        log_msg(LOG_LEVEL_INFO, "relay-ip: using %s from interface %s",
                addr_format_ip(out, text, sizeof(text)), i->ifa_name);
        freeifaddrs(ifs);
        return 0;
    }
    freeifaddrs(ifs);
    return daemon_fail(err, errlen,
                       "relay-ip: required (listening on a wildcard address and no non-loopback "
                       "IPv4 interface found)");
}

static int main_parse_listen(const struct cfg_list *l, const char *key, union vc_addr *out,
                             unsigned *n, char *err, size_t errlen)
{
    if (l->n > TURND_LISTEN_MAX)
        return daemon_fail(err, errlen, "%s: at most %d addresses", key, TURND_LISTEN_MAX);
    for (unsigned i = 0; i < l->n; i++)
        if (addr_parse(&out[i], l->v[i], 0) < 0 || addr_port(&out[i]) == 0)
            return daemon_fail(err, errlen, "%s: '%s' is not ADDR:PORT", key, l->v[i]);
    *n = l->n;
    return 0;
}

static int main_addresses(const struct main_config *c, struct main_state *st, char *err,
                          size_t errlen)
{
    struct turn_settings *s = &st->settings;
    union vc_addr a;
    int r;

    if ((r = main_parse_listen(&c->listen, "listen", st->listen, &st->n_listen, err, errlen)) < 0)
        return r;
    if ((r = main_parse_listen(&c->tls_listen, "tls-listen", st->tls_listen, &st->n_tls_listen, err,
                               errlen)) < 0)
        return r;
    if (st->n_listen + st->n_tls_listen == 0)
        return daemon_fail(err, errlen, "listen: no listen address");
    if (main_parse_ports(c->ports, &st->port_min, &st->port_max) < 0)
        return daemon_fail(err, errlen, "ports: '%s' is not MIN-MAX with 1 <= MIN <= MAX <= 65535",
                           c->ports);
    if (c->relay_ip) {
        if (addr_parse_ip(&a, c->relay_ip) < 0)
            return daemon_fail(err, errlen, "relay-ip: '%s' is not an IP address", c->relay_ip);
        if (a.sa.sa_family != AF_INET)
            return daemon_fail(err, errlen, "relay-ip: '%s' is not IPv4 (use relay-ip6)",
                               c->relay_ip);
        if (addr_is_any(&a))
            return daemon_fail(err, errlen, "relay-ip: '%s' is a wildcard address", c->relay_ip);
        s->relay_ip4 = a;
    } else if ((r = main_default_relay_ip(st, &s->relay_ip4, err, errlen)) < 0) {
        return r;
    }
    if (c->relay_ip6) {
        if (addr_parse_ip(&a, c->relay_ip6) < 0 || a.sa.sa_family != AF_INET6 || addr_is_any(&a))
            return daemon_fail(err, errlen, "relay-ip6: '%s' is not a concrete IPv6 address",
                               c->relay_ip6);
        s->relay_ip6 = a;
    }
    if (c->external_ip) {
        if (addr_parse_ip(&a, c->external_ip) < 0)
            return daemon_fail(err, errlen, "external-ip: '%s' is not an IP address",
                               c->external_ip);
        if (a.sa.sa_family == AF_INET)
            s->external_ip4 = a;
        else
            s->external_ip6 = a;
    }
    if (c->metrics) {
        if (addr_parse(&st->metrics, c->metrics, 0) < 0 || addr_port(&st->metrics) == 0)
            return daemon_fail(err, errlen, "metrics: '%s' is not ADDR:PORT", c->metrics);
        st->has_metrics = true;
    }
    return 0;
}

static int main_tls(const struct main_config *c, struct main_state *st, char *err, size_t errlen)
{
    if (!c->cert && !c->key) {
        if (st->n_tls_listen > 0)
            return daemon_fail(err, errlen, "cert: required for tls-listen (with key)");
        return 0;
    }
    if (!c->cert)
        return daemon_fail(err, errlen, "cert: required with key");
    if (!c->key)
        return daemon_fail(err, errlen, "key: required with cert");
    if (st->n_tls_listen == 0) {
        addr_parse(&st->tls_listen[0], "0.0.0.0:5349", 0);
        st->n_tls_listen = 1;
    }
    st->tls = turnd_tls_new(c->cert, c->key, err, errlen);
    return st->tls ? 0 : -EINVAL;
}

/* Builds the peer policy of c for the running addresses of st into *out (owned by the caller,
 * even on error). */
static int main_policy(const struct main_config *c, const struct main_state *st,
                       struct peer_policy **out, char *err, size_t errlen)
{
    const struct turn_settings *s = &st->settings;
    struct peer_policy *p;
    int r;

    p = *out = policy_new();
    if (!p)
        return daemon_fail(err, errlen, "out of memory");
    for (unsigned i = 0; i < c->allow_peer.n; i++)
        if ((r = policy_allow(p, c->allow_peer.v[i])) < 0)
            return daemon_fail(err, errlen, "allow-peer: '%s': %s", c->allow_peer.v[i],
                               r == -ENOSPC ? "too many ranges" : "not a CIDR");
    for (unsigned i = 0; i < c->deny_peer.n; i++)
        if ((r = policy_deny(p, c->deny_peer.v[i])) < 0)
            return daemon_fail(err, errlen, "deny-peer: '%s': %s", c->deny_peer.v[i],
                               r == -ENOSPC ? "too many ranges" : "not a CIDR");
    /* The server's own addresses are reachable through it only on relay ports: never its
     * listeners or metrics. A wildcard listen IP makes the policy enumerate the interfaces. */
    const union vc_addr *self[] = {&s->relay_ip4, &s->relay_ip6, &s->external_ip4, &s->external_ip6,
                                   st->has_metrics ? &st->metrics : NULL};
    for (size_t i = 0; i < sizeof(self) / sizeof(self[0]); i++)
        if (self[i] && self[i]->sa.sa_family != AF_UNSPEC &&
            policy_add_self(p, self[i], st->port_min, st->port_max) < 0)
            return daemon_fail(err, errlen, "allow-peer: too many ranges");
    for (unsigned i = 0; i < st->n_listen; i++)
        if (policy_add_self(p, &st->listen[i], st->port_min, st->port_max) < 0)
            return daemon_fail(err, errlen, "listen: policy table full");
    for (unsigned i = 0; i < st->n_tls_listen; i++)
        if (policy_add_self(p, &st->tls_listen[i], st->port_min, st->port_max) < 0)
            return daemon_fail(err, errlen, "tls-listen: policy table full");
    return 0;
}

/* Turns the loaded options into start-up state. Returns 0, or -EINVAL with a message naming
 * the key in err. */
static int main_resolve(const struct main_config *c, struct main_state *st, char *err,
                        size_t errlen)
{
    const struct secret_opt secret = {"secret", "secret-file", c->secret, c->secret_file};
    struct turn_settings *s = &st->settings;
    long ncpu;
    int r;

    daemon_set_level(c->log_level);
    if ((r = main_addresses(c, st, err, errlen)) < 0)
        return r;
    if ((r = main_tls(c, st, err, errlen)) < 0)
        return r;
    if ((r = secret_load(&secret, &st->secret, err, errlen)) < 0)
        return r;
    if (st->secret.len == 0)
        return daemon_fail(err, errlen, "secret: required (use --secret or --secret-file)");
    if ((r = main_policy(c, st, &st->policy, err, errlen)) < 0)
        return r;
    if (c->alternate_server && (addr_parse(&s->alternate_server, c->alternate_server, 0) < 0 ||
                                addr_port(&s->alternate_server) == 0))
        return daemon_fail(err, errlen, "alternate-server: '%s' is not ADDR:PORT",
                           c->alternate_server);
    ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    st->threads = c->threads > 0 ? (unsigned)c->threads : ncpu > 0 ? (unsigned)ncpu : 1;
    s->realm = c->realm;
    s->secret = st->secret.bytes;
    s->secret_len = st->secret.len;
    s->policy = st->policy;
    s->port_min = st->port_min;
    s->port_max = st->port_max;
    s->max_allocations = (unsigned)c->max_allocations;
    s->user_quota = (unsigned)c->user_quota;
    s->bps = (uint64_t)c->bps;
    s->max_lifetime = (unsigned)c->max_lifetime;
    s->nonce_lifetime = (unsigned)c->nonce_lifetime;
    s->unauth_rate = (unsigned)c->unauth_rate;
    s->workers = st->threads;
    s->secret_grace = (unsigned)c->secret_grace;
    st->log = event_log_open(c->log);
    if (!st->log)
        return daemon_fail(err, errlen, "log: cannot open %s: %s", c->log, strerror(errno));
    s->log = st->log;
    return 0;
}

/* Appends the addresses to the start-up line. */
static size_t main_put_addrs(char *out, size_t cap, size_t len, const union vc_addr *a, unsigned n)
{
    char text[VC_ADDR_STRLEN];

    for (unsigned i = 0; i < n && len < cap; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? " " : "",
                         addr_format(&a[i], text, sizeof(text)));
        if (w > 0)
            len += (size_t)w;
    }
    return len < cap ? len : cap - 1;
}

static void main_banner(const struct main_state *st)
{
    char line[1024], ip4[VC_ADDR_STRLEN], ip6[VC_ADDR_STRLEN];
    size_t len = 0;
    int w;

    w = snprintf(line, sizeof(line), "vc-turn: listening ");
    len = (size_t)w;
    if (st->n_listen) {
        w = snprintf(line + len, sizeof(line) - len, "udp+tcp ");
        len += (size_t)w;
        len = main_put_addrs(line, sizeof(line), len, st->listen, st->n_listen);
        if (st->n_tls_listen && len < sizeof(line))
            len += (size_t)snprintf(line + len, sizeof(line) - len, ", ");
    }
    if (st->n_tls_listen && len < sizeof(line)) {
        len += (size_t)snprintf(line + len, sizeof(line) - len, "tls ");
        len = main_put_addrs(line, sizeof(line), len, st->tls_listen, st->n_tls_listen);
    }
    addr_format_ip(&st->settings.relay_ip4, ip4, sizeof(ip4));
    ip6[0] = '\0';
    if (st->settings.relay_ip6.sa.sa_family == AF_INET6) {
        ip6[0] = ' ';
        addr_format_ip(&st->settings.relay_ip6, ip6 + 1, sizeof(ip6) - 1);
    }
    if (len < sizeof(line))
        snprintf(line + len, sizeof(line) - len, ", relay %s%s ports %u-%u, %u thread%s\n", ip4,
                 ip6, st->port_min, st->port_max, st->threads, st->threads == 1 ? "" : "s");
    fputs(line, stderr);
    if (st->has_metrics)
        fprintf(stderr, "vc-turn: metrics on http://%s/metrics\n",
                addr_format(&st->metrics, ip4, sizeof(ip4)));
}

static void main_free(struct main_state *st)
{
    turnd_metrics_stop(st->metrics_srv);
    if (st->engine) {
        turnd_engine_stop(st->engine);
        turnd_engine_free(st->engine);
    }
    if (st->server)
        turn_server_free(st->server);
    if (st->log)
        event_log_close(st->log);
    if (st->policy)
        policy_free(st->policy);
    SSL_CTX_free(st->tls);
    secret_wipe(&st->secret);
}

/* --- SIGHUP reload and SIGUSR1 drain --- */

/* Keys bound to sockets, threads or pools made at start-up: a reload that changes one says it
 * needs a restart and keeps the running value. Every other key applies live. */
static const char *const main_restart_keys[] = {
    "listen",         "tls-listen", "relay-ip",       "relay-ip6",
    "external-ip",    "ports",      "realm",          "threads",
    "colocate-pairs", "metrics",    "nonce-lifetime", "max-connections",
    "idle-timeout",   "log",        "kernel-path",
};

static bool main_same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* True when option o holds the same value in configs a and b. */
static bool main_same_value(const struct cfg_option *o, const struct main_config *a,
                            const struct main_config *b)
{
    const char *pa = (const char *)a + o->offset, *pb = (const char *)b + o->offset;

    switch (o->type) {
    case CFG_INT:
        return *(const long long *)pa == *(const long long *)pb;
    case CFG_BOOL:
        return *(const bool *)pa == *(const bool *)pb;
    case CFG_DOUBLE:
        return *(const double *)pa == *(const double *)pb;
    case CFG_STR:
        return main_same_str(*(char *const *)pa, *(char *const *)pb);
    case CFG_LIST: {
        const struct cfg_list *la = (const void *)pa, *lb = (const void *)pb;
        if (la->n != lb->n)
            return false;
        for (unsigned i = 0; i < la->n; i++)
            if (strcmp(la->v[i], lb->v[i]) != 0)
                return false;
        return true;
    }
    }
    return false;
}

static void main_report_restart_keys(const struct main_config *run, const struct main_config *c)
{
    for (size_t k = 0; k < sizeof(main_restart_keys) / sizeof(main_restart_keys[0]); k++)
        for (size_t i = 0; i < MAIN_NOPTS; i++)
            if (strcmp(main_options[i].key, main_restart_keys[k]) == 0 &&
                !main_same_value(&main_options[i], run, c))
                log_msg(LOG_LEVEL_WARN,
                        "SIGHUP: %s changed: needs a restart (the running value stays)",
                        main_restart_keys[k]);
}

/* What a reload builds before anything is applied; freed by main_reload_free() unless taken. */
struct main_reload {
    struct main_config cfg;
    struct secret secret;
    struct peer_policy *policy;
    SSL_CTX *tls;
    struct turn_settings set;
};

static void main_reload_free(struct main_reload *r)
{
    policy_free(r->policy);
    SSL_CTX_free(r->tls);
    secret_wipe(&r->secret);
    cfg_free(main_options, MAIN_NOPTS, &r->cfg);
}

/* Loads and checks everything the new config asks for. Returns 0, or -EINVAL with a message
 * naming the key in err; nothing running is touched either way. */
static int main_reload_prepare(const struct main_state *st, struct main_reload *r, int argc,
                               char **argv, char *err, size_t errlen)
{
    const struct main_config *c = &r->cfg;
    struct secret_opt secret = {"secret", "secret-file", NULL, NULL};
    struct turn_settings *s = &r->set;
    int e;

    if ((e = cfg_load(main_options, MAIN_NOPTS, &r->cfg, argc, argv, err, errlen)) < 0)
        return e;
    secret.value = c->secret;
    secret.path = c->secret_file;
    if ((e = secret_load(&secret, &r->secret, err, errlen)) < 0)
        return e;
    if (r->secret.len == 0)
        return daemon_fail(err, errlen, "secret: required (use --secret or --secret-file)");
    if ((e = main_policy(c, st, &r->policy, err, errlen)) < 0)
        return e;
    *s = *turn_server_settings(st->server);
    memset(&s->alternate_server, 0, sizeof(s->alternate_server));
    if (c->alternate_server && (addr_parse(&s->alternate_server, c->alternate_server, 0) < 0 ||
                                addr_port(&s->alternate_server) == 0))
        return daemon_fail(err, errlen, "alternate-server: '%s' is not ADDR:PORT",
                           c->alternate_server);
    if (st->tls && (!c->cert || !c->key))
        return daemon_fail(err, errlen, "%s: required while TLS listeners run",
                           c->cert ? "key" : "cert");
    if (st->tls && !(r->tls = turnd_tls_new(c->cert, c->key, err, errlen)))
        return -EINVAL;
    if (!st->tls && (c->cert || c->key))
        log_msg(LOG_LEVEL_WARN, "SIGHUP: cert: TLS listeners need a restart (not started)");
    s->secret = r->secret.bytes;
    s->secret_len = r->secret.len;
    s->policy = r->policy;
    s->max_allocations = (unsigned)c->max_allocations;
    if (s->max_allocations > turn_server_settings(st->server)->max_allocations) {
        /* The worker pools and the quota table were sized for the start-up value. */
        s->max_allocations = turn_server_settings(st->server)->max_allocations;
        log_msg(LOG_LEVEL_WARN, "SIGHUP: max-allocations: %lld needs a restart (using %u)",
                c->max_allocations, s->max_allocations);
    }
    s->user_quota = (unsigned)c->user_quota;
    s->bps = (uint64_t)c->bps;
    s->max_lifetime = (unsigned)c->max_lifetime;
    s->unauth_rate = (unsigned)c->unauth_rate;
    s->secret_grace = (unsigned)c->secret_grace;
    return 0;
}

/* SIGHUP: re-reads the config file and the secret file and applies them without touching a
 * live allocation; a bad config is refused whole and the running one stays. */
static void main_reload(struct main_state *st, const struct main_config *run, int argc, char **argv)
{
    struct main_reload r;
    char err[512] = "";
    SSL_CTX *old_tls = NULL;
    struct timespec now;
    int e;

    memset(&r, 0, sizeof(r));
    if (main_reload_prepare(st, &r, argc, argv, err, sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "SIGHUP: reload refused, the running config stays: %s", err);
        main_reload_free(&r);
        return;
    }
    main_report_restart_keys(run, &r.cfg);
    clock_gettime(CLOCK_REALTIME, &now);
    if ((e = turn_server_reload(st->server, &r.set, now.tv_sec)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "SIGHUP: reload refused: %s", strerror(-e));
        main_reload_free(&r);
        return;
    }
    r.policy = NULL; /* the server's now */
    if (r.tls) {
        old_tls = turnd_engine_swap_tls(st->engine, r.tls);
        st->tls = r.tls;
        r.tls = NULL;
    }
    daemon_set_level(r.cfg.log_level);
    /* RCU: free what workers may still read only once each has passed a quiescent point. */
    if (turnd_engine_sync(st->engine) == 0) {
        turn_server_reclaim(st->server);
        SSL_CTX_free(old_tls);
    } else {
        log_msg(LOG_LEVEL_WARN, "SIGHUP: a worker did not pass a quiescent point in 5 s; "
                                "keeping the old settings in memory");
    }
    log_msg(LOG_LEVEL_INFO,
            "SIGHUP: reloaded: secret, peer policy (%u allow-peer, %u deny-peer), limits%s%s",
            r.cfg.allow_peer.n, r.cfg.deny_peer.n, st->tls ? ", TLS certificate" : "",
            r.set.alternate_server.sa.sa_family ? ", alternate-server" : "");
    main_reload_free(&r);
}

/* Waits for signals until SIGINT or SIGTERM: SIGHUP reloads, SIGUSR1 starts draining. */
static void main_signals(struct main_state *st, const struct main_config *c, const sigset_t *set,
                         int argc, char **argv)
{
    for (;;) {
        int sig = 0;

        while (sigwait(set, &sig) != 0)
            ;
        if (sig == SIGHUP) {
            main_reload(st, c, argc, argv);
        } else if (sig == SIGUSR1) {
            turn_server_set_draining(st->server, true);
            log_msg(LOG_LEVEL_INFO, "SIGUSR1: draining: new allocations go to %s",
                    c->alternate_server ? c->alternate_server : "no sibling (508)");
        } else {
            log_msg(LOG_LEVEL_INFO, "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            return;
        }
    }
}

/* Starts the engine and metrics, then waits for SIGINT or SIGTERM. Returns the exit status. */
static int main_serve(struct main_state *st, const struct main_config *c, int argc, char **argv)
{
    struct turnd_engine_config ec = {
        .server = st->server,
        .workers = st->threads,
        .listen = st->listen,
        .n_listen = st->n_listen,
        .tls_listen = st->tls_listen,
        .n_tls_listen = st->n_tls_listen,
        .tls = st->tls,
        .max_connections = (unsigned)c->max_connections,
        .idle_timeout_s = (unsigned)c->idle_timeout,
        .colocate_pairs = c->colocate_pairs,
        .kernel_path = c->kernel_path,
    };
    char err[512] = "";
    sigset_t set;

    /* Workers inherit this mask, so only the sigwait() below ever sees the signals: no flag,
     * no handler. */
    daemon_block_signals(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (turnd_engine_start(&ec, &st->engine, err, sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        return 1;
    }
    if (st->has_metrics &&
        turnd_metrics_start(&st->metrics, st->engine, &st->metrics_srv, err, sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        return 1;
    }
    main_banner(st);
    main_signals(st, c, &set, argc, argv);
    return 0;
}

int main(int argc, char **argv)
{
    struct main_config cfg;
    struct main_state st;
    char err[512] = "";
    int status;

    if (daemon_info_flag(&main_info, argc, argv))
        return 0;
    memset(&cfg, 0, sizeof(cfg));
    memset(&st, 0, sizeof(st));
    if (daemon_load(&main_info, &cfg, argc, argv) < 0)
        return DAEMON_EXIT_CONFIG;
    if (main_resolve(&cfg, &st, err, sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        main_free(&st);
        cfg_free(main_options, MAIN_NOPTS, &cfg);
        return DAEMON_EXIT_CONFIG;
    }
    daemon_raise_nofile();
    st.server = turn_server_new(&st.settings);
    if (!st.server) {
        log_msg(LOG_LEVEL_ERROR, "cannot create the TURN server (out of memory or no CSPRNG)");
        status = 1;
    } else {
        status = main_serve(&st, &cfg, argc, argv);
    }
    main_free(&st);
    cfg_free(main_options, MAIN_NOPTS, &cfg);
    return status;
}
