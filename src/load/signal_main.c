/* vc-load signal: the command line (one cfg_load() table, checked before any I/O) and the run. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "vc/config.h"
#include "load.h"
#include "signal_load.h"

/* What cfg_load() fills; struct sigload_opts borrows its strings. */
struct sigload_cfg {
    char *url, *api_key, *protocol, *peerjs_key, *origin, *json, *ca;
    long long rooms, duration, rate, join_rate, max_pending, setup_timeout, server_pid;
    bool insecure, keep_rooms;
};

/* Strings go into HTTP headers and URLs: one non-empty line. */
static int sigload_check_line(const char *v)
{
    return v[0] == '\0' || strpbrk(v, "\r\n") != NULL ? -EINVAL : 0;
}

#define OPT(k, t, lo, hi, d, f, arg, help)                                                         \
    {                                                                                              \
        k, t, lo, hi, d, offsetof(struct sigload_cfg, f), help,                                    \
            t == CFG_STR ? sigload_check_line : NULL, arg                                          \
    }
static const struct cfg_option sigload_options[] = {
    OPT("url", CFG_STR, 0, 0, NULL, url, "https://HOST:PORT", "the server (required)"),
    OPT("api-key", CFG_STR, 0, 0, NULL, api_key, "K", "vc-signal API key (required for vc)"),
    OPT("protocol", CFG_STR, 0, 0, "vc", protocol, "vc|peerjs", "the server's protocol"),
    OPT("rooms", CFG_INT, 1, SIGLOAD_MAX_ROOMS, "10", rooms, "N",
        "rooms, two clients each (max 50000)"),
    OPT("duration", CFG_INT, 1, 3600, "10", duration, "S", "measured seconds after set-up"),
    OPT("rate", CFG_INT, 1, 10000, "10", rate, "R", "signals per second per room"),
    OPT("join-rate", CFG_INT, 0, 100000, "0", join_rate, "N",
        "rooms started per second during set-up (0: as fast as --max-pending allows)"),
    OPT("max-pending", CFG_INT, 1, 100000, "200", max_pending, "N", "rooms being set up at once"),
    OPT("setup-timeout", CFG_INT, 1, 3600, "60", setup_timeout, "S",
        "bound on the set-up phase, seconds"),
    OPT("server-pid", CFG_INT, 1, 4194304, NULL, server_pid, "PID",
        "sample the server's CPU time and RSS from /proc"),
    OPT("json", CFG_STR, 0, 0, NULL, json, "F", "write the results as JSON"),
    OPT("ca", CFG_STR, 0, 0, "certs/ca.crt", ca, "FILE", "CA for the server's certificate"),
    OPT("insecure", CFG_BOOL, 0, 1, NULL, insecure, NULL, "do not verify the server's certificate"),
    OPT("origin", CFG_STR, 0, 0, NULL, origin, "O", "Origin for vc.v1 (default: the URL's origin)"),
    OPT("peerjs-key", CFG_STR, 0, 0, "peerjs", peerjs_key, "K", "PeerJS key (default: peerjs)"),
    OPT("keep-rooms", CFG_BOOL, 0, 1, NULL, keep_rooms, NULL, "do not DELETE the rooms at the end"),
};
#define SIGLOAD_NOPTS (sizeof(sigload_options) / sizeof(sigload_options[0]))

static void sigload_usage(FILE *out)
{
    fputs("usage: vc-load signal --url https://HOST:PORT --api-key K [options]\n"
          "Signalling load over WSS. vc: creates rooms (POST /api/v1/rooms, lobby on), joins a\n"
          "host and a guest to each over /ws (vc.v1), the host admits the guest's knock, then\n"
          "both exchange offer, answer and candidate `signal` messages at a steady rate.\n"
          "peerjs: pairs of PeerJS clients on /peerjs exchange OFFER, ANSWER and CANDIDATE.\n\n",
          out);
    cfg_print_help(sigload_options, SIGLOAD_NOPTS, out);
    fputs("\nJoin latency: vc, the guest's join sent -> its joined (lobby knock and admit\n"
          "included); peerjs, connect started -> OPEN. messages_per_s counts signals received by\n"
          "the other side inside the window; server figures come from --server-pid: CPU seconds\n"
          "in the window and RSS growth per connection once every client is connected.\n"
          "Exit status: 0 measured; 1 the server is unreachable or refusing, or no room had\n"
          "both clients joined (at the start or at the end); 2 bad arguments.\n",
          out);
}

static int sigload_bad(const char *name, const char *val, const char *why)
{
    fprintf(stderr, "vc-load signal: %s%s%s: %s (see vc-load signal --help)\n", name,
            val ? " " : "", val ? val : "", why);
    return -EINVAL;
}

/* Fills o, which borrows c's strings, and checks what cfg_load() cannot: the protocol, the
 * options it requires, the PeerJS key's characters. */
