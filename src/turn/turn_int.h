/* Internal structures of the TURN core, shared by its files; nothing outside src/turn uses them. */
#ifndef VC_TURN_INT_H
#define VC_TURN_INT_H

#include <pthread.h>
#include <stdint.h>

#include <openssl/types.h>

#include "vc/stun.h"
#include "vc/turn.h"

#define TURN_MAX_PERMS 16
#define TURN_MAX_CHANNELS 16
#define TURN_DEFAULT_LIFETIME 600
#define TURN_PERM_LIFETIME_MS (300 * 1000)
#define TURN_CHANNEL_LIFETIME_MS (600 * 1000)
/* After a channel binding expires its number and peer stay reserved this long (RFC 8656 12). */
#define TURN_CHANNEL_QUARANTINE_MS (300 * 1000)
#define TURN_MAX_USERNAME 128
#define TURN_EVEN_PORT_TRIES 16
/* EVEN-PORT R=1 holds the next port this long for a RESERVATION-TOKEN (RFC 8656 7.2: about 30 s),
 * in a server-wide table of at most this many reservations (fewer for a small relay port range
 * or max_allocations: see turn_resv_init()). */
#define TURN_RESERVATION_MS (30 * 1000)
#define TURN_RESERVATIONS_MAX 1024
#define TURN_TOKEN_LEN 8
/* Address family codes of REQUESTED-ADDRESS-FAMILY and its kin. */
#define TURN_FAMILY_IPV4 0x01
#define TURN_FAMILY_IPV6 0x02
#define TURN_USER_DIGEST_LEN 16
#define TURN_NONCE_MAX 64
/* Responses are built in a stack buffer of this size; they are always small. */
#define TURN_RESPONSE_MAX 512
#define TURN_RATE_BUCKETS 4096
/* At most this many auth.failed lines a second per worker; the rest are only counted. */
#define TURN_AUTH_LOG_PER_SEC 20
/* Entries (a power of two) of the worker's cache of verified long-term keys by username. */
#define TURN_KEY_CACHE 64
/* The --bps cap lets one second of the rate through at once. */
#define TURN_BURST_NS 1000000000ULL

struct turn_perm {
    union vc_addr ip;
    uint64_t expires_ms;
};

struct turn_channel {
    union vc_addr peer;
    uint64_t expires_ms;
    uint16_t number;
};

struct turn_alloc {
    struct turn_alloc *hash_next;
    struct turn_alloc *prev, *next; /* the worker's live list, or the free list (next only) */
    struct turn_client client;
    union vc_addr relay; /* the relay socket's own address */
    int relay_fd;
    uint8_t nperms, nchans;
    uint8_t txid[STUN_TXID_LEN]; /* of the Allocate that created it, for retransmissions */
    uint8_t user_digest[TURN_USER_DIGEST_LEN];
    uint64_t id;
    uint64_t token; /* RESERVATION-TOKEN answered to its Allocate (0: none), for retransmissions */
    uint64_t created_ms, expires_ms;
    /* The --bps cap (GCRA): the time by which everything sent so far would have gone at the
     * cap, in monotonic ns; its own word, or the one the kernel charges too (bw_shared). */
    uint64_t bw_tat;
    uint64_t *bw_shared; /* borrowed from the I/O layer while fast_slot >= 0 */
    int fast_slot;       /* the I/O layer's handle for the kernel's state, or -1 */
    uint64_t packets_to_peer, packets_to_client, bytes_to_peer, bytes_to_client;
    struct turn_perm perms[TURN_MAX_PERMS];
    struct turn_channel chans[TURN_MAX_CHANNELS];
};

struct turn_rate_bucket {
    uint32_t tokens_milli; /* tokens x 1000 */
    uint32_t last_ms;      /* low 32 bits of the monotonic clock */
};

/* Per-credential allocation counts: open addressing over 64-bit username digests. */
struct turn_quota {
    pthread_mutex_t lock;
    size_t mask;
    struct turn_quota_slot {
        uint64_t key; /* 0 = empty */
        uint32_t count;
    } * slots;
};

/* A port held for a RESERVATION-TOKEN: a bound socket nobody watches until an Allocate with the
 * token adopts it or the reservation expires. It is charged like an allocation (server cap and
 * its credential's quota), and the charge passes to the allocation that redeems it. */
