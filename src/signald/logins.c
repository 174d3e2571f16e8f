/* vc-signal's password checks: scrypt on a small worker pool, so a burst of logins cannot hold up
 * the event loop; the answer goes back to its connection on the service thread. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "vc/log.h"
#include "server_int.h"
#include "workq.h"

/* One login on its way through the pool. The pool owns it while queued or running; the service
 * thread owns it before and after. tcp is cleared if the connection goes meanwhile. */
struct server_job {
    struct workq_job wq; /* first: the pool hands back this */
    struct sigapi_login *login;
    struct server_tcp *tcp;
};

static void server_login_run(struct workq_job *wq)
{
    sigapi_login_run(((struct server_job *)wq)->login);
}

static void server_login_wake(void *arg)
{
    lws_cancel_service(((struct server *)arg)->ctx);
}

/* One worker per CPU we may run on beyond the event loop's, so that on a small machine the loop
 * keeps a CPU to itself while logins are checked. */
static unsigned server_login_threads(void)
{
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;

    if (n <= 2)
        return 1;
    return n - 1 < SERVER_LOGIN_THREADS_MAX ? (unsigned)(n - 1) : SERVER_LOGIN_THREADS_MAX;
}

int server_logins_start(struct server *srv)
{
    return workq_start(&srv->logins, server_login_threads(), SERVER_LOGIN_PENDING,
                       server_login_wake, srv);
}

void server_job_orphan(struct server_job *job)
{
    job->tcp->job = NULL;
    job->tcp = NULL;
}

/* A finished check: its accounting always, and its answer if the connection is still there. */
static void server_login_finish(struct server *srv, struct server_job *job)
{
    struct server_tcp *t = job->tcp;
    struct sigapi_response *resp = NULL;
    struct server_http *h;

    if (t) {
        server_job_orphan(job);
        h = lws_wsi_user(t->wsi);
        resp = h ? calloc(1, sizeof(*resp)) : NULL;
        if (resp)
            sigmsg_buf_init(&resp->body, SIGAPI_MAX_BODY * 8);
    }
    server_clock(srv);
    sigapi_login_finish(srv->s->api, job->login, resp);
    free(job);
    if (resp) {
        h->deferred = resp;
        lws_callback_on_writable(t->wsi);
    } else if (t) {
        lws_set_timeout(t->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC); /* out of memory */
    }
}

int server_login_submit(struct server *srv, struct lws *wsi, struct server_http *h,
                        struct sigapi_login *login)
{
    struct server_tcp *t = server_tcp_of(wsi);
    struct server_job *job = t ? calloc(1, sizeof(*job)) : NULL;
    struct sigapi_response *resp;

    if (job) {
        job->wq.run = server_login_run;
        job->login = login;
        job->tcp = t;
        if (workq_submit(srv->logins, &job->wq) == 0) {
            t->job = job;
            return 0; /* answered when the check is done */
        }
        free(job);
    }
    resp = calloc(1, sizeof(*resp));
    if (!resp) {
        sigapi_login_refuse(srv->s->api, login, NULL);
        return -1;
    }
    sigmsg_buf_init(&resp->body, SIGAPI_MAX_BODY * 8);
    sigapi_login_refuse(srv->s->api, login, resp);
    return server_http_send_api(wsi, h, resp);
}

void server_logins_done(struct server *srv)
{
    struct workq_job *wq = srv->logins ? workq_take_done(srv->logins) : NULL, *next;

    for (; wq; wq = next) {
        next = wq->next;
        server_login_finish(srv, (struct server_job *)wq);
    }
}

void server_logins_stop(struct server *srv)
{
    struct workq_job *wq = workq_stop(srv->logins), *next;

    srv->logins = NULL;
    for (; wq; wq = next) {
        struct server_job *job = (struct server_job *)wq;

        next = wq->next;
        if (job->tcp)
            server_job_orphan(job);
        if (wq->ran)
            sigapi_login_finish(srv->s->api, job->login, NULL);
        else
            sigapi_login_refuse(srv->s->api, job->login, NULL);
        free(job);
    }
}
