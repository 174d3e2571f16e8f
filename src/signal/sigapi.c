/* vc-signal's REST API: routes /api/v1 requests, authenticates them and builds the JSON answers. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "vc/accounts.h"
#include "vc/hub.h"
#include "vc/log.h"
#include "vc/random.h"
#include "vc/sigapi.h"
#include "vc/teams.h"
#include "sigapi_int.h"

#define SIGAPI_LIST_MAX 256 /* rooms listed per owner */

bool sigapi_handles(const char *path)
{
    return path && strncmp(path, "/api/", 5) == 0;
}

/* ---- responses ---- */

void sigapi_error_response(struct sigapi_response *resp, int status, const char *code,
                           const char *message)
{
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);

    resp->status = status;
    resp->content_type = NULL;
    resp->body.len = 0;
    if (!j || sigmsg_buf_set_json(&resp->body, j) < 0)
        resp->body.len = 0;
    json_decref(j);
}

void sigapi_error(struct sigapi_call *c, int status, const char *code, const char *message)
{
    sigapi_error_response(c->resp, status, code, message);
}

/* The shared room registry (Redis) cannot be reached: the caller may try again. */
static void sigapi_unavailable(struct sigapi_call *c)
{
    sigapi_error(c, 503, "unavailable", "the room registry is unreachable; try again shortly");
}

/* Sends j (taken; NULL means it could not be built) with status. */
void sigapi_reply(struct sigapi_call *c, int status, json_t *j)
{
    int rc = j ? sigmsg_buf_set_json(&c->resp->body, j) : -ENOMEM;

    json_decref(j);
    if (rc < 0) {
        sigapi_error(c, 500, "internal", "the response could not be built");
        return;
    }
    c->resp->status = status;
}

void sigapi_set_cookie(struct sigapi_call *c, const char *token, unsigned max_age)
{
    snprintf(c->resp->set_cookie, sizeof(c->resp->set_cookie),
             "%s=%s; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=%u", SIGAPI_SESSION_COOKIE,
             token, max_age);
}

/* "2026-11-22T23:30:13Z" from unix milliseconds. */
void sigapi_rfc3339(char out[32], int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        out[0] = '\0';
}

void sigapi_auth_failed(struct sigapi_call *c, const char *kind)
{
    if (c->s->log)
        event_log_write(c->s->log, "auth.failed", "{s:s,s:s}", "kind", kind, "ip",
                        c->req->ip ? c->req->ip : "");
}

/* ---- routing ---- */

static bool sigapi_room_id_ok(const char *id, size_t n)
{
    return n > 0 && n <= HUB_ROOM_ID_LEN && strspn(id, "0123456789abcdef") >= n;
}

/* Every API route: its path pattern and the methods it answers. docs/api.md documents each one,
 * and tests/docs/drift.py checks that the two agree. A "{id}" segment is a room id. */
static const struct {
    const char *pattern;
    const char *methods; /* space-separated */
    enum sigapi_route route;
} sigapi_routes[] = {
    {"/api/v1/rooms", "GET POST", SIGAPI_ROUTE_ROOMS},
    {"/api/v1/rooms/{id}", "GET PATCH DELETE", SIGAPI_ROUTE_ROOM},
    {"/api/v1/rooms/{id}/messages", "POST", SIGAPI_ROUTE_MESSAGES},
    {"/api/v1/rooms/{id}/invites", "POST", SIGAPI_ROUTE_INVITES},
    {"/api/v1/rooms/{id}/invites/{invite}", "DELETE", SIGAPI_ROUTE_INVITE},
    {"/api/v1/session", "POST DELETE", SIGAPI_ROUTE_SESSION},
    {"/api/v1/me", "GET", SIGAPI_ROUTE_ME},
    {"/api/v1/teams", "GET", SIGAPI_ROUTE_TEAMS},
    {"/api/v1/reports/consultations", "GET", SIGAPI_ROUTE_REPORTS},
    {"/api/v1/link", "POST", SIGAPI_ROUTE_LINK},
};

