/* The TURN data path private to the core: client data to peers and the peer policy guard. */
#ifndef VC_TURN_RELAY_H
#define VC_TURN_RELAY_H

#include "turn_int.h"

/* The one guard for CreatePermission, ChannelBind and Send: the peer policy, counted. */
bool turn_peer_allowed(struct turn_worker *w, const union vc_addr *peer);

/* A ChannelData message from a client. */
void turn_relay_channel_data(struct turn_worker *w, const struct turn_client *c, const uint8_t *buf,
                             size_t len);

/* A Send indication from a client. */
void turn_relay_send_indication(struct turn_worker *w, const struct turn_client *c,
                                const struct stun_msg *m);

#endif
