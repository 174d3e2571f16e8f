/* Unit tests for accounts: users, scrypt hashes, login limits and sessions, against a real SQLite
 * file and, when $VC_TEST_DATABASE names one, a real PostgreSQL server (store_fixture.h). */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "store_fixture.h"
#include "test.h"
#include "vc/accounts.h"

#define T0 1800000000 /* a fixed "now" for the tests */
#define PW "correct horse battery"
#define PW_LEN (sizeof(PW) - 1)

static int64_t login(struct fixture *f, const char *email, const char *pw, const char *ip,
                     int64_t now)
{
    return accounts_login(f->a, email, pw, strlen(pw), ip, now);
}

STORE_TEST(accounts_add_delete_and_duplicate)
{
    char email[ACCOUNTS_EMAIL_MAX + 1], name[ACCOUNTS_NAME_MAX + 1];
    int64_t id;

    CHECK_INT(accounts_user_add(f->a, "dr@example.org", "Dr Who", PW, PW_LEN), 0);
    CHECK_INT(accounts_user_add(f->a, "dr@example.org", "Other", PW, PW_LEN), -EEXIST);
    id = fixture_query(f, "SELECT id FROM users WHERE email = $1", "dr@example.org", email,
                       sizeof(email)) > 0
             ? strtoll(email, NULL, 10)
             : -1;
    CHECK(id > 0);
    CHECK_INT(accounts_user_info(f->a, id, email, sizeof(email), name, sizeof(name)), 0);
    CHECK_STR(email, "dr@example.org");
    CHECK_STR(name, "Dr Who");
    CHECK_INT(accounts_user_del(f->a, "dr@example.org"), 0);
    CHECK_INT(accounts_user_del(f->a, "dr@example.org"), -ENOENT);
    CHECK_INT(accounts_user_info(f->a, id, email, sizeof(email), name, sizeof(name)), -ENOENT);
    CHECK_INT(accounts_user_del(f->a, "nobody@example.org"), -ENOENT);
}

STORE_TEST(accounts_normalises_email_case_and_space)
{
    char got[ACCOUNTS_EMAIL_MAX + 1];

    CHECK_INT(accounts_user_add(f->a, "  Alice@Example.COM\t", NULL, PW, PW_LEN), 0);
    CHECK_INT(fixture_query(f, "SELECT email FROM users", NULL, got, sizeof(got)), 17);
    CHECK_STR(got, "alice@example.com");
    CHECK_INT(accounts_user_add(f->a, "alice@example.com", "", PW, PW_LEN), -EEXIST);
    CHECK_INT(accounts_user_del(f->a, "ALICE@example.com "), 0);
}

STORE_TEST(accounts_rejects_bad_inputs)
{
    static const struct {
        const char *email, *name;
        size_t pwlen;
    } cases[] = {
        {"", "", PW_LEN},
        {"a@", "", PW_LEN},
        {"@ab", "", PW_LEN},
        {"ab", "", PW_LEN},
        {"noat.example.org", "", PW_LEN},
        {"two@@example.org", "", PW_LEN},
        {"a@b@example.org", "", PW_LEN},
        {"sp ace@example.org", "", PW_LEN},
        {"ctl\x01@example.org", "", PW_LEN},
        {"utf\xc3\xa9@example.org", "", PW_LEN},
        {"ok@example.org", "", ACCOUNTS_PASSWORD_MIN - 1},
        {"ok@example.org", "", ACCOUNTS_PASSWORD_MAX + 1},
        {"ok@example.org", "bad\nname", PW_LEN},
        {"ok@example.org", "bad\xff utf8", PW_LEN},
    };
    char longmail[300], longname[ACCOUNTS_NAME_MAX + 2];
    char bigpw[ACCOUNTS_PASSWORD_MAX + 2];

    memset(bigpw, 'p', sizeof(bigpw));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!CHECK_INT(
                accounts_user_add(f->a, cases[i].email, cases[i].name, bigpw, cases[i].pwlen),
                -EINVAL))
            fprintf(stderr, "    case %zu\n", i);
    }
    memset(longmail, 'a', sizeof(longmail));
    memcpy(longmail + 250, "@x.io", 6); /* 255 characters */
    CHECK_INT(accounts_user_add(f->a, longmail, "", PW, PW_LEN), -EINVAL);
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK_INT(accounts_user_add(f->a, "ok@example.org", longname, PW, PW_LEN), -EINVAL);
    CHECK_INT(accounts_user_add(f->a, NULL, "", PW, PW_LEN), -EINVAL);
    CHECK_INT(fixture_query(f, "SELECT count(*) FROM users", NULL, longmail, sizeof(longmail)), 1);
    CHECK_STR(longmail, "0");
}

