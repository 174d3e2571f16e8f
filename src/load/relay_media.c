/* Media generator: worker threads, each a GMainContext running libnice calls and a pacing tick. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "relay_fast.h"
#include "relay_media.h"
#include "relay_tls.h"

#define RELAY_TICK_MS 5
/* --media-threads 0: one per CPU vc-load may run on, up to this. Two threads on one CPU only
 * take turns (and each sends smaller batches). */
#define RELAY_MEDIA_AUTO_MAX 4
#define RELAY_TEARDOWN_MS 300 /* lets agents send their Refresh(0) before the loop stops */

/* What a run-thread request carries into a worker. */
struct relay_job {
    struct relay_worker *w;
    unsigned id;
};

/* Runs fn(data) on w's thread: an idle source, never in the caller's thread. */
static void relay_worker_post(struct relay_worker *w, GSourceFunc fn, gpointer data)
{
    GSource *src = g_idle_source_new();

    g_source_set_callback(src, fn, data, NULL);
    g_source_attach(src, w->ctx);
    g_source_unref(src);
}

static gboolean relay_worker_tick(gpointer data)
{
    struct relay_worker *w = data;
    int64_t now = relay_now_ns();
    bool sending = g_atomic_int_get(&w->media->sending) != 0;
    guint i;

    for (i = 0; i < w->calls->len; i++) {
        relay_call_tick(g_ptr_array_index(w->calls, i), now, sending);
    }
    return G_SOURCE_CONTINUE;
}

static gpointer relay_worker_main(gpointer data)
{
    struct relay_worker *w = data;
    GSource *tick = g_timeout_source_new(RELAY_TICK_MS);

    g_main_context_push_thread_default(w->ctx);
    g_source_set_callback(tick, relay_worker_tick, w, NULL);
    g_source_set_priority(tick, G_PRIORITY_HIGH);
    g_source_attach(tick, w->ctx);
    g_main_loop_run(w->loop);
    g_source_destroy(tick);
    g_source_unref(tick);
    g_main_context_pop_thread_default(w->ctx);
    return NULL;
}

static gboolean relay_job_start_call(gpointer data)
{
    struct relay_job *job = data;

    g_ptr_array_add(job->w->calls, relay_call_start(job->w, job->id));
    g_free(job);
    return G_SOURCE_REMOVE;
}

static gboolean relay_job_quit(gpointer data)
{
    g_main_loop_quit(((struct relay_worker *)data)->loop);
    return G_SOURCE_REMOVE;
}

static gboolean relay_job_teardown(gpointer data)
{
    struct relay_worker *w = data;
    GSource *src;

    g_ptr_array_set_size(w->calls, 0); /* frees every call */
    src = g_timeout_source_new(RELAY_TEARDOWN_MS);
    g_source_set_callback(src, relay_job_quit, w, NULL);
    g_source_attach(src, w->ctx);
    g_source_unref(src);
    return G_SOURCE_REMOVE;
}

/* The local address libnice binds: the one the kernel would use to reach the server. */
static int relay_local_ip(const union vc_addr *server, char *out, size_t outlen)
{
    union vc_addr local;
    socklen_t len = sizeof(local);
    int fd = socket(server->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rc = 0;

    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, &server->sa, addr_len(server)) < 0 || getsockname(fd, &local.sa, &len) < 0) {
        rc = -errno;
    }
    close(fd);
    if (rc == 0) {
        addr_format_ip(&local, out, outlen);
    }
    return rc;
}

static struct relay_worker *relay_worker_new(struct relay_media *m, unsigned index)
{
    struct relay_worker *w = g_new0(struct relay_worker, 1);
    char name[24];

    w->media = m;
    w->ctx = g_main_context_new();
    w->loop = g_main_loop_new(w->ctx, FALSE);
    w->calls = g_ptr_array_new_with_free_func((GDestroyNotify)relay_call_free);
    g_mutex_init(&w->lock);
    snprintf(name, sizeof(name), "vc-load-%u", index);
    w->thread = g_thread_new(name, relay_worker_main, w);
    return w;
}

