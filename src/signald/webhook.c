/* vc-signal's signed webhooks: metadata events from the log's tap are stored, then POSTed to the
 * receiver, signed, at least once, in order per room, retried with backoff for up to 24 h. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <ev.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "vc/log.h"
#include "vc/random.h"
#include "vc/secret.h"
#include "signald.h"
#include "webhook.h"

/* Requests in flight at once (each for another room). */
#define WEBHOOK_INFLIGHT 4
/* A failing receiver is reported at most this often (a flapping one would fill the log). */
#define WEBHOOK_NOTE_MS 60000

/* One POST on its way. */
struct webhook_xfer {
    CURL *easy;
    struct curl_slist *headers;
    struct whq_item *item; /* busy while this lasts */
    char *body;            /* owned: curl reads it */
    char error[CURL_ERROR_SIZE];
};

struct webhook {
    char *url, *ca;              /* owned copies */
    const struct secret *secret; /* borrowed: main's, replaced in place by a reload */
    struct whq_policy policy;
    unsigned max_queue, timeout_ms;
    struct whstore *store;
    struct whq q;
    struct webhook_stats stats;
    pthread_t thread;     /* the one that writes events: the service thread */
    struct ev_loop *loop; /* NULL: not delivering (before start, after stop) */
    struct whcurl *curl;
    ev_timer due; /* the next attempt, or at once after an event was queued */
    struct webhook_xfer *xfers[WEBHOOK_INFLIGHT];
    bool failing;     /* the last attempt failed */
    bool noted;       /* ... and that was logged: its recovery is too */
    int64_t noted_ms; /* when a failure was last logged */
};

static int64_t webhook_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- start-up checks ---- */

/* The host of an https URL into host; -EINVAL with the reason in err otherwise. */
static int webhook_url_host(const char *url, char *host, size_t hostlen, char *port, size_t portlen,
                            char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL, *p = NULL;
    int rc = -EINVAL;

    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        snprintf(err, errlen, "webhook-url: not a URL");
    else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
             strcmp(scheme, "https") != 0)
        snprintf(err, errlen, "webhook-url: must be https:// (got %.16s:)", scheme ? scheme : "");
    else if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !*h)
        snprintf(err, errlen, "webhook-url: no host");
    else if (curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK)
        snprintf(err, errlen, "webhook-url: bad port");
    else if ((size_t)snprintf(host, hostlen, "%s", h) >= hostlen ||
             (size_t)snprintf(port, portlen, "%s", p) >= portlen)
        snprintf(err, errlen, "webhook-url: the host name is too long");
    else
        rc = 0;
    curl_free(scheme);
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}

/* "Unreachable" at start-up means a URL that cannot work: not https, malformed, or a host that
 * does not resolve. A receiver that is only down now is retried (docs/webhooks.md). */
int webhook_check_url(const char *url, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    char host[256], port[8];
    size_t n;
    int rc = webhook_url_host(url, host, sizeof(host), port, sizeof(port), err, errlen);

    if (rc < 0)
        return rc;
    n = strlen(host); /* an IPv6 literal comes bracketed */
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
        snprintf(err, errlen, "webhook-url: cannot resolve %s: %s", host, gai_strerror(rc));
        return -EINVAL;
    }
    freeaddrinfo(res);
    return 0;
}

int webhook_check_ca(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    X509 *x;
    unsigned n = 0;

    if (!f) {
        snprintf(err, errlen, "webhook-ca: cannot read %s: %s", path, strerror(errno));
        return -EINVAL;
    }
    while ((x = PEM_read_X509(f, NULL, NULL, NULL))) {
        X509_free(x);
        n++;
    }
    fclose(f);
    ERR_clear_error(); /* the end of the file, or what was wrong in it */
    if (n == 0) {
        snprintf(err, errlen, "webhook-ca: %s holds no PEM certificate", path);
        return -EINVAL;
    }
    return 0;
}

/* ---- the queue ---- */

static void webhook_cap(struct webhook *w);

