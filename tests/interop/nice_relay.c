/* Two libnice ICE agents that must connect through a TURN relay only and trade messages both ways.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <agent.h>
#include <glib.h>

#define NR_MAX_MSGS 10000
#define NR_MSG_LEN 200
#define NR_BURST 10

struct nr_opts {
    const char *server_ip;
    guint server_port;
    const char *user;
    const char *pass;
    gboolean tcp;
    guint count;
    guint timeout_s;
};

struct nr_run;

/* One side of the call: an agent with one stream of one component. */
struct nr_peer {
    char name;
    NiceAgent *agent;
    guint stream;
    gboolean gathered;
    gboolean ready;
    gboolean failed;
    guint sent;
    guint received;
    guint duplicates;
    guint foreign;
    guint8 seen[NR_MAX_MSGS];
    struct nr_run *run;
};

enum nr_phase { NR_GATHER, NR_CONNECT, NR_DATA };

struct nr_run {
    struct nr_opts opts;
    GMainLoop *loop;
    enum nr_phase phase;
    gboolean timed_out;
    struct nr_peer a;
    struct nr_peer b;
    const char *prefix;
    int passed;
    int failed;
};

static void nr_result(struct nr_run *run, gboolean good, const char *name, const char *why)
{
    if (good) {
        printf("ok %s_%s\n", run->prefix, name);
        run->passed++;
    } else {
        printf("FAIL %s_%s (%s)\n", run->prefix, name, why);
        run->failed++;
    }
    fflush(stdout);
}

static gboolean nr_phase_done(const struct nr_run *run)
{
    switch (run->phase) {
    case NR_GATHER:
        return run->a.gathered && run->b.gathered;
    case NR_CONNECT:
        return (run->a.ready && run->b.ready) || run->a.failed || run->b.failed;
    case NR_DATA:
        return run->a.received == run->opts.count && run->b.received == run->opts.count;
    }
    return TRUE;
}

static void nr_maybe_quit(struct nr_run *run)
{
    if (nr_phase_done(run)) {
        g_main_loop_quit(run->loop);
    }
}

static gboolean nr_on_timeout(gpointer data)
{
    struct nr_run *run = data;

    run->timed_out = TRUE;
    g_main_loop_quit(run->loop);
    return G_SOURCE_REMOVE;
}

/* Runs the loop until the current phase is done or seconds pass; returns 0 or -ETIMEDOUT. */
static int nr_run_phase(struct nr_run *run, enum nr_phase phase, guint seconds)
{
    guint timer;

    run->phase = phase;
    run->timed_out = FALSE;
    if (nr_phase_done(run)) {
        return 0;
    }
    timer = g_timeout_add_seconds(seconds, nr_on_timeout, run);
    g_main_loop_run(run->loop);
    if (!run->timed_out) {
        g_source_remove(timer);
    }
    return nr_phase_done(run) ? 0 : -ETIMEDOUT;
}

static void nr_on_gathering_done(NiceAgent *agent, guint stream_id, gpointer data)
{
    struct nr_peer *peer = data;

    (void)agent;
    (void)stream_id;
    peer->gathered = TRUE;
    nr_maybe_quit(peer->run);
}

static void nr_on_state_changed(NiceAgent *agent, guint stream_id, guint component_id, guint state,
                                gpointer data)
{
    struct nr_peer *peer = data;

    (void)agent;
    (void)stream_id;
    (void)component_id;
    if (state == NICE_COMPONENT_STATE_READY) {
        peer->ready = TRUE;
    } else if (state == NICE_COMPONENT_STATE_FAILED) {
        peer->failed = TRUE;
    }
    nr_maybe_quit(peer->run);
}

