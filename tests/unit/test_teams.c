/* Unit tests for teams: names, memberships, the clinician as the hub sees them, and the upgrade
 * of a version-1 accounts database, on SQLite and on PostgreSQL (store_fixture.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h"
#include "test.h"
#include "vc/accounts.h"
#include "vc/teams.h"

#define PW "correct horse battery"

static void add_user(struct fixture *f, const char *email, const char *name)
{
    CHECK_INT(accounts_user_add(f->a, email, name, PW, strlen(PW)), 0);
}

/* Collects teams_list() rows as "team:email" words. */
static void list_row(void *arg, const char *team, const char *email, const char *name)
{
    char *out = arg;
    size_t n = strlen(out);

    (void)name;
    snprintf(out + n, 512 - n, "%s%s:%s", n ? " " : "", team, email ? email : "-");
}

STORE_TEST(teams_are_added_listed_and_deleted_with_their_members)
{
    char rows[512] = "";

    add_user(f, "alice@example.org", "Dr Alice");
    add_user(f, "bob@example.org", "Dr Bob");
    CHECK_INT(teams_add(f->a, "Cardiology"), 0);
    CHECK_INT(teams_add(f->a, "Renal"), 0);
    CHECK_INT(teams_add(f->a, "Cardiology"), -EEXIST);
    CHECK_INT(teams_add(f->a, " padded"), -EINVAL);
    CHECK_INT(teams_add(f->a, "tab\there"), -EINVAL);
    CHECK_INT(teams_add(f->a, ""), -EINVAL);
    CHECK_INT(teams_member_add(f->a, "Cardiology", "Alice@Example.org"), 0);
    CHECK_INT(teams_member_add(f->a, "Cardiology", "alice@example.org"), -EEXIST);
    CHECK_INT(teams_member_add(f->a, "Cardiology", "bob@example.org"), 0);
    CHECK_INT(teams_member_add(f->a, "Nope", "bob@example.org"), -ENOENT);
    CHECK_INT(teams_member_add(f->a, "Renal", "nobody@example.org"), -ENOENT);
    CHECK_INT(teams_exists(f->a, "Renal"), 1);
    CHECK_INT(teams_exists(f->a, "Nope"), 0);
    CHECK_INT(teams_list(f->a, list_row, rows), 0);
    CHECK_STR(rows, "Cardiology:alice@example.org Cardiology:bob@example.org Renal:-");
    CHECK_INT(teams_member_del(f->a, "Cardiology", "bob@example.org"), 0);
    CHECK_INT(teams_member_del(f->a, "Cardiology", "bob@example.org"), -ENOENT);
    CHECK_INT(teams_del(f->a, "Renal"), 0);
    CHECK_INT(teams_del(f->a, "Renal"), -ENOENT);
    /* Deleting a clinician takes their memberships with them. */
    CHECK_INT(accounts_user_del(f->a, "alice@example.org"), 0);
    rows[0] = '\0';
    CHECK_INT(teams_list(f->a, list_row, rows), 0);
    CHECK_STR(rows, "Cardiology:-");
}

STORE_TEST(a_clinician_is_found_by_user_and_by_id_with_their_teams)
{
    struct hub_clinician c, by_id;
    char id[HUB_OWNER_MAX + 1];

    add_user(f, "alice@example.org", "Dr Alice");
    teams_add(f->a, "Renal");
    teams_add(f->a, "Cardiology");
    teams_member_add(f->a, "Renal", "alice@example.org");
    teams_member_add(f->a, "Cardiology", "alice@example.org");
    int64_t uid = accounts_user_id(f->a, "alice@example.org");
    CHECK_INT(teams_clinician_of_user(f->a, uid, &c), 0);
    teams_owner_id("alice@example.org", id);
    CHECK_STR(c.id, id);
    CHECK(strncmp(c.id, "user:", 5) == 0 && strlen(c.id) == 21);
    CHECK_STR(c.name, "Dr Alice");
    CHECK_INT(c.nteams, 2);
    CHECK_STR(c.teams[0], "Cardiology"); /* by name: the first is a new room's default */
    CHECK_STR(c.teams[1], "Renal");
    CHECK_INT(teams_clinician_by_id(f->a, id, &by_id), 0);
    CHECK_STR(by_id.name, "Dr Alice");
    CHECK_INT(by_id.nteams, 2);
    CHECK_INT(teams_clinician_by_id(f->a, "user:0000000000000000", &by_id), -ENOENT);
    CHECK_INT(teams_clinician_of_user(f->a, uid + 100, &by_id), -ENOENT);
}

STORE_TEST(a_version_1_database_gains_teams_and_keeps_its_clinicians)
{
    char err[256];

    add_user(f, "alice@example.org", "Dr Alice");
    accounts_close(f->a);
    f->a = NULL;
    /* Back to version 1, as a database from before teams. */
    CHECK(fixture_exec(f, "DROP TABLE team_members; DROP TABLE teams"));
    CHECK(fixture_set_version(f, 1));
    CHECK_INT(fixture_reopen(f, err, sizeof(err)), 0);
    CHECK(accounts_user_id(f->a, "alice@example.org") > 0);
    CHECK_INT(teams_add(f->a, "Cardiology"), 0);
    CHECK_INT(teams_member_add(f->a, "Cardiology", "alice@example.org"), 0);
}
