/* The RTP packets of a simulated call: build, authenticate and account, and the send pacing;
 * shared by the libnice media path and the batched one. */
#ifndef VC_LOAD_RELAY_RTP_H
#define VC_LOAD_RELAY_RTP_H

#include <stddef.h>
#include <stdint.h>

#include <srtp2/srtp.h>

#include "relay.h"

#define RELAY_RTP_HEADER 12
#define RELAY_PAYLOAD_MIN 16 /* 8-byte sequence number, 8-byte send time */
#define RELAY_BURST_MAX 8    /* packets per side per tick when catching up */
#define RELAY_PKT_MAX 1500

/* The sending half of one direction of a call. */
struct relay_rtp_tx {
    uint32_t ssrc;
    uint16_t rtp_seq;
    uint64_t seq;  /* packets built: contiguous, so gaps at the receiver are loss */
    uint64_t slot; /* pacing slots used, sent or skipped */
};

/* Builds the next packet of tx into buf (RELAY_PKT_MAX + SRTP_MAX_TRAILER_LEN bytes) stamped
 * send_ns, and protects it with s. Returns its length, or -EINVAL. */
int relay_rtp_build(struct relay_rtp_tx *tx, srtp_t s, uint8_t *buf, size_t packet_len,
                    int64_t send_ns);
/* Unprotects buf (len bytes, modified in place) with s and accounts it into st as arrived at
 * now_ns: authentication and replay failures, or loss, jitter and delay. */
void relay_rtp_receive(srtp_t s, struct relay_rx *rx, struct relay_stats *st, uint8_t *buf,
                       size_t len, int64_t now_ns);
/* How many packets tx may send now that due slots have passed (at most RELAY_BURST_MAX); slots
 * given up because the sender fell far behind are added to *skipped. Advances tx->slot. */
unsigned relay_rtp_due(struct relay_rtp_tx *tx, uint64_t due, uint64_t *skipped);

#endif
