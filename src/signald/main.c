/* vc-signal: command line and config, start-up checks, and the server's lifetime.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>

#include "vc/accounts.h"
#include "vc/addr.h"
#include "vc/config.h"
#include "vc/daemon.h"
#include "vc/hub.h"
#include "vc/log.h"
#include "vc/random.h"
#include "vc/reports.h"
#include "vc/secret.h"
#include "vc/sigapi.h"
#include "vc/sigmsg.h"
#include "vc/store.h"
#include "vc/turnpool.h"
#include "branding.h"
#include "signald.h"
#include "turnprobe.h"
#include "webhook.h"

/* An API key shorter than this is too easy to guess. */
#define MAIN_API_KEY_MIN 16

/* Every option, as cfg_load() fills it. */
struct main_config {
    char *config;
    char *listen;
    char *cert;
    char *key;
    char *public_url;
    char *api_key;
    char *api_key_file;
    char *turn_secret;
    char *turn_secret_file;
    struct cfg_list ice_server;
    long long turn_ttl;
    long long turn_margin;
    struct cfg_list allowed_origin;
    long long max_msg_rate;
    long long resume_grace;
    struct signald_db_keys db;
    char *redis;
    char *node_id;
    char *log;
    char *log_level;
    char *frame_ancestors;
    long long max_rooms;
    long long max_rooms_per_owner;
    long long max_knocks_per_min;
    long long max_lobby_messages_per_min;
    struct cfg_list canned_message;
    long long away_queue_max;
    long long away_queue_bytes;
    long long max_conns_per_ip_per_min;
    long long max_conns_per_ip;
    long long http_header_timeout;
    long long http_body_timeout;
    long long max_connections;
    char *web_root;
    char *branding;
    long long session_ttl;
    struct cfg_list metrics_allow;
    struct cfg_list turn_node;
    char *default_region;
    char *webhook_url;
    char *webhook_secret_file;
    char *webhook_ca;
    long long webhook_max_queue;
    long long webhook_retry_min_ms;
    long long webhook_retry_max_ms;
    long long webhook_timeout;
    long long retention_days;
};

/* What start-up derives from the config; everything the running daemon owns. */
struct main_state {
    struct main_config *cfg; /* borrowed: main()'s, replaced in place by a reload */
    int argc;                /* the command line, read again on SIGHUP (flags override the file) */
    unsigned long nofile;    /* the descriptor limit, raised once at start (0: unlimited) */
    char **argv;
    struct secret api_key;
    struct secret turn_secret;
    char public_url[SIGNALD_ORIGIN_MAX];
    char web_root[PATH_MAX];
    int web_root_fd;          /* -1 until opened */
    struct branding branding; /* what the patient's pages show; fixed for the process */
    struct event_log *log;
    struct accounts *accounts;
    struct hub_settings hub;
    struct sigapi_settings api;
    struct signald_settings server;
    char node_id[65];        /* --node-id, or host name and a random suffix */
    struct turnpool *pool;   /* NULL without turn-node; fixed for the process's lifetime */
    struct turnprobe *probe; /* its health checker, while the server runs */
    char default_region[TURNPOOL_REGION_MAX + 1];
    struct secret webhook_secret; /* the HMAC key; the webhook borrows it */
    struct webhook *webhook;      /* NULL without webhook-url */
    struct reports *reports;      /* the consultations, from the metadata log */
    bool curl_ready;              /* curl_global_init() was called */
};

static int main_check_ice(const char *v)
{
    if (strncmp(v, "stun:", 5) == 0 || strncmp(v, "turn:", 5) == 0 || strncmp(v, "turns:", 6) == 0)
        return strlen(v) > 6 ? 0 : -EINVAL;
    return -EINVAL;
}

/* Host characters of an origin or URL: letters, digits, '.', '-', and ':' '[' ']' for IPv6
 * literals and the port. */
static bool main_host_ok(const char *host, size_t len)
{
    if (len == 0 || len >= SIGNALD_ORIGIN_MAX - 8)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];

        if (!isalnum(c) && c != '.' && c != '-' && c != ':' && c != '[' && c != ']')
            return false;
    }
    return true;
}

/* "https://host[:port]" or "http://host[:port]", exactly as a browser sends Origin. */
/* The ready-made messages clinicians see when none are configured. */
static const char *const main_canned[] = {
    "The clinician is running about 10 minutes late. Please stay on this page.",
    "The clinician will be with you in a moment.",
    "Please check that your camera and microphone are switched on.",
};
#define MAIN_NCANNED (sizeof(main_canned) / sizeof(main_canned[0]))

/* A ready-made message: 1 to 280 characters, no control characters but newlines. */
static int main_check_canned(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > SIGMSG_TEXT_MAX_BYTES || sigmsg_utf8_chars(v, n) > SIGMSG_TEXT_MAX_CHARS)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)v[i] < 0x20 && v[i] != '\n') || v[i] == 0x7f)
            return -EINVAL;
    return 0;
}

