/* What hosts and clinicians' dashboards do with waiting guests: admit, turn away, message them,
 * label a consultation and hand it over to a team mate (and, members.c, remove a participant). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vc/log.h"
#include "hub_int.h"

void hub_set_directory(struct hub *h, const struct hub_directory_ops *ops, void *ctx)
{
    h->dir = ops;
    h->dir_ctx = ctx;
}

static void who_set(struct hub_who *w, const struct hub_clinician *c)
{
    memcpy(w->id, c->id, sizeof(w->id));
    memcpy(w->name, c->name, sizeof(w->name));
}

/* True for text of 1..max_chars characters (0..max_chars when empty_ok) without control
 * characters; newline_ok lets '\n' through. -EMSGSIZE when too long, -EINVAL otherwise. */
int hub_text_check(const char *text, size_t max_chars, bool empty_ok, bool newline_ok)
{
    size_t n = strnlen(text, max_chars * 4 + 1);

    if (n > max_chars * 4 || sigmsg_utf8_chars(text, n) > max_chars)
        return -EMSGSIZE;
    if (n == 0 && !empty_ok)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c < 0x20 && !(newline_ok && c == '\n')) || c == 0x7f)
            return -EINVAL;
    }
    return 0;
}

/* The room a REST call names, if owner owns it or who may see it. */
struct hub_room *hub_api_room(struct hub *h, const char *owner, const struct hub_clinician *who,
                              const char *id)
{
    struct hub_room *r = hub_room_by_id(h, id);

    if (!r || r->closing || (strcmp(r->owner, owner) != 0 && !hub_room_visible(who, r)))
        return NULL;
    return r;
}

/* A REST call for a room another node holds goes to that node as the matching vc.v1 frame
 * (taken), on behalf of the caller (the API key's owner, or the clinician). -EINPROGRESS once
 * passed on, -ENOENT for no room the caller may see, -EAGAIN. */
int hub_api_relay(struct hub *h, const char *owner, const struct hub_clinician *who, const char *id,
                  json_t *frame)
{
    struct hub_clinician key = {.nteams = 0};
    char *text = frame ? json_dumps(frame, JSON_COMPACT) : NULL;
    int rc = -ENOENT;

    json_decref(frame);
    if (!who) { /* the API key acts as its own owner */
        snprintf(key.id, sizeof(key.id), "%s", owner);
        who = &key;
    }
    if (text && h->reg && h->reg->act)
        rc = h->reg->act(h->reg_ctx, NULL, who, id, (const uint8_t *)text, strlen(text));
    free(text);
    return rc == 0 ? -EINPROGRESS : rc == -EAGAIN ? -EAGAIN : -ENOENT;
}

struct hub_room *hub_lobby_join_room(struct hub *h, struct hub_session *s, const char *id)
{
    struct hub_room *r = hub_room_by_id(h, id);

    if (!r || r->closing || !hub_room_visible(s->clinician, r)) {
        hub_send_error(h, s, "forbidden", "No consultation of yours has that id.");
        return NULL;
    }
    return r;
}

/* The room an action acts on: a host's own room, or (a clinician's dashboard, or a clinician in
 * another of their calls) the room named, if they may see it; one that another node holds gets
 * the frame passed on to it. NULL when the action is answered or passed on. */
static struct hub_room *action_room(struct hub *h, struct hub_session *s, const struct sigmsg *m,
                                    const uint8_t *frame, size_t len)
{
    struct hub_peer *p = s->peer;

    if (p && p->role != HUB_HOST)
        return hub_send_error(h, s, "forbidden", "Only the clinician can do that."), NULL;
    if (p && (!m->room[0] || strcmp(m->room, p->room->id) == 0))
        return p->room;
    if (!m->room[0])
        return hub_send_error(h, s, "bad_request", "Say which consultation (room)."), NULL;
    if (!hub_room_held(h, m->room) && s->clinician && !s->relayed && h->reg && h->reg->act) {
        int rc = h->reg->act(h->reg_ctx, s->conn, s->clinician, m->room, frame, len);
        if (rc == 0)
            return NULL; /* its home answers */
        if (rc == -EAGAIN) {
            hub_send_error(h, s, "unavailable", "The service is briefly unavailable; try again.");
            return NULL;
        }
    }
    return hub_lobby_join_room(h, s, m->room);
}

/* The waiting guest an admit or deny names; NULL after answering. A guest already taken in from
 * a dashboard is named with who took it, so racing team mates know. */
