/* Unit tests for the consultation reports: dates, the daily figures from known consultations
 * (nearest-rank percentiles, no-shows, shares, mixes, JSON and CSV), the reports group on both
 * backends (scoping by owner and team, one row per room, the purge in batches), and the
 * consultations written from the metadata log's tap of a real hub, with the daily purge, the
 * retry of refused rows and the sweep of held waits on a fake clock. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "hub_fixture.h"
#include "store_fixture.h"
#include "test.h"
#include "vc/accounts.h"
#include "vc/log.h"
#include "vc/reports.h"
#include "vc/sigmsg.h"
#include "vc/store.h"
#include "vc/teams.h"

#define PW "correct horse battery"
#define DAY0 20000 /* 2024-10-04 */

/* A row of day with its facts; the lists may be NULL for empty. */
static struct store_report_row row_of(int64_t day, int hosts, int guests, int64_t secs,
                                      const char *path, const char *waits, const char *browsers,
                                      const char *os)
{
    struct store_report_row r;

    memset(&r, 0, sizeof(r));
    r.day = day;
    r.hosts = hosts;
    r.guests = guests;
    r.duration_s = secs;
    snprintf(r.path, sizeof(r.path), "%s", path);
    snprintf(r.waits_ms, sizeof(r.waits_ms), "%s", waits ? waits : "");
    snprintf(r.browsers, sizeof(r.browsers), "%s", browsers ? browsers : "");
    snprintf(r.os, sizeof(r.os), "%s", os ? os : "");
    return r;
}

static json_int_t int_at(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);

    return json_integer_value(b ? json_object_get(v, b) : v);
}

static bool null_at(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);

    return json_is_null(b ? json_object_get(v, b) : v);
}

static double real_at(json_t *o, const char *a)
{
    return json_real_value(json_object_get(o, a));
}

/* ---- days ---- */

