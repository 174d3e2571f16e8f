/* Command line of `vc-load relay`: one cfg_load() table, parsed once, checked before any I/O. */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vc/config.h"
#include "relay.h"

#define RELAY_START_PAST_S 5
#define RELAY_START_AHEAD_S 86400

/* What cfg_load() fills; relay_opts_parse() turns it into struct relay_opts. */
struct relay_cfg {
    char *server, *secret, *transport, *profile, *realm, *json, *csv, *plot, *srtp;
    long long calls, duration, ramp, server_pid, threads, media_threads, window, size, start_at;
    double max_loss, max_p99; /* NaN when not given */
};

#define OPT(k, t, lo, hi, d, f, arg, help)                                                         \
    {                                                                                              \
        k, t, lo, hi, d, offsetof(struct relay_cfg, f), help, NULL, arg                            \
    }
/* --calls and --duration have no default here (0: not given) because theirs depend on --ramp. */
static const struct cfg_option relay_options[] = {
    OPT("server", CFG_STR, 0, 0, NULL, server, "HOST:PORT", "the TURN server (required)"),
    OPT("secret", CFG_STR, 0, 0, NULL, secret, "S", "the REST API shared secret (required)"),
    OPT("transport", CFG_STR, 0, 0, "udp", transport, "udp|tcp|tls", "client-to-server transport"),
    OPT("profile", CFG_STR, 0, 0, "audio", profile, "P",
        "audio: 50 pps x 160 B; video: ~1.5 Mbit/s in 1,100 B packets; flood: raw ChannelData on "
        "our own UDP sockets as fast as the relay carries it (no libnice, no SRTP; udp only)"),
    OPT("srtp", CFG_STR, 0, 0, "aead_aes_128_gcm", srtp, "SUITE",
        "aead_aes_128_gcm (what two browsers negotiate) or aes_cm_128_hmac_sha1_80; the "
        "latter costs vc-load 3x the CPU with Debian's libsrtp2 (NSS)"),
    OPT("calls", CFG_INT, 1, RELAY_MAX_CALLS, NULL, calls, "N",
        "concurrent calls, or flood pairs (default 10, max 5000; with --ramp: the ceiling)"),
    OPT("duration", CFG_INT, 1, 3600, NULL, duration, "S",
        "measured seconds (default 10; with --ramp: the overall cap, default 300)"),
    OPT("ramp", CFG_INT, 1, 1000, NULL, ramp, "STEP",
        "add STEP calls every 5 s until loss passes --max-loss"),
    OPT("max-loss", CFG_DOUBLE, 0, 100, NULL, max_loss, "PCT",
        "loss limit for --ramp (required with it)"),
    OPT("max-p99-ms", CFG_DOUBLE, 1, 60000, NULL, max_p99, "MS",
        "with --ramp, a step also fails when its one-way p99 delay passes MS (queued media: the "
        "calls are no longer usable)"),
    OPT("json", CFG_STR, 0, 0, NULL, json, "F", "write the results as JSON"),
    OPT("csv", CFG_STR, 0, 0, NULL, csv, "F",
        "write the results as CSV: one row per second, or per ramp step"),
    OPT("plot", CFG_STR, 0, 0, NULL, plot, "F.png",
        "gnuplot chart of loss, latency and server CPU"),
    OPT("server-pid", CFG_INT, 1, 4194304, NULL, server_pid, "PID",
        "sample the server's CPU time and RSS from /proc"),
    OPT("realm", CFG_STR, 0, 0, NULL, realm, "R",
        "expected realm (warns when the server's differs)"),
    OPT("threads", CFG_INT, 1, 16, "2", threads, "N",
        "libnice worker threads: ICE and TURN set-up (and the media over tcp and tls)"),
    OPT("media-threads", CFG_INT, 0, 16, "0", media_threads, "N",
        "udp: threads of the batched media path that calls move to once ICE completes "
        "(sendmmsg/recvmmsg on the nominated sockets, SRTP kept); 0: one per CPU vc-load may "
        "run on, at most 4"),
    OPT("start-at", CFG_INT, 1, 253402300799LL, NULL, start_at, "UNIX_TIME",
        "start the calls at this wall-clock second (several load machines together); at most a "
        "few seconds past and a day ahead"),
    OPT("window", CFG_INT, 1, 65536, "256", window, "N", "flood: packets in flight per direction"),
    OPT("size", CFG_INT, 16, 1400, "160", size, "B", "flood: payload bytes per packet"),
};
#define RELAY_NOPTS (sizeof(relay_options) / sizeof(relay_options[0]))