static int main_check_origin(const char *v)
{
    const char *host = strncmp(v, "https://", 8) == 0  ? v + 8
                       : strncmp(v, "http://", 7) == 0 ? v + 7
                                                       : NULL;

    return host && main_host_ok(host, strlen(host)) ? 0 : -EINVAL;
}

static int main_check_public_url(const char *v)
{
    size_t len;

    if (strncmp(v, "https://", 8) != 0)
        return -EINVAL;
    len = strlen(v + 8);
    if (len > 0 && v[8 + len - 1] == '/')
        len--;
    return main_host_ok(v + 8, len) ? 0 : -EINVAL;
}

static int main_check_cidr(const char *v)
{
    struct cidr c;

    return cidr_parse(v, &c);
}

static int main_check_redis(const char *v)
{
    return strncmp(v, "redis://", 8) == 0 && v[8] && v[8] != '/' ? 0 : -EINVAL;
}

/* A node name: 1..48 of letters, digits, '.', '_' and '-' (it names Redis keys and channels). */
static int main_check_node(const char *v)
{
    size_t len = strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

    return len > 0 && len <= 48 && v[len] == '\0' ? 0 : -EINVAL;
}

/* The node's name: --node-id, or the host name (cut to its allowed characters) and 6 random hex
 * digits, so a restarted process is a new node. */
static int main_node_id(const struct main_config *c, struct main_state *st)
{
    char host[64] = "node", suffix[7];

    if (c->node_id) {
        snprintf(st->node_id, sizeof(st->node_id), "%s", c->node_id);
        return 0;
    }
    if (gethostname(host, sizeof(host)) < 0 || main_check_node(host) < 0)
        snprintf(host, sizeof(host), "node");
    if (random_token_hex(suffix, sizeof(suffix), 3) < 0)
        return -EIO;
    snprintf(st->node_id, sizeof(st->node_id), "%.40s-%s", host, suffix);
    return 0;
}

/* A CSP source list: printable ASCII without ';' or ',' (they would start a new directive). */
static int main_check_csp(const char *v)
{
    if (!*v)
        return -EINVAL;
    for (; *v; v++)
        if (*v < 0x20 || *v > 0x7e || *v == ';' || *v == ',')
            return -EINVAL;
    return 0;
}

#define OPT(...) DAEMON_OPT(main_config, __VA_ARGS__)

