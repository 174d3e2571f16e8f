/* Command line of `vc-load relay`: one table of options, parsed once, checked before any I/O. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relay.h"

enum relay_opt_kind { OPT_STR, OPT_UINT, OPT_PCT, OPT_FLAG };

struct relay_opt {
    const char *name;
    enum relay_opt_kind kind;
    unsigned long min;
    unsigned long max;
    size_t off;
};

#define OFF(f) offsetof(struct relay_opts, f)
static const struct relay_opt relay_opt_table[] = {
    {"--server", OPT_STR, 0, 0, OFF(server_text)},
    {"--secret", OPT_STR, 0, 0, OFF(secret)},
    {"--transport", OPT_STR, 0, 0, 0},
    {"--profile", OPT_STR, 0, 0, 0},
    {"--calls", OPT_UINT, 1, RELAY_MAX_CALLS, OFF(calls)},
    {"--duration", OPT_UINT, 1, 3600, OFF(duration_s)},
    {"--ramp", OPT_UINT, 1, 1000, OFF(ramp_step)},
    {"--max-loss", OPT_PCT, 0, 100, OFF(max_loss_pct)},
    {"--json", OPT_STR, 0, 0, OFF(json_path)},
    {"--csv", OPT_STR, 0, 0, OFF(csv_path)},
    {"--plot", OPT_STR, 0, 0, OFF(plot_path)},
    {"--server-pid", OPT_UINT, 1, 4194304, 0},
    {"--realm", OPT_STR, 0, 0, OFF(realm)},
    {"--threads", OPT_UINT, 1, 16, OFF(threads)},
    {"--window", OPT_UINT, 1, 65536, OFF(window)},
    {"--size", OPT_UINT, 16, 1400, OFF(size)},
};

void relay_opts_usage(FILE *out)
{
    fputs("usage: vc-load relay --server HOST:PORT --secret S [options]\n"
          "Simulated calls through a TURN server using REST credentials (any standard server).\n"
          "Each call is two libnice agents with relay-only candidates; after ICE they send SRTP\n"
          "(AES_CM_128_HMAC_SHA1_80) both ways; receivers authenticate every packet and measure\n"
          "loss, RFC 3550 jitter and one-way delay (p50/p99/p99.9).\n"
          "  --server HOST:PORT      the TURN server (required)\n"
          "  --secret S              the REST API shared secret (required)\n"
          "  --transport udp|tcp|tls client-to-server transport (default udp)\n"
          "  --calls N               concurrent calls, or flood pairs (default 10, max 5000;\n"
          "                          with --ramp: the ceiling)\n"
          "  --duration S            measured seconds (default 10; with --ramp: the overall cap,\n"
          "                          default 300)\n"
          "  --profile P             audio: 50 pps x 160 B; video: ~1.5 Mbit/s in 1,100 B\n"
          "                          packets; flood: raw ChannelData on our own UDP sockets as\n"
          "                          fast as the relay carries it (no libnice, no SRTP; udp only)\n"
          "  --ramp STEP             add STEP calls every 5 s until loss passes --max-loss\n"
          "  --max-loss PCT          loss limit for --ramp (required with it)\n"
          "  --json F, --csv F       results (CSV: one row per second, or per ramp step)\n"
          "  --plot F.png            gnuplot chart of loss, latency and server CPU\n"
          "  --server-pid PID        sample the server's CPU time and RSS from /proc\n"
          "  --realm R               expected realm (warns when the server's differs)\n"
          "  --threads N             media worker threads (default 2)\n"
          "  --window N              flood: packets in flight per direction (default 256)\n"
          "  --size B                flood: payload bytes per packet (default 160)\n"
          "Exit status: 0 success; 1 failure (server unreachable or refusing, calls failed,\n"
          "SRTP authentication failures); 2 bad arguments.\n",
          out);
}

const char *relay_profile_name(enum relay_profile p)
{
    return p == RELAY_AUDIO ? "audio" : p == RELAY_VIDEO ? "video" : "flood";
}

const char *relay_transport_name(enum relay_transport t)
{
    return t == RELAY_UDP ? "udp" : t == RELAY_TCP ? "tcp" : "tls";
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

static int relay_parse_value(struct relay_opts *o, const struct relay_opt *d, const char *val,
                             char *err, size_t errlen)
{
    char *end = NULL;

    if (strcmp(d->name, "--transport") == 0) {
        o->transport = strcmp(val, "udp") == 0   ? RELAY_UDP
                       : strcmp(val, "tcp") == 0 ? RELAY_TCP
                       : strcmp(val, "tls") == 0 ? RELAY_TLS
                                                 : (enum relay_transport) - 1;
        if ((int)o->transport >= 0) {
            return 0;
        }
    } else if (strcmp(d->name, "--profile") == 0) {
        o->profile = strcmp(val, "audio") == 0   ? RELAY_AUDIO
                     : strcmp(val, "video") == 0 ? RELAY_VIDEO
                     : strcmp(val, "flood") == 0 ? RELAY_FLOOD
                                                 : (enum relay_profile) - 1;
        if ((int)o->profile >= 0) {
            return 0;
        }
    } else if (d->kind == OPT_STR) {
        *(const char **)((char *)o + d->off) = val;
        return 0;
    } else if (d->kind == OPT_PCT) {
        errno = 0;
        double v = strtod(val, &end);
        if (errno == 0 && end != val && *end == '\0' && v >= (double)d->min &&
            v <= (double)d->max) {
            *(double *)((char *)o + d->off) = v;
            return 0;
        }
    } else {
        errno = 0;
        unsigned long v = strtoul(val, &end, 10);
        if (errno == 0 && end != val && *end == '\0' && val[0] != '-' && v >= d->min &&
            v <= d->max) {
            if (strcmp(d->name, "--server-pid") == 0) {
                o->server_pid = (int)v;
            } else {
                *(unsigned *)((char *)o + d->off) = (unsigned)v;
            }
            return 0;
        }
        snprintf(err, errlen, "%s %s: expected an integer in %lu..%lu", d->name, val, d->min,
                 d->max);
        return -EINVAL;
    }
    snprintf(err, errlen, "%s: bad value \"%s\"", d->name, val);
    return -EINVAL;
}

/* Cross-option rules, checked after every option is read. */
static int relay_opts_check(struct relay_opts *o, bool max_loss_set, char *err, size_t errlen)
{
    if (o->server_text == NULL || o->secret == NULL) {
        snprintf(err, errlen, "--server and --secret are required (see vc-load relay --help)");
        return -EINVAL;
    }
    if (o->secret[0] == '\0') {
        snprintf(err, errlen, "--secret must not be empty");
        return -EINVAL;
    }
    if ((o->ramp_step != 0) != max_loss_set) {
        snprintf(err, errlen, "--ramp and --max-loss go together");
        return -EINVAL;
    }
    if (o->profile == RELAY_FLOOD && o->ramp_step != 0) {
        snprintf(err, errlen, "--ramp needs the audio or video profile");
        return -EINVAL;
    }
    if (o->profile == RELAY_FLOOD && o->transport != RELAY_UDP) {
        snprintf(err, errlen, "--profile flood sends raw ChannelData over UDP only");
        return -EINVAL;
    }
    if (o->ramp_step != 0 && !o->duration_set) {
        o->duration_s = 300;
    }
    if (o->ramp_step != 0 && !o->calls_set) {
        o->calls = RELAY_MAX_CALLS; /* with --ramp, --calls is the ceiling */
    }
    return relay_parse_server(o, err, errlen);
}

