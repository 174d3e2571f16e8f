/* vc-signal's /metrics text (Prometheus exposition format). */
#include <inttypes.h>

#include "vc/hub.h"
#include "vc/prom.h"
#include "signald.h"
#include "webhook.h"

/* The connection and request refusals, timeouts and login outcomes. */
static void signald_metrics_edge(struct prom_buf *b, const struct signald_io_counts *io)
{
    static const char *const ws_reasons[] = {"origin", "capacity", "rate"};
    static const char *const statuses[] = {"400", "411", "413", "414", "431"};
    static const char *const phases[] = {"headers", "body"};
    static const char *const per_ip[] = {"per_ip"};
    static const char *const outcomes[] = {"ok", "wrong", "locked", "rate_limited", "busy"};
    const uint64_t ws[] = {io->refused_origin, io->refused_capacity, io->refused_rate};
    const uint64_t timeouts[] = {io->timeouts_headers, io->timeouts_body};
    static const uint64_t zeros[5];
    const struct prom_family f[] = {
        {"vc_signal_ws_refused_total", "WebSocket upgrades refused, by reason.", "reason",
         ws_reasons, ws, 3},
        {"vc_signal_refused_total", "Connections refused when accepted, by reason.", "reason",
         per_ip, &io->refused_per_ip, 1},
        {"vc_signal_http_refused_total",
         "Requests refused for their framing or size (the connection is closed), by status.",
         "status", statuses, io->http_refused ? io->http_refused : zeros, 5},
        {"vc_signal_http_timeouts_total",
         "Connections closed for sending a request's headers or body too slowly.", "phase", phases,
         timeouts, 2},
        {"vc_signal_logins_total", "Clinician logins, by outcome.", "outcome", outcomes,
         io->logins ? io->logins : zeros, 5},
    };
    const struct prom_metric m = {"vc_signal_http_connections", "gauge",
                                  "Open HTTPS connections, WebSockets included.",
                                  io->tcp_connections};

    prom_metrics(b, &m, 1);
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        prom_family(b, &f[i]);
}

/* With webhook-url: the delivery counters and the queue. */
static void signald_metrics_webhooks(struct prom_buf *b, const struct webhook_stats *w)
{
    const struct prom_metric m[] = {
        {"vc_signal_webhooks_queued", "gauge", "Webhook events waiting or being sent.", w->queued},
        {"vc_signal_webhooks_delivered_total", "counter",
         "Webhook events the receiver answered with 2xx.", w->delivered},
        {"vc_signal_webhooks_retried_total", "counter",
         "Webhook attempts that failed (timeout, error or non-2xx) and were scheduled again.",
         w->retried},
        {"vc_signal_webhooks_failed_total", "counter",
         "Webhook events given up after 24 h of retries.", w->failed},
        {"vc_signal_webhooks_dropped_total", "counter",
         "Webhook events dropped: the oldest of a full queue, or not stored.", w->dropped},
    };

    prom_metrics(b, m, sizeof(m) / sizeof(m[0]));
}

size_t signald_metrics_format(const struct hub_stats *st, size_t rooms,
                              const struct signald_io_counts *io, char *out, size_t outlen)
{
    static const uint64_t le[7] = {10, 25, 50, 100, 250, 500, 1000};
    const struct prom_metric m[] = {
        {"vc_signal_rooms", "gauge", "Live rooms.", rooms},
        {"vc_signal_connections", "gauge", "Open WebSocket connections.", io->connections},
        {"vc_signal_messages_relayed_total", "counter", "Signal messages forwarded.",
         st->messages_relayed},
        {"vc_signal_joins_total", "counter", "Successful joins.", st->joins},
        {"vc_signal_resumes_total", "counter", "Sessions resumed.", st->resumes},
        {"vc_signal_knocks_total", "counter", "Lobby knocks.", st->knocks},
        {"vc_signal_denied_total", "counter", "Guests denied by a host.", st->denied},
        {"vc_signal_errors_total", "counter", "Error messages sent to clients.", st->errors},
        {"vc_signal_rate_limited_total", "counter",
         "Messages refused by the per-connection rate limit.", st->rate_limited},
        {"vc_signal_too_large_total", "counter", "Messages over 64 KiB (closed with 1009).",
         io->too_large},
        {"vc_signal_output_overflow_total", "counter", "Frames refused by a full output queue.",
         io->out_overflow},
        {"vc_signal_draining", "gauge", "1 while draining (no new rooms, /readyz 503).",
         io->draining},
        {"vc_signal_watchers", "gauge", "Clinicians' dashboards watching their waiting area.",
         io->watchers},
        {"vc_signal_watch_updates_total", "counter", "Room changes pushed to dashboards.",
         st->watch_updates},
        {"vc_signal_lobby_messages_total", "counter", "Messages delivered to waiting patients.",
         st->lobby_messages},
    };
    const struct prom_histogram h = {"vc_signal_join_latency_ms", "Time from join to joined.", le,
                                     st->join_latency_buckets, 8};
    struct prom_buf b;

    prom_init(&b, out, outlen);
    prom_metrics(&b, m, sizeof(m) / sizeof(m[0]));
    prom_histogram(&b, &h);
    prom_put(&b, "vc_signal_join_latency_ms_sum %.3f\n", st->join_latency_sum_ms);
    prom_put(&b, "vc_signal_join_latency_ms_count %" PRIu64 "\n", st->join_latency_count);
    if (io->clustered) {
        const struct prom_metric c[] = {
            {"vc_signal_redis_up", "gauge", "1 while Redis answers (else /readyz is 503).",
             io->redis_up},
            {"vc_signal_cluster_published_total", "counter", "Messages sent to other nodes.",
             io->cluster_published},
            {"vc_signal_cluster_received_total", "counter", "Messages from other nodes.",
             io->cluster_received},
            {"vc_signal_proxied_joins_total", "counter", "Joins passed on to the room's home node.",
             io->proxied_joins},
            {"vc_signal_takeovers_total", "counter", "Rooms taken over from a lost node.",
             io->takeovers},
        };
        prom_metrics(&b, c, sizeof(c) / sizeof(c[0]));
    }
    signald_metrics_edge(&b, io);
    if (io->webhooks)
        signald_metrics_webhooks(&b, io->webhooks);
    return b.len;
}
