/* Unit tests for the vc.v1 envelope codec: all types, error codes, raw data spans, encoders. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "test.h"
#include "vc/sigmsg.h"

static int parse_str(const char *s, struct sigmsg *m, const char **code)
{
    return sigmsg_parse((const uint8_t *)s, strlen(s), m, code);
}

TEST(sigmsg_parses_valid_message_of_every_type)
{
    static const struct {
        const char *frame;
        enum sigmsg_type type;
    } cases[] = {
        {"{\"type\":\"join\",\"token\":\"abc-DEF_123\"}", SIGMSG_JOIN},
        {"{\"type\":\"signal\",\"to\":\"p1\",\"data\":{}}", SIGMSG_SIGNAL},
        {"{\"type\":\"admit\",\"peer\":\"p2\"}", SIGMSG_ADMIT},
        {"{\"type\":\"deny\",\"peer\":\"p3\"}", SIGMSG_DENY},
        {"{\"type\":\"stats\",\"path\":\"relay\"}", SIGMSG_STATS},
        {"{\"type\":\"leave\"}", SIGMSG_LEAVE},
        {"{\"type\":\"end\",\"reason\":[1,2]}", SIGMSG_END},
        {" \r\n\t{ \"type\" : \"ping\" } \n", SIGMSG_PING},
        {"{\"x\":1,\"type\":\"p\\u0069ng\"}", SIGMSG_PING},
        {"{\"type\":\"join\",\"room\":\"0123456789abcdef\"}", SIGMSG_JOIN},
        {"{\"type\":\"watch\"}", SIGMSG_WATCH},
        {"{\"type\":\"lobby-message\",\"text\":\"late\"}", SIGMSG_LOBBY_MESSAGE},
        {"{\"type\":\"handover\",\"room\":\"r1\",\"to\":\"user:0123456789abcdef\"}",
         SIGMSG_HANDOVER},
        {"{\"type\":\"label\",\"label\":\"\"}", SIGMSG_LABEL},
        {"{\"type\":\"remove\",\"peer\":\"p4\"}", SIGMSG_REMOVE},
        {"{\"type\":\"invite\"}", SIGMSG_INVITE},
        {"{\"type\":\"revoke\",\"invite\":\"0a0b0c0d\"}", SIGMSG_REVOKE},
    };
    struct sigmsg m;
    const char *code;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        code = "unset";
        if (!CHECK_INT(parse_str(cases[i].frame, &m, &code), 0)) {
            fprintf(stderr, "    frame: %s\n", cases[i].frame);
            continue;
        }
        CHECK(code == NULL);
        CHECK_INT(m.type, cases[i].type);
    }
}

TEST(sigmsg_join_fields_are_copied)
{
    struct sigmsg m;
    const char *code;
    char tok[SIGMSG_TOKEN_MAX + 1];
    char frame[256];

    CHECK_INT(parse_str("{\"type\":\"join\",\"token\":\"T0k\",\"resume\":\"R-1\",\"precheck\":"
                        "{\"camera\":true,\"microphone\":false,\"turn_udp\":true,\"turn_tls\":true,"
                        "\"turn_checked\":true,\"extra\":\"ignored\"}}",
                        &m, &code),
              0);
    CHECK_STR(m.token, "T0k");
    CHECK_STR(m.resume, "R-1");
    CHECK(m.precheck.present);
    CHECK(m.precheck.camera);
    CHECK(!m.precheck.microphone);
    CHECK(m.precheck.turn_udp);
    CHECK(!m.precheck.turn_tcp);
    CHECK(m.precheck.turn_tls);
    CHECK(m.precheck.turn_checked);

    CHECK_INT(parse_str("{\"type\":\"join\",\"token\":\"t\",\"resume\":null}", &m, &code), 0);
    CHECK_STR(m.resume, "");
    CHECK(!m.precheck.present);
    CHECK(!m.precheck.camera);

    /* A token of exactly SIGMSG_TOKEN_MAX characters is accepted whole. */
    memset(tok, 'z', SIGMSG_TOKEN_MAX);
    tok[SIGMSG_TOKEN_MAX] = '\0';
    snprintf(frame, sizeof(frame), "{\"type\":\"join\",\"token\":\"%s\",\"resume\":\"%s\"}", tok,
             tok);
    CHECK_INT(parse_str(frame, &m, &code), 0);
    CHECK_STR(m.token, tok);
    CHECK_STR(m.resume, tok);
}