TEST(reports_days_parse_strictly_and_format_back)
{
    static const char *const bad[] = {"2026-02-29", "2026-13-01", "2026-00-10", "2026-1-01",
                                      "abcd-01-01", "2026-01-32", "1969-12-31", "2026/01/01",
                                      "2026-04-31", "2026-01-0x"};
    char out[REPORTS_DATE_LEN + 1];
    int64_t d = -1;

    CHECK_INT(reports_day_parse("1970-01-01", 10, &d), 0);
    CHECK_INT(d, 0);
    CHECK_INT(reports_day_parse("2024-02-29", 10, &d), 0);
    reports_day_format(d, out);
    CHECK_STR(out, "2024-02-29");
    CHECK_INT(reports_day_parse("2024-10-04", 10, &d), 0);
    CHECK_INT(d, DAY0);
    CHECK_INT(reports_day_parse("2024-10-04x", 11, &d), -EINVAL);
    CHECK_INT(reports_day_parse("2024-10-04", 9, &d), -EINVAL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (!CHECK_INT(reports_day_parse(bad[i], strlen(bad[i]), &d), -EINVAL))
            fprintf(stderr, "    accepted %s\n", bad[i]);
    CHECK_INT(reports_day_of(86399), 0);
    CHECK_INT(reports_day_of(86400), 1);
    CHECK_INT(reports_day_of(-1), -1);
}

/* ---- the daily figures ---- */

/* Three days of known consultations: the first full, the second empty, the third one call. */
static struct reports_agg *known_days(void)
{
    const struct store_report_row rows[] = {
        row_of(DAY0, 1, 1, 120, "p2p", "1000,3000", "chrome:1,firefox:1", "windows:1,linux:1"),
        row_of(DAY0, 1, 1, 300, "relay", "2000", "chrome:2", "macos:2"),
        row_of(DAY0, 1, 1, 60, "mixed", "4000", NULL, NULL),
        row_of(DAY0, 2, 1, 30, "unknown", "5000", NULL, NULL),        /* together, no media */
        row_of(DAY0, 1, 0, 0, "unknown", NULL, "safari:1", "ios:1"),  /* the patient never came */
        row_of(DAY0, 0, 1, 0, "unknown", NULL, "weird:1", "plan9:1"), /* a guest alone */
        row_of(DAY0 + 2, 1, 1, 10, "p2p", NULL, NULL, NULL),
    };
    struct reports_agg *g = reports_agg_new(DAY0, DAY0 + 2);

    for (size_t i = 0; g && i < sizeof(rows) / sizeof(rows[0]); i++)
        CHECK_INT(reports_agg_add(g, &rows[i]), 0);
    return g;
}

TEST(reports_figures_of_known_consultations)
{
    struct reports_agg *g = known_days();
    json_t *j = g ? reports_agg_json(g) : NULL, *days = json_object_get(j, "days");
    json_t *d0 = json_array_get(days, 0), *d1 = json_array_get(days, 1),
           *d2 = json_array_get(days, 2);

    if (!CHECK(j) || !CHECK_INT(json_array_size(days), 3)) {
        reports_agg_free(g);
        json_decref(j);
        return;
    }
    CHECK_STR(json_string_value(json_object_get(d0, "date")), "2024-10-04");
    CHECK_INT(int_at(d0, "consultations", NULL), 6);
    CHECK_INT(int_at(d0, "completed", NULL), 4);
    CHECK_INT(int_at(d0, "no_shows", NULL), 1);
    /* Waits 1000..5000: ranks ceil(2.5) = 3 and ceil(4.5) = 5. */
    CHECK_INT(int_at(d0, "wait_ms", "p50"), 3000);
    CHECK_INT(int_at(d0, "wait_ms", "p90"), 5000);
    /* Completed calls 30, 60, 120, 300 s: ranks 2 and ceil(3.6) = 4. */
    CHECK_INT(int_at(d0, "call_s", "p50"), 60);
    CHECK_INT(int_at(d0, "call_s", "p90"), 300);
    /* Of the three completed calls with a known path, one direct, one relayed, one mixed. */
    CHECK(real_at(d0, "direct_pct") == 33.3);
    CHECK(real_at(d0, "relayed_pct") == 66.7);
    CHECK_INT(int_at(d0, "media_failed", NULL), 1);
    CHECK_INT(int_at(d0, "browsers", "chrome"), 3);
    CHECK_INT(int_at(d0, "browsers", "firefox"), 1);
    CHECK_INT(int_at(d0, "browsers", "safari"), 1);
    CHECK_INT(int_at(d0, "browsers", "other"), 1);
    CHECK_INT(json_object_size(json_object_get(d0, "browsers")), 4);
    CHECK_INT(int_at(d0, "os", "macos"), 2);
    CHECK_INT(int_at(d0, "os", "other"), 1);
    CHECK_STR(json_string_value(json_object_get(d1, "date")), "2024-10-05");
    CHECK_INT(int_at(d1, "consultations", NULL), 0);
    CHECK(null_at(d1, "wait_ms", "p50") && null_at(d1, "call_s", "p90"));
    CHECK(null_at(d1, "direct_pct", NULL) && null_at(d1, "relayed_pct", NULL));
    CHECK_INT(json_object_size(json_object_get(d1, "browsers")), 0);
    CHECK(null_at(d2, "wait_ms", "p50"));
    CHECK_INT(int_at(d2, "call_s", "p50"), 10);
    CHECK_INT(int_at(d2, "call_s", "p90"), 10);
    CHECK(real_at(d2, "direct_pct") == 100.0);
    CHECK(real_at(d2, "relayed_pct") == 0.0);
    json_decref(j);
    reports_agg_free(g);
}

TEST(reports_csv_has_a_header_and_a_line_a_day)
{
    struct reports_agg *g = known_days();
    struct sigmsg_buf out;

    sigmsg_buf_init(&out, 65536);
    if (!CHECK(g) || !CHECK_INT(reports_agg_csv(g, &out), 0)) {
        reports_agg_free(g);
        sigmsg_buf_free(&out);
        return;
    }
    CHECK_STR(out.data,
              "date,consultations,completed,no_shows,wait_ms_p50,wait_ms_p90,call_s_p50,"
              "call_s_p90,direct_pct,relayed_pct,media_failed,browser_chrome,browser_firefox,"
              "browser_safari,browser_edge,browser_samsung,browser_opera,browser_other,"
              "os_android,os_ios,os_windows,os_macos,os_linux,os_chromeos,os_other\r\n"
              "2024-10-04,6,4,1,3000,5000,60,300,33.3,66.7,1,3,1,1,0,0,0,1,0,1,1,2,1,0,1\r\n"
              "2024-10-05,0,0,0,,,,,,,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0\r\n"
              "2024-10-06,1,1,0,,,10,10,100.0,0.0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0\r\n");
    sigmsg_buf_free(&out);
    reports_agg_free(g);
}

TEST(reports_percentiles_are_nearest_rank)
{
    struct reports_agg *g = reports_agg_new(DAY0, DAY0);
    struct store_report_row r = row_of(DAY0, 1, 1, 0, "p2p", "", NULL, NULL);
    json_t *j, *d;

    if (!CHECK(g))
        return;
    /* Ten waits 10..100 (in any order) and ten call lengths 1..10. */
    for (int i = 10; i >= 1; i--) {
        snprintf(r.waits_ms, sizeof(r.waits_ms), "%d", i * 10);
        r.duration_s = i;
        CHECK_INT(reports_agg_add(g, &r), 0);
    }
    j = reports_agg_json(g);
    d = json_array_get(json_object_get(j, "days"), 0);
    CHECK_INT(int_at(d, "wait_ms", "p50"), 50);
    CHECK_INT(int_at(d, "wait_ms", "p90"), 90);
    CHECK_INT(int_at(d, "call_s", "p50"), 5);
    CHECK_INT(int_at(d, "call_s", "p90"), 9);
    json_decref(j);
    reports_agg_free(g);
}

TEST(reports_refuse_rows_out_of_order_or_range)
{
    struct reports_agg *g = reports_agg_new(DAY0, DAY0 + 1);
    struct store_report_row a = row_of(DAY0 + 1, 1, 1, 5, "p2p", NULL, NULL, NULL);
    struct store_report_row b = row_of(DAY0, 1, 1, 5, "p2p", NULL, NULL, NULL);
    struct store_report_row c = row_of(DAY0 + 2, 1, 1, 5, "p2p", NULL, NULL, NULL);

    if (!CHECK(g))
        return;
    CHECK_INT(reports_agg_add(g, &a), 0);
    CHECK_INT(reports_agg_add(g, &b), -EINVAL);
    CHECK_INT(reports_agg_add(g, &c), -EINVAL);
    reports_agg_free(g);
    CHECK(reports_agg_new(DAY0, DAY0 - 1) == NULL);
    CHECK(reports_agg_new(DAY0, DAY0 + REPORTS_RANGE_MAX_DAYS) == NULL);
    g = reports_agg_new(DAY0, DAY0 + REPORTS_RANGE_MAX_DAYS - 1);
    CHECK(g != NULL);
    reports_agg_free(g);
}

/* ---- the reports group on both backends ---- */

static struct store_report_row stored(const char *room, int64_t day, const char *owner,
                                      const char *team, int64_t secs)
{
    struct store_report_row r = row_of(day, 1, 1, secs, "relay", "700", "edge:1", "windows:1");

    snprintf(r.room, sizeof(r.room), "%s", room);
    snprintf(r.owner, sizeof(r.owner), "%s", owner);
    snprintf(r.team, sizeof(r.team), "%s", team);
    return r;
}

static int add_row(struct fixture *f, const struct store_report_row *r)
{
    struct store *s = accounts_lock(f->a);
    int rc = s->ops->reports->add(s, r);

    accounts_unlock(f->a);
    return rc;
}

/* The rooms' call lengths a scope sees over DAY0..DAY0+9, as "secs secs ...". */
struct seen {
    char text[256];
};

static int seen_row(void *arg, const struct store_report_row *r)
{
    struct seen *s = arg;
    size_t n = strlen(s->text);

    snprintf(s->text + n, sizeof(s->text) - n, "%s%lld", n ? " " : "", (long long)r->duration_s);
    return 0;
}

static const char *scope(struct fixture *f, const char *owner, int64_t user_id, struct seen *out)
{
    struct store *s = accounts_lock(f->a);

    out->text[0] = '\0';
    if (s->ops->reports->each(s, DAY0, DAY0 + 9, owner, user_id, seen_row, out) < 0)
        snprintf(out->text, sizeof(out->text), "error");
    accounts_unlock(f->a);
    return out->text;
}

STORE_TEST(reports_store_scopes_by_owner_and_team)
{
    struct seen seen;
    int64_t ann, ben;

    CHECK_INT(teams_add(f->a, "Renal"), 0);
    CHECK_INT(teams_add(f->a, "Cardiology"), 0);
    CHECK_INT(accounts_user_add(f->a, "ann@example.org", "Ann", PW, strlen(PW)), 0);
    CHECK_INT(accounts_user_add(f->a, "ben@example.org", "Ben", PW, strlen(PW)), 0);
    CHECK_INT(teams_member_add(f->a, "Renal", "ann@example.org"), 0);
    CHECK_INT(teams_member_add(f->a, "Cardiology", "ben@example.org"), 0);
    ann = accounts_user_id(f->a, "ann@example.org");
    ben = accounts_user_id(f->a, "ben@example.org");
    const struct store_report_row rows[] = {
        stored("a000000000000001", DAY0 + 1, "user:aaaaaaaaaaaaaaaa", "", 1),
        stored("a000000000000002", DAY0, "key", "Renal", 2),
        stored("a000000000000003", DAY0 + 3, "user:bbbbbbbbbbbbbbbb", "Renal", 3),
        stored("a000000000000004", DAY0 + 2, "key", "Cardiology", 4),
        stored("a000000000000005", DAY0 + 2, "key", "", 5),
        stored("a000000000000006", DAY0 + 20, "key", "Renal", 6), /* out of the range */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        CHECK_INT(add_row(f, &rows[i]), 1);
    CHECK_INT(add_row(f, &rows[1]), 0); /* a room is one consultation */
    CHECK_STR(scope(f, NULL, 0, &seen), "2 1 4 5 3");
    CHECK_STR(scope(f, "user:aaaaaaaaaaaaaaaa", ann, &seen), "2 1 3");
    CHECK_STR(scope(f, "user:bbbbbbbbbbbbbbbb", ben, &seen), "4 3");
    CHECK_STR(scope(f, "user:cccccccccccccccc", 999, &seen), "");
    CHECK_INT(teams_member_del(f->a, "Renal", "ann@example.org"), 0);
    CHECK_STR(scope(f, "user:aaaaaaaaaaaaaaaa", ann, &seen), "1");
}

STORE_TEST(reports_store_keeps_the_facts_of_a_row)
{
    struct store_report_row r = stored("b000000000000001", DAY0, "key", "Renal", 42);
    struct reports_agg *g = reports_agg_new(DAY0, DAY0);
    json_t *j, *d;

    snprintf(r.waits_ms, sizeof(r.waits_ms), "1500,2500");
    CHECK_INT(add_row(f, &r), 1);
    if (!CHECK(g) || !CHECK_INT(reports_agg_load(g, f->a, NULL, 0), 0)) {
        reports_agg_free(g);
        return;
    }
    j = reports_agg_json(g);
    d = json_array_get(json_object_get(j, "days"), 0);
    CHECK_INT(int_at(d, "consultations", NULL), 1);
    CHECK_INT(int_at(d, "wait_ms", "p50"), 1500);
    CHECK_INT(int_at(d, "wait_ms", "p90"), 2500);
    CHECK_INT(int_at(d, "call_s", "p50"), 42);
    CHECK(real_at(d, "relayed_pct") == 100.0);
    CHECK_INT(int_at(d, "browsers", "edge"), 1);
    CHECK_INT(int_at(d, "os", "windows"), 1);
    json_decref(j);
    reports_agg_free(g);
}

/* Adds n rows of day through SQL (one statement on either backend). */
static bool add_many(struct fixture *f, int n, int64_t day)
{
    char sql[512];

    snprintf(sql, sizeof(sql),
             "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d) "
             "INSERT INTO report_consultations(room, day, owner, hosts, guests, duration_s, path) "
             "SELECT 'bulk' || %lld || '-' || i, %lld, 'key', 1, 1, 1, 'p2p' FROM k",
             n, (long long)day, (long long)day);
    return fixture_exec(f, sql);
}

static int count_rows(struct fixture *f)
{
    char v[32];

    return fixture_query(f, "SELECT count(*) FROM report_consultations", NULL, v, sizeof(v)) > 0
               ? (int)strtol(v, NULL, 10)
               : -1;
}

STORE_TEST(reports_store_purges_in_batches)
{
    struct store *s;

    CHECK(add_many(f, 7, DAY0 - 1));
    CHECK(add_many(f, 3, DAY0));
    s = accounts_lock(f->a);
    CHECK_INT(s->ops->reports->purge(s, DAY0, 5), 5);
    CHECK_INT(s->ops->reports->purge(s, DAY0, 5), 2);
    CHECK_INT(s->ops->reports->purge(s, DAY0, 5), 0);
    accounts_unlock(f->a);
    CHECK_INT(count_rows(f), 3);
}

/* ---- from the metadata log, on a fake clock ---- */

#define NOW ((int64_t)DAY0 * 86400 + 3600) /* 2024-10-04 01:00 UTC */

/* A metadata log line as the log writes it (ts first). */
static json_t *line(const char *ts, const char *event, const char *fields)
{
    json_t *j = json_loads(fields, 0, NULL);

    json_object_set_new(j, "ts", json_string(ts));
    json_object_set_new(j, "event", json_string(event));
    return j;
}

static void tap(struct reports *r, const char *event, const char *fields)
{
    json_t *j = line("2024-10-04T10:00:00.000Z", event, fields);

    reports_tap(r, event, j);
    json_decref(j);
}

/* A call.summary of room with the given team ("null" or a JSON string) and two guests. */
static void summary(struct reports *r, const char *room, const char *team)
{
    char fields[512];

    snprintf(fields, sizeof(fields),
             "{\"room\":\"%s\",\"owner\":\"key\",\"team\":%s,\"duration_s\":95,\"hosts\":1,"
             "\"guests\":2,\"path\":\"relay\",\"bytes\":1,\"rtt_ms\":null,\"loss_pct\":null,"
             "\"browsers\":{\"chrome\":2,\"firefox\":1},\"os\":{\"android\":3}}",
             room, team);
    tap(r, "call.summary", fields);
}

static void cell(struct fixture *f, const char *sql, const char *room, char *out, size_t len)
{
    if (fixture_query(f, sql, room, out, len) < 0)
        snprintf(out, len, "(no row)");
}

STORE_TEST(reports_write_a_consultation_from_its_events)
{
    struct reports *r;
    char v[STORE_REPORT_LIST_MAX + 1];

    if (!CHECK_INT(reports_new(f->a, 400, NOW, &r), 0))
        return;
    tap(r, "peer.admitted",
        "{\"room\":\"c000000000000001\",\"peer\":\"p1\",\"wait_ms\":1200,"
        "\"by\":\"host\"}");
    tap(r, "peer.admitted",
        "{\"room\":\"c000000000000002\",\"peer\":\"p9\",\"wait_ms\":9,"
        "\"by\":\"host\"}");
    tap(r, "peer.admitted",
        "{\"room\":\"c000000000000001\",\"peer\":\"p2\",\"wait_ms\":3400,"
        "\"by\":\"host\"}");
    tap(r, "room.ended", "{\"room\":\"c000000000000001\",\"reason\":\"ended\",\"duration_s\":99}");
    CHECK_INT(count_rows(f), 0);
    summary(r, "c000000000000001", "\"Renal\"");
    CHECK_INT(count_rows(f), 1);
    cell(f, "SELECT waits_ms FROM report_consultations WHERE room = $1", "c000000000000001", v,
         sizeof(v));
    CHECK_STR(v, "1200,3400");
    cell(f, "SELECT browsers FROM report_consultations WHERE room = $1", "c000000000000001", v,
         sizeof(v));
    CHECK_STR(v, "chrome:2,firefox:1");
    cell(f, "SELECT team || '/' || owner || '/' || path FROM report_consultations WHERE room = $1",
         "c000000000000001", v, sizeof(v));
    CHECK_STR(v, "Renal/key/relay");
    cell(f, "SELECT day FROM report_consultations WHERE room = $1", "c000000000000001", v,
         sizeof(v));
    CHECK_INT(strtol(v, NULL, 10), DAY0);
    summary(r, "c000000000000001", "null"); /* the same room again: still one row */
    summary(r, "c000000000000003", "null"); /* nobody waited */
    cell(f, "SELECT waits_ms || '|' || team FROM report_consultations WHERE room = $1",
         "c000000000000003", v, sizeof(v));
    CHECK_STR(v, "|");
    CHECK_INT(count_rows(f), 2);
    reports_free(r);
}

STORE_TEST(reports_purge_once_a_day_on_a_fake_clock)
{
    struct reports *r;

    if (!CHECK_INT(reports_new(f->a, 10, NOW, &r), 0))
        return;
    /* Kept 10 days: today (DAY0) and the 9 before it. */
    CHECK(add_many(f, 3, DAY0 - 10));
    CHECK(add_many(f, 2, DAY0 - 9));
    reports_tick(r, NOW);
    CHECK_INT(count_rows(f), 2);
    CHECK(add_many(f, 1, DAY0 - 11));
    reports_tick(r, NOW + 3600); /* the same day: no second purge */
    CHECK_INT(count_rows(f), 3);
    reports_tick(r, NOW + 86400); /* the next day: DAY0 - 9 is out too */
    CHECK_INT(count_rows(f), 0);
    /* A long backlog goes a batch a tick. */
    CHECK(add_many(f, REPORTS_PURGE_BATCH + 20, DAY0 - 100));
    reports_set_retention(r, 5);
    reports_tick(r, NOW + 2 * 86400);
    CHECK_INT(count_rows(f), 20);
    reports_tick(r, NOW + 2 * 86400 + 1);
    CHECK_INT(count_rows(f), 0);
    reports_free(r);
}

STORE_TEST(reports_retry_rows_the_database_refused)
{
    struct reports *r;

    if (!CHECK_INT(reports_new(f->a, 400, NOW, &r), 0))
        return;
    CHECK(fixture_exec(f, "ALTER TABLE report_consultations RENAME TO report_away"));
    summary(r, "d000000000000001", "null");
    summary(r, "d000000000000002", "null");
    CHECK(fixture_exec(f, "ALTER TABLE report_away RENAME TO report_consultations"));
    CHECK_INT(count_rows(f), 0);
    reports_tick(r, NOW + 1);
    CHECK_INT(count_rows(f), 2);
    reports_free(r);
}

STORE_TEST(reports_forget_waits_of_rooms_that_ended_elsewhere)
{
    struct reports *r;
    char v[64];

    if (!CHECK_INT(reports_new(f->a, 400, NOW, &r), 0))
        return;
    tap(r, "peer.admitted",
        "{\"room\":\"e000000000000001\",\"peer\":\"p1\",\"wait_ms\":5,"
        "\"by\":\"host\"}");
    reports_tick(r, NOW + 2 * 86400); /* a room lives two days at most: still held */
    reports_tick(r, NOW + 3 * 86400 + 3600);
    summary(r, "e000000000000001", "null");
    cell(f, "SELECT 'w' || waits_ms FROM report_consultations WHERE room = $1", "e000000000000001",
         v, sizeof(v));
    CHECK_STR(v, "w");
    reports_free(r);
}

/* A real hub's events through the tap: the room's owner and team, the admitted guest's wait and
 * the time together reach the row, and no label does. */
STORE_TEST(reports_of_a_hub_call)
{
    struct hub_room_opts o = {
        .ttl = 3600, .capacity = 2, .lobby = true, .team = "Renal", .label = "CANARY Mrs K"};
    struct hub_room_info room;
    struct world w;
    struct client host, guest;
    struct reports *r;
    char id[64], v[STORE_REPORT_LIST_MAX + 1];
    int64_t before = reports_day_of((int64_t)time(NULL)), after;

    if (!CHECK_INT(reports_new(f->a, 400, NOW, &r), 0))
        return;
    world_init(&w);
    event_log_add_tap(w.log, reports_tap, r);
    if (CHECK_INT(hub_room_create(w.h, "key", &o, &room), 0)) {
        join_pair(&w, &room, &host, &guest);
        knocker(&host, id, sizeof(id));
        advance(&w, 2500);
        admit(&w, &host, "admit", id);
        advance(&w, 7000);
        say(&w, &host, "{\"type\":\"end\"}");
    }
    after = reports_day_of((int64_t)time(NULL));
    cell(f,
         "SELECT owner || '|' || team || '|' || hosts || '|' || guests || '|' || duration_s || "
         "'|' || path || '|' || waits_ms || '|' || browsers FROM report_consultations WHERE "
         "room = $1",
         room.id, v, sizeof(v));
    CHECK_STR(v, "key|Renal|1|1|7|unknown|2500|firefox:2");
    cell(f, "SELECT day FROM report_consultations WHERE room = $1", room.id, v, sizeof(v));
    CHECK(strtol(v, NULL, 10) == before || strtol(v, NULL, 10) == after);
    cell(f,
         "SELECT count(*) FROM report_consultations WHERE room || owner || team || path || "
         "waits_ms || browsers || os LIKE '%CANARY%'",
         NULL, v, sizeof(v));
    CHECK_STR(v, "0");
    event_log_set_tap(w.log, NULL, NULL);
    world_free(&w);
    reports_free(r);
}
