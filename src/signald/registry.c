/* The shared room registry on Redis: atomic creation, records, lookups, claims and endings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vc/log.h"
#include "vc/random.h"
#include "cluster.h"
#include "server_int.h"

/* Keys: vc:room:ID (the record, JSON), vc:home:ID (the node holding it), vc:tok:HASH (a token's
 * SHA-256 in hex -> ID), vc:owner:OWNER and vc:rooms (sorted sets of IDs by expiry, for the
 * limits and listing), vc:node:NODE (liveness). Every room key expires with the room plus the
 * TURN margin, so Redis cleans up after a node that died holding it. */
#define RECORD_MAX 8192
#define KEY_MAX 160

/* Deletes a room's keys and leaves a tombstone, so a node that held the room through a Redis
 * outage ends it instead of writing it back. rec is its decoded record. */
#define LUA_DELETE                                                                                 \
    "local function drop(rec)\n"                                                                   \
    "  redis.call('DEL', KEYS[1], KEYS[2], 'vc:tok:'..rec.host, 'vc:tok:'..rec.guest)\n"           \
    "  for _, iv in ipairs(rec.invites or {}) do redis.call('DEL', 'vc:tok:'..iv.hash) end\n"      \
    "  redis.call('ZREM', 'vc:owner:'..rec.owner, rec.id)\n"                                       \
    "  redis.call('ZREM', 'vc:rooms', rec.id)\n"                                                   \
    "  redis.call('SET', 'vc:ended:'..rec.id, 1, 'PXAT', rec.expires + 86400000)\n"                \
    "end\n"

/* Writes a room's keys. KEYS room home tokh tokg owner rooms ended; ARGV json pxat id node. */
#define LUA_WRITE                                                                                  \
    "local function write()\n"                                                                     \
    "  for i = 1, 4 do\n"                                                                          \
    "    local v = i == 1 and ARGV[1] or i == 2 and ARGV[4] or ARGV[3]\n"                          \
    "    redis.call('SET', KEYS[i], v, 'PXAT', ARGV[2])\n"                                         \
    "  end\n"                                                                                      \
    "  for _, iv in ipairs(cjson.decode(ARGV[1]).invites or {}) do\n"                              \
    "    redis.call('SET', 'vc:tok:'..iv.hash, ARGV[3], 'PXAT', ARGV[2])\n"                        \
    "  end\n"                                                                                      \
    "  redis.call('ZADD', KEYS[5], ARGV[2], ARGV[3])\n"                                            \
    "  redis.call('ZADD', KEYS[6], ARGV[2], ARGV[3])\n"                                            \
    "  redis.call('PEXPIREAT', KEYS[5], ARGV[2], 'GT')\n"                                          \
    "  redis.call('PEXPIREAT', KEYS[5], ARGV[2], 'NX')\n"                                          \
    "end\n"

/* ARGV (after LUA_WRITE's) now max_owner max_total: 0, or -1 owner's limit, -2 total, -3 taken. */
static const char lua_create[] =
    LUA_WRITE "redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[5])\n"
              "redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', ARGV[5])\n"
              "if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[6]) then return -1 end\n"
              "if redis.call('ZCARD', KEYS[6]) >= tonumber(ARGV[7]) then return -2 end\n"
              "if redis.call('EXISTS', KEYS[1]) == 1 then return -3 end\n"
              "write()\n"
              "return 0\n";

/* A held room after an outage: 1 written (back), 0 another node holds it, -1 it was ended. */
static const char lua_resync[] =
    LUA_WRITE "if redis.call('EXISTS', KEYS[7]) == 1 then return -1 end\n"
              "local h = redis.call('GET', KEYS[2])\n"
              "if h and h ~= ARGV[4] then return 0 end\n"
              "write()\n"
              "return 1\n";

/* KEYS room home; ARGV json node. 1 written, 0 the room has another home, -1 it is gone. The
 * tokens of invites the new record no longer has are deleted, new ones registered. */
