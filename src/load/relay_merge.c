/* `vc-load merge A.json B.json ...`: one report from the --json results of several load
 * machines that drove one relay together (--start-at): counts add up, the delay histograms add
 * up bucket by bucket (so p50/p99/p99.9 are of all packets), loss is of the summed counts. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "load.h"
#include "relay.h"
#include "relay_hist.h"

#define RELAY_MERGE_MAX 256

/* The counters merge adds up: by JSON name (in the object "batched" when in_batched) and place
 * in struct relay_stats. */
#define RELAY_MERGE_FIELD(k, f, b)                                                                 \
    {                                                                                              \
        k, offsetof(struct relay_stats, f), b                                                      \
    }
static const struct {
    const char *key;
    size_t off;
    bool in_batched;
} relay_merge_counters[] = {
    RELAY_MERGE_FIELD("sent", sent, false),
    RELAY_MERGE_FIELD("received", received, false),
    RELAY_MERGE_FIELD("expected", expected, false),
    RELAY_MERGE_FIELD("auth_failures", auth_failures, false),
    RELAY_MERGE_FIELD("replay_failures", replay_failures, false),
    RELAY_MERGE_FIELD("other_failures", other_failures, false),
    RELAY_MERGE_FIELD("generator_skipped", skipped, false),
    RELAY_MERGE_FIELD("jitter_streams", jitter_streams, false),
    RELAY_MERGE_FIELD("sendmmsg_packets", mmsg_sent, true),
    RELAY_MERGE_FIELD("sendmmsg_calls", mmsg_send_calls, true),
    RELAY_MERGE_FIELD("recvmmsg_packets", mmsg_received, true),
    RELAY_MERGE_FIELD("recvmmsg_calls", mmsg_recv_calls, true),
    RELAY_MERGE_FIELD("send_indications", send_indications, true),
    RELAY_MERGE_FIELD("stun_dropped", stun_dropped, true),
    RELAY_MERGE_FIELD("rx_dropped", rx_overflow, true),
    RELAY_MERGE_FIELD("late_sent", late_sent, true),
};

static void relay_merge_usage(FILE *out)
{
    fputs("usage: vc-load merge [--json F] A.json B.json ...\n"
          "Combines the --json results of vc-load relay runs on several load machines (started\n"
          "together with --start-at) into one report with the same columns: counts summed, delay\n"
          "histograms merged bucket by bucket (p50/p99/p99.9 of all packets), loss from the\n"
          "summed sent and received, the server's CPU the highest any run sampled.\n"
          "  --json F   also write the merged result as JSON (the same fields as a run's)\n"
          "Exit status: 0 success; 1 an input cannot be read or is not a vc-load relay result;\n"
          "2 bad arguments.\n",
          out);
}

static void relay_merge_add(struct relay_stats *t, const json_t *j, const json_t *batched)
{
    for (size_t i = 0; i < sizeof(relay_merge_counters) / sizeof(relay_merge_counters[0]); i++) {
        uint64_t *f = (uint64_t *)((char *)t + relay_merge_counters[i].off);
        const json_t *from = relay_merge_counters[i].in_batched ? batched : j;
        *f += (uint64_t)json_integer_value(json_object_get(from, relay_merge_counters[i].key));
    }
}

/* The ramp fields of one input: capacities add up; the limit is the loader's if any loader was
 * its own limit (the combined capacity is then a lower bound), else the relay's if any run
 * found it. */
static void relay_merge_ramp(struct relay_result *r, struct relay_opts *o, const json_t *ramp)
{
    const char *limit = json_string_value(json_object_get(ramp, "limit"));

    if (!json_is_object(ramp)) {
        return;
    }
    o->ramp_step = (unsigned)json_integer_value(json_object_get(ramp, "step"));
    o->max_loss_pct = json_number_value(json_object_get(ramp, "max_loss_pct"));
    if (json_is_number(json_object_get(ramp, "max_p99_ms"))) {
        o->max_p99_ms = json_number_value(json_object_get(ramp, "max_p99_ms"));
    }
    r->capacity_calls += (unsigned)json_integer_value(json_object_get(ramp, "capacity_calls"));
    if (limit != NULL && (strcmp(limit, "loader") == 0 || strcmp(r->limit, "loader") != 0) &&
        strcmp(limit, "none") != 0) {
        r->limit = strcmp(limit, "loader") == 0 ? "loader" : "relay";
        r->stop_reason = "merged";
    }
}

