/* Internal interface between the media workers (threads, pacing) and one libnice+SRTP call. */
#ifndef VC_LOAD_RELAY_MEDIA_H
#define VC_LOAD_RELAY_MEDIA_H

#include <glib.h>

#include "relay.h"

/* One thread with its own GMainContext; every agent of its calls lives there. */
struct relay_worker {
    struct relay_media *media;
    GMainContext *ctx;
    GMainLoop *loop;
    GThread *thread;
    GMutex lock;              /* guards stats: callbacks write, the run thread reads */
    struct relay_stats stats; /* 18 KiB, so workers are heap-allocated */
    GPtrArray *calls;         /* touched by the worker thread only */
};

struct relay_media {
    const struct relay_opts *opts;
    char server_ip[64];
    guint server_port;
    char local_ip[64];
    double pps;        /* per direction */
    size_t packet_len; /* RTP header + payload, before the SRTP tag */
    gint sending;      /* atomic: 1 while media flows */
    unsigned nworkers;
    struct relay_worker **workers;
    unsigned ncalls;
    struct relay_tls *tls;   /* --transport tls: agents use TURN over TCP to this bridge */
    struct relay_fast *fast; /* udp: the batched path established calls move to; else NULL */
};

struct relay_call;

/* Creates call number id on worker w and starts gathering; runs on the worker thread. */
struct relay_call *relay_call_start(struct relay_worker *w, unsigned id);
/* Sends what the pacing says is due, and fails calls whose setup outlived its deadline. */
void relay_call_tick(struct relay_call *c, int64_t now_ns, bool sending);
/* Releases agents and SRTP sessions; runs on the worker thread. */
void relay_call_free(struct relay_call *c);

#endif
