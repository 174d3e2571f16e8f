/* Drives a relay run: pre-flight, call set-up, per-second sampling, the ramp, and the drain. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"

#define RELAY_DRAIN_MS 500
#define RELAY_RAMP_SETTLE_S 1
#define RELAY_LOADER_BUSY_PCT 85.0 /* per allowed CPU: above it, the loader is the limit */

/* Set by SIGINT/SIGTERM: the run stops early and still reports. */
static volatile sig_atomic_t relay_interrupted;

static void relay_on_signal(int sig)
{
    (void)sig;
    relay_interrupted = 1;
}

/* State of one run, shared by the fixed and ramp drivers. */
struct relay_ctx {
    const struct relay_opts *o;
    struct relay_result *res;
    struct relay_gen *gen;
    struct relay_stats *cur; /* heap: each is 18 KiB */
    struct relay_stats *prev;
    struct relay_stats *diff;
    int64_t t_start;
    bool tty;
    size_t rows_cap;
};

static void relay_sleep_until(int64_t when_ns)
{
    struct timespec ts = {.tv_sec = when_ns / 1000000000, .tv_nsec = when_ns % 1000000000};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
           !relay_interrupted) {
    }
}

static void relay_progress(struct relay_ctx *c, const char *phase, const struct relay_row *r)
{
    double t = (double)(relay_now_ns() - c->t_start) / 1e9;

    if (!c->tty) {
        return;
    }
    if (r == NULL) {
        fprintf(stderr, "\r\033[K[%5.0fs] %s: %llu/%u calls up, %llu failed", t, phase,
                (unsigned long long)c->cur->calls_up, relay_gen_calls(c->gen),
                (unsigned long long)c->cur->calls_failed);
    } else {
        fprintf(stderr,
                "\r\033[K[%5.0fs] %s: %u calls  sent %.0f pps  recv %.0f pps  loss %.2f%%  "
                "p99 %.0f us  jitter %.3f ms  auth fail %llu",
                t, phase, r->calls, r->sent_pps, r->recv_pps, r->loss_pct, r->p99_us, r->jitter_ms,
                (unsigned long long)r->auth_failures);
    }
    fflush(stderr);
}

static int relay_add_row(struct relay_ctx *c, const struct relay_row *r)
{
    struct relay_result *res = c->res;

    if (res->nrows == c->rows_cap) {
        size_t cap = c->rows_cap ? 2 * c->rows_cap : 64;
        struct relay_row *rows = realloc(res->rows, cap * sizeof(*rows));
        if (rows == NULL) {
            return -ENOMEM;
        }
        res->rows = rows;
        c->rows_cap = cap;
    }
    res->rows[res->nrows++] = *r;
    return 0;
}

/* Waits (at most the set-up timeout and a second) until every call is up or failed. */
static void relay_wait_setup(struct relay_ctx *c, unsigned target)
{
    int64_t deadline = relay_now_ns() + (int64_t)(RELAY_SETUP_TIMEOUT_S + 1) * 1000000000;

    while (!relay_interrupted && relay_now_ns() < deadline) {
        relay_gen_snapshot(c->gen, c->cur);
        relay_progress(c, "set-up", NULL);
        if (c->cur->calls_up + c->cur->calls_failed >= target) {
            return;
        }
        relay_sleep_until(relay_now_ns() + 100000000);
    }
}

/* Samples every second for secs seconds from now; leaves the window's totals in c->diff and
 * the CPU samples of its ends in w. Returns the seconds actually measured. */
static double relay_measure(struct relay_ctx *c, unsigned secs, bool per_second_rows,
                            struct relay_stats *start, struct relay_window *w)
{
    int64_t t0 = relay_now_ns();
    struct relay_window sec;
    unsigned s;

    relay_gen_snapshot(c->gen, start);
    memcpy(c->prev, start, sizeof(*start));
    relay_window_sample(c->o->server_pid, &w->srv0, &w->self0);
    sec.srv1 = w->srv0;
    sec.self1 = w->self0;
    for (s = 1; s <= secs && !relay_interrupted; s++) {
        struct relay_row row = {0};
        sec.srv0 = sec.srv1;
        sec.self0 = sec.self1;
        relay_sleep_until(t0 + (int64_t)s * 1000000000);
        relay_gen_snapshot(c->gen, c->cur);
        relay_window_sample(c->o->server_pid, &sec.srv1, &sec.self1);
        relay_stats_diff(c->diff, c->cur, c->prev);
        relay_row_fill(&row, c->diff, 1.0, &sec);
        row.t_s = (double)(relay_now_ns() - c->t_start) / 1e9;
        row.calls = (unsigned)c->cur->calls_up;
        relay_progress(c, c->o->ramp_step ? "ramp" : "run", &row);
        if (per_second_rows && relay_add_row(c, &row) < 0) {
            break;
        }
        memcpy(c->prev, c->cur, sizeof(*c->cur));
    }
    w->srv1 = sec.srv1;
    w->self1 = sec.self1;
    relay_stats_diff(c->diff, c->cur, start);
    return (double)(relay_now_ns() - t0) / 1e9;
}

static int relay_run_fixed(struct relay_ctx *c, struct relay_stats *start, char *err, size_t errlen)
{
    struct relay_result *res = c->res;
    int rc = relay_gen_add(c->gen, c->o->calls, err, errlen);

    if (rc < 0) {
        return rc;
    }
    relay_wait_setup(c, c->o->calls);
    relay_gen_snapshot(c->gen, c->cur);
    if (c->cur->calls_up == 0) {
        snprintf(err, errlen, "no call came up: %s",
                 c->cur->last_error[0] ? c->cur->last_error : "set-up timed out");
        return -EIO;
    }
    res->duration_s = relay_measure(c, c->o->duration_s, true, start, &res->win);
    /* Stop sending, let the packets in flight land, then count them into the window. */
    relay_gen_quiesce(c->gen);
    relay_sleep_until(relay_now_ns() + (int64_t)RELAY_DRAIN_MS * 1000000);
    relay_gen_snapshot(c->gen, c->cur);
    relay_stats_diff(&res->total, c->cur, start);
    res->calls = (unsigned)c->cur->calls_up;
    res->calls_failed = (unsigned)c->cur->calls_failed;
    return 0;
}