static const struct cfg_option main_options[] = {
    OPT("config", CFG_STR, 0, 0, NULL, config, "JSON config file (flags override it)", NULL),
    OPT("listen", CFG_STR, 0, 0, "127.0.0.1:8443", listen,
        "HTTPS and WSS listen address ADDR:PORT, bound exactly (0.0.0.0 or [::] for every one)",
        daemon_check_addr, "ADDR:PORT"),
    OPT("cert", CFG_STR, 0, 0, "certs/server.crt", cert, "TLS certificate chain (PEM)", NULL,
        "FILE"),
    OPT("key", CFG_STR, 0, 0, "certs/server.key", key, "TLS private key (PEM)", NULL, "FILE"),
    OPT("public-url", CFG_STR, 0, 0, "https://localhost:8443", public_url,
        "https://HOST[:PORT] browsers use; links are PUBLIC_URL/join#TOKEN", main_check_public_url,
        "URL"),
    OPT("api-key", CFG_STR, 0, 0, NULL, api_key,
        "REST API bearer key (default: none, API-key auth off)", NULL, "KEY"),
    OPT("api-key-file", CFG_STR, 0, 0, NULL, api_key_file, "file whose first line is the API key",
        NULL, "FILE"),
    OPT("turn-secret", CFG_STR, 0, 0, NULL, turn_secret,
        "TURN REST API shared secret (the one vc-turn uses)", NULL, "SECRET"),
    OPT("turn-secret-file", CFG_STR, 0, 0, NULL, turn_secret_file,
        "file whose first line is the TURN secret", NULL, "FILE"),
    OPT("ice-server", CFG_LIST, 0, 0, NULL, ice_server,
        "STUN/TURN URL handed to browsers (stun:, turn:, turns:)", main_check_ice, "URL"),
    OPT("turn-ttl", CFG_INT, 60, 7 * 86400, "14400", turn_ttl,
        "longest TURN credential lifetime, seconds", NULL),
    OPT("turn-margin", CFG_INT, 0, 86400, "3600", turn_margin,
        "seconds a TURN credential outlives its room", NULL),
    OPT("allowed-origin", CFG_LIST, 0, 0, NULL, allowed_origin,
        "extra WebSocket Origin allowed (scheme://host[:port])", main_check_origin, "ORIGIN"),
    OPT("max-msg-rate", CFG_INT, 1, 100000, "200", max_msg_rate,
        "WebSocket messages per second per connection (burst: twice this)", NULL),
    OPT("resume-grace", CFG_INT, 0, 3600, "60", resume_grace, "seconds a dropped peer may resume",
        NULL),
    SIGNALD_DB_OPTIONS(main_config),
    OPT("redis", CFG_STR, 0, 0, NULL, redis,
        "redis://[:PASSWORD@]HOST[:PORT][/DB]: rooms shared with other nodes", main_check_redis,
        "URL"),
    OPT("node-id", CFG_STR, 0, 0, NULL, node_id,
        "this node's name in the cluster (letters, digits, . _ -; default: host name and a random "
        "suffix)",
        main_check_node, "NAME"),
    OPT("log", CFG_STR, 0, 0, "-", log, "metadata log file, - for stdout", NULL, "FILE"),
    OPT("log-level", CFG_STR, 0, 0, "info", log_level, "error, warn, info or debug",
        daemon_check_level, "LEVEL"),
    OPT("frame-ancestors", CFG_STR, 0, 0, "'none'", frame_ancestors, "CSP frame-ancestors sources",
        main_check_csp, "SOURCES"),
    OPT("max-rooms", CFG_INT, 1, 10000000, "10000", max_rooms, "live rooms in total", NULL),
    OPT("max-rooms-per-owner", CFG_INT, 1, 1000000, "50", max_rooms_per_owner,
        "live rooms per API key or clinician", NULL),
    OPT("max-knocks-per-min", CFG_INT, 1, 10000, "10", max_knocks_per_min,
        "lobby knocks per room per minute", NULL),
    OPT("max-lobby-messages-per-min", CFG_INT, 1, 1000, "10", max_lobby_messages_per_min,
        "messages to one room's waiting patients per minute", NULL),
    OPT("canned-message", CFG_LIST, 0, 0, NULL, canned_message,
        "a ready-made message clinicians can send waiting patients (at most 280 characters; "
        "default: three about waiting)",
        main_check_canned, "TEXT"),
    OPT("away-queue-max", CFG_INT, 0, 100000, "256", away_queue_max,
        "signals buffered for a peer who is away", NULL),
    OPT("away-queue-bytes", CFG_INT, 0, 64 * 1024 * 1024, "262144", away_queue_bytes,
        "bytes buffered for a peer who is away", NULL),
    OPT("max-conns-per-ip-per-min", CFG_INT, 1, 1000000, "60", max_conns_per_ip_per_min,
        "new WebSocket connections per client IP per minute", NULL),
    OPT("max-conns-per-ip", CFG_INT, 1, 1000000, "500", max_conns_per_ip,
        "open HTTPS and WSS connections per client IP (a hospital's NAT may carry hundreds)", NULL),
    OPT("http-header-timeout", CFG_INT, 1, 3600, "10", http_header_timeout,
        "seconds a connection has for a request's headers (after connecting or an answer)", NULL),
    OPT("http-body-timeout", CFG_INT, 1, 3600, "10", http_body_timeout,
        "seconds a request body may take, plus one per KiB (1 KiB/s at least)", NULL),
    OPT("max-connections", CFG_INT, 1, 1000000, "20000", max_connections,
        "open WebSocket connections", NULL),
    OPT("web-root", CFG_STR, 0, 0, NULL, web_root,
        "directory of the static web pages (default: share/vc/web beside the binary's directory, "
        "as installed, else src/web)",
        NULL, "DIR"),
    OPT("branding", CFG_STR, 0, 0, NULL, branding,
        "JSON file naming the organisation on the patient's pages: name, logo (PNG or SVG, under "
        "200 KB), colour and text-colour (AA contrast), phone, privacy-url (default: neutral)",
        NULL, "FILE"),
    OPT("session-ttl", CFG_INT, 60, 30 * 86400, "43200", session_ttl,
        "clinician login lifetime, seconds", NULL),
    OPT("metrics-allow", CFG_LIST, 0, 0, "127.0.0.0/8,::1/128", metrics_allow,
        "CIDR allowed to read /metrics", main_check_cidr, "CIDR"),
    OPT("turn-node", CFG_LIST, 0, 0, NULL, turn_node,
        "vc-turn node of the pool (repeat per node): "
        "region=R,weight=W,stun=IP:PORT,urls=URL|URL... (replaces turn: ice-servers)",
        NULL, "SPEC"),
    OPT("default-region", CFG_STR, 0, 0, NULL, default_region,
        "turn-node region of rooms created without one (default: the first node's)", NULL,
        "REGION"),
    OPT("webhook-url", CFG_STR, 0, 0, NULL, webhook_url,
        "https:// URL that receives signed JSON events (room.created, peer.joined, ...)", NULL,
        "URL"),
    OPT("webhook-secret-file", CFG_STR, 0, 0, NULL, webhook_secret_file,
        "file whose first line is the webhook signing secret (required with webhook-url)", NULL,
        "FILE"),
    OPT("webhook-ca", CFG_STR, 0, 0, NULL, webhook_ca,
        "PEM CA bundle for the webhook receiver's certificate (default: the system's)", NULL,
        "FILE"),
    OPT("webhook-max-queue", CFG_INT, 16, 10000000, "100000", webhook_max_queue,
        "webhook events kept for delivery; when full the oldest are dropped", NULL, "N"),
    OPT("webhook-retry-min-ms", CFG_INT, 10, 3600000, "2000", webhook_retry_min_ms,
        "first webhook retry after about this many ms; it doubles each time", NULL, "MS"),
    OPT("webhook-retry-max-ms", CFG_INT, 10, 86400000, "3600000", webhook_retry_max_ms,
        "longest wait between two webhook attempts, ms (retries stop after 24 h)", NULL, "MS"),
    OPT("webhook-timeout", CFG_INT, 1, 60, "10", webhook_timeout,
        "seconds one webhook attempt may take, connecting included", NULL, "SECONDS"),
    OPT("retention-days", CFG_INT, REPORTS_RETENTION_MIN, REPORTS_RETENTION_MAX, "400",
        retention_days, "days the consultation reports keep; older ones are purged daily", NULL,
        "DAYS"),
};
#define MAIN_NOPTS (sizeof(main_options) / sizeof(main_options[0]))

