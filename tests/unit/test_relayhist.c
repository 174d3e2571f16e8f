/* Tests of vc-load's delay histogram: bucket layout, quantiles, merging runs, the JSON form. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "../../src/load/relay.h"
#include "../../src/load/relay_hist.h"
#include "test.h"

/* Within the 1.6 % width of a bucket. */
static bool near(double got, double want)
{
    return fabs(got - want) <= want * 0.017;
}

TEST(relayhist_buckets_hold_their_values)
{
    static const int64_t v[] = {0,   1,    127,    128,     129,       130,         255,
                                256, 1000, 999999, 1000000, 123456789, 2000000000LL};
    struct relay_stats *s = calloc(1, sizeof(*s));

    CHECK(relay_hist_lower_ns(128) == 128);
    CHECK(relay_hist_lower_ns(129) == 130);
    CHECK(relay_hist_lower_ns(128 + 64) == 256);
    for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++) {
        memset(s->hist, 0, sizeof(s->hist));
        relay_stats_record_delay(s, v[k]);
        for (unsigned i = 0; i < RELAY_HIST_N; i++) {
            if (s->hist[i] != 0 &&
                !CHECK(relay_hist_lower_ns(i) <= v[k] && v[k] < relay_hist_lower_ns(i + 1))) {
                fprintf(stderr, "  %lld ns in bucket %u\n", (long long)v[k], i);
            }
        }
    }
    free(s);
}

TEST(relayhist_quantiles_of_one_run)
{
    struct relay_stats *s = calloc(1, sizeof(*s));

    for (int i = 1; i <= 1000; i++) {
        relay_stats_record_delay(s, (int64_t)i * 1000); /* 1 us .. 1 ms */
    }
    CHECK(near(relay_stats_quantile_us(s, 0.5), 500));
    CHECK(near(relay_stats_quantile_us(s, 0.99), 990));
    CHECK(near(relay_stats_quantile_us(s, 0.999), 999));
    memset(s, 0, sizeof(*s));
    CHECK(relay_stats_quantile_us(s, 0.99) == 0);
    free(s);
}

/* Two machines: one saw a fast relay, one a slow tail; the merged p99 is the tail's, which no
 * average of the two runs' percentiles gives. */
TEST(relayhist_merge_adds_counts_and_quantiles_follow)
{
    struct relay_stats *a = calloc(3, sizeof(*a));
    struct relay_stats *b = a + 1;
    struct relay_stats *m = a + 2;

    for (int i = 0; i < 980; i++) {
        relay_stats_record_delay(a, 100000); /* 100 us */
    }
    for (int i = 0; i < 20; i++) {
        relay_stats_record_delay(b, 20000000); /* 20 ms */
    }
    a->sent = 1000;
    a->received = 980;
    b->sent = 20;
    b->received = 20;
    relay_stats_add(m, a, b);
    CHECK_INT(m->sent, 1020);
    CHECK_INT(m->received, 1000);
    CHECK(near(relay_stats_loss_pct(m), 100.0 * 20 / 1020));
    CHECK(near(relay_stats_quantile_us(m, 0.5), 100));
    CHECK(near(relay_stats_quantile_us(m, 0.98), 100));
    CHECK(near(relay_stats_quantile_us(m, 0.99), 20000));
    CHECK(near(relay_stats_quantile_us(m, 0.999), 20000));
    free(a);
}

TEST(relayhist_json_round_trip_merges_like_memory)
{
    struct relay_stats *a = calloc(4, sizeof(*a));
    struct relay_stats *b = a + 1;
    struct relay_stats *mem = a + 2;
    struct relay_stats *js = a + 3;
    char err[128];

    for (int i = 0; i < 500; i++) {
        relay_stats_record_delay(a, 1000 + i * 37);
        relay_stats_record_delay(b, 5000000 + i * 9001);
    }
    relay_stats_add(mem, a, b);
    json_t *ja = relay_hist_json(a);
    json_t *jb = relay_hist_json(b);
    CHECK_INT(relay_hist_add_json(js, ja, err, sizeof(err)), 0);
    CHECK_INT(relay_hist_add_json(js, jb, err, sizeof(err)), 0);
    CHECK_MEM(js->hist, mem->hist, sizeof(js->hist));
    CHECK(relay_stats_quantile_us(js, 0.99) == relay_stats_quantile_us(mem, 0.99));
    json_object_set_new(ja, "buckets_total", json_integer(RELAY_HIST_N + 1));
    CHECK_INT(relay_hist_add_json(js, ja, err, sizeof(err)), -EINVAL);
    json_object_set_new(jb, "buckets", json_pack("[[i,f,i]]", RELAY_HIST_N, 0.0, 1));
    CHECK_INT(relay_hist_add_json(js, jb, err, sizeof(err)), -EINVAL);
    json_decref(ja);
    json_decref(jb);
    free(a);
}
