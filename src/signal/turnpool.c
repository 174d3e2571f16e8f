/* The pool of vc-turn nodes: parsing their config, picking the least-loaded healthy ones of a
 * region, counting peers on them, and the health state machine fed by the prober. No I/O. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vc/turnpool.h"

struct turnpool_node {
    struct turnpool_node_conf conf;
    enum turnpool_health health;
    unsigned fails;      /* failed probes in a row */
    unsigned peers;      /* live peers this vc-signal gave the node to */
    bool outstanding;    /* a probe was sent and has no result yet */
    uint64_t sent_ms;    /* when the outstanding probe was handed out */
    uint64_t next_probe; /* monotonic ms */
};

struct turnpool {
    /* Guards the nodes' mutable fields: the prober reports from its own thread. The configs
     * never change after turnpool_new, so turnpool_node() needs no lock. */
    pthread_mutex_t lock;
    size_t n;
    struct turnpool_node nodes[];
};

static int turnpool_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int turnpool_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static bool turnpool_region_ok(const char *v, size_t len)
{
    if (len == 0 || len > TURNPOOL_REGION_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* A turn:, turns: or stun: URL of printable ASCII without spaces or quotes. */
static bool turnpool_url_ok(const char *v, size_t len)
{
    if (len >= TURNPOOL_URL_MAX)
        return false;
    if (!((len > 5 && strncmp(v, "turn:", 5) == 0) || (len > 6 && strncmp(v, "turns:", 6) == 0) ||
          (len > 5 && strncmp(v, "stun:", 5) == 0)))
        return false;
    for (size_t i = 0; i < len; i++)
        if (v[i] <= 0x20 || v[i] >= 0x7f || v[i] == '"' || v[i] == '\\')
            return false;
    return true;
}

static int turnpool_parse_urls(const char *v, size_t len, struct turnpool_node_conf *out, char *err,
                               size_t errlen)
{
    const char *end = v + len;

    while (v <= end) {
        const char *bar = memchr(v, '|', (size_t)(end - v));
        size_t ulen = bar ? (size_t)(bar - v) : (size_t)(end - v);

        if (out->n_urls >= TURNPOOL_MAX_URLS)
            return turnpool_fail(err, errlen, "at most %d urls", TURNPOOL_MAX_URLS);
        if (!turnpool_url_ok(v, ulen))
            return turnpool_fail(err, errlen, "url %u is not a turn:, turns: or stun: URL",
                                 out->n_urls + 1);
        memcpy(out->urls[out->n_urls], v, ulen);
        out->urls[out->n_urls++][ulen] = '\0';
        if (!bar)
            break;
        v = bar + 1;
    }
    return 0;
}

/* One key=value part of a node spec. */
static int turnpool_parse_part(const char *k, size_t klen, const char *v, size_t vlen,
                               struct turnpool_node_conf *out, char *err, size_t errlen)
{
    char buf[VC_ADDR_STRLEN];

    if (klen == 6 && memcmp(k, "region", 6) == 0) {
        if (!turnpool_region_ok(v, vlen))
            return turnpool_fail(err, errlen, "region must be 1 to %d of [A-Za-z0-9._-]",
                                 TURNPOOL_REGION_MAX);
        memcpy(out->region, v, vlen);
        out->region[vlen] = '\0';
        return 0;
    }
    if (klen == 6 && memcmp(k, "weight", 6) == 0) {
        unsigned w = 0;
        bool digits = vlen > 0 && vlen <= 5;
        for (size_t i = 0; digits && i < vlen; i++) {
            digits = v[i] >= '0' && v[i] <= '9';
            w = w * 10 + (unsigned)(v[i] - '0');
        }
        if (!digits || w < 1 || w > TURNPOOL_WEIGHT_MAX)
            return turnpool_fail(err, errlen, "weight must be 1..%d", TURNPOOL_WEIGHT_MAX);
        out->weight = w;
        return 0;
    }
    if (klen == 4 && memcmp(k, "stun", 4) == 0) {
        if (vlen >= sizeof(buf))
            return turnpool_fail(err, errlen, "stun is not ADDR:PORT");
        memcpy(buf, v, vlen);
        buf[vlen] = '\0';
        if (addr_parse(&out->stun, buf, 0) < 0 || addr_port(&out->stun) == 0 ||
            addr_is_any(&out->stun))
            return turnpool_fail(err, errlen, "stun is not ADDR:PORT (an IP literal)");
        return 0;
    }
    if (klen == 4 && memcmp(k, "urls", 4) == 0)
        return turnpool_parse_urls(v, vlen, out, err, errlen);
    return turnpool_fail(err, errlen, "unknown part '%.*s' (region, weight, stun, urls)",
                         (int)(klen < 16 ? klen : 16), k);
}

int turnpool_parse_node(const char *spec, struct turnpool_node_conf *out, char *err, size_t errlen)
{
    const char *p = spec, *end = spec + strlen(spec);
    bool have_stun = false;
    int r;

    memset(out, 0, sizeof(*out));
    out->weight = 100;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *part_end = comma ? comma : end;
        const char *eq = memchr(p, '=', (size_t)(part_end - p));

        if (!eq)
            return turnpool_fail(err, errlen, "expected key=value parts separated by ','");
        if ((r = turnpool_parse_part(p, (size_t)(eq - p), eq + 1, (size_t)(part_end - eq - 1), out,
                                     err, errlen)) < 0)
            return r;
        have_stun |= (size_t)(eq - p) == 4 && memcmp(p, "stun", 4) == 0;
        p = comma ? comma + 1 : end;
    }
    if (!out->region[0])
        return turnpool_fail(err, errlen, "region= is missing");
    if (!have_stun)
        return turnpool_fail(err, errlen, "stun= is missing (the address health checks use)");
    if (out->n_urls == 0)
        return turnpool_fail(err, errlen, "urls= is missing");
    return 0;
}

struct turnpool *turnpool_new(const struct turnpool_node_conf *nodes, size_t n)
{
    struct turnpool *p;

    if (n == 0 || n > TURNPOOL_MAX_NODES)
        return NULL;
    p = calloc(1, sizeof(*p) + n * sizeof(p->nodes[0]));
    if (!p)
        return NULL;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        p->nodes[i].conf = nodes[i];
        p->nodes[i].health = TURNPOOL_UNKNOWN;
    }
    return p;
}