static const char lua_update[] =
    "local h = redis.call('GET', KEYS[2])\n"
    "if h and h ~= ARGV[2] then return 0 end\n"
    "local old = redis.call('GET', KEYS[1])\n"
    "if not old then return -1 end\n"
    "local was, now = cjson.decode(old).invites or {}, cjson.decode(ARGV[1]).invites or {}\n"
    "if #was > 0 or #now > 0 then\n"
    "  local keep, pxat = {}, redis.call('PEXPIRETIME', KEYS[1])\n"
    "  for _, iv in ipairs(now) do\n"
    "    keep[iv.hash] = true\n"
    "    redis.call('SET', 'vc:tok:'..iv.hash, ARGV[3], 'PXAT', pxat)\n"
    "  end\n"
    "  for _, iv in ipairs(was) do\n"
    "    if not keep[iv.hash] then redis.call('DEL', 'vc:tok:'..iv.hash) end\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')\n"
    "if not h then redis.call('SET', KEYS[2], ARGV[2], 'PXAT', redis.call('PEXPIRETIME', KEYS[1]))"
    " end\n"
    "return 1\n";

/* KEYS room home; ARGV node. The home (or anyone, when no node holds it) forgets a room. */
static const char lua_ended[] =
    LUA_DELETE "local h = redis.call('GET', KEYS[2])\n"
               "if h and h ~= ARGV[1] then return 0 end\n"
               "local j = redis.call('GET', KEYS[1])\n"
               "if j then drop(cjson.decode(j)) else redis.call('DEL', KEYS[2]) end\n"
               "return 1\n";

/* KEYS room home; ARGV owner. Ends the owner's room: its home's name ("" for none), or false. */
static const char lua_end[] = LUA_DELETE "local j = redis.call('GET', KEYS[1])\n"
                                         "if not j then return false end\n"
                                         "local rec = cjson.decode(j)\n"
                                         "if rec.owner ~= ARGV[1] then return false end\n"
                                         "local h = redis.call('GET', KEYS[2]) or ''\n"
                                         "drop(rec)\n"
                                         "return h\n";

