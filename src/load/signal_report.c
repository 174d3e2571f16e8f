/* vc-load signal: latency percentiles, server CPU and RSS from /proc, the summary and JSON report.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "signal_load.h"

uint64_t sigload_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void sigload_lat_init(struct sigload_lat *l)
{
    memset(l, 0, sizeof(*l));
}

void sigload_lat_free(struct sigload_lat *l)
{
    free(l->us);
    memset(l, 0, sizeof(*l));
}

void sigload_lat_add(struct sigload_lat *l, uint32_t us, uint64_t *rnd)
{
    l->seen++;
    if (l->n < l->cap) {
        l->us[l->n++] = us;
        return;
    }
    if (l->cap < SIGLOAD_LAT_SAMPLES) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        uint32_t *p = realloc(l->us, cap * sizeof(*p));
        if (p != NULL) {
            l->us = p;
            l->cap = cap;
            l->us[l->n++] = us;
            return;
        }
    }
    if (l->cap == 0) {
        return;
    }
    /* Full: reservoir sampling keeps a uniform sample of everything seen. */
    *rnd ^= *rnd << 13;
    *rnd ^= *rnd >> 7;
    *rnd ^= *rnd << 17;
    if (*rnd % l->seen < l->cap) {
        l->us[*rnd % l->cap] = us;
    }
}

static int sigload_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

double sigload_lat_pct_ms(struct sigload_lat *l, double pct)
{
    size_t i;

    if (l->n == 0) {
        return -1;
    }
    qsort(l->us, l->n, sizeof(l->us[0]), sigload_cmp_u32);
    i = (size_t)(pct / 100.0 * (double)(l->n - 1) + 0.5);
    if (i >= l->n) {
        i = l->n - 1;
    }
    return l->us[i] / 1000.0;
}

