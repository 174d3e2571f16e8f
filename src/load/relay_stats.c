/* Receiver statistics for vc-load: loss, RFC 3550 jitter and a fixed-size delay histogram. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "relay.h"

int64_t relay_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Below 128 ns one bucket per ns; above, 64 buckets per power of two (1.6 % wide). */
static unsigned relay_hist_index(uint64_t v)
{
    unsigned e;

    if (v < 128) {
        return (unsigned)v;
    }
    e = 63u - (unsigned)__builtin_clzll(v);
    if (e > 40) {
        return RELAY_HIST_N - 1;
    }
    return 128 + (e - 7) * 64 + (unsigned)((v >> (e - 6)) & 63);
}

double relay_hist_lower_ns(unsigned idx)
{
    unsigned e;

    if (idx < 128) {
        return idx;
    }
    e = 7 + (idx - 128) / 64;
    return ldexp(64 + (idx - 128) % 64, (int)e - 6);
}

/* The midpoint of a bucket, in ns. */
static double relay_hist_value(unsigned idx)
{
    return idx < 128 ? idx : (relay_hist_lower_ns(idx) + relay_hist_lower_ns(idx + 1)) / 2;
}

void relay_stats_record_delay(struct relay_stats *s, int64_t ns)
{
    s->hist[relay_hist_index(ns < 0 ? 0 : (uint64_t)ns)]++;
}

void relay_stats_add(struct relay_stats *out, const struct relay_stats *a,
                     const struct relay_stats *b)
{
    size_t i;

    out->sent = a->sent + b->sent;
    out->received = a->received + b->received;
    out->expected = a->expected + b->expected;
    out->bytes = a->bytes + b->bytes;
    out->auth_failures = a->auth_failures + b->auth_failures;
    out->replay_failures = a->replay_failures + b->replay_failures;
    out->other_failures = a->other_failures + b->other_failures;
    out->calls_up = a->calls_up + b->calls_up;
    out->calls_failed = a->calls_failed + b->calls_failed;
    out->skipped = a->skipped + b->skipped;
    out->mmsg_sent = a->mmsg_sent + b->mmsg_sent;
    out->mmsg_send_calls = a->mmsg_send_calls + b->mmsg_send_calls;
    out->mmsg_received = a->mmsg_received + b->mmsg_received;
    out->mmsg_recv_calls = a->mmsg_recv_calls + b->mmsg_recv_calls;
    out->stun_dropped = a->stun_dropped + b->stun_dropped;
    out->send_indications = a->send_indications + b->send_indications;
    out->rx_overflow = a->rx_overflow + b->rx_overflow;
    out->late_sent = a->late_sent + b->late_sent;
    out->jitter_sum_ns = a->jitter_sum_ns + b->jitter_sum_ns;
    out->jitter_streams = a->jitter_streams + b->jitter_streams;
    for (i = 0; i < RELAY_HIST_N; i++) {
        out->hist[i] = a->hist[i] + b->hist[i];
    }
    if (out != a && a->last_error[0] != '\0') {
        memcpy(out->last_error, a->last_error, sizeof(out->last_error));
    }
    if (b->last_error[0] != '\0') {
        memcpy(out->last_error, b->last_error, sizeof(out->last_error));
    }
}

static uint64_t relay_sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

void relay_stats_diff(struct relay_stats *out, const struct relay_stats *cur,
                      const struct relay_stats *prev)
{
    size_t i;

    out->sent = relay_sub(cur->sent, prev->sent);
    out->received = relay_sub(cur->received, prev->received);
    out->expected = relay_sub(cur->expected, prev->expected);
    out->bytes = relay_sub(cur->bytes, prev->bytes);
    out->auth_failures = relay_sub(cur->auth_failures, prev->auth_failures);
    out->replay_failures = relay_sub(cur->replay_failures, prev->replay_failures);
    out->other_failures = relay_sub(cur->other_failures, prev->other_failures);
    out->calls_up = cur->calls_up;
    out->calls_failed = cur->calls_failed;
    out->skipped = relay_sub(cur->skipped, prev->skipped);
    out->mmsg_sent = relay_sub(cur->mmsg_sent, prev->mmsg_sent);
    out->mmsg_send_calls = relay_sub(cur->mmsg_send_calls, prev->mmsg_send_calls);
    out->mmsg_received = relay_sub(cur->mmsg_received, prev->mmsg_received);
    out->mmsg_recv_calls = relay_sub(cur->mmsg_recv_calls, prev->mmsg_recv_calls);
    out->stun_dropped = relay_sub(cur->stun_dropped, prev->stun_dropped);
    out->send_indications = relay_sub(cur->send_indications, prev->send_indications);
    out->rx_overflow = relay_sub(cur->rx_overflow, prev->rx_overflow);
    out->late_sent = relay_sub(cur->late_sent, prev->late_sent);
    out->jitter_sum_ns = cur->jitter_sum_ns;
    out->jitter_streams = cur->jitter_streams;
    for (i = 0; i < RELAY_HIST_N; i++) {
        out->hist[i] = relay_sub(cur->hist[i], prev->hist[i]);
    }
    memcpy(out->last_error, cur->last_error, sizeof(out->last_error));
}

