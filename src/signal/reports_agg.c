/* The daily figures of the consultation reports: days as dates, consultations summed up per day
 * (nearest-rank percentiles, shares of completed calls by path, browser and OS mix), as JSON or
 * CSV. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "vc/accounts.h"
#include "vc/reports.h"
#include "vc/sigmsg.h"
#include "vc/store.h"

#define REPORTS_SECONDS_PER_DAY 86400
#define REPORTS_DAY_MAX 2932896 /* 9999-12-31 */
/* Values one day's percentiles are taken over, at most (waits and call lengths each). */
#define REPORTS_VALUES_MAX (1u << 22)
#define REPORTS_CSV_LINE_MAX 512

/* The families call.summary counts (useragent.h); any other name counts as "other". */
static const char *const reports_browsers[] = {"chrome",  "firefox", "safari", "edge",
                                               "samsung", "opera",   "other"};
static const char *const reports_os[] = {"android", "ios",      "windows", "macos",
                                         "linux",   "chromeos", "other"};
#define REPORTS_NBROWSERS (sizeof(reports_browsers) / sizeof(reports_browsers[0]))
#define REPORTS_NOS (sizeof(reports_os) / sizeof(reports_os[0]))

/* ---- days ---- */

int64_t reports_day_of(int64_t unix_s)
{
    return unix_s >= 0 ? unix_s / REPORTS_SECONDS_PER_DAY
                       : -((-unix_s + REPORTS_SECONDS_PER_DAY - 1) / REPORTS_SECONDS_PER_DAY);
}

void reports_day_format(int64_t day, char out[REPORTS_DATE_LEN + 1])
{
    time_t t = (time_t)(day * REPORTS_SECONDS_PER_DAY);
    struct tm tm;

    if (!gmtime_r(&t, &tm) || strftime(out, REPORTS_DATE_LEN + 1, "%Y-%m-%d", &tm) == 0)
        snprintf(out, REPORTS_DATE_LEN + 1, "0000-00-00");
}

/* n decimal digits of s as a number, or -1 when one is not a digit. */
static int reports_digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int reports_day_parse(const char *s, size_t len, int64_t *day)
{
    struct tm tm = {0};
    int y, m, d;
    time_t t;

    if (!s || len != REPORTS_DATE_LEN || s[4] != '-' || s[7] != '-')
        return -EINVAL;
    y = reports_digits(s, 4);
    m = reports_digits(s + 5, 2);
    d = reports_digits(s + 8, 2);
    if (y < 1970 || m < 1 || m > 12 || d < 1 || d > 31)
        return -EINVAL;
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    t = timegm(&tm);
    /* timegm() moves 2026-02-30 on to March: such a date is not one. */
    if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != m - 1)
        return -EINVAL;
    *day = reports_day_of((int64_t)t);
    return *day <= REPORTS_DAY_MAX ? 0 : -EINVAL;
}

/* ---- one day ---- */

/* A growable list of values, for one day's percentiles. */
struct reports_values {
    int64_t *v;
    size_t n, cap;
};

/* One day's figures; the percentiles are -1 without a value. */
struct reports_fig {
    unsigned consultations, completed, no_shows, media_failed;
    unsigned direct, relayed, known; /* completed calls by the path they reported */
    int64_t wait_p50, wait_p90, call_p50, call_p90;
    unsigned browsers[REPORTS_NBROWSERS], os[REPORTS_NOS];
};

struct reports_agg {
    int64_t from, to;
    struct reports_fig *days; /* to - from + 1 */
    int64_t open;             /* the last day counted (from at first) */
    bool gathering;           /* its values are in waits and calls */
    struct reports_values waits, calls;
};

