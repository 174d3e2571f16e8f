/* Internal split of the minimal TURN client: transactions on top, sockets below. */
#ifndef VC_LOAD_RELAY_TURN_INT_H
#define VC_LOAD_RELAY_TURN_INT_H

#include "relay_turn.h"

/* Opens t->fd (and TLS) to t->server. Returns 0 or a negative errno with err set. */
int relay_turn_connect(struct relay_turn *t, char *err, size_t errlen);
int relay_turn_send(struct relay_turn *t, const uint8_t *buf, size_t len);
/* Receives one datagram or stream frame into buf within timeout_ms; returns its length, or
 * -ETIMEDOUT, -ECONNREFUSED (ICMP), -ECONNRESET (stream closed) or another negative errno. */
int relay_turn_recv(struct relay_turn *t, uint8_t *buf, size_t cap, int timeout_ms);

#endif