TEST(sigmsg_admit_deny_stats_fields)
{
    struct sigmsg m;
    const char *code;
    char id[SIGMSG_ID_MAX + 1], frame[128];

    CHECK_INT(parse_str("{\"type\":\"admit\",\"peer\":\"guest_7\"}", &m, &code), 0);
    CHECK_STR(m.peer, "guest_7");
    memset(id, 'a', SIGMSG_ID_MAX);
    id[SIGMSG_ID_MAX] = '\0';
    snprintf(frame, sizeof(frame), "{\"type\":\"deny\",\"peer\":\"%s\"}", id);
    CHECK_INT(parse_str(frame, &m, &code), 0);
    CHECK_STR(m.peer, id);

    CHECK_INT(parse_str("{\"type\":\"stats\",\"path\":\"p2p\",\"rtt_ms\":42,\"loss_pct\":1.5,"
                        "\"bitrate_kbps\":2500.25}",
                        &m, &code),
              0);
    CHECK_INT(m.path, SIGMSG_PATH_P2P);
    CHECK(m.rtt_ms == 42.0);
    CHECK(m.loss_pct == 1.5);
    CHECK(m.bitrate_kbps == 2500.25);

    CHECK_INT(parse_str("{\"type\":\"stats\",\"path\":\"relay\",\"loss_pct\":100,"
                        "\"rtt_ms\":600000,\"bitrate_kbps\":1e7}",
                        &m, &code),
              0);
    CHECK_INT(m.path, SIGMSG_PATH_RELAY);
    CHECK(m.rtt_ms == 600000.0);
    CHECK(m.bitrate_kbps == 1e7);

    CHECK_INT(parse_str("{\"type\":\"stats\",\"path\":\"relay\"}", &m, &code), 0);
    CHECK(m.rtt_ms == 0 && m.loss_pct == 0 && m.bitrate_kbps == 0);
}

/* Each frame's "data" must be found as exactly the text given in want. */
TEST(sigmsg_signal_data_span_is_exact_raw_text)
{
    static const struct {
        const char *frame, *want;
    } cases[] = {
        {"{\"type\":\"signal\",\"to\":\"b\",\"data\":{\"sdp\":\"v=0\\r\\n\",\"type\":\"offer\"}}",
         "{\"sdp\":\"v=0\\r\\n\",\"type\":\"offer\"}"},
        {"{\"data\" : [1, {\"a\":[]}, \"x\"] ,\"type\":\"signal\",\"to\":\"b\"}",
         "[1, {\"a\":[]}, \"x\"]"},
        {"{\"type\":\"signal\",\"to\":\"b\",\"data\":null}", "null"},
        {"{\"type\":\"signal\",\"to\":\"b\",\"data\":-12.5e3}", "-12.5e3"},
        {"{\"type\":\"signal\",\"to\":\"b\",\"data\":0 }", "0"},
        {"{\"type\":\"signal\",\"to\":\"b\",\"data\":true}", "true"},
        {"{\"type\":\"signal\",\"to\":\"b\",\"data\":\"\"}", "\"\""},
        /* strings that look like keys, braces, quotes and escapes, before and inside data */
        {"{\"type\":\"signal\",\"x\":\"\\\"data\\\":{\",\"to\":\"b\",\"data\":\"}\\\\\\\"{\"}",
         "\"}\\\\\\\"{\""},
        {"{\"type\":\"signal\",\"to\":\"b\",\"data\":{\"data\":{\"data\":\"]}\"}},\"z\":1}",
         "{\"data\":{\"data\":\"]}\"}}"},
        {"{\"nested\":{\"data\":1},\"type\":\"signal\",\"to\":\"b\",\"data\":[\"\\\\\"]}",
         "[\"\\\\\"]"},
        {"{\"type\":\"signal\",\"to\":\"b\",\"\\\"data\":1,\"data\\\\\":2,\"data\":3}", "3"},
        /* escaped spellings of the key are still the key "data" */
        {"{\"type\":\"signal\",\"to\":\"b\",\"d\\u0061ta\":{\"k\":\"\\u00e9\"}}",
         "{\"k\":\"\\u00e9\"}"},
        {"{\"type\":\"signal\",\"to\":\"b\",\"\\u0064\\u0041\\u0074\\u0061\":0,"
         "\"\\u0064\\u0061\\u0074\\u0061\":\"\\ud83d\\ude00\"}",
         "\"\\ud83d\\ude00\""},
        {"{\"type\":\"signal\",\"to\":\"b\",\"data\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}",
         "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""},
        {"{\"type\":\"signal\",\"to\":\"b\",\"data\":[[[[[[{}]]]]],[]]\n}", "[[[[[[{}]]]]],[]]"},
    };
    struct sigmsg m;
    const char *code;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *f = cases[i].frame;
        size_t wl = strlen(cases[i].want);

        if (!CHECK_INT(parse_str(f, &m, &code), 0)) {
            fprintf(stderr, "    frame %zu: %s (%s)\n", i, f, code ? code : "-");
            continue;
        }
        CHECK_INT(m.type, SIGMSG_SIGNAL);
        CHECK_STR(m.peer, "b");
        if (!CHECK_INT(m.data_len, wl) || !CHECK(m.data_off + m.data_len <= strlen(f)))
            continue;
        CHECK_MEM(f + m.data_off, cases[i].want, wl);
    }
}

