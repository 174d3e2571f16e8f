/* Prometheus text exposition format written into a caller's fixed buffer, truncated at its cap. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "vc/prom.h"

void prom_init(struct prom_buf *b, char *out, size_t outlen)
{
    b->p = out;
    b->len = 0;
    b->cap = outlen;
    if (outlen > 0)
        out[0] = '\0';
}

void prom_put(struct prom_buf *b, const char *fmt, ...)
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

void prom_metrics(struct prom_buf *b, const struct prom_metric *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        prom_put(b, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", m[i].name, m[i].help, m[i].name,
                 m[i].type, m[i].name, m[i].value);
}

uint64_t prom_histogram(struct prom_buf *b, const struct prom_histogram *h)
{
    uint64_t cum = 0;

    prom_put(b, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
    for (unsigned i = 0; i + 1 < h->n; i++) {
        cum += h->counts[i];
        prom_put(b, "%s_bucket{le=\"%" PRIu64 "\"} %" PRIu64 "\n", h->name, h->bounds[i], cum);
    }
    if (h->n > 0)
        cum += h->counts[h->n - 1];
    prom_put(b, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", h->name, cum);
    return cum;
}

void prom_family(struct prom_buf *b, const struct prom_family *f)
{
    prom_put(b, "# HELP %s %s\n# TYPE %s counter\n", f->name, f->help, f->name);
    for (size_t i = 0; i < f->n; i++)
        prom_put(b, "%s{%s=\"%s\"} %" PRIu64 "\n", f->name, f->label, f->values[i], f->counts[i]);
}
