/* Prometheus text exposition format written into a caller's fixed buffer, truncated at its cap. */
#ifndef VC_PROM_H
#define VC_PROM_H

#include <stddef.h>
#include <stdint.h>

/* Output into p (borrowed, cap bytes, always NUL-terminated): writes past cap are cut off. */
struct prom_buf {
    char *p;
    size_t len, cap;
};

/* One counter or gauge. */
struct prom_metric {
    const char *name;
    const char *type; /* "counter" or "gauge" */
    const char *help;
    uint64_t value;
};

/* A histogram's buckets: counts[i] observations (not cumulative) fell at or below bounds[i]; the
 * last bucket, counts[n - 1], is le="+Inf" and has no bound. */
struct prom_histogram {
    const char *name;
    const char *help;
    const uint64_t *bounds; /* n - 1 upper bounds, ascending */
    const uint64_t *counts; /* n per-bucket counts */
    unsigned n;
};

/* A counter family with one label: NAME{LABEL="values[i]"} counts[i] for each of n values. */
struct prom_family {
    const char *name;
    const char *help;
    const char *label;
    const char *const *values;
    const uint64_t *counts;
    size_t n;
};

/* Starts an empty text in out (borrowed, outlen bytes; outlen may be 0). */
void prom_init(struct prom_buf *b, char *out, size_t outlen);

/* Appends printf-formatted text. */
void prom_put(struct prom_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends the HELP, TYPE and sample lines of each of the n metrics. */
void prom_metrics(struct prom_buf *b, const struct prom_metric *m, size_t n);

/* Appends the HELP and TYPE (counter) lines and one sample line per label value. */
void prom_family(struct prom_buf *b, const struct prom_family *f);

/* Appends the HELP and TYPE lines and the cumulative NAME_bucket{le="..."} lines; the caller adds
 * NAME_sum and NAME_count (their formats differ). Returns the total count. */
uint64_t prom_histogram(struct prom_buf *b, const struct prom_histogram *h);

#endif
