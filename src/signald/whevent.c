/* Which metadata log events become webhooks, and the fields each carries: ids, roles, times and
 * counts, never a token, label, name, message, address or SDP. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "webhook.h"

#define WHEVENT_FIELDS_MAX 10

/* Every event webhooks carry, with the fields copied from its log line (docs/webhooks.md). A
 * field a log line gains later reaches no receiver until it is listed here. */
static const struct whevent_kind {
    const char *event;
    const char *fields[WHEVENT_FIELDS_MAX + 1]; /* NULL-terminated */
} whevent_kinds[] = {
    {"room.created", {"room", "owner", "capacity", "lobby", "relay_only", "ttl_s", NULL}},
    {"peer.knocked", {"room", "peer", NULL}},
    {"peer.admitted", {"room", "peer", "wait_ms", "by", NULL}},
    {"peer.denied", {"room", "peer", "wait_ms", "by", NULL}},
    {"peer.joined",
     {"room", "peer", "role", "browser", "browser_version", "os", "wait_ms", "resumed", NULL}},
    {"peer.left", {"room", "peer", "role", "duration_s", "path", "reason", NULL}},
    {"room.ended", {"room", "reason", "duration_s", NULL}},
    {"call.summary",
     {"room", "duration_s", "hosts", "guests", "path", "bytes", "rtt_ms", "loss_pct", "browsers",
      "os"}},
};
#define WHEVENT_NKINDS (sizeof(whevent_kinds) / sizeof(whevent_kinds[0]))

static const struct whevent_kind *whevent_kind(const char *event)
{
    for (size_t i = 0; i < WHEVENT_NKINDS; i++)
        if (strcmp(whevent_kinds[i].event, event) == 0)
            return &whevent_kinds[i];
    return NULL;
}

bool whevent_wanted(const char *event)
{
    return whevent_kind(event) != NULL;
}

/* The listed fields of line, or NULL when one is missing (the log and this table disagree). */
static json_t *whevent_data(const struct whevent_kind *k, json_t *line)
{
    json_t *data = json_object();

    for (size_t i = 0; data && i < WHEVENT_FIELDS_MAX && k->fields[i]; i++) {
        json_t *v = json_object_get(line, k->fields[i]);

        if (!v || json_object_set(data, k->fields[i], v) < 0) {
            json_decref(data);
            data = NULL;
        }
    }
    return data;
}

char *whevent_body(const char *event, json_t *line, const char *id, size_t *len,
                   char room[WHEVENT_ROOM_MAX + 1])
{
    const struct whevent_kind *k = whevent_kind(event);
    json_t *data = k ? whevent_data(k, line) : NULL, *body;
    const char *ts = json_string_value(json_object_get(line, "ts"));
    const char *r = json_string_value(json_object_get(data, "room"));
    char *text;

    if (!data || !ts || !r || strlen(r) > WHEVENT_ROOM_MAX) {
        json_decref(data);
        return NULL;
    }
    memcpy(room, r, strlen(r) + 1);
    body = json_pack("{s:s,s:s,s:s,s:o}", "id", id, "type", event, "ts", ts, "data", data);
    text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(body);
    if (text)
        *len = strlen(text);
    return text;
}
