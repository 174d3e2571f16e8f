/* vc-load signal: the command line (one option table, checked before any I/O) and the run. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "load.h"
#include "signal_load.h"

enum sigload_opt_kind { OPT_STR, OPT_UINT, OPT_FLAG };

struct sigload_opt {
    const char *name;
    enum sigload_opt_kind kind;
    unsigned long min;
    unsigned long max;
    size_t off;
};

#define OFF(f) offsetof(struct sigload_opts, f)
static const struct sigload_opt sigload_opt_table[] = {
    {"--url", OPT_STR, 0, 0, OFF(url)},
    {"--api-key", OPT_STR, 0, 0, OFF(api_key)},
    {"--rooms", OPT_UINT, 1, SIGLOAD_MAX_ROOMS, OFF(rooms)},
    {"--duration", OPT_UINT, 1, 3600, OFF(duration_s)},
    {"--rate", OPT_UINT, 1, 10000, OFF(rate)},
    {"--join-rate", OPT_UINT, 0, 100000, OFF(join_rate)},
    {"--max-pending", OPT_UINT, 1, 100000, OFF(max_pending)},
    {"--setup-timeout", OPT_UINT, 1, 3600, OFF(setup_timeout_s)},
    {"--protocol", OPT_STR, 0, 0, 0},
    {"--peerjs-key", OPT_STR, 0, 0, OFF(peerjs_key)},
    {"--origin", OPT_STR, 0, 0, OFF(origin)},
    {"--json", OPT_STR, 0, 0, OFF(json_path)},
    {"--server-pid", OPT_UINT, 1, 4194304, OFF(server_pid)},
    {"--ca", OPT_STR, 0, 0, OFF(ca_file)},
    {"--insecure", OPT_FLAG, 0, 0, OFF(insecure)},
    {"--keep-rooms", OPT_FLAG, 0, 0, OFF(keep_rooms)},
};

static void sigload_usage(FILE *out)
{
    fputs("usage: vc-load signal --url https://HOST:PORT --api-key K [options]\n"
          "Signalling load over WSS. vc: creates rooms (POST /api/v1/rooms, lobby on), joins a\n"
          "host and a guest to each over /ws (vc.v1), the host admits the guest's knock, then\n"
          "both exchange offer, answer and candidate `signal` messages at a steady rate.\n"
          "peerjs: pairs of PeerJS clients on /peerjs exchange OFFER, ANSWER and CANDIDATE.\n"
          "  --url https://HOST:PORT the server (required)\n"
          "  --api-key K             vc-signal API key (required for vc)\n"
          "  --protocol vc|peerjs    the server's protocol (default vc)\n"
          "  --rooms N               rooms, two clients each (default 10, max 50000)\n"
          "  --duration S            measured seconds after set-up (default 10)\n"
          "  --rate R                signals per second per room (default 10)\n"
          "  --join-rate N           rooms started per second during set-up (default: as fast\n"
          "                          as --max-pending allows)\n"
          "  --max-pending N         rooms being set up at once (default 200)\n"
          "  --setup-timeout S       bound on the set-up phase (default 60)\n"
          "  --server-pid PID        sample the server's CPU time and RSS from /proc\n"
          "  --json F                write the results as JSON\n"
          "  --ca FILE               CA for the server's certificate (default certs/ca.crt)\n"
          "  --insecure              do not verify the server's certificate\n"
          "  --origin O              Origin for vc.v1 (default: the URL's origin)\n"
          "  --peerjs-key K          PeerJS key (default peerjs)\n"
          "  --keep-rooms            do not DELETE the rooms at the end\n"
          "Join latency: vc, the guest's join sent -> its joined (lobby knock and admit\n"
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

static int sigload_opt_set(struct sigload_opts *o, const struct sigload_opt *d, const char *val)
{
    char *end;
    unsigned long v;

    if (strcmp(d->name, "--protocol") == 0) {
        if (strcmp(val, "vc") == 0) {
            o->protocol = SIGLOAD_VC;
        } else if (strcmp(val, "peerjs") == 0) {
            o->protocol = SIGLOAD_PEERJS;
        } else {
            return sigload_bad(d->name, val, "want vc or peerjs");
        }
        return 0;
    }
    if (d->kind == OPT_STR) {
        if (val[0] == '\0' || strpbrk(val, "\r\n") != NULL) {
            return sigload_bad(d->name, val, "empty or contains a line break");
        }
        *(const char **)((char *)o + d->off) = val;
        return 0;
    }
    errno = 0;
    v = strtoul(val, &end, 10);
    if (val[0] == '-' || end == val || *end != '\0' || errno != 0 || v < d->min || v > d->max) {
        char why[64];
        snprintf(why, sizeof(why), "want a whole number in %lu..%lu", d->min, d->max);
        return sigload_bad(d->name, val, why);
    }
    *(unsigned *)((char *)o + d->off) = (unsigned)v;
    return 0;
}

/* Returns 0, 1 when --help was given, or -EINVAL (already explained on stderr). */
static int sigload_parse(int argc, char **argv, struct sigload_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->rooms = 10;
    o->duration_s = 10;
    o->rate = 10;
    o->max_pending = 200;
    o->setup_timeout_s = 60;
    o->ca_file = "certs/ca.crt";
    o->peerjs_key = "peerjs";
    for (int i = 1; i < argc; i++) {
        const struct sigload_opt *d = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return 1;
        }
        for (size_t k = 0; k < sizeof(sigload_opt_table) / sizeof(sigload_opt_table[0]); k++) {
            if (strcmp(argv[i], sigload_opt_table[k].name) == 0) {
                d = &sigload_opt_table[k];
                break;
            }
        }
        if (d == NULL) {
            return sigload_bad(argv[i], NULL, "unknown option");
        }
        if (d->kind == OPT_FLAG) {
            *(int *)((char *)o + d->off) = 1;
            continue;
        }
        if (i + 1 >= argc) {
            return sigload_bad(d->name, NULL, "needs a value");
        }
        if (sigload_opt_set(o, d, argv[++i]) < 0) {
            return -EINVAL;
        }
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

int load_signal_main(int argc, char **argv)
{
    struct sigload_opts o;
    struct sigload_target t;
    struct sigload_result r;
    char err[512];
    int rc;

    rc = sigload_parse(argc, argv, &o);
    if (rc == 1) {
        sigload_usage(stdout);
        return 0;
    }
    if (rc < 0) {
        return 2;
    }
    if (sigload_target_parse(o.url, &t, err, sizeof(err)) < 0) {
        fprintf(stderr, "vc-load signal: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    sigload_raise_nofile(o.rooms);
    if (sigload_target_resolve(&t, err, sizeof(err)) < 0) {
        fprintf(stderr, "vc-load signal: %s\n", err);
        return 1;
    }
    memset(&r, 0, sizeof(r));
    r.protocol = o.protocol == SIGLOAD_VC ? "vc" : "peerjs";
    r.rooms = o.rooms;
    sigload_lat_init(&r.join);
    sigload_lat_init(&r.connect);
    sigload_lat_init(&r.relay);
    rc = sigload_run(&o, &t, &r, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "vc-load signal: %s\n", err);
        rc = 1;
    } else {
        sigload_report_print(&r, stdout);
        if (o.json_path != NULL && sigload_report_json(&r, o.json_path) < 0) {
            fprintf(stderr, "vc-load signal: cannot write %s\n", o.json_path);
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
