/* The account database behind a small ops table: users, sessions, teams and memberships in
 * table groups with versioned migrations. One module per backend: store_sqlite.c (embedded, one
 * node) and store_pg.c (PostgreSQL, shared by every node). */
#ifndef VC_STORE_H
#define VC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_TOKEN_HASH_LEN 32 /* a session token's SHA-256 */
#define STORE_CSRF_LEN 43       /* a CSRF token: base64url of 32 bytes */
#define STORE_PW_HASH_MAX 128   /* a stored "scrypt$N$r$p$salt$key" hash, with its NUL */
#define STORE_TIMEOUT_MS_DEFAULT 1000
#define STORE_TIMEOUT_MS_MIN 50
#define STORE_TIMEOUT_MS_MAX 30000

/* Where the database is. Every string is borrowed for the call to store_open(). */
struct store_conf {
    const char *database; /* NULL or "": SQLite in data_dir; else a postgresql:// URL */
    const char *data_dir; /* SQLite's directory (vc.db in it) */
    const char *password; /* the database password; NULL: the URL's, or none */
    unsigned timeout_ms;  /* the longest one call may wait on a shared server (0: default) */
};

/* One table group: its own tables and its own version, migrated step by step at open. A
 * backend lists its groups in its ops. A later feature adds its own group, as the reports did:
 * a name and steps in each backend's list (SQLite keeps the version of a group other than
 * "accounts" in a vc_schema table, PostgreSQL every group's), an ops table of its own (the
 * `reports` member below) and one module per backend for it (store_sqlite_reports.c,
 * store_pg_reports.c), without touching the accounts' versions. */
struct store_group {
    const char *name;         /* "accounts" */
    const char *const *steps; /* steps[v] takes the group from version v to v + 1 */
    int version;              /* the version this build wants: the number of steps */
};

struct store;

/* One consultation as the reports keep it: metadata only (reports.c fills it from the metadata
 * log), never a label, a name, a token or a message. */
#define STORE_REPORT_ROOM_MAX 16  /* a room id */
#define STORE_REPORT_OWNER_MAX 64 /* "key" or "user:HASH" */
#define STORE_REPORT_TEAM_MAX 64  /* a team name */
#define STORE_REPORT_LIST_MAX 255 /* an encoded list, without its NUL */
struct store_report_row {
    char room[STORE_REPORT_ROOM_MAX + 1];
    int64_t day; /* the UTC day it ended: days since 1970-01-01 */
    char owner[STORE_REPORT_OWNER_MAX + 1];
    char team[STORE_REPORT_TEAM_MAX + 1];     /* "" for none */
    int hosts, guests;                        /* admitted, as call.summary counts them */
    int64_t duration_s;                       /* two or more together */
    char path[8];                             /* p2p, relay, mixed or unknown */
    char waits_ms[STORE_REPORT_LIST_MAX + 1]; /* each admitted guest's wait: "1200,3400" */
    char browsers[STORE_REPORT_LIST_MAX + 1]; /* admitted peers by family: "chrome:1,edge:1" */
    char os[STORE_REPORT_LIST_MAX + 1];       /* the same by OS family */
};

/* Callbacks get borrowed strings, valid during the call; they must not call the store. */
typedef void (*store_team_row_cb)(void *arg, const char *team, const char *email, const char *name);
typedef void (*store_name_cb)(void *arg, const char *name);
/* Returns nonzero to stop the walk. */
typedef int (*store_user_cb)(void *arg, int64_t id, const char *email, const char *name);
/* One consultation of a report (borrowed; room, owner and team are left empty). Returns nonzero
 * to stop the walk. */
typedef int (*store_report_cb)(void *arg, const struct store_report_row *row);

/* Emails and names come checked and normalised (accounts.c, teams.c); the backends only store.
 * Every call returns -EIO when the database failed or did not answer in time. */
struct store_user_ops {
    /* 0 or -EEXIST. */
    int (*add)(struct store *s, const char *email, const char *name, const char *pw_hash,
               int64_t now_s);
    /* Deletes the user with their sessions and memberships. 0 or -ENOENT. */
    int (*del)(struct store *s, const char *email);
    /* The id and stored hash (STORE_PW_HASH_MAX bytes) of an email. 0 or -ENOENT. */
    int (*by_email)(struct store *s, const char *email, int64_t *id, char *pw_hash);
    /* The email and name of a user (either buffer may be NULL). 0, -ENOENT or -ENOSPC. */
    int (*info)(struct store *s, int64_t id, char *email, size_t email_len, char *name,
                size_t name_len);
    /* Every user in id order, until cb returns nonzero. 0. */
    int (*each)(struct store *s, store_user_cb cb, void *arg);
};

