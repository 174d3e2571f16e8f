/* Clinicians' teams, kept in the account database: a team shares one waiting area. Every call
 * may also return -EIO: the database failed or did not answer in time. */
#ifndef VC_TEAMS_H
#define VC_TEAMS_H

#include <stddef.h>
#include <stdint.h>

#include "vc/hub.h"

struct accounts;

#define TEAMS_NAME_MAX HUB_TEAM_MAX

/* A team name is 1..TEAMS_NAME_MAX bytes of UTF-8 without control characters, and does not
 * start or end with a space. 0 or -EINVAL. */
int teams_name_check(const char *name);
/* 0, -EEXIST, -EINVAL or -EIO. */
int teams_add(struct accounts *a, const char *name);
/* 1 when the team exists, 0 when not, -EIO. */
int teams_exists(struct accounts *a, const char *name);
/* Deletes a team and its memberships (its rooms keep their name until they end). 0 or -ENOENT. */
int teams_del(struct accounts *a, const char *name);
/* Puts the clinician with that email in the team. 0, -ENOENT (no such team or clinician),
 * -EEXIST (already in it), -EIO. */
int teams_member_add(struct accounts *a, const char *team, const char *email);
/* 0 or -ENOENT. */
int teams_member_del(struct accounts *a, const char *team, const char *email);

/* One row of teams_list(): a team and one member (email and name NULL for an empty team). */
typedef void (*teams_list_cb)(void *arg, const char *team, const char *email, const char *name);
/* Every team in name order, each with its members. 0 or -EIO. */
int teams_list(struct accounts *a, teams_list_cb cb, void *arg);

/* A clinician's id as rooms name their owner: "user:" and 16 hex digits of the SHA-256 of the
 * normalised email, the same on every node and free of personal data. */
void teams_owner_id(const char *email, char out[HUB_OWNER_MAX + 1]);
/* The clinician user_id as the hub knows them: id, display name and teams. 0, -ENOENT, -EIO. */
int teams_clinician_of_user(struct accounts *a, int64_t user_id, struct hub_clinician *out);
/* The same, found by their id ("user:HASH"). 0, -ENOENT, -EIO. */
int teams_clinician_by_id(struct accounts *a, const char *id, struct hub_clinician *out);

#endif
