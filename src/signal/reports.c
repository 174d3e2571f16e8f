/* The consultations from the metadata log's tap, on the service thread: each admitted guest's
 * wait (peer.admitted) is held by room until its call.summary, whose room, owner, team, roles,
 * time together, path and browser and OS families make the row written to the database; then
 * the retry of refused rows, the daily purge and the sweep of waits whose room ended elsewhere. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vc/accounts.h"
#include "vc/log.h"
#include "vc/reports.h"
#include "vc/store.h"

/* Rooms whose waits are held at once, at most (a room is held from its first admission), and
 * the buckets they hash to (chains stay short up to a few times this many live rooms). */
#define REPORTS_PENDING_MAX (1u << 20)
#define REPORTS_BUCKETS 4096
/* A room lives a day and its TURN margin another at most: waits older than this went elsewhere. */
#define REPORTS_PENDING_TTL_S (3 * 86400)
#define REPORTS_SWEEP_EVERY_S 3600
#define REPORTS_RETRIES_PER_TICK 8
/* A failing database is reported at most this often. */
#define REPORTS_NOTE_EVERY_S 60
#define REPORTS_FAMILY_MAX 15

/* The waits of one room's admitted guests, until its call.summary. */
struct reports_pending {
    struct reports_pending *next; /* the bucket's chain */
    char room[STORE_REPORT_ROOM_MAX + 1];
    int64_t since_s; /* when its first wait came */
    unsigned nwaits;
    int64_t waits[REPORTS_WAITS_MAX];
};

struct reports {
    struct accounts *a; /* borrowed */
    pthread_t thread;   /* the one whose events count */
    unsigned retention_days;
    int64_t now_s;                    /* the last tick's clock */
    struct reports_pending **buckets; /* REPORTS_BUCKETS chains */
    size_t count;
    int64_t purged_day; /* the day whose purge finished (0: none yet) */
    unsigned purged;    /* rows deleted by the purge under way */
    int64_t swept_s;
    struct store_report_row *retry; /* REPORTS_RETRY_MAX rows refused by the database, a ring */
    unsigned retry_head, nretry;
    int64_t noted_s; /* a failure was last logged */
};

int reports_new(struct accounts *a, unsigned retention_days, int64_t now_s, struct reports **out)
{
    struct reports *r = calloc(1, sizeof(*r));

    *out = NULL;
    if (!r || !(r->retry = calloc(REPORTS_RETRY_MAX, sizeof(*r->retry))) ||
        !(r->buckets = calloc(REPORTS_BUCKETS, sizeof(*r->buckets)))) {
        reports_free(r);
        return -ENOMEM;
    }
    r->a = a;
    r->thread = pthread_self();
    r->now_s = r->swept_s = now_s;
    reports_set_retention(r, retention_days);
    *out = r;
    return 0;
}

void reports_free(struct reports *r)
{
    if (!r)
        return;
    if (r->nretry)
        log_msg(LOG_LEVEL_WARN, "reports: %u consultations were not written (the database failed)",
                r->nretry);
    for (size_t i = 0; r->buckets && i < REPORTS_BUCKETS; i++)
        for (struct reports_pending *p = r->buckets[i], *next; p; p = next) {
            next = p->next;
            free(p);
        }
    free(r->buckets);
    free(r->retry);
    free(r);
}

void reports_set_retention(struct reports *r, unsigned days)
{
    r->retention_days = days < REPORTS_RETENTION_MIN   ? REPORTS_RETENTION_MIN
                        : days > REPORTS_RETENTION_MAX ? REPORTS_RETENTION_MAX
                                                       : days;
}

/* Logs a failure of the database at most once a minute. */
static void reports_note(struct reports *r, const char *what)
{
    if (r->noted_s && r->now_s - r->noted_s < REPORTS_NOTE_EVERY_S)
        return;
    r->noted_s = r->now_s;
    log_msg(LOG_LEVEL_WARN, "reports: %s: the account database failed or did not answer", what);
}

/* ---- waits held by room ---- */

static size_t reports_hash(const char *room)
{
    uint64_t x = 1469598103934665603ULL;

    for (; *room; room++)
        x = (x ^ (uint8_t)*room) * 1099511628211ULL;
    return (size_t)(x ^ (x >> 31));
}

/* The slot that holds room's entry, or the empty one at the end of its chain. */
static struct reports_pending **reports_slot(struct reports *r, const char *room)
{
    struct reports_pending **pp = &r->buckets[reports_hash(room) % REPORTS_BUCKETS];

    while (*pp && strcmp((*pp)->room, room) != 0)
        pp = &(*pp)->next;
    return pp;
}

