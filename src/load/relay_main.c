/* Entry point of `vc-load relay`: parse, run, report, and choose the exit status. */
#include <stdio.h>
#include <stdlib.h>

#include <nss.h>
#include <srtp2/srtp.h>

#include "load.h"
#include "relay.h"

/* Writes the optional result files; returns 0 or 1 if any failed. */
static int relay_write_outputs(const struct relay_opts *o, const struct relay_result *res)
{
    char err[RELAY_ERR_LEN];
    int bad = 0;

    if (o->json_path && relay_report_json(res, o->json_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "vc-load: %s\n", err);
        bad = 1;
    }
    if (o->csv_path && relay_report_csv(res, o->csv_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "vc-load: %s\n", err);
        bad = 1;
    }
    if (o->plot_path && relay_report_plot(res, o->plot_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "vc-load: %s\n", err);
        bad = 1;
    }
    return bad;
}

/* Debian's libsrtp2 does its crypto through NSS, and initialises NSS itself with
 * NSS_INIT_OPTIMIZESPACE: its software token then finds a key in a hash table of 32 chains, so
 * every SRTP packet costs time in proportion to the number of sessions (46 us per packet pair
 * with 2,000 sessions here, against 4 us with one). Initialising NSS first, without that flag,
 * gives the token 1,024 chains; libsrtp2 then shares this initialisation. Returns the context
 * to shut down after srtp_shutdown(), or NULL (harmless: libsrtp2 initialises NSS itself). */
static NSSInitContext *relay_nss_init(void)
{
    return NSS_InitContext("", "", "", "", NULL,
                           NSS_INIT_READONLY | NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB |
                               NSS_INIT_FORCEOPEN | NSS_INIT_NOROOTINIT);
}

int load_relay_main(int argc, char **argv)
{
    struct relay_opts o;
    struct relay_result *res = calloc(1, sizeof(*res));
    char err[RELAY_ERR_LEN] = "";
    int rc = relay_opts_parse(&o, argc, argv, err, sizeof(err));
    NSSInitContext *nss;
    int status;

    if (rc != 0 || res == NULL) {
        relay_opts_free(&o);
        free(res);
        if (rc < 0) {
            fprintf(stderr, "vc-load: %s\n", err);
        }
        return rc > 0 ? 0 : 2;
    }
    nss = relay_nss_init();
    if (srtp_init() != srtp_err_status_ok) {
        fprintf(stderr, "vc-load: libsrtp2 initialisation failed\n");
        relay_opts_free(&o);
        free(res);
        if (nss != NULL) {
            NSS_ShutdownContext(nss);
        }
        return 1;
    }
    rc = relay_run(&o, res, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "vc-load: %s\n", err);
        status = 1;
    } else {
        relay_report_summary(stdout, res);
        status = relay_write_outputs(&o, res);
        if ((!o.ramp_step && res->calls_failed > 0) || res->total.auth_failures > 0) {
            fprintf(stderr, "vc-load: %u calls failed, %llu SRTP authentication failures\n",
                    res->calls_failed, (unsigned long long)res->total.auth_failures);
            status = 1;
        }
    }
    srtp_shutdown();
    if (nss != NULL) {
        NSS_ShutdownContext(nss);
    }
    free(res->rows);
    free(res);
    relay_opts_free(&o);
    return status;
}
