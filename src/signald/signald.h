/* vc-signal's private interfaces: resolved settings, the lws server, static files and metrics. */
#ifndef VC_SIGNALD_H
#define VC_SIGNALD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vc/addr.h"
#include "vc/cidr.h"
#include "vc/version.h"

#define SIGNALD_VERSION VC_VERSION

struct hub;
struct hub_settings;
struct hub_stats;
struct sigapi_settings;
struct branding;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */
struct main_state; /* main.c's daemon state: opaque here, handed back to the reload hook */
struct webhook;    /* webhook.h */
struct webhook_stats;
struct reports; /* vc/reports.h */

/* Caps of one WebSocket connection's output queue: send() answers -ENOBUFS beyond either. */
#define SIGNALD_OUT_MAX_BYTES (1024 * 1024)
#define SIGNALD_OUT_MAX_FRAMES 256
/* Largest static file served (read whole into memory). */
#define SIGNALD_STATIC_MAX (4 * 1024 * 1024)
#define SIGNALD_ORIGINS_MAX 33 /* the public URL's origin plus 32 --allowed-origin */
#define SIGNALD_ORIGIN_MAX 256
#define SIGNALD_CIDR_MAX 32

/* Re-reads the configuration on SIGHUP, on the service thread. On success it has updated the
 * settings in place (including the hub's, through api->hub) and returns 0; otherwise it leaves
 * everything as it was and returns -EINVAL with a message naming the key in err. */
typedef int (*signald_reload_cb)(struct main_state *st, char *err, size_t errlen);

/* Everything server.c needs, resolved and checked by main.c. Strings are borrowed. The server
 * reads it as const; only the reload hook changes it, on the service thread between events. */
struct signald_settings {
    char iface[VC_ADDR_STRLEN]; /* the IP literal to bind ("0.0.0.0" and "::" included) */
    bool listen_v6;             /* iface is IPv6 */
    int port;
    const char *cert, *key;
    const char *web_root;          /* absolute path, no trailing '/' */
    int web_root_fd;               /* the web root, opened O_PATH at start-up (borrowed) */
    char host[SIGNALD_ORIGIN_MAX]; /* public-url's host[:port], for CSP connect-src */
    const char *frame_ancestors;
    char origins[SIGNALD_ORIGINS_MAX][SIGNALD_ORIGIN_MAX]; /* exact scheme://host[:port] */
    unsigned n_origins;
    struct cidr metrics_allow[SIGNALD_CIDR_MAX];
    unsigned n_metrics_allow;
    unsigned max_connections;
    unsigned max_conns_per_ip_per_min;
    unsigned max_conns_per_ip;    /* open HTTPS and WSS connections per client IP */
    unsigned http_header_timeout; /* seconds for a request's headers */
    unsigned http_body_timeout;   /* seconds for a request's body, plus one per KiB */
    const char *public_url;
    const struct hub_settings *hub_settings; /* borrowed: the server creates the hub with it */
    struct sigapi_settings *api;             /* borrowed; its hub is set while the server runs */
    const char *redis_url;                   /* NULL: rooms live in this process only */
    const char *node_id;                     /* the node's name in the cluster */
    signald_reload_cb reload;                /* NULL: SIGHUP only logs that reload is off */
    struct main_state *reload_state;         /* borrowed: the hook's argument */
    struct webhook *webhook; /* borrowed; NULL: no webhook-url. The server delivers on its loop */
    struct reports *reports; /* borrowed; NULL: none. The server ticks it */
    const struct branding *branding; /* borrowed: /branding.json and /branding/logo */
};

/* Creates the hub, runs the HTTPS/WSS server until SIGINT or SIGTERM (which the caller has
 * blocked, with SIGHUP and SIGUSR1, before starting any thread: see signald_block_signals),
 * closes every connection and frees the hub. SIGHUP calls s->reload and then loads the
 * certificate and key again; SIGUSR1 starts draining (/readyz 503, no new rooms). Returns 0
 * after a clean stop, or -errno with a message in err if start-up failed. */
int signald_server_run(const struct signald_settings *s, char *err, size_t errlen);