/* A guest of room was admitted after waiting wait_ms. */
static void reports_hold_wait(struct reports *r, const char *room, int64_t wait_ms)
{
    struct reports_pending **pp = reports_slot(r, room), *p;

    if (!*pp) {
        if (r->count >= REPORTS_PENDING_MAX || !(p = calloc(1, sizeof(*p))))
            return; /* the room is still reported, without this wait */
        memcpy(p->room, room, strlen(room) + 1);
        p->since_s = r->now_s;
        *pp = p;
        r->count++;
    }
    if ((*pp)->nwaits < REPORTS_WAITS_MAX)
        (*pp)->waits[(*pp)->nwaits++] = wait_ms;
}

/* Moves room's waits into list ("1200,3400") and forgets them. */
static void reports_take_waits(struct reports *r, const char *room, char *list, size_t len)
{
    struct reports_pending **pp = reports_slot(r, room), *p;
    size_t off = 0;

    list[0] = '\0';
    if (!(p = *pp))
        return;
    for (unsigned i = 0; i < p->nwaits && off < len; i++)
        off += (size_t)snprintf(list + off, len - off, "%s%" PRId64, i ? "," : "", p->waits[i]);
    if (off >= len) { /* a list cut short would end in a wrong number: it goes */
        char *comma = strrchr(list, ',');
        *(comma ? comma : list) = '\0';
    }
    *pp = p->next;
    free(p);
    r->count--;
}

/* Forgets the waits of rooms that never ended here (they moved to another node). */
static void reports_sweep(struct reports *r)
{
    for (size_t i = 0; i < REPORTS_BUCKETS; i++)
        for (struct reports_pending **pp = &r->buckets[i], *p; (p = *pp);) {
            if (r->now_s - p->since_s < REPORTS_PENDING_TTL_S) {
                pp = &p->next;
                continue;
            }
            *pp = p->next;
            free(p);
            r->count--;
        }
    r->swept_s = r->now_s;
}

/* ---- the row ---- */

/* A string field of at most max bytes into out; false when absent, not a string or too long. */
static bool reports_field(json_t *line, const char *key, char *out, size_t max)
{
    json_t *v = json_object_get(line, key);
    size_t n = json_is_string(v) ? json_string_length(v) : max + 1;

    if (n > max)
        return false;
    memcpy(out, json_string_value(v), n + 1);
    return true;
}

/* {"chrome": 1, "firefox": 1} as "chrome:1,firefox:1" into out (STORE_REPORT_LIST_MAX + 1
 * bytes); a name that is not a short lower-case word counts as "other". */
static void reports_families(json_t *tally, char *out)
{
    size_t off = 0, len = STORE_REPORT_LIST_MAX + 1;
    const char *name;
    json_t *n;

    out[0] = '\0';
    json_object_foreach(tally, name, n)
    {
        size_t k = strlen(name);
        bool plain =
            k > 0 && k <= REPORTS_FAMILY_MAX && strspn(name, "abcdefghijklmnopqrstuvwxyz") == k;
        int w;

        if (!json_is_integer(n) || json_integer_value(n) <= 0 || json_integer_value(n) > 1000)
            continue;
        w = snprintf(out + off, len - off, "%s%s:%d", off ? "," : "", plain ? name : "other",
                     (int)json_integer_value(n));
        if (w < 0 || (size_t)w >= len - off) {
            out[off] = '\0'; /* no room for this one: the list ends before it */
            return;
        }
        off += (size_t)w;
    }
}

/* call.summary's path, or "unknown" for a word it does not write. */
static void reports_path(json_t *line, char out[8])
{
    static const char *const paths[] = {"p2p", "relay", "mixed", "unknown"};
    const char *v = json_string_value(json_object_get(line, "path"));

    snprintf(out, 8, "unknown");
    for (size_t i = 0; v && i < sizeof(paths) / sizeof(paths[0]); i++)
        if (strcmp(v, paths[i]) == 0)
            snprintf(out, 8, "%s", paths[i]);
}

/* The consultation call.summary describes, with room's waits; false for a line that lacks a
 * field (the log and this reader disagree). */
