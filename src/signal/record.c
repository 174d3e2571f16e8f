/* Rooms in a shared registry: records (JSON), taking a room over, forgetting one that moved. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hub_int.h"

void hub_set_registry(struct hub *h, const struct hub_registry_ops *ops, void *ctx)
{
    h->reg = ops;
    h->reg_ctx = ctx;
}

void hub_room_record_of(const struct hub_room *r, struct hub_room_record *out)
{
    memset(out, 0, sizeof(*out));
    hub_room_info_of(r, &out->info);
    memcpy(out->owner, r->owner, sizeof(out->owner));
    memcpy(out->host_hash, r->host_hash, HUB_HASH_LEN);
    memcpy(out->guest_hash, r->guest_hash, HUB_HASH_LEN);
    for (const struct hub_peer *p = r->peers; p && out->npeers < HUB_MAX_CAPACITY; p = p->next) {
        if (p->state == HUB_WAITING)
            continue;
        struct hub_peer_record *pr = &out->peers[out->npeers++];
        memcpy(pr->id, p->id, sizeof(pr->id));
        memcpy(pr->turn_id, p->turn_id, sizeof(pr->turn_id));
        pr->host = p->role == HUB_HOST;
        pr->has_resume = p->has_resume;
        memcpy(pr->resume_hash, p->resume_hash, HUB_HASH_LEN);
        memcpy(pr->invite, p->invite, sizeof(pr->invite));
    }
    for (const struct hub_invite *inv = r->invites; inv && out->ninvites < HUB_MAX_INVITES;
         inv = inv->next) {
        memcpy(out->invites[out->ninvites].id, inv->id, sizeof(inv->id));
        memcpy(out->invites[out->ninvites++].hash, inv->hash, HUB_HASH_LEN);
    }
    out->owner_who = r->owner_who;
    out->assignee = r->assignee;
    out->clinician = r->clinician;
}

void hub_registry_update(struct hub *h, const struct hub_room *r)
{
    struct hub_room_record rec;

    if (!h->reg || h->stopping || r->closing)
        return;
    hub_room_record_of(r, &rec);
    h->reg->update(h->reg_ctx, &rec);
}

void hub_room_changed(struct hub *h, struct hub_room *r)
{
    hub_registry_update(h, r);
    hub_watch_room(h, r);
}

int hub_room_export(const struct hub *h, const char *id, struct hub_room_record *out)
{
    struct hub_room *r = hub_room_by_id((struct hub *)h, id);

    if (!r)
        return -ENOENT;
    hub_room_record_of(r, out);
    return 0;
}

static bool record_ok(const struct hub_room_record *rec)
{
    const struct hub_room_info *i = &rec->info;

    if (strlen(i->id) != HUB_ROOM_ID_LEN || !rec->owner[0] || i->capacity < 2 ||
        i->capacity > HUB_MAX_CAPACITY || rec->npeers > i->capacity || i->expires_ms <= 0 ||
        rec->ninvites > HUB_MAX_INVITES)
        return false;
    for (unsigned k = 0; k < rec->ninvites; k++)
        if (strlen(rec->invites[k].id) != HUB_INVITE_ID_LEN)
            return false;
    for (unsigned k = 0; k < rec->npeers; k++)
        if (strlen(rec->peers[k].id) != HUB_PEER_ID_LEN ||
            strlen(rec->peers[k].turn_id) != HUB_TURN_ID_LEN)
            return false;
    return true;
}

int hub_room_adopt(struct hub *h, const struct hub_room_record *rec)
{
    const struct hub_room_info *i = &rec->info;

    if (!record_ok(rec))
        return -EINVAL;
    if (hub_room_by_id(h, i->id))
        return -EEXIST;
    struct hub_room *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    memcpy(r->id, i->id, sizeof(r->id));
    memcpy(r->owner, rec->owner, sizeof(r->owner));
    memcpy(r->host_hash, rec->host_hash, HUB_HASH_LEN);
    memcpy(r->guest_hash, rec->guest_hash, HUB_HASH_LEN);
    r->created_ms = i->created_ms;
    r->created_mono =
        h->mono_ms - (uint64_t)(h->unix_ms > i->created_ms ? h->unix_ms - i->created_ms : 0);
    r->expires_ms = i->expires_ms;
    r->capacity = i->capacity;
    r->lobby = i->lobby;
    r->relay_only = i->relay_only;
    memcpy(r->region, i->region, sizeof(r->region));
    memcpy(r->label, i->label, sizeof(r->label));
    memcpy(r->team, i->team, sizeof(r->team));
    memcpy(r->language, i->language, sizeof(r->language));
    r->owner_who = rec->owner_who;
    r->assignee = rec->assignee;
    r->clinician = rec->clinician;
    if (hub_room_link(h, r) < 0) {
        free(r);
        return -ENOMEM;
    }
    for (unsigned k = 0; k < rec->ninvites; k++)
        if (hub_invite_adopt(h, r, &rec->invites[k]) < 0)
            break; /* out of memory: that invite's link opens nothing here */
    for (unsigned k = 0; k < rec->npeers; k++) {
        const struct hub_peer_record *pr = &rec->peers[k];
        struct hub_peer *p = hub_peer_new(h, r, pr->host ? HUB_HOST : HUB_GUEST);
        if (!p)
            break; /* out of memory: that peer will join afresh */
        memcpy(p->id, pr->id, sizeof(p->id));
        memcpy(p->turn_id, pr->turn_id, sizeof(p->turn_id));
        p->has_resume = pr->has_resume;
        memcpy(p->resume_hash, pr->resume_hash, HUB_HASH_LEN);
        memcpy(p->invite, pr->invite, sizeof(p->invite));
        p->state = HUB_AWAY; /* its connection was on the old home: it comes back with resume */
        p->away_ms = h->mono_ms;
        p->joined_ms = h->mono_ms;
        hub_call_admitted(h, r, p); /* its summary here counts who it took over */
    }
    hub_call_count(h, r);
    return 0;
}

