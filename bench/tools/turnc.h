/* Bench TURN client state shared by the loaders (flood.c, flows.c): REST credentials, requests
 * and their answers (401/438 challenges taken). */
#ifndef VC_BENCH_TURNC_H
#define VC_BENCH_TURNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vc/addr.h"
#include "vc/rest_cred.h"
#include "vc/stun.h"

/* One TURN client 5-tuple's long-term credential state. */
struct turnc {
    char user[64];
    size_t user_len;
    char pass[REST_CRED_PASSWORD_LEN];
    uint8_t key[STUN_MAX_KEY_LEN];
    size_t keylen;
    uint8_t realm[128];
    size_t realm_len;
    uint8_t nonce[256];
    size_t nonce_len;
    union vc_addr relay; /* XOR-RELAYED-ADDRESS of the last success, if it had one */
    unsigned retries;    /* challenges answered for the current request */
    bool quiet;          /* count errors, do not print each */
    int last_error;      /* the last STUN error code answered */
    uint8_t txid[STUN_TXID_LEN];
};

/* One request's attributes. */
struct turnc_req {
    uint16_t method;
    const union vc_addr *peer;
    uint16_t channel;
    int lifetime; /* -1: none */
    bool transport;
};

/* A fresh REST username ("EXPIRY:benchID-PID", valid an hour) and its password under secret. */
int turnc_init(struct turnc *c, const char *secret, unsigned id);
/* Builds r into buf (a new transaction id): its length, or a negative errno. */
int turnc_build(struct turnc *c, const struct turnc_req *r, uint8_t *buf, size_t cap);
/* Handles an answer to c's outstanding request: 0 success, -EAGAIN repeat it (a challenge taken:
 * nonce, realm and key are set), -ENOENT not ours, -EPROTO refused. */
int turnc_handle(struct turnc *c, const uint8_t *buf, size_t len);

#endif
