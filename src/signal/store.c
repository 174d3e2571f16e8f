/* The account database: picks the backend a configuration names and migrates its table groups. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vc/store.h"

/* The backends a database URL can name; without a URL, SQLite under the data directory. */
static const struct {
    const char *scheme;
    int (*open)(const struct store_conf *conf, struct store **out, char *err, size_t errlen);
} store_backends[] = {
    {"postgresql://", store_pg_open},
    {"postgres://", store_pg_open},
};

int store_open(const struct store_conf *conf, struct store **out, char *err, size_t errlen)
{
    int (*open)(const struct store_conf *, struct store **, char *, size_t) = NULL;

    *out = NULL;
    if (!conf->database || !conf->database[0]) {
        open = store_sqlite_open;
    } else {
        for (size_t i = 0; i < sizeof(store_backends) / sizeof(store_backends[0]); i++)
            if (strncmp(conf->database, store_backends[i].scheme,
                        strlen(store_backends[i].scheme)) == 0)
                open = store_backends[i].open;
    }
    if (!open) {
        snprintf(err, errlen, "not a postgresql:// URL (leave it out for SQLite in data-dir)");
        return -EINVAL;
    }
    return open(conf, out, err, errlen);
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

/* Runs the steps group g lacks, inside the migration transaction. 0 or -errno with err. */
static int store_migrate_group(struct store *s, const struct store_group *g, char *err,
                               size_t errlen)
{
    const struct store_schema_ops *sc = s->ops->schema;
    int v = sc->version(s, g->name, err, errlen), rc = 0;

    if (v < 0)
        return v;
    if (v > g->version) {
        snprintf(err, errlen, "schema version %d of %s is newer than this vc-signal's (%d)", v,
                 g->name, g->version);
        return -EPROTO;
    }
    if (v == g->version)
        return 0;
    for (int i = v; i < g->version && rc == 0; i++)
        rc = sc->step(s, g->steps[i], err, errlen);
    return rc < 0 ? rc : sc->set_version(s, g->name, g->version, err, errlen);
}

int store_migrate(struct store *s, char *err, size_t errlen)
{
    const struct store_schema_ops *sc = s->ops->schema;
    char ignored[8];
    int rc = sc->begin(s, err, errlen);

    if (rc < 0)
        return rc;
    for (unsigned i = 0; i < s->ops->ngroups && rc == 0; i++)
        rc = store_migrate_group(s, &s->ops->groups[i], err, errlen);
    if (rc < 0) {
        sc->end(s, false, ignored, sizeof(ignored));
        return rc;
    }
    return sc->end(s, true, err, errlen);
}