/* Blocks SIGHUP and SIGUSR1 too (daemon_block_signals takes SIGINT and SIGTERM), so that only
 * the server's sigwait() thread sees them. Call before any thread starts. */
void signald_block_signals(void);

/* The security headers of every response (headers.c): fills names/values (static strings, and
 * csp, which the caller owns and must keep alive) for the host and frame-ancestors in s. */
#define SIGNALD_NHEADERS 6
void signald_security_headers(const struct signald_settings *s, char *csp, size_t csp_len,
                              const char *names[SIGNALD_NHEADERS],
                              const char *values[SIGNALD_NHEADERS]);

/* The signal thread (signals.c): it sets these flags and calls wake(wake_arg) to interrupt the
 * service loop, which acts on them on its own thread. */
struct signald_signals {
    pthread_t thread;
    atomic_bool stop;
    atomic_bool reload; /* SIGHUP seen: the loop reloads */
    atomic_bool drain;  /* SIGUSR1 seen: the loop starts draining */
    void (*wake)(void *arg);
    void *wake_arg;
};
/* Returns 0 or -errno. */
int signald_signals_start(struct signald_signals *sg, void (*wake)(void *), void *wake_arg);
/* Ends the thread (if the loop stopped first) and joins it. */
void signald_signals_stop(struct signald_signals *sg);

/* Loads cert (a PEM chain) and key (PEM) into ctx (borrowed; OpenSSL's SSL_CTX) for the
 * handshakes that start afterwards. Returns 0, or -EINVAL with a message naming the key ("cert:"
 * or "key:") in err; ctx may then hold the new certificate without its key. */
int signald_tls_load(struct ssl_ctx_st *ctx, const char *cert, const char *key, char *err,
                     size_t errlen);
/* The same check on a scratch context: 0 if cert and key load and belong together, or -EINVAL
 * with a message naming the key in err. Used before a reload commits to new files. */
int signald_tls_check(const char *cert, const char *key, char *err, size_t errlen);

/* Static files. The request path (borrowed, NUL-terminated, without query) maps to a file
 * under the directory root_fd: "/" is index.html, "/join" is join.html. No symbolic link is
 * followed, in the name or on the way to it. Returns 0 with *body (owned by the caller: free())
 * and its length and MIME type; -ENOENT for a missing file, a directory, a symbolic link, or a
 * refused path ("..", hidden segments, odd bytes); -EFBIG above SIGNALD_STATIC_MAX. */
int signald_static_load(int root_fd, const char *path, char **body, size_t *len, const char **mime);
/* The fallback of signald_static_load() for kernels without openat2(): opens rel (segments
 * separated by '/', none empty) under root_fd, one openat() with O_NOFOLLOW per segment. Returns
 * the descriptor, or -1 with errno set (ELOOP or ENOTDIR for a link). Exposed for its tests. */
int signald_static_open_walk(int root_fd, const char *rel);
/* The Content-Type for a file name by its extension ("application/octet-stream" otherwise). */
const char *signald_static_mime(const char *name);

/* Writes the Prometheus text for the hub's counters and the live connection count into out
 * (borrowed). Returns the length written (truncated at outlen - 1). */
/* What the I/O layer counts itself, for /metrics. */
struct signald_io_counts {
    size_t connections;
    size_t watchers;
    uint64_t refused_origin, refused_capacity, refused_rate, too_large, out_overflow;
    bool draining;
    bool clustered; /* --redis: the cluster's figures below are printed */
    bool redis_up;
    uint64_t cluster_published, cluster_received, proxied_joins, takeovers;
    size_t tcp_connections; /* accepted HTTPS connections, WebSockets included */
    uint64_t refused_per_ip, timeouts_headers, timeouts_body;
    const uint64_t *http_refused;         /* 5: requests refused with 400, 411, 413, 414, 431 */
    const uint64_t *logins;               /* 5: ok, wrong, locked, rate_limited, busy */
    const struct webhook_stats *webhooks; /* NULL: no webhook-url */
};
size_t signald_metrics_format(const struct hub_stats *st, size_t rooms,
                              const struct signald_io_counts *io, char *out, size_t outlen);