/* Parses "nice-relay X->Y #NNNNN" at the start of (buf, len); returns the index or -EBADMSG. */
static int nr_parse_msg(const char *buf, size_t len, char from)
{
    static const char head[] = "nice-relay ";
    size_t pos = sizeof(head) - 1;
    int index = 0;
    size_t i;

    if (len != NR_MSG_LEN || memcmp(buf, head, pos) != 0 || buf[pos] != from ||
        memcmp(buf + pos + 1, "->", 2) != 0 || buf[pos + 4] != ' ' || buf[pos + 5] != '#') {
        return -EBADMSG;
    }
    for (i = pos + 6; i < pos + 11; i++) {
        if (buf[i] < '0' || buf[i] > '9') {
            return -EBADMSG;
        }
        index = index * 10 + (buf[i] - '0');
    }
    return index;
}

static void nr_on_recv(NiceAgent *agent, guint stream_id, guint component_id, guint len, gchar *buf,
                       gpointer data)
{
    struct nr_peer *peer = data;
    char from = peer->name == 'A' ? 'B' : 'A';
    int index;

    (void)agent;
    (void)stream_id;
    (void)component_id;
    index = nr_parse_msg(buf, len, from);
    if (index < 0 || (guint)index >= peer->run->opts.count) {
        peer->foreign++;
        return;
    }
    if (peer->seen[index]) {
        peer->duplicates++;
        return;
    }
    peer->seen[index] = 1;
    peer->received++;
    nr_maybe_quit(peer->run);
}

/* Sends the next burst of this peer's messages; returns how many are still to send. */
static guint nr_send_burst(struct nr_peer *peer)
{
    char msg[NR_MSG_LEN];
    char to = peer->name == 'A' ? 'B' : 'A';
    int i;

    for (i = 0; i < NR_BURST && peer->sent < peer->run->opts.count; i++) {
        memset(msg, '.', sizeof(msg));
        snprintf(msg, sizeof(msg), "nice-relay %c->%c #%05u ", peer->name, to, peer->sent);
        if (nice_agent_send(peer->agent, peer->stream, 1, sizeof(msg), msg) != sizeof(msg)) {
            break; /* would block: retry on the next tick */
        }
        peer->sent++;
    }
    return peer->run->opts.count - peer->sent;
}