int hub_room_forget(struct hub *h, const char *id)
{
    struct hub_room *r = hub_room_by_id(h, id);

    if (!r)
        return -ENOENT;
    hub_room_unlink(h, r, 1012, "the consultation moved to another server");
    free(r);
    return 0;
}

int hub_room_end_held(struct hub *h, const char *id)
{
    struct hub_room *r = hub_room_by_id(h, id);

    if (!r)
        return -ENOENT;
    hub_room_destroy(h, r, "ended");
    return 0;
}

bool hub_token_held(struct hub *h, const char *token)
{
    enum hub_role role;
    struct hub_invite *inv;

    return hub_room_by_token(h, token, &role, &inv) != NULL;
}

size_t hub_room_ids(const struct hub *h, char (*ids)[HUB_ROOM_ID_LEN + 1], size_t max)
{
    size_t n = 0;

    for (const struct hub_room *r = h->rooms; r && n < max; r = r->next)
        memcpy(ids[n++], r->id, HUB_ROOM_ID_LEN + 1);
    return n;
}

/* ---- JSON ---- */

static bool hex_to(const char *in, unsigned char *out, size_t len)
{
    return hex_decode(in, out, len) == 0;
}

/* Copies a JSON string of at most max bytes into out. */
static bool str_to(const json_t *v, char *out, size_t max)
{
    const char *s = json_string_value(v);

    if (!s || strlen(s) > max)
        return false;
    memcpy(out, s, strlen(s) + 1);
    return true;
}

static json_t *who_to(const struct hub_who *w)
{
    return json_pack("{s:s,s:s}", "id", w->id, "name", w->name);
}

/* An optional {id, name} (absent in records of older nodes). */
static bool who_from(const json_t *v, struct hub_who *w)
{
    return !v || (str_to(json_object_get(v, "id"), w->id, HUB_OWNER_MAX) &&
                  str_to(json_object_get(v, "name"), w->name, HUB_NAME_MAX));
}

/* An optional string of at most max bytes. */
static bool opt_str_to(const json_t *v, char *out, size_t max)
{
    return !v || str_to(v, out, max);
}

int hub_record_encode(const struct hub_room_record *rec, char *out, size_t outlen)
{
    const struct hub_room_info *i = &rec->info;
    char hh[2 * HUB_HASH_LEN + 1], gh[2 * HUB_HASH_LEN + 1], rh[2 * HUB_HASH_LEN + 1];
    json_t *peers = json_array(), *invites = json_array(), *j;

    for (unsigned k = 0; k < rec->npeers; k++) {
        const struct hub_peer_record *p = &rec->peers[k];
        hex_encode(p->resume_hash, HUB_HASH_LEN, rh);
        json_array_append_new(peers, json_pack("{s:s,s:s,s:b,s:s,s:s}", "id", p->id, "turn",
                                               p->turn_id, "host", p->host, "resume",
                                               p->has_resume ? rh : "", "invite", p->invite));
    }
    for (unsigned k = 0; k < rec->ninvites; k++) { /* ids and hashes only, never names */
        hex_encode(rec->invites[k].hash, HUB_HASH_LEN, rh);
        json_array_append_new(invites,
                              json_pack("{s:s,s:s}", "id", rec->invites[k].id, "hash", rh));
    }
    hex_encode(rec->host_hash, HUB_HASH_LEN, hh);
    hex_encode(rec->guest_hash, HUB_HASH_LEN, gh);
    j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:i,s:b,s:b,s:s,s:i,s:i,s:o}", "id", i->id, "owner",
                  rec->owner, "host", hh, "guest", gh, "created", (json_int_t)i->created_ms,
                  "expires", (json_int_t)i->expires_ms, "capacity", (int)i->capacity, "lobby",
                  i->lobby, "relay_only", i->relay_only, "region", i->region, "participants",
                  (int)i->participants, "waiting", (int)i->waiting, "peers", peers);
    if (j && json_object_update_new(
                 j, json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "label", i->label, "team", i->team,
                              "language", i->language, "owner_who", who_to(&rec->owner_who),
                              "assignee", who_to(&rec->assignee), "clinician",
                              who_to(&rec->clinician), "invites", invites)) < 0) {
        json_decref(j);
        j = NULL;
    }
    if (!j)
        return -ENOMEM;
    size_t n = json_dumpb(j, out, outlen - 1, JSON_COMPACT);
    json_decref(j);
    if (n == 0 || n >= outlen - 1)
        return -ENOSPC;
    out[n] = '\0';
    return 0;
}

