/* The per-call aggregate behind call.summary: how long two or more were together, who came (by
 * role, browser and OS family), which paths they reported, mean RTT and loss, and bytes. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "vc/log.h"
#include "hub_int.h"

/* A stats report stands for the time since the peer's previous one (or its admission), at most
 * this long: a browser reports every few seconds, and a gap is not all media. */
#define CALLSUM_SPAN_MAX_MS 60000

static void callsum_tally(struct hub_tally *t, const char *name)
{
    if (!name[0])
        return;
    for (unsigned i = 0; i < HUB_TALLY_MAX; i++) {
        if (t[i].n && strcmp(t[i].name, name) == 0) {
            t[i].n++;
            return;
        }
        if (!t[i].n) {
            snprintf(t[i].name, sizeof(t[i].name), "%s", name);
            t[i].n = 1;
            return;
        }
    }
}

void hub_call_admitted(struct hub *h, struct hub_room *r, const struct hub_peer *p)
{
    (void)h;
    if (p->role == HUB_HOST)
        r->call.hosts++;
    else
        r->call.guests++;
    callsum_tally(r->call.browsers, p->info.browser);
    callsum_tally(r->call.os, p->info.os);
}

void hub_call_count(struct hub *h, struct hub_room *r)
{
    struct hub_call *c = &r->call;
    bool together = hub_room_participants(r) >= 2;

    if (together && !c->together)
        c->together_since = h->mono_ms;
    else if (!together && c->together)
        c->together_ms += h->mono_ms - c->together_since;
    c->together = together;
}

void hub_call_stats(struct hub *h, struct hub_peer *p, const struct sigmsg *m)
{
    struct hub_call *c = &p->room->call;
    uint64_t span = h->mono_ms - (p->stats_ms ? p->stats_ms : p->joined_ms);

    p->stats_ms = h->mono_ms;
    if (m->path == SIGMSG_PATH_UNKNOWN)
        return;
    if (span > CALLSUM_SPAN_MAX_MS)
        span = CALLSUM_SPAN_MAX_MS;
    c->p2p |= m->path == SIGMSG_PATH_P2P;
    c->relay |= m->path == SIGMSG_PATH_RELAY;
    c->rtt_sum += m->rtt_ms;
    c->loss_sum += m->loss_pct;
    c->reports++;
    c->bytes += m->bitrate_kbps * 125.0 * (double)span / 1000.0; /* kbit/s to bytes per ms */
}

/* {"chrome": 1, ...} */
static json_t *callsum_tallies(const struct hub_tally *t)
{
    json_t *o = json_object();

    for (unsigned i = 0; o && i < HUB_TALLY_MAX && t[i].n; i++)
        json_object_set_new(o, t[i].name, json_integer(t[i].n));
    return o;
}

/* The mean to two decimals, or null without a report. */
static json_t *callsum_mean(double sum, uint64_t n)
{
    return n ? json_real((double)(int64_t)(sum / (double)n * 100.0 + 0.5) / 100.0) : json_null();
}

static const char *callsum_path(const struct hub_call *c)
{
    return c->p2p && c->relay ? "mixed" : c->p2p ? "p2p" : c->relay ? "relay" : "unknown";
}

void hub_call_log_summary(struct hub *h, struct hub_room *r)
{
    const struct hub_call *c = &r->call;
    uint64_t ms = c->together_ms + (c->together ? h->mono_ms - c->together_since : 0);

    if (!h->set.log)
        return;
    /* The owner and team scope the consultation's report (reports.c); webhooks leave them. */
    event_log_write(
        h->set.log, "call.summary", "{s:s,s:s,s:s?,s:I,s:i,s:i,s:s,s:I,s:o,s:o,s:o,s:o}", "room",
        r->id, "owner", r->owner, "team", r->team[0] ? r->team : NULL, "duration_s",
        (json_int_t)(ms / 1000), "hosts", (int)c->hosts, "guests", (int)c->guests, "path",
        callsum_path(c), "bytes", (json_int_t)c->bytes, "rtt_ms",
        callsum_mean(c->rtt_sum, c->reports), "loss_pct", callsum_mean(c->loss_sum, c->reports),
        "browsers", callsum_tallies(c->browsers), "os", callsum_tallies(c->os));
}
