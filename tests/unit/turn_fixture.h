/* A TURN core under test: a fake clock and fake sockets that record what the core sends. */
#ifndef VC_TURN_FIXTURE_H
#define VC_TURN_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vc/addr.h"
#include "vc/stun.h"
#include "vc/turn.h"

#define FIX_MAX_SENT 64
#define FIX_SECRET "test-secret"

struct fix_packet {
    bool to_peer;
    int relay;
    union vc_addr dest;
    size_t len;
    uint8_t data[2048];
};

struct fixture {
    struct peer_policy *policy;
    struct turn_settings set;
    struct turn_server *srv;
    struct turn_worker *w;
    struct turn_client client;
    uint64_t mono_ms;
    int64_t unix_s;
    unsigned nsent;
    struct fix_packet sent[FIX_MAX_SENT];
    int next_fd;
    int open_relays;
    int fail_relay_open;
    int fail_relay_pair;    /* relay_open_pair finds no free pair of ports */
    int fail_dont_fragment; /* relay_dont_fragment fails */
    struct turn_alloc *relays[256];
    /* Reserved sockets (the odd half of an EVEN-PORT R=1 pair) nobody adopted yet, by fd. */
    bool reserved[256];
    int open_reserved;
    int bad_closes;        /* reserved_close on something not reserved: a double close */
    bool df[256];          /* relay sockets set to DONT-FRAGMENT */
    uint8_t last_token[8]; /* RESERVATION-TOKEN of the last success answer that had one */
    /* Credentials used by fix_request(). */
    char user[128];
    char nonce[128];
    uint8_t key[STUN_MAX_KEY_LEN];
    int key_len;
    int alg; /* 0: classic MD5 + MESSAGE-INTEGRITY; STUN_PWALG_SHA256: the RFC 8489 way */
    /* The fast-path ops: off, they decline every allocation (the core relays it all). */
    bool fast_on;
    unsigned fast_syncs, fast_unbinds, fast_frees;
    struct turn_fast_view fast_last;     /* the last view synced (its client pointer is stale) */
    uint16_t fast_unbound;               /* the last channel number unbound */
    uint64_t fast_budget;                /* the cap's word the core shares with the "kernel" */
    struct turn_fast_counts fast_counts; /* what fast_free reports the kernel relayed */
};

/* Sets up a server with realm "vc", relay 192.0.2.10 ports 50000-50255 (fake: port 50000 + fd),
 * policy default.
 * Adjust f->set before fix_start() if needed. */
void fix_init(struct fixture *f);
void fix_start(struct fixture *f);
void fix_free(struct fixture *f);
/* Another worker of the same server, on the same fake sockets and clock (the caller frees it). */
struct turn_worker *fix_worker_new(struct fixture *f, unsigned index);
void fix_advance(struct fixture *f, uint64_t ms);

/* Username "EXPIRY:id" valid for ttl seconds (negative: already expired); derives the key. */
void fix_credentials(struct fixture *f, int64_t ttl, const char *id);

/* A request builder: starts a message; the caller adds attributes; fix_send_auth() adds
 * USERNAME, REALM, NONCE (+ PASSWORD-ALGORITHM(S)) and integrity, then feeds it to the core. */
void fix_begin(struct fixture *f, struct stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
               uint8_t cls);
void fix_send_auth(struct fixture *f, struct stun_builder *b);
void fix_send_plain(struct fixture *f, struct stun_builder *b);

/* The last packet sent to the client, parsed into m (its buffer lives in the fixture). Returns
 * the STUN error code (0 for success), or -1 if nothing was sent. Clears the send log. */
int fix_last_reply(struct fixture *f, struct stun_msg *m);

/* Sends an unauthenticated Allocate and keeps the NONCE of the 401 for later requests. */
void fix_fetch_nonce(struct fixture *f);
/* Does the full 401 dance and an authenticated Allocate; returns the reply code. */
int fix_allocate(struct fixture *f);
/* Authenticated CreatePermission / ChannelBind for peer; returns the reply code. */
int fix_permit(struct fixture *f, const char *peer);
int fix_bind(struct fixture *f, uint16_t channel, const char *peer);
struct turn_alloc *fix_relay(struct fixture *f, int fd);

#endif
