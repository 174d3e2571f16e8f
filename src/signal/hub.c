/* The signalling core's sessions: the vc.v1 messages, lobby, brokering, resume and rate limits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vc/log.h"
#include "vc/random.h"
#include "vc/rest_cred.h"
#include "hub_int.h"

struct hub_session *hub_session_open(struct hub *h, struct hub_conn *conn,
                                     const struct hub_client_info *info)
{
    struct hub_session *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->conn = conn;
    s->info = *info;
    s->tokens_milli = (uint64_t)h->set.max_msg_rate * 2000;
    s->tokens_ms = h->mono_ms;
    s->next = h->sessions;
    if (h->sessions)
        h->sessions->prev = s;
    h->sessions = s;
    h->nsessions++;
    return s;
}

bool hub_session_joined(const struct hub_session *s)
{
    return s->peer != NULL;
}

void hub_close(struct hub *h, struct hub_session *s, int code, const char *reason)
{
    if (s->closing)
        return;
    s->closing = true;
    h->ops->close(h->ctx, s->conn, code, reason);
}

static void send_bytes(struct hub *h, struct hub_session *s, const char *buf, size_t len)
{
    if (s->closing || h->stopping)
        return;
    if (h->ops->send(h->ctx, s->conn, buf, len) == -ENOBUFS)
        hub_close(h, s, 1008, "output queue full");
}

void hub_send(struct hub *h, struct hub_session *s)
{
    send_bytes(h, s, h->out.data, h->out.len);
}

void hub_peer_flush_queue(struct hub *h, struct hub_peer *p)
{
    while (p->queue) {
        struct hub_queued *q = p->queue;
        if (p->sess)
            send_bytes(h, p->sess, q->data, q->len);
        p->queue = q->next;
        free(q);
    }
    p->queue_tail = &p->queue;
    p->queue_msgs = 0;
    p->queue_bytes = 0;
}

void hub_broadcast(struct hub *h, struct hub_room *r, const struct hub_peer *skip, unsigned to)
{
    for (struct hub_peer *p = r->peers; p; p = p->next) {
        bool state_ok = p->state == HUB_WAITING ? (to & HUB_TO_WAITING) : (to & HUB_TO_JOINED);
        if (p == skip || !p->sess || !state_ok || ((to & HUB_TO_HOSTS) && p->role != HUB_HOST))
            continue;
        hub_send(h, p->sess);
    }
}

void hub_send_error(struct hub *h, struct hub_session *s, const char *code, const char *msg)
{
    hub_send_error_by(h, s, code, msg, NULL);
}

void hub_send_error_by(struct hub *h, struct hub_session *s, const char *code, const char *msg,
                       const char *by)
{
    h->stats.errors++;
    if (sigmsg_encode_error_by(&h->out, code, msg, by) == 0)
        hub_send(h, s);
}

void hub_send_simple(struct hub *h, struct hub_session *s, const char *type)
{
    if (sigmsg_encode(&h->out, type, NULL) == 0)
        hub_send(h, s);
}

/* When the credentials handed to p expire: the room's expiry plus the margin, capped by the
 * TURN TTL; a guest still in the lobby gets HUB_PRECHECK_TTL_S, enough for its pre-call check. */
static int64_t credential_expiry(const struct hub *h, const struct hub_peer *p)
{
    int64_t now_s = h->unix_ms / 1000;
    int64_t expiry = p->room->expires_ms / 1000 + h->set.turn_margin;
    int64_t cap = now_s + (p->state == HUB_WAITING ? HUB_PRECHECK_TTL_S : h->set.turn_ttl);

    return expiry < cap ? expiry : cap;
}

void hub_turn_release(struct hub *h, struct hub_peer *p)
{
    if (h->set.pool)
        turnpool_release(h->set.pool, &p->turn_pick);
}

/* Appends one RTCIceServer per pool node picked for p, all with the same credentials. Every
 * call picks afresh (and uncounts the last pick), so a resume moves off a node that went down. */
