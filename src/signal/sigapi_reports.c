/* GET /api/v1/reports/consultations?from=YYYY-MM-DD&to=YYYY-MM-DD: the daily figures of the
 * consultations the caller may see (every one for the API key; a clinician's own rooms and their
 * teams' rooms), as JSON, or as CSV when Accept names text/csv. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "vc/reports.h"
#include "sigapi_int.h"

#define SIGAPI_REPORTS_CSV "text/csv; charset=utf-8"

/* The range's parameters. */
struct sigapi_range {
    int64_t from, to;
    bool has_from, has_to;
};

/* One "name=value" of the query string into range; false with the 400 set. */
static bool sigapi_range_param(struct sigapi_call *c, const char *p, size_t len,
                               struct sigapi_range *r)
{
    const char *eq = memchr(p, '=', len);
    size_t nlen = eq ? (size_t)(eq - p) : len;
    bool from = nlen == 4 && memcmp(p, "from", 4) == 0, to = nlen == 2 && memcmp(p, "to", 2) == 0;
    char msg[96];

    if (!from && !to) {
        sigapi_error(c, 400, "bad_request", "unknown query parameter (from and to are taken)");
        return false;
    }
    if ((from && r->has_from) || (to && r->has_to)) {
        snprintf(msg, sizeof(msg), "%s is given twice", from ? "from" : "to");
        sigapi_error(c, 400, "bad_request", msg);
        return false;
    }
    if (!eq || reports_day_parse(eq + 1, len - nlen - 1, from ? &r->from : &r->to) < 0) {
        snprintf(msg, sizeof(msg), "%s must be a date YYYY-MM-DD", from ? "from" : "to");
        sigapi_error(c, 400, "bad_request", msg);
        return false;
    }
    *(from ? &r->has_from : &r->has_to) = true;
    return true;
}

/* from and to from the query string: both required, from not after to, at most
 * REPORTS_RANGE_MAX_DAYS days. False with the 400 set. */
static bool sigapi_range(struct sigapi_call *c, struct sigapi_range *r)
{
    const char *q = c->req->query ? c->req->query : "";
    char msg[96];

    memset(r, 0, sizeof(*r));
    for (const char *p = q; *p; p += strcspn(p, "&"), p += *p == '&')
        if (strcspn(p, "&") > 0 && !sigapi_range_param(c, p, strcspn(p, "&"), r))
            return false;
    if (!r->has_from || !r->has_to) {
        sigapi_error(c, 400, "bad_request", "from and to are required (YYYY-MM-DD)");
        return false;
    }
    if (r->from > r->to) {
        sigapi_error(c, 400, "bad_request", "from is after to");
        return false;
    }
    if (r->to - r->from + 1 > REPORTS_RANGE_MAX_DAYS) {
        snprintf(msg, sizeof(msg), "a report covers at most %d days", REPORTS_RANGE_MAX_DAYS);
        sigapi_error(c, 400, "bad_request", msg);
        return false;
    }
    return true;
}

/* True when the Accept header names text/csv. */
static bool sigapi_wants_csv(const struct sigapi_call *c)
{
    return c->req->accept && strcasestr(c->req->accept, "text/csv") != NULL;
}

void sigapi_reports(struct sigapi_call *c)
{
    const struct hub_clinician *who = sigapi_who(c);
    struct sigapi_range r;
    struct reports_agg *g;
    int rc;

    if (!sigapi_range(c, &r))
        return;
    if (!c->s->accounts) {
        sigapi_error(c, 404, "not_found", "reports need the account database");
        return;
    }
    if (!(g = reports_agg_new(r.from, r.to))) {
        sigapi_error(c, 500, "internal", "out of memory");
        return;
    }
    rc = reports_agg_load(g, c->s->accounts, who ? c->owner : NULL, who ? c->user_id : 0);
    if (rc < 0) {
        reports_agg_free(g);
        if (rc == -EIO)
            sigapi_error(c, 503, "unavailable", "the account database is unreachable; try again");
        else
            sigapi_error(c, 500, "internal", "out of memory");
        return;
    }
    if (!sigapi_wants_csv(c)) {
        sigapi_reply(c, 200, reports_agg_json(g));
    } else if (reports_agg_csv(g, &c->resp->body) < 0) {
        sigapi_error(c, 500, "internal", "the report could not be built");
    } else {
        c->resp->status = 200;
        c->resp->content_type = SIGAPI_REPORTS_CSV;
    }
    reports_agg_free(g);
}