int sigload_proc_sample(unsigned pid, struct sigload_proc *p)
{
    char path[64], buf[2048];
    FILE *f;
    size_t n;
    char *s;
    unsigned long utime = 0, stime = 0;
    long rss = -1;

    memset(p, 0, sizeof(*p));
    snprintf(path, sizeof(path), "/proc/%u/stat", pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return -errno;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    s = strrchr(buf, ')');
    /* after "pid (comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime */
    if (s == NULL || sscanf(s + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                            &stime) != 2) {
        return -EBADMSG;
    }
    snprintf(path, sizeof(path), "/proc/%u/status", pid);
    f = fopen(path, "r");
    if (f != NULL) {
        while (fgets(buf, sizeof(buf), f) != NULL) {
            if (strncmp(buf, "VmRSS:", 6) == 0) {
                rss = strtol(buf + 6, NULL, 10);
                break;
            }
        }
        fclose(f);
    }
    p->cpu_s = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    p->rss_kb = rss;
    p->valid = rss >= 0;
    return p->valid ? 0 : -EBADMSG;
}

struct sigload_figures {
    double msgs_per_s;
    double cpu_s;
    double msgs_per_cpu_s;
    long rss_kb;
    double rss_per_conn_kb;
    int have_proc;
};

static void sigload_figures(const struct sigload_result *r, struct sigload_figures *f)
{
    memset(f, 0, sizeof(*f));
    f->msgs_per_s = r->duration_s > 0 ? (double)r->received_window / r->duration_s : 0;
    f->have_proc = r->proc_base.valid && r->proc_setup.valid && r->proc_end.valid;
    if (f->have_proc) {
        f->cpu_s = r->proc_end.cpu_s - r->proc_setup.cpu_s;
        f->msgs_per_cpu_s = f->cpu_s > 0 ? (double)r->received_window / f->cpu_s : 0;
        f->rss_kb = r->proc_setup.rss_kb;
        f->rss_per_conn_kb =
            r->connections ? (double)(r->proc_setup.rss_kb - r->proc_base.rss_kb) / r->connections
                           : 0;
    }
}

void sigload_report_print(struct sigload_result *r, FILE *out)
{
    struct sigload_figures f;

    sigload_figures(r, &f);
    fprintf(out,
            "signal %s: rooms %u (%u active) connections %u set-up %.1f s (%.0f new conn/s) | "
            "join ms p50 %.1f p95 %.1f p99 %.1f | relay ms p50 %.1f p99 %.1f | "
            "%.0f msg/s over %.1f s (sent %" PRIu64 ", received %" PRIu64 ", lost %" PRIu64
            ") | errors %" PRIu64 " reconnects %" PRIu64,
            r->protocol, r->rooms, r->rooms_active, r->connections, r->setup_s, r->new_conns_per_s,
            sigload_lat_pct_ms(&r->join, 50), sigload_lat_pct_ms(&r->join, 95),
            sigload_lat_pct_ms(&r->join, 99), sigload_lat_pct_ms(&r->relay, 50),
            sigload_lat_pct_ms(&r->relay, 99), f.msgs_per_s, r->duration_s, r->sent, r->received,
            r->lost, r->errors, r->reconnects);
    if (f.have_proc) {
        fprintf(out,
                " | server cpu %.2f s (%.0f msg per cpu-s) rss %ld KiB (%.1f KiB per connection)",
                f.cpu_s, f.msgs_per_cpu_s, f.rss_kb, f.rss_per_conn_kb);
    }
    fputc('\n', out);
    if (r->first_error[0] != '\0') {
        fprintf(out, "first error: %s\n", r->first_error);
    }
}

static json_t *sigload_pct_json(struct sigload_lat *l)
{
    if (l->n == 0) {
        return json_null();
    }
    return json_pack("{s:f,s:f,s:f,s:I}", "p50", sigload_lat_pct_ms(l, 50), "p95",
                     sigload_lat_pct_ms(l, 95), "p99", sigload_lat_pct_ms(l, 99), "samples",
                     (json_int_t)l->seen);
}

int sigload_report_json(struct sigload_result *r, const char *path)
{
    struct sigload_figures f;
    json_t *j, *errs;
    int rc;

    sigload_figures(r, &f);
    errs = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "connect", (json_int_t)r->err_connect, "closed",
                     (json_int_t)r->err_closed, "server", (json_int_t)r->err_server, "protocol",
                     (json_int_t)r->err_protocol, "queue", (json_int_t)r->err_queue, "http",
                     (json_int_t)r->err_http);
    j = json_pack("{s:s,s:I,s:I,s:I,s:f,s:f,s:f}", "protocol", r->protocol, "rooms",
                  (json_int_t)r->rooms, "rooms_active", (json_int_t)r->rooms_active, "connections",
                  (json_int_t)r->connections, "setup_s", r->setup_s, "new_conns_per_s",
                  r->new_conns_per_s, "duration_s", r->duration_s);
    if (j == NULL || errs == NULL) {
        json_decref(j);
        json_decref(errs);
        return -ENOMEM;
    }
    json_object_set_new(j, "loader_setup_cpu_s", json_real(r->loader_setup_cpu_s));
    json_object_set_new(j, "join_latency_ms", sigload_pct_json(&r->join));
    json_object_set_new(j, "connect_latency_ms", sigload_pct_json(&r->connect));
    json_object_set_new(j, "relay_latency_ms", sigload_pct_json(&r->relay));
    json_object_set_new(j, "messages_per_s", json_real(f.msgs_per_s));
    json_object_set_new(j, "messages_sent", json_integer((json_int_t)r->sent));
    json_object_set_new(j, "messages_received", json_integer((json_int_t)r->received));
    json_object_set_new(j, "messages_lost", json_integer((json_int_t)r->lost));
    json_object_set_new(j, "errors", json_integer((json_int_t)r->errors));
    json_object_set_new(j, "errors_by_kind", errs);
    json_object_set_new(j, "reconnects", json_integer((json_int_t)r->reconnects));
    json_object_set_new(j, "first_error",
                        r->first_error[0] ? json_string(r->first_error) : json_null());
    json_object_set_new(j, "server_cpu_s", f.have_proc ? json_real(f.cpu_s) : json_null());
    json_object_set_new(j, "messages_per_cpu_s",
                        f.have_proc && f.cpu_s > 0 ? json_real(f.msgs_per_cpu_s) : json_null());
    json_object_set_new(j, "server_rss_kb", f.have_proc ? json_integer(f.rss_kb) : json_null());
    json_object_set_new(j, "server_rss_base_kb",
                        f.have_proc ? json_integer(r->proc_base.rss_kb) : json_null());
    json_object_set_new(j, "rss_per_connection_kb",
                        f.have_proc ? json_real(f.rss_per_conn_kb) : json_null());
    rc = json_dump_file(j, path, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(6)) == 0
             ? 0
             : -EIO;
    json_decref(j);
    return rc;
}
