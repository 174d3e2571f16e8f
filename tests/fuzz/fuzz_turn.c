/* libFuzzer harness for the TURN request handler, over a fake clock and fake sockets. */
// fuzz-sources: tests/unit/turn_fixture.c src/turn/*.c src/stun/*.c src/common/*.c
// fuzz-libs: -lcrypto -ljansson -lpthread
#include <stdint.h>
#include <string.h>

#include "vc/stun.h"
#include "vc/turn.h"
#include "../unit/turn_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Re-signs a fuzzed request with valid credentials, so the fuzzer reaches the code behind auth:
 * every attribute but the credential ones is kept, in order. A RESERVATION-TOKEN of eight zero
 * bytes becomes the last token the server answered, so redeeming one is reachable too. */
static void send_signed(struct fixture *f, const struct stun_msg *m)
{
    uint8_t buf[2048];
    struct stun_builder b;

    stun_build_init(&b, buf, sizeof(buf), m->method, m->cls, m->txid);
    for (unsigned i = 0; i < m->nattrs; i++) {
        const struct stun_attr *a = &m->attrs[i];
        switch (a->type) {
        case STUN_ATTR_USERNAME:
        case STUN_ATTR_REALM:
        case STUN_ATTR_NONCE:
        case STUN_ATTR_MESSAGE_INTEGRITY:
        case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
        case STUN_ATTR_FINGERPRINT:
        case STUN_ATTR_PASSWORD_ALGORITHM:
        case STUN_ATTR_PASSWORD_ALGORITHMS:
            continue;
        case TURN_ATTR_RESERVATION_TOKEN:
            if (a->len == sizeof(f->last_token) &&
                memcmp(stun_attr_value(m, a), "\0\0\0\0\0\0\0\0", a->len) == 0) {
                stun_build_attr(&b, a->type, f->last_token, sizeof(f->last_token));
                continue;
            }
            /* fall through */
        default:
            stun_build_attr(&b, a->type, stun_attr_value(m, a), a->len);
        }
    }
    fix_send_auth(f, &b);
}

/* Each record: an opcode byte, a 16-bit length, then that many bytes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t space[TURN_HEADROOM + 2048 + TURN_TAILROOM];
    struct fixture f;
    struct stun_msg m;

    fix_init(&f);
    f.set.bps = 64000;
    fix_start(&f);
    fix_allocate(&f);
    while (size >= 3) {
        uint8_t op = data[0];
        size_t len = (size_t)(data[1] << 8 | data[2]);
        data += 3;
        size -= 3;
        if (len > size)
            len = size;
        switch (op & 7) {
        case 0: /* raw client bytes */
            turn_worker_client_input(f.w, &f.client, data, len);
            break;
        case 1: /* a client request, re-signed */
            if (stun_parse(&m, data, len) == 0 && m.cls == STUN_REQUEST)
                send_signed(&f, &m);
            else
                turn_worker_client_input(f.w, &f.client, data, len);
            break;
        case 2: { /* a peer datagram to the first relay, from a peer picked by the bytes */
            struct turn_alloc *a = fix_relay(&f, 3);
            union vc_addr peer;
            addr_parse(&peer, len && (data[0] & 1) ? "93.184.216.34:6000" : "8.8.8.8:53", 0);
            if (a && len <= 2048) {
                memcpy(space + TURN_HEADROOM, data, len);
                turn_worker_peer_input(f.w, a, &peer, space + TURN_HEADROOM, len);
            }
            break;
        }
        case 3:
            fix_advance(&f, len * 1000);
            turn_worker_tick(f.w);
            break;
        case 4: /* another client address, with a nonce of its own */
            f.client.remote.v4.sin_port = (uint16_t)(len & 0xff);
            fix_fetch_nonce(&f);
            break;
        case 5:
            turn_worker_stream_closed(f.w, &f.client);
            break;
        case 6:
            (void)turn_stream_frame_len(data, len);
            break;
        default:
            f.nsent = 0;
        }
        data += len;
        size -= len;
    }
    fix_free(&f);
    return 0;
}
