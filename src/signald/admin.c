/* vc-signal's teams: `vc-signal team add|del|list`, the teams of a new clinician, and the
 * directory the hub asks when a consultation is handed over. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "vc/accounts.h"
#include "vc/config.h"
#include "vc/daemon.h"
#include "vc/log.h"
#include "vc/store.h"
#include "vc/teams.h"
#include "signald.h"

struct admin_team_config {
    struct signald_db_keys db;
};

static const struct cfg_option admin_team_options[] = {
    SIGNALD_DB_OPTIONS(admin_team_config),
};
#define ADMIN_TEAM_NOPTS (sizeof(admin_team_options) / sizeof(admin_team_options[0]))

/* `vc-signal team --help` (and --man-options, --version) print this. */
static const struct daemon_info admin_team_info = {
    "vc-signal",
    SIGNALD_VERSION,
    "usage: vc-signal team add|del NAME [DATABASE]\n"
    "       vc-signal team list [DATABASE]\n"
    "DATABASE: --data-dir DIR (SQLite, the default), or --database postgresql://... "
    "[--database-password-file FILE] [--database-timeout MS]\n"
    "Adds, deletes or lists the teams (and their members) in the account database.\n\n",
    admin_team_options,
    ADMIN_TEAM_NOPTS,
};

static int admin_directory_clinician(void *ctx, const char *id, struct hub_clinician *out)
{
    return ctx ? teams_clinician_by_id(ctx, id, out) : -ENOENT;
}

const struct hub_directory_ops signald_directory_ops = {admin_directory_clinician};

int signald_user_teams(struct accounts *a, const char *email, const char *const *teams, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        int rc = email ? teams_member_add(a, teams[i], email) : teams_exists(a, teams[i]);
        if (!email)
            rc = rc == 1 ? 0 : rc == 0 ? -ENOENT : rc;
        if (rc == 0 || rc == -EEXIST)
            continue;
        log_msg(LOG_LEVEL_ERROR, "team %s: %s", teams[i],
                rc == -ENOENT ? "no such team (add it first: vc-signal team add NAME)"
                              : strerror(-rc));
        return 1;
    }
    return 0;
}

/* Prints "TEAM: member <email>, ..." lines. */
struct admin_list {
    char last[TEAMS_NAME_MAX + 1];
};

static void admin_list_row(void *arg, const char *team, const char *email, const char *name)
{
    struct admin_list *l = arg;

    if (strcmp(l->last, team) != 0) {
        printf("%s%s:", l->last[0] ? "\n" : "", team);
        snprintf(l->last, sizeof(l->last), "%s", team);
    }
    if (email)
        printf(" %s%s%s%s", email, name && name[0] ? " (" : "", name && name[0] ? name : "",
               name && name[0] ? ")" : "");
}

static int admin_team_run(struct accounts *a, const char *verb, const char *name)
{
    int rc;

    if (strcmp(verb, "list") == 0) {
        struct admin_list l = {""};
        rc = teams_list(a, admin_list_row, &l);
        if (l.last[0])
            printf("\n");
    } else if (strcmp(verb, "add") == 0) {
        rc = teams_add(a, name);
    } else {
        rc = teams_del(a, name);
    }
    if (rc == 0) {
        if (strcmp(verb, "list") != 0)
            fprintf(stderr, "vc-signal: team %s: %s\n", verb, name);
        return 0;
    }
    log_msg(LOG_LEVEL_ERROR, "team %s: %s", verb,
            rc == -EEXIST   ? "that team exists already"
            : rc == -ENOENT ? "no such team"
            : rc == -EINVAL ? "a name is 1 to 64 bytes without control characters or edge spaces"
                            : strerror(-rc));
    return 1;
}

int signald_team_main(int argc, char **argv)
{
    struct admin_team_config tc = {NULL};
    struct accounts *a = NULL;
    char err[512] = "";
    bool list = argc >= 3 && strcmp(argv[2], "list") == 0;
    int first = list ? 3 : 4, status;

    if (daemon_info_flag(&admin_team_info, argc - 1, argv + 1))
        return 0;
    if (argc < 3 ||
        (!list && (argc < 4 || (strcmp(argv[2], "add") != 0 && strcmp(argv[2], "del") != 0) ||
                   strncmp(argv[3], "--", 2) == 0))) {
        log_msg(LOG_LEVEL_ERROR, "team: want `team add NAME`, `team del NAME` or `team list`");
        daemon_usage(&admin_team_info, stderr);
        return DAEMON_EXIT_CONFIG;
    }
    /* cfg_load() skips argv[0], here the word before the options. */
    if (cfg_load(admin_team_options, ADMIN_TEAM_NOPTS, &tc, argc - first + 1, argv + first - 1, err,
                 sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        return DAEMON_EXIT_CONFIG;
    }
    if (signald_db_open(&tc.db, &a, err, sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        cfg_free(admin_team_options, ADMIN_TEAM_NOPTS, &tc);
        return 1;
    }
    status = admin_team_run(a, argv[2], list ? NULL : argv[3]);
    accounts_close(a);
    cfg_free(admin_team_options, ADMIN_TEAM_NOPTS, &tc);
    return status;
}