/* The per-IP new-connection limit: a fixed table of hashed token buckets. */
#define SIGNALD_IPLIMIT_SLOTS 4096
struct signald_iplimit_slot {
    double tokens;
    uint64_t last_ms;
};
struct signald_iplimit {
    uint64_t seed[2];
    double per_ms, burst;
    struct signald_iplimit_slot slot[SIGNALD_IPLIMIT_SLOTS];
};
/* Open connections per client IP: counters in a fixed table indexed by a seeded hash, so
 * nobody can pick addresses that share a victim's counter. */
#define SIGNALD_IPCOUNT_SLOTS 16384
struct signald_ipcount {
    uint64_t seed[2];
    uint32_t count[SIGNALD_IPCOUNT_SLOTS];
};
/* 0 or -errno (no randomness). */
int signald_ipcount_init(struct signald_ipcount *c);
/* The counter of ip (len bytes). */
uint32_t *signald_ipcount_slot(struct signald_ipcount *c, const char *ip, size_t len);

/* per_min new connections a minute per IP, with a burst of the same size. 0 or -errno. */
int signald_iplimit_init(struct signald_iplimit *l, unsigned per_min);
/* Takes one token for ip (len bytes) at now_ms; false when the bucket is empty. */
bool signald_iplimit_take(struct signald_iplimit *l, const char *ip, size_t len, uint64_t now_ms);

/* The account database's keys (database.c), the same for the daemon and the user and team
 * commands: a config struct holds them as a member named db, and its option table takes
 * SIGNALD_DB_OPTIONS(that struct) rows (DAEMON_OPT, vc/daemon.h). */
struct accounts;
struct signald_db_keys {
    char *data_dir;      /* SQLite's directory, when database is not set */
    char *database;      /* a postgresql:// URL, or NULL */
    char *password_file; /* the database password's file, or NULL */
    long long timeout;   /* ms: the bound of one call on the event loop */
};
#define SIGNALD_DB_OPTIONS(type)                                                                   \
    DAEMON_OPT(type, "data-dir", CFG_STR, 0, 0, "./build/data", db.data_dir,                       \
               "directory of the SQLite files: vc.db, the accounts (unless database is set), "     \
               "and the webhook queue",                                                            \
               NULL, "DIR"),                                                                       \
        DAEMON_OPT(type, "database", CFG_STR, 0, 0, NULL, db.database,                             \
                   "the account database every node shares, "                                      \
                   "postgresql://[USER@]HOST[:PORT]/DBNAME[?PARAM=VALUE...] (default: SQLite in "  \
                   "data-dir)",                                                                    \
                   NULL, "URL"),                                                                   \
        DAEMON_OPT(type, "database-password-file", CFG_STR, 0, 0, NULL, db.password_file,          \
                   "file whose first line is the database password (rather than in the URL)",      \
                   NULL, "FILE"),                                                                  \
        DAEMON_OPT(type, "database-timeout", CFG_INT, STORE_TIMEOUT_MS_MIN, STORE_TIMEOUT_MS_MAX,  \
                   "1000", db.timeout,                                                             \
                   "milliseconds one database call may take, connecting included (the event "      \
                   "loop waits)",                                                                  \
                   NULL, "MS")
/* Opens the account database the keys name (and migrates it). 0, or -errno with a message that
 * names the key (data-dir, database or database-password-file) in err. */
int signald_db_open(const struct signald_db_keys *k, struct accounts **out, char *err,
                    size_t errlen);

/* `vc-signal user add|del EMAIL ...` (users.c). The exit status. */
int signald_user_main(int argc, char **argv);

/* The team commands and teams of new clinicians (admin.c). */
/* `vc-signal team add|del NAME` and `vc-signal team list`, with the database keys. The exit
 * status. */
int signald_team_main(int argc, char **argv);
/* Puts the clinician email in each team; with email NULL, only checks that each team exists.
 * Returns the exit status (0, or 1 after saying why). */
int signald_user_teams(struct accounts *a, const char *email, const char *const *teams, unsigned n);
/* The hub's directory of clinicians, over the accounts database (the ctx). */
struct hub_directory_ops;
extern const struct hub_directory_ops signald_directory_ops;

#endif