int webhook_open(const struct webhook_settings *s, struct webhook **out, char *err, size_t errlen)
{
    struct webhook *w = calloc(1, sizeof(*w));
    int rc;

    *out = NULL;
    if (!w || !(w->url = strdup(s->url)) || (s->ca && !(w->ca = strdup(s->ca)))) {
        webhook_close(w);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    w->secret = s->secret;
    w->policy.min_ms = s->retry_min_ms;
    w->policy.max_ms = s->retry_max_ms > s->retry_min_ms ? s->retry_max_ms : s->retry_min_ms;
    w->policy.give_up_ms = WHQ_GIVE_UP_MS;
    w->max_queue = s->max_queue;
    w->timeout_ms = s->timeout_ms;
    w->thread = pthread_self();
    if ((rc = whstore_open(s->data_dir, &w->store, err, errlen)) < 0) {
        webhook_close(w);
        return rc;
    }
    if ((rc = whstore_load(w->store, &w->q)) < 0) {
        snprintf(err, errlen, "cannot read the queue in %s: %s", WHSTORE_DB_NAME, strerror(-rc));
        webhook_close(w);
        return rc;
    }
    if (rc > 0)
        log_msg(LOG_LEVEL_INFO, "webhook: %d events queued by a previous run", rc);
    webhook_cap(w); /* webhook-max-queue may be smaller than it was */
    w->stats.queued = w->q.count;
    *out = w;
    return 0;
}

const struct webhook_stats *webhook_get_stats(const struct webhook *w)
{
    return &w->stats;
}

/* Forgets an event for good: delivered, given up or dropped. */
static void webhook_forget(struct webhook *w, struct whq_item *it)
{
    if (whstore_del(w->store, it->seq) < 0)
        log_msg(LOG_LEVEL_WARN, "webhook: cannot delete an event from %s (it may be sent again)",
                WHSTORE_DB_NAME);
    whq_remove(&w->q, it);
    w->stats.queued = w->q.count;
}

/* Makes room: the oldest events not being sent go, counted as dropped. */
static void webhook_cap(struct webhook *w)
{
    struct whq_item *victim;

    while ((victim = whq_over(&w->q, w->max_queue))) {
        webhook_forget(w, victim);
        if (w->stats.dropped++ == 0)
            log_msg(LOG_LEVEL_WARN, "webhook: the queue is full (%u events): dropping the oldest",
                    w->max_queue);
    }
}

static void webhook_kick(struct webhook *w)
{
    if (!w->loop)
        return;
    ev_timer_stop(w->loop, &w->due);
    ev_timer_set(&w->due, 0.0, 0.0);
    ev_timer_start(w->loop, &w->due);
}

/* Stores the event, then queues it: on disk before it counts, so a crash loses none. */
static void webhook_enqueue(struct webhook *w, const char *event, json_t *line)
{
    char id[WHEVENT_ID_LEN + 1];
    struct whq_item *it = calloc(1, sizeof(*it));
    char *body = NULL;
    size_t len = 0;

    if (it && random_token_hex(id, sizeof(id), WHEVENT_ID_LEN / 2) == 0)
        body = whevent_body(event, line, id, &len, it->room);
    if (!body) {
        free(it);
        w->stats.dropped++;
        log_msg(LOG_LEVEL_WARN, "webhook: cannot build a %s event", event);
        return;
    }
    it->first_ms = it->due_ms = webhook_now_ms();
    if (whstore_put(w->store, it, id, body, len) < 0) {
        free(it);
        w->stats.dropped++;
        log_msg(LOG_LEVEL_ERROR, "webhook: cannot store a %s event in %s (disk full?)", event,
                WHSTORE_DB_NAME);
    } else if (whq_push(&w->q, it) < 0) {
        free(it); /* stored: a restart sends it */
        log_msg(LOG_LEVEL_ERROR, "webhook: out of memory: a %s event waits for a restart", event);
    }
    free(body);
    w->stats.queued = w->q.count;
    webhook_cap(w);
    webhook_kick(w);
}

void webhook_tap(void *ctx, const char *event, json_t *line)
{
    struct webhook *w = ctx;

    /* Only the service thread touches the queue; every hub event is written there. */
    if (!whevent_wanted(event) || !pthread_equal(pthread_self(), w->thread))
        return;
    webhook_enqueue(w, event, line);
}

/* ---- delivery ---- */

static size_t webhook_discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n; /* the answer's body is not needed */
}

static void webhook_xfer_free(struct webhook_xfer *x)
{
    if (!x)
        return;
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->body);
    free(x);
}

/* The request's headers: the event id and the signature over the send time and the body. */
static int webhook_headers(struct webhook *w, struct webhook_xfer *x, const char *id, size_t len)
{
    char sig[WHSIGN_HEADER_MAX], id_line[16 + WHEVENT_ID_LEN], sig_line[16 + WHSIGN_HEADER_MAX];
    const char *lines[] = {"Content-Type: application/json",
                           "User-Agent: vc-signal/" SIGNALD_VERSION, "Expect:", id_line, sig_line};
    struct curl_slist *h = NULL, *next;

    if (whsign_header(w->secret->bytes, w->secret->len, webhook_now_ms() / 1000, x->body, len, sig,
                      sizeof(sig)) < 0)
        return -EIO;
    snprintf(id_line, sizeof(id_line), "Vc-Event-Id: %s", id);
    snprintf(sig_line, sizeof(sig_line), "Vc-Signature: %s", sig);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++, h = next) {
        if (!(next = curl_slist_append(h, lines[i]))) {
            curl_slist_free_all(h);
            return -ENOMEM;
        }
    }
    x->headers = h;
    return 0;
}

/* A POST of the event's stored body, signed now. */
static struct webhook_xfer *webhook_request(struct webhook *w, struct whq_item *it)
{
    struct webhook_xfer *x = calloc(1, sizeof(*x));
    char id[WHEVENT_ID_LEN + 1];
    size_t len = 0;

    if (!x || whstore_body(w->store, it->seq, id, &x->body, &len) < 0 ||
        webhook_headers(w, x, id, len) < 0 || !(x->easy = curl_easy_init())) {
        webhook_xfer_free(x);
        return NULL;
    }
    x->item = it;
    curl_easy_setopt(x->easy, CURLOPT_URL, w->url);
    curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(x->easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (w->ca)
        curl_easy_setopt(x->easy, CURLOPT_CAINFO, w->ca);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, webhook_discard);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->error);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    return x;
}