static gboolean nr_on_send_tick(gpointer data)
{
    struct nr_run *run = data;
    guint left = nr_send_burst(&run->a) + nr_send_burst(&run->b);

    return left > 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static int nr_peer_init(struct nr_run *run, struct nr_peer *peer, char name, gboolean controlling)
{
    NiceAddress local;
    NiceRelayType type = run->opts.tcp ? NICE_RELAY_TYPE_TURN_TCP : NICE_RELAY_TYPE_TURN_UDP;

    peer->name = name;
    peer->run = run;
    peer->agent = nice_agent_new(g_main_loop_get_context(run->loop), NICE_COMPATIBILITY_RFC5245);
    if (peer->agent == NULL) {
        return -ENOMEM;
    }
    g_object_set(peer->agent, "controlling-mode", controlling, "ice-tcp", FALSE, "ice-udp", TRUE,
                 "upnp", FALSE, "force-relay", TRUE, NULL);
    /* Host candidates on loopback only, so no packet ever leaves the machine. */
    nice_address_init(&local);
    if (!nice_address_set_from_string(&local, "127.0.0.1") ||
        !nice_agent_add_local_address(peer->agent, &local)) {
        return -EINVAL;
    }
    g_signal_connect(peer->agent, "candidate-gathering-done", G_CALLBACK(nr_on_gathering_done),
                     peer);
    g_signal_connect(peer->agent, "component-state-changed", G_CALLBACK(nr_on_state_changed), peer);
    peer->stream = nice_agent_add_stream(peer->agent, 1);
    if (peer->stream == 0) {
        return -ENOMEM;
    }
    if (!nice_agent_set_relay_info(peer->agent, peer->stream, 1, run->opts.server_ip,
                                   run->opts.server_port, run->opts.user, run->opts.pass, type)) {
        return -EINVAL;
    }
    nice_agent_attach_recv(peer->agent, peer->stream, 1, g_main_loop_get_context(run->loop),
                           nr_on_recv, peer);
    if (!nice_agent_gather_candidates(peer->agent, peer->stream)) {
        return -EIO;
    }
    return 0;
}

/* Returns the relayed candidates of from (owned by the caller, free with g_slist_free_full). */
static GSList *nr_relayed_candidates(struct nr_peer *from)
{
    GSList *all = nice_agent_get_local_candidates(from->agent, from->stream, 1);
    GSList *relayed = NULL;
    GSList *it;

    for (it = all; it != NULL; it = it->next) {
        NiceCandidate *cand = it->data;
        if (cand->type == NICE_CANDIDATE_TYPE_RELAYED) {
            relayed = g_slist_append(relayed, nice_candidate_copy(cand));
        }
    }
    g_slist_free_full(all, (GDestroyNotify)nice_candidate_free);
    return relayed;
}

/* Gives to the credentials and the relayed candidates of from; returns how many were given. */
static int nr_give_candidates(struct nr_peer *from, struct nr_peer *to)
{
    gchar *ufrag = NULL;
    gchar *pwd = NULL;
    GSList *relayed = nr_relayed_candidates(from);
    int n = (int)g_slist_length(relayed);

    if (!nice_agent_get_local_credentials(from->agent, from->stream, &ufrag, &pwd) ||
        !nice_agent_set_remote_credentials(to->agent, to->stream, ufrag, pwd)) {
        n = -EINVAL;
    } else if (n > 0 && nice_agent_set_remote_candidates(to->agent, to->stream, 1, relayed) < 1) {
        n = -EINVAL;
    }
    g_free(ufrag);
    g_free(pwd);
    g_slist_free_full(relayed, (GDestroyNotify)nice_candidate_free);
    return n;
}

static void nr_check_selected_pair(struct nr_run *run, struct nr_peer *peer)
{
    NiceCandidate *local = NULL;
    NiceCandidate *remote = NULL;
    char name[64];
    char why[128];
    gboolean good = FALSE;

    snprintf(name, sizeof(name), "selected_pair_is_relay_%c", peer->name);
    snprintf(why, sizeof(why), "no selected pair");
    if (nice_agent_get_selected_pair(peer->agent, peer->stream, 1, &local, &remote)) {
        good = local->type == NICE_CANDIDATE_TYPE_RELAYED &&
               remote->type == NICE_CANDIDATE_TYPE_RELAYED;
        snprintf(why, sizeof(why), "local type %d, remote type %d (relayed is %d)", local->type,
                 remote->type, NICE_CANDIDATE_TYPE_RELAYED);
    }
    nr_result(run, good, name, why);
}

static void nr_check_delivery(struct nr_run *run, struct nr_peer *to)
{
    char name[64];
    char why[160];
    char from = to->name == 'A' ? 'B' : 'A';

    snprintf(name, sizeof(name), "all_messages_%c_to_%c", from, to->name);
    snprintf(why, sizeof(why), "received %u of %u, %u duplicates, %u foreign", to->received,
             run->opts.count, to->duplicates, to->foreign);
    nr_result(run, to->received == run->opts.count && to->duplicates == 0 && to->foreign == 0, name,
              why);
}

static int nr_parse_uint(const char *text, guint min, guint max, guint *out)
{
    char *end = NULL;
    long value;

    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || value < (long)min || value > (long)max) {
        return -EINVAL;
    }
    *out = (guint)value;
    return 0;
}

static int nr_parse_server(char *arg, struct nr_opts *opts)
{
    char *colon = strrchr(arg, ':');

    if (colon == NULL) {
        return -EINVAL;
    }
    *colon = '\0';
    opts->server_ip = arg;
    return nr_parse_uint(colon + 1, 1, 65535, &opts->server_port);
}