double relay_stats_quantile_us(const struct relay_stats *s, double q)
{
    uint64_t total = 0;
    uint64_t seen = 0;
    uint64_t rank;
    size_t i;

    for (i = 0; i < RELAY_HIST_N; i++) {
        total += s->hist[i];
    }
    if (total == 0) {
        return 0;
    }
    rank = (uint64_t)ceil(q * (double)total);
    rank = rank < 1 ? 1 : rank;
    for (i = 0; i < RELAY_HIST_N; i++) {
        seen += s->hist[i];
        if (seen >= rank) {
            return relay_hist_value((unsigned)i) / 1000.0;
        }
    }
    return relay_hist_value(RELAY_HIST_N - 1) / 1000.0;
}

double relay_stats_loss_pct(const struct relay_stats *s)
{
    if (s->sent == 0 || s->received >= s->sent) {
        return 0;
    }
    return 100.0 * (double)(s->sent - s->received) / (double)s->sent;
}

double relay_stats_gap_loss_pct(const struct relay_stats *s)
{
    if (s->expected == 0 || s->received >= s->expected) {
        return 0;
    }
    return 100.0 * (double)(s->expected - s->received) / (double)s->expected;
}

double relay_stats_jitter_ms(const struct relay_stats *s)
{
    return s->jitter_streams ? s->jitter_sum_ns / (double)s->jitter_streams / 1e6 : 0;
}

void relay_rx_account(struct relay_rx *rx, struct relay_stats *s, uint64_t seq, int64_t send_ns,
                      int64_t now_ns, size_t len)
{
    int64_t transit = now_ns - send_ns;

    if (seq + 1 > rx->next_seq) {
        s->expected += seq + 1 - rx->next_seq;
        rx->next_seq = seq + 1;
    }
    s->received++;
    s->bytes += len;
    relay_stats_record_delay(s, transit);
    if (!rx->started) {
        rx->started = true;
        rx->last_transit = transit;
        s->jitter_streams++;
        return;
    }
    /* RFC 3550 section 6.4.1: J += (|D| - J) / 16, here in ns rather than RTP units. */
    double d = fabs((double)(transit - rx->last_transit));
    double old = rx->jitter_ns;
    rx->last_transit = transit;
    rx->jitter_ns += (d - rx->jitter_ns) / 16.0;
    s->jitter_sum_ns += rx->jitter_ns - old;
}

void relay_row_fill(struct relay_row *r, const struct relay_stats *d, double secs,
                    const struct relay_window *w)
{
    r->sent_pps = secs > 0 ? (double)d->sent / secs : 0;
    r->recv_pps = secs > 0 ? (double)d->received / secs : 0;
    r->loss_pct = relay_stats_gap_loss_pct(d);
    r->jitter_ms = relay_stats_jitter_ms(d);
    r->p50_us = relay_stats_quantile_us(d, 0.50);
    r->p99_us = relay_stats_quantile_us(d, 0.99);
    r->p999_us = relay_stats_quantile_us(d, 0.999);
    r->auth_failures = d->auth_failures;
    r->skipped = d->skipped;
    r->rx_overflow = d->rx_overflow;
    r->sent = d->sent;
    r->late_sent = d->late_sent;
    r->server_cpu_pct = 0;
    r->server_rss_kb = 0;
    r->loader_cpu_pct = 0;
    if (w->srv0.valid && w->srv1.valid && secs > 0) {
        r->server_cpu_pct = 100.0 * (w->srv1.cpu_s - w->srv0.cpu_s) / secs;
        r->server_rss_kb = w->srv1.rss_kb;
    }
    r->cpu_pressure_pct = -1;
    if (w->self0.stall_s >= 0 && w->self1.stall_s >= 0 && secs > 0) {
        r->cpu_pressure_pct = 100.0 * (w->self1.stall_s - w->self0.stall_s) / secs;
    }
    if (w->self0.valid && w->self1.valid && secs > 0) {
        r->loader_cpu_pct = 100.0 * (w->self1.cpu_s - w->self0.cpu_s) / secs;
    }
}
