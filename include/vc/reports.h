/* Consultation reports: what the metadata log says of each consultation, written to the account
 * database (store.h's reports group) by the node that ends it, and the daily figures a service
 * manager reads (GET /api/v1/reports/consultations). Metadata only: never a label, a name, a
 * token or a message. */
#ifndef VC_REPORTS_H
#define VC_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct accounts;
struct json_t;
struct sigmsg_buf;
struct store_report_row;

#define REPORTS_RANGE_MAX_DAYS 400 /* days one report may cover */
#define REPORTS_RETENTION_DEFAULT 400
#define REPORTS_RETENTION_MIN 1
#define REPORTS_RETENTION_MAX 3650
#define REPORTS_WAITS_MAX 16    /* admitted guests' waits kept per consultation */
#define REPORTS_DATE_LEN 10     /* "YYYY-MM-DD" */
#define REPORTS_PURGE_BATCH 500 /* consultations one purge statement deletes at most */
#define REPORTS_RETRY_MAX 256   /* consultations kept in memory while the database fails */

/* ---- reports_agg.c: days ---- */

/* A strict "YYYY-MM-DD" (len bytes, no more) from 1970-01-01 to 9999-12-31 into days since
 * 1970-01-01. 0 or -EINVAL. */
int reports_day_parse(const char *s, size_t len, int64_t *day);
/* The day as "YYYY-MM-DD" into out. */
void reports_day_format(int64_t day, char out[REPORTS_DATE_LEN + 1]);
/* The UTC day of a unix time. */
int64_t reports_day_of(int64_t unix_s);

/* ---- reports_agg.c: the daily figures ---- */

/* Consultations of the days from..to, summed up per day. */
struct reports_agg;
/* NULL when out of memory or to < from or the range is over REPORTS_RANGE_MAX_DAYS. */
struct reports_agg *reports_agg_new(int64_t from, int64_t to);
void reports_agg_free(struct reports_agg *g);
/* Counts one consultation (borrowed). Rows come in day order: one of an earlier day than the last,
 * or outside the range, is -EINVAL and not counted. 0, -EINVAL or -ENOMEM. */
int reports_agg_add(struct reports_agg *g, const struct store_report_row *row);
/* Reads the consultations of g's days from the database (owner NULL: every one; else owner's
 * and those of user_id's teams) into g. 0, -EIO or -ENOMEM. */
int reports_agg_load(struct reports_agg *g, struct accounts *a, const char *owner, int64_t user_id);
/* {"days":[{"date", "consultations", ...}, ...]}, every day of the range (the caller frees it),
 * or NULL when out of memory. */
struct json_t *reports_agg_json(struct reports_agg *g);
/* The same as CSV (a header line, then a line a day; CRLF) into out. 0 or -EMSGSIZE/-ENOMEM. */
int reports_agg_csv(struct reports_agg *g, struct sigmsg_buf *out);

/* ---- reports.c: the consultations from the metadata log ---- */

struct reports;

/* Writes through a's store (borrowed; it outlives r). Keeps report rows retention_days days. The
 * thread that calls this is the one whose events count: the service thread. 0 or -ENOMEM. */
int reports_new(struct accounts *a, unsigned retention_days, int64_t now_s, struct reports **out);
void reports_free(struct reports *r);
/* A reload's new retention (REPORTS_RETENTION_MIN..MAX days). */
void reports_set_retention(struct reports *r, unsigned days);
/* The metadata log's tap (see event_log_add_tap): peer.admitted gives a guest's wait, and
 * call.summary (with the room's owner and team) the rest; the consultation is written at once. */
void reports_tap(void *ctx, const char *event, struct json_t *line);
/* Once a second on the service thread: writes what the database refused before (a few at a
 * time), purges rows older than the retention once a day (REPORTS_PURGE_BATCH a tick), and
 * forgets the waits of rooms that ended elsewhere. now_s is the wall clock. */
void reports_tick(struct reports *r, int64_t now_s);

#endif
