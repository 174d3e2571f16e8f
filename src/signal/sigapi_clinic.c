/* The REST API's clinic-day calls: a room's label, messages to waiting patients, and teams. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "vc/sigmsg.h"
#include "vc/teams.h"
#include "sigapi_int.h"

bool sigapi_opt_text(struct sigapi_call *c, const char *key, json_t *v, size_t max_chars, char *out,
                     size_t outlen)
{
    char msg[96];
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    const char *text = json_is_string(v) ? json_string_value(v) : "";

    if (!json_is_string(v) || strlen(text) != n) {
        snprintf(msg, sizeof(msg), "%s must be a string", key);
        sigapi_error(c, 400, "bad_request", msg);
        return false;
    }
    if (n >= outlen || sigmsg_utf8_chars(text, n) > max_chars) {
        snprintf(msg, sizeof(msg), "%s is longer than %zu characters", key, max_chars);
        sigapi_error(c, 413, "too_large", msg);
        return false;
    }
    memcpy(out, text, n + 1);
    return true;
}

bool sigapi_room_team(struct sigapi_call *c, const char *asked, char out[HUB_TEAM_MAX + 1])
{
    const struct hub_clinician *who = sigapi_who(c);

    out[0] = '\0';
    if (!asked || !asked[0]) {
        if (who && who->nteams > 0)
            memcpy(out, who->teams[0], sizeof(who->teams[0]));
        return true;
    }
    for (unsigned i = 0; who && i < who->nteams; i++)
        if (strcmp(who->teams[i], asked) == 0) {
            memcpy(out, asked, strlen(asked) + 1);
            return true;
        }
    if (!who && c->s->accounts && teams_exists(c->s->accounts, asked) == 1) { /* the API key */
        memcpy(out, asked, strlen(asked) + 1);
        return true;
    }
    sigapi_error(c, 400, "bad_request", who ? "team must be one of your teams" : "no such team");
    return false;
}

bool sigapi_fields(struct sigapi_call *c, json_t *body, const char *const keys[], json_t *vals[],
                   size_t n)
{
    const char *key;
    json_t *v;

    json_object_foreach(body, key, v)
    {
        size_t i = 0;
        while (i < n && strcmp(keys[i], key) != 0)
            i++;
        if (i == n) {
            sigapi_error(c, 400, "bad_request", "unknown field in body");
            return false;
        }
        vals[i] = v;
    }
    if (!vals[0]) {
        char msg[64];
        snprintf(msg, sizeof(msg), "%s is required", keys[0]);
        sigapi_error(c, 400, "bad_request", msg);
        return false;
    }
    return true;
}

void sigapi_room_patch(struct sigapi_call *c)
{
    static const char *const keys[] = {"label"};
    char label[HUB_LABEL_MAX_BYTES + 1];
    struct hub_room_info info;
    json_t *body = sigapi_body(c), *vals[1] = {NULL};
    int rc;

    if (!body)
        return;
    bool ok = sigapi_fields(c, body, keys, vals, 1) &&
              sigapi_opt_text(c, "label", vals[0], HUB_LABEL_MAX_CHARS, label, sizeof(label));
    json_decref(body);
    if (!ok)
        return;
    rc = hub_room_set_label(c->s->hub, c->owner, sigapi_who(c), c->room_id, label, &info);
    if (rc == -EINPROGRESS) /* another node holds the room: the change went there */
        sigapi_reply(c, 202,
                     json_pack("{s:s,s:s,s:b}", "id", c->room_id, "label", label, "forwarded", 1));
    else if (rc == -EINVAL)
        sigapi_error(c, 400, "bad_request", "label must not hold control characters");
    else if (rc == -EMSGSIZE)
        sigapi_error(c, 413, "too_large", "label is longer than 80 characters");
    else if (!sigapi_room_failed(c, rc))
        sigapi_reply(c, 200, sigapi_room_json(&info, true));
    memset(label, 0, sizeof(label));
    memset(&info, 0, sizeof(info));
}

void sigapi_room_message(struct sigapi_call *c)
{
    static const char *const keys[] = {"text", "peer"};
    char text[SIGMSG_TEXT_MAX_BYTES + 1], peer[SIGMSG_ID_MAX + 1] = "";
    json_t *body = sigapi_body(c), *vals[2] = {NULL, NULL};
    int rc = -EINVAL;

    if (!body)
        return;
    bool ok = sigapi_fields(c, body, keys, vals, 2) &&
              sigapi_opt_text(c, "text", vals[0], SIGMSG_TEXT_MAX_CHARS, text, sizeof(text)) &&
              (!vals[1] || sigapi_opt_text(c, "peer", vals[1], SIGMSG_ID_MAX, peer, sizeof(peer)));
    json_decref(body);
    if (ok)
        rc = hub_lobby_send(c->s->hub, c->owner, sigapi_who(c), c->room_id, peer, text);
    memset(text, 0, sizeof(text));
    if (!ok)
        return;
    if (rc == -EINPROGRESS) /* another node holds the room: the text went there */
        sigapi_reply(c, 202, json_pack("{s:b}", "forwarded", 1));
    else if (rc == -ESRCH)
        sigapi_error(c, 404, "unknown_peer", "nobody by that id is waiting");
    else if (rc == -EBUSY)
        sigapi_error(c, 429, "rate_limited", "too many messages to this room; wait a minute");
    else if (rc == -EINVAL)
        sigapi_error(c, 400, "bad_request", "text must not be empty or hold control characters");
    else if (!sigapi_room_failed(c, rc))
        sigapi_reply(c, 202, json_pack("{s:i}", "delivered", rc));
}

/* ---- teams ---- */

/* Collects teams_list() rows into {"teams":[{"name","members":[{"id","name"}]}]}, keeping only
 * the teams of who (all for NULL). */
struct sigapi_team_walk {
    const struct hub_clinician *who;
    json_t *teams, *last;
};

static void sigapi_team_row(void *arg, const char *team, const char *email, const char *name)
{
    struct sigapi_team_walk *w = arg;
    bool mine = !w->who;
    char id[HUB_OWNER_MAX + 1];

    for (unsigned i = 0; !mine && i < w->who->nteams; i++)
        mine = strcmp(w->who->teams[i], team) == 0;
    if (!mine || !w->teams)
        return;
    json_t *last = w->last;
    if (!last || strcmp(json_string_value(json_object_get(last, "name")), team) != 0) {
        last = json_pack("{s:s,s:[]}", "name", team, "members");
        if (!last || json_array_append_new(w->teams, last) < 0)
            return;
        w->last = last;
    }
    if (!email)
        return;
    teams_owner_id(email, id);
    json_array_append_new(json_object_get(last, "members"),
                          json_pack("{s:s,s:s}", "id", id, "name", name ? name : ""));
}

void sigapi_teams(struct sigapi_call *c)
{
    struct sigapi_team_walk w = {sigapi_who(c), json_array(), NULL};

    if (!c->s->accounts || !w.teams || teams_list(c->s->accounts, sigapi_team_row, &w) < 0) {
        json_decref(w.teams);
        sigapi_error(c, 500, "internal", "the teams could not be read");
        return;
    }
    sigapi_reply(c, 200, json_pack("{s:o}", "teams", w.teams));
}
