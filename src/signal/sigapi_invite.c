/* The REST API's guest invites: another person's own link to a consultation, and revoking it. */
#include <errno.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "vc/sigmsg.h"
#include "sigapi_int.h"

/* The answer to a made invite: 201 with its link, or 202 when another node holds the room and
 * the invite went to it. */
static void sigapi_invite_made(struct sigapi_call *c, const struct hub_invite_info *inv,
                               const char *name, bool forwarded)
{
    char url[SIGAPI_URL_MAX], expires[32];
    json_t *out;

    if (!sigapi_link(c->s, inv->token, url)) {
        sigapi_error(c, 500, "internal", "the link could not be built");
        return;
    }
    out = json_pack("{s:s,s:s,s:s}", "id", inv->id, "url", url, "role", "guest");
    if (out && name[0] && json_object_set_new(out, "name", json_string(name)) < 0)
        out = (json_decref(out), NULL);
    if (out && !forwarded) {
        sigapi_rfc3339(expires, inv->expires_ms);
        if (json_object_set_new(out, "expires_at", json_string(expires)) < 0)
            out = (json_decref(out), NULL);
    }
    if (out && forwarded && json_object_set_new(out, "forwarded", json_true()) < 0)
        out = (json_decref(out), NULL);
    sigapi_reply(c, forwarded ? 202 : 201, out);
    OPENSSL_cleanse(url, sizeof(url));
}

static void sigapi_invite_create(struct sigapi_call *c)
{
    static const char *const keys[] = {"role", "name"};
    char name[HUB_DISPLAY_NAME_MAX_BYTES + 1] = "";
    struct hub_invite_info inv;
    json_t *body = sigapi_body(c), *vals[2] = {NULL, NULL};
    int rc;

    if (!body)
        return;
    bool ok = sigapi_fields(c, body, keys, vals, 2);
    if (ok && (!json_is_string(vals[0]) || strcmp(json_string_value(vals[0]), "guest") != 0)) {
        sigapi_error(c, 400, "bad_request",
                     "role must be \"guest\" (a second clinician joins through the team's "
                     "waiting area)");
        ok = false;
    }
    ok = ok && (!vals[1] || sigapi_opt_text(c, "name", vals[1], HUB_DISPLAY_NAME_MAX_CHARS, name,
                                            sizeof(name)));
    json_decref(body);
    if (!ok)
        return;
    rc = hub_invite_create(c->s->hub, c->owner, sigapi_who(c), c->room_id, name, &inv);
    if (rc == 0 || rc == -EINPROGRESS)
        sigapi_invite_made(c, &inv, name, rc == -EINPROGRESS);
    else if (rc == -EBUSY)
        sigapi_error(c, 409, "room_full", "the consultation is full: nobody else can join it");
    else if (rc == -EDQUOT)
        sigapi_error(c, 429, "quota_exceeded", "at most 8 live invites: revoke one first");
    else if (rc == -EINVAL)
        sigapi_error(c, 400, "bad_request", "name must not hold control characters");
    else if (rc == -EMSGSIZE)
        sigapi_error(c, 413, "too_large", "name is longer than 40 characters");
    else if (rc == -EIO)
        sigapi_error(c, 500, "internal", "the invite could not be made");
    else
        sigapi_room_failed(c, rc);
    OPENSSL_cleanse(&inv, sizeof(inv));
    OPENSSL_cleanse(name, sizeof(name));
}

static void sigapi_invite_revoke(struct sigapi_call *c)
{
    int rc = hub_invite_revoke(c->s->hub, c->owner, sigapi_who(c), c->room_id, c->invite_id);

    if (rc == -EINPROGRESS) { /* another node holds the room: the revocation went there */
        sigapi_reply(c, 202, json_pack("{s:b}", "forwarded", 1));
    } else if (rc == -ENOENT) {
        sigapi_error(c, 404, "not_found", "no such invite");
    } else if (!sigapi_room_failed(c, rc)) {
        c->resp->status = 204;
        c->resp->body.len = 0;
    }
}

void sigapi_invites(struct sigapi_call *c)
{
    if (c->route == SIGAPI_ROUTE_INVITES)
        sigapi_invite_create(c);
    else
        sigapi_invite_revoke(c);
}
