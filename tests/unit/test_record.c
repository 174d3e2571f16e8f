/* Rooms in a shared registry: records to and from JSON, another hub taking a room over. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub_fixture.h"
#include "test.h"

/* A registry that keeps the last record it was told of, and can refuse creation. */
struct fake_registry {
    struct hub_room_record last;
    unsigned creates, updates, ends;
    int create_rc;
};

static int fr_create(void *ctx, const struct hub_room_record *rec, unsigned mo, unsigned mt)
{
    struct fake_registry *r = ctx;

    (void)mo;
    (void)mt;
    r->creates++;
    r->last = *rec;
    return r->create_rc;
}

static void fr_update(void *ctx, const struct hub_room_record *rec)
{
    struct fake_registry *r = ctx;

    r->updates++;
    r->last = *rec;
}

static void fr_ended(void *ctx, const struct hub_room_record *rec)
{
    ((struct fake_registry *)ctx)->ends++;
    (void)rec;
}

static int fr_get(void *ctx, const char *owner, const char *id, struct hub_room_info *out)
{
    (void)ctx, (void)owner, (void)id, (void)out;
    return -EAGAIN;
}

static int fr_end(void *ctx, const char *owner, const char *id)
{
    (void)ctx, (void)owner, (void)id;
    return -ENOENT;
}

static int fr_list(void *ctx, const char *owner, struct hub_room_info *out, size_t max)
{
    (void)ctx, (void)owner, (void)out, (void)max;
    return -EAGAIN;
}

/* Token lookups find the last record the registry was told of, by the guest token's hash. */
static struct fake_registry *fr_tokens;

static int fr_token(void *ctx, const char *token, struct hub_room_info *out)
{
    struct world probe;
    int rc;

    (void)ctx;
    /* Another hub adopts the last record and answers as the registry would. */
    world_init(&probe);
    rc = hub_room_adopt(probe.h, &fr_tokens->last) == 0 && hub_token_held(probe.h, token)
             ? hub_link_get(probe.h, token, out)
             : -ENOENT;
    world_free(&probe);
    return rc;
}

static const struct hub_registry_ops fake_registry_ops = {fr_create, fr_update, fr_ended,
                                                          fr_get,    fr_end,    fr_list};
static const struct hub_registry_ops fake_token_ops = {fr_create, fr_update, fr_ended, fr_get,
                                                       fr_end,    fr_list,   fr_token};

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

TEST(the_registry_hears_of_creation_joins_and_the_end)
{
    struct world w;
    struct fake_registry reg = {0};
    struct client host, guest;
    struct hub_room_info out;

    world_init(&w);
    hub_set_registry(w.h, &fake_registry_ops, &reg);
    struct hub_room_info room = start_call(&w, false, 2, &host, &guest);
    CHECK_INT(reg.creates, 1);
    CHECK_INT(reg.updates, 2); /* host joined, guest joined */
    CHECK_INT(reg.last.npeers, 2);
    CHECK_INT(reg.last.info.participants, 2);
    CHECK(reg.last.peers[0].host && !reg.last.peers[1].host);
    CHECK(reg.last.peers[0].has_resume);
    /* Neither token is in the record: only their hashes. */
    CHECK(memmem(&reg.last, sizeof(reg.last), room.host_token, HUB_TOKEN_LEN) == NULL);
    CHECK(memmem(&reg.last, sizeof(reg.last), room.guest_token, HUB_TOKEN_LEN) == NULL);
    /* Rooms this hub does not hold go to the registry, whose errors come through. */
    CHECK_INT(hub_room_get(w.h, "key", "0123456789abcdef", &out), -EAGAIN);
    CHECK_INT(hub_room_list(w.h, "key", &out, 1), -EAGAIN);
    CHECK_INT(hub_room_end(w.h, "key", room.id), 0);
    CHECK_INT(reg.ends, 1);
    reg.create_rc = -EAGAIN;
    struct hub_room_opts opts = {.ttl = 60, .capacity = 2, .lobby = false};
    CHECK_INT(hub_room_create(w.h, "key", &opts, &out), -EAGAIN);
    CHECK_INT(hub_room_count(w.h), 0);
    world_free(&w);
}

