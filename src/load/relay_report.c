/* Results of a relay run: the stdout summary, JSON, CSV and a gnuplot chart. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "relay.h"
#include "relay_hist.h"

#define RELAY_CONTENDED_PCT 20.0 /* CPU pressure above which the summary warns */

static double relay_cpu_s(const struct relay_result *r)
{
    return r->win.srv0.valid && r->win.srv1.valid ? r->win.srv1.cpu_s - r->win.srv0.cpu_s : 0;
}

static double relay_loader_cpu_s(const struct relay_result *r)
{
    return r->win.self0.valid && r->win.self1.valid ? r->win.self1.cpu_s - r->win.self0.cpu_s : 0;
}

/* A CPU time over the measured window as a percentage of one CPU. */
static double relay_pct(const struct relay_result *r, double cpu_s)
{
    return r->duration_s > 0 ? 100 * cpu_s / r->duration_s : 0;
}

/* The ramp's end: why it stopped and on which side, with the failing step's CPU figures. */
static void relay_report_limit(FILE *out, const struct relay_result *r)
{
    const struct relay_row *last = r->nrows > 0 ? &r->rows[r->nrows - 1] : NULL;

    fprintf(out, "  ramp stopped: %s; limit: %s", r->stop_reason ? r->stop_reason : "none",
            r->limit ? r->limit : "none");
    if (last != NULL && strcmp(r->limit, "none") != 0) {
        fprintf(out, " (at %u calls: loss %.3f %%, p99 %.0f us; vc-load %.0f %% CPU of %u",
                last->calls, last->loss_pct, last->p99_us, last->loader_cpu_pct, r->loader_cpus);
        if (r->opts->server_pid > 0) {
            fprintf(out, ", server %.0f %% CPU of %u", last->server_cpu_pct, r->server_cpus);
        }
        fputc(')', out);
    }
    fputc('\n', out);
    if (last != NULL && last->cpu_pressure_pct >= RELAY_CONTENDED_PCT) {
        fprintf(out,
                "  the machine was contended: some task waited for a CPU %.0f %% of that step "
                "(PSI); other processes may have set the limit\n",
                last->cpu_pressure_pct);
    }
}

/* A whole run is drained, so loss is against what was sent; a ramp step is not, so it counts
 * sequence gaps and leaves packets still in flight out. */
static double relay_loss(const struct relay_result *r)
{
    return r->opts->ramp_step ? relay_stats_gap_loss_pct(&r->total)
                              : relay_stats_loss_pct(&r->total);
}

static double relay_pps(const struct relay_result *r)
{
    return r->duration_s > 0 ? (double)r->total.received / r->duration_s : 0;
}