static void pool_servers(struct hub *h, struct hub_peer *p, json_t *list, const char *user,
                         const char *pass)
{
    hub_turn_release(h, p);
    if (turnpool_acquire(h->set.pool, p->room->region, &p->turn_pick) < 0)
        return; /* cannot happen: hub_room_create() checked the region */
    if (p->turn_pick.degraded)
        log_msg(LOG_LEVEL_WARN,
                "turn pool: no healthy node in region %s; handing out its nodes anyway "
                "(room %s)",
                p->room->region, p->room->id);
    for (unsigned k = 0; k < p->turn_pick.n; k++) {
        const struct turnpool_node_conf *node = turnpool_node(h->set.pool, p->turn_pick.idx[k]);
        json_t *urls = json_array();

        for (unsigned u = 0; u < node->n_urls; u++)
            json_array_append_new(urls, json_string(node->urls[u]));
        json_t *one =
            json_pack("{s:o,s:s,s:s}", "urls", urls, "username", user, "credential", pass);
        if (one)
            json_array_append_new(list, one);
    }
}

/* RTCIceServer objects for the configured URLs; TURN ones carry REST credentials for p. With a
 * pool, the TURN servers are the nodes picked for p in its room's region instead of the
 * configured turn: and turns: URLs. */
static json_t *ice_servers(struct hub *h, struct hub_peer *p)
{
    json_t *list = json_array();
    char user[64], pass[REST_CRED_PASSWORD_LEN];

    snprintf(user, sizeof(user), "%lld:%s", (long long)credential_expiry(h, p), p->turn_id);
    bool have_pass =
        h->set.turn_secret_len && rest_cred_password(h->set.turn_secret, h->set.turn_secret_len,
                                                     user, strlen(user), pass, sizeof(pass)) > 0;
    for (unsigned i = 0; i < h->set.n_ice_servers; i++) {
        const char *url = h->set.ice_servers[i];
        bool turn = strncmp(url, "turn:", 5) == 0 || strncmp(url, "turns:", 6) == 0;
        if (turn && (!have_pass || h->set.pool))
            continue;
        json_t *one =
            turn ? json_pack("{s:s,s:s,s:s}", "urls", url, "username", user, "credential", pass)
                 : json_pack("{s:s}", "urls", url);
        if (one)
            json_array_append_new(list, one);
    }
    if (h->set.pool && have_pass)
        pool_servers(h, p, list, user, pass);
    return list;
}

static const char *role_name(enum hub_role role)
{
    return role == HUB_HOST ? "host" : "guest";
}

/* Hands p a fresh resume token (resume: HUB_TOKEN_LEN + 1 bytes, "" on failure); only its hash
 * is kept. */
static void new_resume(struct hub_peer *p, char *resume)
{
    p->has_resume = random_token_hex(resume, HUB_TOKEN_LEN + 1, HUB_TOKEN_LEN / 2) == 0;
    if (p->has_resume)
        token_hash(resume, HUB_TOKEN_LEN, p->resume_hash);
    else
        resume[0] = '\0';
}

static void count_join_latency(struct hub *h, uint64_t asked_ms)
{
    static const uint64_t bounds[] = {10, 25, 50, 100, 250, 500, 1000};
    uint64_t ms = h->mono_ms - asked_ms;
    unsigned b = 0;

    while (b < 7 && ms > bounds[b])
        b++;
    h->stats.join_latency_buckets[b]++;
    h->stats.join_latency_sum_ms += (double)ms;
    h->stats.join_latency_count++;
}

