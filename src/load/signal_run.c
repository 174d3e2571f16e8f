/* vc-load signal: the workload: set rooms up, exchange signals at a steady rate, tear down. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "signal_load.h"

#define SIGLOAD_TICK_MS 5
#define SIGLOAD_DRAIN_US 1000000
#define SIGLOAD_CLOSE_US 3000000
#define SIGLOAD_HEARTBEAT_US 5000000 /* what the PeerJS browser client sends */
#define SIGLOAD_SENDS_PER_TICK 64    /* per room: catch-up bound after a stall */
#define SIGLOAD_MSG_MAX 4096

enum sigload_state { ST_IDLE, ST_CONNECTING, ST_JOINING, ST_WAITING, ST_READY, ST_GONE };
enum sigload_phase { PH_SETUP, PH_RUN, PH_DRAIN, PH_CLOSE };

struct sigload_room;

struct sigload_client {
    struct sigload_room *room;
    struct sigload_ws_conn *ws;
    int role; /* 0 host, 1 guest */
    enum sigload_state st;
    char id[SIGLOAD_TOKEN_MAX];     /* our peer id: from joined (vc), chosen by us (peerjs) */
    char resume[SIGLOAD_TOKEN_MAX]; /* vc resume token */
    char token[40];                 /* peerjs connection token */
    uint64_t t_connect;
    uint64_t t_join;
    uint64_t next_heartbeat;
    unsigned reconnects;
    int ever_ready;
};

struct sigload_room {
    struct sigload_runner *run;
    struct sigload_room_link link;
    struct sigload_client c[2];
    unsigned idx;
    int started;
    int active;
    int failed;
    uint64_t t_send0; /* first signal of the window, staggered per room */
    uint64_t sent;    /* schedule slots used */
};

struct sigload_runner {
    const struct sigload_opts *o;
    const struct sigload_target *t;
    struct sigload_result *r;
    struct sigload_ws *ws;
    struct sigload_room *rooms;
    unsigned started;
    unsigned active;
    unsigned failed;
    unsigned live; /* WebSocket connections not yet closed */
    enum sigload_phase phase;
    uint64_t t_setup;
    double cpu_setup; /* our own CPU seconds when set-up began */
    uint64_t t_run;
    uint64_t t_end;
    uint64_t t_phase_end;
    uint64_t t_progress;
    uint64_t rnd;
    int done;
    int tty;
    char buf[SIGLOAD_MSG_MAX];
};

/* Signals follow one call's pattern: host offer, guest answer, then four candidates each way. */
static const struct {
    int from; /* 0 host, 1 guest */
    int kind; /* 0 offer, 1 answer, 2 candidate */
} sigload_pattern[] = {{0, 0}, {1, 1}, {0, 2}, {1, 2}, {0, 2},
                       {1, 2}, {0, 2}, {1, 2}, {0, 2}, {1, 2}};
#define SIGLOAD_PATTERN_LEN (sizeof(sigload_pattern) / sizeof(sigload_pattern[0]))

static void sigload_error(struct sigload_runner *run, uint64_t *counter, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sigload_error(struct sigload_runner *run, uint64_t *counter, const char *fmt, ...)
{
    va_list ap;

    (*counter)++;
    run->r->errors++;
    if (run->r->first_error[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(run->r->first_error, sizeof(run->r->first_error), fmt, ap);
        va_end(ap);
    }
}

static int sigload_is_vc(const struct sigload_runner *run)
{
    return run->o->protocol == SIGLOAD_VC;
}

static int sigload_connect(struct sigload_client *cl);

static void sigload_send(struct sigload_client *cl, const char *msg, int len)
{
    struct sigload_runner *run = cl->room->run;
    int rc;

    if (len < 0 || cl->ws == NULL) {
        return;
    }
    rc = sigload_ws_send(cl->ws, msg, (size_t)len);
    if (rc == -ENOBUFS) {
        sigload_error(run, &run->r->err_queue, "room %u: output queue over %d bytes", cl->room->idx,
                      SIGLOAD_WS_OUTQ_MAX);
    }
}

/* A JSON string escaped enough for tokens and ids (they are [A-Za-z0-9_-] in practice). */
static int sigload_safe(const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) {
            return 0;
        }
    }
    return 1;
}