void relay_report_summary(FILE *out, const struct relay_result *r)
{
    const struct relay_opts *o = r->opts;
    const struct relay_stats *t = &r->total;

    fprintf(out, "vc-load relay %s: %s over %s, %u calls up, %u failed, %.1f s measured",
            o->server_text, relay_profile_name(o->profile), relay_transport_name(o->transport),
            r->calls, r->calls_failed, r->duration_s);
    if (r->merged_runs > 0) {
        fprintf(out, " (%u runs merged)", r->merged_runs);
    }
    fputc('\n', out);
    if (o->ramp_step) {
        fprintf(out, "  capacity: %u concurrent calls at <= %.2f %% loss", r->capacity_calls,
                o->max_loss_pct);
        if (!isnan(o->max_p99_ms)) {
            fprintf(out, " and one-way p99 <= %.1f ms", o->max_p99_ms);
        }
        fprintf(out, " (step %u)\n", o->ramp_step);
        relay_report_limit(out, r);
    }
    fprintf(out, "  packets: sent %llu, received %llu, %.0f pps delivered, loss %.3f %%\n",
            (unsigned long long)t->sent, (unsigned long long)t->received, relay_pps(r),
            relay_loss(r));
    fprintf(out, "  one-way delay: p50 %.1f us, p99 %.1f us, p99.9 %.1f us; jitter %.4f ms\n",
            relay_stats_quantile_us(t, 0.5), relay_stats_quantile_us(t, 0.99),
            relay_stats_quantile_us(t, 0.999), relay_stats_jitter_ms(t));
    if (o->profile != RELAY_FLOOD) {
        fprintf(out, "  SRTP (%s): %llu auth failures, %llu replays, %llu other errors\n",
                relay_srtp_name(o->srtp), (unsigned long long)t->auth_failures,
                (unsigned long long)t->replay_failures, (unsigned long long)t->other_failures);
    }
    if (t->skipped > 0) {
        fprintf(out, "  generator fell behind: %llu packets not sent (vc-load short of CPU)\n",
                (unsigned long long)t->skipped);
    }
    if (t->mmsg_send_calls > 0) {
        fprintf(out,
                "  batched path: %llu packets in %llu sendmmsg, %llu in %llu recvmmsg, %llu STUN "
                "dropped, %llu lost in vc-load's full sockets, %llu sent over 10 ms late\n",
                (unsigned long long)t->mmsg_sent, (unsigned long long)t->mmsg_send_calls,
                (unsigned long long)t->mmsg_received, (unsigned long long)t->mmsg_recv_calls,
                (unsigned long long)t->stun_dropped, (unsigned long long)t->rx_overflow,
                (unsigned long long)t->late_sent);
    }
    if (r->win.self1.valid) {
        fprintf(out, "  vc-load: %.2f CPU s (%.1f %% of one CPU; may use %u)\n",
                relay_loader_cpu_s(r), relay_pct(r, relay_loader_cpu_s(r)), r->loader_cpus);
    }
    if (r->win.srv1.valid) {
        double cpu = relay_cpu_s(r);
        if (o->server_pid > 0) {
            fprintf(out, "  server pid %d: ", o->server_pid);
        } else {
            fputs("  server (the highest any run sampled): ", out);
        }
        fprintf(out, "%.2f CPU s (%.1f %%), RSS %ld kB", cpu, relay_pct(r, cpu),
                r->win.srv1.rss_kb);
        if (cpu > 0) {
            fprintf(out, ", %.0f delivered packets per CPU s", (double)t->received / cpu);
        }
        fputc('\n', out);
    }
    if (t->last_error[0] != '\0') {
        fprintf(out, "  last error: %s\n", t->last_error);
    }
}

static json_t *relay_row_json(const struct relay_row *w)
{
    return json_pack("{s:f,s:i,s:f,s:f,s:f,s:f,s:{s:f,s:f,s:f},s:I,s:f,s:I,s:f,s:I,s:I,s:I,s:o}",
                     "t_s", w->t_s, "calls", (int)w->calls, "sent_pps", w->sent_pps, "pps",
                     w->recv_pps, "loss_pct", w->loss_pct, "jitter_ms", w->jitter_ms, "latency_us",
                     "p50", w->p50_us, "p99", w->p99_us, "p999", w->p999_us, "auth_failures",
                     (json_int_t)w->auth_failures, "server_cpu_pct", w->server_cpu_pct,
                     "server_rss_kb", (json_int_t)w->server_rss_kb, "loader_cpu_pct",
                     w->loader_cpu_pct, "generator_skipped", (json_int_t)w->skipped,
                     "loader_rx_dropped", (json_int_t)w->rx_overflow, "loader_late_sent",
                     (json_int_t)w->late_sent, "cpu_pressure_pct",
                     w->cpu_pressure_pct >= 0 ? json_real(w->cpu_pressure_pct) : json_null());
}

/* The batched media path's counters (all 0 when libnice carried the media: tcp, tls). */
static json_t *relay_batched_json(const struct relay_stats *t)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "rx_dropped", (json_int_t)t->rx_overflow,
                     "late_sent", (json_int_t)t->late_sent, "sendmmsg_packets",
                     (json_int_t)t->mmsg_sent, "sendmmsg_calls", (json_int_t)t->mmsg_send_calls,
                     "recvmmsg_packets", (json_int_t)t->mmsg_received, "recvmmsg_calls",
                     (json_int_t)t->mmsg_recv_calls, "send_indications",
                     (json_int_t)t->send_indications, "stun_dropped", (json_int_t)t->stun_dropped);
}