/* Sends joined to p (with a fresh resume token), then any signals kept while it was away. */
static void send_joined(struct hub *h, struct hub_peer *p, uint64_t asked_ms)
{
    json_t *peers = json_array();
    char resume[HUB_TOKEN_LEN + 1];

    new_resume(p, resume);
    for (struct hub_peer *o = p->room->peers; o; o = o->next)
        if (o != p && o->state != HUB_WAITING)
            json_array_append_new(peers, hub_member_json(o));
    if (sigmsg_encode(&h->out, "joined", "{s:s,s:s,s:b,s:o,s:o,s:s,s:b,s:s,s:s,s:s}", "peer", p->id,
                      "role", role_name(p->role), "polite", p->role == HUB_GUEST, "peers", peers,
                      "ice_servers", ice_servers(h, p), "resume", resume, "relay_only",
                      p->room->relay_only, "name", p->name, "region", p->room->region, "language",
                      p->room->language) == 0)
        hub_send(h, p->sess);
    hub_peer_flush_queue(h, p);
    hub_room_changed(h, p->room); /* a new resume token, or a new participant */
    count_join_latency(h, asked_ms);
}

/* Sends waiting to a guest in the lobby: a short-lived TURN credential for its pre-call check, a
 * resume token that keeps its place if its connection drops, when it knocked, and the room's
 * language for its page. */
static void send_waiting(struct hub *h, struct hub_peer *g)
{
    char resume[HUB_TOKEN_LEN + 1], since[32];

    new_resume(g, resume);
    hub_rfc3339_ms(since, g->knock_unix_ms);
    if (sigmsg_encode(&h->out, "waiting", "{s:o,s:s,s:s,s:s}", "ice_servers", ice_servers(h, g),
                      "resume", resume, "since", since, "language", g->room->language) == 0)
        hub_send(h, g->sess);
}

static void send_knock(struct hub *h, struct hub_session *host, const struct hub_peer *g)
{
    if (sigmsg_encode(&h->out, "knock", "{s:s,s:s,s:s,s:s,s:o,s:s,s:b}", "peer", g->id, "browser",
                      g->info.browser, "browser_version", g->info.browser_version, "os", g->info.os,
                      "precheck", hub_precheck_json(&g->precheck), "name", g->name, "invited",
                      g->invite[0] != '\0') == 0)
        hub_send(h, host);
}

/* A host who arrives or comes back hears of every guest already waiting. */
static void send_pending_knocks(struct hub *h, struct hub_peer *p)
{
    if (p->role != HUB_HOST)
        return;
    for (struct hub_peer *g = p->room->peers; g; g = g->next)
        if (g->state == HUB_WAITING && g->sess)
            send_knock(h, p->sess, g);
}

void hub_make_participant(struct hub *h, struct hub_peer *p, uint64_t asked_ms)
{
    p->joined_ms = h->mono_ms;
    h->stats.joins++;
    if (p->sess) {
        p->state = HUB_JOINED;
        send_joined(h, p, asked_ms);
    } else { /* admitted while its connection was down: joined reaches it when it resumes */
        p->state = HUB_AWAY;
        p->away_ms = h->mono_ms;
        hub_room_changed(h, p->room);
    }
    hub_call_admitted(h, p->room, p);
    hub_call_count(h, p->room);
    if (sigmsg_encode(&h->out, "peer-joined", "{s:s,s:s,s:s,s:b}", "peer", p->id, "role",
                      role_name(p->role), "name", p->name, "invited", p->invite[0] != '\0') == 0)
        hub_broadcast(h, p->room, p, HUB_TO_JOINED);
    if (p->sess)
        send_pending_knocks(h, p);
    hub_peer_log_joined(h, p, false);
}

static void attach(struct hub_session *s, struct hub_peer *p)
{
    s->peer = p;
    p->sess = s;
}

/* A waiting guest back on a new connection: its place in the queue is kept. */
static void resume_waiting(struct hub *h, struct hub_session *s, struct hub_peer *g)
{
    attach(s, g);
    g->info = s->info;
    g->queue_pos = 0; /* send its place again */
    h->stats.resumes++;
    send_waiting(h, g);
    hub_peer_flush_queue(h, g); /* messages sent while it was away */
    hub_knock_hosts(h, g);
    hub_room_changed(h, g->room);
}

