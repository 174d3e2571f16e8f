/* Who is in a call besides its two links: guest invites with their own tokens, display names,
 * and the host removing a participant. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vc/log.h"
#include "vc/random.h"
#include "hub_int.h"

/* ---- names ---- */

/* Copies at most HUB_DISPLAY_NAME_MAX_CHARS characters of src (UTF-8, checked by the caller or
 * by jansson), dropping control characters. */
static void name_copy(char dst[HUB_DISPLAY_NAME_MAX_BYTES + 1], const char *src)
{
    size_t n = 0, chars = 0;

    for (; *src && n < HUB_DISPLAY_NAME_MAX_BYTES; src++) {
        unsigned char c = (unsigned char)*src;
        if ((c & 0xC0) != 0x80 && chars++ == HUB_DISPLAY_NAME_MAX_CHARS)
            break;
        if (c >= 0x20 && c != 0x7f)
            dst[n++] = (char)c;
    }
    while (n > 0 && ((unsigned char)dst[n - 1] & 0xC0) == 0xC0)
        n--; /* never end on the lead byte of a character cut short */
    dst[n] = '\0';
}

void hub_member_name(struct hub_peer *p, const char *typed, const struct hub_invite *inv,
                     const struct hub_clinician *c)
{
    if (typed && typed[0])
        name_copy(p->name, typed);
    else if (inv && inv->name[0])
        name_copy(p->name, inv->name);
    else if (c)
        name_copy(p->name, c->name);
}

json_t *hub_member_json(const struct hub_peer *p)
{
    return json_pack("{s:s,s:s,s:s,s:b}", "peer", p->id, "role",
                     p->role == HUB_HOST ? "host" : "guest", "name", p->name, "invited",
                     p->invite[0] != '\0');
}

/* ---- invites ---- */

static struct hub_invite *invite_find(struct hub_room *r, const char *id)
{
    for (struct hub_invite *inv = r->invites; inv; inv = inv->next)
        if (strcmp(inv->id, id) == 0)
            return inv;
    return NULL;
}

/* A fresh invite id, unique in r. -EIO when the CSPRNG fails. */
static int invite_new_id(struct hub_room *r, char id[HUB_INVITE_ID_LEN + 1])
{
    for (int tries = 0; tries < 16; tries++) {
        if (random_token_hex(id, HUB_INVITE_ID_LEN + 1, HUB_INVITE_ID_LEN / 2) < 0)
            return -EIO;
        if (!invite_find(r, id))
            return 0;
    }
    return -EIO;
}

/* Adds an invite (its token already hashed) to r and the token index. -EDQUOT past
 * HUB_MAX_INVITES, -EEXIST for an id r has, -ENOMEM. */
static int invite_add(struct hub *h, struct hub_room *r, const char *id,
                      const unsigned char hash[TOKEN_HASH_LEN], const char *name)
{
    struct hub_invite *inv;

    if (r->ninvites >= HUB_MAX_INVITES)
        return -EDQUOT;
    if (strlen(id) != HUB_INVITE_ID_LEN || invite_find(r, id))
        return -EEXIST;
    if (!(inv = calloc(1, sizeof(*inv))))
        return -ENOMEM;
    memcpy(inv->id, id, HUB_INVITE_ID_LEN + 1);
    memcpy(inv->hash, hash, TOKEN_HASH_LEN);
    name_copy(inv->name, name ? name : "");
    inv->key =
        (struct room_token_key){.room = r, .role = HUB_GUEST, .hash = inv->hash, .invite = inv};
    inv->next = r->invites;
    r->invites = inv;
    r->ninvites++;
    room_index_add_key(&h->index, &inv->key);
    return 0;
}

static void invite_log(struct hub *h, const struct hub_room *r, const char *id, const char *reason)
{
    if (!h->set.log)
        return;
    if (reason)
        event_log_write(h->set.log, "invite.revoked", "{s:s,s:s,s:s}", "room", r->id, "invite", id,
                        "reason", reason);
    else
        event_log_write(h->set.log, "invite.created", "{s:s,s:s}", "room", r->id, "invite", id);
}

