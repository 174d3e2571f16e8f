/* vc-turn: command line and config, start-up checks, signals, and the engine's lifetime. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    char *metrics;
    char *log;
    char *log_level;
    long long max_lifetime;
    long long nonce_lifetime;
    long long unauth_rate;
    long long max_connections;
    long long idle_timeout;
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
        daemon_check_addr),
    OPT("tls-listen", CFG_LIST, 0, 0, NULL, tls_listen,
        "TLS listen address (default 0.0.0.0:5349 when --cert is given)", daemon_check_addr),
    OPT("cert", CFG_STR, 0, 0, NULL, cert, "TLS certificate chain (PEM)", NULL),
    OPT("key", CFG_STR, 0, 0, NULL, key, "TLS private key (PEM)", NULL),
    OPT("relay-ip", CFG_STR, 0, 0, NULL, relay_ip,
        "IPv4 address relay sockets bind to (default: the listen IP, or the first interface)",
        main_check_ip),
    OPT("relay-ip6", CFG_STR, 0, 0, NULL, relay_ip6, "IPv6 address for IPv6 relaying (optional)",
        main_check_ip),
    OPT("external-ip", CFG_STR, 0, 0, NULL, external_ip,
        "address advertised instead of the relay IP (behind NAT)", main_check_ip),
    OPT("ports", CFG_STR, 0, 0, "49152-65535", ports, "relay port range MIN-MAX", NULL),
    OPT("realm", CFG_STR, 0, 0, "vc", realm, "authentication realm", NULL),
    OPT("secret", CFG_STR, 0, 0, NULL, secret, "TURN REST API shared secret", NULL),
    OPT("secret-file", CFG_STR, 0, 0, NULL, secret_file, "file whose first line is the secret",
        NULL),
    OPT("allow-peer", CFG_LIST, 0, 0, NULL, allow_peer, "CIDR exempt from the peer policy", NULL),
    OPT("deny-peer", CFG_LIST, 0, 0, NULL, deny_peer, "CIDR refused as a peer", NULL),
    OPT("max-allocations", CFG_INT, 1, 10000000, "10000", max_allocations,
        "allocations on the whole server", NULL),
    OPT("user-quota", CFG_INT, 1, 1000000, "10", user_quota, "allocations per credential", NULL),
    OPT("bps", CFG_INT, 0, 100000000000LL, "10000000", bps,
        "bits per second per allocation (0 = unlimited)", NULL),
    OPT("threads", CFG_INT, 1, 256, NULL, threads, "worker threads (default: number of CPUs)",
        NULL),
    OPT("metrics", CFG_STR, 0, 0, NULL, metrics, "Prometheus endpoint ADDR:PORT (default: none)",
        daemon_check_addr),
    OPT("log", CFG_STR, 0, 0, "-", log, "metadata log file, - for stdout", NULL),
    OPT("log-level", CFG_STR, 0, 0, "info", log_level, "error, warn, info or debug",
        daemon_check_level),
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

static int main_policy(const struct main_config *c, struct main_state *st, char *err, size_t errlen)
{
    struct turn_settings *s = &st->settings;
    int r;

    st->policy = policy_new();
    if (!st->policy)
        return daemon_fail(err, errlen, "out of memory");
    for (unsigned i = 0; i < c->allow_peer.n; i++)
        if ((r = policy_allow(st->policy, c->allow_peer.v[i])) < 0)
            return daemon_fail(err, errlen, "allow-peer: '%s': %s", c->allow_peer.v[i],
                               r == -ENOSPC ? "too many ranges" : "not a CIDR");
    for (unsigned i = 0; i < c->deny_peer.n; i++)
        if ((r = policy_deny(st->policy, c->deny_peer.v[i])) < 0)
            return daemon_fail(err, errlen, "deny-peer: '%s': %s", c->deny_peer.v[i],
                               r == -ENOSPC ? "too many ranges" : "not a CIDR");
    /* The server's own addresses are reachable through it only on relay ports: never its
     * listeners or metrics. A wildcard listen IP makes the policy enumerate the interfaces. */
    const union vc_addr *self[] = {&s->relay_ip4, &s->relay_ip6, &s->external_ip4, &s->external_ip6,
                                   st->has_metrics ? &st->metrics : NULL};
    for (size_t i = 0; i < sizeof(self) / sizeof(self[0]); i++)
        if (self[i] && self[i]->sa.sa_family != AF_UNSPEC &&
            policy_add_self(st->policy, self[i], st->port_min, st->port_max) < 0)
            return daemon_fail(err, errlen, "allow-peer: too many ranges");
    for (unsigned i = 0; i < st->n_listen; i++)
        if (policy_add_self(st->policy, &st->listen[i], st->port_min, st->port_max) < 0)
            return daemon_fail(err, errlen, "listen: policy table full");
    for (unsigned i = 0; i < st->n_tls_listen; i++)
        if (policy_add_self(st->policy, &st->tls_listen[i], st->port_min, st->port_max) < 0)
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
    if ((r = main_policy(c, st, err, errlen)) < 0)
        return r;
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

/* Starts the engine and metrics, then waits for SIGINT or SIGTERM. Returns the exit status. */
static int main_serve(struct main_state *st, const struct main_config *c)
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
    };
    char err[512] = "";
    sigset_t set;

    /* Workers inherit this mask, so only the sigwait() below ever sees the signals: no flag,
     * no handler. */
    daemon_block_signals(&set);
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
    daemon_wait_signal(&set);
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
        status = main_serve(&st, &cfg);
    }
    main_free(&st);
    cfg_free(main_options, MAIN_NOPTS, &cfg);
    return status;
}
