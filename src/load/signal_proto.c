/* vc-load signal: the offer, answer and candidate messages both protocols carry, as JSON text. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "signal_load.h"

/* A trimmed but realistic audio+video SDP (about 1 KB once escaped), JSON-escaped already. */
#define SIGLOAD_SDP_BODY                                                                           \
    "v=0\\r\\no=- %" PRIu64 " 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n"                        \
    "a=group:BUNDLE 0 1\\r\\na=extmap-allow-mixed\\r\\na=msid-semantic: WMS vcload\\r\\n"          \
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\\r\\nc=IN IP4 0.0.0.0\\r\\n"              \
    "a=rtcp:9 IN IP4 "                                                                             \
    "0.0.0.0\\r\\na=ice-ufrag:vcLd\\r\\na=ice-pwd:vcloadvcloadvcloadvcload00\\r\\n"                \
    "a=ice-options:trickle\\r\\na=fingerprint:sha-256 "                                            \
    "5B:2A:1C:7D:9E:01:44:AB:CD:EF:10:32:54:76:98:BA:DC:FE:01:23:45:67:89:AB:CD:EF:00:11:22:33:"   \
    "44:55\\r\\na=setup:%s\\r\\na=mid:0\\r\\na=sendrecv\\r\\na=msid:vcload "                       \
    "a0\\r\\na=rtcp-mux\\r\\n"                                                                     \
    "a=rtpmap:111 opus/48000/2\\r\\na=rtcp-fb:111 transport-cc\\r\\n"                              \
    "a=fmtp:111 minptime=10;useinbandfec=1\\r\\n"                                                  \
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103\\r\\nc=IN IP4 0.0.0.0\\r\\n"                        \
    "a=rtcp:9 IN IP4 "                                                                             \
    "0.0.0.0\\r\\na=ice-ufrag:vcLd\\r\\na=ice-pwd:vcloadvcloadvcloadvcload00\\r\\n"                \
    "a=setup:%s\\r\\na=mid:1\\r\\na=sendrecv\\r\\na=msid:vcload v0\\r\\na=rtcp-mux\\r\\n"          \
    "a=rtcp-rsize\\r\\na=rtpmap:96 VP8/90000\\r\\na=rtcp-fb:96 goog-remb\\r\\n"                    \
    "a=rtcp-fb:96 transport-cc\\r\\na=rtcp-fb:96 ccm fir\\r\\na=rtcp-fb:96 nack\\r\\n"             \
    "a=rtcp-fb:96 nack pli\\r\\na=rtpmap:97 rtx/90000\\r\\na=fmtp:97 apt=96\\r\\n"                 \
    "a=rtpmap:102 H264/90000\\r\\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;"      \
    "profile-level-id=42001f\\r\\na=rtpmap:103 rtx/90000\\r\\na=fmtp:103 apt=102\\r\\n"

#define SIGLOAD_CAND_BODY                                                                          \
    "{\"candidate\":\"candidate:%" PRIu64 " 1 udp 2122260223 127.0.0.1 %u typ host generation 0 "  \
    "ufrag vcLd network-id 1\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}"

static int sigload_fit(int n, size_t cap)
{
    return n < 0 || (size_t)n >= cap ? -EMSGSIZE : n;
}

int sigload_proto_vc_signal(char *buf, size_t cap, const char *to, int kind, uint64_t seq,
                            uint64_t ts_us)
{
    int n;

    if (kind == 2) {
        n = snprintf(buf, cap,
                     "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"candidate\":" SIGLOAD_CAND_BODY
                     ",\"ts\":%" PRIu64 ",\"seq\":%" PRIu64 "}}",
                     to, seq, 40000u + (unsigned)(seq % 20000), ts_us, seq);
    } else {
        const char *t = kind == 0 ? "offer" : "answer";
        const char *setup = kind == 0 ? "actpass" : "active";
        n = snprintf(
            buf, cap,
            "{\"type\":\"signal\",\"to\":\"%s\",\"data\":{\"description\":{\"type\":\"%s\","
            "\"sdp\":\"" SIGLOAD_SDP_BODY "\"},\"ts\":%" PRIu64 ",\"seq\":%" PRIu64 "}}",
            to, t, seq, setup, setup, ts_us, seq);
    }
    return sigload_fit(n, cap);
}

/* PeerJS's own client sends {type, dst, payload}; payload mirrors what peerjs.js puts there. */
int sigload_proto_peerjs_signal(char *buf, size_t cap, const char *dst, int kind, uint64_t seq,
                                uint64_t ts_us)
{
    int n;

    if (kind == 2) {
        n = snprintf(
            buf, cap,
            "{\"type\":\"CANDIDATE\",\"dst\":\"%s\",\"payload\":{\"candidate\":" SIGLOAD_CAND_BODY
            ",\"type\":\"media\",\"connectionId\":\"mc_vcload\","
            "\"ts\":%" PRIu64 ",\"seq\":%" PRIu64 "}}",
            dst, seq, 40000u + (unsigned)(seq % 20000), ts_us, seq);
    } else {
        const char *t = kind == 0 ? "offer" : "answer";
        const char *setup = kind == 0 ? "actpass" : "active";
        n = snprintf(buf, cap,
                     "{\"type\":\"%s\",\"dst\":\"%s\",\"payload\":{\"sdp\":{\"type\":\"%s\","
                     "\"sdp\":\"" SIGLOAD_SDP_BODY "\"},\"type\":\"media\","
                     "\"connectionId\":\"mc_vcload\",\"browser\":\"chrome\",\"ts\":%" PRIu64
                     ",\"seq\":%" PRIu64 "}}",
                     kind == 0 ? "OFFER" : "ANSWER", dst, t, seq, setup, setup, ts_us, seq);
    }
    return sigload_fit(n, cap);
}
