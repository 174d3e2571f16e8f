/* libcurl's multi interface on vc-signal's libev loop: curl's sockets become ev_io watchers and
 * its timeout an ev_timer, so requests to a receiver never block the loop. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include <curl/curl.h>
#include <ev.h>

#include "webhook.h"

/* One socket curl asked us to watch; freed when curl says it is done with it. */
struct whcurl_sock {
    ev_io io; /* first: the watcher's callback gets this */
    curl_socket_t fd;
    struct whcurl *c;
    struct whcurl_sock *prev, *next;
};

struct whcurl {
    CURLM *multi;
    struct ev_loop *loop; /* borrowed */
    ev_timer timer;       /* curl's timeout */
    whcurl_done_fn done;
    void *ctx;
    struct whcurl_sock *socks;
};

/* Hands every finished transfer back to its owner. */
static void whcurl_check(struct whcurl *c)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode rc = m->data.result;

        curl_multi_remove_handle(c->multi, easy);
        c->done(c->ctx, easy, (int)rc);
    }
}

static void whcurl_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct whcurl_sock *s = (struct whcurl_sock *)w;
    struct whcurl *c = s->c; /* s may be freed by the action */
    int action = ((revents & EV_READ) ? CURL_CSELECT_IN : 0) |
                 ((revents & EV_WRITE) ? CURL_CSELECT_OUT : 0),
        running;

    (void)loop;
    curl_multi_socket_action(c->multi, s->fd, action, &running);
    whcurl_check(c);
}

static void whcurl_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct whcurl *c = (struct whcurl *)((char *)t - offsetof(struct whcurl, timer));
    int running;

    (void)loop;
    (void)revents;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    whcurl_check(c);
}

static void whcurl_sock_free(struct whcurl *c, struct whcurl_sock *s)
{
    ev_io_stop(c->loop, &s->io);
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    free(s);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what curl waits for, or stop watching it. */
static int whcurl_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
    struct whcurl *c = userp;
    struct whcurl_sock *s = sockp;
    int events = ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            whcurl_sock_free(c, s);
        return 0;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof(*s))))
            return -1; /* curl fails the transfer */
        s->fd = fd;
        s->c = c;
        s->next = c->socks;
        if (c->socks)
            c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    } else {
        ev_io_stop(c->loop, &s->io);
    }
    ev_io_init(&s->io, whcurl_io_cb, fd, events);
    ev_io_start(c->loop, &s->io);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer, replaced at each call (-1: none). */
static int whcurl_timeout_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct whcurl *c = userp;

    (void)multi;
    ev_timer_stop(c->loop, &c->timer);
    if (timeout_ms >= 0) {
        ev_timer_set(&c->timer, (double)timeout_ms / 1000.0, 0.0);
        ev_timer_start(c->loop, &c->timer);
    }
    return 0;
}

int whcurl_start(struct whcurl **out, struct ev_loop *loop, whcurl_done_fn done, void *ctx)
{
    struct whcurl *c = calloc(1, sizeof(*c));

    *out = NULL;
    if (!c || !(c->multi = curl_multi_init())) {
        free(c);
        return -ENOMEM;
    }
    c->loop = loop;
    c->done = done;
    c->ctx = ctx;
    ev_timer_init(&c->timer, whcurl_timer_cb, 0.0, 0.0);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, whcurl_sock_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, whcurl_timeout_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    *out = c;
    return 0;
}

int whcurl_add(struct whcurl *c, void *easy)
{
    return curl_multi_add_handle(c->multi, easy) == CURLM_OK ? 0 : -EIO;
}

void whcurl_remove(struct whcurl *c, void *easy)
{
    curl_multi_remove_handle(c->multi, easy);
}

void whcurl_stop(struct whcurl *c)
{
    if (!c)
        return;
    curl_multi_cleanup(c->multi); /* closes its cached connections */
    while (c->socks)
        whcurl_sock_free(c, c->socks);
    ev_timer_stop(c->loop, &c->timer);
    free(c);
}