TEST(sigmsg_clinic_day_fields_and_caps)
{
    struct sigmsg m;
    const char *code;
    char frame[1400];
    size_t n;

    CHECK_INT(parse_str("{\"type\":\"lobby-message\",\"room\":\"r1\",\"peer\":\"p1\","
                        "\"text\":\"caf\\u00e9 <b>\"}",
                        &m, &code),
              0);
    CHECK_STR(m.room, "r1");
    CHECK_STR(m.peer, "p1");
    CHECK_STR(m.text, "caf\xc3\xa9 <b>");
    /* 280 characters of two bytes each pass; 281 are too_large; an empty text is bad_request. */
    n = (size_t)snprintf(frame, sizeof(frame), "{\"type\":\"lobby-message\",\"text\":\"");
    for (int i = 0; i < 280; i++) {
        frame[n++] = (char)0xc3;
        frame[n++] = (char)0xa9;
    }
    snprintf(frame + n, sizeof(frame) - n, "\"}");
    CHECK_INT(parse_str(frame, &m, &code), 0);
    frame[n] = 'x';
    snprintf(frame + n + 1, sizeof(frame) - n - 1, "\"}");
    CHECK_INT(parse_str(frame, &m, &code), -EMSGSIZE);
    CHECK_STR(code, "too_large");
    CHECK_INT(parse_str("{\"type\":\"lobby-message\",\"text\":\"\"}", &m, &code), -EBADMSG);
    CHECK_STR(code, "bad_request");
    CHECK_INT(parse_str("{\"type\":\"lobby-message\",\"text\":\"a\\u0000b\"}", &m, &code),
              -EBADMSG);
    /* A label: 80 characters at most, empty allowed. */
    n = (size_t)snprintf(frame, sizeof(frame), "{\"type\":\"label\",\"label\":\"%081d\"}", 0);
    CHECK_INT(parse_str(frame, &m, &code), -EMSGSIZE);
    /* join names a token or a room, never both; handover needs a clinician id. */
    CHECK_INT(parse_str("{\"type\":\"join\",\"token\":\"t\",\"room\":\"r\"}", &m, &code), -EBADMSG);
    CHECK_INT(parse_str("{\"type\":\"join\"}", &m, &code), -EBADMSG);
    CHECK_INT(parse_str("{\"type\":\"handover\",\"room\":\"r\",\"to\":\"user:XYZ\"}", &m, &code),
              -EBADMSG);
    CHECK_INT(parse_str("{\"type\":\"handover\",\"to\":\"user:0123456789abcdef\"}", &m, &code),
              -EBADMSG);
    CHECK_INT(parse_str("{\"type\":\"admit\",\"peer\":\"p\",\"room\":7}", &m, &code), -EBADMSG);
}

