/* TURN peer policy: deny by default every non-global address, in every IPv4 and IPv6 form. */
#ifndef VC_POLICY_H
#define VC_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "vc/addr.h"

struct peer_policy;

/* Outcome of a policy check; the reason names the matched range for counters and tests. */
struct policy_verdict {
    bool allowed;
    const char *reason; /* static string, e.g. "loopback", "rfc1918", "allow-peer", "global" */
};

/* A new policy holding the built-in special-purpose table. Returns NULL on ENOMEM.
 * The caller owns it: free with policy_free(). */
struct peer_policy *policy_new(void);
void policy_free(struct peer_policy *p);

/* Exempts a CIDR ("127.0.0.0/8", "::1/128", a bare IP is a host route) from the default table.
 * Returns 0, -EINVAL for bad text, or -ENOSPC past the table cap. */
int policy_allow(struct peer_policy *p, const char *cidr);

/* Adds a CIDR to refuse; an explicit deny beats an explicit allow. Same returns. */
int policy_deny(struct peer_policy *p, const char *cidr);

/* Registers one of the relay's own IPs. A peer on that IP is refused unless its port lies in
 * [relay_port_min, relay_port_max]: two clients relayed through the same server must reach each
 * other, but nobody may reach the server's listeners or metrics port through it. */
int policy_add_self(struct peer_policy *p, const union vc_addr *ip, uint16_t relay_port_min,
                    uint16_t relay_port_max);

/* The single guard for CreatePermission, ChannelBind and Send. The address is canonicalised
 * first (IPv4-mapped, IPv4-compatible, NAT64, 6to4 and Teredo forms reduce to the embedded IPv4
 * address, which must pass too). Order: self, deny-peer, allow-peer, built-in table, else allow. */
struct policy_verdict policy_check(const struct peer_policy *p, const union vc_addr *peer);

#endif