/* A resume: the same peer on a new connection, without a second lobby wait. */
static bool try_resume(struct hub *h, struct hub_session *s, struct hub_room *r, enum hub_role role,
                       const struct sigmsg *m)
{
    const char *resume = m->resume;
    struct hub_peer *p = NULL;
    unsigned char hash[TOKEN_HASH_LEN];

    if (strlen(resume) != HUB_TOKEN_LEN)
        return false;
    token_hash(resume, HUB_TOKEN_LEN, hash);
    for (struct hub_peer *o = r->peers; o; o = o->next)
        if (o->role == role && o->has_resume && ct_equal(o->resume_hash, hash, TOKEN_HASH_LEN))
            p = o;
    if (!p)
        return false;
    /* A room taken over by another node keeps no names: they come back with the resume. */
    if (m->name[0] || (!p->name[0] && m->room[0]))
        hub_member_name(p, m->name, NULL, m->room[0] ? s->clinician : NULL);
    /* Back from away, or replacing a connection that only looked alive (a phone that changed
     * networks): either way what was sent to it meanwhile may be lost, so the others hear. */
    bool was_away = p->state == HUB_AWAY || (p->sess && p->state == HUB_JOINED);
    if (p->sess) { /* the old connection is not dead yet: this one replaces it */
        hub_close(h, p->sess, 4000, "replaced by a resumed connection");
        p->sess->peer = NULL;
        p->sess = NULL;
    }
    if (p->state == HUB_WAITING) {
        resume_waiting(h, s, p);
        return true;
    }
    attach(s, p);
    p->state = HUB_JOINED;
    p->info = s->info;
    h->stats.resumes++;
    send_joined(h, p, h->mono_ms);
    if (was_away && sigmsg_encode(&h->out, "peer-back", "{s:s}", "peer", p->id) == 0)
        hub_broadcast(h, r, p, HUB_TO_JOINED);
    send_pending_knocks(h, p);
    hub_peer_log_joined(h, p, true);
    return true;
}

static bool knock_allowed(struct hub *h, struct hub_room *r)
{
    if (h->mono_ms - r->knock_window_ms >= 60000) {
        r->knock_window_ms = h->mono_ms;
        r->knock_count = 0;
    }
    return ++r->knock_count <= h->set.max_knocks_per_min;
}

void hub_knock_hosts(struct hub *h, struct hub_peer *g)
{
    for (struct hub_peer *o = g->room->peers; o; o = o->next)
        if (o->role == HUB_HOST && o->state == HUB_JOINED && o->sess) {
            send_knock(h, o->sess, g);
            g->notified = true;
        }
}

/* The room a join names: by token (a link), or by id for a signed-in clinician, who then joins
 * as a host. NULL when there is none to join, after answering for a room by id. */
static struct hub_room *join_room(struct hub *h, struct hub_session *s, const struct sigmsg *m,
                                  enum hub_role *role, struct hub_invite **inv)
{
    if (m->room[0]) {
        *role = HUB_HOST;
        *inv = NULL;
        return hub_lobby_join_room(h, s, m->room);
    }
    return hub_room_by_token(h, m->token, role, inv);
}