STORE_TEST(accounts_login_checks_password_and_hides_unknown_emails)
{
    char stored[256];
    int64_t id;

    CHECK_INT(accounts_user_add(f->a, "dr@example.org", "", PW, PW_LEN), 0);
    id = login(f, " DR@example.org", PW, "192.0.2.1", T0);
    CHECK(id > 0);
    CHECK_INT(login(f, "dr@example.org", "wrong password!", "192.0.2.1", T0), -EACCES);
    CHECK_INT(login(f, "nobody@example.org", PW, "192.0.2.1", T0), -EACCES);
    /* A prefix of the right password is wrong too (the length counts). */
    CHECK_INT(accounts_login(f->a, "dr@example.org", PW, PW_LEN - 1, "192.0.2.1", T0), -EACCES);

    CHECK(fixture_query(f, "SELECT pw_hash FROM users", NULL, stored, sizeof(stored)) > 0);
    CHECK(strncmp(stored, "scrypt$15$8$1$", 14) == 0);
    CHECK(strstr(stored, PW) == NULL);
    CHECK_INT(strlen(stored), 14 + 24 + 1 + 44);
}

STORE_TEST(accounts_locks_account_after_five_failures_until_window_passes)
{

    CHECK_INT(accounts_user_add(f->a, "dr@example.org", "", PW, PW_LEN), 0);
    for (int i = 0; i < 5; i++)
        CHECK_INT(login(f, "dr@example.org", "wrong password!", "192.0.2.1", T0 + i), -EACCES);
    /* Locked: even the right password, from another address, is refused without a hash. */
    CHECK_INT(login(f, "dr@example.org", PW, "192.0.2.2", T0 + 10), -EAGAIN);
    CHECK_INT(login(f, "Dr@Example.org", PW, "192.0.2.3", T0 + 899), -EAGAIN);
    CHECK(login(f, "dr@example.org", PW, "192.0.2.3", T0 + 900) > 0);
}

STORE_TEST(accounts_successful_login_resets_failures)
{

    CHECK_INT(accounts_user_add(f->a, "dr@example.org", "", PW, PW_LEN), 0);
    for (int i = 0; i < 2; i++)
        CHECK_INT(login(f, "dr@example.org", "wrong password!", NULL, T0), -EACCES);
    CHECK(login(f, "dr@example.org", PW, NULL, T0) > 0);
    for (int i = 0; i < 4; i++)
        CHECK_INT(login(f, "dr@example.org", "wrong password!", NULL, T0 + 1), -EACCES);
    /* Six failures in the window, but never five since the success. */
    CHECK(login(f, "dr@example.org", PW, NULL, T0 + 2) > 0);
}

STORE_TEST(accounts_limits_attempts_per_ip_per_minute)
{

    CHECK_INT(accounts_user_add(f->a, "locked@example.org", "", PW, PW_LEN), 0);
    CHECK_INT(accounts_user_add(f->a, "dr@example.org", "", PW, PW_LEN), 0);
    for (int i = 0; i < 5; i++)
        CHECK_INT(login(f, "locked@example.org", "wrong password!", "198.51.100.1", T0), -EACCES);
    /* Attempts at a locked account cost no hash but still count for the address. */
    for (int i = 0; i < 19; i++)
        CHECK_INT(login(f, "locked@example.org", PW, "203.0.113.9", T0 + 60), -EAGAIN);
    CHECK(login(f, "dr@example.org", PW, "203.0.113.9", T0 + 61) > 0); /* the 20th */
    CHECK_INT(login(f, "dr@example.org", PW, "203.0.113.9", T0 + 62), -EAGAIN);
    CHECK(login(f, "dr@example.org", PW, "203.0.113.10", T0 + 62) > 0);
    CHECK(login(f, "dr@example.org", PW, "203.0.113.9", T0 + 120) > 0);
}

/* The password check of an attempt, on its own thread: it touches no database. */
struct check_arg {
    const struct accounts_attempt *at;
    const char *pw;
    bool ok;
};

static void *check_thread(void *p)
{
    struct check_arg *c = p;

    c->ok = accounts_login_check(c->at, c->pw, strlen(c->pw));
    return NULL;
}

/* begin, check on another thread, end: the result of the three steps. */
static int64_t login_steps(struct fixture *f, const char *email, const char *pw, const char *ip,
                           int64_t now)
{
    struct accounts_attempt at;
    struct check_arg c = {&at, pw, false};
    pthread_t t;
    int rc = accounts_login_begin(f->a, email, ip, now, &at);

    if (rc < 0)
        return rc;
    if (!CHECK_INT(pthread_create(&t, NULL, check_thread, &c), 0))
        return -EIO;
    pthread_join(t, NULL);
    return accounts_login_end(f->a, &at, c.ok, now);
}