TEST(sigmsg_rejects_bad_frames_with_exact_code)
{
    static const struct {
        const char *frame, *code;
    } cases[] = {
        {"", "bad_json"},
        {"not json", "bad_json"},
        {"[{\"type\":\"ping\"}]", "bad_json"},
        {"\"ping\"", "bad_json"},
        {"42", "bad_json"},
        {"null", "bad_json"},
        {"{\"type\":\"ping\"", "bad_json"},
        {"{\"type\":\"ping\"} x", "bad_json"},
        {"{\"type\":\"ping\"}{}", "bad_json"},
        {"{\"type\":\"ping\",\"type\":\"ping\"}", "bad_json"},
        {"{\"type\":\"ping\",\"ty\\u0070e\":\"end\"}", "bad_json"},
        {"{\"type\":\"signal\",\"to\":\"b\",\"data\":1,\"d\\u0061ta\":2}", "bad_json"},
        {"{\"type\":\"signal\",\"to\":\"b\",\"data\":{\"a\":1,\"a\":2}}", "bad_json"},
        {"{\"type\":\"p\xffng\"}", "bad_json"},
        {"{\"type\":\"ping\",\"x\":\"\\u0000\"}", "bad_json"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"rtt_ms\":NaN}", "bad_json"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"rtt_ms\":1e999}", "bad_json"},
        {"{}", "bad_request"},
        {"{\"type\":1}", "bad_request"},
        {"{\"type\":null}", "bad_request"},
        {"{\"type\":[\"ping\"]}", "bad_request"},
        {"{\"type\":\"pong\"}", "unknown_type"},
        {"{\"type\":\"PING\"}", "unknown_type"},
        {"{\"type\":\"\"}", "unknown_type"},
        {"{\"type\":\"ping \"}", "unknown_type"},
        /* join */
        {"{\"type\":\"join\"}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"\"}", "bad_request"},
        {"{\"type\":\"join\",\"token\":5}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"a b\"}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"a/b\"}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"a.b\"}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"caf\xc3\xa9\"}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"t\",\"resume\":\"\"}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"t\",\"resume\":\"x%\"}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"t\",\"resume\":1}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"t\",\"precheck\":true}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"t\",\"precheck\":null}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"t\",\"precheck\":[]}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"t\",\"precheck\":{\"camera\":1}}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"t\",\"precheck\":{\"turn_tls\":\"true\"}}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"t\",\"precheck\":{\"microphone\":null}}", "bad_request"},
        /* signal */
        {"{\"type\":\"signal\",\"to\":\"b\"}", "bad_request"},
        {"{\"type\":\"signal\",\"data\":{}}", "bad_request"},
        {"{\"type\":\"signal\",\"to\":\"\",\"data\":{}}", "bad_request"},
        {"{\"type\":\"signal\",\"to\":\"a\\\"b\",\"data\":{}}", "bad_request"},
        {"{\"type\":\"signal\",\"to\":[\"b\"],\"data\":{}}", "bad_request"},
        {"{\"type\":\"signal\",\"to\":\"b\",\"nested\":{\"data\":1}}", "bad_request"},
        {"{\"type\":\"signal\",\"to\":\"b\",\"Data\":1}", "bad_request"},
        /* admit, deny */
        {"{\"type\":\"admit\"}", "bad_request"},
        {"{\"type\":\"admit\",\"peer\":7}", "bad_request"},
        {"{\"type\":\"deny\",\"peer\":\"a:b\"}", "bad_request"},
        /* stats */
        {"{\"type\":\"stats\"}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"turn\"}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"P2P\"}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":1}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"rtt_ms\":\"10\"}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"rtt_ms\":\"NaN\"}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"rtt_ms\":null}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"rtt_ms\":true}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"rtt_ms\":-1}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"rtt_ms\":600000.5}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"loss_pct\":100.01}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"loss_pct\":-0.1}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"bitrate_kbps\":10000001}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"bitrate_kbps\":1e300}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"loss_pct\":{}}", "bad_request"},
    };
    struct sigmsg m;
    const char *code;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        code = NULL;
        int rc = parse_str(cases[i].frame, &m, &code);
        if (!CHECK(rc < 0) || !CHECK_STR(code, cases[i].code))
            fprintf(stderr, "    frame %zu: %s\n", i, cases[i].frame);
        else
            CHECK_INT(rc, -EBADMSG);
    }
}