struct turn_reservation {
    uint64_t token; /* 0: a free slot */
    uint64_t expires_ms;
    uint8_t user_digest[TURN_USER_DIGEST_LEN]; /* only this credential may redeem it */
    union vc_addr relay;                       /* the reserved socket's address */
    int handle;                                /* the I/O layer's reserved socket */
    unsigned worker;                           /* index of the worker that reserved it */
};

struct turn_reservations {
    pthread_mutex_t lock;
    struct turn_reservation *slots; /* owned; cap entries, sized at start-up */
    unsigned cap;
    unsigned live; /* atomic: slots in use, read without the lock to skip empty sweeps */
};

/* One generation of the settings workers read: immutable once published, replaced whole by
 * turn_server_reload() and freed by turn_server_reclaim() after every worker moved on. */
struct turn_live {
    struct turn_settings set; /* set.secret points at secret, set.realm at the server's */
    uint8_t *secret;          /* owned */
    uint8_t *prev_secret;     /* owned; the secret before the last rotation, or NULL */
    size_t prev_len;
    int64_t prev_until;         /* prev_secret only vouches for usernames expiring by then */
    struct peer_policy *policy; /* owned; NULL when set.policy is the caller's (start-up) */
    uint64_t generation;        /* 1 at start-up, one more per reload: keys cached from it */
    struct turn_live *retired_next;
};

struct turn_server {
    struct turn_settings set; /* as started; the fields reload cannot change are read here */
    char *realm;
    struct turn_live *live;    /* atomic pointer: workers load it in turn_worker_set_clock() */
    struct turn_live *retired; /* replaced generations, waiting for turn_server_reclaim() */
    bool draining;             /* atomic */
    uint8_t nonce_key[32];
    unsigned live_allocations; /* atomic: the whole server, against max_allocations */
    struct turn_quota quota;
    struct turn_reservations resv;
};

/* A long-term key that verified a request, so the next request with the same username (the
 * Refresh, CreatePermission and ChannelBind after an Allocate) skips deriving it again. */
struct turn_key_entry {
    uint64_t generation; /* of the settings whose secret derived it; 0 = empty */
    uint8_t alg, user_len, key_len;
    uint8_t user[TURN_MAX_USERNAME];
    uint8_t key[STUN_MAX_KEY_LEN];
    uint8_t user_digest[TURN_USER_DIGEST_LEN];
};

struct turn_worker {
    struct turn_server *srv;
    const struct turn_live *cur; /* this loop iteration's settings */
    const struct turn_io_ops *ops;
    void *ctx;
    unsigned index;
    uint64_t now_ms;
    int64_t now_unix;
    uint64_t last_tick_ms;
    uint64_t prng; /* xorshift state, seeded from the CSPRNG: transaction ids of indications */
    struct turn_stats stats;
    struct turn_alloc *pool; /* capacity entries, sized at start-up */
    size_t capacity;
    struct turn_alloc *free_list;
    struct turn_alloc *live; /* head of the live list */
    struct turn_alloc **buckets;
    size_t bucket_mask;
    struct turn_rate_bucket rate[TURN_RATE_BUCKETS];
    uint64_t auth_log_second;
    unsigned auth_log_count;
    EVP_MAC_CTX *nonce_mac; /* owned; HMAC-SHA256 keyed with the server's nonce key */
    struct turn_key_entry keys[TURN_KEY_CACHE];
};

/* Counters written by one thread and read by the metrics thread. */
#define TURN_STAT_ADD(w, field, n)                                                                 \
    __atomic_store_n(&(w)->stats.field, (w)->stats.field + (n), __ATOMIC_RELAXED)

/* server.c */
int turn_quota_acquire(struct turn_server *s, uint64_t key, unsigned limit);
void turn_quota_release(struct turn_server *s, uint64_t key);
/* Takes n units (an allocation, or an allocation and a reservation) from the server cap and the
 * credential's quota: 0, or the STUN error code (508 at the cap, 486 over the quota; counted). */
int turn_charge(struct turn_worker *w, uint64_t key, unsigned n);
void turn_uncharge(struct turn_server *s, uint64_t key, unsigned n);

/* reserve.c: the server's table of port reservations. init/free at server start and end. */
int turn_resv_init(struct turn_server *s);
void turn_resv_free(struct turn_server *s);
/* True when the table has no free slot (read without the lock: a hint before opening sockets). */
bool turn_resv_full(const struct turn_server *s);
/* Records the reserved socket handle (bound to relay) for the credential digest, which has been
 * charged one unit; returns 0 with a fresh non-zero token from the CSPRNG, or -ENOSPC (table
 * full) or -EIO (CSPRNG) and then the caller still owns the socket and the charge. */
