/* A loopback TCP-to-TLS bridge so libnice agents can reach a TURN server over TLS. */
#ifndef VC_LOAD_RELAY_TLS_H
#define VC_LOAD_RELAY_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "vc/addr.h"

struct relay_tls;

/* Listens on 127.0.0.1 (an ephemeral port) and bridges each connection to server over TLS.
 * Returns NULL with err set. */
struct relay_tls *relay_tls_start(const union vc_addr *server, char *err, size_t errlen);
uint16_t relay_tls_port(const struct relay_tls *b);
/* Stops accepting and closes every bridged connection (within about 300 ms). */
void relay_tls_stop(struct relay_tls *b);

#endif
