/* `vc-signal user add|del EMAIL`: clinician accounts in the account database, the password read
 * from the first line of stdin. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vc/accounts.h"
#include "vc/config.h"
#include "vc/daemon.h"
#include "vc/log.h"
#include "vc/store.h"
#include "signald.h"

/* Options of `vc-signal user add|del EMAIL`. */
struct users_config {
    char *name;
    struct cfg_list team;
    struct signald_db_keys db;
};

static const struct cfg_option users_options[] = {
    DAEMON_OPT(users_config, "name", CFG_STR, 0, 0, NULL, name, "display name (user add)", NULL,
               "NAME"),
    DAEMON_OPT(users_config, "team", CFG_LIST, 0, 0, NULL, team,
               "a team the clinician belongs to (user add; see vc-signal team)", NULL, "TEAM"),
    SIGNALD_DB_OPTIONS(users_config),
};
#define USERS_NOPTS (sizeof(users_options) / sizeof(users_options[0]))

/* `vc-signal user --help` (and --man-options, --version) print this. */
static const struct daemon_info users_info = {
    "vc-signal",
    SIGNALD_VERSION,
    "usage: vc-signal user add EMAIL [--name NAME] [--team TEAM]... [DATABASE]  (password on "
    "stdin)\n"
    "       vc-signal user del EMAIL [DATABASE]\n"
    "DATABASE: --data-dir DIR (SQLite, the default), or --database postgresql://... "
    "[--database-password-file FILE] [--database-timeout MS]\n"
    "Adds or deletes a clinician's account in the account database.\n\n",
    users_options,
    USERS_NOPTS,
};

/* Reads the password from the first line of stdin into pw; returns its length or -EINVAL. */
static int users_read_password(char *pw, size_t pwcap)
{
    size_t len;

    if (isatty(STDIN_FILENO))
        fputs("password: ", stderr);
    if (!fgets(pw, (int)pwcap, stdin))
        return -EINVAL;
    len = strcspn(pw, "\r\n");
    if (pw[len] == '\0' && len + 1 == pwcap)
        return -EMSGSIZE; /* no end of line within the cap */
    pw[len] = '\0';
    return (int)len;
}

static int users_add(struct accounts *a, const char *email, const char *name)
{
    char pw[ACCOUNTS_PASSWORD_MAX + 3];
    int len = users_read_password(pw, sizeof(pw)), r;

    if (len < 0) {
        log_msg(LOG_LEVEL_ERROR, "user add: %s",
                len == -EMSGSIZE ? "the password is too long"
                                 : "no password on stdin (first line)");
        return 1;
    }
    r = accounts_user_add(a, email, name, pw, (size_t)len);
    explicit_bzero(pw, sizeof(pw));
    if (r == -EEXIST) {
        log_msg(LOG_LEVEL_ERROR, "user add: %s already exists", email);
        return 1;
    }
    if (r == -EINVAL) {
        log_msg(LOG_LEVEL_ERROR,
                "user add: refused (a valid email, a password of %d to %d bytes and a name up "
                "to %d bytes are needed)",
                ACCOUNTS_PASSWORD_MIN, ACCOUNTS_PASSWORD_MAX, ACCOUNTS_NAME_MAX);
        return 1;
    }
    if (r < 0) {
        log_msg(LOG_LEVEL_ERROR, "user add: %s", strerror(-r));
        return 1;
    }
    fprintf(stderr, "vc-signal: added %s\n", email);
    return 0;
}

int signald_user_main(int argc, char **argv)
{
    struct users_config uc;
    struct accounts *a = NULL;
    char err[512] = "";
    const char *verb, *email;
    int status = 1, r;

    if (daemon_info_flag(&users_info, argc - 1, argv + 1))
        return 0;
    if (argc < 4 || (strcmp(argv[2], "add") != 0 && strcmp(argv[2], "del") != 0) ||
        strncmp(argv[3], "--", 2) == 0) {
        log_msg(LOG_LEVEL_ERROR, "user: want `user add EMAIL` or `user del EMAIL`");
        daemon_usage(&users_info, stderr);
        return DAEMON_EXIT_CONFIG;
    }
    verb = argv[2];
    email = argv[3];
    memset(&uc, 0, sizeof(uc));
    /* cfg_load() skips argv[0], here the email. */
    if (cfg_load(users_options, USERS_NOPTS, &uc, argc - 3, argv + 3, err, sizeof(err)) < 0 ||
        (strcmp(verb, "del") == 0 && uc.name &&
         daemon_fail(err, sizeof(err), "name: only for user add") < 0)) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        cfg_free(users_options, USERS_NOPTS, &uc);
        return DAEMON_EXIT_CONFIG;
    }
    if (signald_db_open(&uc.db, &a, err, sizeof(err)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "%s", err);
        cfg_free(users_options, USERS_NOPTS, &uc);
        return 1;
    }
    if (strcmp(verb, "add") == 0) {
        status = signald_user_teams(a, NULL, (const char *const *)uc.team.v, uc.team.n);
        if (status == 0)
            status = users_add(a, email, uc.name ? uc.name : "");
        if (status == 0)
            status = signald_user_teams(a, email, (const char *const *)uc.team.v, uc.team.n);
    } else if ((r = accounts_user_del(a, email)) < 0) {
        log_msg(LOG_LEVEL_ERROR, "user del: %s", r == -ENOENT ? "no such user" : strerror(-r));
    } else {
        fprintf(stderr, "vc-signal: deleted %s\n", email);
        status = 0;
    }
    accounts_close(a);
    cfg_free(users_options, USERS_NOPTS, &uc);
    return status;
}
