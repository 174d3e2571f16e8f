/* The security headers every vc-signal response carries: HSTS, a strict CSP and friends. */
#include <stdio.h>

#include "signald.h"

void signald_security_headers(const struct signald_settings *s, char *csp, size_t csp_len,
                              const char *names[SIGNALD_NHEADERS],
                              const char *values[SIGNALD_NHEADERS])
{
    static const char *const header_names[SIGNALD_NHEADERS] = {
        "strict-transport-security:", "content-security-policy:", "x-content-type-options:",
        "referrer-policy:",           "permissions-policy:",      "cross-origin-opener-policy:",
    };
    const char *header_values[SIGNALD_NHEADERS] = {
        "max-age=31536000; includeSubDomains",
        csp,
        "nosniff",
        "no-referrer",
        "camera=(self), microphone=(self), geolocation=()",
        "same-origin",
    };

    /* No 'unsafe-inline' anywhere: the pages load only their own modules and styles. */
    snprintf(csp, csp_len,
             "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
             "media-src 'self' blob:; connect-src 'self' wss://%s; object-src 'none'; "
             "base-uri 'none'; form-action 'self'; frame-ancestors %s",
             s->host, s->frame_ancestors);
    for (int i = 0; i < SIGNALD_NHEADERS; i++) {
        names[i] = header_names[i];
        values[i] = header_values[i];
    }
}