static struct hub_peer *waiting_guest(struct hub *h, struct hub_session *s, struct hub_room *r,
                                      const char *id)
{
    struct hub_peer *g = hub_peer_find(r, id);
    char msg[HUB_NAME_MAX + 64];

    if (g && g->state != HUB_WAITING && g->admitted_by.id[0]) {
        snprintf(msg, sizeof(msg), "%s has already admitted this patient.",
                 g->admitted_by.name[0] ? g->admitted_by.name : "Another clinician");
        hub_send_error_by(h, s, "already_admitted", msg, g->admitted_by.name);
        return NULL;
    }
    if (!g || g->state != HUB_WAITING) {
        hub_send_error(h, s, "unknown_peer", "Nobody by that id is waiting.");
        return NULL;
    }
    return g;
}

static void on_admit(struct hub *h, struct hub_session *s, struct hub_room *r,
                     const struct sigmsg *m)
{
    struct hub_peer *g = waiting_guest(h, s, r, m->peer);

    if (!g)
        return;
    if (hub_room_participants(r) >= r->capacity) {
        hub_send_error(h, s, "room_full", "The consultation is full.");
        if (g->sess)
            hub_send_error(h, g->sess, "room_full", "The consultation is full.");
        return;
    }
    if (sigmsg_encode(&h->out, "knock-cancelled", "{s:s}", "peer", g->id) == 0)
        hub_broadcast(h, r, s->peer, HUB_TO_JOINED | HUB_TO_HOSTS);
    if (s->clinician) {
        who_set(&g->admitted_by, s->clinician);
        who_set(&r->clinician, s->clinician);
    }
    hub_peer_log_decision(h, g, true, s->clinician ? s->clinician->id : "host");
    if (g->sess)
        hub_send_simple(h, g->sess, "admitted");
    if (!s->peer &&
        sigmsg_encode(&h->out, "admitted", "{s:s,s:s}", "room", r->id, "peer", g->id) == 0)
        hub_send(h, s); /* the dashboard's answer: the patient is its to call */
    hub_make_participant(h, g, g->arrived_ms);
}

static void on_deny(struct hub *h, struct hub_session *s, struct hub_room *r,
                    const struct sigmsg *m)
{
    struct hub_peer *g = waiting_guest(h, s, r, m->peer);

    if (!g)
        return;
    h->stats.denied++;
    hub_peer_log_decision(h, g, false, s->clinician ? s->clinician->id : "host");
    if (g->sess) {
        hub_send_simple(h, g->sess, "denied");
        hub_close(h, g->sess, 1000, "denied");
    }
    hub_peer_remove(h, g, "denied");
}

static bool lobby_rate_ok(struct hub *h, struct hub_room *r)
{
    if (h->mono_ms - r->msg_window_ms >= 60000) {
        r->msg_window_ms = h->mono_ms;
        r->msg_count = 0;
    }
    return ++r->msg_count <= h->set.max_lobby_msgs_per_min;
}

/* Delivers text to the waiting guest peer (every one for "") of r: how many, or -errno as
 * hub_lobby_send(). A guest whose connection dropped gets it when it is back. */
static int lobby_deliver(struct hub *h, struct hub_room *r, const char *peer, const char *text)
{
    int rc = hub_text_check(text, SIGMSG_TEXT_MAX_CHARS, false, true), n = 0;

    if (rc < 0)
        return rc;
    if (peer[0]) {
        struct hub_peer *g = hub_peer_find(r, peer);
        if (!g || g->state != HUB_WAITING)
            return -ESRCH;
    }
    if (!lobby_rate_ok(h, r))
        return -EBUSY;
    for (struct hub_peer *g = r->peers; g; g = g->next) {
        if (g->state != HUB_WAITING || (peer[0] && strcmp(g->id, peer) != 0))
            continue;
        if (sigmsg_encode(&h->out, "message", "{s:s}", "text", text) == 0 &&
            hub_peer_deliver(h, g) == 0)
            n++;
    }
    h->stats.lobby_messages += (uint64_t)n;
    if (h->set.log) /* the text itself is never logged: only that a message went, and its size */
        event_log_write(h->set.log, "lobby.message", "{s:s,s:I}", "room", r->id, "length",
                        (json_int_t)sigmsg_utf8_chars(text, strlen(text)));
    return n;
}