static bool peer_from(const json_t *v, struct hub_peer_record *p)
{
    const char *resume = json_string_value(json_object_get(v, "resume"));

    if (!json_is_object(v) || !str_to(json_object_get(v, "id"), p->id, HUB_PEER_ID_LEN) ||
        !str_to(json_object_get(v, "turn"), p->turn_id, HUB_TURN_ID_LEN) ||
        !json_is_boolean(json_object_get(v, "host")) || !resume ||
        !opt_str_to(json_object_get(v, "invite"), p->invite, HUB_INVITE_ID_LEN))
        return false;
    p->host = json_is_true(json_object_get(v, "host"));
    p->has_resume = resume[0] != '\0';
    return !p->has_resume || hex_to(resume, p->resume_hash, HUB_HASH_LEN);
}

/* The optional invites: [{id, hash}] (absent in records of older nodes). */
static bool invites_from(const json_t *v, struct hub_room_record *out)
{
    if (!v)
        return true;
    if (!json_is_array(v) || json_array_size(v) > HUB_MAX_INVITES)
        return false;
    for (size_t k = 0; k < json_array_size(v); k++) {
        const json_t *e = json_array_get(v, k);
        struct hub_invite_record *inv = &out->invites[out->ninvites++];
        if (!str_to(json_object_get(e, "id"), inv->id, HUB_INVITE_ID_LEN) ||
            !hex_to(json_string_value(json_object_get(e, "hash")), inv->hash, HUB_HASH_LEN))
            return false;
    }
    return true;
}

int hub_record_decode(const char *text, size_t len, struct hub_room_record *out)
{
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL), *peers;
    struct hub_room_info *i = &out->info;
    json_int_t created, expires, capacity, participants, waiting;
    int lobby, relay_only;
    bool ok;

    memset(out, 0, sizeof(*out));
    if (!j)
        return -EINVAL;
    ok = json_unpack(j, "{s:I,s:I,s:I,s:b,s:b,s:I,s:I,s:o}", "created", &created, "expires",
                     &expires, "capacity", &capacity, "lobby", &lobby, "relay_only", &relay_only,
                     "participants", &participants, "waiting", &waiting, "peers", &peers) == 0 &&
         str_to(json_object_get(j, "id"), i->id, HUB_ROOM_ID_LEN) &&
         str_to(json_object_get(j, "owner"), out->owner, HUB_OWNER_MAX) &&
         str_to(json_object_get(j, "region"), i->region, HUB_REGION_MAX) &&
         hex_to(json_string_value(json_object_get(j, "host")), out->host_hash, HUB_HASH_LEN) &&
         hex_to(json_string_value(json_object_get(j, "guest")), out->guest_hash, HUB_HASH_LEN) &&
         opt_str_to(json_object_get(j, "label"), i->label, HUB_LABEL_MAX_BYTES) &&
         opt_str_to(json_object_get(j, "team"), i->team, HUB_TEAM_MAX) &&
         opt_str_to(json_object_get(j, "language"), i->language, HUB_LANGUAGE_MAX) &&
         (!i->language[0] || hub_language_ok(i->language)) &&
         who_from(json_object_get(j, "owner_who"), &out->owner_who) &&
         who_from(json_object_get(j, "assignee"), &out->assignee) &&
         who_from(json_object_get(j, "clinician"), &out->clinician) && json_is_array(peers) &&
         json_array_size(peers) <= HUB_MAX_CAPACITY && capacity >= 2 &&
         capacity <= HUB_MAX_CAPACITY && participants >= 0 && participants <= capacity &&
         waiting >= 0 && waiting <= 1000000;
    for (size_t k = 0; ok && k < json_array_size(peers); k++)
        ok = peer_from(json_array_get(peers, k), &out->peers[out->npeers++]);
    ok = ok && invites_from(json_object_get(j, "invites"), out);
    if (ok) {
        i->created_ms = created;
        i->expires_ms = expires;
        i->capacity = (unsigned)capacity;
        i->lobby = lobby;
        i->relay_only = relay_only;
        i->participants = (unsigned)participants;
        i->waiting = (unsigned)waiting;
    }
    json_decref(j);
    return ok && record_ok(out) ? 0 : -EINVAL;
}
