/* The signalling core's test fixture: a hub with fake connections and the clients' helpers. */
#ifndef VC_TEST_HUB_FIXTURE_H
#define VC_TEST_HUB_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vc/hub.h"
#include "vc/log.h"

#define MAX_FRAMES 64

struct hub_conn {
    unsigned nframes;
    char *frames[MAX_FRAMES];
    int close_code;
    int refuse; /* make send() report a full queue */
};

struct world {
    struct hub *h;
    struct hub_settings set;
    uint64_t mono;
    int64_t unix_ms;
    char log_path[64];
    struct event_log *log;
    unsigned nconns;
    struct hub_conn *conns[32]; /* the test's connections, whose frames world_free() frees */
};

/* A client: a fake connection and its session. */
struct client {
    struct hub_conn conn;
    struct hub_session *s;
    char peer[64];
    char resume[64];
};

extern const struct hub_io_ops fake_ops;
void world_init(struct world *w);
void world_free(struct world *w);
void advance(struct world *w, uint64_t ms);
void client_open(struct world *w, struct client *c);
void client_drop(struct world *w, struct client *c);
void say(struct world *w, struct client *c, const char *json);
json_t *frame(struct client *c, unsigned back);
bool got(struct client *c, const char *types);
void join(struct world *w, struct client *c, const char *token, const char *resume);
void arrive(struct world *w, struct client *c, const char *token, const char *resume);
struct hub_room_info make_room(struct world *w, bool lobby, unsigned capacity);
void join_pair(struct world *w, const struct hub_room_info *room, struct client *host,
               struct client *guest);
struct hub_room_info start_call(struct world *w, bool lobby, unsigned capacity, struct client *host,
                                struct client *guest);
void start_direct_call(struct world *w, struct client *host, struct client *guest);
void signal_to(struct world *w, struct client *from, const char *peer, const char *data);
void knocker(struct client *host, char *out, size_t outlen);
void admit(struct world *w, struct client *host, const char *verb, const char *peer);
/* True when a line of the file at path holds needle. */
bool file_contains(const char *path, const char *needle);

#endif