static void sigload_room_check_active(struct sigload_room *room)
{
    struct sigload_runner *run = room->run;

    if (!room->active && !room->failed && room->c[0].st == ST_READY && room->c[1].st == ST_READY &&
        room->c[0].id[0] && room->c[1].id[0]) {
        room->active = 1;
        run->active++;
    }
}

static void sigload_room_fail(struct sigload_room *room)
{
    if (!room->active && !room->failed) {
        room->failed = 1;
        room->run->failed++;
    }
    for (int i = 0; i < 2; i++) {
        if (room->c[i].ws != NULL) {
            sigload_ws_close(room->c[i].ws);
        }
    }
}

static void sigload_count_signal(struct sigload_runner *run, json_t *carrier)
{
    uint64_t now = sigload_now_us();
    json_t *ts = json_object_get(carrier, "ts");

    run->r->received++;
    if (run->phase == PH_RUN) {
        run->r->received_window++;
    }
    if (json_is_integer(ts)) {
        uint64_t t = (uint64_t)json_integer_value(ts);
        uint64_t d = now > t ? now - t : 0;
        sigload_lat_add(&run->r->relay, d > UINT32_MAX ? UINT32_MAX : (uint32_t)d, &run->rnd);
    }
}

static void sigload_vc_joined(struct sigload_client *cl, json_t *m)
{
    struct sigload_runner *run = cl->room->run;
    const char *peer = json_string_value(json_object_get(m, "peer"));
    const char *resume = json_string_value(json_object_get(m, "resume"));
    uint64_t now = sigload_now_us();

    if (peer == NULL || strlen(peer) >= sizeof(cl->id) || !sigload_safe(peer)) {
        sigload_error(run, &run->r->err_protocol, "joined without a usable peer id");
        sigload_room_fail(cl->room);
        return;
    }
    memcpy(cl->id, peer, strlen(peer) + 1);
    if (resume != NULL && strlen(resume) < sizeof(cl->resume) && sigload_safe(resume)) {
        memcpy(cl->resume, resume, strlen(resume) + 1);
    }
    if (cl->role == 1 && !cl->ever_ready) {
        sigload_lat_add(&run->r->join, (uint32_t)(now - cl->t_join), &run->rnd);
    }
    cl->st = ST_READY;
    cl->ever_ready = 1;
    if (cl->role == 0 && !cl->room->c[1].ever_ready && cl->room->c[1].st == ST_IDLE) {
        sigload_connect(&cl->room->c[1]);
    }
    sigload_room_check_active(cl->room);
}

static void sigload_vc_message(struct sigload_client *cl, json_t *m, const char *type)
{
    struct sigload_runner *run = cl->room->run;

    if (strcmp(type, "signal") == 0) {
        sigload_count_signal(run, json_object_get(m, "data"));
    } else if (strcmp(type, "joined") == 0) {
        sigload_vc_joined(cl, m);
    } else if (strcmp(type, "waiting") == 0) {
        cl->st = ST_WAITING;
    } else if (strcmp(type, "knock") == 0 && cl->role == 0) {
        const char *peer = json_string_value(json_object_get(m, "peer"));
        if (peer != NULL && strlen(peer) < 100 && sigload_safe(peer)) {
            int n =
                snprintf(run->buf, sizeof(run->buf), "{\"type\":\"admit\",\"peer\":\"%s\"}", peer);
            sigload_send(cl, run->buf, n);
        }
    } else if (strcmp(type, "error") == 0) {
        const char *code = json_string_value(json_object_get(m, "code"));
        const char *msg = json_string_value(json_object_get(m, "message"));
        sigload_error(run, &run->r->err_server, "server error %s: %s (room %u, %s)",
                      code ? code : "?", msg ? msg : "", cl->room->idx,
                      cl->role ? "guest" : "host");
        if (!cl->ever_ready && cl->st != ST_READY) {
            sigload_room_fail(cl->room);
        }
    } else if (strcmp(type, "room-ended") == 0 || strcmp(type, "denied") == 0) {
        sigload_error(run, &run->r->err_protocol, "%s in room %u", type, cl->room->idx);
        sigload_room_fail(cl->room);
    }
    /* admitted, peer-joined, peer-away, peer-back, peer-left, pong: nothing to do */
}