static void on_join(struct hub *h, struct hub_session *s, const struct sigmsg *m)
{
    enum hub_role role = HUB_GUEST;
    struct hub_invite *inv = NULL;

    if (s->peer)
        return hub_send_error(h, s, "bad_request", "already joined");
    if (m->room[0] && !s->clinician)
        return hub_send_error(h, s, "forbidden", "Sign in to join a consultation by its id.");
    struct hub_room *r = join_room(h, s, m, &role, &inv);
    if (!r && m->room[0])
        return; /* join_room answered */
    if (r && m->resume[0] && try_resume(h, s, r, role, m))
        return;
    if (!r || hub_room_expired(h, r))
        return hub_send_error(h, s, "invalid_token", "This link is not valid or has expired.");
    bool full = hub_room_participants(r) >= r->capacity;
    /* Hosts are never locked out; guests wait in the lobby or need a free place. */
    if (role == HUB_GUEST && !r->lobby && full)
        return hub_send_error(h, s, "room_full", "This consultation is full.");
    if (role == HUB_GUEST && r->lobby && !knock_allowed(h, r)) {
        h->stats.rate_limited++;
        return hub_send_error(h, s, "rate_limited", "Too many requests to join; try again soon.");
    }
    struct hub_peer *p = hub_peer_new(h, r, role);
    if (!p)
        return hub_send_error(h, s, "bad_request", "out of memory");
    attach(s, p);
    p->info = s->info;
    p->precheck = m->precheck;
    if (inv)
        memcpy(p->invite, inv->id, sizeof(p->invite));
    hub_member_name(p, m->name, inv, m->room[0] ? s->clinician : NULL);
    p->knock_unix_ms = h->unix_ms;
    p->knock_seq = ++h->knock_seq;
    if (m->room[0] && s->clinician) { /* a clinician taking the call from their dashboard */
        memcpy(r->clinician.id, s->clinician->id, sizeof(r->clinician.id));
        memcpy(r->clinician.name, s->clinician->name, sizeof(r->clinician.name));
    }
    if (role == HUB_HOST || !r->lobby)
        return hub_make_participant(h, p, h->mono_ms);
    p->state = HUB_WAITING;
    h->stats.knocks++;
    hub_peer_log_knocked(h, p);
    send_waiting(h, p);
    hub_knock_hosts(h, p);
    hub_room_changed(h, r);
}

/* A waiting guest's pre-call check, finished after it knocked: the hosts see it updated. */
static void on_precheck(struct hub *h, struct hub_session *s, const struct sigmsg *m)
{
    if (s->peer->state != HUB_WAITING)
        return; /* already in the call: nothing to update */
    s->peer->precheck = m->precheck;
    hub_knock_hosts(h, s->peer);
    hub_room_changed(h, s->peer->room);
}

static void on_signal(struct hub *h, struct hub_session *s, const struct sigmsg *m,
                      const uint8_t *frame)
{
    struct hub_peer *to = hub_peer_find(s->peer->room, m->peer);

    if (!to || to == s->peer || to->state == HUB_WAITING)
        return hub_send_error(h, s, "unknown_peer", "No such peer in this consultation.");
    if (sigmsg_encode_signal(&h->out, s->peer->id, frame + m->data_off, m->data_len) < 0)
        return hub_send_error(h, s, "too_large", "Message too large.");
    if (hub_peer_deliver(h, to) < 0)
        return hub_send_error(h, s, "rate_limited", "The peer's queue is full.");
    h->stats.messages_relayed++;
}

static void on_leave(struct hub *h, struct hub_session *s)
{
    hub_peer_remove(h, s->peer, "left");
    hub_close(h, s, 1000, "left");
}

/* Token bucket per connection. Refusals are counted over HUB_ABUSE_WINDOW_MS: a client that
 * keeps sending at many times the rate is abusive and is closed (1008). */
static bool rate_ok(struct hub *h, struct hub_session *s)
{
    uint64_t rate = h->set.max_msg_rate, burst = rate * 2000;

    s->tokens_milli += (h->mono_ms - s->tokens_ms) * rate;
    s->tokens_ms = h->mono_ms;
    if (s->tokens_milli > burst)
        s->tokens_milli = burst;
    if (s->tokens_milli >= 1000) {
        s->tokens_milli -= 1000;
        return true;
    }
    h->stats.rate_limited++;
    if (h->mono_ms - s->refused_window_ms >= HUB_ABUSE_WINDOW_MS) {
        s->refused_window_ms = h->mono_ms;
        s->refused_count = 0;
    }
    if (++s->refused_count > rate * HUB_ABUSE_WINDOW_MS / 1000) {
        hub_close(h, s, 1008, "message flood");
        return false;
    }
    /* One error a second is enough to tell a well-meaning client to slow down. */
    if (h->mono_ms - s->last_refusal_note_ms >= 1000) {
        s->last_refusal_note_ms = h->mono_ms;
        hub_send_error(h, s, "rate_limited", "Too many messages; slow down.");
    }
    return false;
}

