/* Clinician sessions in Redis, so a clinician's cookie works on every vc-signal node. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cluster.h"

/* vc:sess:HASH -> {"email","csrf"}, expiring with the session. The token itself is never
 * stored: HASH is its SHA-256. */
#define SESSION_KEY_MAX 96

static void session_key(const char *hash, char key[SESSION_KEY_MAX])
{
    snprintf(key, SESSION_KEY_MAX, "vc:sess:%.64s", hash);
}

static int session_put(void *ctx, const char *hash, const char *email, const char *csrf,
                       int64_t ttl_s)
{
    char key[SESSION_KEY_MAX], ttl[24];
    json_t *j = json_pack("{s:s,s:s}", "email", email, "csrf", csrf);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    int rc = -ENOMEM;

    json_decref(j);
    if (text) {
        session_key(hash, key);
        snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_s);
        const char *argv[5] = {"SET", key, text, "EX", ttl};
        redisReply *r = cluster_command_argv(ctx, 5, argv, NULL);
        rc = r ? 0 : -EAGAIN;
        freeReplyObject(r);
        free(text);
    }
    return rc;
}

static int session_get(void *ctx, const char *hash, char *email, size_t email_len, char *csrf,
                       size_t csrf_len)
{
    char key[SESSION_KEY_MAX];
    const char *argv[2] = {"GET", key};
    redisReply *r;
    int found = 0;

    session_key(hash, key);
    if (!(r = cluster_command_argv(ctx, 2, argv, NULL)))
        return -EAGAIN;
    json_t *j = r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, 0, NULL) : NULL;
    const char *e = json_string_value(json_object_get(j, "email"));
    const char *c = json_string_value(json_object_get(j, "csrf"));
    if (e && c && strlen(e) < email_len && strlen(c) < csrf_len) {
        memcpy(email, e, strlen(e) + 1);
        memcpy(csrf, c, strlen(c) + 1);
        found = 1;
    }
    json_decref(j);
    freeReplyObject(r);
    return found;
}

static void session_del(void *ctx, const char *hash)
{
    char key[SESSION_KEY_MAX];
    const char *argv[2] = {"DEL", key};

    session_key(hash, key);
    freeReplyObject(cluster_command_argv(ctx, 2, argv, NULL));
}

const struct sigapi_session_store cluster_session_ops = {
    .put = session_put,
    .get = session_get,
    .del = session_del,
};