int relay_opts_parse(struct relay_opts *o, int argc, char **argv, char *err, size_t errlen)
{
    bool max_loss_set = false;
    int i;

    memset(o, 0, sizeof(*o));
    o->calls = 10;
    o->duration_s = 10;
    o->threads = 2;
    o->window = 256;
    o->size = 160;
    for (i = 1; i < argc; i++) {
        const struct relay_opt *d = NULL;
        size_t k;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            relay_opts_usage(stdout);
            return 1;
        }
        for (k = 0; k < sizeof(relay_opt_table) / sizeof(relay_opt_table[0]); k++) {
            if (strcmp(argv[i], relay_opt_table[k].name) == 0) {
                d = &relay_opt_table[k];
            }
        }
        if (d == NULL) {
            snprintf(err, errlen, "unknown option \"%s\" (see vc-load relay --help)", argv[i]);
            return -EINVAL;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "%s needs a value", d->name);
            return -EINVAL;
        }
        if (relay_parse_value(o, d, argv[++i], err, errlen) < 0) {
            return -EINVAL;
        }
        max_loss_set |= strcmp(d->name, "--max-loss") == 0;
        o->duration_set |= strcmp(d->name, "--duration") == 0;
        o->calls_set |= strcmp(d->name, "--calls") == 0;
    }
    return relay_opts_check(o, max_loss_set, err, errlen);
}
