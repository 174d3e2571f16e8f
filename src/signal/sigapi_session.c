/* Clinician sessions of the REST API: login (its scrypt run can leave the caller's thread), logout
 * and /me; login outcomes are counted and refusals logged at most once a minute per source. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "vc/log.h"
#include "vc/teams.h"
#include "sigapi_int.h"

/* A login between its database steps; the password check runs on any thread in between. */
struct sigapi_login {
    struct accounts_attempt at;
    char *password; /* a copy (pwlen bytes), wiped before it is freed */
    size_t pwlen;
    char ip[48];
    int64_t now_s;
    bool ok; /* the password matched: set by sigapi_login_run() */
};

static const char *const sigapi_refusal_reasons[SIGAPI_LOGIN_OUTCOMES] = {
    [SIGAPI_LOGIN_LOCKED] = "locked",
    [SIGAPI_LOGIN_RATE_LIMITED] = "rate_limited",
    [SIGAPI_LOGIN_BUSY] = "busy",
};

static void sigapi_count(const struct sigapi_settings *s, enum sigapi_login_outcome o)
{
    if (s->stats)
        s->stats->logins[o]++;
}

/* Whether this refusal gets an auth.refused line, and how many from its source went unlogged
 * since that source's previous line. One line per source and minute, and at most
 * SIGAPI_REFUSAL_LINES_PER_MIN lines a minute in all, so a flood cannot fill the disk. */
static bool sigapi_refusal_due(struct sigapi_stats *st, const char *ip, int64_t now_s,
                               uint32_t *suppressed)
{
    unsigned char h[TOKEN_HASH_LEN];
    struct sigapi_refusal *r;
    int64_t minute = now_s / 60;
    bool mine;

    token_hash(ip, strlen(ip), h);
    r = &st->refusals[((size_t)h[0] << 8 | h[1]) % SIGAPI_REFUSAL_SLOTS];
    mine = strcmp(r->ip, ip) == 0;
    if (st->minute != minute) {
        st->minute = minute;
        st->lines = 0;
    }
    if ((mine && r->minute == minute) || st->lines >= SIGAPI_REFUSAL_LINES_PER_MIN) {
        if (mine)
            r->suppressed++;
        return false;
    }
    *suppressed = mine ? r->suppressed : 0;
    snprintf(r->ip, sizeof(r->ip), "%s", ip);
    r->minute = minute;
    r->suppressed = 0;
    st->lines++;
    return true;
}

/* A login refused before any password check: counted, and logged (throttled). */
static void sigapi_refused(const struct sigapi_settings *s, const char *ip, int64_t now_s,
                           enum sigapi_login_outcome o)
{
    uint32_t suppressed = 0;

    sigapi_count(s, o);
    if (!ip)
        ip = "";
    if (s->log && (!s->stats || sigapi_refusal_due(s->stats, ip, now_s, &suppressed)))
        event_log_write(s->log, "auth.refused", "{s:s,s:s,s:I}", "reason",
                        sigapi_refusal_reasons[o], "ip", ip, "suppressed", (json_int_t)suppressed);
}

/* {email, name, csrf, id, teams, canned_messages}: who is signed in, for the dashboard. */
static void sigapi_me_reply(struct sigapi_call *c, int64_t id, const char *csrf)
{
    char email[ACCOUNTS_EMAIL_MAX + 1], name[ACCOUNTS_NAME_MAX + 1];
    struct hub_clinician who;
    json_t *teams = json_array(), *canned = json_array();

    if (accounts_user_info(c->s->accounts, id, email, sizeof(email), name, sizeof(name)) < 0 ||
        teams_clinician_of_user(c->s->accounts, id, &who) < 0) {
        json_decref(teams);
        json_decref(canned);
        sigapi_error(c, 401, "unauthorized", "authentication required");
        return;
    }
    for (unsigned i = 0; teams && i < who.nteams; i++)
        json_array_append_new(teams, json_string(who.teams[i]));
    for (unsigned i = 0; canned && i < c->s->n_canned; i++)
        json_array_append_new(canned, json_string(c->s->canned[i]));
    sigapi_reply(c, 200,
                 json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "email", email, "name", name, "csrf", csrf,
                           "id", who.id, "teams", teams, "canned_messages", canned));
}

/* Reads {"email","password"}: both strings without NUL bytes, nothing else. */
static bool sigapi_login_body(struct sigapi_call *c, json_t *body, json_t **email, json_t **pw)
{
    const char *key;
    json_t *v;

    *email = json_object_get(body, "email");
    *pw = json_object_get(body, "password");
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "email") != 0 && strcmp(key, "password") != 0) {
            sigapi_error(c, 400, "bad_request", "only email and password are accepted");
            return false;
        }
    }
    if (!json_is_string(*email) || !json_is_string(*pw) ||
        strlen(json_string_value(*email)) != json_string_length(*email)) {
        sigapi_error(c, 400, "bad_request", "email and password must be strings");
        return false;
    }
    return true;
}

static void sigapi_login_free(struct sigapi_login *l)
{
    if (!l)
        return;
    if (l->password) {
        OPENSSL_cleanse(l->password, l->pwlen);
        free(l->password);
    }
    OPENSSL_cleanse(l, sizeof(*l));
    free(l);
}

/* The attempt with a copy of the password, or NULL (out of memory). */
static struct sigapi_login *sigapi_login_new(const struct sigapi_call *c, json_t *pw)
{
    struct sigapi_login *l = calloc(1, sizeof(*l));