static const struct daemon_info main_info = {
    "vc-signal",
    SIGNALD_VERSION,
    "usage: vc-signal [--config FILE] [--OPTION VALUE]...\n"
    "       vc-signal user add EMAIL [--name NAME] [--team TEAM]... [DATABASE]  (password on "
    "stdin)\n"
    "       vc-signal user del EMAIL [DATABASE]\n"
    "       vc-signal team add|del|list [NAME] [DATABASE]\n"
    "DATABASE: --data-dir DIR (SQLite, the default), or --database postgresql://... "
    "[--database-password-file FILE] [--database-timeout MS]\n"
    "Signalling server for video consultations: HTTPS and WSS on one port.\n\n",
    main_options,
    MAIN_NOPTS,
};

static int main_readable(const char *key, const char *path, char *err, size_t errlen)
{
    struct stat st;

    if (access(path, R_OK) < 0 || stat(path, &st) < 0)
        return daemon_fail(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return daemon_fail(err, errlen, "%s: %s is not a regular file", key, path);
    return 0;
}

/* The public URL without a trailing '/', its host for the CSP, and its origin (host
 * lower-cased, as browsers send it) as the first allowed origin. */
static int main_origins(const struct main_config *c, struct main_state *st, char *err,
                        size_t errlen)
{
    struct signald_settings *s = &st->server;
    size_t len = strlen(c->public_url);

    if (len > 8 && c->public_url[len - 1] == '/')
        len--;
    memcpy(st->public_url, c->public_url, len);
    st->public_url[len] = '\0';
    for (size_t i = 8; i < len; i++)
        st->public_url[i] = (char)tolower((unsigned char)st->public_url[i]);
    snprintf(s->host, sizeof(s->host), "%s", st->public_url + 8);
    snprintf(s->origins[0], sizeof(s->origins[0]), "%s", st->public_url);
    s->n_origins = 1;
    if (c->allowed_origin.n + 1 > SIGNALD_ORIGINS_MAX)
        return daemon_fail(err, errlen, "allowed-origin: at most %d", SIGNALD_ORIGINS_MAX - 1);
    for (unsigned i = 0; i < c->allowed_origin.n; i++)
        snprintf(s->origins[s->n_origins++], sizeof(s->origins[0]), "%s", c->allowed_origin.v[i]);
    return 0;
}

static int main_listen(const struct main_config *c, struct main_state *st, char *err, size_t errlen)
{
    struct signald_settings *s = &st->server;
    union vc_addr a;

    if (addr_parse(&a, c->listen, 0) < 0 || addr_port(&a) == 0)
        return daemon_fail(err, errlen, "listen: '%s' is not ADDR:PORT", c->listen);
    /* Exactly this address, the wildcard ones included ("0.0.0.0" is IPv4 only, "::" both). */
    addr_format_ip(&a, s->iface, sizeof(s->iface));
    s->listen_v6 = a.sa.sa_family == AF_INET6;
    s->port = addr_port(&a);
    return 0;
}

/* Without web-root: share/vc/web beside the running binary's directory when it is there, the
 * layout of `make install` and of the package (/usr/sbin/vc-signal serves /usr/share/vc/web),
 * else src/web of the source tree (`make run`, the tests). Returns out or a static string. */
static const char *main_default_web_root(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    struct stat sb;
    char *slash;
    int n;

    if (len <= 0)
        return "src/web";
    exe[len] = '\0';
    slash = strrchr(exe, '/');
    if (!slash)
        return "src/web";
    *slash = '\0';
    n = snprintf(out, cap, "%s/../share/vc/web", exe);
    if (n > 0 && (size_t)n < cap && stat(out, &sb) == 0 && S_ISDIR(sb.st_mode))
        return out;
    return "src/web";
}

static int main_files(const struct main_config *c, struct main_state *st, char *err, size_t errlen)
{
    char def[PATH_MAX];
    const char *root = c->web_root ? c->web_root : main_default_web_root(def, sizeof(def));
    struct stat sb;
    int r;

    if ((r = main_readable("cert", c->cert, err, errlen)) < 0)
        return r;
    if ((r = main_readable("key", c->key, err, errlen)) < 0)
        return r;
    if (!realpath(root, st->web_root) || stat(st->web_root, &sb) < 0)
        return daemon_fail(err, errlen, "web-root: %s: %s", root, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return daemon_fail(err, errlen, "web-root: %s is not a directory", root);
    /* Files are opened beneath this descriptor, so no link can lead out of the root. */
    st->web_root_fd = open(st->web_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (st->web_root_fd < 0)
        return daemon_fail(err, errlen, "web-root: %s: %s", root, strerror(errno));
    return 0;
}

/* The webhook's signing secret: only from a file, required with webhook-url. */
static int main_webhook_secret(const struct main_config *c, struct main_state *st, char *err,
                               size_t errlen)
{
    if (!c->webhook_url)
        return c->webhook_secret_file
                   ? daemon_fail(err, errlen, "webhook-secret-file: needs webhook-url")
               : c->webhook_ca ? daemon_fail(err, errlen, "webhook-ca: needs webhook-url")
                               : 0;
    if (!c->webhook_secret_file)
        return daemon_fail(err, errlen, "webhook-secret-file: required with webhook-url");
    return secret_read_file("webhook-secret-file", c->webhook_secret_file, &st->webhook_secret, err,
                            errlen);
}

static int main_secrets(const struct main_config *c, struct main_state *st, char *err,
                        size_t errlen)
{
    bool has_turn_url = false;
    int r;

    const struct secret_opt api_key = {"api-key", "api-key", c->api_key, c->api_key_file};
    const struct secret_opt turn_secret = {"turn-secret", "turn-secret", c->turn_secret,
                                           c->turn_secret_file};

    if ((r = secret_load(&api_key, &st->api_key, err, errlen)) < 0)
        return r;
    if (st->api_key.len > 0 && st->api_key.len < MAIN_API_KEY_MIN)
        return daemon_fail(err, errlen, "api-key: must be at least %d bytes", MAIN_API_KEY_MIN);
    if ((r = secret_load(&turn_secret, &st->turn_secret, err, errlen)) < 0)
        return r;
    for (unsigned i = 0; i < c->ice_server.n; i++)
        if (strncmp(c->ice_server.v[i], "turn", 4) == 0)
            has_turn_url = true;
    if (has_turn_url && st->turn_secret.len == 0)
        return daemon_fail(err, errlen,
                           "turn-secret: required for turn: and turns: ice servers (use "
                           "--turn-secret or --turn-secret-file)");
    if (c->turn_node.n > 0 && st->turn_secret.len == 0)
        return daemon_fail(err, errlen,
                           "turn-secret: required for turn-node (use --turn-secret or "
                           "--turn-secret-file)");
    return main_webhook_secret(c, st, err, errlen);
}

/* What a reload may change, checked into st: origins, secrets, metrics-allow, ice-server. */
static int main_check_live(const struct main_config *c, struct main_state *st, char *err,
                           size_t errlen)
{
    int r;

    if ((r = main_origins(c, st, err, errlen)) < 0 || (r = main_secrets(c, st, err, errlen)) < 0)
        return r;
    if (c->metrics_allow.n > SIGNALD_CIDR_MAX)
        return daemon_fail(err, errlen, "metrics-allow: at most %d ranges", SIGNALD_CIDR_MAX);
    for (unsigned i = 0; i < c->metrics_allow.n; i++)
        if (cidr_parse(c->metrics_allow.v[i], &st->server.metrics_allow[i]) < 0)
            return daemon_fail(err, errlen, "metrics-allow: '%s' is not a CIDR",
                               c->metrics_allow.v[i]);
    st->server.n_metrics_allow = c->metrics_allow.n;
    if (c->ice_server.n > HUB_MAX_ICE_SERVERS)
        return daemon_fail(err, errlen, "ice-server: at most %d", HUB_MAX_ICE_SERVERS);
    return 0;
}

/* The TURN pool from turn-node and default-region, once at start-up (a reload keeps it: see
 * main_reload). Without turn-node, ice-server alone says what browsers get, as before. */
static int main_pool(const struct main_config *c, struct main_state *st, char *err, size_t errlen)
{
    struct turnpool_node_conf *nodes;
    char perr[160];

    if (c->turn_node.n == 0)
        return c->default_region
                   ? daemon_fail(err, errlen, "default-region: needs at least one turn-node")
                   : 0;
    nodes = calloc(c->turn_node.n, sizeof(*nodes));
    if (!nodes)
        return daemon_fail(err, errlen, "turn-node: out of memory");
    for (unsigned i = 0; i < c->turn_node.n; i++) {
        if (turnpool_parse_node(c->turn_node.v[i], &nodes[i], perr, sizeof(perr)) < 0) {
            free(nodes);
            return daemon_fail(err, errlen, "turn-node: '%s': %s", c->turn_node.v[i], perr);
        }
    }
    for (unsigned i = 0; i < c->ice_server.n; i++)
        if (strncmp(c->ice_server.v[i], "turn", 4) == 0)
            log_msg(LOG_LEVEL_WARN, "ice-server: %s is not handed out: turn-node is set",
                    c->ice_server.v[i]);
    st->pool = turnpool_new(nodes, c->turn_node.n);
    free(nodes);
    if (!st->pool)
        return daemon_fail(err, errlen, "turn-node: out of memory");
    snprintf(st->default_region, sizeof(st->default_region), "%s",
             c->default_region ? c->default_region : turnpool_node(st->pool, 0)->region);
    if (!turnpool_has_region(st->pool, st->default_region))
        return daemon_fail(err, errlen, "default-region: '%s' is no turn-node's region",
                           st->default_region);
    return 0;
}

/* With webhook-url, once at start-up: the URL and CA are checked, the queue under data-dir opened
 * (with what a previous run left in it), and the metadata log tapped. */
static int main_webhook(const struct main_config *c, struct main_state *st, char *err,
                        size_t errlen)
{
    char werr[256] = "";
    const struct webhook_settings ws = {
        .url = c->webhook_url,
        .ca = c->webhook_ca,
        .secret = &st->webhook_secret,
        .data_dir = c->db.data_dir,
        .max_queue = (unsigned)c->webhook_max_queue,
        .retry_min_ms = (unsigned)c->webhook_retry_min_ms,
        .retry_max_ms = (unsigned)c->webhook_retry_max_ms,
        .timeout_ms = (unsigned)c->webhook_timeout * 1000,
    };
    int r;

    if (!c->webhook_url)
        return 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return daemon_fail(err, errlen, "webhook-url: libcurl did not initialise");
    st->curl_ready = true;
    if ((r = webhook_check_url(c->webhook_url, err, errlen)) < 0 ||
        (c->webhook_ca && (r = webhook_check_ca(c->webhook_ca, err, errlen)) < 0))
        return r;
    if (webhook_open(&ws, &st->webhook, werr, sizeof(werr)) < 0)
        return daemon_fail(err, errlen, "data-dir: webhook queue: %s", werr);
    event_log_add_tap(st->log, webhook_tap, st->webhook);
    return 0;
}

/* The consultation reports: the metadata log's tap writes each consultation to the account
 * database, on this thread (the service thread). */
static int main_reports(const struct main_config *c, struct main_state *st, char *err,
                        size_t errlen)
{
    int r =
        reports_new(st->accounts, (unsigned)c->retention_days, (int64_t)time(NULL), &st->reports);

    if (r < 0)
        return daemon_fail(err, errlen, "retention-days: %s", strerror(-r));
    event_log_add_tap(st->log, reports_tap, st->reports);
    return 0;
}

/* WebSockets past the descriptor limit would wait unaccepted in the listen backlog until their
 * clients give up; held to the limit less a reserve (listeners, logs, databases, Redis, REST
 * clients), they are refused at once instead. */
#define MAIN_FD_RESERVE 256
static unsigned main_max_connections(unsigned wanted, unsigned long nofile)
{
    if (nofile == 0 || wanted + (unsigned long)MAIN_FD_RESERVE <= nofile)
        return wanted;
    unsigned held = nofile > 2 * MAIN_FD_RESERVE ? (unsigned)(nofile - MAIN_FD_RESERVE) : 1;
    log_msg(LOG_LEVEL_WARN,
            "max-connections %u is more than %lu open files allow; holding at most %u "
            "(raise the service's LimitNOFILE)",
            wanted, nofile, held);
    return held;
}

static void main_settings(const struct main_config *c, struct main_state *st)
{
    struct hub_settings *h = &st->hub;
    struct sigapi_settings *a = &st->api;
    struct signald_settings *s = &st->server;

    h->public_url = st->public_url;
    h->turn_secret = st->turn_secret.bytes;
    h->turn_secret_len = st->turn_secret.len;
    h->ice_servers = (const char *const *)c->ice_server.v;
    h->n_ice_servers = c->ice_server.n;
    h->turn_ttl = (unsigned)c->turn_ttl;
    h->turn_margin = (unsigned)c->turn_margin;
    h->resume_grace = (unsigned)c->resume_grace;
    h->max_msg_rate = (unsigned)c->max_msg_rate;
    h->max_rooms = (unsigned)c->max_rooms;
    h->max_rooms_per_owner = (unsigned)c->max_rooms_per_owner;
    h->max_knocks_per_min = (unsigned)c->max_knocks_per_min;
    h->max_lobby_msgs_per_min = (unsigned)c->max_lobby_messages_per_min;
    h->queue_max_msgs = (unsigned)c->away_queue_max;
    h->queue_max_bytes = (size_t)c->away_queue_bytes;
    h->log = st->log;
    h->pool = st->pool;
    h->default_region = st->pool ? st->default_region : NULL;
    a->public_url = st->public_url;
    a->api_key = st->api_key.len ? st->api_key.bytes : NULL;
    a->api_key_len = st->api_key.len;
    a->session_ttl = (unsigned)c->session_ttl;
    a->accounts = st->accounts;
    a->log = st->log;
    a->canned = c->canned_message.n ? (const char *const *)c->canned_message.v : main_canned;
    a->n_canned = c->canned_message.n ? c->canned_message.n : MAIN_NCANNED;
    s->cert = c->cert;
    s->key = c->key;
    s->web_root = st->web_root;
    s->frame_ancestors = c->frame_ancestors;
    s->max_connections = main_max_connections((unsigned)c->max_connections, st->nofile);
    s->max_conns_per_ip_per_min = (unsigned)c->max_conns_per_ip_per_min;
    s->max_conns_per_ip = (unsigned)c->max_conns_per_ip;
    s->http_header_timeout = (unsigned)c->http_header_timeout;
    s->http_body_timeout = (unsigned)c->http_body_timeout;
    s->web_root_fd = st->web_root_fd;
    s->branding = &st->branding;
    s->public_url = st->public_url;
    s->hub_settings = h;
    s->api = a;
    s->redis_url = c->redis;
    s->node_id = st->node_id;
    s->webhook = st->webhook;
    s->reports = st->reports;
    if (st->reports)
        reports_set_retention(st->reports, (unsigned)c->retention_days);
}

/* Turns the loaded options into start-up state. Returns 0, or -EINVAL with a message naming
 * the key in err. */
static int main_resolve(const struct main_config *c, struct main_state *st, char *err,
                        size_t errlen)
{
    int r;

    daemon_set_level(c->log_level);
    if (main_node_id(c, st) < 0)
        return daemon_fail(err, errlen, "node-id: no randomness for a default name");
    if ((r = main_listen(c, st, err, errlen)) < 0 || (r = main_files(c, st, err, errlen)) < 0 ||
        (r = branding_load(c->branding, &st->branding, err, errlen)) < 0 ||
        (r = main_check_live(c, st, err, errlen)) < 0 || (r = main_pool(c, st, err, errlen)) < 0)
        return r;
    st->log = event_log_open(c->log);
    if (!st->log)
        return daemon_fail(err, errlen, "log: cannot open %s: %s", c->log, strerror(errno));
    if ((r = signald_db_open(&c->db, &st->accounts, err, errlen)) < 0)
        return r;
    if ((r = main_reports(c, st, err, errlen)) < 0 || (r = main_webhook(c, st, err, errlen)) < 0)
        return r;
    main_settings(c, st);
    return 0;
}

/* Keys a running server cannot take a new value for: the sockets, the database, the log and
 * the pages are open, and links and origins were built from the public URL. */
static bool main_needs_restart(const char *key)
{
    static const char *const keys[] = {
        "listen",           "public-url",     "data-dir",    "database",   "database-password-file",
        "database-timeout", "redis",          "node-id",     "log",        "web-root",
        "frame-ancestors",  "default-region", "webhook-url", "webhook-ca", "branding"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(key, keys[i]) == 0)
            return true;
    return false;
}

/* Gives next the running value of every key that needs a restart, saying which changed.
 * Returns 0 or -ENOMEM. */
static int main_keep_restart_keys(const struct main_config *old, struct main_config *next)
{
    for (size_t i = 0; i < MAIN_NOPTS; i++) {
        const struct cfg_option *o = &main_options[i];
        char *const *was = (char *const *)((const char *)old + o->offset);
        char **now = (char **)((char *)next + o->offset);
        const long long *was_n = (const long long *)((const char *)old + o->offset);
        long long *now_n = (long long *)((char *)next + o->offset);

        if (!main_needs_restart(o->key))
            continue;
        if (o->type == CFG_INT && *was_n != *now_n) {
            log_msg(LOG_LEVEL_WARN, "SIGHUP: %s changed: needs a restart (keeping %lld)", o->key,
                    *was_n);
            *now_n = *was_n;
        }
        if (o->type != CFG_STR || (!*was && !*now) || (*was && *now && strcmp(*was, *now) == 0))
            continue;
        /* A URL may hold a password: its value is not logged. */
        log_msg(LOG_LEVEL_WARN, "SIGHUP: %s changed: needs a restart (keeping %s)", o->key,
                !*was                                                        ? "none"
                : strstr(o->key, "database") || strcmp(o->key, "redis") == 0 ? "the running value"
                                                                             : *was);
        free(*now);
        *now = NULL;
        if (*was && !(*now = strdup(*was)))
            return -ENOMEM;
    }
    return 0;
}

/* The pool is built once (peers hold counts on its nodes): a changed turn-node list is only
 * noted, and the running pool carries on. */
static void main_note_pool_change(const struct main_config *old, const struct main_config *next)
{
    bool same = old->turn_node.n == next->turn_node.n;

    for (unsigned i = 0; same && i < old->turn_node.n; i++)
        same = strcmp(old->turn_node.v[i], next->turn_node.v[i]) == 0;
    if (!same)
        log_msg(LOG_LEVEL_WARN, "SIGHUP: turn-node changed: needs a restart (keeping %u nodes)",
                old->turn_node.n);
}

/* The reload hook (see signald_reload_cb): reads the config file, the flags and the secret
 * files again and checks everything a running server may change, then commits it all at
 * once: the secrets, origins and metrics ranges in place, the hub's settings, the log level.
 * The server loads the certificate afterwards; signald_tls_check() has vetted it here. */
static int main_reload(struct main_state *st, char *err, size_t errlen)
{
    struct main_config next, old;
    struct main_state *nst = calloc(1, sizeof(*nst));
    int r = -ENOMEM;

    memset(&next, 0, sizeof(next));
    if (!nst)
        return daemon_fail(err, errlen, "out of memory");
    if ((r = cfg_load(main_options, MAIN_NOPTS, &next, st->argc, st->argv, err, errlen)) < 0)
        goto out;
    if ((r = main_keep_restart_keys(st->cfg, &next)) < 0) {
        daemon_fail(err, errlen, "out of memory");
        goto out;
    }
    main_note_pool_change(st->cfg, &next);
    if ((r = main_readable("cert", next.cert, err, errlen)) < 0 ||
        (r = main_readable("key", next.key, err, errlen)) < 0 ||
        (r = signald_tls_check(next.cert, next.key, err, errlen)) < 0 ||
        (r = main_check_live(&next, nst, err, errlen)) < 0)
        goto out;
    /* Commit: nothing below can fail. */
    st->api_key = nst->api_key;
    st->turn_secret = nst->turn_secret;
    st->webhook_secret = nst->webhook_secret;
    memcpy(st->server.origins, nst->server.origins, sizeof(st->server.origins));
    st->server.n_origins = nst->server.n_origins;
    memcpy(st->server.metrics_allow, nst->server.metrics_allow, sizeof(st->server.metrics_allow));
    st->server.n_metrics_allow = nst->server.n_metrics_allow;
    old = *st->cfg;
    *st->cfg = next;
    memset(&next, 0, sizeof(next));
    main_settings(st->cfg, st);
    if (st->api.hub)
        hub_set_settings(st->api.hub, &st->hub);
    daemon_set_level(st->cfg->log_level);
    cfg_free(main_options, MAIN_NOPTS, &old);
out:
    cfg_free(main_options, MAIN_NOPTS, &next);
    secret_wipe(&nst->api_key);
    secret_wipe(&nst->turn_secret);
    secret_wipe(&nst->webhook_secret);
    free(nst);
    return r;
}

static void main_free(struct main_state *st)
{
    if (st->web_root_fd >= 0)
        close(st->web_root_fd);
    branding_free(&st->branding);
    turnpool_free(st->pool);
    if (st->accounts)
        accounts_close(st->accounts);
    if (st->log)
        event_log_set_tap(st->log, NULL, NULL);
    webhook_close(st->webhook); /* after the hub: its last events are stored */
    reports_free(st->reports);
    if (st->curl_ready)
        curl_global_cleanup();
    if (st->log)
        event_log_close(st->log);
    secret_wipe(&st->api_key);
    secret_wipe(&st->turn_secret);
    secret_wipe(&st->webhook_secret);
}

int main(int argc, char **argv)
{
    struct main_config cfg;
    struct main_state *st;
    char err[512] = "";
    sigset_t set;
    int status = 0;

    if (argc > 1 && strcmp(argv[1], "user") == 0)
        return signald_user_main(argc, argv);
    if (argc > 1 && strcmp(argv[1], "team") == 0)
        return signald_team_main(argc, argv);
    if (daemon_info_flag(&main_info, argc, argv))
        return 0;
    memset(&cfg, 0, sizeof(cfg));
    if (daemon_load(&main_info, &cfg, argc, argv) < 0)
        return DAEMON_EXIT_CONFIG;
    st = calloc(1, sizeof(*st));
    if (!st) {
        log_msg(LOG_LEVEL_ERROR, "out of memory");
        cfg_free(main_options, MAIN_NOPTS, &cfg);
        return 1;
    }
    st->web_root_fd = -1;
    st->cfg = &cfg;
    st->argc = argc;
    st->argv = argv;
    st->nofile = daemon_raise_nofile();
    if (main_resolve(&cfg, st, err, sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        main_free(st);
        free(st);
        cfg_free(main_options, MAIN_NOPTS, &cfg);
        return DAEMON_EXIT_CONFIG;
    }
    /* Blocked before any thread starts, so only the server's sigwait() thread sees them. */
    daemon_block_signals(&set);
    signald_block_signals();
    st->server.reload = main_reload;
    st->server.reload_state = st;
    if (st->pool && turnprobe_start(st->pool, &st->probe, err, sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        status = 1;
    } else if (signald_server_run(&st->server, err, sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        status = 1;
    }
    /* The hub is gone by now, so nobody picks from the pool while the prober stops. */
    turnprobe_stop(st->probe);
    main_free(st);
    free(st);
    cfg_free(main_options, MAIN_NOPTS, &cfg);
    return status;
}