TEST(sigmsg_rejects_overlong_ids_and_tokens)
{
    char tok[SIGMSG_TOKEN_MAX + 2], id[SIGMSG_ID_MAX + 2], frame[256];
    struct sigmsg m;
    const char *code;

    memset(tok, 'k', sizeof(tok) - 1);
    tok[sizeof(tok) - 1] = '\0';
    memset(id, 'i', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';

    snprintf(frame, sizeof(frame), "{\"type\":\"join\",\"token\":\"%s\"}", tok);
    CHECK_INT(parse_str(frame, &m, &code), -EBADMSG);
    CHECK_STR(code, "bad_request");
    snprintf(frame, sizeof(frame), "{\"type\":\"join\",\"token\":\"t\",\"resume\":\"%s\"}", tok);
    CHECK_INT(parse_str(frame, &m, &code), -EBADMSG);
    CHECK_STR(code, "bad_request");
    snprintf(frame, sizeof(frame), "{\"type\":\"signal\",\"to\":\"%s\",\"data\":1}", id);
    CHECK_INT(parse_str(frame, &m, &code), -EBADMSG);
    CHECK_STR(code, "bad_request");
    snprintf(frame, sizeof(frame), "{\"type\":\"admit\",\"peer\":\"%s\"}", id);
    CHECK_INT(parse_str(frame, &m, &code), -EBADMSG);
    CHECK_STR(code, "bad_request");
}

TEST(sigmsg_rejects_oversized_frame_before_parsing)
{
    size_t n = SIGMSG_MAX_FRAME + 1;
    char *f = malloc(n);
    struct sigmsg m;
    const char *code = NULL;

    if (!CHECK(f))
        return;
    /* A valid frame padded with whitespace: only its size is wrong. */
    memset(f, ' ', n);
    memcpy(f, "{\"type\":\"ping\"}", 15);
    CHECK_INT(sigmsg_parse((const uint8_t *)f, n, &m, &code), -EMSGSIZE);
    CHECK_STR(code, "too_large");
    CHECK_INT(sigmsg_parse((const uint8_t *)f, n - 1, &m, &code), 0);
    CHECK(code == NULL);
    free(f);
}

TEST(sigmsg_parse_reads_only_len_bytes)
{
    /* The frame is followed by bytes that would make it invalid if they were read. */
    static const char raw[] = "{\"type\":\"signal\",\"to\":\"b\",\"data\":12}34,\"x\"";
    size_t len = strlen("{\"type\":\"signal\",\"to\":\"b\",\"data\":12}");
    uint8_t *f = malloc(len);
    struct sigmsg m;
    const char *code;

    if (!CHECK(f))
        return;
    memcpy(f, raw, len); /* no NUL: ASan catches a read past len */
    CHECK_INT(sigmsg_parse(f, len, &m, &code), 0);
    CHECK_INT(m.data_len, 2);
    CHECK_MEM(f + m.data_off, "12", 2);
    CHECK_INT(sigmsg_parse(f, len - 1, &m, &code), -EBADMSG);
    CHECK_STR(code, "bad_json");
    free(f);
}

/* Fuzz regression: jansson skips a NUL byte after a scalar, so such frames must be refused here. */
TEST(sigmsg_rejects_nul_bytes_jansson_would_skip)
{
#define NUL_CASE(s)                                                                                \
    {                                                                                              \
        s, sizeof(s) - 1                                                                           \
    }
    static const struct {
        const char *f;
        size_t len;
    } cases[] = {
        NUL_CASE("{\"type\":\"signal\",\"to\":\"x\",\"data\":[null\0,1]}"),
        NUL_CASE("{\"type\":\"signal\",\"to\":\"x\",\"data\":1\0}"),
        NUL_CASE("{\"type\":\"ping\",\"n\":true\0}"),
        NUL_CASE("{\"type\":\"ping\"}\0"),
    };
#undef NUL_CASE
    struct sigmsg m;
    const char *code;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CHECK(cases[i].f[cases[i].len - 1] == '}' || cases[i].f[cases[i].len - 1] == '\0');
        CHECK_INT(sigmsg_parse((const uint8_t *)cases[i].f, cases[i].len, &m, &code), -EBADMSG);
        CHECK_STR(code, "bad_json");
    }
}

TEST(sigmsg_encode_signal_round_trips_through_jansson)
{
    static const char *datas[] = {
        "{\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\n\",\"type\":\"offer\"}",
        "{\"candidate\":\"candidate:1 1 udp 2122 192.0.2.1 5000 typ host\",\"sdpMid\":\"0\"}",
        "null",
        "[1,2.5,\"\\u00e9\\\"\",{}]",
    };
    struct sigmsg_buf b;
    struct sigmsg m;
    const char *code;
    char frame[512];

    sigmsg_buf_init(&b, SIGMSG_MAX_FRAME);
    for (size_t i = 0; i < sizeof(datas) / sizeof(datas[0]); i++) {
        json_t *got, *want;

        /* parse a client frame, then forward its data span as the server would */
        snprintf(frame, sizeof(frame), "{\"type\":\"signal\",\"to\":\"host-1\",\"data\":%s}",
                 datas[i]);
        if (!CHECK_INT(parse_str(frame, &m, &code), 0))
            continue;
        if (!CHECK_INT(sigmsg_encode_signal(&b, "guest_2", (const uint8_t *)frame + m.data_off,
                                            m.data_len),
                       0))
            continue;
        CHECK_INT(b.len, strlen(b.data));
        got = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
        want = json_loads(datas[i], JSON_DECODE_ANY, NULL);
        if (CHECK(got) && CHECK(want)) {
            CHECK_STR(json_string_value(json_object_get(got, "type")), "signal");
            CHECK_STR(json_string_value(json_object_get(got, "from")), "guest_2");
            CHECK(json_equal(json_object_get(got, "data"), want));
            CHECK_INT(json_object_size(got), 3);
        }
        /* byte for byte: the data text is copied, never re-serialised */
        CHECK(strstr(b.data, datas[i]) != NULL);
        CHECK(strncmp(b.data, "{\"type\":\"signal\",", 17) == 0);
        json_decref(got);
        json_decref(want);
    }
    sigmsg_buf_free(&b);
}

