/* libFuzzer harness for the vc.v1 envelope: parse, check the data span, re-encode, reparse, and
 * the allocation-free fast path against the jansson reference (same verdict, same fields). */
// fuzz-sources: src/signal/sigmsg.c src/signal/jsonscan.c
// fuzz-libs: -ljansson
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vc/sigmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts (a crash libFuzzer reports) when an invariant does not hold. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static bool fuzz_is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The span must be one whole JSON value, and forwarding it must give the same value back. */
static void fuzz_check_signal(const uint8_t *data, size_t size, const struct sigmsg *m)
{
    const uint8_t *span = data + m->data_off;
    struct sigmsg_buf b;
    json_t *value, *frame;

    REQUIRE(m->data_len > 0 && m->data_off <= size && m->data_len <= size - m->data_off);
    REQUIRE(!fuzz_is_ws(span[0]) && !fuzz_is_ws(span[m->data_len - 1]));
    value =
        json_loadb((const char *)span, m->data_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    REQUIRE(value);

    sigmsg_buf_init(&b, SIGMSG_MAX_FRAME + 64);
    REQUIRE(sigmsg_encode_signal(&b, m->peer, span, m->data_len) == 0);
    REQUIRE(b.len == strlen(b.data));
    frame = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
    REQUIRE(frame);
    REQUIRE(json_object_size(frame) == 3);
    REQUIRE(strcmp(json_string_value(json_object_get(frame, "from")), m->peer) == 0);
    REQUIRE(json_equal(json_object_get(frame, "data"), value));
    json_decref(frame);
    json_decref(value);
    sigmsg_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sigmsg m;
    struct sigmsg_buf b;
    const char *code = NULL;
    int rc = sigmsg_parse(data, size, &m, &code);
    struct sigmsg ref;
    const char *ref_code = NULL;
    int ref_rc = sigmsg_parse_reference(data, size, &ref, &ref_code);

    REQUIRE(rc == ref_rc);
    REQUIRE((code == NULL) == (ref_code == NULL) && (!code || strcmp(code, ref_code) == 0));
    REQUIRE(rc < 0 || memcmp(&m, &ref, sizeof(m)) == 0);

    if (rc < 0) {
        REQUIRE(code != NULL);
        REQUIRE(rc == -EBADMSG || (rc == -EMSGSIZE && strcmp(code, "too_large") == 0));
        /* the error reply itself must always encode within a frame */
        sigmsg_buf_init(&b, SIGMSG_MAX_FRAME);
        REQUIRE(sigmsg_encode_error(&b, code, "rejected") == 0);
        sigmsg_buf_free(&b);
        return 0;
    }
    REQUIRE(code == NULL);
    switch (m.type) {
    case SIGMSG_SIGNAL:
        fuzz_check_signal(data, size, &m);
        break;
    case SIGMSG_JOIN:
        REQUIRE((m.token[0] != '\0') != (m.room[0] != '\0')); /* a link or a room id */
        REQUIRE(strlen(m.token) <= SIGMSG_TOKEN_MAX && strlen(m.room) <= SIGMSG_ID_MAX);
        REQUIRE(strlen(m.resume) <= SIGMSG_TOKEN_MAX);
        break;
    case SIGMSG_LOBBY_MESSAGE:
        REQUIRE(m.text[0] && sigmsg_utf8_chars(m.text, strlen(m.text)) <= SIGMSG_TEXT_MAX_CHARS);
        sigmsg_buf_init(&b, 4096);
        REQUIRE(sigmsg_encode(&b, "message", "{s:s}", "text", m.text) == 0);
        sigmsg_buf_free(&b);
        break;
    case SIGMSG_HANDOVER:
        REQUIRE(m.room[0] && sigmsg_clinician_id_valid(m.to));
        break;
    case SIGMSG_ADMIT:
    case SIGMSG_DENY:
        REQUIRE(m.peer[0] && strlen(m.peer) <= SIGMSG_ID_MAX);
        sigmsg_buf_init(&b, 256);
        REQUIRE(sigmsg_encode(&b, "peer-left", "{s:s}", "peer", m.peer) == 0);
        sigmsg_buf_free(&b);
        break;
    case SIGMSG_STATS:
        REQUIRE(m.path == SIGMSG_PATH_P2P || m.path == SIGMSG_PATH_RELAY);
        REQUIRE(m.rtt_ms >= 0 && m.rtt_ms <= 600000 && m.loss_pct >= 0 && m.loss_pct <= 100);
        REQUIRE(m.bitrate_kbps >= 0 && m.bitrate_kbps <= 10000000);
        break;
    default:
        break;
    }
    return 0;
}