static void sigload_peerjs_message(struct sigload_client *cl, json_t *m, const char *type)
{
    struct sigload_runner *run = cl->room->run;

    if (strcmp(type, "OFFER") == 0 || strcmp(type, "ANSWER") == 0 ||
        strcmp(type, "CANDIDATE") == 0) {
        sigload_count_signal(run, json_object_get(m, "payload"));
    } else if (strcmp(type, "OPEN") == 0) {
        if (!cl->ever_ready) {
            sigload_lat_add(&run->r->join, (uint32_t)(sigload_now_us() - cl->t_connect), &run->rnd);
        }
        cl->st = ST_READY;
        cl->ever_ready = 1;
        sigload_room_check_active(cl->room);
    } else if (strcmp(type, "ERROR") == 0 || strcmp(type, "ID-TAKEN") == 0 ||
               strcmp(type, "EXPIRE") == 0 || strcmp(type, "LEAVE") == 0) {
        const char *msg = json_string_value(json_object_get(json_object_get(m, "payload"), "msg"));
        sigload_error(run, &run->r->err_server, "PeerJS %s%s%s (room %u)", type, msg ? ": " : "",
                      msg ? msg : "", cl->room->idx);
        if (!cl->ever_ready) {
            sigload_room_fail(cl->room);
        }
    }
}

/* The relayed signals are most of the traffic, so they skip the JSON parser: the type comes
 * first (both servers write it first), and our "ts" is near the end, forwarded byte for byte. */
static int sigload_fast_signal(struct sigload_runner *run, const uint8_t *buf, size_t len)
{
    static const char *const types[] = {"\"type\":\"signal\"", "\"type\":\"OFFER\"",
                                        "\"type\":\"ANSWER\"", "\"type\":\"CANDIDATE\""};
    size_t head = len < 48 ? len : 48, tail = len < 96 ? len : 96;
    const uint8_t *p = NULL;
    int hit = 0;

    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && !hit; i++) {
        hit = memmem(buf, head, types[i], strlen(types[i])) != NULL;
    }
    if (!hit) {
        return 0;
    }
    for (const uint8_t *q = buf + len - tail; q + 5 <= buf + len; q++) {
        if (memcmp(q, "\"ts\":", 5) == 0) {
            p = q + 5;
        }
    }
    run->r->received++;
    if (run->phase == PH_RUN) {
        run->r->received_window++;
    }
    if (p != NULL) {
        uint64_t t = 0, now = sigload_now_us(), d;
        while (p < buf + len && *p >= '0' && *p <= '9') {
            t = t * 10 + (uint64_t)(*p++ - '0');
        }
        d = now > t ? now - t : 0;
        sigload_lat_add(&run->r->relay, d > UINT32_MAX ? UINT32_MAX : (uint32_t)d, &run->rnd);
    }
    return 1;
}

static void sigload_message_cb(struct sigload_ws_conn *c, void *user, const uint8_t *buf,
                               size_t len)
{
    struct sigload_client *cl = user;
    struct sigload_runner *run = cl->room->run;
    json_t *m;
    const char *type;

    (void)c;
    if (sigload_fast_signal(run, buf, len)) {
        return;
    }
    m = json_loadb((const char *)buf, len, 0, NULL);
    type = json_string_value(json_object_get(m, "type"));
    if (type == NULL) {
        sigload_error(run, &run->r->err_protocol, "a message that is not JSON with a type");
    } else if (sigload_is_vc(run)) {
        sigload_vc_message(cl, m, type);
    } else {
        sigload_peerjs_message(cl, m, type);
    }
    json_decref(m);
}

static void sigload_open_cb(struct sigload_ws_conn *c, void *user)
{
    struct sigload_client *cl = user;
    struct sigload_runner *run = cl->room->run;
    uint64_t now = sigload_now_us();
    int n;

    (void)c;
    if (cl->reconnects == 0) {
        sigload_lat_add(&run->r->connect, (uint32_t)(now - cl->t_connect), &run->rnd);
    }
    cl->st = ST_JOINING;
    if (!sigload_is_vc(run)) {
        cl->next_heartbeat = now + SIGLOAD_HEARTBEAT_US;
        if (cl->ever_ready) {
            cl->st = ST_READY; /* a known id and token come back without a new OPEN */
        }
        return;
    }
    {
        const char *tok = cl->role ? cl->room->link.guest_token : cl->room->link.host_token;
        if (cl->resume[0] != '\0') {
            n = snprintf(run->buf, sizeof(run->buf),
                         "{\"type\":\"join\",\"token\":\"%s\",\"resume\":\"%s\"}", tok, cl->resume);
        } else {
            n = snprintf(run->buf, sizeof(run->buf), "{\"type\":\"join\",\"token\":\"%s\"}", tok);
        }
    }
    cl->t_join = sigload_now_us();
    sigload_send(cl, run->buf, n);
}