/* Takes inv out of r and the index, and frees it. */
static void invite_drop(struct hub *h, struct hub_room *r, struct hub_invite *inv,
                        const char *reason)
{
    struct hub_invite **pp = &r->invites;

    while (*pp && *pp != inv)
        pp = &(*pp)->next;
    if (!*pp)
        return;
    *pp = inv->next;
    r->ninvites--;
    room_index_remove_key(&h->index, &inv->key);
    invite_log(h, r, inv->id, reason);
    free(inv);
    hub_room_changed(h, r); /* the registry forgets the token too */
}

void hub_invites_free(struct hub_room *r)
{
    while (r->invites) {
        struct hub_invite *inv = r->invites;
        r->invites = inv->next;
        free(inv);
    }
    r->ninvites = 0;
}

int hub_invite_adopt(struct hub *h, struct hub_room *r, const struct hub_invite_record *rec)
{
    int rc = invite_add(h, r, rec->id, rec->hash, NULL);

    return rc == -ENOMEM ? rc : 0;
}

/* The checks a new invite to r must pass (name: NULL or its display name). */
static int invite_check(const struct hub_room *r, const char *name)
{
    int rc = name ? hub_text_check(name, HUB_DISPLAY_NAME_MAX_CHARS, true, false) : 0;

    if (rc < 0)
        return rc;
    if (hub_room_participants(r) >= r->capacity)
        return -EBUSY;
    return r->ninvites >= HUB_MAX_INVITES ? -EDQUOT : 0;
}

/* Makes an invite to r with a fresh token (or, from another node, with id and hash given). */
static int invite_make(struct hub *h, struct hub_room *r, const char *name, const char *given_id,
                       const unsigned char *given_hash, struct hub_invite_info *out)
{
    unsigned char hash[TOKEN_HASH_LEN];
    int rc = invite_check(r, name);

    memset(out, 0, sizeof(*out));
    if (rc < 0)
        return rc;
    if (given_id) {
        memcpy(out->id, given_id, strnlen(given_id, HUB_INVITE_ID_LEN) + 1);
        memcpy(hash, given_hash, TOKEN_HASH_LEN);
    } else {
        if (invite_new_id(r, out->id) < 0 ||
            random_token_hex(out->token, sizeof(out->token), HUB_TOKEN_LEN / 2) < 0)
            return -EIO;
        token_hash(out->token, HUB_TOKEN_LEN, hash);
    }
    if ((rc = invite_add(h, r, out->id, hash, name)) < 0)
        return rc;
    out->expires_ms = r->expires_ms;
    invite_log(h, r, out->id, NULL);
    hub_room_changed(h, r); /* the registry learns the token's hash */
    return 0;
}

/* For a room another node holds: a token made here, passed on to the room's home with its hash. */
static int invite_relay(struct hub *h, const char *owner, const struct hub_clinician *who,
                        const char *id, const char *name, struct hub_invite_info *out)
{
    unsigned char hash[TOKEN_HASH_LEN];
    char hex[2 * TOKEN_HASH_LEN + 1];

    memset(out, 0, sizeof(*out));
    if (random_token_hex(out->id, sizeof(out->id), HUB_INVITE_ID_LEN / 2) < 0 ||
        random_token_hex(out->token, sizeof(out->token), HUB_TOKEN_LEN / 2) < 0)
        return -EIO;
    token_hash(out->token, HUB_TOKEN_LEN, hash);
    hex_encode(hash, TOKEN_HASH_LEN, hex);
    json_t *frame = json_pack("{s:s,s:s,s:s,s:s}", "type", "invite", "room", id, "invite", out->id,
                              "hash", hex);
    if (frame && name && name[0] && json_object_set_new(frame, "name", json_string(name)) < 0) {
        json_decref(frame);
        frame = NULL;
    }
    return hub_api_relay(h, owner, who, id, frame);
}

int hub_invite_create(struct hub *h, const char *owner, const struct hub_clinician *who,
                      const char *id, const char *name, struct hub_invite_info *out)
{
    struct hub_room *r = hub_api_room(h, owner, who, id);
    int rc = name ? hub_text_check(name, HUB_DISPLAY_NAME_MAX_CHARS, true, false) : 0;

    if (rc < 0)
        return rc;
    if (r)
        return invite_make(h, r, name, NULL, NULL, out);
    return hub_room_held(h, id) ? -ENOENT : invite_relay(h, owner, who, id, name, out);
}