static bool reports_row(struct reports *r, json_t *line, struct store_report_row *row)
{
    json_t *team = json_object_get(line, "team");
    const char *ts = json_string_value(json_object_get(line, "ts"));

    memset(row, 0, sizeof(*row));
    if (!reports_field(line, "room", row->room, STORE_REPORT_ROOM_MAX) || !row->room[0] ||
        !reports_field(line, "owner", row->owner, STORE_REPORT_OWNER_MAX) ||
        !(json_is_null(team) || reports_field(line, "team", row->team, STORE_REPORT_TEAM_MAX)) ||
        !ts || strnlen(ts, REPORTS_DATE_LEN) < REPORTS_DATE_LEN ||
        reports_day_parse(ts, REPORTS_DATE_LEN, &row->day) < 0)
        return false;
    row->hosts = (int)json_integer_value(json_object_get(line, "hosts"));
    row->guests = (int)json_integer_value(json_object_get(line, "guests"));
    row->duration_s = json_integer_value(json_object_get(line, "duration_s"));
    reports_path(line, row->path);
    reports_families(json_object_get(line, "browsers"), row->browsers);
    reports_families(json_object_get(line, "os"), row->os);
    reports_take_waits(r, row->room, row->waits_ms, sizeof(row->waits_ms));
    return true;
}

/* Writes a row: 0, or -EIO (the database failed). */
static int reports_write(struct reports *r, const struct store_report_row *row)
{
    struct store *s = accounts_lock(r->a);
    int rc = s->ops->reports->add(s, row);

    accounts_unlock(r->a);
    return rc < 0 ? -EIO : 0;
}

/* Keeps a refused row for the tick to write later; when the ring is full its oldest goes. */
static void reports_keep(struct reports *r, const struct store_report_row *row)
{
    unsigned at = (r->retry_head + r->nretry) % REPORTS_RETRY_MAX;

    if (r->nretry == REPORTS_RETRY_MAX) {
        log_msg(LOG_LEVEL_WARN, "reports: %u consultations wait for the database: one is lost",
                REPORTS_RETRY_MAX);
        r->retry_head = (r->retry_head + 1) % REPORTS_RETRY_MAX;
        r->nretry--;
    }
    r->retry[at] = *row;
    r->nretry++;
}

static void reports_summary(struct reports *r, json_t *line)
{
    struct store_report_row row;

    if (!reports_row(r, line, &row)) {
        log_msg(LOG_LEVEL_WARN, "reports: a call.summary line without its fields");
        return;
    }
    if (r->nretry > 0 || reports_write(r, &row) < 0) { /* in order, after those refused */
        reports_note(r, "a consultation waits to be written");
        reports_keep(r, &row);
    }
}

void reports_tap(void *ctx, const char *event, json_t *line)
{
    struct reports *r = ctx;
    char room[STORE_REPORT_ROOM_MAX + 1];
    json_t *wait;

    /* Only the service thread holds the waits; every hub event is written there. */
    if (!pthread_equal(pthread_self(), r->thread))
        return;
    if (strcmp(event, "call.summary") == 0) {
        reports_summary(r, line);
    } else if (strcmp(event, "peer.admitted") == 0 &&
               reports_field(line, "room", room, STORE_REPORT_ROOM_MAX) &&
               json_is_integer(wait = json_object_get(line, "wait_ms")) &&
               json_integer_value(wait) >= 0) {
        reports_hold_wait(r, room, json_integer_value(wait));
    }
}

/* ---- the tick ---- */

/* Writes a few of the rows the database refused, oldest first, until one fails again. */
static void reports_retry(struct reports *r)
{
    for (unsigned i = 0; i < REPORTS_RETRIES_PER_TICK && r->nretry > 0; i++) {
        if (reports_write(r, &r->retry[r->retry_head]) < 0) {
            reports_note(r, "consultations wait to be written");
            return;
        }
        r->retry_head = (r->retry_head + 1) % REPORTS_RETRY_MAX;
        r->nretry--;
    }
}

/* Once a day: deletes the rows of the days before the retention, a batch a tick. */
static void reports_purge(struct reports *r)
{
    int64_t today = reports_day_of(r->now_s), before = today - r->retention_days + 1;
    char date[REPORTS_DATE_LEN + 1];
    struct store *s;
    int rc;

    if (r->purged_day == today)
        return;
    s = accounts_lock(r->a);
    rc = s->ops->reports->purge(s, before, REPORTS_PURGE_BATCH);
    accounts_unlock(r->a);
    if (rc < 0) {
        reports_note(r, "the daily purge waits");
        return;
    }
    r->purged += (unsigned)rc;
    if (rc == REPORTS_PURGE_BATCH)
        return; /* more next tick */
    if (r->purged) {
        reports_day_format(before, date);
        log_msg(LOG_LEVEL_INFO, "reports: purged %u consultations of the days before %s", r->purged,
                date);
    }
    r->purged = 0;
    r->purged_day = today;
}

void reports_tick(struct reports *r, int64_t now_s)
{
    r->now_s = now_s;
    reports_retry(r);
    reports_purge(r);
    if (now_s - r->swept_s >= REPORTS_SWEEP_EVERY_S)
        reports_sweep(r);
}
