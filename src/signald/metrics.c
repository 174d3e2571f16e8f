/* vc-signal's /metrics text (Prometheus exposition format). */
#include <inttypes.h>

#include "vc/hub.h"
#include "vc/prom.h"
#include "signald.h"

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
    prom_put(&b,
             "# HELP vc_signal_ws_refused_total WebSocket upgrades refused, by reason.\n"
             "# TYPE vc_signal_ws_refused_total counter\n"
             "vc_signal_ws_refused_total{reason=\"origin\"} %" PRIu64 "\n"
             "vc_signal_ws_refused_total{reason=\"capacity\"} %" PRIu64 "\n"
             "vc_signal_ws_refused_total{reason=\"rate\"} %" PRIu64 "\n",
             io->refused_origin, io->refused_capacity, io->refused_rate);
    return b.len;
}
