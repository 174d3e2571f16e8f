/* Unit tests for the account database's backends (store.h): choosing one from the
 * configuration, versioned migrations, and PostgreSQL's bounds: a deadline on every call, a
 * re-made connection, nodes migrating at once, a password never shown. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "store_fixture.h"
#include "test.h"
#include "vc/accounts.h"
#include "vc/store.h"
#include "vc/teams.h"

#define PW "correct horse battery"

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* accounts_open_conf() on database (and password), into err; the accounts are closed again. */
static int open_url(const char *database, const char *password, char *err, size_t errlen)
{
    const struct store_conf conf = {.database = database, .password = password, .timeout_ms = 500};
    struct accounts *a = NULL;
    int rc = accounts_open_conf(&conf, &a, err, errlen);

    accounts_close(a);
    return rc;
}

STORE_TEST(store_refuses_a_database_newer_than_this_build)
{
    char err[256] = "";

    CHECK(accounts_user_add(f->a, "dr@example.org", "", PW, strlen(PW)) == 0);
    CHECK(fixture_set_version(f, 3));
    CHECK_INT(fixture_reopen(f, err, sizeof(err)), -EPROTO);
    CHECK(strstr(err, "schema version 3 of accounts is newer") != NULL);
    CHECK(fixture_set_version(f, 2));
    CHECK_INT(fixture_reopen(f, err, sizeof(err)), 0);
    CHECK(f->a && accounts_user_id(f->a, "dr@example.org") > 0);
}

STORE_TEST(store_migrates_once_and_reopens_without_steps)
{
    char err[256] = "", v[16];

    CHECK_INT(teams_add(f->a, "Renal"), 0);
    CHECK_INT(fixture_reopen(f, err, sizeof(err)), 0);
    CHECK_INT(teams_exists(f->a, "Renal"), 1); /* a second run of the steps would have failed */
    if (f->be == FIXTURE_PG)
        CHECK(fixture_query(f, "SELECT version FROM vc_schema WHERE grp = 'accounts'", NULL, v,
                            sizeof(v)) > 0);
    else
        CHECK(fixture_query(f, "PRAGMA user_version", NULL, v, sizeof(v)) > 0);
    CHECK_STR(v, "2");
}

/* A later feature's table group (reports will be one) beside the accounts: its own steps and
 * version, run once, and left alone by a build that does not know it. */
STORE_TEST(store_a_new_table_group_migrates_on_its_own_version)
{
    static const char *const steps[] = {"CREATE TABLE extra_a(x INTEGER)",
                                        "CREATE TABLE extra_b(y INTEGER)"};
    struct store_group groups[2];
    struct store_ops ops;
    const struct store_ops *real;
    struct store *st = accounts_lock(f->a);
    char err[256] = "", v[16];

    real = st->ops;
    ops = *real;
    memcpy(groups, real->groups, sizeof(groups[0]));
    groups[1] = (struct store_group){"extra", steps, 1};
    ops.groups = groups;
    ops.ngroups = 2;
    st->ops = &ops;
    CHECK_INT(store_migrate(st, err, sizeof(err)), 0);
    CHECK_INT(store_migrate(st, err, sizeof(err)), 0); /* nothing left: CREATE would fail */
    groups[1].version = 2;
    CHECK_INT(store_migrate(st, err, sizeof(err)), 0);
    st->ops = real;
    accounts_unlock(f->a);
    CHECK(fixture_query(f, "SELECT version FROM vc_schema WHERE grp = 'extra'", NULL, v,
                        sizeof(v)) > 0);
    CHECK_STR(v, "2");
    CHECK(fixture_query(f, "SELECT count(*) FROM extra_b", NULL, v, sizeof(v)) > 0);
    CHECK_INT(fixture_reopen(f, err, sizeof(err)), 0);
    CHECK_INT(teams_add(f->a, "Renal"), 0);
}

TEST(store_refuses_a_url_that_is_not_postgresql)
{
    char err[256] = "";

    CHECK_INT(open_url("mysql://vc:pw@127.0.0.1/vc", NULL, err, sizeof(err)), -EINVAL);
    CHECK(strstr(err, "postgresql://") != NULL);
}

/* Nothing listens on port 1 of loopback: refused at once, and the message keeps the secret. */
TEST(store_pg_unreachable_server_fails_fast_without_showing_the_password)
{
    char err[256] = "";
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT(open_url("postgresql://vc:s3cretpw@127.0.0.1:1/vc", NULL, err, sizeof(err)), -EIO);
    CHECK(elapsed_ms(&t0) < 2000);
    CHECK(strstr(err, "127.0.0.1") != NULL);
    CHECK(strstr(err, "s3cretpw") == NULL);
    CHECK_INT(open_url("postgresql://vc@127.0.0.1:1/vc", "s3cretpw", err, sizeof(err)), -EIO);
    CHECK(strstr(err, "s3cretpw") == NULL);
    CHECK_INT(
        open_url("postgresql://vc:s3cretpw@127.0.0.1:1/vc?bogus=s3cretpw", NULL, err, sizeof(err)),
        -EIO);
    CHECK(strstr(err, "s3cretpw") == NULL);
}

