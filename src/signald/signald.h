/* vc-signal's private interfaces: resolved settings, the lws server, static files and metrics. */
#ifndef VC_SIGNALD_H
#define VC_SIGNALD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vc/addr.h"
#include "vc/cidr.h"

#define SIGNALD_VERSION "0.1.0"

struct hub;
struct hub_settings;
struct hub_stats;
struct sigapi_settings;

/* Caps of one WebSocket connection's output queue: send() answers -ENOBUFS beyond either. */
#define SIGNALD_OUT_MAX_BYTES (1024 * 1024)
#define SIGNALD_OUT_MAX_FRAMES 256
/* Largest static file served (read whole into memory). */
#define SIGNALD_STATIC_MAX (4 * 1024 * 1024)
#define SIGNALD_ORIGINS_MAX 33 /* the public URL's origin plus 32 --allowed-origin */
#define SIGNALD_ORIGIN_MAX 256
#define SIGNALD_CIDR_MAX 32

/* Everything server.c needs, resolved and checked by main.c. Strings are borrowed. */
struct signald_settings {
    char iface[VC_ADDR_STRLEN]; /* "" for every interface */
    int port;
    const char *cert, *key;
    const char *web_root;          /* absolute path, no trailing '/' */
    char host[SIGNALD_ORIGIN_MAX]; /* public-url's host[:port], for CSP connect-src */
    const char *frame_ancestors;
    char origins[SIGNALD_ORIGINS_MAX][SIGNALD_ORIGIN_MAX]; /* exact scheme://host[:port] */
    unsigned n_origins;
    struct cidr metrics_allow[SIGNALD_CIDR_MAX];
    unsigned n_metrics_allow;
    unsigned max_connections;
    unsigned max_conns_per_ip_per_min;
    const char *public_url;
    const struct hub_settings *hub_settings; /* borrowed: the server creates the hub with it */
    struct sigapi_settings *api;             /* borrowed; its hub is set while the server runs */
};

/* Creates the hub, runs the HTTPS/WSS server until SIGINT or SIGTERM (which the caller has
 * blocked before starting any thread), closes every connection and frees the hub. Returns 0
 * after a clean stop, or -errno with a message in err if start-up failed. */
int signald_server_run(const struct signald_settings *s, char *err, size_t errlen);

/* Static files. The request path (borrowed, NUL-terminated, without query) maps to a file
 * under root: "/" is index.html, "/join" is join.html. Returns 0 with *body (owned by the
 * caller: free()) and its length and MIME type; -ENOENT for a missing file, a directory, or
 * a refused path ("..", hidden segments, odd bytes); -EFBIG above SIGNALD_STATIC_MAX. */
int signald_static_load(const char *root, const char *path, char **body, size_t *len,
                        const char **mime);
/* The Content-Type for a file name by its extension ("application/octet-stream" otherwise). */
const char *signald_static_mime(const char *name);

/* Writes the Prometheus text for the hub's counters and the live connection count into out
 * (borrowed). Returns the length written (truncated at outlen - 1). */
size_t signald_metrics_format(const struct hub_stats *st, size_t rooms, size_t connections,
                              char *out, size_t outlen);

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
/* per_min new connections a minute per IP, with a burst of the same size. 0 or -errno. */
int signald_iplimit_init(struct signald_iplimit *l, unsigned per_min);
/* Takes one token for ip (len bytes) at now_ms; false when the bucket is empty. */
bool signald_iplimit_take(struct signald_iplimit *l, const char *ip, size_t len, uint64_t now_ms);

#endif
