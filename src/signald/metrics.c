/* vc-signal's /metrics text (Prometheus exposition format) and the CIDR allow-list for it. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "vc/hub.h"
#include "signald.h"

struct metrics_buf {
    char *p;
    size_t len, cap;
};

static void metrics_put(struct metrics_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void metrics_put(struct metrics_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->len + 1 >= b->cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    b->len += (size_t)n;
    if (b->len >= b->cap)
        b->len = b->cap - 1;
}

static void metrics_one(struct metrics_buf *b, const char *name, const char *type, const char *help,
                        uint64_t v)
{
    metrics_put(b, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name, v);
}

size_t signald_metrics_format(const struct hub_stats *st, size_t rooms, size_t connections,
                              char *out, size_t outlen)
{
    static const char *const le[8] = {"10", "25", "50", "100", "250", "500", "1000", "+Inf"};
    struct metrics_buf b = {out, 0, outlen};
    uint64_t cum = 0;

    if (outlen == 0)
        return 0;
    out[0] = '\0';
    metrics_one(&b, "vc_signal_rooms", "gauge", "Live rooms.", rooms);
    metrics_one(&b, "vc_signal_connections", "gauge", "Open WebSocket connections.", connections);
    metrics_one(&b, "vc_signal_messages_relayed_total", "counter", "Signal messages forwarded.",
                st->messages_relayed);
    metrics_one(&b, "vc_signal_joins_total", "counter", "Successful joins.", st->joins);
    metrics_one(&b, "vc_signal_resumes_total", "counter", "Sessions resumed.", st->resumes);
    metrics_one(&b, "vc_signal_knocks_total", "counter", "Lobby knocks.", st->knocks);
    metrics_one(&b, "vc_signal_denied_total", "counter", "Guests denied by a host.", st->denied);
    metrics_one(&b, "vc_signal_errors_total", "counter", "Error messages sent to clients.",
                st->errors);
    metrics_one(&b, "vc_signal_rate_limited_total", "counter",
                "Messages refused by the per-connection rate limit.", st->rate_limited);
    metrics_put(&b, "# HELP vc_signal_join_latency_ms Time from join to joined.\n"
                    "# TYPE vc_signal_join_latency_ms histogram\n");
    for (unsigned i = 0; i < 8; i++) {
        cum += st->join_latency_buckets[i];
        metrics_put(&b, "vc_signal_join_latency_ms_bucket{le=\"%s\"} %" PRIu64 "\n", le[i], cum);
    }
    metrics_put(&b, "vc_signal_join_latency_ms_sum %.3f\n", st->join_latency_sum_ms);
    metrics_put(&b, "vc_signal_join_latency_ms_count %" PRIu64 "\n", st->join_latency_count);
    return b.len;
}

int signald_cidr_parse(const char *text, struct signald_cidr *out)
{
    char ip[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(text, '/');
    size_t iplen = slash ? (size_t)(slash - text) : strlen(text);
    unsigned long prefix;
    char *end;

    if (iplen == 0 || iplen >= sizeof(ip))
        return -EINVAL;
    memcpy(ip, text, iplen);
    ip[iplen] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, ip, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, ip, out->addr) == 1)
        out->family = AF_INET6;
    else
        return -EINVAL;
    out->prefix = out->family == AF_INET ? 32 : 128;
    if (slash) {
        if (slash[1] < '0' || slash[1] > '9')
            return -EINVAL;
        prefix = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || prefix > out->prefix)
            return -EINVAL;
        out->prefix = (unsigned)prefix;
    }
    return 0;
}

static bool metrics_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned bytes = bits / 8, rest = bits % 8;

    if (memcmp(a, b, bytes) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

bool signald_cidr_match(const struct signald_cidr *list, unsigned n, const char *ip)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint8_t a[16];
    int family;

    if (inet_pton(AF_INET, ip, a) == 1) {
        family = AF_INET;
    } else if (inet_pton(AF_INET6, ip, a) == 1) {
        family = AF_INET6;
        if (memcmp(a, mapped, sizeof(mapped)) == 0) {
            memmove(a, a + 12, 4);
            family = AF_INET;
        }
    } else {
        return false;
    }
    for (unsigned i = 0; i < n; i++)
        if (list[i].family == family && metrics_prefix_equal(a, list[i].addr, list[i].prefix))
            return true;
    return false;
}