/* The test server's URL with its password cut out into pw (a URL without one: NULL). */
static char *url_without_password(const char *url, char *pw, size_t pwlen)
{
    const char *user = strstr(url, "://"), *at = user ? strchr(user, '@') : NULL;
    const char *colon = at ? memchr(user + 3, ':', (size_t)(at - user - 3)) : NULL;
    char *out;

    if (!colon)
        return NULL;
    snprintf(pw, pwlen, "%.*s", (int)(at - colon - 1), colon + 1);
    out = malloc(strlen(url) + 1);
    if (out)
        snprintf(out, strlen(url) + 1, "%.*s%s", (int)(colon - url), url, at);
    return out;
}

TEST(store_pg_needs_the_password_from_the_url_or_the_password_file)
{
    char pw[128], err[256] = "";
    char *bare = fixture_pg_url() ? url_without_password(fixture_pg_url(), pw, sizeof(pw)) : NULL;

    if (!bare) {
        test_skip("VC_TEST_DATABASE is not set, or has no password");
        return;
    }
    CHECK_INT(open_url(bare, NULL, err, sizeof(err)), -EIO);
    CHECK(strstr(err, "password") != NULL);
    CHECK_INT(open_url(bare, "wrong-password", err, sizeof(err)), -EIO);
    CHECK(strstr(err, "password authentication failed") != NULL);
    CHECK(strstr(err, "wrong-password") == NULL);
    CHECK_INT(open_url(bare, pw, err, sizeof(err)), 0);
    free(bare);
}

/* A second connection holding a lock on the users table, so that statements on it wait. */
static PGconn *lock_users(void)
{
    PGconn *c = PQconnectdb(fixture_pg_url());
    PGresult *r = PQexec(c, "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

    PQclear(r);
    if (!ok) {
        fprintf(stderr, "    lock: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

TEST(store_pg_a_call_that_waits_too_long_fails_within_its_timeout)
{
    struct fixture f = {.be = FIXTURE_PG, .timeout = 300};
    struct timespec t0;
    PGconn *locker;
    long ms;

    if (!fixture_pg_url()) {
        test_skip("VC_TEST_DATABASE is not set");
        return;
    }
    if (!CHECK(fixture_open(&f, FIXTURE_PG)))
        return;
    CHECK_INT(accounts_user_add(f.a, "dr@example.org", "", PW, strlen(PW)), 0);
    locker = lock_users();
    if (CHECK(locker)) {
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK_INT(accounts_user_id(f.a, "dr@example.org"), -EIO);
        ms = elapsed_ms(&t0);
        if (!CHECK(ms >= 250 && ms < 1500))
            fprintf(stderr, "    the call took %ld ms (timeout 300)\n", ms);
        PQfinish(locker); /* its transaction ends: the lock goes */
        /* For a while after, calls fail at once rather than wait again. */
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CHECK_INT(accounts_user_id(f.a, "dr@example.org"), -EIO);
        CHECK(elapsed_ms(&t0) < 100);
    }
    /* After the backoff (500 ms), the next call makes a new connection and works. */
    nanosleep(&(struct timespec){.tv_nsec = 600 * 1000000L}, NULL);
    CHECK(accounts_user_id(f.a, "dr@example.org") > 0);
    fixture_close(&f);
}

STORE_TEST(store_a_read_survives_the_server_dropping_the_connection)
{
    char n[16];

    CHECK_INT(accounts_user_add(f->a, "dr@example.org", "", PW, strlen(PW)), 0);
    if (f->be != FIXTURE_PG)
        return;
    CHECK(fixture_query(f,
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = 'vc-signal' AND pid <> pg_backend_pid()",
                        NULL, n, sizeof(n)) > 0);
    CHECK_STR(n, "1");
    CHECK(accounts_user_id(f->a, "dr@example.org") > 0);
    CHECK_INT(teams_add(f->a, "Renal"), 0);
}

static void *open_thread(void *arg)
{
    const struct store_conf conf = {.database = fixture_pg_url()};
    struct accounts *a = NULL;
    char err[256] = "";

    *(int *)arg = accounts_open_conf(&conf, &a, err, sizeof(err));
    if (*(int *)arg < 0)
        fprintf(stderr, "    open: %s\n", err);
    accounts_close(a);
    return NULL;
}

TEST(store_pg_nodes_starting_together_migrate_once)
{
    struct fixture f = {.be = FIXTURE_PG};
    pthread_t t[3];
    int rc[3] = {1, 1, 1};
    char v[16];

    if (!fixture_pg_url()) {
        test_skip("VC_TEST_DATABASE is not set");
        return;
    }
    CHECK(fixture_exec(&f, "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"));
    for (int i = 0; i < 3; i++)
        CHECK_INT(pthread_create(&t[i], NULL, open_thread, &rc[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(rc[i], 0);
    }
    CHECK(fixture_query(&f, "SELECT version FROM vc_schema WHERE grp = 'accounts'", NULL, v,
                        sizeof(v)) > 0);
    CHECK_STR(v, "2");
}