/* An attempt failed (why: for the log): again later, or given up after 24 h. */
static void webhook_failed(struct webhook *w, struct whq_item *it, const char *why)
{
    uint32_t rnd = 0;
    int64_t now = webhook_now_ms(), due;

    it->attempts++;
    (void)random_bytes(&rnd, sizeof(rnd)); /* no randomness: no jitter, still a backoff */
    if (!w->failing && (!w->noted_ms || now - w->noted_ms >= WEBHOOK_NOTE_MS)) {
        log_msg(LOG_LEVEL_WARN, "webhook: delivery failed (%s); retrying with backoff", why);
        w->noted = true;
        w->noted_ms = now;
    }
    w->failing = true;
    if ((due = whq_next_try(&w->policy, it, now, rnd)) < 0) {
        log_msg(LOG_LEVEL_WARN, "webhook: gave up an event after %u attempts over 24 h",
                it->attempts);
        w->stats.failed++;
        webhook_forget(w, it);
        return;
    }
    it->due_ms = due;
    if (whstore_retry(w->store, it) < 0)
        log_msg(LOG_LEVEL_WARN, "webhook: cannot record a retry in %s", WHSTORE_DB_NAME);
    whq_retry(&w->q, it, due);
    w->stats.retried++;
}

static void webhook_pump(struct webhook *w);

/* whcurl's completion: 2xx delivers, anything else (a timeout included) fails the attempt. */
static void webhook_done(void *ctx, void *easy, int result)
{
    struct webhook *w = ctx;
    struct webhook_xfer *x = NULL;
    long status = 0;
    char why[CURL_ERROR_SIZE + 32];

    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    for (size_t i = 0; i < WEBHOOK_INFLIGHT; i++)
        if (w->xfers[i] == x)
            w->xfers[i] = NULL;
    if (result == CURLE_OK && status >= 200 && status <= 299) {
        if (w->failing && w->noted)
            log_msg(LOG_LEVEL_INFO, "webhook: the receiver takes events again");
        w->failing = w->noted = false;
        w->stats.delivered++;
        webhook_forget(w, x->item);
    } else {
        if (result != CURLE_OK)
            snprintf(why, sizeof(why), "%s", x->error[0] ? x->error : curl_easy_strerror(result));
        else
            snprintf(why, sizeof(why), "HTTP %ld", status);
        webhook_failed(w, x->item, why);
    }
    webhook_xfer_free(x);
    webhook_pump(w);
}

/* Sends what is due, up to WEBHOOK_INFLIGHT at once, and sets the timer for what comes next. */
static void webhook_pump(struct webhook *w)
{
    int64_t now = webhook_now_ms(), next;
    size_t slot = 0;

    if (!w->loop)
        return;
    for (;;) {
        while (slot < WEBHOOK_INFLIGHT && w->xfers[slot])
            slot++;
        struct whq_item *it = slot < WEBHOOK_INFLIGHT ? whq_take(&w->q, now) : NULL;
        if (!it)
            break;
        struct webhook_xfer *x = webhook_request(w, it);
        if (!x || whcurl_add(w->curl, x->easy) < 0) {
            webhook_xfer_free(x);
            webhook_failed(w, it, "cannot build the request");
            continue;
        }
        w->xfers[slot] = x;
    }
    ev_timer_stop(w->loop, &w->due);
    next = whq_next_due(&w->q);
    if (slot < WEBHOOK_INFLIGHT && next != INT64_MAX) {
        ev_timer_set(&w->due, next > now ? (double)(next - now) / 1000.0 : 0.0, 0.0);
        ev_timer_start(w->loop, &w->due);
    }
}

static void webhook_due_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    webhook_pump((struct webhook *)((char *)t - offsetof(struct webhook, due)));
}

int webhook_start(struct webhook *w, struct ev_loop *loop)
{
    int rc = whcurl_start(&w->curl, loop, webhook_done, w);

    if (rc < 0)
        return rc;
    w->loop = loop;
    w->thread = pthread_self();
    ev_timer_init(&w->due, webhook_due_cb, 0.0, 0.0);
    webhook_pump(w);
    return 0;
}

/* Requests in flight are abandoned: their events stay stored and go again after a restart. */
void webhook_stop(struct webhook *w)
{
    if (!w || !w->loop)
        return;
    for (size_t i = 0; i < WEBHOOK_INFLIGHT; i++) {
        if (!w->xfers[i])
            continue;
        whcurl_remove(w->curl, w->xfers[i]->easy);
        webhook_xfer_free(w->xfers[i]);
        w->xfers[i] = NULL;
    }
    whcurl_stop(w->curl);
    w->curl = NULL;
    ev_timer_stop(w->loop, &w->due);
    w->loop = NULL;
}

void webhook_close(struct webhook *w)
{
    if (!w)
        return;
    webhook_stop(w);
    whq_free(&w->q);
    whstore_close(w->store);
    free(w->url);
    free(w->ca);
    free(w);
}