STORE_TEST(accounts_login_in_steps_checks_off_thread_and_keeps_the_limits)
{
    struct accounts_attempt at;

    CHECK_INT(accounts_user_add(f->a, "dr@example.org", "", PW, PW_LEN), 0);
    CHECK(login_steps(f, "dr@example.org", PW, "192.0.2.1", T0) > 0);
    CHECK_INT(login_steps(f, "nobody@example.org", PW, "192.0.2.1", T0), -EACCES);
    /* An unknown email is checked against the dummy hash: same scrypt run, never a match. */
    CHECK_INT(accounts_login_begin(f->a, "nobody@example.org", "192.0.2.1", T0, &at), 0);
    CHECK_INT(at.id, 0);
    CHECK(strncmp(at.hash, "scrypt$15$8$1$", 14) == 0);
    CHECK(!accounts_login_check(&at, PW, PW_LEN));
    CHECK_INT(accounts_login_end(f->a, &at, true, T0), -EACCES); /* ok without an account */
    for (int i = 0; i < 5; i++)
        CHECK_INT(login_steps(f, "dr@example.org", "wrong password!", "192.0.2.2", T0), -EACCES);
    /* A locked account and a busy address are told apart (the one call says -EAGAIN to both). */
    CHECK_INT(accounts_login_begin(f->a, "dr@example.org", "192.0.2.3", T0, &at), -EBUSY);
    CHECK_INT(login(f, "dr@example.org", PW, "192.0.2.3", T0), -EAGAIN);
    for (int i = 0; i < 18; i++) /* 20 attempts from the address in all */
        CHECK_INT(accounts_login_begin(f->a, "dr@example.org", "192.0.2.3", T0, &at), -EBUSY);
    CHECK_INT(accounts_login_begin(f->a, "other@example.org", "192.0.2.3", T0, &at), -EAGAIN);
}

STORE_TEST(accounts_sessions_create_check_expire_delete)
{
    char tok[ACCOUNTS_TOKEN_LEN + 1], csrf[ACCOUNTS_TOKEN_LEN + 1], got[ACCOUNTS_TOKEN_LEN + 1];
    char tok2[ACCOUNTS_TOKEN_LEN + 1], csrf2[ACCOUNTS_TOKEN_LEN + 1];
    uint8_t stored[64], want[32];
    unsigned int mdlen;
    int64_t id;
    char saved;

    CHECK_INT(accounts_user_add(f->a, "dr@example.org", "", PW, PW_LEN), 0);
    id = login(f, "dr@example.org", PW, NULL, T0);
    if (!CHECK(id > 0))
        return;
    CHECK_INT(accounts_session_new(f->a, id, T0, 3600, tok, csrf), 0);
    CHECK_INT(strlen(tok), ACCOUNTS_TOKEN_LEN);
    CHECK_INT(strlen(csrf), ACCOUNTS_TOKEN_LEN);
    CHECK(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          ACCOUNTS_TOKEN_LEN);
    CHECK(strcmp(tok, csrf) != 0);

    CHECK_INT(accounts_session_check(f->a, tok, ACCOUNTS_TOKEN_LEN, T0 + 10, got), id);
    CHECK_STR(got, csrf);
    /* Only the SHA-256 of the token is in the database. */
    CHECK_INT(fixture_query(f, "SELECT token_hash FROM sessions", NULL, stored, sizeof(stored)),
              32);
    EVP_Digest(tok, ACCOUNTS_TOKEN_LEN, want, &mdlen, EVP_sha256(), NULL);
    CHECK_MEM(stored, want, 32);
    CHECK_INT(fixture_query(f, "SELECT count(*) FROM sessions WHERE csrf = $1", tok, stored,
                            sizeof(stored)),
              1);
    CHECK_STR((char *)stored, "0");

    /* Wrong, truncated and altered tokens. */
    CHECK_INT(accounts_session_check(f->a, tok, ACCOUNTS_TOKEN_LEN - 1, T0, got), -ENOENT);
    CHECK_INT(accounts_session_check(f->a, csrf, ACCOUNTS_TOKEN_LEN, T0, got), -ENOENT);
    saved = tok[5];
    tok[5] = saved == 'A' ? 'B' : 'A';
    CHECK_INT(accounts_session_check(f->a, tok, ACCOUNTS_TOKEN_LEN, T0, got), -ENOENT);
    tok[5] = saved;

    /* Expiry: at expires_at it is gone, and the row is removed. */
    CHECK_INT(accounts_session_check(f->a, tok, ACCOUNTS_TOKEN_LEN, T0 + 3599, NULL), id);
    CHECK_INT(accounts_session_check(f->a, tok, ACCOUNTS_TOKEN_LEN, T0 + 3600, got), -ENOENT);
    CHECK_INT(fixture_query(f, "SELECT count(*) FROM sessions", NULL, stored, sizeof(stored)), 1);
    CHECK_STR((char *)stored, "0");
    CHECK_INT(accounts_session_check(f->a, tok, ACCOUNTS_TOKEN_LEN, T0, got), -ENOENT);

    /* Delete. */
    CHECK_INT(accounts_session_new(f->a, id, T0, 3600, tok2, csrf2), 0);
    CHECK(strcmp(tok2, tok) != 0);
    CHECK_INT(accounts_session_del(f->a, tok2, ACCOUNTS_TOKEN_LEN), 0);
    CHECK_INT(accounts_session_del(f->a, tok2, ACCOUNTS_TOKEN_LEN), -ENOENT);
    CHECK_INT(accounts_session_check(f->a, tok2, ACCOUNTS_TOKEN_LEN, T0, got), -ENOENT);
    CHECK_INT(accounts_session_new(f->a, id + 1000, T0, 3600, tok2, csrf2), -ENOENT);
    CHECK_INT(accounts_session_new(f->a, id, T0, 0, tok2, csrf2), -EINVAL);
}