static int sigload_opts_from(struct sigload_opts *o, const struct sigload_cfg *c)
{
    *o = (struct sigload_opts){
        .url = c->url,
        .api_key = c->api_key,
        .ca_file = c->ca,
        .json_path = c->json,
        .peerjs_key = c->peerjs_key,
        .origin = c->origin,
        .rooms = c->rooms,
        .duration_s = c->duration,
        .rate = c->rate,
        .join_rate = c->join_rate,
        .max_pending = c->max_pending,
        .setup_timeout_s = c->setup_timeout,
        .server_pid = c->server_pid,
        .insecure = c->insecure,
        .keep_rooms = c->keep_rooms,
    };
    if (strcmp(c->protocol, "vc") == 0) {
        o->protocol = SIGLOAD_VC;
    } else if (strcmp(c->protocol, "peerjs") == 0) {
        o->protocol = SIGLOAD_PEERJS;
    } else {
        return sigload_bad("--protocol", c->protocol, "want vc or peerjs");
    }
    if (o->url == NULL) {
        return sigload_bad("--url", NULL, "is required");
    }
    if (o->protocol == SIGLOAD_VC && o->api_key == NULL) {
        return sigload_bad("--api-key", NULL, "is required with --protocol vc");
    }
    if (strpbrk(o->peerjs_key, "&#? ") != NULL) {
        return sigload_bad("--peerjs-key", o->peerjs_key, "must not contain & # ? or spaces");
    }
    return 0;
}

/* Returns 0 (free c with cfg_free()), 1 when --help or --man-options was printed, or -EINVAL
 * (already explained on stderr). */
static int sigload_parse(int argc, char **argv, struct sigload_cfg *c, struct sigload_opts *o)
{
    char err[256];

    switch (cfg_asked(argc, argv)) {
    case CFG_ASK_HELP:
        sigload_usage(stdout);
        return 1;
    case CFG_ASK_MAN:
        cfg_print_man(sigload_options, SIGLOAD_NOPTS, stdout);
        return 1;
    case CFG_ASK_NONE:
        break;
    }
    if (cfg_load(sigload_options, SIGLOAD_NOPTS, c, argc, argv, err, sizeof(err)) < 0) {
        fprintf(stderr, "vc-load signal: %s (see vc-load signal --help)\n", err);
        return -EINVAL;
    }
    if (sigload_opts_from(o, c) < 0) {
        cfg_free(sigload_options, SIGLOAD_NOPTS, c);
        return -EINVAL;
    }
    return 0;
}

/* Room for every client socket plus the libraries' own. Root may raise the hard limit too. */
static void sigload_raise_nofile(unsigned rooms)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)rooms * 2 + 512;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want) {
        return;
    }
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        struct rlimit both = {want, want};
        if (setrlimit(RLIMIT_NOFILE, &both) == 0) {
            return;
        }
    }
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want) {
        fprintf(stderr, "vc-load signal: warning: open files limited to %lu; %u rooms need %lu\n",
                (unsigned long)rl.rlim_cur, rooms, (unsigned long)want);
    }
}

/* Runs the load and reports; returns the exit status. */
static int sigload_main_run(const struct sigload_opts *o)
{
    struct sigload_target t;
    struct sigload_result r;
    char err[512];
    int rc;

    if (sigload_target_parse(o->url, &t, err, sizeof(err)) < 0) {
        fprintf(stderr, "vc-load signal: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sigload_raise_nofile(o->rooms);
    if (sigload_target_resolve(&t, err, sizeof(err)) < 0) {
        fprintf(stderr, "vc-load signal: %s\n", err);
        return 1;
    }
    memset(&r, 0, sizeof(r));
    r.protocol = o->protocol == SIGLOAD_VC ? "vc" : "peerjs";
    r.rooms = o->rooms;
    sigload_lat_init(&r.join);
    sigload_lat_init(&r.connect);
    sigload_lat_init(&r.relay);
    rc = sigload_run(o, &t, &r, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "vc-load signal: %s\n", err);
        rc = 1;
    } else {
        sigload_report_print(&r, stdout);
        if (o->json_path != NULL && sigload_report_json(&r, o->json_path) < 0) {
            fprintf(stderr, "vc-load signal: cannot write %s\n", o->json_path);
            rc = 1;
        }
        if (r.rooms_active == 0) {
            fprintf(stderr, "vc-load signal: no room still had both clients at the end (%s)\n",
                    r.first_error[0] ? r.first_error : "see the errors above");
            rc = 1;
        }
    }
    sigload_lat_free(&r.join);
    sigload_lat_free(&r.connect);
    sigload_lat_free(&r.relay);
    return rc;
}

int load_signal_main(int argc, char **argv)
{
    struct sigload_cfg c;
    struct sigload_opts o;
    int rc = sigload_parse(argc, argv, &c, &o);

    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    rc = sigload_main_run(&o);
    cfg_free(sigload_options, SIGLOAD_NOPTS, &c);
    return rc;
}