int relay_report_json(const struct relay_result *r, const char *path, char *err, size_t errlen)
{
    const struct relay_opts *o = r->opts;
    const struct relay_stats *t = &r->total;
    double cpu = relay_cpu_s(r);
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:i,s:i,s:f,s:I,s:I,s:f,s:f,s:f,s:{s:f,s:f,s:f},s:I,s:I,s:I,s:b}",
                  "server", o->server_text, "profile", relay_profile_name(o->profile), "transport",
                  relay_transport_name(o->transport), "calls", (int)r->calls, "calls_failed",
                  (int)r->calls_failed, "duration_s", r->duration_s, "sent", (json_int_t)t->sent,
                  "received", (json_int_t)t->received, "pps", relay_pps(r), "loss_pct",
                  relay_loss(r), "jitter_ms", relay_stats_jitter_ms(t), "latency_us", "p50",
                  relay_stats_quantile_us(t, 0.5), "p99", relay_stats_quantile_us(t, 0.99), "p999",
                  relay_stats_quantile_us(t, 0.999), "auth_failures", (json_int_t)t->auth_failures,
                  "replay_failures", (json_int_t)t->replay_failures, "other_failures",
                  (json_int_t)t->other_failures, "srtp", o->profile != RELAY_FLOOD);
    int rc = 0;

    if (j == NULL) {
        snprintf(err, errlen, "%s: cannot build JSON", path);
        return -ENOMEM;
    }
    /* Every delivered packet crosses the server twice (client -> relay -> relay -> client). */
    json_object_set_new(j, "server_hops", json_integer(2));
    json_object_set_new(j, "srtp_suite",
                        o->profile != RELAY_FLOOD ? json_string(relay_srtp_name(o->srtp))
                                                  : json_null());
    json_object_set_new(j, "generator_skipped", json_integer((json_int_t)t->skipped));
    if (r->merged_runs > 0) {
        json_object_set_new(j, "merged_runs", json_integer(r->merged_runs));
    }
    json_object_set_new(j, "batched", relay_batched_json(t));
    json_object_set_new(j, "server_cpu_s", r->win.srv1.valid ? json_real(cpu) : json_null());
    json_object_set_new(j, "server_rss_kb",
                        r->win.srv1.valid ? json_integer(r->win.srv1.rss_kb) : json_null());
    json_object_set_new(j, "server_cpus", json_integer(r->server_cpus));
    json_object_set_new(j, "loader_cpu_s", json_real(relay_loader_cpu_s(r)));
    json_object_set_new(j, "loader_cpus", json_integer(r->loader_cpus));
    json_object_set_new(j, "expected", json_integer((json_int_t)t->expected));
    json_object_set_new(j, "jitter_streams", json_integer((json_int_t)t->jitter_streams));
    json_object_set_new(j, "latency_histogram", relay_hist_json(t));
    json_object_set_new(j, "pps_per_server_cpu_s",
                        cpu > 0 ? json_real((double)t->received / cpu) : json_null());
    if (o->ramp_step) {
        json_t *steps = json_array();
        for (size_t i = 0; i < r->nrows; i++) {
            json_array_append_new(steps, relay_row_json(&r->rows[i]));
        }
        json_object_set_new(j, "ramp",
                            json_pack("{s:i,s:f,s:o,s:i,s:s,s:s,s:o}", "step", (int)o->ramp_step,
                                      "max_loss_pct", o->max_loss_pct, "max_p99_ms",
                                      isnan(o->max_p99_ms) ? json_null() : json_real(o->max_p99_ms),
                                      "capacity_calls", (int)r->capacity_calls, "stop_reason",
                                      r->stop_reason ? r->stop_reason : "none", "limit",
                                      r->limit ? r->limit : "none", "steps", steps));
    }
    if (t->last_error[0] != '\0') {
        json_object_set_new(j, "last_error", json_string(t->last_error));
    }
    if (json_dump_file(j, path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) < 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        rc = -EIO;
    }
    json_decref(j);
    return rc;
}

