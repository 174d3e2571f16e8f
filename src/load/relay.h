/* vc-load relay mode: options, shared statistics and the pieces the run is built from. */
#ifndef VC_LOAD_RELAY_H
#define VC_LOAD_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vc/addr.h"

#define RELAY_MAX_CALLS 5000
#define RELAY_SETUP_TIMEOUT_S 15
#define RELAY_RAMP_STEP_S 5 /* each ramp step: 1 s to settle, then 4 s measured */
#define RELAY_ERR_LEN 256

enum relay_transport { RELAY_UDP, RELAY_TCP, RELAY_TLS };
enum relay_profile { RELAY_AUDIO, RELAY_VIDEO, RELAY_FLOOD };
enum relay_srtp { RELAY_SRTP_GCM, RELAY_SRTP_CM_SHA1 };

/* Parsed once from argv; nothing reads argv later. The strings are owned: relay_opts_free(). */
struct relay_opts {
    char *server_text;
    union vc_addr server;
    char *secret;
    char *realm;
    enum relay_transport transport;
    enum relay_profile profile;
    enum relay_srtp srtp;
    unsigned calls;
    unsigned duration_s;
    unsigned ramp_step;
    double max_loss_pct; /* with --ramp only */
    double max_p99_ms;   /* with --ramp only; NaN: no delay limit */
    char *json_path;
    char *csv_path;
    char *plot_path;
    int server_pid;
    unsigned threads;       /* libnice worker threads (ICE, TURN, and media over TCP/TLS) */
    unsigned media_threads; /* threads of the batched UDP media path */
    long long start_at;     /* --start-at: UNIX time to start the calls at; 0: at once */
    unsigned window;        /* flood: packets in flight per direction */
    unsigned size;          /* flood: ChannelData payload bytes */
};

/* Parses "relay" arguments (argv[0] is "relay"). Returns 0 (free o with relay_opts_free()), 1
 * when --help (or --man-options) was printed, or -EINVAL with a message in err; o holds nothing
 * then. */
int relay_opts_parse(struct relay_opts *o, int argc, char **argv, char *err, size_t errlen);
void relay_opts_free(struct relay_opts *o);
void relay_opts_usage(FILE *out);
const char *relay_profile_name(enum relay_profile p);
const char *relay_transport_name(enum relay_transport t);
const char *relay_srtp_name(enum relay_srtp s);
/* The profile or transport called name; -EINVAL (and the default in *out) if none is. */
int relay_profile_parse(const char *name, enum relay_profile *out);
int relay_transport_parse(const char *name, enum relay_transport *out);

/* One-way delay histogram in nanoseconds, the same layout in every run (so runs merge by adding
 * counts): bucket i < 128 holds [i, i+1) ns; bucket i >= 128 holds [(64 + s) * 2^(e-6),
 * (65 + s) * 2^(e-6)) ns with e = 7 + (i - 128) / 64 and s = (i - 128) % 64, i.e. 64 buckets per
 * power of two (1.6 % wide) from 128 ns up to 2^41 ns; the last bucket also holds anything
 * longer. Quantiles report a bucket's midpoint. */
#define RELAY_HIST_SUB_BITS 6
#define RELAY_HIST_N (128 + 34 * 64)
/* The lower bound of bucket idx in ns (idx may be RELAY_HIST_N: the upper bound of the last). */
double relay_hist_lower_ns(unsigned idx);

/* Counters for a set of receivers; workers own one each and the run sums them. */
struct relay_stats {
    uint64_t sent;
    uint64_t received;
    uint64_t expected; /* per stream: highest sequence number seen + 1, summed */
    uint64_t bytes;
    uint64_t auth_failures;
    uint64_t replay_failures;
    uint64_t other_failures;
    uint64_t calls_up;
    uint64_t calls_failed;
    uint64_t skipped;   /* packets the pacer dropped because the generator fell behind */
    uint64_t mmsg_sent; /* batched path: packets sent with sendmmsg, and the calls it took */
    uint64_t mmsg_send_calls;
    uint64_t mmsg_received; /* batched path: datagrams taken with recvmmsg, and the calls */
    uint64_t mmsg_recv_calls;
    uint64_t stun_dropped; /* batched path: STUN on a handed-over socket (keepalives, answers) */
    uint64_t send_indications; /* batched path: packets sent before the channel was known */
    uint64_t rx_overflow; /* batched path: datagrams the kernel dropped at vc-load's full sockets */
    uint64_t late_sent;   /* batched path: packets sent over 10 ms after their pacing slot */
    double jitter_sum_ns; /* sum over streams of each stream's current RFC 3550 jitter */
    uint64_t jitter_streams;
    uint64_t hist[RELAY_HIST_N];
    char last_error[RELAY_ERR_LEN];
};

void relay_stats_record_delay(struct relay_stats *s, int64_t ns);
/* out = a + b (counters and histogram); out may alias a. Gauges (jitter, calls) are summed. */
void relay_stats_add(struct relay_stats *out, const struct relay_stats *a,
                     const struct relay_stats *b);
/* out = cur - prev for counters and histogram; gauges are taken from cur. */
void relay_stats_diff(struct relay_stats *out, const struct relay_stats *cur,
                      const struct relay_stats *prev);
/* The q-quantile (0..1) of the delay histogram in microseconds, 0 when empty. */
double relay_stats_quantile_us(const struct relay_stats *s, double q);
/* Loss against what was sent (for whole runs, after the drain). */
double relay_stats_loss_pct(const struct relay_stats *s);
/* Loss from sequence gaps (for intervals: packets still in flight do not count as lost). */
double relay_stats_gap_loss_pct(const struct relay_stats *s);
double relay_stats_jitter_ms(const struct relay_stats *s);