/* KEYS room home; ARGV node expected. 1 claimed, {home} taken by another, -1 the room is gone. */
static const char lua_claim[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "local h = redis.call('GET', KEYS[2]) or ''\n"
    "if h ~= ARGV[1] and h ~= ARGV[2] then return {h} end\n"
    "redis.call('SET', KEYS[2], ARGV[1], 'PXAT', redis.call('PEXPIRETIME', KEYS[1]))\n"
    "return 1\n";

static int64_t unix_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

redisReply *cluster_command_argv(struct cluster *cl, int argc, const char **argv,
                                 const size_t *lens)
{
    redisReply *r;

    if (!cl->up || !cl->sync)
        return NULL;
    r = redisCommandArgv(cl->sync, argc, argv, lens);
    if (!r) {
        cluster_down(cl, cl->sync->errstr[0] ? cl->sync->errstr : "no reply");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        log_msg(LOG_LEVEL_ERROR, "redis: %s: %.*s", argv[0], (int)r->len, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* EVAL script with the room's two keys (and more), then argv. */
static redisReply *eval(struct cluster *cl, const char *script, int nkeys, const char **keys,
                        int nargs, const char **args)
{
    const char *argv[18];
    char nk[8];
    int argc = 0;

    if (nkeys + nargs > 14)
        return NULL;

    snprintf(nk, sizeof(nk), "%d", nkeys);
    argv[argc++] = "EVAL";
    argv[argc++] = script;
    argv[argc++] = nk;
    for (int i = 0; i < nkeys; i++)
        argv[argc++] = keys[i];
    for (int i = 0; i < nargs; i++)
        argv[argc++] = args[i];
    return cluster_command_argv(cl, argc, argv, NULL);
}

static void room_keys(const char *id, char room[KEY_MAX], char home[KEY_MAX])
{
    snprintf(room, KEY_MAX, "vc:room:%s", id);
    snprintf(home, KEY_MAX, "vc:home:%s", id);
}

/* The keys and first arguments of LUA_WRITE for rec. */
struct write_call {
    char k[7][KEY_MAX];
    char json[RECORD_MAX], pxat[24], extra[3][24];
    const char *keys[7], *args[7];
};

static int write_call_of(struct cluster *cl, const struct hub_room_record *rec,
                         struct write_call *w)
{
    char hh[2 * HUB_HASH_LEN + 1], gh[2 * HUB_HASH_LEN + 1];

    if (hub_record_encode(rec, w->json, sizeof(w->json)) < 0)
        return -ENOMEM;
    hex_encode(rec->host_hash, HUB_HASH_LEN, hh);
    hex_encode(rec->guest_hash, HUB_HASH_LEN, gh);
    room_keys(rec->info.id, w->k[0], w->k[1]);
    snprintf(w->k[2], KEY_MAX, "vc:tok:%s", hh);
    snprintf(w->k[3], KEY_MAX, "vc:tok:%s", gh);
    snprintf(w->k[4], KEY_MAX, "vc:owner:%s", rec->owner);
    snprintf(w->k[5], KEY_MAX, "vc:rooms");
    snprintf(w->k[6], KEY_MAX, "vc:ended:%s", rec->info.id);
    snprintf(w->pxat, sizeof(w->pxat), "%lld",
             (long long)(rec->info.expires_ms + (int64_t)cl->turn_margin_s * 1000));
    for (int i = 0; i < 7; i++)
        w->keys[i] = w->k[i];
    w->args[0] = w->json;
    w->args[1] = w->pxat;
    w->args[2] = rec->info.id;
    w->args[3] = cl->node;
    for (int i = 0; i < 3; i++)
        w->args[4 + i] = w->extra[i];
    return 0;
}

static int reg_create(void *ctx, const struct hub_room_record *rec, unsigned max_owner,
                      unsigned max_total)
{
    struct cluster *cl = ctx;
    struct write_call *w = malloc(sizeof(*w));
    redisReply *r = NULL;
    int rc;

    if (!cl->up || !w || write_call_of(cl, rec, w) < 0) {
        free(w);
        return cl->up ? -ENOMEM : -EAGAIN;
    }
    snprintf(w->extra[0], sizeof(w->extra[0]), "%lld", (long long)unix_ms());
    snprintf(w->extra[1], sizeof(w->extra[1]), "%u", max_owner);
    snprintf(w->extra[2], sizeof(w->extra[2]), "%u", max_total);
    r = eval(cl, lua_create, 7, w->keys, 7, w->args);
    free(w);
    if (!r)
        return -EAGAIN;
    rc = r->type != REDIS_REPLY_INTEGER ? -EIO
         : r->integer == -1             ? -EDQUOT
         : r->integer == -2             ? -ENOSPC
         : r->integer == -3             ? -EEXIST
                                        : 0;
    freeReplyObject(r);
    return rc;
}

/* The answer to an asynchronous UPDATE: 0 means another node holds the room now. */
static void on_update(redisAsyncContext *ac, void *reply, void *arg)
{
    struct cluster *cl = ac->data;
    redisReply *r = reply;
    char *id = arg;

    if (cl && r && r->type == REDIS_REPLY_INTEGER && r->integer <= 0) {
        if (r->integer == 0 && cl->nlost < sizeof(cl->lost) / sizeof(cl->lost[0]))
            memcpy(cl->lost[cl->nlost++], id, HUB_ROOM_ID_LEN + 1);
        else if (r->integer < 0 && cl->nended_here < 16)
            memcpy(cl->ended_here[cl->nended_here++], id, HUB_ROOM_ID_LEN + 1);
    }
    free(id);
}

static void reg_update(void *ctx, const struct hub_room_record *rec)
{
    struct cluster *cl = ctx;
    char json[RECORD_MAX], room[KEY_MAX], home[KEY_MAX];
    char *id;

    if (!cl->up || hub_record_encode(rec, json, sizeof(json)) < 0 || !(id = strdup(rec->info.id)))
        return; /* cluster_resync() writes it once Redis is back */
    room_keys(rec->info.id, room, home);
    if (redisAsyncCommand(cl->pub, on_update, id, "EVAL %s 2 %s %s %s %s %s", lua_update, room,
                          home, json, cl->node, rec->info.id) != REDIS_OK)
        free(id);
}

static void reg_ended(void *ctx, const struct hub_room_record *rec)
{
    struct cluster *cl = ctx;
    char room[KEY_MAX], home[KEY_MAX];

    if (!cl->up) {
        if (cl->nended < CLUSTER_MAX_ENDED)
            memcpy(cl->ended[cl->nended++].id, rec->info.id, HUB_ROOM_ID_LEN + 1);
        return;
    }
    room_keys(rec->info.id, room, home);
    redisAsyncCommand(cl->pub, NULL, NULL, "EVAL %s 2 %s %s %s", lua_ended, room, home, cl->node);
}

/* GETs a room's record: 1, 0 when absent, -EAGAIN. */
static int record_get(struct cluster *cl, const char *id, struct hub_room_record *rec)
{
    char room[KEY_MAX], home[KEY_MAX];
    const char *argv[2] = {"GET", room};
    redisReply *r;
    int rc;

    room_keys(id, room, home);
    if (!(r = cluster_command_argv(cl, 2, argv, NULL)))
        return -EAGAIN;
    rc = r->type == REDIS_REPLY_STRING && hub_record_decode(r->str, r->len, rec) == 0;
    freeReplyObject(r);
    return rc;
}

static int reg_get(void *ctx, const char *owner, const char *id, struct hub_room_info *out)
{
    struct hub_room_record rec;
    int rc = record_get(ctx, id, &rec);

    if (rc <= 0 || strcmp(rec.owner, owner) != 0 || rec.info.expires_ms <= unix_ms())
        return rc < 0 ? rc : -ENOENT;
    *out = rec.info;
    return 0;
}

static int reg_end(void *ctx, const char *owner, const char *id)
{
    struct cluster *cl = ctx;
    char room[KEY_MAX], home[KEY_MAX];
    const char *keys[2] = {room, home}, *args[1] = {owner};
    redisReply *r;

    room_keys(id, room, home);
    if (!(r = eval(cl, lua_end, 2, keys, 1, args)))
        return -EAGAIN;
    int rc = r->type == REDIS_REPLY_STRING ? 0 : -ENOENT;
    if (rc == 0 && r->len > 0) /* its home ends it for the people in it */
        cluster_publish(cl, r->str, 'E', 0, id, strlen(id));
    freeReplyObject(r);
    return rc;
}

static int reg_list(void *ctx, const char *owner, struct hub_room_info *out, size_t max)
{
    struct cluster *cl = ctx;
    char key[KEY_MAX], now[24], lim[16];
    redisReply *ids;
    int n = 0;

    snprintf(key, sizeof(key), "vc:owner:%s", owner);
    snprintf(now, sizeof(now), "(%lld", (long long)unix_ms());
    snprintf(lim, sizeof(lim), "%zu", max);
    const char *argv[8] = {"ZRANGE", key, now, "+inf", "BYSCORE", "LIMIT", "0", lim};
    if (!(ids = cluster_command_argv(cl, 8, argv, NULL)))
        return -EAGAIN;
    for (size_t i = 0; ids->type == REDIS_REPLY_ARRAY && i < ids->elements && (size_t)n < max;
         i++) {
        struct hub_room_record rec;
        int rc = record_get(cl, ids->element[i]->str, &rec);
        if (rc < 0) {
            freeReplyObject(ids);
            return -EAGAIN;
        }
        if (rc > 0 && strcmp(rec.owner, owner) == 0)
            out[n++] = rec.info;
    }
    freeReplyObject(ids);
    return n;
}

/* The live room a token opens, wherever it is held (the join page's language). */
static int reg_token(void *ctx, const char *token, struct hub_room_info *out)
{
    struct hub_room_record rec;
    char home[CLUSTER_NODE_MAX + 1];
    int rc = cluster_lookup_token(ctx, token, home, sizeof(home), &rec);

    if (rc <= 0 || rec.info.expires_ms <= unix_ms())
        return rc < 0 ? rc : -ENOENT;
    *out = rec.info;
    return 0;
}

const struct hub_registry_ops cluster_registry_ops = {
    .create = reg_create,
    .update = reg_update,
    .ended = reg_ended,
    .get = reg_get,
    .end = reg_end,
    .list = reg_list,
    .token = reg_token,
    .entry = watchbus_entry,
    .interest = watchbus_interest,
    .act = watchbus_act,
    .seen = watchbus_seen,
};

/* MGETs a room's record and home: 1 found, 0 not found, -EAGAIN. */
static int record_and_home(struct cluster *cl, const char *id, char *home, size_t homelen,
                           struct hub_room_record *rec)
{
    char room[KEY_MAX], hk[KEY_MAX];
    const char *mget[3] = {"MGET", room, hk};
    redisReply *r;
    int rc;

    room_keys(id, room, hk);
    if (!(r = cluster_command_argv(cl, 3, mget, NULL)))
        return -EAGAIN;
    rc = r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
         r->element[0]->type == REDIS_REPLY_STRING &&
         hub_record_decode(r->element[0]->str, r->element[0]->len, rec) == 0;
    home[0] = '\0';
    if (rc && r->element[1]->type == REDIS_REPLY_STRING)
        snprintf(home, homelen, "%s", r->element[1]->str);
    freeReplyObject(r);
    return rc;
}

int cluster_lookup_token(struct cluster *cl, const char *token, char *home, size_t homelen,
                         struct hub_room_record *rec)
{
    unsigned char hash[TOKEN_HASH_LEN];
    char hex[2 * TOKEN_HASH_LEN + 1], key[KEY_MAX], id[HUB_ROOM_ID_LEN + 1];
    const char *get[2] = {"GET", key};
    redisReply *r;

    token_hash(token, strlen(token), hash);
    hex_encode(hash, HUB_HASH_LEN, hex);
    snprintf(key, sizeof(key), "vc:tok:%s", hex);
    if (!(r = cluster_command_argv(cl, 2, get, NULL)))
        return -EAGAIN;
    if (r->type != REDIS_REPLY_STRING || r->len != HUB_ROOM_ID_LEN) {
        freeReplyObject(r);
        return 0;
    }
    memcpy(id, r->str, HUB_ROOM_ID_LEN + 1);
    freeReplyObject(r);
    return record_and_home(cl, id, home, homelen, rec);
}

int cluster_lookup_room(struct cluster *cl, const char *id, char *home, size_t homelen,
                        struct hub_room_record *rec)
{
    if (strlen(id) != HUB_ROOM_ID_LEN || strspn(id, "0123456789abcdef") != HUB_ROOM_ID_LEN)
        return 0;
    return record_and_home(cl, id, home, homelen, rec);
}

int cluster_claim(struct cluster *cl, const char *id, const char *expected, char *home,
                  size_t homelen)
{
    char room[KEY_MAX], hk[KEY_MAX];
    const char *keys[2] = {room, hk}, *args[2] = {cl->node, expected};
    redisReply *r;
    int rc;

    room_keys(id, room, hk);
    if (!(r = eval(cl, lua_claim, 2, keys, 2, args)))
        return -EAGAIN;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
        snprintf(home, homelen, "%s", r->element[0]->str);
        rc = 0;
    } else {
        rc = r->type == REDIS_REPLY_INTEGER && r->integer == 1 ? 1 : -ENOENT;
        if (rc == 1)
            snprintf(home, homelen, "%s", cl->node);
    }
    freeReplyObject(r);
    return rc;
}

void cluster_resync(struct cluster *cl)
{
    struct hub *h = cl->srv->hub;
    size_t max = hub_room_count(h);
    char(*ids)[HUB_ROOM_ID_LEN + 1] = calloc(max ? max : 1, sizeof(*ids));
    size_t n = ids ? hub_room_ids(h, ids, max) : 0;

    for (unsigned i = 0; i < cl->nended; i++) {
        struct hub_room_record rec;

        memset(&rec, 0, sizeof(rec));
        memcpy(rec.info.id, cl->ended[i].id, sizeof(rec.info.id));
        reg_ended(cl, &rec);
    }
    cl->nended = 0;
    struct write_call *w = malloc(sizeof(*w));
    for (size_t i = 0; w && cl->up && i < n; i++) {
        struct hub_room_record rec;
        redisReply *r;

        if (hub_room_export(h, ids[i], &rec) < 0 || write_call_of(cl, &rec, w) < 0 ||
            !(r = eval(cl, lua_resync, 7, w->keys, 4, w->args)))
            continue;
        long long rc = r->type == REDIS_REPLY_INTEGER ? r->integer : 1;
        freeReplyObject(r);
        if (rc == 1)
            continue;
        log_msg(LOG_LEVEL_INFO, "cluster: room %s %s while Redis was away", ids[i],
                rc == 0 ? "moved to another node" : "ended");
        if (rc == 0)
            hub_room_forget(h, ids[i]);
        else
            hub_room_end_held(h, ids[i]);
    }
    free(w);
    free(ids);
}