static void on_lobby_message(struct hub *h, struct hub_session *s, struct hub_room *r,
                             const struct sigmsg *m)
{
    int rc = lobby_deliver(h, r, m->peer, m->text);

    if (rc == -ESRCH)
        hub_send_error(h, s, "unknown_peer", "Nobody by that id is waiting.");
    else if (rc == -EBUSY)
        hub_send_error(h, s, "rate_limited",
                       "Too many messages to this waiting room; wait a "
                       "minute.");
    else if (rc == -EINVAL)
        hub_send_error(h, s, "bad_request", "The text has control characters.");
    else if (rc == -EMSGSIZE)
        hub_send_error(h, s, "too_large", "A message is at most 280 characters.");
}

static void on_handover(struct hub *h, struct hub_session *s, struct hub_room *r,
                        const struct sigmsg *m)
{
    struct hub_clinician to;

    if (!h->dir || h->dir->clinician(h->dir_ctx, m->to, &to) < 0 || !hub_room_visible(&to, r))
        return hub_send_error(h, s, "forbidden",
                              "That clinician is not in this consultation's "
                              "team.");
    who_set(&r->assignee, &to);
    hub_room_changed(h, r);
}

static void on_label(struct hub *h, struct hub_session *s, struct hub_room *r,
                     const struct sigmsg *m)
{
    if (hub_text_check(m->text, HUB_LABEL_MAX_CHARS, true, false) < 0)
        return hub_send_error(h, s, "bad_request", "A label has no control characters.");
    memcpy(r->label, m->text, strlen(m->text) + 1);
    hub_room_changed(h, r);
}

bool hub_lobby_action(struct hub *h, struct hub_session *s, const struct sigmsg *m,
                      const uint8_t *frame, size_t len)
{
    struct hub_room *r;

    if (m->type != SIGMSG_ADMIT && m->type != SIGMSG_DENY && m->type != SIGMSG_LOBBY_MESSAGE &&
        m->type != SIGMSG_HANDOVER && m->type != SIGMSG_LABEL && m->type != SIGMSG_REMOVE &&
        m->type != SIGMSG_INVITE && m->type != SIGMSG_REVOKE)
        return false;
    if (!(r = action_room(h, s, m, frame, len)))
        return true;
    if (m->type == SIGMSG_REMOVE || m->type == SIGMSG_INVITE || m->type == SIGMSG_REVOKE)
        hub_member_action(h, s, r, m);
    else if (m->type == SIGMSG_ADMIT)
        on_admit(h, s, r, m);
    else if (m->type == SIGMSG_DENY)
        on_deny(h, s, r, m);
    else if (m->type == SIGMSG_LOBBY_MESSAGE)
        on_lobby_message(h, s, r, m);
    else if (m->type == SIGMSG_LABEL)
        on_label(h, s, r, m);
    else if (!s->clinician)
        hub_send_error(h, s, "forbidden", "Sign in to hand a consultation over.");
    else
        on_handover(h, s, r, m);
    return true;
}

/* ---- REST ---- */

int hub_room_set_label(struct hub *h, const char *owner, const struct hub_clinician *who,
                       const char *id, const char *label, struct hub_room_info *out)
{
    struct hub_room *r = hub_api_room(h, owner, who, id);
    int rc = hub_text_check(label, HUB_LABEL_MAX_CHARS, true, false);

    if (rc < 0)
        return rc;
    if (!r)
        return hub_room_held(h, id) ? -ENOENT
                                    : hub_api_relay(h, owner, who, id,
                                                    json_pack("{s:s,s:s,s:s}", "type", "label",
                                                              "room", id, "label", label));
    memcpy(r->label, label, strlen(label) + 1);
    hub_room_changed(h, r);
    memset(out, 0, sizeof(*out));
    hub_room_info_of(r, out);
    return 0;
}

int hub_lobby_send(struct hub *h, const char *owner, const struct hub_clinician *who,
                   const char *id, const char *peer, const char *text)
{
    struct hub_room *r = hub_api_room(h, owner, who, id);
    json_t *frame;

    if (r)
        return lobby_deliver(h, r, peer ? peer : "", text);
    if (hub_room_held(h, id))
        return -ENOENT;
    int rc = hub_text_check(text, SIGMSG_TEXT_MAX_CHARS, false, true);
    if (rc < 0)
        return rc;
    frame = json_pack("{s:s,s:s,s:s}", "type", "lobby-message", "room", id, "text", text);
    if (frame && peer && peer[0] && json_object_set_new(frame, "peer", json_string(peer)) < 0) {
        json_decref(frame);
        frame = NULL;
    }
    return hub_api_relay(h, owner, who, id, frame);
}