static void sigload_close_cb(struct sigload_ws_conn *c, void *user, int failed_connect,
                             const char *why)
{
    struct sigload_client *cl = user;
    struct sigload_room *room = cl->room;
    struct sigload_runner *run = room->run;

    (void)c;
    cl->ws = NULL;
    run->live--;
    if (run->phase == PH_CLOSE) {
        cl->st = ST_GONE;
        return;
    }
    if (room->failed) {
        cl->st = ST_GONE;
        return;
    }
    if (failed_connect) {
        sigload_error(run, &run->r->err_connect, "room %u %s: %s", room->idx,
                      cl->role ? "guest" : "host", why);
    } else {
        sigload_error(run, &run->r->err_closed, "room %u %s: %s", room->idx,
                      cl->role ? "guest" : "host", why);
    }
    if (cl->ever_ready && cl->reconnects < SIGLOAD_RECONNECTS_MAX && run->phase != PH_DRAIN) {
        cl->reconnects++;
        run->r->reconnects++;
        cl->st = ST_IDLE;
        if (sigload_connect(cl) == 0) {
            return;
        }
    }
    cl->st = ST_GONE;
    if (room->active) {
        room->active = 0; /* stops its signals; counted in rooms_active at the end */
    } else {
        sigload_room_fail(room);
    }
}

static void sigload_tick_cb(void *loop_user);

static const struct sigload_ws_ops sigload_ops = {
    .open_cb = sigload_open_cb,
    .message_cb = sigload_message_cb,
    .close_cb = sigload_close_cb,
    .tick_cb = sigload_tick_cb,
};

static int sigload_connect(struct sigload_client *cl)
{
    struct sigload_runner *run = cl->room->run;
    char path[256];
    int rc;

    if (sigload_is_vc(run)) {
        rc = sigload_ws_connect(run->ws, "/ws", "vc.v1",
                                run->o->origin ? run->o->origin : run->t->origin, cl, &cl->ws);
    } else {
        snprintf(path, sizeof(path), "/peerjs?key=%s&id=%s&token=%s", run->o->peerjs_key, cl->id,
                 cl->token);
        rc = sigload_ws_connect(run->ws, path, NULL, NULL, cl, &cl->ws);
    }
    if (rc < 0) {
        cl->ws = NULL;
        cl->st = ST_GONE;
        sigload_error(run, &run->r->err_connect, "room %u: cannot start a connection: %s",
                      cl->room->idx, strerror(-rc));
        return rc;
    }
    run->live++;
    cl->st = ST_CONNECTING;
    cl->t_connect = sigload_now_us();
    return 0;
}

static void sigload_start_room(struct sigload_runner *run, struct sigload_room *room)
{
    room->started = 1;
    run->started++;
    if (sigload_is_vc(run)) {
        /* the guest follows once the host has joined */
        if (sigload_connect(&room->c[0]) < 0) {
            sigload_room_fail(room);
        }
        return;
    }
    for (int i = 0; i < 2; i++) {
        if (sigload_connect(&room->c[i]) < 0) {
            sigload_room_fail(room);
            return;
        }
    }
}

static void sigload_send_due(struct sigload_runner *run, struct sigload_room *room, uint64_t now)
{
    uint64_t due;

    if (!room->active || now < room->t_send0) {
        return;
    }
    due = (now - room->t_send0) * run->o->rate / 1000000 + 1;
    for (int i = 0; room->sent < due && i < SIGLOAD_SENDS_PER_TICK; i++) {
        unsigned slot = (unsigned)(room->sent % SIGLOAD_PATTERN_LEN);
        struct sigload_client *from = &room->c[sigload_pattern[slot].from];
        struct sigload_client *to = &room->c[!sigload_pattern[slot].from];
        int n;

        room->sent++;
        if (from->st != ST_READY || to->id[0] == '\0') {
            continue; /* reconnecting: this slot is skipped */
        }
        if (sigload_is_vc(run)) {
            n = sigload_proto_vc_signal(run->buf, sizeof(run->buf), to->id,
                                        sigload_pattern[slot].kind, room->sent, now);
        } else {
            n = sigload_proto_peerjs_signal(run->buf, sizeof(run->buf), to->id,
                                            sigload_pattern[slot].kind, room->sent, now);
        }
        sigload_send(from, run->buf, n);
        run->r->sent++;
    }
    if (room->sent < due) {
        room->sent = due; /* we fell behind: drop the backlog rather than burst */
    }
}