TEST(sigmsg_encode_signal_rejects_unsafe_from_and_empty_data)
{
    struct sigmsg_buf b;
    char longid[SIGMSG_ID_MAX + 2];

    memset(longid, 'x', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    sigmsg_buf_init(&b, 1024);
    CHECK_INT(sigmsg_encode_signal(&b, "a\"b", (const uint8_t *)"1", 1), -EINVAL);
    CHECK_INT(sigmsg_encode_signal(&b, "a\\", (const uint8_t *)"1", 1), -EINVAL);
    CHECK_INT(sigmsg_encode_signal(&b, "", (const uint8_t *)"1", 1), -EINVAL);
    CHECK_INT(sigmsg_encode_signal(&b, NULL, (const uint8_t *)"1", 1), -EINVAL);
    CHECK_INT(sigmsg_encode_signal(&b, longid, (const uint8_t *)"1", 1), -EINVAL);
    CHECK_INT(sigmsg_encode_signal(&b, "ok", (const uint8_t *)"", 0), -EINVAL);
    CHECK_INT(b.len, 0);
    longid[SIGMSG_ID_MAX] = '\0';
    CHECK_INT(sigmsg_encode_signal(&b, longid, (const uint8_t *)"1", 1), 0);
    sigmsg_buf_free(&b);
}

TEST(sigmsg_encode_error_puts_type_first)
{
    struct sigmsg_buf b;
    json_t *j;

    sigmsg_buf_init(&b, 4096);
    CHECK_INT(sigmsg_encode_error(&b, "not_joined", "send join first \"please\""), 0);
    CHECK_STR(b.data, "{\"type\":\"error\",\"code\":\"not_joined\",\"message\":\"send join first "
                      "\\\"please\\\"\"}");
    j = json_loadb(b.data, b.len, 0, NULL);
    if (CHECK(j))
        CHECK_STR(json_string_value(json_object_get(j, "message")), "send join first \"please\"");
    json_decref(j);
    CHECK_INT(sigmsg_encode_error(&b, "bad_json", "\xff"), -EINVAL);
    CHECK_INT(b.len, 0);
    sigmsg_buf_free(&b);
}

TEST(sigmsg_encode_builds_generic_messages_type_first)
{
    struct sigmsg_buf b;
    json_t *peers;

    sigmsg_buf_init(&b, 4096);
    CHECK_INT(sigmsg_encode(&b, "pong", NULL), 0);
    CHECK_STR(b.data, "{\"type\":\"pong\"}");
    CHECK_INT(sigmsg_encode(&b, "peer-left", "{s:s}", "peer", "p9"), 0);
    CHECK_STR(b.data, "{\"type\":\"peer-left\",\"peer\":\"p9\"}");
    CHECK_INT(sigmsg_encode(&b, "waiting", "{}"), 0);
    CHECK_STR(b.data, "{\"type\":\"waiting\"}");

    /* "o" steals the reference: no leak under ASan, and order of fields is kept */
    peers = json_pack("[{s:s,s:s}]", "peer", "h", "role", "host");
    CHECK_INT(sigmsg_encode(&b, "joined", "{s:s,s:s,s:b,s:o,s:i}", "peer", "g", "role", "guest",
                            "polite", 1, "peers", peers, "n", 3),
              0);
    CHECK_STR(b.data, "{\"type\":\"joined\",\"peer\":\"g\",\"role\":\"guest\",\"polite\":true,"
                      "\"peers\":[{\"peer\":\"h\",\"role\":\"host\"}],\"n\":3}");
    /* "O" borrows it */
    peers = json_pack("[]");
    CHECK_INT(sigmsg_encode(&b, "x", "{s:O}", "peers", peers), 0);
    CHECK_INT(peers->refcount, 1);
    json_decref(peers);

    CHECK_INT(sigmsg_encode(&b, "x", "{s:s}", "type", "y"), -EINVAL);
    CHECK_INT(sigmsg_encode(&b, "x", "[s]", "y"), -EINVAL);
    CHECK_INT(sigmsg_encode(&b, "x", "{s:s}", "k", "\xff"), -EINVAL);
    CHECK_INT(sigmsg_encode(&b, NULL, NULL), -EINVAL);
    CHECK_INT(b.len, 0);
    sigmsg_buf_free(&b);
}

TEST(sigmsg_buf_enforces_its_limit)
{
    struct sigmsg_buf b;
    uint8_t big[300];
    size_t fixed = strlen("{\"type\":\"signal\",\"from\":\"a\",\"data\":}");

    memset(big, '1', sizeof(big));
    /* exactly at the limit fits; one byte more does not */
    sigmsg_buf_init(&b, fixed + sizeof(big));
    CHECK_INT(sigmsg_encode_signal(&b, "a", big, sizeof(big)), 0);
    CHECK_INT(b.len, fixed + sizeof(big));
    CHECK(b.cap <= b.limit + 1);
    CHECK_INT(b.data[b.len], '\0');
    sigmsg_buf_free(&b);
    CHECK(b.data == NULL);

    sigmsg_buf_init(&b, fixed + sizeof(big) - 1);
    CHECK_INT(sigmsg_encode_signal(&b, "a", big, sizeof(big)), -EMSGSIZE);
    CHECK_INT(b.len, 0);
    CHECK(b.cap <= b.limit + 1);
    CHECK_INT(sigmsg_encode_signal(&b, "a", big, 1), 0); /* still usable after a refusal */
    sigmsg_buf_free(&b);

    sigmsg_buf_init(&b, 20);
    CHECK_INT(sigmsg_encode_error(&b, "too_large", "frame over 64 KiB"), -EMSGSIZE);
    CHECK_INT(b.len, 0);
    CHECK_INT(sigmsg_encode(&b, "a-very-long-type-name", NULL), -EMSGSIZE);
    CHECK_INT(sigmsg_encode(&b, "pong", NULL), 0);
    CHECK_STR(b.data, "{\"type\":\"pong\"}");
    sigmsg_buf_free(&b);
}

TEST(sigmsg_buf_grows_by_doubling_across_frames)
{
    struct sigmsg_buf b;
    uint8_t *big = malloc(SIGMSG_MAX_FRAME);

    if (!CHECK(big))
        return;
    memset(big, '7', SIGMSG_MAX_FRAME);
    sigmsg_buf_init(&b, 2 * SIGMSG_MAX_FRAME);
    CHECK_INT(sigmsg_encode_signal(&b, "a", big, 10), 0);
    CHECK(b.cap >= b.len + 1 && b.cap <= 256);
    CHECK_INT(sigmsg_encode_signal(&b, "a", big, SIGMSG_MAX_FRAME), 0);
    CHECK_INT(b.len, SIGMSG_MAX_FRAME + strlen("{\"type\":\"signal\",\"from\":\"a\",\"data\":}"));
    CHECK(b.cap >= b.len + 1 && b.cap <= 2 * (b.len + 1));
    sigmsg_buf_free(&b);
    free(big);
}

TEST(sigmsg_precheck_update_needs_a_boolean_object)
{
    struct sigmsg m;
    const char *code = NULL;
    const char *ok = "{\"type\":\"precheck\",\"precheck\":{\"camera\":true,\"turn_udp\":false}}";
    const char *missing = "{\"type\":\"precheck\"}";
    const char *wrong = "{\"type\":\"precheck\",\"precheck\":{\"camera\":\"yes\"}}";

    CHECK_INT(sigmsg_parse((const uint8_t *)ok, strlen(ok), &m, &code), 0);
    CHECK_INT(m.type, SIGMSG_PRECHECK);
    CHECK(m.precheck.present && m.precheck.camera && !m.precheck.turn_udp);
    CHECK(sigmsg_parse((const uint8_t *)missing, strlen(missing), &m, &code) < 0);
    CHECK_STR(code, "bad_request");
    CHECK(sigmsg_parse((const uint8_t *)wrong, strlen(wrong), &m, &code) < 0);
    CHECK_STR(code, "bad_request");
}

/* The allocation-free fast path (signal, ping, leave, end) gives jansson's verdict and fields on
 * the inputs where the two could part: numbers, duplicates, escapes, nesting, trailing bytes. */
TEST(sigmsg_fast_path_agrees_with_jansson)
{
    static const char *const frames[] = {
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":{\"n\":[0,-0,1.5e3,-2E-2,123456789012345678]}"
        "}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":1e999}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":-1e999}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":99999999999999999999}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":01}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":1.}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":.5}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":{\"a\":1,\"a\":2}}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":{\"a\":1,\"\\u0061\":2}}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":\"\\u0000\"}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":\"\\ud800\"}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":\"caf\xc3\xa9\"}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":\"\xc3\"}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":\"tab\there\"}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":\"\\x\"}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":tru}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":null} x",
        "{\"type\":\"signal\",\"to\":\"p1\",\"data\":null,}",
        "{\"type\":\"signal\",\"to\":\"p1\",\"to\":\"p2\",\"data\":1}",
        "{\"type\":\"signal\",\"to\":\"p\\u0031\",\"data\":1}",
        "{\"type\":\"signal\",\"to\":\"\",\"data\":1}",
        "{\"type\":\"signal\",\"to\":5,\"data\":1}",
        "{\"type\":\"signal\",\"to\":\"p1\"}",
        "{\"type\":\"sign\\u0061l\",\"to\":\"p1\",\"data\":1}",
        " \r\n{\"data\" : { \"sdp\" : \"v=0\\r\\n\" } , \"to\":\"p_1-x\",\"type\":\"signal\"}\n",
        "{\"type\":\"ping\",\"extra\":[1,{\"x\":null}]}",
        "{\"type\":\"leave\"}",
        "{\"type\":\"end\",\"end\":true}",
        "{\"type\":\"pong\"}",
        "[\"type\",\"ping\"]",
    };

    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        struct sigmsg fast, ref;
        const char *fc = NULL, *rcode = NULL;
        int a = sigmsg_parse((const uint8_t *)frames[i], strlen(frames[i]), &fast, &fc);
        int b = sigmsg_parse_reference((const uint8_t *)frames[i], strlen(frames[i]), &ref, &rcode);
        if (!CHECK_INT(a, b) || !CHECK((fc == NULL) == (rcode == NULL)) ||
            !CHECK(!fc || strcmp(fc, rcode) == 0) ||
            !CHECK(a < 0 || memcmp(&fast, &ref, sizeof(fast)) == 0))
            fprintf(stderr, "  frame %zu: %s\n", i, frames[i]);
    }
}

