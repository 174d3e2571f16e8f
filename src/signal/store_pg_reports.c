/* The reports group on PostgreSQL: the same table as SQLite's (store_sqlite_reports.c), shared by
 * every node, so a room's home writes its consultation once and every node reports it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vc/store.h"
#include "store_pg.h"

static const char pg_reports_v1[] =
    "CREATE TABLE report_consultations("
    " room text PRIMARY KEY,"
    " day bigint NOT NULL,"
    " owner text NOT NULL,"
    " team text NOT NULL DEFAULT '',"
    " hosts integer NOT NULL,"
    " guests integer NOT NULL,"
    " duration_s bigint NOT NULL,"
    " path text NOT NULL,"
    " waits_ms text NOT NULL DEFAULT '',"
    " browsers text NOT NULL DEFAULT '',"
    " os text NOT NULL DEFAULT '');"
    "CREATE INDEX report_consultations_day ON report_consultations(day);";

const char *const pg_report_steps[PG_REPORT_VERSION] = {pg_reports_v1};

const char *const pg_report_sql[PGR_COUNT] = {
    [PGR_ADD] = "INSERT INTO report_consultations(room, day, owner, team, hosts, guests, "
                "duration_s, path, waits_ms, browsers, os) VALUES($1, $2::bigint, $3, $4, "
                "$5::integer, $6::integer, $7::bigint, $8, $9, $10, $11) "
                "ON CONFLICT (room) DO NOTHING",
    [PGR_EACH] = "SELECT day, hosts, guests, duration_s, path, waits_ms, browsers, os "
                 "FROM report_consultations WHERE day BETWEEN $1::bigint AND $2::bigint AND "
                 "($3::text IS NULL OR owner = $3::text OR team IN (SELECT t.name FROM teams t "
                 "JOIN team_members m ON m.team_id = t.id WHERE m.user_id = $4::bigint)) "
                 "ORDER BY day, room",
    [PGR_PURGE] = "DELETE FROM report_consultations WHERE room IN (SELECT room FROM "
                  "report_consultations WHERE day < $1::bigint LIMIT $2::integer)",
};

static int pg_report_add(struct store *s, const struct store_report_row *row)
{
    char d[PG_INT_MAX], h[PG_INT_MAX], g[PG_INT_MAX], t[PG_INT_MAX];
    struct pgconn_param p[11] = {
        pg_text(row->room),         pg_int(d, row->day),   pg_text(row->owner),
        pg_text(row->team),         pg_int(h, row->hosts), pg_int(g, row->guests),
        pg_int(t, row->duration_s), pg_text(row->path),    pg_text(row->waits_ms),
        pg_text(row->browsers),     pg_text(row->os),
    };
    int rc = pg_report_write(s, PGR_ADD, p, 11);

    return rc < 0 ? -EIO : rc > 0;
}

/* Copies a text cell into out (len bytes, cut there). */
static void pg_report_text(PGresult *r, int row, int col, char *out, size_t len)
{
    const char *v = pg_text_at(r, row, col);

    snprintf(out, len, "%s", v ? v : "");
}

static int pg_report_each(struct store *s, int64_t from, int64_t to, const char *owner,
                          int64_t user_id, store_report_cb cb, void *arg)
{
    char f[PG_INT_MAX], t[PG_INT_MAX], u[PG_INT_MAX];
    struct pgconn_param p[4] = {pg_int(f, from), pg_int(t, to), pg_text(owner), pg_int(u, user_id)};
    struct store_report_row row;
    PGresult *r;
    int rc = pg_report_read(s, PGR_EACH, p, 4, &r);

    memset(&row, 0, sizeof(row));
    for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
        row.day = pg_int_at(r, i, 0);
        row.hosts = (int)pg_int_at(r, i, 1);
        row.guests = (int)pg_int_at(r, i, 2);
        row.duration_s = pg_int_at(r, i, 3);
        pg_report_text(r, i, 4, row.path, sizeof(row.path));
        pg_report_text(r, i, 5, row.waits_ms, sizeof(row.waits_ms));
        pg_report_text(r, i, 6, row.browsers, sizeof(row.browsers));
        pg_report_text(r, i, 7, row.os, sizeof(row.os));
        if (cb(arg, &row))
            break;
    }
    PQclear(r);
    return rc;
}

static int pg_report_purge(struct store *s, int64_t day, unsigned limit)
{
    char d[PG_INT_MAX], n[PG_INT_MAX];
    struct pgconn_param p[2] = {pg_int(d, day), pg_int(n, limit)};
    int rc = pg_report_write(s, PGR_PURGE, p, 2);

    return rc < 0 ? -EIO : rc;
}

const struct store_report_ops pg_report_ops = {
    pg_report_add,
    pg_report_each,
    pg_report_purge,
};