/* Why the ramp stopped at row r, or NULL to go on. */
static const char *relay_ramp_verdict(const struct relay_ctx *c, const struct relay_row *r)
{
    if (c->cur->calls_failed > 0) {
        return "setup";
    }
    if (r->loss_pct > c->o->max_loss_pct) {
        return "loss";
    }
    return r->p99_us > c->o->max_p99_ms * 1000 ? "p99" : NULL; /* false when NaN */
}

/* Which side the failing step r ran out on: the loader when its CPUs were (nearly) saturated,
 * its pacer fell behind (slots given up, or over 1 % of the packets sent 10 ms late: bursts that
 * queue at the relay through no fault of its own) or the kernel dropped datagrams at its full
 * sockets (it did not read them in time); else the relay. */
static const char *relay_limit_side(const struct relay_result *res, const struct relay_row *r)
{
    double cpus = res->loader_cpus > 0 ? res->loader_cpus : 1;

    return r->loader_cpu_pct >= RELAY_LOADER_BUSY_PCT * cpus || r->skipped > 0 ||
                   r->rx_overflow > 0 || r->late_sent * 100 > r->sent
               ? "loader"
               : "relay";
}

/* Adds --ramp calls every step until loss passes --max-loss, one-way p99 passes --max-p99-ms, a
 * call fails to set up, the ceiling (--calls) or the time cap (--duration) is reached. */
static int relay_run_ramp(struct relay_ctx *c, struct relay_stats *start, char *err, size_t errlen)
{
    struct relay_result *res = c->res;
    const struct relay_opts *o = c->o;
    unsigned target = 0;

    res->stop_reason = "ceiling";
    while (!relay_interrupted && target + o->ramp_step <= o->calls) {
        struct relay_row row = {0};
        struct relay_window w;
        int rc;
        if (relay_now_ns() - c->t_start >= (int64_t)o->duration_s * 1000000000) {
            res->stop_reason = "duration";
            break;
        }
        rc = relay_gen_add(c->gen, o->ramp_step, err, errlen);
        if (rc < 0) {
            return rc;
        }
        target += o->ramp_step;
        relay_wait_setup(c, target);
        relay_sleep_until(relay_now_ns() + (int64_t)RELAY_RAMP_SETTLE_S * 1000000000);
        double secs = relay_measure(c, RELAY_RAMP_STEP_S - RELAY_RAMP_SETTLE_S, false, start, &w);
        relay_row_fill(&row, c->diff, secs, &w);
        row.t_s = (double)(relay_now_ns() - c->t_start) / 1e9;
        row.calls = (unsigned)c->cur->calls_up;
        (void)relay_add_row(c, &row);
        const char *why = relay_ramp_verdict(c, &row);
        if (why != NULL) {
            res->stop_reason = why;
            res->limit = relay_limit_side(res, &row);
            break;
        }
        res->capacity_calls = target;
        res->total = *c->diff;
        res->duration_s = secs;
        res->win = w;
    }
    if (relay_interrupted) {
        res->stop_reason = "interrupted";
    }
    relay_gen_quiesce(c->gen);
    res->calls = res->capacity_calls;
    res->calls_failed = (unsigned)c->cur->calls_failed;
    memcpy(res->total.last_error, c->cur->last_error, sizeof(res->total.last_error));
    return 0;
}

/* Waits for --start-at (wall clock), in steps so that a signal ends the wait. */
static void relay_wait_start(const struct relay_opts *o)
{
    while (o->start_at > 0 && !relay_interrupted) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t left = (o->start_at - now.tv_sec) * 1000000000LL - now.tv_nsec;
        if (left <= 0) {
            return;
        }
        relay_sleep_until(relay_now_ns() + (left < 100000000 ? left : 100000000));
    }
}

/* Lifts the open-file limit: every call holds several sockets. */
static void relay_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int relay_run(const struct relay_opts *o, struct relay_result *res, char *err, size_t errlen)
{
    struct relay_ctx c = {.o = o, .res = res, .tty = isatty(STDERR_FILENO) == 1};
    struct relay_stats *bufs = calloc(4, sizeof(*bufs));
    struct sigaction sa = {.sa_handler = relay_on_signal};
    int rc;

    if (bufs == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    c.cur = &bufs[0];
    c.prev = &bufs[1];
    c.diff = &bufs[2];
    res->opts = o;
    res->limit = "none";
    res->loader_cpus = relay_cpus_allowed(0);
    res->server_cpus = o->server_pid > 0 ? relay_cpus_allowed(o->server_pid) : 0;
    relay_raise_nofile();
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = relay_preflight(o, err, errlen);
    if (rc == 0) {
        c.gen = relay_gen_create(o, err, errlen);
        rc = c.gen == NULL ? -EIO : 0;
    }
    if (rc == 0) {
        relay_wait_start(o);
    }
    c.t_start = relay_now_ns();
    if (rc == 0) {
        rc = o->ramp_step ? relay_run_ramp(&c, &bufs[3], err, errlen)
                          : relay_run_fixed(&c, &bufs[3], err, errlen);
    }
    if (c.tty) {
        fputs("\r\033[K", stderr);
    }
    relay_gen_destroy(c.gen);
    free(bufs);
    return rc;
}