static int nr_parse_args(int argc, char **argv, struct nr_opts *opts)
{
    int i;

    opts->count = 100;
    opts->timeout_s = 15;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;

        if (strcmp(arg, "--tcp") == 0) {
            opts->tcp = TRUE;
            continue;
        }
        if (val == NULL) {
            return -EINVAL;
        }
        i++;
        if (strcmp(arg, "--server") == 0) {
            rc = nr_parse_server(argv[i], opts);
        } else if (strcmp(arg, "--user") == 0) {
            opts->user = val;
        } else if (strcmp(arg, "--pass") == 0) {
            opts->pass = val;
        } else if (strcmp(arg, "--count") == 0) {
            rc = nr_parse_uint(val, 1, NR_MAX_MSGS, &opts->count);
        } else if (strcmp(arg, "--timeout") == 0) {
            rc = nr_parse_uint(val, 1, 600, &opts->timeout_s);
        } else {
            rc = -EINVAL;
        }
        if (rc < 0) {
            return rc;
        }
    }
    return opts->server_ip && opts->user && opts->pass ? 0 : -EINVAL;
}

static void nr_exchange_and_connect(struct nr_run *run)
{
    int na = nr_give_candidates(&run->a, &run->b);
    int nb = nr_give_candidates(&run->b, &run->a);
    char why[128];

    snprintf(why, sizeof(why), "agent A has %d, agent B has %d relayed candidates", na, nb);
    nr_result(run, na > 0 && nb > 0, "relayed_candidates_gathered", why);
    if (na <= 0 || nb <= 0) {
        return;
    }
    if (nr_run_phase(run, NR_CONNECT, run->opts.timeout_s) < 0 || !run->a.ready || !run->b.ready) {
        snprintf(why, sizeof(why), "not READY within %u s: A %s, B %s", run->opts.timeout_s,
                 run->a.ready    ? "ready"
                 : run->a.failed ? "failed"
                                 : "pending",
                 run->b.ready    ? "ready"
                 : run->b.failed ? "failed"
                                 : "pending");
        nr_result(run, FALSE, "ice_ready_both_agents", why);
        return;
    }
    nr_result(run, TRUE, "ice_ready_both_agents", "");
    nr_check_selected_pair(run, &run->a);
    nr_check_selected_pair(run, &run->b);

    g_timeout_add(5, nr_on_send_tick, run);
    (void)nr_run_phase(run, NR_DATA, run->opts.timeout_s);
    nr_check_delivery(run, &run->b);
    nr_check_delivery(run, &run->a);
}

int main(int argc, char **argv)
{
    struct nr_run *run = g_new0(struct nr_run, 1);
    char why[128];
    int rc;

    if (nr_parse_args(argc, argv, &run->opts) < 0) {
        fprintf(stderr,
                "usage: %s --server IP:PORT --user U --pass P [--tcp] [--count N] "
                "[--timeout S]\n",
                argv[0]);
        return 2;
    }
    alarm(4 * run->opts.timeout_s + 10); /* backstop: never hang, whatever libnice does */
    run->prefix = run->opts.tcp ? "nice_turn_tcp" : "nice_turn_udp";
    run->loop = g_main_loop_new(NULL, FALSE);
    rc = nr_peer_init(run, &run->a, 'A', TRUE);
    if (rc == 0) {
        rc = nr_peer_init(run, &run->b, 'B', FALSE);
    }
    snprintf(why, sizeof(why), "agent set-up failed: %s", g_strerror(-rc));
    nr_result(run, rc == 0, "agents_created", why);
    if (rc == 0) {
        rc = nr_run_phase(run, NR_GATHER, run->opts.timeout_s);
        snprintf(why, sizeof(why), "gathering not done within %u s", run->opts.timeout_s);
        nr_result(run, rc == 0, "gathering_done", why);
        nr_exchange_and_connect(run);
    }

    printf("%d passed, %d failed\n", run->passed, run->failed);
    if (run->a.agent != NULL) {
        g_object_unref(run->a.agent);
    }
    if (run->b.agent != NULL) {
        g_object_unref(run->b.agent);
    }
    g_main_loop_unref(run->loop);
    rc = run->failed == 0 ? 0 : 1;
    g_free(run);
    return rc;
}
