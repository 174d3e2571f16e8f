/* vc-load signal: private interfaces between options, HTTPS client, WSS client, workload, report.
 */
#ifndef VC_LOAD_SIGNAL_LOAD_H
#define VC_LOAD_SIGNAL_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SIGLOAD_MAX_ROOMS 50000
#define SIGLOAD_TOKEN_MAX 128 /* room tokens and peer ids we keep */
#define SIGLOAD_HTTP_BODY_MAX 8192
#define SIGLOAD_WS_MSG_MAX 65536      /* reassembled incoming message cap (the vc.v1 frame cap) */
#define SIGLOAD_WS_OUTQ_MAX (1 << 20) /* queued outgoing bytes per connection */
#define SIGLOAD_LAT_SAMPLES (1 << 20) /* relay latency reservoir */
#define SIGLOAD_RECONNECTS_MAX 3      /* per client */

enum sigload_protocol { SIGLOAD_VC, SIGLOAD_PEERJS };

/* Command line, parsed once. Strings borrow the config that signal_main.c loads. */
struct sigload_opts {
    const char *url;
    const char *api_key;
    const char *ca_file;
    const char *json_path;
    enum sigload_protocol protocol;
    const char *peerjs_key;
    const char *origin; /* Origin header for vc.v1; default: the URL's origin */
    unsigned rooms;
    unsigned duration_s;
    unsigned rate;        /* signals per second per room */
    unsigned join_rate;   /* rooms started per second during set-up; 0: as fast as possible */
    unsigned max_pending; /* rooms being set up at once */
    unsigned setup_timeout_s;
    unsigned server_pid;
    int insecure;
    int keep_rooms;
};

/* The server: parsed from --url, then resolved to one reachable address. */
struct sigload_target {
    char host[256]; /* as written in the URL, without brackets */
    int port;
    char host_header[300]; /* host[:port] */
    char origin[320];      /* https://host[:port] */
    char addr[64];         /* numeric address that accepted a TCP connection */
    int family;
};

/* signal_http.c: --url parsing and resolution. err gets a one-line reason on failure. */
int sigload_target_parse(const char *url, struct sigload_target *t, char *err, size_t errlen);
int sigload_target_resolve(struct sigload_target *t, char *err, size_t errlen);

/* A blocking HTTPS/1.1 keep-alive client for the REST API (set-up and clean-up only). */
struct sigload_http;
struct sigload_room_link {
    char id[64];
    char host_token[SIGLOAD_TOKEN_MAX];
    char guest_token[SIGLOAD_TOKEN_MAX];
};
/* Creates a client (no connection yet); *out is owned by the caller, freed by sigload_http_free. */
int sigload_http_new(const struct sigload_target *t, const char *ca_file, int insecure,
                     struct sigload_http **out, char *err, size_t errlen);
void sigload_http_free(struct sigload_http *h);
/* POST /api/v1/rooms with the API key; fills *room from the 201 answer. */
int sigload_http_create_room(struct sigload_http *h, const char *api_key, unsigned ttl_s,
                             struct sigload_room_link *room, char *err, size_t errlen);
/* DELETE /api/v1/rooms/ID; 0 on 204 or 404. */
int sigload_http_delete_room(struct sigload_http *h, const char *api_key, const char *id, char *err,
                             size_t errlen);

/* The WSS client (signal_ws.c, the only file that includes <libwebsockets.h>). */
struct sigload_ws;
struct sigload_ws_conn;
struct sigload_ws_ops {
    /* The upgrade completed. */
    void (*open_cb)(struct sigload_ws_conn *c, void *user);
    /* One whole text message, borrowed for the call. */
    void (*message_cb)(struct sigload_ws_conn *c, void *user, const uint8_t *buf, size_t len);
    /* The connection failed or closed; c is freed after the call. why is borrowed. */
    void (*close_cb)(struct sigload_ws_conn *c, void *user, int failed_connect, const char *why);
    /* Called every tick_ms from the loop. */
    void (*tick_cb)(void *loop_user);
};
struct sigload_ws_config {
    const struct sigload_target *target;
    const char *ca_file;
    int insecure;
    unsigned tick_ms;
    const struct sigload_ws_ops *ops;
    void *loop_user;
};
int sigload_ws_new(const struct sigload_ws_config *cfg, struct sigload_ws **out);
/* Closes every connection (close_cb is called for each) and frees the loop. */
void sigload_ws_free(struct sigload_ws *ws);
/* Starts a connection to path (borrowed for the call). subprotocol may be NULL, origin may be
 * NULL (no Origin header). user is handed back in every callback. Returns 0 (close_cb follows
 * later on failure) or a negative errno when it could not even start (no callback then). */
