/* The TURN data path: Send indications and ChannelData to peers, peer datagrams to clients. */
#include <errno.h>
#include <string.h>

#include "vc/policy.h"
#include "relay.h"

bool turn_peer_allowed(struct turn_worker *w, const union vc_addr *peer)
{
    struct policy_verdict v = policy_check(w->cur->set.policy, peer);

    if (!v.allowed)
        TURN_STAT_ADD(w, peer_denied, 1);
    return v.allowed;
}

static void to_peer(struct turn_worker *w, struct turn_alloc *a, const union vc_addr *peer,
                    const uint8_t *data, size_t len)
{
    if (!turn_alloc_charge(w, a, len))
        return;
    if (w->ops->send_peer(w, a->relay_fd, peer, data, len) < 0)
        return;
    a->packets_to_peer++;
    a->bytes_to_peer += len;
    TURN_STAT_ADD(w, relayed_packets, 1);
    TURN_STAT_ADD(w, relayed_bytes, len);
}

void turn_relay_channel_data(struct turn_worker *w, const struct turn_client *c, const uint8_t *buf,
                             size_t len)
{
    struct turn_alloc *a = turn_alloc_find(w, c);
    uint16_t number = (uint16_t)(buf[0] << 8 | buf[1]);
    size_t dlen = (size_t)(buf[2] << 8 | buf[3]);

    /* Over UDP the datagram may carry padding after the data, never less than the data. */
    if (!a || a->relay_fd < 0 || dlen > len - TURN_CHANNEL_HEADER_LEN)
        return;
    struct turn_channel *ch = turn_chan_by_number(a, number, w->now_ms);
    if (!ch || !turn_perm_find(a, &ch->peer, w->now_ms))
        return;
    to_peer(w, a, &ch->peer, buf + TURN_CHANNEL_HEADER_LEN, dlen);
}

void turn_relay_send_indication(struct turn_worker *w, const struct turn_client *c,
                                const struct stun_msg *m)
{
    struct turn_alloc *a = turn_alloc_find(w, c);
    const struct stun_attr *pa = stun_find(m, TURN_ATTR_XOR_PEER_ADDRESS);
    const struct stun_attr *data = stun_find(m, TURN_ATTR_DATA);
    union vc_addr peer;

    if (!a || a->relay_fd < 0 || !pa || !data || stun_attr_xor_addr(m, pa, &peer) < 0 ||
        peer.sa.sa_family != a->relay.sa.sa_family)
        return;
    /* A permission matches on the IP alone, so the port is checked here again: a permission
     * for the relay's own IP must not open its listeners. */
    if (!turn_perm_find(a, &peer, w->now_ms) || !turn_peer_allowed(w, &peer))
        return;
    to_peer(w, a, &peer, stun_attr_value(m, data), data->len);
}

static void put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* Writes a Data indication header (STUN header, XOR-PEER-ADDRESS, DATA TLV header) right before
 * payload and zero padding after it. Returns the header length. */
static size_t data_indication_header(struct turn_worker *w, const union vc_addr *peer,
                                     uint8_t *payload, size_t len)
{
    uint8_t head[TURN_HEADROOM], txid[STUN_TXID_LEN];
    struct stun_builder b;
    uint64_t r1 = turn_worker_random(w), r2 = turn_worker_random(w);
    size_t padded = (len + 3) & ~(size_t)3;

    memcpy(txid, &r1, 8);
    memcpy(txid + 8, &r2, 4);
    stun_build_init(&b, head, sizeof(head), TURN_DATA, STUN_INDICATION, txid);
    stun_build_xor_addr(&b, TURN_ATTR_XOR_PEER_ADDRESS, peer);
    size_t hlen = b.len + 4;
    put16(head + b.len, TURN_ATTR_DATA);
    put16(head + b.len + 2, len);
    put16(head + 2, hlen - STUN_HEADER_LEN + padded);
    memcpy(payload - hlen, head, hlen);
    memset(payload + len, 0, padded - len);
    return hlen;
}

void turn_worker_peer_input(struct turn_worker *w, struct turn_alloc *a, const union vc_addr *peer,
                            uint8_t *payload, size_t len)
{
    struct turn_channel *ch;
    size_t head, total;

    if (a->relay_fd < 0 || len > TURN_MAX_PAYLOAD || !turn_perm_find(a, peer, w->now_ms) ||
        !turn_alloc_charge(w, a, len))
        return;
    ch = a->nchans ? turn_chan_by_peer(a, peer, w->now_ms) : NULL;
    if (ch) {
        head = TURN_CHANNEL_HEADER_LEN;
        turn_put_channel_header(payload - TURN_CHANNEL_HEADER_LEN, ch->number, len);
        total = head + len;
        /* Over a stream, ChannelData is padded to a multiple of 4 (RFC 8656 12.5). */
        if (a->client.transport != TURN_UDP) {
            size_t padded = (len + 3) & ~(size_t)3;
            memset(payload + len, 0, padded - len);
            total = head + padded;
        }
    } else {
        head = data_indication_header(w, peer, payload, len);
        total = head + ((len + 3) & ~(size_t)3);
    }
    if (w->ops->send_client(w, &a->client, payload - head, total) < 0)
        return;
    a->packets_to_client++;
    a->bytes_to_client += len;
    TURN_STAT_ADD(w, relayed_packets, 1);
    TURN_STAT_ADD(w, relayed_bytes, len);
}

long turn_stream_frame_len(const uint8_t *buf, size_t len)
{
    if (len < 4)
        return 0;
    size_t body = (size_t)(buf[2] << 8 | buf[3]);
    if (turn_is_channel_data(buf, len))
        return (long)(TURN_CHANNEL_HEADER_LEN + ((body + 3) & ~(size_t)3));
    if ((buf[0] & 0xC0) != 0 || (body & 3) != 0)
        return -EBADMSG;
    if (len >= 8 && !(buf[4] == 0x21 && buf[5] == 0x12 && buf[6] == 0xA4 && buf[7] == 0x42))
        return -EBADMSG;
    return (long)(STUN_HEADER_LEN + body);
}
