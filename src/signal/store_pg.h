/* The PostgreSQL backend's internals: its connection (store_pgconn.c), every call bounded by a
 * deadline, and what its modules share (store_pg.c, store_pg_reports.c). */
#ifndef VC_STORE_PG_H
#define VC_STORE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "vc/store.h"

/* At most this many named statements per connection (a bit each in pgconn.prepared). */
#define PGCONN_STATEMENTS_MAX 64
/* Migrations may wait for another node's: their statements get this many timeouts. */
#define PGCONN_MIGRATION_FACTOR 20

/* One connection, with the statements it prepares on first use. Owned by its store; every call
 * on it must come from one thread at a time. */
struct pgconn {
    char *url;                 /* owned; holds the password if the URL does: wiped on free */
    char *password;            /* owned, or NULL */
    unsigned timeout_ms;       /* the bound of one call, connecting included */
    const char *const *sql;    /* borrowed: statement i is sql[i], named "vc_i" */
    unsigned nsql;             /* at most PGCONN_STATEMENTS_MAX */
    PGconn *conn;              /* NULL while disconnected */
    uint64_t prepared;         /* bit i: statement i is prepared on conn */
    int64_t retry_at_ms;       /* no new connection before this (monotonic clock) */
    unsigned backoff_ms;       /* the wait after the next failed connection */
    bool lost;                 /* the connection failed since it last worked: logged once */
    unsigned migration_factor; /* > 1 while a migration runs */
};

/* One parameter of a statement: text, or binary bytes when len > 0. */
struct pgconn_param {
    const char *v;
    int len;
};

/* Copies conf's URL and password and connects, within conf's timeout. 0, or -EIO with a
 * message in err (never the password). */
int pgconn_open(struct pgconn *c, const struct store_conf *conf, const char *const *sql,
                unsigned nsql, char *err, size_t errlen);
/* Closes the connection and wipes the copies. */
void pgconn_close(struct pgconn *c);

/* Runs statement i with np parameters and returns its result in *res (the caller PQclear()s
 * it). A read (retry true) is sent again once on a fresh connection when the old one turns out
 * to be broken. 0; -EEXIST (a unique key), -ENOENT (a missing referenced row), -EIO (a failure,
 * the deadline, or no connection: reconnecting waits a growing backoff after a failure). */
int pgconn_run(struct pgconn *c, unsigned i, const struct pgconn_param *p, int np, bool retry,
               PGresult **res);

/* Runs sql (several statements allowed) with up to two text parameters (NULL: none) outside
 * the prepared set, for migrations; *res (may be NULL) gets the last result. 0 or -EIO with
 * err. */
int pgconn_exec(struct pgconn *c, const char *sql, const char *p1, const char *p2, PGresult **res,
                char *err, size_t errlen);

/* ---- store_pg.c ---- */

#define PG_INT_MAX 24 /* an int64 in decimal, with its sign and NUL */

/* A text parameter (borrowed), and an integer one written into buf (PG_INT_MAX bytes). */
struct pgconn_param pg_text(const char *v);
struct pgconn_param pg_int(char *buf, int64_t v);
int64_t pg_int_at(PGresult *r, int row, int col);
/* A text cell, or NULL for SQL NULL. */
const char *pg_text_at(PGresult *r, int row, int col);
/* The reports' statement i (enum pg_report_st) for its effect: the rows it changed, -EEXIST,
 * -ENOENT or -EIO; and as a read (sent again once on a fresh connection): 0 with *r (the caller
 * clears it), or -EIO. */
int pg_report_write(struct store *s, unsigned i, const struct pgconn_param *p, int np);
int pg_report_read(struct store *s, unsigned i, const struct pgconn_param *p, int np, PGresult **r);

/* ---- store_pg_reports.c ---- */

enum pg_report_st { PGR_ADD, PGR_EACH, PGR_PURGE, PGR_COUNT };

#define PG_REPORT_VERSION 1
extern const char *const pg_report_steps[PG_REPORT_VERSION];
extern const char *const pg_report_sql[PGR_COUNT]; /* prepared after the accounts' */
extern const struct store_report_ops pg_report_ops;

#endif
