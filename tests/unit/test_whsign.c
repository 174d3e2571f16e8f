/* Tests of the webhook signature: RFC 4231's HMAC-SHA256 vectors, and Vc-Signature headers
 * checked against Python's hmac and openssl dgst -hmac. */
#include <errno.h>
#include <string.h>

#include "../../src/signald/webhook.h"
#include "test.h"

#define BODY                                                                                       \
    "{\"id\":\"0123456789abcdef0123456789abcdef\",\"type\":\"room.created\",\"ts\":\"2026-12-"     \
    "07T18:"                                                                                       \
    "30:00.123Z\",\"data\":{\"room\":\"3f9c1a2b4d5e6f70\"}}"

TEST(whsign_hmac_matches_rfc4231_vectors)
{
    unsigned char key1[20];
    char hex[WHSIGN_HEX_LEN + 1];

    memset(key1, 0x0b, sizeof(key1));
    CHECK_INT(whsign_hmac_hex(key1, sizeof(key1), "", 0, "Hi There", 8, hex), 0);
    CHECK_STR(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* The message may come in two parts: the same MAC. */
    CHECK_INT(whsign_hmac_hex((const uint8_t *)"Jefe", 4, "what do ya", 10, " want for nothing?",
                              18, hex),
              0);
    CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(whsign_header_signs_time_dot_body)
{
    const uint8_t *key = (const uint8_t *)"whsec-test";
    char h[WHSIGN_HEADER_MAX];

    CHECK_INT(whsign_header(key, 10, 1796668200, BODY, strlen(BODY), h, sizeof(h)), 0);
    CHECK_STR(h,
              "t=1796668200,v1=e346f70241031052a1e3c8af298d97ebce6e09671a4418985dba3fcee95ad43b");
    /* Another second is another signature: the time is signed too. */
    CHECK_INT(whsign_header(key, 10, 1796668201, BODY, strlen(BODY), h, sizeof(h)), 0);
    CHECK_STR(h,
              "t=1796668201,v1=512fce724d88d39107760023a90fa692f62231093fab7dce2d26c0bb277808cc");
    CHECK_INT(whsign_header(key, 10, 1796668200, "", 0, h, sizeof(h)), 0);
    CHECK_STR(h,
              "t=1796668200,v1=5666f95f44453ea1ebd12c9ec53936f78d763d81f11ad807c0027120897680e4");
}

TEST(whsign_header_refuses_a_short_buffer)
{
    char h[40];

    CHECK_INT(whsign_header((const uint8_t *)"k", 1, 1796668200, "{}", 2, h, sizeof(h)), -ENOSPC);
}
