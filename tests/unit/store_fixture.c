/* Accounts on SQLite or PostgreSQL for the unit tests (store_fixture.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "store_fixture.h"
#include "vc/accounts.h"
#include "vc/store.h"

#define FIXTURE_BYTEA_OID 17

const char *fixture_pg_url(void)
{
    const char *url = getenv("VC_TEST_DATABASE");

    return url && url[0] ? url : NULL;
}

static int fixture_open_accounts(struct fixture *f, char *err, size_t errlen)
{
    const struct store_conf conf = {
        .database = f->be == FIXTURE_PG ? fixture_pg_url() : NULL,
        .data_dir = f->data,
        .timeout_ms = f->timeout,
    };

    return accounts_open_conf(&conf, &f->a, err, errlen);
}

bool fixture_open(struct fixture *f, enum fixture_backend be)
{
    char err[256] = "";
    unsigned timeout = f->timeout;

    memset(f, 0, sizeof(*f));
    f->be = be;
    f->timeout = timeout;
    if (be == FIXTURE_SQLITE) {
        snprintf(f->root, sizeof(f->root), "/tmp/vc-test-store-XXXXXX");
        if (!mkdtemp(f->root))
            return false;
        snprintf(f->data, sizeof(f->data), "%s/data", f->root);
    } else if (!fixture_exec(f, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")) {
        return false;
    }
    if (fixture_open_accounts(f, err, sizeof(err)) < 0) {
        fprintf(stderr, "    accounts_open: %s\n", err);
        return false;
    }
    return true;
}

int fixture_reopen(struct fixture *f, char *err, size_t errlen)
{
    accounts_close(f->a);
    f->a = NULL;
    return fixture_open_accounts(f, err, errlen);
}

void fixture_close(struct fixture *f)
{
    static const char *const names[] = {"vc.db", "vc.db-wal", "vc.db-shm"};
    char path[160];

    accounts_close(f->a);
    f->a = NULL;
    if (f->be != FIXTURE_SQLITE)
        return;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", f->data, names[i]);
        unlink(path);
    }
    rmdir(f->data);
    rmdir(f->root);
}

/* Copies n bytes of v and a NUL into out (max bytes); returns the count copied. */
static int fixture_copy(void *out, size_t max, const void *v, size_t n)
{
    if (n >= max)
        n = max - 1;
    if (v)
        memcpy(out, v, n);
    ((char *)out)[n] = '\0';
    return (int)n;
}

static int fixture_query_sqlite(struct fixture *f, const char *sql, const char *param, void *out,
                                size_t max)
{
    char path[160];
    sqlite3 *db;
    sqlite3_stmt *st;
    int n = -1;

    snprintf(path, sizeof(path), "%s/vc.db", f->data);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (param)
            sqlite3_bind_text(st, 1, param, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = fixture_copy(out, max, sqlite3_column_blob(st, 0),
                             (size_t)sqlite3_column_bytes(st, 0));
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* The first cell as text, or a bytea ("\x..." in text form) as its raw bytes. */
static int fixture_cell(PGresult *r, void *out, size_t max)
{
    const char *v = PQgetvalue(r, 0, 0);
    size_t len;
    unsigned char *raw;
    int n;

    if (PQftype(r, 0) != FIXTURE_BYTEA_OID)
        return fixture_copy(out, max, v, strlen(v));
    raw = PQunescapeBytea((const unsigned char *)v, &len);
    if (!raw)
        return -1;
    n = fixture_copy(out, max, raw, len);
    PQfreemem(raw);
    return n;
}

static void fixture_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A connection to the test server that keeps its notices to itself. */
static PGconn *fixture_pg_connect(void)
{
    PGconn *c = PQconnectdb(fixture_pg_url());

    PQsetNoticeProcessor(c, fixture_quiet, NULL);
    return c;
}

static int fixture_query_pg(const char *sql, const char *param, void *out, size_t max)
{
    PGconn *c = fixture_pg_connect();
    PGresult *r;
    int n = -1;

    if (PQstatus(c) == CONNECTION_OK) {
        r = PQexecParams(c, sql, param ? 1 : 0, NULL, &param, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
            n = fixture_cell(r, out, max);
        else if (PQresultStatus(r) != PGRES_TUPLES_OK)
            fprintf(stderr, "    %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
    return n;
}

int fixture_query(struct fixture *f, const char *sql, const char *param, void *out, size_t max)
{
    return f->be == FIXTURE_SQLITE ? fixture_query_sqlite(f, sql, param, out, max)
                                   : fixture_query_pg(sql, param, out, max);
}

bool fixture_exec(struct fixture *f, const char *sql)
{
    char path[160];
    sqlite3 *db;
    PGconn *c;
    PGresult *r;
    bool ok;

    if (f->be == FIXTURE_SQLITE) {
        snprintf(path, sizeof(path), "%s/vc.db", f->data);
        if (sqlite3_open(path, &db) != SQLITE_OK)
            return false;
        ok = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
        sqlite3_close(db);
        return ok;
    }
    c = fixture_pg_connect();
    r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "    %s: %s", sql, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok;
}

bool fixture_set_version(struct fixture *f, int version)
{
    char sql[128];

    if (f->be == FIXTURE_SQLITE)
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", version);
    else
        snprintf(sql, sizeof(sql), "UPDATE vc_schema SET version = %d WHERE grp = 'accounts'",
                 version);
    return fixture_exec(f, sql);
}

void fixture_run(void (*body)(struct fixture *f), enum fixture_backend be)
{
    struct fixture f = {.be = be};

    if (be == FIXTURE_PG && !fixture_pg_url()) {
        test_skip("VC_TEST_DATABASE is not set");
        return;
    }
    if (!CHECK(fixture_open(&f, be)))
        return;
    body(&f);
    fixture_close(&f);
}