int hub_invite_revoke(struct hub *h, const char *owner, const struct hub_clinician *who,
                      const char *id, const char *invite)
{
    struct hub_room *r = hub_api_room(h, owner, who, id);
    struct hub_invite *inv = r ? invite_find(r, invite) : NULL;

    if (inv) {
        invite_drop(h, r, inv, "revoked");
        return 0;
    }
    if (r || hub_room_held(h, id))
        return -ENOENT;
    return hub_api_relay(
        h, owner, who, id,
        json_pack("{s:s,s:s,s:s}", "type", "revoke", "room", id, "invite", invite));
}

/* ---- the vc.v1 actions ---- */

/* invite from a host or a dashboard (answered with the link), or from another node passing on a
 * REST call (id and hash given; nobody waits for an answer). */
static void on_invite(struct hub *h, struct hub_session *s, struct hub_room *r,
                      const struct sigmsg *m)
{
    struct hub_invite_info info;
    unsigned char hash[TOKEN_HASH_LEN];
    char url[512];

    if (m->hash[0] && (!s->relayed || strlen(m->invite) != HUB_INVITE_ID_LEN ||
                       hex_decode(m->hash, hash, TOKEN_HASH_LEN) < 0))
        return hub_send_error(h, s, "bad_request", "An invite's token is made by the server.");
    int rc = invite_make(h, r, m->name, m->hash[0] ? m->invite : NULL, hash, &info);
    if (rc == -EBUSY)
        return hub_send_error(h, s, "room_full", "The consultation is full.");
    if (rc == -EDQUOT)
        return hub_send_error(h, s, "rate_limited", "At most 8 invites at a time: revoke one.");
    if (rc < 0)
        return hub_send_error(h, s, "bad_request", "The invite could not be made.");
    if (m->hash[0])
        return; /* the other node answered its REST call already */
    char expires[32];
    hub_rfc3339_ms(expires, info.expires_ms);
    snprintf(url, sizeof(url), "%s/join#%s", h->set.public_url ? h->set.public_url : "",
             info.token);
    if (sigmsg_encode(&h->out, "invite", "{s:s,s:s,s:s,s:s,s:s}", "room", r->id, "id", info.id,
                      "url", url, "name", m->name, "expires_at", expires) == 0)
        hub_send(h, s);
    memset(&info, 0, sizeof(info));
    memset(url, 0, sizeof(url));
}

static void on_revoke(struct hub *h, struct hub_session *s, struct hub_room *r,
                      const struct sigmsg *m)
{
    struct hub_invite *inv = invite_find(r, m->invite);

    if (!inv)
        return hub_send_error(h, s, "unknown_invite", "No such invite in this consultation.");
    invite_drop(h, r, inv, "revoked");
}

/* remove {peer}: that participant gets removed and is closed, its invite stops working, the
 * others get peer-left, and the call goes on. */
static void on_remove(struct hub *h, struct hub_session *s, struct hub_room *r,
                      const struct sigmsg *m)
{
    struct hub_peer *p = hub_peer_find(r, m->peer);
    struct hub_invite *inv;

    if (!p || p->state == HUB_WAITING || p == s->peer)
        return hub_send_error(h, s, "unknown_peer", "Nobody by that id is in the call.");
    if (p->invite[0] && (inv = invite_find(r, p->invite)))
        invite_drop(h, r, inv, "removed");
    if (p->sess) {
        hub_send_simple(h, p->sess, "removed");
        hub_close(h, p->sess, 1000, "removed");
    }
    hub_peer_remove(h, p, "removed");
}

void hub_member_action(struct hub *h, struct hub_session *s, struct hub_room *r,
                       const struct sigmsg *m)
{
    if (m->type == SIGMSG_INVITE)
        on_invite(h, s, r, m);
    else if (m->type == SIGMSG_REVOKE)
        on_revoke(h, s, r, m);
    else
        on_remove(h, s, r, m);
}