/* Per-stream receive state for loss and RFC 3550 jitter. */
struct relay_rx {
    bool started;
    uint64_t next_seq;
    int64_t last_transit;
    double jitter_ns;
};
/* Accounts one packet that was sent at send_ns and arrived at now_ns. */
void relay_rx_account(struct relay_rx *rx, struct relay_stats *s, uint64_t seq, int64_t send_ns,
                      int64_t now_ns, size_t len);

int64_t relay_now_ns(void);

/* A server process sampled from /proc. */
struct relay_proc_sample {
    bool valid;
    double cpu_s;
    long rss_kb;
    double stall_s; /* machine-wide (PSI): time some runnable task waited for a CPU; -1 unknown */
};
void relay_proc_sample(int pid, struct relay_proc_sample *out);

/* The server (when --server-pid) and vc-load itself, sampled at both ends of a window. */
struct relay_window {
    struct relay_proc_sample srv0, srv1;
    struct relay_proc_sample self0, self1;
};
/* Samples the server and this process into srv and self. */
void relay_window_sample(int server_pid, struct relay_proc_sample *srv,
                         struct relay_proc_sample *self);
/* How many CPUs pid (0: this process) may run on, 0 if unknown. */
unsigned relay_cpus_allowed(int pid);

/* One row of the time series (per second, or per ramp step). */
struct relay_row {
    double t_s;
    unsigned calls;
    double sent_pps;
    double recv_pps;
    double loss_pct;
    double jitter_ms;
    double p50_us;
    double p99_us;
    double p999_us;
    uint64_t auth_failures;
    double server_cpu_pct;
    long server_rss_kb;
    double loader_cpu_pct; /* vc-load's own CPU time over the row, 100 = one CPU */
    uint64_t skipped;
    uint64_t rx_overflow;
    uint64_t sent;
    uint64_t late_sent;
    double cpu_pressure_pct; /* share of the row some task on the machine waited for a CPU */
};
void relay_row_fill(struct relay_row *r, const struct relay_stats *d, double secs,
                    const struct relay_window *w);

/* The load generator behind the run: libnice+SRTP calls, or raw ChannelData flood. */
struct relay_gen;
/* Creates the generator and its threads; no calls yet. Returns NULL with err set. */
struct relay_gen *relay_gen_create(const struct relay_opts *o, char *err, size_t errlen);
/* Starts n more calls (or flood pairs). Returns 0 or a negative errno with err set. */
int relay_gen_add(struct relay_gen *g, unsigned n, char *err, size_t errlen);
unsigned relay_gen_calls(const struct relay_gen *g);
/* Copies the summed statistics of every thread into out. */
void relay_gen_snapshot(struct relay_gen *g, struct relay_stats *out);
/* Stops sending media (receivers keep counting until destroy). */
void relay_gen_quiesce(struct relay_gen *g);
void relay_gen_destroy(struct relay_gen *g);

/* The media generator (libnice + SRTP) and the flood generator behind relay_gen. */
struct relay_media;
struct relay_media *relay_media_create(const struct relay_opts *o, char *err, size_t errlen);
int relay_media_add(struct relay_media *m, unsigned n);
void relay_media_snapshot(struct relay_media *m, struct relay_stats *out);
void relay_media_quiesce(struct relay_media *m);
void relay_media_destroy(struct relay_media *m);

struct relay_flood;
struct relay_flood *relay_flood_create(const struct relay_opts *o, char *err, size_t errlen);
int relay_flood_add(struct relay_flood *f, unsigned n, char *err, size_t errlen);
void relay_flood_snapshot(struct relay_flood *f, struct relay_stats *out);
void relay_flood_quiesce(struct relay_flood *f);
void relay_flood_destroy(struct relay_flood *f);

/* REST credentials for a fresh username "EXPIRY:vc-load-PID-N"; user and pass hold 64 bytes. */
int relay_rest_creds(const struct relay_opts *o, unsigned n, char *user, char *pass);

/* Checks that the server answers and accepts the credentials (one Allocate, then released). */
int relay_preflight(const struct relay_opts *o, char *err, size_t errlen);

/* Final results handed to the reports. */
struct relay_result {
    const struct relay_opts *opts;
    unsigned calls;
    unsigned calls_failed;
    double duration_s;
    struct relay_stats total; /* over the measured window */
    struct relay_window win;  /* over the measured window */
    unsigned capacity_calls;  /* ramp only */
    const char *stop_reason;  /* ramp only: loss, p99, setup, ceiling, duration, interrupted */
    const char *limit;        /* ramp only: relay, loader, or none (the ramp did not find it) */
    unsigned loader_cpus;     /* CPUs vc-load may run on */
    unsigned server_cpus;     /* CPUs the server may run on (0: unknown) */
    struct relay_row *rows;   /* per second, or per ramp step */
    size_t nrows;
    unsigned merged_runs; /* vc-load merge: how many runs this adds up; 0 for a run */
};

/* Runs the relay mode to completion. Returns 0, or a negative errno with err set. */
int relay_run(const struct relay_opts *o, struct relay_result *res, char *err, size_t errlen);

void relay_report_summary(FILE *out, const struct relay_result *r);
int relay_report_json(const struct relay_result *r, const char *path, char *err, size_t errlen);
int relay_report_csv(const struct relay_result *r, const char *path, char *err, size_t errlen);
int relay_report_plot(const struct relay_result *r, const char *png, char *err, size_t errlen);

#endif
