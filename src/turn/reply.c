/* Building and sending STUN responses for the TURN core: success, errors, auth challenges. */
#include <string.h>

#include "reply.h"

void turn_reply_start(struct turn_reply *r, const struct stun_msg *req, uint8_t cls,
                      const struct turn_auth *auth)
{
    stun_build_init(&r->b, r->buf, sizeof(r->buf), req->method, cls, req->txid);
    r->auth = auth;
    r->fingerprint = req->fingerprint >= 0;
}

void turn_reply_send(struct turn_worker *w, const struct turn_client *c, struct turn_reply *r)
{
    const struct turn_auth *auth = r->auth;

    /* Only a request whose credentials checked out gets an integrity-protected answer. */
    if (auth && auth->error == 0 && auth->key_len > 0) {
        if (auth->sha256)
            stun_build_integrity_sha256(&r->b, auth->key, (size_t)auth->key_len);
        else
            stun_build_integrity(&r->b, auth->key, (size_t)auth->key_len);
    }
    if (r->fingerprint)
        stun_build_fingerprint(&r->b);
    int len = stun_build_finish(&r->b);
    if (len > 0)
        w->ops->send_client(w, c, r->buf, (size_t)len);
}

void turn_reply_error(struct turn_worker *w, const struct turn_client *c,
                      const struct stun_msg *req, const struct turn_auth *auth, int code)
{
    struct turn_reply r;

    turn_reply_start(&r, req, STUN_ERROR, auth);
    stun_build_error(&r.b, code, NULL);
    if (code == 401 || code == 438) {
        /* A challenge: just enough to retry with. No SOFTWARE, so the answer to an
         * unauthenticated request stays small (no amplification). */
        char nonce[TURN_NONCE_MAX];
        int n = turn_nonce_make(w, c, nonce, sizeof(nonce));
        const char *realm = w->srv->realm;
        stun_build_attr(&r.b, STUN_ATTR_REALM, realm, strlen(realm));
        if (n > 0)
            stun_build_attr(&r.b, STUN_ATTR_NONCE, nonce, (size_t)n);
        turn_build_password_algorithms(&r.b);
    }
    turn_reply_send(w, c, &r);
}