/* True when path matches pattern segment by segment; a "{id}" segment's value goes to
 * c->room_id, an "{invite}" one's (HUB_INVITE_ID_LEN hex digits) to c->invite_id. */
static bool sigapi_match(const char *pattern, const char *path, struct sigapi_call *c)
{
    while (*pattern && *path) {
        size_t plen = strcspn(pattern, "/"), len = strcspn(path, "/");

        if (plen == 4 && memcmp(pattern, "{id}", 4) == 0) {
            if (!sigapi_room_id_ok(path, len))
                return false;
            memcpy(c->room_id, path, len);
            c->room_id[len] = '\0';
        } else if (plen == 8 && memcmp(pattern, "{invite}", 8) == 0) {
            if (len != HUB_INVITE_ID_LEN || !sigapi_room_id_ok(path, len))
                return false;
            memcpy(c->invite_id, path, len);
            c->invite_id[len] = '\0';
        } else if (plen != len || memcmp(pattern, path, len) != 0) {
            return false;
        }
        pattern += plen;
        path += len;
        if (*pattern != *path)
            return false;
        if (*pattern == '/') {
            pattern++;
            path++;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

/* The route for path, and in *methods the methods it answers. */
static enum sigapi_route sigapi_route(const char *path, struct sigapi_call *c, const char **methods)
{
    if (!path)
        return SIGAPI_ROUTE_NONE;
    for (size_t i = 0; i < sizeof(sigapi_routes) / sizeof(sigapi_routes[0]); i++) {
        if (sigapi_match(sigapi_routes[i].pattern, path, c)) {
            *methods = sigapi_routes[i].methods;
            return sigapi_routes[i].route;
        }
    }
    return SIGAPI_ROUTE_NONE;
}

/* True when m is one of the space-separated words of methods. */
static bool sigapi_method_allowed(const char *methods, const char *m)
{
    size_t n = m ? strlen(m) : 0;

    for (const char *p = methods; n > 0 && *p; p += strcspn(p, " "), p += strspn(p, " "))
        if (strcspn(p, " ") == n && memcmp(p, m, n) == 0)
            return true;
    return false;
}

bool sigapi_is(const struct sigapi_call *c, const char *method)
{
    return strcmp(c->req->method, method) == 0;
}

/* ---- authentication ---- */

/* Finds the session cookie's value in a Cookie header ("a=b; vc_session=TOKEN"). */
static bool sigapi_cookie_find(const char *hdr, const char **val, size_t *len)
{
    static const char name[] = SIGAPI_SESSION_COOKIE;
    const char *p = hdr;

    while (p && *p) {
        size_t n;

        p += strspn(p, " \t;");
        n = strcspn(p, ";");
        if (n > sizeof(name) && strncmp(p, name, sizeof(name) - 1) == 0 &&
            p[sizeof(name) - 1] == '=') {
            *val = p + sizeof(name);
            *len = n - sizeof(name);
            while (*len > 0 && ((*val)[*len - 1] == ' ' || (*val)[*len - 1] == '\t'))
                (*len)--;
            return true;
        }
        p += n;
    }
    return false;
}

/* Compares the presented key with the configured one in constant time: both are hashed first,
 * so neither the content nor the length of the real key shows in the timing. */
static bool sigapi_key_ok(const struct sigapi_settings *s, const char *key, size_t len)
{
    uint8_t a[32], b[32];

    if (!s->api_key || s->api_key_len == 0)
        return false;
    if (EVP_Digest(key, len, a, NULL, EVP_sha256(), NULL) != 1 ||
        EVP_Digest(s->api_key, s->api_key_len, b, NULL, EVP_sha256(), NULL) != 1)
        return false;
    return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

/* "Authorization: Bearer KEY". Returns true when it matches the API key. */
static bool sigapi_auth_bearer(struct sigapi_call *c)
{
    const char *h = c->req->authorization;
    size_t len;

    if (strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    h += strspn(h, " ");
    len = strnlen(h, 4096);
    while (len > 0 && (h[len - 1] == ' ' || h[len - 1] == '\t'))
        len--;
    if (len == 0 || !sigapi_key_ok(c->s, h, len))
        return false;
    snprintf(c->owner, sizeof(c->owner), "key");
    return true;
}

/* The session's clinician: their id, the owner of their rooms ("user:" and 16 hex digits of the
 * SHA-256 of their email: the same on every node, and no personal data in the metadata log),
 * name and teams. -ENOENT if the account is gone, -EIO if the database failed. */
static int sigapi_user_owner(struct sigapi_call *c, int64_t id)
{
    int rc = teams_clinician_of_user(c->s->accounts, id, &c->clin);

    if (rc < 0)
        return rc == -EIO ? -EIO : -ENOENT;
    memcpy(c->owner, c->clin.id, sizeof(c->owner));
    return 0;
}

const struct hub_clinician *sigapi_who(const struct sigapi_call *c)
{
    return c->user_id > 0 ? &c->clin : NULL;
}

/* The shared store's key for a session token: hex SHA-256. */
void sigapi_session_key(const char *token, size_t len, char key[2 * TOKEN_HASH_LEN + 1])
{
    unsigned char hash[TOKEN_HASH_LEN];

    token_hash(token, len, hash);
    hex_encode(hash, TOKEN_HASH_LEN, key);
}

/* The session's user id here. With a shared store, the store decides (a session started on any
 * node is good on every node where the clinician has an account, and a logout anywhere ends it
 * everywhere); only while it is unreachable does this node's own record count. */
static int64_t sigapi_session_user(struct sigapi_call *c)
{
    char key[2 * TOKEN_HASH_LEN + 1], email[ACCOUNTS_EMAIL_MAX + 1];
    int rc = -EAGAIN;

    if (c->s->sessions) {
        sigapi_session_key(c->token, c->token_len, key);
        rc = c->s->sessions->get(c->s->sessions_ctx, key, email, sizeof(email), c->csrf,
                                 sizeof(c->csrf));
    }
    if (rc == 1)
        return accounts_user_id(c->s->accounts, email);
    if (rc == 0)
        return -ENOENT;
    return accounts_session_check(c->s->accounts, c->token, c->token_len, c->req->now_s, c->csrf);
}

/* Validates the session cookie, if any. 1: valid session; 0: no cookie; -1: a bad cookie (logged
 * as auth.failed); -EIO: the account database failed or did not answer, so nobody can tell. */
static int sigapi_auth_session(struct sigapi_call *c)
{
    int64_t id;

    if (!c->req->cookie || !sigapi_cookie_find(c->req->cookie, &c->token, &c->token_len))
        return 0;
    if (!c->s->accounts)
        return -1;
    id = sigapi_session_user(c);
    if (id > 0) {
        c->user_id = id;
        id = sigapi_user_owner(c, id);
    }
    if (id == -EIO)
        return -EIO;
    if (id < 0) {
        sigapi_auth_failed(c, "session");
        return -1;
    }
    return 1;
}

int sigapi_clinician_of_cookie(const struct sigapi_settings *s, const char *cookie, const char *ip,
                               int64_t now_s, struct hub_clinician *out)
{
    struct sigapi_request req = {.cookie = cookie, .ip = ip, .now_s = now_s};
    struct sigapi_call c = {.s = s, .req = &req};
    int rc = sigapi_auth_session(&c);

    OPENSSL_cleanse(c.csrf, sizeof(c.csrf));
    if (rc <= 0)
        return -ENOENT;
    *out = c.clin;
    return 0;
}

/* A state-changing request with a session must carry the session's CSRF token. */
static bool sigapi_csrf_ok(const struct sigapi_call *c)
{
    const char *h = c->req->csrf;

    return h && strnlen(h, ACCOUNTS_TOKEN_LEN + 1) == ACCOUNTS_TOKEN_LEN &&
           CRYPTO_memcmp(h, c->csrf, ACCOUNTS_TOKEN_LEN) == 0;
}

/* Authenticates a rooms call by API key or by session (+ CSRF for POST and DELETE). On failure
 * the error response is already set. */
bool sigapi_authenticate(struct sigapi_call *c, bool allow_key)
{
    int rc;

    if (allow_key && c->req->authorization && c->req->authorization[0]) {
        if (sigapi_auth_bearer(c))
            return true;
        sigapi_auth_failed(c, "api_key");
        sigapi_error(c, 401, "unauthorized", "invalid credentials");
        return false;
    }
    rc = sigapi_auth_session(c);
    if (rc == -EIO) {
        sigapi_error(c, 503, "unavailable", "the account database is unreachable; try again");
        return false;
    }
    if (rc <= 0) {
        if (rc < 0) /* a stale cookie: tell the browser to drop it */
            sigapi_set_cookie(c, "", 0);
        sigapi_error(c, 401, "unauthorized", "authentication required");
        return false;
    }
    if (!sigapi_is(c, "GET") && !sigapi_csrf_ok(c)) {
        sigapi_error(c, 403, "forbidden", "missing or wrong CSRF token");
        return false;
    }
    return true;
}

/* ---- request bodies ---- */

static bool sigapi_is_json(const char *ct)
{
    size_t n;

    if (!ct)
        return false;
    ct += strspn(ct, " \t");
    n = strcspn(ct, "; \t");
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

/* Parses a POST body as a JSON object (an empty body counts as {}). NULL with the error
 * response set on failure; otherwise owned by the caller. */
json_t *sigapi_body(struct sigapi_call *c)
{
    const struct sigapi_request *r = c->req;
    json_error_t jerr;
    json_t *j;

    if (r->body_len > SIGAPI_MAX_BODY) {
        sigapi_error(c, 413, "payload_too_large", "request body too large");
        return NULL;
    }
    if (r->body_len == 0 || !r->body)
        return json_object();
    if (!sigapi_is_json(r->content_type)) {
        sigapi_error(c, 415, "unsupported_media_type", "Content-Type must be application/json");
        return NULL;
    }
    j = json_loadb((const char *)r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        sigapi_error(c, 400, "bad_request", "body must be a JSON object");
        return NULL;
    }
    return j;
}

/* ---- rooms ---- */

/* Reads one integer or boolean room option; on a bad value sets the 400 response. */
static bool sigapi_opt_uint(struct sigapi_call *c, const char *key, json_t *v, unsigned min,
                            unsigned max, unsigned *out)
{
    char msg[96];
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;

    if (!json_is_integer(v) || n < (json_int_t)min || n > (json_int_t)max) {
        snprintf(msg, sizeof(msg), "%s must be an integer from %u to %u", key, min, max);
        sigapi_error(c, 400, "bad_request", msg);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

static bool sigapi_opt_bool(struct sigapi_call *c, const char *key, json_t *v, bool *out)
{
    char msg[96];

    if (!json_is_boolean(v)) {
        snprintf(msg, sizeof(msg), "%s must be true or false", key);
        sigapi_error(c, 400, "bad_request", msg);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

/* A region name: a string of 1 to HUB_REGION_MAX bytes, copied into out (the body is freed
 * before the room is made); whether the pool has it is the hub's check. */
static bool sigapi_opt_region(struct sigapi_call *c, json_t *v, char out[HUB_REGION_MAX + 1])
{
    size_t n = json_is_string(v) ? json_string_length(v) : 0;

    if (n == 0 || n > HUB_REGION_MAX || memchr(json_string_value(v), '\0', n)) {
        sigapi_error(c, 400, "bad_request", "region must be a region name");
        return false;
    }
    memcpy(out, json_string_value(v), n + 1);
    return true;
}

/* A language tag (hub_language_ok), copied into out. */
static bool sigapi_opt_language(struct sigapi_call *c, json_t *v, char out[HUB_LANGUAGE_MAX + 1])
{
    size_t n = json_is_string(v) ? json_string_length(v) : 0;

    if (n == 0 || n > HUB_LANGUAGE_MAX || !hub_language_ok(json_string_value(v))) {
        sigapi_error(c, 400, "bad_request", "language must be a BCP 47 tag such as \"cy\"");
        return false;
    }
    memcpy(out, json_string_value(v), n + 1);
    return true;
}

/* What a new room's options borrow: copies of strings from the body, which is freed first. */
struct sigapi_room_text {
    char language[HUB_LANGUAGE_MAX + 1];
    char region[HUB_REGION_MAX + 1];
    char label[HUB_LABEL_MAX_BYTES + 1];
    char team[HUB_TEAM_MAX + 1];
};

/* Fills o from the body; its strings are copied into t (borrowed by o). */
static bool sigapi_room_opts(struct sigapi_call *c, json_t *body, struct hub_room_opts *o,
                             struct sigapi_room_text *t)
{
    const char *key;
    json_t *v;
    char msg[96];

    *o = (struct hub_room_opts){.ttl = 3600, .capacity = 2, .lobby = true, .relay_only = false};
    json_object_foreach(body, key, v)
    {
        bool ok;

        if (strcmp(key, "ttl") == 0)
            ok = sigapi_opt_uint(c, key, v, 1, 86400, &o->ttl);
        else if (strcmp(key, "capacity") == 0)
            ok = sigapi_opt_uint(c, key, v, 2, 8, &o->capacity);
        else if (strcmp(key, "lobby") == 0)
            ok = sigapi_opt_bool(c, key, v, &o->lobby);
        else if (strcmp(key, "relay_only") == 0)
            ok = sigapi_opt_bool(c, key, v, &o->relay_only);
        else if (strcmp(key, "region") == 0) {
            ok = sigapi_opt_region(c, v, t->region);
            o->region = t->region;
        } else if (strcmp(key, "language") == 0) {
            ok = sigapi_opt_language(c, v, t->language);
            o->language = t->language;
        } else if (strcmp(key, "label") == 0) {
            ok = sigapi_opt_text(c, key, v, HUB_LABEL_MAX_CHARS, t->label, sizeof(t->label));
            o->label = t->label;
        } else if (strcmp(key, "team") == 0) {
            ok = sigapi_opt_text(c, key, v, HUB_TEAM_MAX, t->team, sizeof(t->team));
            o->team = t->team;
        } else {
            /* Name the field only when it is short plain ASCII, so the message stays valid. */
            size_t n = strlen(key);
            bool plain = n > 0 && n <= 32 &&
                         strspn(key, "abcdefghijklmnopqrstuvwxyz"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;

            snprintf(msg, sizeof(msg), "unknown field %s%s%s", plain ? "\"" : "",
                     plain ? key : "in body", plain ? "\"" : "");
            sigapi_error(c, 400, "bad_request", msg);
            ok = false;
        }
        if (!ok)
            return false;
    }
    return true;
}

/* Adds key: value to j (taken) unless value is empty; NULL (j freed) when that fails. */
static json_t *sigapi_set_str(json_t *j, const char *key, const char *value)
{
    if (j && value[0] && json_object_set_new(j, key, json_string(value)) < 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

bool sigapi_link(const struct sigapi_settings *s, const char *token, char *out)
{
    const char *base = s->public_url ? s->public_url : "";
    size_t blen = strlen(base);
    int n;

    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    n = snprintf(out, SIGAPI_URL_MAX, "%.*s/join#%s", (int)blen, base, token);
    return n > 0 && n < SIGAPI_URL_MAX;
}

static void sigapi_rooms_create(struct sigapi_call *c)
{
    struct hub_room_opts opts;
    struct hub_room_info info;
    struct sigapi_room_text text = {0};
    char host[SIGAPI_URL_MAX], guest[SIGAPI_URL_MAX], expires[32], team[HUB_TEAM_MAX + 1];
    json_t *body = sigapi_body(c), *out;
    int rc;

    if (!body)
        return;
    if (!sigapi_room_opts(c, body, &opts, &text)) {
        json_decref(body);
        return;
    }
    json_decref(body);
    if (!sigapi_room_team(c, opts.team, team))
        return;
    opts.team = team;
    opts.owner_name = c->user_id > 0 ? c->clin.name : NULL;
    rc = hub_room_create(c->s->hub, c->owner, &opts, &info);
    if (rc == -EDQUOT) {
        sigapi_error(c, 429, "quota_exceeded", "too many live rooms for this owner");
        return;
    }
    if (rc == -ENOSPC) {
        sigapi_error(c, 503, "unavailable", "the server has no room for more rooms");
        return;
    }
    if (rc == -EAGAIN) {
        sigapi_unavailable(c);
        return;
    }
    if (rc == -ESHUTDOWN) {
        sigapi_error(c, 503, "draining",
                     "this server is draining; create the room on another node");
        return;
    }
    if (rc < 0 || !sigapi_link(c->s, info.host_token, host) ||
        !sigapi_link(c->s, info.guest_token, guest)) {
        if (rc == 0) /* no answer can carry the links: do not leave the room behind */
            hub_room_end(c->s->hub, c->owner, info.id);
        /* The other options were checked above, so a refused region is what -EINVAL means. */
        sigapi_error(c, rc == -EINVAL ? 400 : 500, rc == -EINVAL ? "bad_request" : "internal",
                     rc == -EINVAL ? (opts.region ? "region is not a configured TURN region"
                                                  : "bad room options")
                                   : "the room could not be created");
        return;
    }
    sigapi_rfc3339(expires, info.expires_ms);
    out = json_pack("{s:s,s:s,s:s,s:s}", "id", info.id, "host_url", host, "guest_url", guest,
                    "expires_at", expires);
    out = sigapi_set_str(out, "region", info.region);
    out = sigapi_set_str(out, "language", info.language);
    out = sigapi_set_str(out, "label", info.label);
    out = sigapi_set_str(out, "team", info.team);
    sigapi_reply(c, 201, out);
    OPENSSL_cleanse(&info, sizeof(info));
    OPENSSL_cleanse(&text, sizeof(text));
    OPENSSL_cleanse(host, sizeof(host));
    OPENSSL_cleanse(guest, sizeof(guest));
}

/* The room fields every answer shares; the list adds its options. */
json_t *sigapi_room_json(const struct hub_room_info *r, bool with_opts)
{
    char created[32], expires[32];
    json_t *j;

    sigapi_rfc3339(created, r->created_ms);
    sigapi_rfc3339(expires, r->expires_ms);
    j = json_pack("{s:s,s:s,s:s,s:I,s:I}", "id", r->id, "created_at", created, "expires_at",
                  expires, "participants", (json_int_t)r->participants, "waiting",
                  (json_int_t)r->waiting);
    if (j && with_opts &&
        (json_object_set_new(j, "capacity", json_integer(r->capacity)) < 0 ||
         json_object_set_new(j, "lobby", json_boolean(r->lobby)) < 0 ||
         json_object_set_new(j, "relay_only", json_boolean(r->relay_only)) < 0)) {
        json_decref(j);
        j = NULL;
    }
    j = sigapi_set_str(j, "region", r->region);
    j = sigapi_set_str(j, "language", r->language);
    j = sigapi_set_str(j, "label", r->label);
    return sigapi_set_str(j, "team", r->team);
}

static void sigapi_rooms_list(struct sigapi_call *c)
{
    struct hub_room_info *infos = calloc(SIGAPI_LIST_MAX, sizeof(*infos));
    json_t *arr = json_array();
    int n;

    if (!infos || !arr) {
        free(infos);
        json_decref(arr);
        sigapi_error(c, 500, "internal", "out of memory");
        return;
    }
    n = hub_room_list(c->s->hub, c->owner, infos, SIGAPI_LIST_MAX);
    if (n < 0) {
        free(infos);
        json_decref(arr);
        sigapi_unavailable(c);
        return;
    }
    for (int i = 0; i < n && arr; i++) {
        if (json_array_append_new(arr, sigapi_room_json(&infos[i], true)) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    free(infos);
    sigapi_reply(c, 200, arr ? json_pack("{s:o}", "rooms", arr) : NULL);
}

/* Answers a failed lookup of one room (503 while the registry is away, else 404); false for 0. */
bool sigapi_room_failed(struct sigapi_call *c, int rc)
{
    if (rc == -EAGAIN)
        sigapi_unavailable(c);
    else if (rc < 0)
        sigapi_error(c, 404, "not_found", "no such room");
    return rc < 0;
}

static void sigapi_room_one(struct sigapi_call *c)
{
    struct hub_room_info info;

    if (sigapi_is(c, "DELETE")) {
        if (sigapi_room_failed(c, hub_room_end(c->s->hub, c->owner, c->room_id)))
            return;
        c->resp->status = 204;
        c->resp->body.len = 0;
        return;
    }
    if (sigapi_room_failed(c, hub_room_get(c->s->hub, c->owner, c->room_id, &info)))
        return;
    sigapi_reply(c, 200, sigapi_room_json(&info, false));
}

/* POST /api/v1/link {"token"}: what the join page may know before it joins, for the link it
 * was opened with. No credentials: the token is the secret, and it comes in the body, so it never
 * reaches a URL or a log. An unknown, malformed or expired token gets the same 404. */
static void sigapi_link_page(struct sigapi_call *c)
{
    static const char *const keys[] = {"token"};
    char token[HUB_TOKEN_LEN + 1] = "";
    struct hub_room_info info;
    json_t *body = sigapi_body(c), *vals[1] = {NULL};
    const char *t;
    bool ok;
    int rc;

    if (!body)
        return;
    ok = sigapi_fields(c, body, keys, vals, 1);
    t = ok ? json_string_value(vals[0]) : NULL;
    if (ok && !t)
        sigapi_error(c, 400, "bad_request", "token must be a string");
    else if (t && strlen(t) == HUB_TOKEN_LEN)
        memcpy(token, t, HUB_TOKEN_LEN + 1);
    json_decref(body);
    if (!t)
        return;
    rc = token[0] ? hub_link_get(c->s->hub, token, &info) : -ENOENT;
    OPENSSL_cleanse(token, sizeof(token));
    if (rc == -EAGAIN)
        sigapi_unavailable(c);
    else if (rc < 0)
        sigapi_error(c, 404, "not_found", "no such link, or it has expired");
    else
        sigapi_reply(c, 200, sigapi_set_str(json_object(), "language", info.language));
}

void sigapi_handle(const struct sigapi_settings *s, const struct sigapi_request *req,
                   struct sigapi_response *resp)
{
    struct sigapi_call c = {.s = s, .req = req, .resp = resp};

    resp->status = 500;
    resp->content_type = NULL;
    resp->set_cookie[0] = '\0';
    resp->body.len = 0;
    resp->login = NULL;
    const char *methods = "";

    c.route = sigapi_route(req->path, &c, &methods);
    if (c.route == SIGAPI_ROUTE_NONE) {
        sigapi_error(&c, 404, "not_found", "no such API path");
        return;
    }
    if (!sigapi_method_allowed(methods, req->method)) {
        sigapi_error(&c, 405, "method_not_allowed", "method not allowed on this path");
        return;
    }
    if (c.route == SIGAPI_ROUTE_LINK) {
        sigapi_link_page(&c);
    } else if (c.route == SIGAPI_ROUTE_SESSION || c.route == SIGAPI_ROUTE_ME) {
        sigapi_session(&c);
    } else if (sigapi_authenticate(&c, true)) {
        if (c.route == SIGAPI_ROUTE_ROOM && sigapi_is(&c, "PATCH"))
            sigapi_room_patch(&c);
        else if (c.route == SIGAPI_ROUTE_ROOM)
            sigapi_room_one(&c);
        else if (c.route == SIGAPI_ROUTE_MESSAGES)
            sigapi_room_message(&c);
        else if (c.route == SIGAPI_ROUTE_TEAMS)
            sigapi_teams(&c);
        else if (c.route == SIGAPI_ROUTE_INVITES || c.route == SIGAPI_ROUTE_INVITE)
            sigapi_invites(&c);
        else if (c.route == SIGAPI_ROUTE_REPORTS)
            sigapi_reports(&c);
        else if (sigapi_is(&c, "POST"))
            sigapi_rooms_create(&c);
        else
            sigapi_rooms_list(&c);
    }
    OPENSSL_cleanse(c.csrf, sizeof(c.csrf));
}