struct relay_media *relay_media_create(const struct relay_opts *o, char *err, size_t errlen)
{
    struct relay_media *m = g_new0(struct relay_media, 1);
    unsigned i;
    int rc;

    m->opts = o;
    addr_format_ip(&o->server, m->server_ip, sizeof(m->server_ip));
    m->server_port = addr_port(&o->server);
    rc = relay_local_ip(&o->server, m->local_ip, sizeof(m->local_ip));
    if (rc < 0) {
        snprintf(err, errlen, "no route to %s: %s", o->server_text, strerror(-rc));
        g_free(m);
        return NULL;
    }
    /* audio: 50 pps x 160 B payload; video: 1.5 Mbit/s in 1,100 B packets (SRTP tag included). */
    if (o->transport == RELAY_TLS) {
        m->tls = relay_tls_start(&o->server, err, errlen);
        if (m->tls == NULL) {
            g_free(m);
            return NULL;
        }
        g_strlcpy(m->server_ip, "127.0.0.1", sizeof(m->server_ip));
        g_strlcpy(m->local_ip, "127.0.0.1", sizeof(m->local_ip));
        m->server_port = relay_tls_port(m->tls);
    }
    m->pps = o->profile == RELAY_VIDEO ? 1.5e6 / 8 / 1100 : 50;
    m->packet_len =
        o->profile == RELAY_VIDEO ? 1100 - (o->srtp == RELAY_SRTP_GCM ? 16 : 10) : 12 + 160;
    g_atomic_int_set(&m->sending, 1);
    if (o->transport == RELAY_UDP) {
        unsigned cpus = relay_cpus_allowed(0);
        unsigned n = o->media_threads ? o->media_threads
                                      : (cpus < 1                      ? 1
                                         : cpus > RELAY_MEDIA_AUTO_MAX ? RELAY_MEDIA_AUTO_MAX
                                                                       : cpus);
        m->fast = relay_fast_create(n, &o->server, m->pps, m->packet_len, &m->sending, err, errlen);
        if (m->fast == NULL) {
            g_free(m);
            return NULL;
        }
    }
    m->nworkers = o->threads;
    m->workers = g_new0(struct relay_worker *, m->nworkers);
    for (i = 0; i < m->nworkers; i++) {
        m->workers[i] = relay_worker_new(m, i);
    }
    return m;
}

int relay_media_add(struct relay_media *m, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        struct relay_job *job = g_new0(struct relay_job, 1);
        job->w = m->workers[m->ncalls % m->nworkers];
        job->id = m->ncalls++;
        relay_worker_post(job->w, relay_job_start_call, job);
    }
    return 0;
}

void relay_media_snapshot(struct relay_media *m, struct relay_stats *out)
{
    unsigned i;

    memset(out, 0, sizeof(*out));
    for (i = 0; i < m->nworkers; i++) {
        g_mutex_lock(&m->workers[i]->lock);
        relay_stats_add(out, out, &m->workers[i]->stats);
        g_mutex_unlock(&m->workers[i]->lock);
    }
    if (m->fast != NULL) {
        relay_fast_snapshot(m->fast, out);
    }
}

void relay_media_quiesce(struct relay_media *m)
{
    g_atomic_int_set(&m->sending, 0);
}

void relay_media_destroy(struct relay_media *m)
{
    unsigned i;

    relay_fast_destroy(m->fast); /* closes its dups first; libnice then releases the TURN side */
    for (i = 0; i < m->nworkers; i++) {
        relay_worker_post(m->workers[i], relay_job_teardown, m->workers[i]);
    }
    for (i = 0; i < m->nworkers; i++) {
        struct relay_worker *w = m->workers[i];
        g_thread_join(w->thread);
        g_ptr_array_unref(w->calls);
        g_main_loop_unref(w->loop);
        g_main_context_unref(w->ctx);
        g_mutex_clear(&w->lock);
        g_free(w);
    }
    relay_tls_stop(m->tls);
    g_free(m->workers);
    g_free(m);
}