static void sigload_heartbeats(struct sigload_room *room, uint64_t now)
{
    static const char hb[] = "{\"type\":\"HEARTBEAT\"}";

    for (int i = 0; i < 2; i++) {
        struct sigload_client *cl = &room->c[i];
        if (cl->st == ST_READY && cl->ws != NULL && now >= cl->next_heartbeat) {
            cl->next_heartbeat = now + SIGLOAD_HEARTBEAT_US;
            sigload_send(cl, hb, (int)sizeof(hb) - 1);
        }
    }
}

/* Starts rooms within --join-rate and --max-pending. */
static void sigload_setup_tick(struct sigload_runner *run, uint64_t now)
{
    uint64_t allowed = run->o->rooms;

    if (run->o->join_rate > 0) {
        allowed = (now - run->t_setup) * run->o->join_rate / 1000000 + 1;
        if (allowed > run->o->rooms) {
            allowed = run->o->rooms;
        }
    }
    while (run->started < allowed &&
           run->started - run->active - run->failed < run->o->max_pending) {
        sigload_start_room(run, &run->rooms[run->started]);
    }
}

static unsigned sigload_count_ready(const struct sigload_runner *run)
{
    unsigned n = 0;

    for (unsigned i = 0; i < run->o->rooms; i++) {
        for (int k = 0; k < 2; k++) {
            n += run->rooms[i].c[k].st == ST_READY;
        }
    }
    return n;
}

/* vc-load's own user+system CPU seconds so far. */
static double sigload_self_cpu_s(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) < 0) {
        return 0;
    }
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void sigload_begin_run(struct sigload_runner *run, uint64_t now)
{
    struct sigload_result *r = run->r;
    uint64_t period = 1000000 / run->o->rate;

    r->setup_s = (double)(now - run->t_setup) / 1e6;
    r->connections = sigload_count_ready(run);
    r->new_conns_per_s = r->setup_s > 0 ? r->connections / r->setup_s : 0;
    r->loader_setup_cpu_s = sigload_self_cpu_s() - run->cpu_setup;
    if (run->o->server_pid) {
        sigload_proc_sample(run->o->server_pid, &r->proc_setup);
    }
    run->phase = PH_RUN;
    run->t_run = now;
    run->t_phase_end = now + (uint64_t)run->o->duration_s * 1000000;
    for (unsigned i = 0; i < run->o->rooms; i++) {
        run->rnd ^= run->rnd << 13;
        run->rnd ^= run->rnd >> 7;
        run->rnd ^= run->rnd << 17;
        run->rooms[i].t_send0 = now + (period ? run->rnd % period : 0);
    }
}

static void sigload_progress(struct sigload_runner *run, uint64_t now)
{
    if (!run->tty || now < run->t_progress) {
        return;
    }
    run->t_progress = now + 1000000;
    if (run->phase == PH_SETUP) {
        fprintf(stderr, "\rset-up: %u/%u rooms active, %u failed, errors %" PRIu64 "      ",
                run->active, run->o->rooms, run->failed, run->r->errors);
    } else if (run->phase == PH_RUN) {
        double el = (double)(now - run->t_run) / 1e6;
        fprintf(stderr, "\rrun: %.0f/%u s, %.0f msg/s, errors %" PRIu64 "              ", el,
                run->o->duration_s, el > 0 ? (double)run->r->received_window / el : 0,
                run->r->errors);
    }
}