TEST(sigmsg_names_invites_removal_and_video_fields_and_caps)
{
    static const struct {
        const char *frame, *code;
    } bad[] = {
        {"{\"type\":\"join\",\"token\":\"t\",\"name\":5}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"t\",\"name\":\"a\\tb\"}", "bad_request"},
        {"{\"type\":\"join\",\"token\":\"t\",\"name\":"
         "\"0123456789012345678901234567890123456789x\"}",
         "too_large"},
        {"{\"type\":\"remove\"}", "bad_request"},
        {"{\"type\":\"revoke\"}", "bad_request"},
        {"{\"type\":\"invite\",\"invite\":\"0a0b0c0d\"}", "bad_request"}, /* id without hash */
        {"{\"type\":\"invite\",\"invite\":\"0a0b0c0d\",\"hash\":\"AB\"}", "bad_request"},
        {"{\"type\":\"stats\",\"path\":\"p2p\",\"video\":\"no\"}", "bad_request"},
    };
    struct sigmsg m;
    const char *code;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        code = NULL;
        if (!CHECK(parse_str(bad[i].frame, &m, &code) < 0))
            fprintf(stderr, "    accepted: %s\n", bad[i].frame);
        else if (!CHECK_STR(code, bad[i].code))
            fprintf(stderr, "    frame: %s\n", bad[i].frame);
    }
    CHECK_INT(parse_str("{\"type\":\"join\",\"token\":\"t\",\"name\":\"Zoë\"}", &m, &code), 0);
    CHECK_STR(m.name, "Zoë");
    CHECK_INT(parse_str("{\"type\":\"join\",\"token\":\"t\",\"name\":null}", &m, &code), 0);
    CHECK_STR(m.name, "");
    CHECK_INT(parse_str("{\"type\":\"remove\",\"peer\":\"abc\",\"room\":\"r9\"}", &m, &code), 0);
    CHECK_STR(m.peer, "abc");
    CHECK_STR(m.room, "r9");
    CHECK_INT(parse_str("{\"type\":\"invite\",\"name\":\"Carer\",\"invite\":\"0a0b0c0d\",\"hash\":"
                        "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
                        &m, &code),
              0);
    CHECK_STR(m.name, "Carer");
    CHECK_STR(m.invite, "0a0b0c0d");
    CHECK_INT(strlen(m.hash), 64);
    CHECK_INT(parse_str("{\"type\":\"stats\",\"path\":\"p2p\"}", &m, &code), 0);
    CHECK(!m.video_off);
    CHECK_INT(parse_str("{\"type\":\"stats\",\"path\":\"p2p\",\"video\":false}", &m, &code), 0);
    CHECK(m.video_off);
}