/* Indexed by enum relay_transport and enum relay_profile. */
static const char *const relay_transports[] = {"udp", "tcp", "tls"};
static const char *const relay_profiles[] = {"audio", "video", "flood"};
static const char *const relay_srtps[] = {"aead_aes_128_gcm", "aes_cm_128_hmac_sha1_80", NULL};

void relay_opts_usage(FILE *out)
{
    fputs("usage: vc-load relay --server HOST:PORT --secret S [options]\n"
          "Simulated calls through a TURN server using REST credentials (any standard server).\n"
          "Each call is two libnice agents with relay-only candidates; after ICE they send SRTP\n"
          "(--srtp) both ways; receivers authenticate every packet and measure\n"
          "loss, RFC 3550 jitter and one-way delay (p50/p99/p99.9). Over udp the media then\n"
          "leaves libnice for --media-threads threads that use sendmmsg/recvmmsg on the same\n"
          "sockets. A --ramp ends saying which side was the limit: relay or loader (vc-load's own\n"
          "CPU is sampled too). vc-load merge combines the --json results of several machines.\n\n",
          out);
    cfg_print_help(relay_options, RELAY_NOPTS, out);
    fputs("\nExit status: 0 success; 1 failure (server unreachable or refusing, calls failed,\n"
          "SRTP authentication failures); 2 bad arguments.\n",
          out);
}

const char *relay_profile_name(enum relay_profile p)
{
    return relay_profiles[p];
}

const char *relay_transport_name(enum relay_transport t)
{
    return relay_transports[t];
}

const char *relay_srtp_name(enum relay_srtp s)
{
    return relay_srtps[s];
}