void turnpool_free(struct turnpool *p)
{
    if (!p)
        return;
    pthread_mutex_destroy(&p->lock);
    free(p);
}

size_t turnpool_size(const struct turnpool *p)
{
    return p->n;
}

const struct turnpool_node_conf *turnpool_node(const struct turnpool *p, size_t i)
{
    return i < p->n ? &p->nodes[i].conf : NULL;
}

bool turnpool_has_region(const struct turnpool *p, const char *region)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->nodes[i].conf.region, region) == 0)
            return true;
    return false;
}

/* The lock only guards plain fields; a const caller still needs it to read them whole. */
static pthread_mutex_t *turnpool_lock(const struct turnpool *p)
{
    return (pthread_mutex_t *)&p->lock;
}

/* True if a is a better pick than b: in degraded mode a node never seen down beats one seen
 * down; then the lower peers/weight (compared by cross-multiplying, no rounding); then the
 * bigger node; then the one configured first, so equal nodes are filled in a stable order. */
static bool turnpool_better(const struct turnpool_node *a, const struct turnpool_node *b)
{
    uint64_t la = (uint64_t)a->peers * b->conf.weight, lb = (uint64_t)b->peers * a->conf.weight;

    if ((a->health == TURNPOOL_DOWN) != (b->health == TURNPOOL_DOWN))
        return b->health == TURNPOOL_DOWN;
    if (la != lb)
        return la < lb;
    if (a->conf.weight != b->conf.weight)
        return a->conf.weight > b->conf.weight;
    return a < b;
}

/* Whether node i may be picked: in the region, healthy unless degraded, not already taken. */
static bool turnpool_candidate(const struct turnpool *p, size_t i, const char *region,
                               bool degraded, const struct turnpool_pick *out)
{
    const struct turnpool_node *nd = &p->nodes[i];

    if (strcmp(nd->conf.region, region) != 0 || (!degraded && nd->health != TURNPOOL_UP))
        return false;
    for (unsigned k = 0; k < out->n; k++)
        if (out->idx[k] == i)
            return false;
    return true;
}