static void sigload_tick_cb(void *loop_user)
{
    struct sigload_runner *run = loop_user;
    uint64_t now = sigload_now_us();

    sigload_progress(run, now);
    switch (run->phase) {
    case PH_SETUP:
        sigload_setup_tick(run, now);
        if (run->active + run->failed >= run->o->rooms || now >= run->t_phase_end) {
            if (run->active == 0) {
                run->done = 1;
                return;
            }
            sigload_begin_run(run, now);
        }
        break;
    case PH_RUN:
        if (now >= run->t_phase_end) {
            run->phase = PH_DRAIN;
            run->t_end = now;
            run->t_phase_end = now + SIGLOAD_DRAIN_US;
            if (run->o->server_pid) {
                sigload_proc_sample(run->o->server_pid, &run->r->proc_end);
            }
            break;
        }
        break;
    case PH_DRAIN:
        if (now >= run->t_phase_end || run->r->received >= run->r->sent) {
            run->done = 1;
        }
        return;
    case PH_CLOSE:
        if (run->live == 0 || now >= run->t_phase_end) {
            run->done = 1;
        }
        return;
    }
    for (unsigned i = 0; i < run->started; i++) {
        if (run->phase == PH_RUN) {
            sigload_send_due(run, &run->rooms[i], now);
        }
        if (!sigload_is_vc(run)) {
            sigload_heartbeats(&run->rooms[i], now);
        }
    }
}

static void sigload_close_all(struct sigload_runner *run)
{
    run->phase = PH_CLOSE;
    run->done = 0;
    run->t_phase_end = sigload_now_us() + SIGLOAD_CLOSE_US;
    for (unsigned i = 0; i < run->o->rooms; i++) {
        for (int k = 0; k < 2; k++) {
            if (run->rooms[i].c[k].ws != NULL) {
                sigload_ws_close(run->rooms[i].c[k].ws);
            }
        }
    }
    for (int i = 0; i < 100000 && !run->done && run->live > 0; i++) {
        sigload_ws_service(run->ws);
    }
}

/* vc: creates every room over HTTPS before any WebSocket opens. */
static int sigload_create_rooms(struct sigload_runner *run, char *err, size_t errlen)
{
    const struct sigload_opts *o = run->o;
    struct sigload_http *h = NULL;
    unsigned ttl = o->setup_timeout_s + o->duration_s + 300;
    int rc;

    if (ttl > 86400) {
        ttl = 86400;
    }
    rc = sigload_http_new(run->t, o->ca_file, o->insecure, &h, err, errlen);
    if (rc < 0) {
        return rc;
    }
    for (unsigned i = 0; i < o->rooms; i++) {
        rc = sigload_http_create_room(h, o->api_key, ttl, &run->rooms[i].link, err, errlen);
        if (rc < 0) {
            sigload_http_free(h);
            return rc;
        }
        if (!sigload_safe(run->rooms[i].link.host_token) ||
            !sigload_safe(run->rooms[i].link.guest_token)) {
            snprintf(err, errlen, "room tokens with characters this tool does not escape");
            sigload_http_free(h);
            return -EBADMSG;
        }
    }
    sigload_http_free(h);
    return 0;
}

static void sigload_delete_rooms(struct sigload_runner *run)
{
    struct sigload_http *h = NULL;
    char err[256];
    unsigned bad = 0;

    if (sigload_http_new(run->t, run->o->ca_file, run->o->insecure, &h, err, sizeof(err)) < 0) {
        return;
    }
    for (unsigned i = 0; i < run->o->rooms; i++) {
        if (run->rooms[i].link.id[0] == '\0') {
            continue;
        }
        if (sigload_http_delete_room(h, run->o->api_key, run->rooms[i].link.id, err, sizeof(err)) <
            0) {
            if (bad++ == 0) {
                fprintf(stderr, "vc-load signal: clean-up: %s\n", err);
            }
            if (bad >= 3) {
                break; /* the server is gone or refusing: rooms expire on their own */
            }
        }
    }
    sigload_http_free(h);
}

static void sigload_init_rooms(struct sigload_runner *run)
{
    unsigned char rnd[16];
    char tag[17];

    RAND_bytes(rnd, sizeof(rnd));
    for (int i = 0; i < 8; i++) {
        snprintf(tag + 2 * i, 3, "%02x", rnd[i]);
    }
    memcpy(&run->rnd, rnd + 8, sizeof(run->rnd));
    run->rnd |= 1;
    for (unsigned i = 0; i < run->o->rooms; i++) {
        struct sigload_room *room = &run->rooms[i];
        room->run = run;
        room->idx = i;
        for (int k = 0; k < 2; k++) {
            struct sigload_client *cl = &room->c[k];
            cl->room = room;
            cl->role = k;
            if (!sigload_is_vc(run)) {
                snprintf(cl->id, sizeof(cl->id), "vcload-%s-%u-%c", tag, i, k ? 'g' : 'h');
                snprintf(cl->token, sizeof(cl->token), "t%s%u", tag, i * 2 + (unsigned)k);
            }
        }
    }
}