/* Messages of a joined peer. */
static void on_peer_message(struct hub *h, struct hub_session *s, const struct sigmsg *m,
                            const uint8_t *buf, size_t len)
{
    if (m->type == SIGMSG_LEAVE)
        return on_leave(h, s);
    if (m->type == SIGMSG_PRECHECK)
        return on_precheck(h, s, m);
    if (s->peer->state != HUB_JOINED)
        return hub_send_error(h, s, "forbidden", "Wait to be let in.");
    if (hub_lobby_action(h, s, m, buf, len))
        return;
    switch (m->type) {
    case SIGMSG_SIGNAL:
        return on_signal(h, s, m, buf);
    case SIGMSG_STATS:
        return hub_peer_log_stats(h, s->peer, m);
    case SIGMSG_END:
        if (s->peer->role != HUB_HOST)
            return hub_send_error(h, s, "forbidden",
                                  "Only the clinician can end the consultation.");
        return hub_room_destroy(h, s->peer->room, "ended_by_host");
    default:
        return hub_send_error(h, s, "unknown_type", "Unknown message type.");
    }
}

void hub_session_message(struct hub *h, struct hub_session *s, const uint8_t *buf, size_t len)
{
    struct sigmsg m;
    const char *code = NULL;

    if (s->closing || !rate_ok(h, s))
        return;
    if (sigmsg_parse(buf, len, &m, &code) < 0)
        return hub_send_error(h, s, code ? code : "bad_request",
                              code && strcmp(code, "too_large") == 0
                                  ? "A field is longer than allowed."
                                  : "The message was not understood.");
    if (m.type == SIGMSG_PING)
        return hub_send_simple(h, s, "pong");
    if (m.type == SIGMSG_JOIN)
        return on_join(h, s, &m);
    if (m.type == SIGMSG_WATCH)
        return hub_watch_start(h, s);
    if (s->peer)
        return on_peer_message(h, s, &m, buf, len);
    /* A clinician's dashboard acts on its waiting area without joining a room. */
    if (!s->clinician || !hub_lobby_action(h, s, &m, buf, len))
        hub_send_error(h, s, "not_joined", "Send join first.");
}

int hub_session_set_clinician(struct hub *h, struct hub_session *s, const struct hub_clinician *c)
{
    (void)h;
    if (!s->clinician && !(s->clinician = malloc(sizeof(*s->clinician))))
        return -ENOMEM;
    *s->clinician = *c;
    return 0;
}

void hub_relayed_action(struct hub *h, struct hub_conn *conn, const struct hub_clinician *who,
                        const uint8_t *frame, size_t len)
{
    static const struct hub_client_info none = {"", "", "", ""};
    struct hub_session *s = hub_session_open(h, conn, &none);

    if (!s)
        return;
    if (hub_session_set_clinician(h, s, who) == 0) {
        s->relayed = true;
        hub_session_message(h, s, frame, len);
    }
    hub_session_closed(h, s);
}

void hub_session_closed(struct hub *h, struct hub_session *s)
{
    struct hub_peer *p = s->peer;

    if (p) {
        p->sess = NULL;
        if (p->state == HUB_WAITING && (!p->has_resume || h->set.resume_grace == 0)) {
            hub_peer_remove(h, p, "left");
        } else if (p->state == HUB_WAITING) { /* keeps its place for the resume grace */
            p->away_ms = h->mono_ms;
            hub_room_changed(h, p->room);
        } else {
            p->state = HUB_AWAY;
            p->away_ms = h->mono_ms;
            if (sigmsg_encode(&h->out, "peer-away", "{s:s}", "peer", p->id) == 0)
                hub_broadcast(h, p->room, p, HUB_TO_JOINED);
            hub_room_changed(h, p->room);
        }
    }
    hub_watch_session_closed(h, s);
    if (s->prev)
        s->prev->next = s->next;
    else
        h->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    h->nsessions--;
    free(s->clinician);
    free(s);
}
