/* RTP packets of a simulated call: build and protect, unprotect and account, pacing. */
#include <errno.h>
#include <string.h>

#include "relay_rtp.h"

static uint64_t relay_get64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void relay_put64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

int relay_rtp_build(struct relay_rtp_tx *tx, srtp_t s, uint8_t *buf, size_t packet_len,
                    int64_t send_ns)
{
    int n = (int)packet_len;
    uint32_t ts = (uint32_t)(tx->seq * 960);

    if (packet_len > RELAY_PKT_MAX || packet_len < RELAY_RTP_HEADER + RELAY_PAYLOAD_MIN) {
        return -EINVAL;
    }
    memset(buf, 0, packet_len);
    buf[0] = 0x80;
    buf[1] = 111;
    buf[2] = (uint8_t)(tx->rtp_seq >> 8);
    buf[3] = (uint8_t)tx->rtp_seq;
    buf[4] = (uint8_t)(ts >> 24);
    buf[5] = (uint8_t)(ts >> 16);
    buf[6] = (uint8_t)(ts >> 8);
    buf[7] = (uint8_t)ts;
    buf[8] = (uint8_t)(tx->ssrc >> 24);
    buf[9] = (uint8_t)(tx->ssrc >> 16);
    buf[10] = (uint8_t)(tx->ssrc >> 8);
    buf[11] = (uint8_t)tx->ssrc;
    relay_put64(buf + RELAY_RTP_HEADER, tx->seq);
    relay_put64(buf + RELAY_RTP_HEADER + 8, (uint64_t)send_ns);
    tx->rtp_seq++;
    tx->seq++;
    return srtp_protect(s, buf, &n) == srtp_err_status_ok ? n : -EINVAL;
}

void relay_rtp_receive(srtp_t s, struct relay_rx *rx, struct relay_stats *st, uint8_t *buf,
                       size_t len, int64_t now_ns)
{
    int n = (int)len;
    srtp_err_status_t e;

    if (len < RELAY_RTP_HEADER || len > RELAY_PKT_MAX + SRTP_MAX_TRAILER_LEN) {
        st->other_failures++;
        return;
    }
    e = srtp_unprotect(s, buf, &n);
    if (e == srtp_err_status_auth_fail) {
        st->auth_failures++;
    } else if (e == srtp_err_status_replay_fail || e == srtp_err_status_replay_old) {
        st->replay_failures++;
    } else if (e != srtp_err_status_ok || n < RELAY_RTP_HEADER + RELAY_PAYLOAD_MIN) {
        st->other_failures++;
    } else {
        uint64_t seq = relay_get64(buf + RELAY_RTP_HEADER);
        int64_t sent = (int64_t)relay_get64(buf + RELAY_RTP_HEADER + 8);
        relay_rx_account(rx, st, seq, sent, now_ns, len);
    }
}

unsigned relay_rtp_due(struct relay_rtp_tx *tx, uint64_t due, uint64_t *skipped)
{
    unsigned n = 0;

    while (tx->slot < due && n < RELAY_BURST_MAX) {
        tx->slot++;
        n++;
    }
    if (tx->slot + RELAY_BURST_MAX < due) {
        *skipped += due - tx->slot; /* far behind (a stalled loop): skip rather than burst */
        tx->slot = due;
    }
    return n;
}
