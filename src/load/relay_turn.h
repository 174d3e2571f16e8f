/* A minimal blocking TURN client (UDP, TCP or TLS) for the pre-flight check and the flood path. */
#ifndef VC_LOAD_RELAY_TURN_H
#define VC_LOAD_RELAY_TURN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "relay.h"
#include "vc/addr.h"
#include "vc/stun.h"

#define RELAY_TURN_TIMEOUT_MS 5000

/* One client connection holding one allocation. */
struct relay_turn {
    int fd;
    enum relay_transport transport;
    SSL_CTX *ssl_ctx;
    SSL *ssl;
    union vc_addr server;
    char server_text[VC_ADDR_STRLEN];
    char user[64];
    char pass[64];
    char realm[128];
    size_t realm_len;
    uint8_t nonce[256];
    size_t nonce_len;
    uint8_t key[STUN_MAX_KEY_LEN];
    int keylen;
    union vc_addr relayed;
    uint8_t rbuf[4096]; /* stream reassembly */
    size_t rlen;
};

/* Connects to o->server over o->transport with fresh REST credentials number n. The socket is
 * connected (and blocking until relay_turn_nonblock). Returns 0 or a negative errno, err set. */
int relay_turn_open(struct relay_turn *t, const struct relay_opts *o, unsigned n, char *err,
                    size_t errlen);
/* Allocates a UDP relay; t->relayed is set on success. */
int relay_turn_allocate(struct relay_turn *t, char *err, size_t errlen);
int relay_turn_permit(struct relay_turn *t, const union vc_addr *peer, char *err, size_t errlen);
int relay_turn_bind(struct relay_turn *t, const union vc_addr *peer, uint16_t channel, char *err,
                    size_t errlen);
/* Refresh with LIFETIME 0 (best effort, waits at most 1 s), then closes. */
void relay_turn_release(struct relay_turn *t);
void relay_turn_close(struct relay_turn *t);

#endif