/* Set-up, the measured window and the drain, on the WebSocket loop. On return run->ws exists
 * (unless creating it failed) and still holds the connections. */
static int sigload_run_loop(struct sigload_runner *run, char *err, size_t errlen)
{
    const struct sigload_opts *o = run->o;
    struct sigload_result *r = run->r;
    struct sigload_ws_config wc;
    uint64_t hard_end;
    int rc = 0;

    memset(&wc, 0, sizeof(wc));
    wc.target = run->t;
    wc.ca_file = o->ca_file;
    wc.insecure = o->insecure;
    wc.tick_ms = SIGLOAD_TICK_MS;
    wc.ops = &sigload_ops;
    wc.loop_user = run;
    rc = sigload_ws_new(&wc, &run->ws);
    if (rc < 0) {
        snprintf(err, errlen, "cannot create the WebSocket client (libwebsockets)");
        return rc;
    }
    run->phase = PH_SETUP;
    run->t_setup = sigload_now_us();
    run->cpu_setup = sigload_self_cpu_s();
    run->t_phase_end = run->t_setup + (uint64_t)o->setup_timeout_s * 1000000;
    hard_end = run->t_phase_end + ((uint64_t)o->duration_s + 10) * 1000000;
    while (!run->done && sigload_now_us() < hard_end) {
        sigload_ws_service(run->ws);
    }
    if (run->tty) {
        fputc('\n', stderr);
    }
    if (run->phase == PH_SETUP) {
        snprintf(err, errlen, "no room got both clients joined%s%s%s",
                 r->first_error[0] ? "; first error: " : "", r->first_error,
                 strstr(r->first_error, "HTTP 403") != NULL && sigload_is_vc(run)
                     ? " (vc-signal refuses an Origin it does not allow: --origin, or use the"
                       " public URL's host in --url)"
                     : "");
        rc = -ECONNREFUSED;
    } else {
        if (run->t_end == 0) {
            run->t_end = sigload_now_us(); /* the hard bound ended the window */
        }
        r->duration_s = (double)(run->t_end - run->t_run) / 1e6;
        r->rooms_active = 0;
        for (unsigned i = 0; i < o->rooms; i++) {
            r->rooms_active += run->rooms[i].active;
        }
        r->lost = r->sent > r->received ? r->sent - r->received : 0;
    }
    return rc;
}

int sigload_run(const struct sigload_opts *o, const struct sigload_target *t,
                struct sigload_result *r, char *err, size_t errlen)
{
    struct sigload_runner *run = calloc(1, sizeof(*run));
    int rc = 0;

    if (run == NULL) {
        return -ENOMEM;
    }
    run->o = o;
    run->t = t;
    run->r = r;
    run->tty = isatty(STDERR_FILENO);
    run->rooms = calloc(o->rooms, sizeof(*run->rooms));
    if (run->rooms == NULL) {
        free(run);
        return -ENOMEM;
    }
    sigload_init_rooms(run);
    if (o->server_pid && sigload_proc_sample(o->server_pid, &r->proc_base) < 0) {
        snprintf(err, errlen, "--server-pid %u: cannot read /proc/%u/stat", o->server_pid,
                 o->server_pid);
        rc = -ESRCH;
        goto out;
    }
    if (sigload_is_vc(run)) {
        rc = sigload_create_rooms(run, err, errlen);
        if (rc < 0) {
            goto out;
        }
        if (o->server_pid) {
            sigload_proc_sample(o->server_pid, &r->proc_base); /* rooms are not connections */
        }
    }
    rc = sigload_run_loop(run, err, errlen);
    if (run->ws != NULL) {
        sigload_close_all(run);
        sigload_ws_free(run->ws);
    }
out:
    if (sigload_is_vc(run) && !o->keep_rooms) {
        sigload_delete_rooms(run);
    }
    free(run->rooms);
    free(run);
    return rc;
}