int turn_resv_add(struct turn_worker *w, int handle, const union vc_addr *relay,
                  const uint8_t digest[TURN_USER_DIGEST_LEN], uint64_t *token);
/* Removes and returns the live reservation for token made by the credential digest: 0, or
 * -ENOENT (unknown, expired or another credential's; counted). The caller then owns the socket
 * and the charge. */
int turn_resv_take(struct turn_worker *w, uint64_t token,
                   const uint8_t digest[TURN_USER_DIGEST_LEN], struct turn_reservation *out);
/* Releases the expired reservations (or, at shutdown, every one w made): closes their sockets
 * and gives their charge back. */
void turn_resv_sweep(struct turn_worker *w, bool shutdown);

/* auth.c: the outcome of checking a request's long-term credentials. */
struct turn_auth {
    int error; /* 0, or the STUN error code to answer with */
    const char *reason;
    uint8_t key[STUN_MAX_KEY_LEN];
    int key_len;
    bool sha256; /* the request used MESSAGE-INTEGRITY-SHA256: answer the same way */
    uint8_t user_digest[TURN_USER_DIGEST_LEN];
};
int turn_nonce_make(const struct turn_worker *w, const struct turn_client *c, char *out,
                    size_t outlen);
void turn_auth_check(struct turn_worker *w, const struct turn_client *c, const struct stun_msg *m,
                     struct turn_auth *out);
/* Appends the PASSWORD-ALGORITHMS attribute we offer. */
void turn_build_password_algorithms(struct stun_builder *b);
uint64_t turn_user_quota_key(const uint8_t digest[TURN_USER_DIGEST_LEN]);
/* The worker's keyed nonce MAC: 0 or -ENOMEM. turn_auth_worker_free() wipes the key cache too. */
int turn_auth_worker_init(struct turn_worker *w);
void turn_auth_worker_free(struct turn_worker *w);
/* Forgets every cached key (the settings generation changed). */
void turn_auth_forget_keys(struct turn_worker *w);

/* allocate.c: gives a new allocation for c its relay socket as Allocate m asks (opening one, an
 * even one, a pair with the next port reserved, or the one a RESERVATION-TOKEN held), charged to
 * auth's credential. Returns 0 with *out set (relay_fd, relay, user_digest, token; the caller
 * sets the lifetime) and *v6_refused, or the STUN error code to answer with. */
int turn_allocate_relay(struct turn_worker *w, const struct turn_client *c,
                        const struct stun_msg *m, const struct turn_auth *auth,
                        struct turn_alloc **out, bool *v6_refused);

/* ratelimit.c: true if an unauthenticated message from this IP may be answered. */
bool turn_rate_allow(struct turn_worker *w, const union vc_addr *ip);

/* alloc.c */
struct turn_alloc *turn_alloc_find(struct turn_worker *w, const struct turn_client *c);
struct turn_alloc *turn_alloc_new(struct turn_worker *w, const struct turn_client *c);
void turn_alloc_free(struct turn_worker *w, struct turn_alloc *a, const char *why);
struct turn_perm *turn_perm_find(struct turn_alloc *a, const union vc_addr *ip, uint64_t now);
int turn_perm_install(struct turn_alloc *a, const union vc_addr *ip, uint64_t now);
struct turn_channel *turn_chan_by_number(struct turn_alloc *a, uint16_t number, uint64_t now);
struct turn_channel *turn_chan_by_peer(struct turn_alloc *a, const union vc_addr *peer,
                                       uint64_t now);
int turn_chan_bind(struct turn_worker *w, struct turn_alloc *a, uint16_t number,
                   const union vc_addr *peer, uint64_t now);
/* Takes len bytes from the allocation's bandwidth budget; false if over the cap. */
bool turn_alloc_charge(struct turn_worker *w, struct turn_alloc *a, size_t len);
uint64_t turn_worker_random(struct turn_worker *w);

/* fast.c: the fast path's hooks (no-ops without the ops). After a's channels, permissions or
 * lifetime changed, after a channel left it, before it is freed (counts added to a's), and
 * for every allocation when the settings (the cap) changed. */
void turn_fast_sync(struct turn_worker *w, struct turn_alloc *a);
void turn_fast_unbind(struct turn_worker *w, struct turn_alloc *a, const struct turn_channel *ch);
void turn_fast_free(struct turn_worker *w, struct turn_alloc *a);
void turn_fast_resync(struct turn_worker *w);

#endif