static int relay_write_csv(const struct relay_result *r, FILE *f)
{
    fputs("t_s,calls,sent_pps,recv_pps,loss_pct,jitter_ms,p50_us,p99_us,p999_us,"
          "auth_failures,server_cpu_pct,server_rss_kb,loader_cpu_pct\n",
          f);
    for (size_t i = 0; i < r->nrows; i++) {
        const struct relay_row *w = &r->rows[i];
        fprintf(f, "%.3f,%u,%.1f,%.1f,%.4f,%.4f,%.1f,%.1f,%.1f,%llu,%.1f,%ld,%.1f\n", w->t_s,
                w->calls, w->sent_pps, w->recv_pps, w->loss_pct, w->jitter_ms, w->p50_us, w->p99_us,
                w->p999_us, (unsigned long long)w->auth_failures, w->server_cpu_pct,
                w->server_rss_kb, w->loader_cpu_pct);
    }
    return ferror(f) ? -EIO : 0;
}

int relay_report_csv(const struct relay_result *r, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "we");
    int rc;

    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -errno;
    }
    rc = relay_write_csv(r, f);
    if (fclose(f) != 0 || rc < 0) {
        snprintf(err, errlen, "%s: write failed", path);
        return -EIO;
    }
    return 0;
}

/* Writes s as a gnuplot single-quoted string (a quote is doubled). */
static void relay_gp_quote(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') {
            fputc('\'', f);
        }
        fputc(*s, f);
    }
    fputc('\'', f);
}

static void relay_gp_script(FILE *gp, const struct relay_result *r, const char *data,
                            const char *png)
{
    const char *x = r->opts->ramp_step ? "2" : "1";

    fputs("set terminal pngcairo size 900,900 noenhanced\nset output ", gp);
    relay_gp_quote(gp, png);
    fprintf(gp,
            "\nset datafile separator ','\nset key autotitle columnhead\nset grid\n"
            "set multiplot layout 3,1 title 'vc-load relay: %s over %s'\n"
            "set xlabel '%s'\n",
            relay_profile_name(r->opts->profile), relay_transport_name(r->opts->transport),
            r->opts->ramp_step ? "concurrent calls" : "time (s)");
    fputs("set ylabel 'loss %'\nset yrange [0:1<*]\nplot ", gp);
    relay_gp_quote(gp, data);
    fprintf(gp,
            " using %s:5 with linespoints\nset ylabel 'one-way delay (us)'\n"
            "set autoscale y\nset logscale y\nplot ",
            x);
    relay_gp_quote(gp, data);
    fprintf(gp,
            " using %s:7 with linespoints, '' using %s:8 with linespoints, '' using %s:9 "
            "with linespoints\nunset logscale y\nset ylabel 'server CPU %%'\n"
            "set yrange [0:1<*]\nplot ",
            x, x, x);
    relay_gp_quote(gp, data);
    fprintf(gp, " using %s:11 with linespoints\nunset multiplot\n", x);
}

int relay_report_plot(const struct relay_result *r, const char *png, char *err, size_t errlen)
{
    char data[] = "/tmp/vc-load-plot-XXXXXX";
    int fd = mkstemp(data);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    FILE *gp;
    int status;
    int rc = 0;

    if (f == NULL) {
        snprintf(err, errlen, "plot: temporary file: %s", strerror(errno));
        return -EIO;
    }
    (void)relay_write_csv(r, f);
    fclose(f);
    gp = popen("gnuplot", "w");
    if (gp == NULL) {
        snprintf(err, errlen, "plot: cannot run gnuplot: %s", strerror(errno));
        unlink(data);
        return -EIO;
    }
    relay_gp_script(gp, r, data, png);
    status = pclose(gp);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "plot: gnuplot failed (status %d; is gnuplot installed?)", status);
        rc = -EIO;
    }
    unlink(data);
    return rc;
}
