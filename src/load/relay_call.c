/* One simulated call: two libnice agents joined relay-to-relay, sending SRTP media both ways. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agent.h>
#include <srtp2/srtp.h>

#include "relay_fast.h"
#include "relay_media.h"
#include "vc/random.h"

/* MEDIA: libnice carries the media; FAST: the batched path does (relay_fastio.c). */
enum relay_call_state {
    RELAY_CALL_GATHER,
    RELAY_CALL_CONNECT,
    RELAY_CALL_MEDIA,
    RELAY_CALL_FAST,
    RELAY_CALL_DEAD
};

struct relay_side {
    struct relay_call *call;
    NiceAgent *agent;
    guint stream;
    bool gathered;
    bool ready;
    struct relay_rtp_tx t;
    srtp_t tx; /* protects what this side sends (passes to the batched path with the call) */
    srtp_t rx; /* unprotects what the other side sends */
    struct relay_rx rxstate;
};

struct relay_call {
    struct relay_worker *w;
    unsigned id;
    enum relay_call_state state;
    int64_t deadline_ns;
    int64_t media_start_ns;
    struct relay_side a;
    struct relay_side b;
};

static void relay_call_fail(struct relay_call *c, const char *why)
{
    if (c->state == RELAY_CALL_DEAD) {
        return;
    }
    c->state = RELAY_CALL_DEAD;
    g_mutex_lock(&c->w->lock);
    c->w->stats.calls_failed++;
    snprintf(c->w->stats.last_error, sizeof(c->w->stats.last_error), "call %u: %s", c->id, why);
    g_mutex_unlock(&c->w->lock);
}

static int relay_srtp_session(srtp_t *out, enum relay_srtp suite, const uint8_t *key, uint32_t ssrc)
{
    srtp_policy_t p;

    memset(&p, 0, sizeof(p));
    if (suite == RELAY_SRTP_GCM) {
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    } else {
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
    }
    p.ssrc.type = ssrc_specific;
    p.ssrc.value = ssrc;
    p.key = (unsigned char *)key;
    p.window_size = 1024;
    return srtp_create(out, &p) == srtp_err_status_ok ? 0 : -EINVAL;
}

/* Gives each side a sending session and the other side the matching receiving one (keys of 30
 * bytes: AES-128 and a 14-byte salt; GCM uses the first 28). */
static int relay_call_keys(struct relay_call *c)
{
    enum relay_srtp suite = c->w->media->opts->srtp;
    uint8_t ka[SRTP_AES_ICM_128_KEY_LEN_WSALT];
    uint8_t kb[SRTP_AES_ICM_128_KEY_LEN_WSALT];

    if (random_bytes(ka, sizeof(ka)) < 0 || random_bytes(kb, sizeof(kb)) < 0 ||
        random_bytes(&c->a.t.ssrc, 4) < 0 || random_bytes(&c->b.t.ssrc, 4) < 0) {
        return -EIO;
    }
    if (relay_srtp_session(&c->a.tx, suite, ka, c->a.t.ssrc) < 0 ||
        relay_srtp_session(&c->b.rx, suite, ka, c->a.t.ssrc) < 0 ||
        relay_srtp_session(&c->b.tx, suite, kb, c->b.t.ssrc) < 0 ||
        relay_srtp_session(&c->a.rx, suite, kb, c->b.t.ssrc) < 0) {
        return -EINVAL;
    }
    return 0;
}

static void relay_on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len,
                          gchar *data, gpointer user)
{
    struct relay_side *s = user;
    struct relay_worker *w = s->call->w;
    uint8_t buf[RELAY_PKT_MAX + SRTP_MAX_TRAILER_LEN];
    int64_t now = relay_now_ns();

    (void)agent;
    (void)stream_id;
    (void)component_id;
    if (len <= sizeof(buf)) {
        memcpy(buf, data, len);
    }
    g_mutex_lock(&w->lock);
    relay_rtp_receive(s->rx, &s->rxstate, &w->stats, buf, len <= sizeof(buf) ? len : 0, now);
    g_mutex_unlock(&w->lock);
}

/* Sends this side's due packets through libnice; returns how many the agent took and adds the
 * slots it gave up to *skipped. */
static unsigned relay_side_pace(struct relay_side *s, uint64_t due, size_t packet_len,
                                uint64_t *skipped)
{
    uint8_t buf[RELAY_PKT_MAX + SRTP_MAX_TRAILER_LEN];
    unsigned n = relay_rtp_due(&s->t, due, skipped);
    unsigned sent = 0;

    for (unsigned i = 0; i < n; i++) {
        int len = relay_rtp_build(&s->t, s->tx, buf, packet_len, relay_now_ns());
        if (len > 0 &&
            nice_agent_send(s->agent, s->stream, 1, (guint)len, (const gchar *)buf) == len) {
            sent++;
        }
    }
    return sent;
}