int turnpool_acquire(struct turnpool *p, const char *region, struct turnpool_pick *out)
{
    bool in_region = false, healthy = false;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->nodes[i].conf.region, region) != 0)
            continue;
        in_region = true;
        healthy |= p->nodes[i].health == TURNPOOL_UP;
    }
    out->degraded = in_region && !healthy;
    while (out->n < TURNPOOL_PICK) {
        size_t best = p->n;
        for (size_t i = 0; i < p->n; i++)
            if (turnpool_candidate(p, i, region, out->degraded, out) &&
                (best == p->n || turnpool_better(&p->nodes[i], &p->nodes[best])))
                best = i;
        if (best == p->n)
            break;
        out->idx[out->n++] = (unsigned)best;
    }
    for (unsigned k = 0; k < out->n; k++)
        p->nodes[out->idx[k]].peers++;
    pthread_mutex_unlock(&p->lock);
    return in_region ? 0 : -ENOENT;
}

void turnpool_release(struct turnpool *p, struct turnpool_pick *pick)
{
    pthread_mutex_lock(&p->lock);
    for (unsigned k = 0; k < pick->n && k < TURNPOOL_PICK; k++)
        if (pick->idx[k] < p->n && p->nodes[pick->idx[k]].peers > 0)
            p->nodes[pick->idx[k]].peers--;
    pthread_mutex_unlock(&p->lock);
    memset(pick, 0, sizeof(*pick));
}

unsigned turnpool_peers(const struct turnpool *p, size_t i)
{
    unsigned n;

    pthread_mutex_lock(turnpool_lock(p));
    n = i < p->n ? p->nodes[i].peers : 0;
    pthread_mutex_unlock(turnpool_lock(p));
    return n;
}

enum turnpool_health turnpool_health(const struct turnpool *p, size_t i)
{
    enum turnpool_health h;

    pthread_mutex_lock(turnpool_lock(p));
    h = i < p->n ? p->nodes[i].health : TURNPOOL_UNKNOWN;
    pthread_mutex_unlock(turnpool_lock(p));
    return h;
}

/* The state machine, with the lock held. Returns true if the health changed. */
static bool turnpool_outcome(struct turnpool_node *nd, bool ok)
{
    enum turnpool_health was = nd->health;

    nd->outstanding = false;
    if (ok) {
        nd->fails = 0;
        nd->health = TURNPOOL_UP;
    } else if (++nd->fails >= TURNPOOL_FAILS_DOWN) {
        nd->health = TURNPOOL_DOWN;
    }
    return nd->health != was;
}

size_t turnpool_probe_due(struct turnpool *p, uint64_t now_ms, unsigned *idx, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n; i++) {
        struct turnpool_node *nd = &p->nodes[i];

        if (nd->outstanding && now_ms - nd->sent_ms > TURNPOOL_PROBE_TIMEOUT_MS)
            turnpool_outcome(nd, false);
        if (nd->outstanding || now_ms < nd->next_probe || n >= max)
            continue;
        nd->outstanding = true;
        nd->sent_ms = now_ms;
        nd->next_probe = now_ms + TURNPOOL_PROBE_INTERVAL_MS;
        idx[n++] = (unsigned)i;
    }
    pthread_mutex_unlock(&p->lock);
    return n;
}

bool turnpool_probe_result(struct turnpool *p, unsigned i, bool ok, uint64_t now_ms)
{
    bool changed = false;

    pthread_mutex_lock(&p->lock);
    if (i < p->n && p->nodes[i].outstanding) {
        struct turnpool_node *nd = &p->nodes[i];
        changed = turnpool_outcome(nd, ok && now_ms - nd->sent_ms <= TURNPOOL_PROBE_TIMEOUT_MS);
    }
    pthread_mutex_unlock(&p->lock);
    return changed;
}

uint64_t turnpool_probe_wait(struct turnpool *p, uint64_t now_ms)
{
    uint64_t wait = TURNPOOL_PROBE_INTERVAL_MS;

    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->n; i++) {
        const struct turnpool_node *nd = &p->nodes[i];
        uint64_t at =
            nd->outstanding ? nd->sent_ms + TURNPOOL_PROBE_TIMEOUT_MS + 1 : nd->next_probe;
        uint64_t w = at > now_ms ? at - now_ms : 0;
        if (w < wait)
            wait = w;
    }
    pthread_mutex_unlock(&p->lock);
    return wait;
}