TEST(a_record_survives_json_and_another_hub_takes_the_call_over)
{
    struct world a, b;
    struct fake_registry reg = {0};
    struct client host, guest, host2, guest2;
    struct hub_room_record back;
    char json[4096];

    world_init(&a);
    hub_set_registry(a.h, &fake_registry_ops, &reg);
    struct hub_room_info room = start_call(&a, false, 2, &host, &guest);
    CHECK_INT(hub_record_encode(&reg.last, json, sizeof(json)), 0);
    CHECK_INT(hub_record_decode(json, strlen(json), &back), 0);
    CHECK_STR(back.info.id, reg.last.info.id);
    CHECK_STR(back.owner, reg.last.owner);
    CHECK_INT(back.info.expires_ms, reg.last.info.expires_ms);
    CHECK_INT(back.info.participants, 2);
    CHECK(memcmp(back.peers, reg.last.peers, sizeof(back.peers)) == 0);
    CHECK(memcmp(back.host_hash, reg.last.host_hash, HUB_HASH_LEN) == 0);
    CHECK_INT(hub_record_encode(&reg.last, json, 64), -ENOSPC);

    world_init(&b);
    CHECK_INT(hub_room_adopt(b.h, &back), 0);
    CHECK_INT(hub_room_adopt(b.h, &back), -EEXIST);
    CHECK(hub_token_held(b.h, room.guest_token));
    CHECK(!hub_token_held(b.h, "00000000000000000000000000000000"));
    /* Both come back on the new hub as the same peers; signals flow between them. */
    arrive(&b, &host2, room.host_token, host.resume);
    CHECK_STR(host2.peer, host.peer);
    arrive(&b, &guest2, room.guest_token, guest.resume);
    CHECK_STR(guest2.peer, guest.peer);
    CHECK(got(&host2, "joined peer-back"));
    signal_to(&b, &guest2, host.peer, "\"offer\"");
    CHECK(got(&host2, "signal"));
    /* A fresh join cannot take a place that a peer who is away still holds. */
    struct client third;
    arrive(&b, &third, room.guest_token, NULL);
    CHECK(got(&third, "error:room_full"));
    /* The old home forgets the room: its connections are told to go (1012), quietly. */
    CHECK_INT(hub_room_forget(a.h, room.id), 0);
    CHECK_INT(host.conn.close_code, 1012);
    CHECK_INT(guest.conn.close_code, 1012);
    CHECK_INT(hub_room_count(a.h), 0);
    CHECK_INT(hub_room_forget(a.h, room.id), -ENOENT);
    world_free(&a);
    world_free(&b);
}

