/* Accounts on either backend for the unit tests: SQLite in a temporary directory always, and
 * PostgreSQL at $VC_TEST_DATABASE (a postgresql:// URL) when it is set, its schema emptied before
 * each test; raw queries look behind the API's back. tests/integration/postgres.sh sets it. */
#ifndef VC_STORE_FIXTURE_H
#define VC_STORE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "test.h"

enum fixture_backend { FIXTURE_SQLITE, FIXTURE_PG };

struct fixture {
    enum fixture_backend be;
    char root[64];    /* SQLite: the temporary directory */
    char data[96];    /* SQLite: the data directory in it */
    unsigned timeout; /* PostgreSQL: the store's timeout in ms (0: the default) */
    struct accounts *a;
};

/* $VC_TEST_DATABASE, or NULL. */
const char *fixture_pg_url(void);
/* An empty database on be, opened into f->a. */
bool fixture_open(struct fixture *f, enum fixture_backend be);
/* Closes f->a and opens the same database again. Returns accounts_open_conf()'s result, with its
 * message in err. */
int fixture_reopen(struct fixture *f, char *err, size_t errlen);
/* Closes f->a and removes the SQLite files. */
void fixture_close(struct fixture *f);

/* Runs sql on a connection of its own, with an optional text parameter $1, and copies the first
 * column of the first row into out (max bytes with a NUL; a blob as its raw bytes). Returns its
 * length, or -1 when there is no row. */
int fixture_query(struct fixture *f, const char *sql, const char *param, void *out, size_t max);
/* Runs sql (several statements allowed) on a connection of its own. True when it worked. */
bool fixture_exec(struct fixture *f, const char *sql);
/* Sets the version of the table group "accounts" behind the store's back. */
bool fixture_set_version(struct fixture *f, int version);

/* Runs body on an open fixture of backend be; skips the PostgreSQL run without a server. */
void fixture_run(void (*body)(struct fixture *f), enum fixture_backend be);

/* A test that both backends must pass: registers NAME_sqlite and NAME_pg. */
#define STORE_TEST(name)                                                                           \
    static void name(struct fixture *f);                                                           \
    TEST(name##_sqlite)                                                                            \
    {                                                                                              \
        fixture_run(name, FIXTURE_SQLITE);                                                         \
    }                                                                                              \
    TEST(name##_pg)                                                                                \
    {                                                                                              \
        fixture_run(name, FIXTURE_PG);                                                             \
    }                                                                                              \
    static void name(struct fixture *f)

#endif