int sigload_ws_connect(struct sigload_ws *ws, const char *path, const char *subprotocol,
                       const char *origin, void *user, struct sigload_ws_conn **out);
/* Queues one text message (copied). -ENOBUFS when the queue cap is reached, -ENOTCONN if the
 * connection is not open. */
int sigload_ws_send(struct sigload_ws_conn *c, const char *buf, size_t len);
/* Asks for a close; close_cb follows from the loop. */
void sigload_ws_close(struct sigload_ws_conn *c);
/* Runs the loop once (returns after events or the next tick). */
int sigload_ws_service(struct sigload_ws *ws);

/* Results of one run (filled by signal_run.c, printed by signal_report.c). */
struct sigload_proc {
    int valid;
    double cpu_s;
    long rss_kb;
};
struct sigload_lat {
    uint32_t *us;
    size_t n;
    size_t cap;
    uint64_t seen; /* for reservoir sampling */
};
struct sigload_result {
    const char *protocol;
    unsigned rooms;
    unsigned rooms_active;
    unsigned connections; /* established at the end of set-up */
    double setup_s;
    double duration_s;
    double new_conns_per_s;
    double loader_setup_cpu_s; /* vc-load's own CPU during set-up: near setup_s, it was the limit */
    struct sigload_lat join;   /* vc: guest join sent -> joined; peerjs: connect -> OPEN */
    struct sigload_lat connect; /* connect started -> upgrade complete */
    struct sigload_lat relay;   /* signal sent -> received by the other side */
    uint64_t sent;
    uint64_t received;        /* in total */
    uint64_t received_window; /* inside the measured window */
    uint64_t lost;
    uint64_t errors;
    uint64_t err_connect;
    uint64_t err_closed;
    uint64_t err_server;
    uint64_t err_protocol;
    uint64_t err_queue;
    uint64_t err_http;
    uint64_t reconnects;
    char first_error[200];          /* the first error seen, for the summary */
    struct sigload_proc proc_base;  /* before any WebSocket */
    struct sigload_proc proc_setup; /* all connections up */
    struct sigload_proc proc_end;   /* end of the window */
};

/* signal_report.c */
void sigload_lat_init(struct sigload_lat *l);
void sigload_lat_free(struct sigload_lat *l);
/* Adds a sample; rnd is a caller-owned xorshift state for the reservoir. */
void sigload_lat_add(struct sigload_lat *l, uint32_t us, uint64_t *rnd);
/* Percentile in ms (sorts in place); -1 when empty. */
double sigload_lat_pct_ms(struct sigload_lat *l, double pct);
int sigload_proc_sample(unsigned pid, struct sigload_proc *p);
void sigload_report_print(struct sigload_result *r, FILE *out);
int sigload_report_json(struct sigload_result *r, const char *path);
uint64_t sigload_now_us(void);

/* signal_run.c: the whole workload. Returns 0, or negative errno with err filled (nothing ran or
 * nothing connected). */
int sigload_run(const struct sigload_opts *o, const struct sigload_target *t,
                struct sigload_result *r, char *err, size_t errlen);

/* signal_proto.c: message text for both protocols. Each writes into buf and returns the
 * length, or -EMSGSIZE. kind: 0 offer, 1 answer, 2 candidate. */
int sigload_proto_vc_signal(char *buf, size_t cap, const char *to, int kind, uint64_t seq,
                            uint64_t ts_us);
int sigload_proto_peerjs_signal(char *buf, size_t cap, const char *dst, int kind, uint64_t seq,
                                uint64_t ts_us);

#endif