/* Puts hash in place of each %s in pattern. */
static void fill(char *out, size_t outlen, const char *pattern, const char *hash)
{
    size_t n = 0;

    for (const char *p = pattern; *p && n + 65 < outlen; p++) {
        if (p[0] == '%' && p[1] == 's') {
            n += (size_t)snprintf(out + n, outlen - n, "%s", hash);
            p++;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

TEST(a_label_team_and_clinicians_survive_a_takeover)
{
    struct world a, b;
    struct fake_registry reg = {0};
    struct hub_room_record back;
    struct hub_room_info info;
    char json[4096];
    struct hub_room_opts o = {.ttl = 600,
                              .capacity = 2,
                              .lobby = true,
                              .label = "10:30 Mrs K",
                              .team = "Cardiology",
                              .owner_name = "Dr \"Quoted\" Owner"};

    world_init(&a);
    hub_set_registry(a.h, &fake_registry_ops, &reg);
    CHECK_INT(hub_room_create(a.h, "user:0123456789abcdef", &o, &info), 0);
    CHECK_INT(hub_record_encode(&reg.last, json, sizeof(json)), 0);
    CHECK_INT(hub_record_decode(json, strlen(json), &back), 0);
    CHECK_STR(back.info.label, "10:30 Mrs K");
    CHECK_STR(back.info.team, "Cardiology");
    CHECK_STR(back.owner_who.name, "Dr \"Quoted\" Owner");
    CHECK_STR(back.assignee.id, "user:0123456789abcdef");
    world_init(&b);
    CHECK_INT(hub_room_adopt(b.h, &back), 0);
    CHECK_INT(hub_room_get(b.h, "user:0123456789abcdef", info.id, &info), 0);
    CHECK_STR(info.label, "10:30 Mrs K");
    CHECK_STR(info.team, "Cardiology");
    /* A record from a node that knew nothing of labels still loads. */
    static const char older[] =
        "{\"id\":\"0123456789abcdef\",\"owner\":\"key\",\"host\":\"" HEX64 "\","
        "\"guest\":\"" HEX64 "\",\"created\":1,\"expires\":2,\"capacity\":2,\"lobby\":true,"
        "\"relay_only\":false,\"region\":\"\",\"participants\":0,\"waiting\":0,\"peers\":[]}";
    CHECK_INT(hub_record_decode(older, sizeof(older) - 1, &back), 0);
    CHECK_STR(back.info.label, "");
    world_free(&a);
    world_free(&b);
}

TEST(hostile_records_are_refused)
{
    static const char *const bad[] = {
        "",
        "[]",
        "{\"id\":\"0123456789abcdef\"}",
        "not json",
        /* capacity 9 */
        "{\"id\":\"0123456789abcdef\",\"owner\":\"key\",\"host\":\"%s\",\"guest\":\"%s\","
        "\"created\":1,\"expires\":2,\"capacity\":9,\"lobby\":true,\"relay_only\":false,"
        "\"region\":\"\",\"participants\":0,\"waiting\":0,\"peers\":[]}",
        /* a short hash */
        "{\"id\":\"0123456789abcdef\",\"owner\":\"key\",\"host\":\"ab\",\"guest\":\"%s\","
        "\"created\":1,\"expires\":2,\"capacity\":2,\"lobby\":true,\"relay_only\":false,"
        "\"region\":\"\",\"participants\":0,\"waiting\":0,\"peers\":[]}",
        /* a peer id of the wrong length */
        "{\"id\":\"0123456789abcdef\",\"owner\":\"key\",\"host\":\"%s\",\"guest\":\"%s\","
        "\"created\":1,\"expires\":2,\"capacity\":2,\"lobby\":true,\"relay_only\":false,"
        "\"region\":\"\",\"participants\":1,\"waiting\":0,\"peers\":[{\"id\":\"x\","
        "\"turn\":\"0123456789abcdef\",\"host\":true,\"resume\":\"\"}]}",
        /* nine invites */
        "{\"id\":\"0123456789abcdef\",\"owner\":\"key\",\"host\":\"%s\",\"guest\":\"%s\","
        "\"created\":1,\"expires\":2,\"capacity\":2,\"lobby\":true,\"relay_only\":false,"
        "\"region\":\"\",\"participants\":0,\"waiting\":0,\"peers\":[],\"invites\":[1,2,3,4,5,"
        "6,7,8,9]}",
        /* an invite id of the wrong length */
        "{\"id\":\"0123456789abcdef\",\"owner\":\"key\",\"host\":\"%s\",\"guest\":\"%s\","
        "\"created\":1,\"expires\":2,\"capacity\":2,\"lobby\":true,\"relay_only\":false,"
        "\"region\":\"\",\"participants\":0,\"waiting\":0,\"peers\":[],\"invites\":[{\"id\":"
        "\"abc\",\"hash\":\"%s\"}]}",
        /* more peers than places */
        "{\"id\":\"0123456789abcdef\",\"owner\":\"key\",\"host\":\"%s\",\"guest\":\"%s\","
        "\"created\":1,\"expires\":2,\"capacity\":2,\"lobby\":true,\"relay_only\":false,"
        "\"region\":\"\",\"participants\":0,\"waiting\":0,\"peers\":[1,2,3]}",
    };
    char hash[65], json[2048];
    struct hub_room_record rec;

    memset(hash, 'a', 64);
    hash[64] = '\0';
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fill(json, sizeof(json), bad[i], hash);
        if (!CHECK_INT(hub_record_decode(json, strlen(json), &rec), -EINVAL))
            fprintf(stderr, "  accepted: %s\n", json);
    }
    /* The same record with capacity 2 parses: the cases above fail for their one fault. */
    fill(json, sizeof(json), bad[4], hash);
    char *nine = strstr(json, "\"capacity\":9");
    nine[11] = '2';
    CHECK_INT(hub_record_decode(json, strlen(json), &rec), 0);
}

TEST(invites_survive_a_takeover_and_leave_the_record_when_revoked)
{
    struct world a, b;
    struct fake_registry reg = {0};
    struct client host, guest, host2, guest2, late;
    struct hub_room_record back;
    struct hub_invite_info inv, gone;
    char json[8192];

    world_init(&a);
    hub_set_registry(a.h, &fake_registry_ops, &reg);
    struct hub_room_info room = make_room(&a, false, 4);
    CHECK_INT(hub_invite_create(a.h, "key", NULL, room.id, "Interpreter", &inv), 0);
    CHECK_INT(hub_invite_create(a.h, "key", NULL, room.id, NULL, &gone), 0);
    CHECK_INT(reg.last.ninvites, 2);
    CHECK_INT(hub_invite_revoke(a.h, "key", NULL, room.id, gone.id), 0);
    CHECK_INT(reg.last.ninvites, 1); /* the registry forgets the revoked token */
    arrive(&a, &host, room.host_token, NULL);
    arrive(&a, &guest, inv.token, NULL);
    CHECK_STR(reg.last.peers[1].invite, inv.id);
    CHECK_INT(hub_record_encode(&reg.last, json, sizeof(json)), 0);
    CHECK(strstr(json, "Interpreter") == NULL); /* names stay in memory */
    CHECK_INT(hub_record_decode(json, strlen(json), &back), 0);
    CHECK_INT(back.ninvites, 1);
    CHECK_STR(back.invites[0].id, inv.id);
    CHECK_STR(back.peers[1].invite, inv.id);

    world_init(&b);
    CHECK_INT(hub_room_adopt(b.h, &back), 0);
    CHECK(hub_token_held(b.h, inv.token));
    CHECK(!hub_token_held(b.h, gone.token));
    arrive(&b, &host2, room.host_token, host.resume);
    arrive(&b, &guest2, inv.token, guest.resume);
    CHECK_STR(guest2.peer, guest.peer);
    /* Removing it on the new home revokes the invite it came with there too. */
    char buf[96];
    snprintf(buf, sizeof(buf), "{\"type\":\"remove\",\"peer\":\"%s\"}", guest2.peer);
    say(&b, &host2, buf);
    CHECK(!hub_token_held(b.h, inv.token));
    arrive(&b, &late, inv.token, NULL);
    CHECK(got(&late, "error:invalid_token"));
    world_free(&a);
    world_free(&b);
}

/* The newest frame of that type c received, or NULL. The caller frees it. */
static json_t *frame_of(struct client *c, const char *type)
{
    for (unsigned k = 0; k < c->conn.nframes; k++) {
        json_t *f = frame(c, k);
        if (f && strcmp(json_string_value(json_object_get(f, "type")), type) == 0)
            return f;
        json_decref(f);
    }
    return NULL;
}

TEST(a_rooms_language_survives_a_takeover_and_reaches_its_pages)
{
    struct world a, b, c;
    struct fake_registry reg = {0};
    struct hub_room_record back;
    struct hub_room_info info, link;
    struct client host, guest;
    char json[4096];
    struct hub_room_opts o = {.ttl = 600, .capacity = 2, .lobby = true, .language = "cy"};

    world_init(&a);
    hub_set_registry(a.h, &fake_registry_ops, &reg);
    CHECK_INT(hub_room_create(a.h, "key", &o, &info), 0);
    CHECK_STR(info.language, "cy");
    CHECK_INT(hub_link_get(a.h, info.guest_token, &link), 0);
    CHECK_STR(link.language, "cy");
    CHECK_INT(hub_record_encode(&reg.last, json, sizeof(json)), 0);
    CHECK(strstr(json, "\"language\":\"cy\"") != NULL);
    CHECK_INT(hub_record_decode(json, strlen(json), &back), 0);
    CHECK_STR(back.info.language, "cy");

    /* The adopting hub tells the waiting patient and the clinician the room's language. */
    world_init(&b);
    CHECK_INT(hub_room_adopt(b.h, &back), 0);
    arrive(&b, &host, info.host_token, NULL);
    arrive(&b, &guest, info.guest_token, NULL);
    json_t *joined = frame_of(&host, "joined"), *waiting = frame_of(&guest, "waiting");
    CHECK_STR(json_string_value(json_object_get(joined, "language")), "cy");
    CHECK(waiting && json_object_get(waiting, "since"));
    CHECK_STR(json_string_value(json_object_get(waiting, "language")), "cy");
    json_decref(joined);
    json_decref(waiting);

    /* A hub that does not hold the room asks the registry; an unknown token is not found. */
    world_init(&c);
    CHECK_INT(hub_link_get(c.h, info.guest_token, &link), -ENOENT);
    fr_tokens = &reg;
    hub_set_registry(c.h, &fake_token_ops, &reg);
    memset(&link, 0, sizeof(link));
    CHECK_INT(hub_link_get(c.h, info.guest_token, &link), 0);
    CHECK_STR(link.language, "cy");
    CHECK_STR(link.host_token, "");
    CHECK_INT(hub_link_get(c.h, "00000000000000000000000000000000", &link), -ENOENT);
    CHECK_INT(hub_link_get(c.h, "short", &link), -ENOENT);

    /* An expired room's link is as unknown as a wrong one. */
    advance(&a, 601 * 1000);
    CHECK_INT(hub_link_get(a.h, info.guest_token, &link), -ENOENT);

    /* A record whose language is not a tag is refused. */
    char *cy = strstr(json, "\"language\":\"cy\"");
    memcpy(cy + 12, "c!", 2);
    CHECK_INT(hub_record_decode(json, strlen(json), &back), -EINVAL);
    world_free(&a);
    world_free(&b);
    world_free(&c);
}

TEST(language_tags_are_checked_for_their_shape)
{
    static const char *const good[] = {"cy",
                                       "en",
                                       "pl",
                                       "ur",
                                       "ar",
                                       "ro",
                                       "haw",
                                       "pt-BR",
                                       "zh-Hant-TW",
                                       "sr-Latn",
                                       "en-GB-oxendict",
                                       "de-1996"};
    static const char *const bad[] = {
        "",    "c",      "welsh",     "cy_GB",
        "cy-", "cy--GB", "-cy",       "cy-abcdefghi",
        "c1",  "cy GB",  "\xc3\xa9n", "en-GB-oxendict-oxendict-oxendict-oxendict"};

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!CHECK(hub_language_ok(good[i])))
            fprintf(stderr, "    refused %s\n", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (!CHECK(!hub_language_ok(bad[i])))
            fprintf(stderr, "    accepted %s\n", bad[i]);
    CHECK(!hub_language_ok(NULL));
}