/* Adds one run's file into r; the first also names the server, profile and transport. */
static int relay_merge_file(struct relay_result *r, struct relay_opts *o, const char *path,
                            char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    char why[RELAY_ERR_LEN];
    int rc = 0;

    if (j == NULL) {
        snprintf(err, errlen, "%s: %s (line %d)", path, jerr.text, jerr.line);
        return -EINVAL;
    }
    if (!json_is_integer(json_object_get(j, "sent")) ||
        relay_hist_add_json(&r->total, json_object_get(j, "latency_histogram"), why, sizeof(why)) <
            0) {
        snprintf(err, errlen, "%s: not a vc-load relay --json result with a latency histogram",
                 path);
        json_decref(j);
        return -EINVAL;
    }
    if (o->server_text == NULL) {
        o->server_text = strdup(json_string_value(json_object_get(j, "server")) ?: "?");
        rc = relay_profile_parse(json_string_value(json_object_get(j, "profile")), &o->profile);
        rc = rc < 0 ? rc
                    : relay_transport_parse(json_string_value(json_object_get(j, "transport")),
                                            &o->transport);
        o->srtp = json_is_string(json_object_get(j, "srtp_suite")) &&
                          strcmp(json_string_value(json_object_get(j, "srtp_suite")),
                                 relay_srtp_name(RELAY_SRTP_CM_SHA1)) == 0
                      ? RELAY_SRTP_CM_SHA1
                      : RELAY_SRTP_GCM;
    }
    relay_merge_add(&r->total, j, json_object_get(j, "batched"));
    r->total.jitter_sum_ns += json_number_value(json_object_get(j, "jitter_ms")) * 1e6 *
                              (double)json_integer_value(json_object_get(j, "jitter_streams"));
    r->calls += (unsigned)json_integer_value(json_object_get(j, "calls"));
    r->calls_failed += (unsigned)json_integer_value(json_object_get(j, "calls_failed"));
    r->duration_s = fmax(r->duration_s, json_number_value(json_object_get(j, "duration_s")));
    r->win.self1.cpu_s += json_number_value(json_object_get(j, "loader_cpu_s"));
    r->loader_cpus += (unsigned)json_integer_value(json_object_get(j, "loader_cpus"));
    r->server_cpus = (unsigned)fmax(r->server_cpus,
                                    (double)json_integer_value(json_object_get(j, "server_cpus")));
    if (json_is_number(json_object_get(j, "server_cpu_s"))) {
        r->win.srv0.valid = r->win.srv1.valid = true;
        r->win.srv1.cpu_s =
            fmax(r->win.srv1.cpu_s, json_number_value(json_object_get(j, "server_cpu_s")));
        r->win.srv1.rss_kb =
            (long)fmax((double)r->win.srv1.rss_kb,
                       (double)json_integer_value(json_object_get(j, "server_rss_kb")));
    }
    relay_merge_ramp(r, o, json_object_get(j, "ramp"));
    json_decref(j);
    if (rc < 0) {
        snprintf(err, errlen, "%s: unknown profile or transport", path);
    }
    return rc;
}

/* Splits argv into --json's value and the input files; returns 0, 1 (--help) or -EINVAL. */
static int relay_merge_args(int argc, char **argv, const char **json, const char **files,
                            int *nfiles)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return 1;
        }
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            *json = argv[++i];
        } else if (strncmp(argv[i], "--json=", 7) == 0) {
            *json = argv[i] + 7;
        } else if (argv[i][0] == '-' || *nfiles >= RELAY_MERGE_MAX) {
            fprintf(stderr, "vc-load merge: %s: %s\n", argv[i],
                    argv[i][0] == '-' ? "unknown option" : "too many inputs (at most 256)");
            return -EINVAL;
        } else {
            files[(*nfiles)++] = argv[i];
        }
    }
    if (*nfiles == 0) {
        fputs("vc-load merge: no input files (see vc-load merge --help)\n", stderr);
        return -EINVAL;
    }
    return 0;
}

int load_merge_main(int argc, char **argv)
{
    static const char *files[RELAY_MERGE_MAX];
    struct relay_opts o = {.max_p99_ms = NAN};
    struct relay_result *r = calloc(1, sizeof(*r));
    const char *json = NULL;
    char err[RELAY_ERR_LEN];
    int nfiles = 0;
    int rc = relay_merge_args(argc, argv, &json, files, &nfiles);
    int status = 0;

    if (rc != 0 || r == NULL) {
        if (rc > 0) {
            relay_merge_usage(stdout);
        }
        free(r);
        return rc > 0 ? 0 : 2;
    }
    r->opts = &o;
    r->limit = "none";
    r->win.self0.valid = r->win.self1.valid = true;
    for (int i = 0; i < nfiles && status == 0; i++) {
        if (relay_merge_file(r, &o, files[i], err, sizeof(err)) < 0) {
            fprintf(stderr, "vc-load merge: %s\n", err);
            status = 1;
        }
    }
    if (status == 0) {
        r->merged_runs = (unsigned)nfiles;
        relay_report_summary(stdout, r);
        if (json != NULL && relay_report_json(r, json, err, sizeof(err)) < 0) {
            fprintf(stderr, "vc-load merge: %s\n", err);
            status = 1;
        }
    }
    free(o.server_text);
    free(r);
    return status;
}