static int reports_values_add(struct reports_values *l, int64_t v)
{
    if (l->n == REPORTS_VALUES_MAX)
        return 0; /* a day this busy: its percentiles are those of its first values */
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int64_t *nv = realloc(l->v, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
    return 0;
}

static int reports_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

static void reports_sort(struct reports_values *l)
{
    if (l->n > 1) /* an empty list may have no array at all */
        qsort(l->v, l->n, sizeof(int64_t), reports_cmp);
}

/* The nearest-rank percentile of sorted values: the smallest value with at least pct% of the
 * values at or below it, that is the value of rank ceil(pct / 100 * n); -1 without values. */
static int64_t reports_rank(const struct reports_values *l, unsigned pct)
{
    size_t rank = (pct * l->n + 99) / 100;

    return l->n ? l->v[rank ? rank - 1 : 0] : -1;
}

/* Takes the open day's percentiles and empties the lists for the next day. */
static void reports_close_day(struct reports_agg *g)
{
    struct reports_fig *f;

    if (!g->gathering)
        return;
    f = &g->days[g->open - g->from];
    reports_sort(&g->waits);
    reports_sort(&g->calls);
    f->wait_p50 = reports_rank(&g->waits, 50);
    f->wait_p90 = reports_rank(&g->waits, 90);
    f->call_p50 = reports_rank(&g->calls, 50);
    f->call_p90 = reports_rank(&g->calls, 90);
    g->waits.n = g->calls.n = 0;
    g->gathering = false;
}

struct reports_agg *reports_agg_new(int64_t from, int64_t to)
{
    struct reports_agg *g;

    if (to < from || to - from + 1 > REPORTS_RANGE_MAX_DAYS || !(g = calloc(1, sizeof(*g))))
        return NULL;
    g->days = calloc((size_t)(to - from + 1), sizeof(*g->days));
    if (!g->days) {
        free(g);
        return NULL;
    }
    g->from = from;
    g->to = to;
    g->open = from;
    for (int64_t d = 0; d <= to - from; d++)
        g->days[d].wait_p50 = g->days[d].wait_p90 = g->days[d].call_p50 = g->days[d].call_p90 = -1;
    return g;
}

void reports_agg_free(struct reports_agg *g)
{
    if (!g)
        return;
    free(g->waits.v);
    free(g->calls.v);
    free(g->days);
    free(g);
}

/* Counts the "name:n,name:n" of list into counts, by the position of name in names (any other
 * name counts as the last, "other"). */
static void reports_tally(const char *list, const char *const *names, size_t nnames,
                          unsigned *counts)
{
    for (const char *p = list; *p; p += *p == ',') {
        size_t len = strcspn(p, ":,"), k = 0;
        long n = p[len] == ':' ? strtol(p + len + 1, NULL, 10) : 0;

        while (k + 1 < nnames && !(strlen(names[k]) == len && memcmp(names[k], p, len) == 0))
            k++;
        if (n > 0 && n <= 1000)
            counts[k] += (unsigned)n;
        p += strcspn(p, ",");
    }
}

/* Adds each wait of "1200,3400" to the day's list. */
static int reports_add_waits(struct reports_agg *g, const char *list)
{
    int rc = 0;

    for (const char *p = list; *p && rc == 0; p += strcspn(p, ","), p += *p == ',') {
        char *end;
        long long v = strtoll(p, &end, 10);

        if (end != p && v >= 0)
            rc = reports_values_add(&g->waits, v);
    }
    return rc;
}

/* A call with a host and a guest admitted is completed; the guest never came is a no-show. A
 * completed call that reported no media path got no media (docs/api.md). */
int reports_agg_add(struct reports_agg *g, const struct store_report_row *row)
{
    bool completed = row->hosts > 0 && row->guests > 0;
    struct reports_fig *f;
    int rc;

    if (row->day < g->from || row->day > g->to || row->day < g->open)
        return -EINVAL;
    if (row->day != g->open)
        reports_close_day(g);
    g->open = row->day;
    g->gathering = true;
    f = &g->days[row->day - g->from];
    f->consultations++;
    f->no_shows += row->guests == 0;
    if (completed) {
        f->completed++;
        f->media_failed += strcmp(row->path, "unknown") == 0;
        f->direct += strcmp(row->path, "p2p") == 0;
        f->relayed += strcmp(row->path, "relay") == 0 || strcmp(row->path, "mixed") == 0;
        f->known += strcmp(row->path, "unknown") != 0;
        if ((rc = reports_values_add(&g->calls, row->duration_s)) < 0)
            return rc;
    }
    reports_tally(row->browsers, reports_browsers, REPORTS_NBROWSERS, f->browsers);
    reports_tally(row->os, reports_os, REPORTS_NOS, f->os);
    return reports_add_waits(g, row->waits_ms);
}

/* ---- loading ---- */

struct reports_load {
    struct reports_agg *g;
    int rc;
};

static int reports_load_row(void *arg, const struct store_report_row *row)
{
    struct reports_load *l = arg;
    int rc = reports_agg_add(l->g, row);

    if (rc == -ENOMEM)
        l->rc = rc;
    return rc == -ENOMEM;
}

int reports_agg_load(struct reports_agg *g, struct accounts *a, const char *owner, int64_t user_id)
{
    struct reports_load l = {g, 0};
    struct store *s = accounts_lock(a);
    int rc = s->ops->reports->each(s, g->from, g->to, owner, user_id, reports_load_row, &l);

    accounts_unlock(a);
    reports_close_day(g);
    return rc < 0 ? -EIO : l.rc;
}

/* ---- output ---- */

/* A share of part in whole, percent to one decimal; -1 when whole is 0. */
static double reports_pct(unsigned part, unsigned whole)
{
    return whole ? (double)(int64_t)(part * 1000.0 / whole + 0.5) / 10.0 : -1.0;
}

static json_t *reports_json_int(int64_t v)
{
    return v < 0 ? json_null() : json_integer(v);
}

static json_t *reports_json_pct(double v)
{
    return v < 0 ? json_null() : json_real(v);
}

/* {"chrome": 2, ...}: the families counted, in the table's order. */
static json_t *reports_json_mix(const unsigned *counts, const char *const *names, size_t n)
{
    json_t *o = json_object();

    for (size_t i = 0; o && i < n; i++)
        if (counts[i] && json_object_set_new(o, names[i], json_integer(counts[i])) < 0) {
            json_decref(o);
            o = NULL;
        }
    return o;
}

static json_t *reports_json_day(int64_t day, const struct reports_fig *f)
{
    char date[REPORTS_DATE_LEN + 1];

    reports_day_format(day, date);
    return json_pack("{s:s,s:i,s:i,s:i,s:{s:o,s:o},s:{s:o,s:o},s:o,s:o,s:i,s:o,s:o}", "date", date,
                     "consultations", (int)f->consultations, "completed", (int)f->completed,
                     "no_shows", (int)f->no_shows, "wait_ms", "p50", reports_json_int(f->wait_p50),
                     "p90", reports_json_int(f->wait_p90), "call_s", "p50",
                     reports_json_int(f->call_p50), "p90", reports_json_int(f->call_p90),
                     "direct_pct", reports_json_pct(reports_pct(f->direct, f->known)),
                     "relayed_pct", reports_json_pct(reports_pct(f->relayed, f->known)),
                     "media_failed", (int)f->media_failed, "browsers",
                     reports_json_mix(f->browsers, reports_browsers, REPORTS_NBROWSERS), "os",
                     reports_json_mix(f->os, reports_os, REPORTS_NOS));
}

json_t *reports_agg_json(struct reports_agg *g)
{
    json_t *days = json_array();

    reports_close_day(g);
    for (int64_t d = g->from; days && d <= g->to; d++) {
        if (json_array_append_new(days, reports_json_day(d, &g->days[d - g->from])) < 0) {
            json_decref(days);
            days = NULL;
        }
    }
    return days ? json_pack("{s:o}", "days", days) : NULL;
}

/* Appends v to line (at off, within REPORTS_CSV_LINE_MAX) as a CSV cell: a number, or empty. */
static size_t reports_csv_int(char *line, size_t off, int64_t v)
{
    if (v < 0)
        return off + (size_t)snprintf(line + off, REPORTS_CSV_LINE_MAX - off, ",");
    return off + (size_t)snprintf(line + off, REPORTS_CSV_LINE_MAX - off, ",%" PRId64, v);
}

static size_t reports_csv_pct(char *line, size_t off, double v)
{
    if (v < 0)
        return off + (size_t)snprintf(line + off, REPORTS_CSV_LINE_MAX - off, ",");
    return off + (size_t)snprintf(line + off, REPORTS_CSV_LINE_MAX - off, ",%.1f", v);
}

/* The header: the JSON's fields flattened, then a column per browser and OS family. */
static int reports_csv_header(struct sigmsg_buf *out)
{
    char line[REPORTS_CSV_LINE_MAX];
    size_t off = (size_t)snprintf(line, sizeof(line),
                                  "date,consultations,completed,no_shows,wait_ms_p50,wait_ms_p90,"
                                  "call_s_p50,call_s_p90,direct_pct,relayed_pct,media_failed");

    for (size_t i = 0; i < REPORTS_NBROWSERS; i++)
        off += (size_t)snprintf(line + off, sizeof(line) - off, ",browser_%s", reports_browsers[i]);
    for (size_t i = 0; i < REPORTS_NOS; i++)
        off += (size_t)snprintf(line + off, sizeof(line) - off, ",os_%s", reports_os[i]);
    off += (size_t)snprintf(line + off, sizeof(line) - off, "\r\n");
    return sigmsg_buf_add(out, line, off);
}

static int reports_csv_day(struct sigmsg_buf *out, int64_t day, const struct reports_fig *f)
{
    char line[REPORTS_CSV_LINE_MAX], date[REPORTS_DATE_LEN + 1];
    size_t off;

    reports_day_format(day, date);
    off = (size_t)snprintf(line, sizeof(line), "%s,%u,%u,%u", date, f->consultations, f->completed,
                           f->no_shows);
    off = reports_csv_int(line, off, f->wait_p50);
    off = reports_csv_int(line, off, f->wait_p90);
    off = reports_csv_int(line, off, f->call_p50);
    off = reports_csv_int(line, off, f->call_p90);
    off = reports_csv_pct(line, off, reports_pct(f->direct, f->known));
    off = reports_csv_pct(line, off, reports_pct(f->relayed, f->known));
    off = reports_csv_int(line, off, f->media_failed);
    for (size_t i = 0; i < REPORTS_NBROWSERS; i++)
        off = reports_csv_int(line, off, f->browsers[i]);
    for (size_t i = 0; i < REPORTS_NOS; i++)
        off = reports_csv_int(line, off, f->os[i]);
    off += (size_t)snprintf(line + off, sizeof(line) - off, "\r\n");
    return off < sizeof(line) ? sigmsg_buf_add(out, line, off) : -EMSGSIZE;
}

int reports_agg_csv(struct reports_agg *g, struct sigmsg_buf *out)
{
    int rc;

    reports_close_day(g);
    out->len = 0;
    rc = reports_csv_header(out);
    for (int64_t d = g->from; rc == 0 && d <= g->to; d++)
        rc = reports_csv_day(out, d, &g->days[d - g->from]);
    if (rc < 0)
        out->len = 0;
    return rc;
}
