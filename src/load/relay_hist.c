/* The delay histogram in --json results, and back: what `vc-load merge` adds up. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "relay_hist.h"

json_t *relay_hist_json(const struct relay_stats *s)
{
    json_t *buckets = json_array();

    for (unsigned i = 0; i < RELAY_HIST_N; i++) {
        if (s->hist[i] != 0) {
            json_array_append_new(buckets, json_pack("[i,f,I]", (int)i, relay_hist_lower_ns(i),
                                                     (json_int_t)s->hist[i]));
        }
    }
    return json_pack("{s:s,s:s,s:i,s:i,s:i,s:o}", "unit", "ns", "layout", "log-linear",
                     "linear_below", 128, "sub_buckets", 1 << RELAY_HIST_SUB_BITS, "buckets_total",
                     RELAY_HIST_N, "buckets", buckets);
}

int relay_hist_add_json(struct relay_stats *s, const json_t *h, char *err, size_t errlen)
{
    const json_t *buckets = json_object_get(h, "buckets");
    size_t i;
    json_t *b;

    if (!json_is_object(h) ||
        json_integer_value(json_object_get(h, "buckets_total")) != RELAY_HIST_N ||
        json_integer_value(json_object_get(h, "sub_buckets")) != 1 << RELAY_HIST_SUB_BITS ||
        !json_is_array(buckets)) {
        snprintf(err, errlen, "histogram: not vc-load's bucket layout");
        return -EINVAL;
    }
    json_array_foreach(buckets, i, b)
    {
        json_int_t idx = json_integer_value(json_array_get(b, 0));
        json_int_t count = json_integer_value(json_array_get(b, 2));
        if (!json_is_array(b) || idx < 0 || idx >= RELAY_HIST_N || count < 0) {
            snprintf(err, errlen, "histogram: bad bucket %zu", i);
            return -EINVAL;
        }
        s->hist[idx] += (uint64_t)count;
    }
    return 0;
}