void relay_call_tick(struct relay_call *c, int64_t now_ns, bool sending)
{
    const struct relay_media *m = c->w->media;
    uint64_t due;
    uint64_t skipped = 0;
    unsigned sent;

    if (c->state != RELAY_CALL_MEDIA) {
        if (c->state < RELAY_CALL_MEDIA && now_ns > c->deadline_ns) {
            relay_call_fail(c, c->state == RELAY_CALL_GATHER
                                   ? "no relayed candidate within 15 s (TURN allocation failed?)"
                                   : "ICE did not complete through the relay within 15 s");
        }
        return;
    }
    if (!sending) {
        return;
    }
    due = (uint64_t)((double)(now_ns - c->media_start_ns) * m->pps / 1e9) + 1;
    sent = relay_side_pace(&c->a, due, m->packet_len, &skipped) +
           relay_side_pace(&c->b, due, m->packet_len, &skipped);
    if (sent > 0 || skipped > 0) {
        g_mutex_lock(&c->w->lock);
        c->w->stats.sent += sent;
        c->w->stats.skipped += skipped;
        g_mutex_unlock(&c->w->lock);
    }
}

/* Gives to the ICE credentials and relayed candidates of from; returns how many. */
static int relay_give_candidates(struct relay_side *from, struct relay_side *to)
{
    GSList *all = nice_agent_get_local_candidates(from->agent, from->stream, 1);
    GSList *relayed = NULL;
    gchar *ufrag = NULL;
    gchar *pwd = NULL;
    int n = 0;

    for (GSList *it = all; it != NULL; it = it->next) {
        NiceCandidate *cand = it->data;
        if (cand->type == NICE_CANDIDATE_TYPE_RELAYED) {
            relayed = g_slist_append(relayed, nice_candidate_copy(cand));
            n++;
        }
    }
    if (n > 0 && (!nice_agent_get_local_credentials(from->agent, from->stream, &ufrag, &pwd) ||
                  !nice_agent_set_remote_credentials(to->agent, to->stream, ufrag, pwd) ||
                  nice_agent_set_remote_candidates(to->agent, to->stream, 1, relayed) < 1)) {
        n = -EINVAL;
    }
    g_free(ufrag);
    g_free(pwd);
    g_slist_free_full(relayed, (GDestroyNotify)nice_candidate_free);
    g_slist_free_full(all, (GDestroyNotify)nice_candidate_free);
    return n;
}

static void relay_on_gathered(NiceAgent *agent, guint stream_id, gpointer user)
{
    struct relay_side *s = user;
    struct relay_call *c = s->call;

    (void)agent;
    (void)stream_id;
    s->gathered = true;
    if (c->state != RELAY_CALL_GATHER || !c->a.gathered || !c->b.gathered) {
        return;
    }
    if (relay_give_candidates(&c->a, &c->b) <= 0 || relay_give_candidates(&c->b, &c->a) <= 0) {
        relay_call_fail(c, "no relayed candidate (TURN allocation refused or unanswered)");
        return;
    }
    c->state = RELAY_CALL_CONNECT;
}

/* Fills fs from side s: a dup of the base socket under its selected relayed candidate (found
 * among the agent's sockets by the candidate's base address) and the peer's relayed address. */
static int relay_side_take(struct relay_side *s, struct relay_fside *fs)
{
    NiceCandidate *local = NULL;
    NiceCandidate *remote = NULL;
    union vc_addr base = {0};
    GPtrArray *socks;
    int rc = -ENOENT;

    if (!nice_agent_get_selected_pair(s->agent, s->stream, 1, &local, &remote) ||
        local->type != NICE_CANDIDATE_TYPE_RELAYED ||
        local->transport != NICE_CANDIDATE_TRANSPORT_UDP) {
        return -ENOENT;
    }
    nice_address_copy_to_sockaddr(&local->base_addr, &base.sa);
    nice_address_copy_to_sockaddr(&remote->addr, &fs->peer.sa);
    socks = nice_agent_get_sockets(s->agent, s->stream, 1);
    for (guint i = 0; socks != NULL && i < socks->len && rc == -ENOENT; i++) {
        int fd = g_socket_get_fd(g_ptr_array_index(socks, i));
        union vc_addr la = {0};
        socklen_t len = sizeof(la);
        if (getsockname(fd, &la.sa, &len) == 0 && addr_equal(&la, &base)) {
            fs->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
            rc = fs->fd < 0 ? -errno : 0;
        }
    }
    if (socks != NULL) {
        g_ptr_array_unref(socks);
    }
    return rc;
}

/* Moves the call's media to the batched path: the sockets (libnice stops reading them: its
 * sources move to a context nobody runs), the SRTP sessions and the sequence state. libnice
 * keeps the agents, its timers (keepalives, TURN refreshes) and sends them on the same sockets. */
