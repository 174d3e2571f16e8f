/* The pool of vc-turn nodes vc-signal hands out: regions, weights, load and health. No I/O. */
#ifndef VC_TURNPOOL_H
#define VC_TURNPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vc/addr.h"

#define TURNPOOL_MAX_NODES 32
#define TURNPOOL_MAX_URLS 4
#define TURNPOOL_URL_MAX 256
#define TURNPOOL_REGION_MAX 32
#define TURNPOOL_WEIGHT_MAX 10000
/* Nodes handed to one peer: two, so ICE has a second relay if one fails mid-call. */
#define TURNPOOL_PICK 2
/* Health: a STUN Binding every interval; an answer later than the timeout is a failure. A
 * node is down after TURNPOOL_FAILS_DOWN failures in a row and up again after one success. */
#define TURNPOOL_PROBE_INTERVAL_MS 5000
#define TURNPOOL_PROBE_TIMEOUT_MS 1000
#define TURNPOOL_FAILS_DOWN 2

/* One node as configured: immutable once the pool holds it. */
struct turnpool_node_conf {
    char region[TURNPOOL_REGION_MAX + 1];
    unsigned weight;    /* 1..TURNPOOL_WEIGHT_MAX: relative capacity */
    union vc_addr stun; /* where Binding requests go (UDP) */
    char urls[TURNPOOL_MAX_URLS][TURNPOOL_URL_MAX];
    unsigned n_urls;
};

/* Parses one --turn-node value (borrowed, NUL-terminated config text):
 *   region=uk-south,weight=100,stun=127.0.0.1:3478,urls=turn:h:3478?transport=udp|turns:h:5349
 * Keys may come in any order; weight defaults to 100; each URL is turn: or turns: (stun: too)
 * and they are separated by '|'. Returns 0, or -EINVAL with a message naming the part in err. */
int turnpool_parse_node(const char *spec, struct turnpool_node_conf *out, char *err, size_t errlen);

enum turnpool_health { TURNPOOL_UNKNOWN, TURNPOOL_UP, TURNPOOL_DOWN };

struct turnpool;

/* A pool of copies of nodes[0..n) (1..TURNPOOL_MAX_NODES). Every node starts UNKNOWN and due
 * for a probe. NULL on ENOMEM or a bad n. The pool is thread-safe: the prober reports from its
 * own thread while the signalling thread picks nodes. */
struct turnpool *turnpool_new(const struct turnpool_node_conf *nodes, size_t n);
void turnpool_free(struct turnpool *p);

size_t turnpool_size(const struct turnpool *p);
/* The configuration of node i (< turnpool_size), borrowed for the pool's lifetime. */
const struct turnpool_node_conf *turnpool_node(const struct turnpool *p, size_t i);
/* True if some node is in region (NUL-terminated). */
bool turnpool_has_region(const struct turnpool *p, const char *region);

/* What one peer was given: node indexes, best first. */
struct turnpool_pick {
    unsigned n;
    unsigned idx[TURNPOOL_PICK];
    bool degraded; /* no node of the region was healthy: these are not known to work */
};

/* Picks the least-loaded (live peers / weight) healthy nodes of region, up to TURNPOOL_PICK,
 * and counts a peer on each. With no healthy node in the region it picks the region's nodes
 * anyway and sets degraded: the trust chose where data may flow, so it never spills into
 * another region. Returns 0, or -ENOENT when the region has no node at all (out->n is 0). */
int turnpool_acquire(struct turnpool *p, const char *region, struct turnpool_pick *out);
/* Uncounts a pick from turnpool_acquire (borrowed) and empties it; an empty pick is a no-op. */
void turnpool_release(struct turnpool *p, struct turnpool_pick *pick);
/* Live peers counted on node i. */
unsigned turnpool_peers(const struct turnpool *p, size_t i);
enum turnpool_health turnpool_health(const struct turnpool *p, size_t i);

/* Health checks, driven by the I/O layer with its monotonic clock. First any probe still
 * outstanding past TURNPOOL_PROBE_TIMEOUT_MS counts as a failure; then fills idx (borrowed,
 * room for max) with the nodes due for a probe now, marks them outstanding and schedules their
 * next one. Returns how many. */
size_t turnpool_probe_due(struct turnpool *p, uint64_t now_ms, unsigned *idx, size_t max);
/* The outcome of node i's outstanding probe: ok for a valid Binding success response with its
 * transaction id. An answer past the timeout counts as a failure, and one for a probe not
 * outstanding is ignored. Returns true if the node's health changed (worth a log line). */
bool turnpool_probe_result(struct turnpool *p, unsigned i, bool ok, uint64_t now_ms);
/* Milliseconds from now_ms until turnpool_probe_due has work (0 if it has now). */
uint64_t turnpool_probe_wait(struct turnpool *p, uint64_t now_ms);

#endif
