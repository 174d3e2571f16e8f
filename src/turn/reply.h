/* STUN response helpers private to the TURN core. */
#ifndef VC_TURN_REPLY_H
#define VC_TURN_REPLY_H

#include "turn_int.h"

struct turn_reply {
    struct stun_builder b;
    const struct turn_auth *auth; /* borrowed; NULL for unauthenticated answers */
    bool fingerprint;             /* the request carried FINGERPRINT, so the answer does too */
    uint8_t buf[TURN_RESPONSE_MAX];
};

void turn_reply_start(struct turn_reply *r, const struct stun_msg *req, uint8_t cls,
                      const struct turn_auth *auth);
/* Adds MESSAGE-INTEGRITY(-SHA256) when auth succeeded, FINGERPRINT if asked, and sends. */
void turn_reply_send(struct turn_worker *w, const struct turn_client *c, struct turn_reply *r);
/* An error response; 401 and 438 carry REALM, a fresh NONCE and PASSWORD-ALGORITHMS. */
void turn_reply_error(struct turn_worker *w, const struct turn_client *c,
                      const struct stun_msg *req, const struct turn_auth *auth, int code);

#endif