static void relay_call_handoff(struct relay_call *c)
{
    struct relay_fcall *fc = calloc(1, sizeof(*fc));
    struct relay_side *sides[2] = {&c->a, &c->b};

    if (fc == NULL) {
        relay_call_fail(c, "out of memory");
        return;
    }
    fc->s[0].fd = fc->s[1].fd = -1;
    if (relay_side_take(&c->a, &fc->s[0]) < 0 || relay_side_take(&c->b, &fc->s[1]) < 0) {
        for (int k = 0; k < 2; k++) {
            if (fc->s[k].fd >= 0) {
                close(fc->s[k].fd);
            }
        }
        free(fc);
        relay_call_fail(c, "batched path: no UDP relayed pair to take over from libnice");
        return;
    }
    for (int k = 0; k < 2; k++) {
        struct relay_side *s = sides[k];
        nice_agent_attach_recv(s->agent, s->stream, 1, NULL, NULL, NULL);
        fc->s[k].tx = s->tx;
        fc->s[k].rx = s->rx;
        fc->s[k].t = s->t;
        fc->s[k].rxstate = s->rxstate;
        s->tx = NULL;
        s->rx = NULL;
    }
    fc->media_start_ns = c->media_start_ns;
    c->state = RELAY_CALL_FAST;
    relay_fast_add(c->w->media->fast, fc);
}

static void relay_on_state(NiceAgent *agent, guint stream_id, guint component_id, guint state,
                           gpointer user)
{
    struct relay_side *s = user;
    struct relay_call *c = s->call;

    (void)agent;
    (void)stream_id;
    (void)component_id;
    if (state == NICE_COMPONENT_STATE_FAILED) {
        relay_call_fail(c, "ICE failed through the relay");
        return;
    }
    if (state != NICE_COMPONENT_STATE_READY) {
        return;
    }
    s->ready = true;
    if (c->state == RELAY_CALL_CONNECT && c->a.ready && c->b.ready) {
        c->state = RELAY_CALL_MEDIA;
        c->media_start_ns = relay_now_ns();
        g_mutex_lock(&c->w->lock);
        c->w->stats.calls_up++;
        g_mutex_unlock(&c->w->lock);
        if (c->w->media->fast != NULL) {
            relay_call_handoff(c);
        }
    }
}

static int relay_side_init(struct relay_call *c, struct relay_side *s, gboolean controlling)
{
    const struct relay_media *m = c->w->media;
    /* TLS goes through the bridge (relay_tls.c), which libnice reaches over TCP. */
    NiceRelayType type =
        m->opts->transport == RELAY_UDP ? NICE_RELAY_TYPE_TURN_UDP : NICE_RELAY_TYPE_TURN_TCP;
    NiceAddress local;
    char user[64];
    char pass[64];

    s->call = c;
    s->agent = nice_agent_new(c->w->ctx, NICE_COMPATIBILITY_RFC5245);
    if (s->agent == NULL) {
        return -ENOMEM;
    }
    g_object_set(s->agent, "controlling-mode", controlling, "ice-tcp", FALSE, "upnp", FALSE,
                 "force-relay", TRUE, NULL);
    nice_address_init(&local);
    if (!nice_address_set_from_string(&local, m->local_ip) ||
        !nice_agent_add_local_address(s->agent, &local)) {
        return -EINVAL;
    }
    g_signal_connect(s->agent, "candidate-gathering-done", G_CALLBACK(relay_on_gathered), s);
    g_signal_connect(s->agent, "component-state-changed", G_CALLBACK(relay_on_state), s);
    s->stream = nice_agent_add_stream(s->agent, 1);
    if (s->stream == 0 ||
        relay_rest_creds(m->opts, c->id * 2 + (controlling ? 1 : 2), user, pass) < 0) {
        return -ENOMEM;
    }
    if (!nice_agent_set_relay_info(s->agent, s->stream, 1, m->server_ip, m->server_port, user, pass,
                                   type)) {
        return -EINVAL;
    }
    nice_agent_attach_recv(s->agent, s->stream, 1, c->w->ctx, relay_on_recv, s);
    return nice_agent_gather_candidates(s->agent, s->stream) ? 0 : -EIO;
}

struct relay_call *relay_call_start(struct relay_worker *w, unsigned id)
{
    struct relay_call *c = g_new0(struct relay_call, 1);
    int rc;

    c->w = w;
    c->id = id;
    c->state = RELAY_CALL_GATHER;
    c->deadline_ns = relay_now_ns() + (int64_t)RELAY_SETUP_TIMEOUT_S * 1000000000;
    rc = relay_call_keys(c);
    if (rc == 0) {
        rc = relay_side_init(c, &c->a, TRUE);
    }
    if (rc == 0) {
        rc = relay_side_init(c, &c->b, FALSE);
    }
    if (rc < 0) {
        char why[96];
        snprintf(why, sizeof(why), "set-up failed: %s", g_strerror(-rc));
        relay_call_fail(c, why);
    }
    return c;
}

static void relay_side_free(struct relay_side *s)
{
    if (s->agent != NULL) {
        nice_agent_attach_recv(s->agent, s->stream, 1, s->call->w->ctx, NULL, NULL);
        /* Releases the TURN allocation (Refresh 0); the task holds the agent until done. */
        nice_agent_close_async(s->agent, NULL, NULL);
        g_object_unref(s->agent);
    }
    if (s->tx != NULL) {
        srtp_dealloc(s->tx);
    }
    if (s->rx != NULL) {
        srtp_dealloc(s->rx);
    }
}

void relay_call_free(struct relay_call *c)
{
    relay_side_free(&c->a);
    relay_side_free(&c->b);
    g_free(c);
}
