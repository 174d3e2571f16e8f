/* Entry point of `vc-load relay`: parse, run, report, and choose the exit status. */
#include <stdio.h>
#include <stdlib.h>

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

int load_relay_main(int argc, char **argv)
{
    struct relay_opts o;
    struct relay_result *res = calloc(1, sizeof(*res));
    char err[RELAY_ERR_LEN] = "";
    int rc = relay_opts_parse(&o, argc, argv, err, sizeof(err));
    int status;

    if (rc != 0 || res == NULL) {
        relay_opts_free(&o);
        free(res);
        if (rc < 0) {
            fprintf(stderr, "vc-load: %s\n", err);
        }
        return rc > 0 ? 0 : 2;
    }
    if (srtp_init() != srtp_err_status_ok) {
        fprintf(stderr, "vc-load: libsrtp2 initialisation failed\n");
        relay_opts_free(&o);
        free(res);
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
    free(res->rows);
    free(res);
    relay_opts_free(&o);
    return status;
}