/* The index of name in names[3] (NULL-terminated when shorter), or -1. */
static int relay_lookup(const char *name, const char *const names[3])
{
    for (int i = 0; i < 3 && names[i] != NULL; i++) {
        if (strcmp(name, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int relay_profile_parse(const char *name, enum relay_profile *out)
{
    int i = name != NULL ? relay_lookup(name, relay_profiles) : -1;

    *out = i < 0 ? RELAY_AUDIO : (enum relay_profile)i;
    return i < 0 ? -EINVAL : 0;
}

int relay_transport_parse(const char *name, enum relay_transport *out)
{
    int i = name != NULL ? relay_lookup(name, relay_transports) : -1;

    *out = i < 0 ? RELAY_UDP : (enum relay_transport)i;
    return i < 0 ? -EINVAL : 0;
}

/* Resolves "IP:PORT", "[IPv6]:PORT" or "name:PORT". */
static int relay_parse_server(struct relay_opts *o, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(o->server_text, ':');
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    int rc;

    if (addr_parse(&o->server, o->server_text, 0) == 0 && addr_port(&o->server) != 0) {
        return 0;
    }
    if (colon == NULL || colon == o->server_text || (size_t)(colon - o->server_text) >= 256 ||
        colon[1] == '\0') {
        snprintf(err, errlen, "--server %s: expected HOST:PORT", o->server_text);
        return -EINVAL;
    }
    memcpy(host, o->server_text, (size_t)(colon - o->server_text));
    host[colon - o->server_text] = '\0';
    rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "--server %s: %s", o->server_text, gai_strerror(rc));
        return -EINVAL;
    }
    rc = addr_from_sockaddr(&o->server, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc < 0 || addr_port(&o->server) == 0) {
        snprintf(err, errlen, "--server %s: bad address or port", o->server_text);
        return -EINVAL;
    }
    return 0;
}

/* Moves c's values into o, which then owns its strings (but for --transport and --profile). */
static void relay_opts_take(struct relay_opts *o, struct relay_cfg *c)
{
    /* With --ramp, --calls is the ceiling and --duration the overall cap. */
    if (c->calls == 0) {
        c->calls = c->ramp ? RELAY_MAX_CALLS : 10;
    }
    if (c->duration == 0) {
        c->duration = c->ramp ? 300 : 10;
    }
    *o = (struct relay_opts){
        .server_text = c->server,
        .secret = c->secret,
        .realm = c->realm,
        .calls = c->calls,
        .duration_s = c->duration,
        .ramp_step = c->ramp,
        .max_loss_pct = c->max_loss,
        .max_p99_ms = c->max_p99,
        .json_path = c->json,
        .csv_path = c->csv,
        .plot_path = c->plot,
        .server_pid = c->server_pid,
        .threads = c->threads,
        .media_threads = c->media_threads,
        .start_at = c->start_at,
        .window = c->window,
        .size = c->size,
    };
}

/* --start-at: at most RELAY_START_PAST_S in the past (clocks of load machines differ a little)
 * and a day ahead. */
static int relay_check_start(long long at, char *err, size_t errlen)
{
    long long now = (long long)time(NULL);

    if (at != 0 && at < now - RELAY_START_PAST_S) {
        snprintf(err, errlen, "--start-at %lld: %lld s in the past (at most %d s)", at, now - at,
                 RELAY_START_PAST_S);
        return -EINVAL;
    }
    if (at > now + RELAY_START_AHEAD_S) {
        snprintf(err, errlen, "--start-at %lld: more than a day ahead (%lld s)", at, at - now);
        return -EINVAL;
    }
    return 0;
}

/* The rules beyond each option's type and range, checked after every option is read. */
static int relay_opts_check(struct relay_opts *o, const struct relay_cfg *c, char *err,
                            size_t errlen)
{
    int transport = relay_lookup(c->transport, relay_transports);
    int profile = relay_lookup(c->profile, relay_profiles);
    int srtp = relay_lookup(c->srtp, relay_srtps);
    const char *why = NULL;

    if (transport < 0 || profile < 0) {
        snprintf(err, errlen, "%s: bad value \"%s\"", transport < 0 ? "--transport" : "--profile",
                 transport < 0 ? c->transport : c->profile);
        return -EINVAL;
    }
    o->transport = (enum relay_transport)transport;
    o->profile = (enum relay_profile)profile;
    if (srtp < 0) {
        snprintf(err, errlen, "--srtp: bad value \"%s\"", c->srtp);
        return -EINVAL;
    }
    o->srtp = (enum relay_srtp)srtp;
    if (o->server_text == NULL || o->secret == NULL) {
        why = "--server and --secret are required (see vc-load relay --help)";
    } else if (o->secret[0] == '\0') {
        why = "--secret must not be empty";
    } else if ((o->ramp_step != 0) == isnan(o->max_loss_pct)) {
        why = "--ramp and --max-loss go together";
    } else if (!isnan(o->max_p99_ms) && o->ramp_step == 0) {
        why = "--max-p99-ms needs --ramp";
    } else if (o->profile == RELAY_FLOOD && o->ramp_step != 0) {
        why = "--ramp needs the audio or video profile";
    } else if (o->profile == RELAY_FLOOD && o->transport != RELAY_UDP) {
        why = "--profile flood sends raw ChannelData over UDP only";
    }
    if (why != NULL) {
        snprintf(err, errlen, "%s", why);
        return -EINVAL;
    }
    if (relay_check_start(o->start_at, err, errlen) < 0) {
        return -EINVAL;
    }
    return relay_parse_server(o, err, errlen);
}

int relay_opts_parse(struct relay_opts *o, int argc, char **argv, char *err, size_t errlen)
{
    struct relay_cfg c;
    char why[RELAY_ERR_LEN];
    int rc;

    memset(o, 0, sizeof(*o));
    switch (cfg_asked(argc, argv)) {
    case CFG_ASK_HELP:
        relay_opts_usage(stdout);
        return 1;
    case CFG_ASK_MAN:
        cfg_print_man(relay_options, RELAY_NOPTS, stdout);
        return 1;
    case CFG_ASK_NONE:
        break;
    }
    if (cfg_load(relay_options, RELAY_NOPTS, &c, argc, argv, why, sizeof(why)) < 0) {
        snprintf(err, errlen, "%s (see vc-load relay --help)", why);
        return -EINVAL;
    }
    relay_opts_take(o, &c);
    rc = relay_opts_check(o, &c, err, errlen);
    free(c.transport);
    free(c.profile);
    free(c.srtp);
    if (rc < 0) {
        relay_opts_free(o);
    }
    return rc;
}

void relay_opts_free(struct relay_opts *o)
{
    free(o->server_text);
    free(o->secret);
    free(o->realm);
    free(o->json_path);
    free(o->csv_path);
    free(o->plot_path);
    memset(o, 0, sizeof(*o));
}