struct store_session_ops {
    /* 0, or -ENOENT when there is no such user. */
    int (*add)(struct store *s, const uint8_t hash[STORE_TOKEN_HASH_LEN], int64_t user_id,
               const char *csrf, int64_t now_s, int64_t expires_s);
    /* The session's user, CSRF token (STORE_CSRF_LEN + 1 bytes) and expiry. 0 or -ENOENT. */
    int (*get)(struct store *s, const uint8_t hash[STORE_TOKEN_HASH_LEN], int64_t *user_id,
               char *csrf, int64_t *expires_s);
    /* 0 or -ENOENT. */
    int (*del)(struct store *s, const uint8_t hash[STORE_TOKEN_HASH_LEN]);
    /* Deletes the sessions expired by now_s. 0. */
    int (*purge)(struct store *s, int64_t now_s);
};

struct store_team_ops {
    /* 0 or -EEXIST. */
    int (*add)(struct store *s, const char *name);
    /* 1 when the team exists, else 0. */
    int (*exists)(struct store *s, const char *name);
    /* Deletes the team and its memberships. 0 or -ENOENT. */
    int (*del)(struct store *s, const char *name);
    /* 1 when the membership was added; 0 when it was there already or there is no such team. */
    int (*member_add)(struct store *s, const char *team, int64_t user_id);
    /* 0 or -ENOENT. */
    int (*member_del)(struct store *s, const char *team, int64_t user_id);
    /* Every team in name order with each member (email and name NULL for an empty team). 0. */
    int (*list)(struct store *s, store_team_row_cb cb, void *arg);
    /* The teams of a user in name order. 0. */
    int (*of_user)(struct store *s, int64_t user_id, store_name_cb cb, void *arg);
};

/* Report metadata (the "reports" group): one row per consultation, keyed by its room. */
struct store_report_ops {
    /* Stores a consultation unless its room has one already: 1 added, 0 there already. */
    int (*add)(struct store *s, const struct store_report_row *row);
    /* The consultations of the days from..to (inclusive), in day order: every one when owner is
     * NULL, else those of owner's rooms and of the rooms of user_id's teams. 0. */
    int (*each)(struct store *s, int64_t from, int64_t to, const char *owner, int64_t user_id,
                store_report_cb cb, void *arg);
    /* Deletes at most limit consultations of the days before day: how many it deleted. */
    int (*purge)(struct store *s, int64_t day, unsigned limit);
};

/* What store_migrate() needs of a backend: one transaction that other processes migrating the
 * same database wait for, in which versions are read, steps run and versions written. */
struct store_schema_ops {
    int (*begin)(struct store *s, char *err, size_t errlen);
    /* The group's version, 0 for a database without it; -EIO. */
    int (*version)(struct store *s, const char *group, char *err, size_t errlen);
    int (*step)(struct store *s, const char *sql, char *err, size_t errlen);
    int (*set_version)(struct store *s, const char *group, int version, char *err, size_t errlen);
    /* Commits (commit true) or rolls back. */
    int (*end)(struct store *s, bool commit, char *err, size_t errlen);
};

struct store_ops {
    const char *name; /* "sqlite", "postgresql" */
    bool shared;      /* every vc-signal node sees the same rows, sessions included */
    void (*close)(struct store *s);
    const struct store_schema_ops *schema;
    const struct store_group *groups; /* migrated in this order */
    unsigned ngroups;
    const struct store_user_ops *users;
    const struct store_session_ops *sessions;
    const struct store_team_ops *teams;
    const struct store_report_ops *reports;
};

/* A backend's connection starts with this. Calls on one store must not overlap: its owner
 * (accounts.c) serialises them. */
struct store {
    const struct store_ops *ops;
};

/* Opens the backend conf names and migrates every group to this build's version. Returns 0
 * with *out (owned by the caller: store_close()), or a negative errno with a message in err
 * (without the database password): -EINVAL for a URL that is not postgresql://, -EPROTO for a
 * database newer than this build, -EIO when it cannot be reached or a step failed. */
int store_open(const struct store_conf *conf, struct store **out, char *err, size_t errlen);
void store_close(struct store *s);

/* Runs every group's missing steps in one transaction of s's backend; each backend's open calls
 * it before it prepares its statements. 0 or -errno with err. */
int store_migrate(struct store *s, char *err, size_t errlen);

/* The backends, for store_open(). */
int store_sqlite_open(const struct store_conf *conf, struct store **out, char *err, size_t errlen);
int store_pg_open(const struct store_conf *conf, struct store **out, char *err, size_t errlen);

#endif