    if (!l)
        return NULL;
    l->pwlen = json_string_length(pw);
    l->password = malloc(l->pwlen ? l->pwlen : 1);
    if (!l->password) {
        free(l);
        return NULL;
    }
    memcpy(l->password, json_string_value(pw), l->pwlen);
    snprintf(l->ip, sizeof(l->ip), "%s", c->req->ip ? c->req->ip : "");
    l->now_s = c->req->now_s;
    return l;
}

/* Starts the session of user id: its cookie, its record in the shared store, the answer. */
static void sigapi_login_start(struct sigapi_call *c, int64_t id)
{
    char token[ACCOUNTS_TOKEN_LEN + 1], csrf[ACCOUNTS_TOKEN_LEN + 1];
    unsigned ttl = c->s->session_ttl ? c->s->session_ttl : SIGAPI_SESSION_TTL_DEFAULT;

    int rc = accounts_session_new(c->s->accounts, id, c->req->now_s, ttl, token, csrf);

    if (rc == -EIO) {
        sigapi_error(c, 503, "unavailable", "the account database is unreachable; try again");
        return;
    }
    if (rc < 0) {
        sigapi_error(c, 500, "internal", "the session could not be started");
        return;
    }
    sigapi_set_cookie(c, token, ttl);
    if (c->s->sessions) {
        char key[2 * TOKEN_HASH_LEN + 1], mail[ACCOUNTS_EMAIL_MAX + 1];
        sigapi_session_key(token, strlen(token), key);
        if (accounts_user_info(c->s->accounts, id, mail, sizeof(mail), NULL, 0) == 0)
            c->s->sessions->put(c->s->sessions_ctx, key, mail, csrf, ttl);
    }
    OPENSSL_cleanse(token, sizeof(token));
    sigapi_me_reply(c, id, csrf);
    OPENSSL_cleanse(csrf, sizeof(csrf));
}

static void sigapi_login(struct sigapi_call *c)
{
    json_t *body = sigapi_body(c), *email, *pw;
    struct sigapi_login *l;
    int rc;

    if (!body)
        return;
    if (!sigapi_login_body(c, body, &email, &pw)) {
        json_decref(body);
        return;
    }
    l = sigapi_login_new(c, pw);
    rc = l ? accounts_login_begin(c->s->accounts, json_string_value(email), c->req->ip,
                                  c->req->now_s, &l->at)
           : -ENOMEM;
    OPENSSL_cleanse((char *)json_string_value(pw), json_string_length(pw));
    json_decref(body);
    if (rc < 0) {
        sigapi_login_free(l);
        if (rc == -EAGAIN || rc == -EBUSY) {
            sigapi_refused(c->s, c->req->ip, c->req->now_s,
                           rc == -EBUSY ? SIGAPI_LOGIN_LOCKED : SIGAPI_LOGIN_RATE_LIMITED);
            sigapi_error(c, 429, "too_many_requests", "too many login attempts; try again later");
        } else if (rc == -EIO) {
            sigapi_error(c, 503, "unavailable", "the account database is unreachable; try again");
        } else {
            sigapi_error(c, 500, "internal", "the login could not be checked");
        }
        return;
    }
    if (c->s->defer_login) {
        c->resp->status = 0;
        c->resp->login = l;
        return;
    }
    sigapi_login_run(l);
    sigapi_login_finish(c->s, l, c->resp);
}

void sigapi_login_run(struct sigapi_login *l)
{
    l->ok = accounts_login_check(&l->at, l->password, l->pwlen);
    OPENSSL_cleanse(l->password, l->pwlen);
}

void sigapi_login_finish(const struct sigapi_settings *s, struct sigapi_login *l,
                         struct sigapi_response *resp)
{
    const struct sigapi_request req = {.ip = l->ip, .now_s = l->now_s}; /* borrows l */
    struct sigapi_call c = {.s = s, .req = &req, .resp = resp};
    int64_t id = accounts_login_end(s->accounts, &l->at, l->ok, l->now_s);

    sigapi_count(s, id > 0 ? SIGAPI_LOGIN_OK : SIGAPI_LOGIN_WRONG);
    if (id <= 0)
        sigapi_auth_failed(&c, "login");
    if (resp) {
        resp->status = 500;
        resp->set_cookie[0] = '\0';
        resp->body.len = 0;
        resp->login = NULL;
        if (id <= 0)
            sigapi_error(&c, 401, "unauthorized", "wrong email or password");
        else
            sigapi_login_start(&c, id);
    }
    sigapi_login_free(l);
}

void sigapi_login_refuse(const struct sigapi_settings *s, struct sigapi_login *l,
                         struct sigapi_response *resp)
{
    sigapi_refused(s, l->ip, l->now_s, SIGAPI_LOGIN_BUSY);
    sigapi_login_free(l);
    if (!resp)
        return;
    resp->login = NULL;
    resp->set_cookie[0] = '\0';
    sigapi_error_response(resp, 503, "unavailable",
                          "too many logins are being checked; try again shortly");
}

void sigapi_session(struct sigapi_call *c)
{
    if (!c->s->accounts) {
        sigapi_error(c, 404, "not_found", "clinician logins are disabled");
        return;
    }
    if (sigapi_is(c, "POST")) {
        sigapi_login(c);
        return;
    }
    if (!sigapi_authenticate(c, false))
        return;
    if (c->route == SIGAPI_ROUTE_ME) {
        sigapi_me_reply(c, c->user_id, c->csrf);
        return;
    }
    accounts_session_del(c->s->accounts, c->token, c->token_len);
    if (c->s->sessions) {
        char key[2 * TOKEN_HASH_LEN + 1];
        sigapi_session_key(c->token, c->token_len, key);
        c->s->sessions->del(c->s->sessions_ctx, key);
    }
    sigapi_set_cookie(c, "", 0);
    c->resp->status = 204;
    c->resp->body.len = 0;
}