STORE_TEST(accounts_deleting_user_ends_their_sessions)
{
    char tok[ACCOUNTS_TOKEN_LEN + 1], csrf[ACCOUNTS_TOKEN_LEN + 1], n[8];
    int64_t id;

    CHECK_INT(accounts_user_add(f->a, "dr@example.org", "", PW, PW_LEN), 0);
    CHECK(fixture_query(f, "SELECT id FROM users", NULL, n, sizeof(n)) > 0);
    id = strtoll(n, NULL, 10);
    CHECK_INT(accounts_session_new(f->a, id, T0, 3600, tok, csrf), 0);
    CHECK_INT(accounts_session_check(f->a, tok, ACCOUNTS_TOKEN_LEN, T0, NULL), id);
    CHECK_INT(accounts_user_del(f->a, "dr@example.org"), 0);
    CHECK_INT(accounts_session_check(f->a, tok, ACCOUNTS_TOKEN_LEN, T0, NULL), -ENOENT);
    CHECK_INT(fixture_query(f, "SELECT count(*) FROM sessions", NULL, n, sizeof(n)), 1);
    CHECK_STR(n, "0");
}

TEST(accounts_files_are_private)
{
    struct fixture f = {.be = FIXTURE_SQLITE};
    struct stat st;
    char path[160];

    if (!CHECK(fixture_open(&f, FIXTURE_SQLITE)))
        return;
    CHECK(stat(f.data, &st) == 0 && (st.st_mode & 07777) == 0700);
    snprintf(path, sizeof(path), "%s/vc.db", f.data);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0600);
    CHECK_INT(fixture_query(&f, "PRAGMA journal_mode", NULL, path, sizeof(path)), 3);
    CHECK_STR(path, "wal");
    fixture_close(&f);
}

STORE_TEST(accounts_data_survives_reopen)
{
    char err[256], email[ACCOUNTS_EMAIL_MAX + 1], name[ACCOUNTS_NAME_MAX + 1];
    char tok[ACCOUNTS_TOKEN_LEN + 1], csrf[ACCOUNTS_TOKEN_LEN + 1];
    int64_t id;

    CHECK_INT(accounts_user_add(f->a, "dr@example.org", "Dr \xc3\x89mile", PW, PW_LEN), 0);
    id = accounts_user_id(f->a, "dr@example.org");
    CHECK_INT(accounts_session_new(f->a, id, T0, 3600, tok, csrf), 0);
    CHECK_INT(fixture_reopen(f, err, sizeof(err)), 0);
    if (!CHECK(f->a))
        return;
    CHECK_INT(accounts_user_info(f->a, id, email, sizeof(email), name, sizeof(name)), 0);
    CHECK_STR(email, "dr@example.org");
    CHECK_STR(name, "Dr \xc3\x89mile");
    CHECK_INT(accounts_session_check(f->a, tok, ACCOUNTS_TOKEN_LEN, T0 + 1, NULL), id);
    CHECK_INT(accounts_user_info(f->a, id, email, 4, name, sizeof(name)), -ENOSPC);
}

TEST(accounts_open_refuses_a_file_as_data_dir)
{
    char root[64], path[96], err[256] = "";
    struct accounts *a = (struct accounts *)&err; /* must be reset to NULL */
    FILE *fp;

    snprintf(root, sizeof(root), "/tmp/vc-test-accounts-XXXXXX");
    if (!CHECK(mkdtemp(root)))
        return;
    snprintf(path, sizeof(path), "%s/file", root);
    fp = fopen(path, "w");
    if (fp)
        fclose(fp);
    CHECK_INT(accounts_open(path, &a, err, sizeof(err)), -ENOTDIR);
    CHECK(a == NULL);
    CHECK(strstr(err, "not a directory") != NULL);
    unlink(path);
    rmdir(root);
}
