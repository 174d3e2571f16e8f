/* Tests of the Prometheus text writer: metric lines, cumulative histograms, truncation at the cap.
 */
#include <inttypes.h>

#include "vc/prom.h"
#include "test.h"

TEST(prom_writes_help_type_and_sample)
{
    char out[256];
    struct prom_buf b;
    const struct prom_metric m[] = {
        {"x_total", "counter", "Things.", 18446744073709551615ULL},
        {"y", "gauge", "Now.", 3},
    };

    prom_init(&b, out, sizeof(out));
    prom_metrics(&b, m, 2);
    CHECK_STR(out, "# HELP x_total Things.\n# TYPE x_total counter\n"
                   "x_total 18446744073709551615\n"
                   "# HELP y Now.\n# TYPE y gauge\ny 3\n");
    CHECK_INT(b.len, strlen(out));
}

TEST(prom_histogram_buckets_are_cumulative_and_end_in_inf)
{
    static const uint64_t le[2] = {10, 100};
    static const uint64_t counts[3] = {1, 2, 4};
    const struct prom_histogram h = {"lat", "Latency.", le, counts, 3};
    char out[256];
    struct prom_buf b;

    prom_init(&b, out, sizeof(out));
    CHECK_INT(prom_histogram(&b, &h), 7);
    CHECK_STR(out,
              "# HELP lat Latency.\n# TYPE lat histogram\n"
              "lat_bucket{le=\"10\"} 1\nlat_bucket{le=\"100\"} 3\nlat_bucket{le=\"+Inf\"} 7\n");
}

TEST(prom_truncates_at_the_cap_and_stays_terminated)
{
    char out[16];
    struct prom_buf b;

    memset(out, 'z', sizeof(out));
    prom_init(&b, out, sizeof(out));
    prom_put(&b, "%s", "0123456789");
    prom_put(&b, "%s", "abcdefghij");
    prom_put(&b, "%s", "more");
    CHECK_INT(b.len, sizeof(out) - 1);
    CHECK_STR(out, "0123456789abcde");
}

TEST(prom_accepts_a_zero_sized_buffer)
{
    struct prom_buf b;

    prom_init(&b, NULL, 0);
    prom_put(&b, "%d", 1);
    CHECK_INT(b.len, 0);
}

TEST(prom_family_writes_one_labelled_sample_per_value)
{
    static const char *const values[2] = {"per_ip", "other"};
    static const uint64_t counts[2] = {3, 0};
    const struct prom_family f = {"x_refused_total", "Refusals.", "reason", values, counts, 2};
    char out[256];
    struct prom_buf b;

    prom_init(&b, out, sizeof(out));
    prom_family(&b, &f);
    CHECK_STR(out, "# HELP x_refused_total Refusals.\n# TYPE x_refused_total counter\n"
                   "x_refused_total{reason=\"per_ip\"} 3\nx_refused_total{reason=\"other\"} 0\n");
}
