/* Clinicians' teams in the account database: names, memberships, and a clinician as the hub
 * knows them (id, display name, teams). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vc/accounts.h"
#include "vc/random.h"
#include "vc/store.h"
#include "vc/teams.h"

int teams_name_check(const char *name)
{
    size_t n = name ? strnlen(name, TEAMS_NAME_MAX + 1) : 0;

    if (n == 0 || n > TEAMS_NAME_MAX || name[0] == ' ' || name[n - 1] == ' ')
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return -EINVAL;
    return 0;
}

int teams_add(struct accounts *a, const char *name)
{
    struct store *s;
    int rc;

    if (teams_name_check(name) < 0)
        return -EINVAL;
    s = accounts_lock(a);
    rc = s->ops->teams->add(s, name);
    accounts_unlock(a);
    return rc;
}

int teams_exists(struct accounts *a, const char *name)
{
    struct store *s = accounts_lock(a);
    int rc = s->ops->teams->exists(s, name);

    accounts_unlock(a);
    return rc;
}

int teams_del(struct accounts *a, const char *name)
{
    struct store *s = accounts_lock(a);
    int rc = s->ops->teams->del(s, name);

    accounts_unlock(a);
    return rc;
}

/* The user's id by email: > 0, -ENOENT or -EIO. */
static int64_t teams_user_id(struct accounts *a, const char *email)
{
    int64_t id = accounts_user_id(a, email);

    return id > 0 || id == -EIO ? id : -ENOENT;
}

/* Adds (add true) or removes the clinician with that email in team. 0 or -errno. */
static int teams_member(struct accounts *a, const char *team, const char *email, bool add)
{
    int64_t uid = teams_user_id(a, email);
    struct store *s;
    int rc;

    if (uid < 0)
        return (int)uid;
    s = accounts_lock(a);
    rc = add ? s->ops->teams->member_add(s, team, uid) : s->ops->teams->member_del(s, team, uid);
    if (add && rc == 0) { /* nothing added: already a member, or no such team */
        rc = s->ops->teams->exists(s, team);
        rc = rc == 1 ? -EEXIST : rc == 0 ? -ENOENT : rc;
    }
    accounts_unlock(a);
    return rc < 0 ? rc : 0;
}

int teams_member_add(struct accounts *a, const char *team, const char *email)
{
    return teams_member(a, team, email, true);
}

int teams_member_del(struct accounts *a, const char *team, const char *email)
{
    return teams_member(a, team, email, false);
}

int teams_list(struct accounts *a, teams_list_cb cb, void *arg)
{
    struct store *s = accounts_lock(a);
    int rc = s->ops->teams->list(s, cb, arg);

    accounts_unlock(a);
    return rc;
}

void teams_owner_id(const char *email, char out[HUB_OWNER_MAX + 1])
{
    unsigned char hash[TOKEN_HASH_LEN];

    token_hash(email, strlen(email), hash);
    memcpy(out, "user:", 5);
    hex_encode(hash, 8, out + 5);
}

/* Adds one team name to a clinician (store_name_cb), up to HUB_TEAMS_MAX. */
static void teams_collect(void *arg, const char *name)
{
    struct hub_clinician *c = arg;

    if (c->nteams < HUB_TEAMS_MAX)
        snprintf(c->teams[c->nteams++], sizeof(c->teams[0]), "%s", name ? name : "");
}

/* A clinician sought by user id or by owner id (store_user_cb): the first match fills out. */
struct teams_find {
    int64_t uid;      /* > 0: this user */
    const char *want; /* else the user whose owner id this is */
    struct hub_clinician *out;
    int64_t found; /* the user id, 0 while none */
};

static int teams_match(void *arg, int64_t id, const char *email, const char *name)
{
    struct teams_find *f = arg;

    memset(f->out, 0, sizeof(*f->out));
    teams_owner_id(email ? email : "", f->out->id);
    if (f->uid > 0 ? id != f->uid : strcmp(f->out->id, f->want) != 0)
        return 0;
    snprintf(f->out->name, sizeof(f->out->name), "%s", name ? name : "");
    f->found = id;
    return 1;
}

/* Fills f->out with the clinician and their teams. 0, -ENOENT, -EIO. */
static int teams_find(struct accounts *a, struct teams_find *f)
{
    char email[ACCOUNTS_EMAIL_MAX + 1], name[ACCOUNTS_NAME_MAX + 1];
    struct store *s = accounts_lock(a);
    int rc;

    if (f->uid > 0) { /* one row by id rather than a walk */
        rc = s->ops->users->info(s, f->uid, email, sizeof(email), name, sizeof(name));
        if (rc == 0)
            teams_match(f, f->uid, email, name);
    } else {
        rc = s->ops->users->each(s, teams_match, f);
    }
    if (rc == 0 && !f->found)
        rc = -ENOENT;
    if (rc == 0)
        rc = s->ops->teams->of_user(s, f->found, teams_collect, f->out);
    accounts_unlock(a);
    return rc < 0 && rc != -EIO ? -ENOENT : rc;
}

int teams_clinician_of_user(struct accounts *a, int64_t user_id, struct hub_clinician *out)
{
    struct teams_find f = {.uid = user_id > 0 ? user_id : -1, .out = out};

    return user_id > 0 ? teams_find(a, &f) : -ENOENT;
}

int teams_clinician_by_id(struct accounts *a, const char *id, struct hub_clinician *out)
{
    struct teams_find f = {.want = id, .out = out};

    return teams_find(a, &f);
}
