/* The vc.v1 envelope codec: validates client frames (jansson) and builds capped server frames. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "vc/sigmsg.h"
#include "jsonscan.h"

/* Every error below is a malformed frame; the protocol code tells the cases apart. */
#define SIGMSG_BAD (-EBADMSG)

/* First allocation of an output buffer; it doubles from there up to the buffer's limit. */
#define SIGMSG_BUF_START 256

/* ---- identifiers ------------------------------------------------------------------------- */

static bool sigmsg_id_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* True when s[0..n) is 1..max characters of [A-Za-z0-9_-]. */
static bool sigmsg_id_valid(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!sigmsg_id_char((unsigned char)s[i]))
            return false;
    return true;
}

/* Copies the id string v into dst (max + 1 bytes). Returns false when v is not a valid id. */
static bool sigmsg_take_id(const json_t *v, char *dst, size_t max)
{
    size_t n;

    if (!json_is_string(v))
        return false;
    n = json_string_length(v);
    if (!sigmsg_id_valid(json_string_value(v), n, max))
        return false;
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    return true;
}

/* ---- raw span of the top-level "data" value ---------------------------------------------- */

/* A cursor over a frame jansson has already accepted. The scanner still checks every bound, so a
 * disagreement with jansson ends in an error, never an out-of-bounds read. */
struct sigmsg_scan {
    const uint8_t *p;
    size_t len, pos;
};

static void sigmsg_scan_ws(struct sigmsg_scan *s)
{
    while (s->pos < s->len) {
        uint8_t c = s->p[s->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        s->pos++;
    }
}

static bool sigmsg_scan_at(const struct sigmsg_scan *s, uint8_t c)
{
    return s->pos < s->len && s->p[s->pos] == c;
}

/* Skips the string that opens at pos ('"'), leaving pos after its closing quote. An escape skips
 * the byte after the backslash, which covers \" and \\; the hex digits of \uXXXX need no care. */
static int sigmsg_scan_string(struct sigmsg_scan *s)
{
    s->pos++;
    while (s->pos < s->len) {
        uint8_t c = s->p[s->pos++];
        if (c == '"')
            return 0;
        if (c == '\\') {
            if (s->pos >= s->len)
                return SIGMSG_BAD;
            s->pos++;
        }
    }
    return SIGMSG_BAD;
}

/* True for a byte that ends a bare scalar (number, true, false, null). */
static bool sigmsg_scan_delim(uint8_t c)
{
    return c == ',' || c == '}' || c == ']' || c == ':' || c == ' ' || c == '\t' || c == '\n' ||
           c == '\r' || c == '"' || c == '{' || c == '[';
}

/* Skips one value of any kind, iteratively (depth is bounded only by the frame, not the stack). */
static int sigmsg_scan_value(struct sigmsg_scan *s)
{
    size_t depth = 0;

    do {
        uint8_t c;

        if (s->pos >= s->len)
            return SIGMSG_BAD;
        c = s->p[s->pos];
        if (c == '"') {
            if (sigmsg_scan_string(s) < 0)
                return SIGMSG_BAD;
        } else if (c == '{' || c == '[') {
            depth++;
            s->pos++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return SIGMSG_BAD;
            depth--;
            s->pos++;
        } else if (depth > 0) {
            s->pos++; /* commas, colons, whitespace and scalars inside a container */
        } else {
            size_t start = s->pos;
            while (s->pos < s->len && !sigmsg_scan_delim(s->p[s->pos]))
                s->pos++;
            if (s->pos == start)
                return SIGMSG_BAD;
        }
    } while (depth > 0);
    return 0;
}

static int sigmsg_hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* True when the raw key text k[0..n) (between the quotes) decodes to exactly "data". Escapes are
 * decoded as JSON does, so "d\u0061ta" matches. A surrogate or non-ASCII code point can never be
 * one of the four ASCII letters, so it fails the comparison without being assembled. */
static bool sigmsg_key_is_data(const uint8_t *k, size_t n)
{
    static const char want[] = "data";
    size_t i = 0, got = 0;

    while (i < n) {
        unsigned c = k[i++];
        if (c == '\\') {
            if (i >= n)
                return false;
            c = k[i++];
            if (c == 'u') {
                unsigned cp = 0;
                if (n - i < 4)
                    return false;
                for (int j = 0; j < 4; j++) {
                    int h = sigmsg_hexval(k[i++]);
                    if (h < 0)
                        return false;
                    cp = cp << 4 | (unsigned)h;
                }
                c = cp;
            } else if (c != '"' && c != '\\' && c != '/') {
                return false; /* \b \f \n \r \t: control characters, never in "data" */
            }
        }
        if (got >= sizeof(want) - 1 || c != (unsigned char)want[got])
            return false;
        got++;
    }
    return got == sizeof(want) - 1;
}

/* Finds the raw text of the value of the top-level key "data" in an object frame. Returns 0,
 * -ENOENT when there is no such key, or -EBADMSG when the frame is not a well-formed object. */
static int sigmsg_find_data(const uint8_t *buf, size_t len, size_t *off, size_t *vlen)
{
    struct sigmsg_scan s = {buf, len, 0};
    bool found = false;

    sigmsg_scan_ws(&s);
    if (!sigmsg_scan_at(&s, '{'))
        return SIGMSG_BAD;
    s.pos++;
    sigmsg_scan_ws(&s);
    if (sigmsg_scan_at(&s, '}'))
        return -ENOENT;
    for (;;) {
        size_t kstart, kend, vstart;

        sigmsg_scan_ws(&s);
        if (!sigmsg_scan_at(&s, '"'))
            return SIGMSG_BAD;
        kstart = s.pos;
        if (sigmsg_scan_string(&s) < 0)
            return SIGMSG_BAD;
        kend = s.pos;
        sigmsg_scan_ws(&s);
        if (!sigmsg_scan_at(&s, ':'))
            return SIGMSG_BAD;
        s.pos++;
        sigmsg_scan_ws(&s);
        vstart = s.pos;
        if (sigmsg_scan_value(&s) < 0)
            return SIGMSG_BAD;
        if (sigmsg_key_is_data(buf + kstart + 1, kend - kstart - 2)) {
            if (found)
                return SIGMSG_BAD; /* cannot happen under JSON_REJECT_DUPLICATES */
            found = true;
            *off = vstart;
            *vlen = s.pos - vstart;
        }
        sigmsg_scan_ws(&s);
        if (sigmsg_scan_at(&s, ','))
            s.pos++;
        else if (sigmsg_scan_at(&s, '}'))
            break;
        else
            return SIGMSG_BAD;
    }
    return found ? 0 : -ENOENT;
}

/* ---- per-type validation ----------------------------------------------------------------- */

static int sigmsg_parse_precheck(const json_t *pc, struct sigmsg_precheck *out)
{
    static const struct {
        const char *key;
        size_t off;
    } fields[] = {
        {"camera", offsetof(struct sigmsg_precheck, camera)},
        {"microphone", offsetof(struct sigmsg_precheck, microphone)},
        {"turn_udp", offsetof(struct sigmsg_precheck, turn_udp)},
        {"turn_tcp", offsetof(struct sigmsg_precheck, turn_tcp)},
        {"turn_tls", offsetof(struct sigmsg_precheck, turn_tls)},
        {"turn_checked", offsetof(struct sigmsg_precheck, turn_checked)},
    };

    if (!json_is_object(pc))
        return SIGMSG_BAD;
    out->present = true;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const json_t *v = json_object_get(pc, fields[i].key);
        if (!v)
            continue;
        if (!json_is_boolean(v))
            return SIGMSG_BAD;
        *(bool *)((char *)out + fields[i].off) = json_is_true(v);
    }
    return 0;
}

size_t sigmsg_utf8_chars(const char *s, size_t n)
{
    size_t chars = 0;

    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    return chars;
}

bool sigmsg_clinician_id_valid(const char *s)
{
    size_t n = strnlen(s, SIGMSG_CLINICIAN_MAX + 1);

    return n == 21 && memcmp(s, "user:", 5) == 0 && strspn(s + 5, "0123456789abcdef") == 16;
}

/* An optional room id ("" when absent): 0 or SIGMSG_BAD. */
static int sigmsg_take_room(const json_t *root, struct sigmsg *out, bool required)
{
    const json_t *v = json_object_get(root, "room");

    if (!v)
        return required ? SIGMSG_BAD : 0;
    return sigmsg_take_id(v, out->room, SIGMSG_ID_MAX) ? 0 : SIGMSG_BAD;
}

/* An optional display name (join.name): 0 to SIGMSG_NAME_MAX_CHARS characters without control
 * characters, into out->name; -EMSGSIZE past the cap. */
static int sigmsg_take_name(const json_t *v, struct sigmsg *out)
{
    size_t n = json_is_string(v) ? json_string_length(v) : 0;
    const char *s = json_is_string(v) ? json_string_value(v) : "";

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || strlen(s) != n)
        return SIGMSG_BAD;
    if (n > SIGMSG_NAME_MAX_BYTES || sigmsg_utf8_chars(s, n) > SIGMSG_NAME_MAX_CHARS)
        return -EMSGSIZE;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return SIGMSG_BAD;
    memcpy(out->name, s, n + 1);
    return 0;
}

/* join names its room by a token (a link) or, for a clinician's session, by the room's id. */
static int sigmsg_parse_join(const json_t *root, struct sigmsg *out)
{
    const json_t *resume = json_object_get(root, "resume");
    const json_t *pc = json_object_get(root, "precheck");
    const json_t *token = json_object_get(root, "token");

    if (token
            ? !sigmsg_take_id(token, out->token, SIGMSG_TOKEN_MAX) || json_object_get(root, "room")
            : sigmsg_take_room(root, out, true) < 0)
        return SIGMSG_BAD;
    if (resume && !json_is_null(resume) && !sigmsg_take_id(resume, out->resume, SIGMSG_TOKEN_MAX))
        return SIGMSG_BAD;
    if (pc && sigmsg_parse_precheck(pc, &out->precheck) < 0)
        return SIGMSG_BAD;
    return sigmsg_take_name(json_object_get(root, "name"), out);
}

static int sigmsg_parse_signal(const json_t *root, const uint8_t *buf, size_t len,
                               struct sigmsg *out)
{
    if (!sigmsg_take_id(json_object_get(root, "to"), out->peer, SIGMSG_ID_MAX))
        return SIGMSG_BAD;
    if (!json_object_get(root, "data"))
        return SIGMSG_BAD;
    if (sigmsg_find_data(buf, len, &out->data_off, &out->data_len) < 0)
        return SIGMSG_BAD;
    return 0;
}

/* An optional finite number in [min, max]; absent leaves *dst at 0. */
static int sigmsg_take_number(const json_t *root, const char *key, double max, double *dst)
{
    const json_t *v = json_object_get(root, key);
    double d;

    if (!v)
        return 0;
    if (!json_is_number(v))
        return SIGMSG_BAD;
    d = json_number_value(v);
    if (!isfinite(d) || d < 0 || d > max)
        return SIGMSG_BAD;
    *dst = d;
    return 0;
}

static int sigmsg_parse_stats(const json_t *root, struct sigmsg *out)
{
    const json_t *path = json_object_get(root, "path");
    const char *p;

    if (!json_is_string(path))
        return SIGMSG_BAD;
    p = json_string_value(path);
    if (strcmp(p, "p2p") == 0)
        out->path = SIGMSG_PATH_P2P;
    else if (strcmp(p, "relay") == 0)
        out->path = SIGMSG_PATH_RELAY;
    else
        return SIGMSG_BAD;
    if (sigmsg_take_number(root, "rtt_ms", 600000, &out->rtt_ms) < 0 ||
        sigmsg_take_number(root, "loss_pct", 100, &out->loss_pct) < 0 ||
        sigmsg_take_number(root, "bitrate_kbps", 10000000, &out->bitrate_kbps) < 0)
        return SIGMSG_BAD;
    const json_t *video = json_object_get(root, "video");
    if (video && !json_is_boolean(video))
        return SIGMSG_BAD;
    out->video_off = json_is_false(video);
    return 0;
}

/* A string field of at most max_chars characters into out->text (too_large past that); empty
 * only when empty_ok. */
static int sigmsg_take_text(const json_t *v, struct sigmsg *out, size_t max_chars, bool empty_ok)
{
    size_t n = json_is_string(v) ? json_string_length(v) : 0;

    if (!json_is_string(v) || (n == 0 && !empty_ok) || strlen(json_string_value(v)) != n)
        return SIGMSG_BAD;
    if (n > SIGMSG_TEXT_MAX_BYTES || sigmsg_utf8_chars(json_string_value(v), n) > max_chars)
        return -EMSGSIZE;
    memcpy(out->text, json_string_value(v), n + 1);
    return 0;
}

/* lobby-message: text of 1..SIGMSG_TEXT_MAX_CHARS characters, an optional peer (every waiting
 * guest without one) and the room (a host's own room without one). */
static int sigmsg_parse_lobby_message(const json_t *root, struct sigmsg *out)
{
    const json_t *peer = json_object_get(root, "peer");

    if (sigmsg_take_room(root, out, false) < 0 ||
        (peer && !sigmsg_take_id(peer, out->peer, SIGMSG_ID_MAX)))
        return SIGMSG_BAD;
    return sigmsg_take_text(json_object_get(root, "text"), out, SIGMSG_TEXT_MAX_CHARS, false);
}

static int sigmsg_parse_handover(const json_t *root, struct sigmsg *out)
{
    const json_t *to = json_object_get(root, "to");

    if (sigmsg_take_room(root, out, true) < 0 || !json_is_string(to) ||
        json_string_length(to) > SIGMSG_CLINICIAN_MAX ||
        !sigmsg_clinician_id_valid(json_string_value(to)))
        return SIGMSG_BAD;
    memcpy(out->to, json_string_value(to), json_string_length(to) + 1);
    return 0;
}

/* invite {room?, name?} from a host or a dashboard; another node passing on a REST call adds
 * the invite's id and its token's hash. */
static int sigmsg_parse_invite(const json_t *root, struct sigmsg *out)
{
    const json_t *id = json_object_get(root, "invite"), *hash = json_object_get(root, "hash");

    if (sigmsg_take_room(root, out, false) < 0 || (id && !sigmsg_take_id(id, out->invite, 16)) ||
        (hash && (!sigmsg_take_id(hash, out->hash, SIGMSG_HASH_HEX) ||
                  strspn(out->hash, "0123456789abcdef") != SIGMSG_HASH_HEX)) ||
        !id != !hash)
        return SIGMSG_BAD;
    return sigmsg_take_name(json_object_get(root, "name"), out);
}

static const struct {
    const char *name;
    enum sigmsg_type type;
} sigmsg_types[] = {
    {"join", SIGMSG_JOIN},
    {"signal", SIGMSG_SIGNAL},
    {"admit", SIGMSG_ADMIT},
    {"deny", SIGMSG_DENY},
    {"stats", SIGMSG_STATS},
    {"leave", SIGMSG_LEAVE},
    {"end", SIGMSG_END},
    {"ping", SIGMSG_PING},
    {"precheck", SIGMSG_PRECHECK},
    {"watch", SIGMSG_WATCH},
    {"lobby-message", SIGMSG_LOBBY_MESSAGE},
    {"handover", SIGMSG_HANDOVER},
    {"label", SIGMSG_LABEL},
    {"remove", SIGMSG_REMOVE},
    {"invite", SIGMSG_INVITE},
    {"revoke", SIGMSG_REVOKE},
};

/* Validates the fields of a frame whose type is known. Returns 0, or -EBADMSG (bad_request). */
static int sigmsg_parse_fields(const json_t *root, const uint8_t *buf, size_t len,
                               struct sigmsg *out)
{
    switch (out->type) {
    case SIGMSG_JOIN:
        return sigmsg_parse_join(root, out);
    case SIGMSG_SIGNAL:
        return sigmsg_parse_signal(root, buf, len, out);
    case SIGMSG_ADMIT:
    case SIGMSG_DENY:
    case SIGMSG_REMOVE:
        return sigmsg_take_id(json_object_get(root, "peer"), out->peer, SIGMSG_ID_MAX)
                   ? sigmsg_take_room(root, out, false)
                   : SIGMSG_BAD;
    case SIGMSG_LOBBY_MESSAGE:
        return sigmsg_parse_lobby_message(root, out);
    case SIGMSG_INVITE:
        return sigmsg_parse_invite(root, out);
    case SIGMSG_REVOKE:
        return sigmsg_take_id(json_object_get(root, "invite"), out->invite, 16)
                   ? sigmsg_take_room(root, out, false)
                   : SIGMSG_BAD;
    case SIGMSG_HANDOVER:
        return sigmsg_parse_handover(root, out);
    case SIGMSG_LABEL:
        return sigmsg_take_room(root, out, false) < 0
                   ? SIGMSG_BAD
                   : sigmsg_take_text(json_object_get(root, "label"), out, SIGMSG_LABEL_MAX_CHARS,
                                      true);
    case SIGMSG_STATS:
        return sigmsg_parse_stats(root, out);
    case SIGMSG_PRECHECK: {
        const json_t *pc = json_object_get(root, "precheck");
        return pc ? sigmsg_parse_precheck(pc, &out->precheck) : SIGMSG_BAD;
    }
    case SIGMSG_LEAVE:
    case SIGMSG_END:
    case SIGMSG_PING:
    case SIGMSG_WATCH:
        return 0;
    }
    return SIGMSG_BAD;
}

/* ---- the fast path ------------------------------------------------------------------------ */

/* Nesting the fast path looks into; deeper frames go to jansson. */
#define SIGMSG_FAST_DEPTH 32

/* Raw spans of the top-level members the fast path reads. */
struct sigmsg_fast {
    const uint8_t *buf;
    size_t type_off, type_len, to_off, to_len, data_off, data_len;
};

static void sigmsg_fast_member(void *arg, const uint8_t *key, size_t klen, size_t voff, size_t vlen)
{
    struct sigmsg_fast *f = arg;

    if (klen == 4 && memcmp(key, "type", 4) == 0) {
        f->type_off = voff;
        f->type_len = vlen;
    } else if (klen == 2 && memcmp(key, "to", 2) == 0) {
        f->to_off = voff;
        f->to_len = vlen;
    } else if (klen == 4 && memcmp(key, "data", 4) == 0) {
        f->data_off = voff;
        f->data_len = vlen;
    }
}

/* True when the span is the JSON string "want" written plainly. */
static bool sigmsg_fast_is(const struct sigmsg_fast *f, size_t off, size_t len, const char *want)
{
    size_t n = strlen(want);

    return len == n + 2 && f->buf[off] == '"' && memcmp(f->buf + off + 1, want, n) == 0;
}

/* The frames that carry the traffic (signal, and ping, leave, end), checked by jsonscan without
 * building a tree. True with out filled; false sends the frame to jansson, which decides (so a
 * frame is never accepted here that jansson would refuse, and every error comes from there). */
static bool sigmsg_parse_fast(const uint8_t *buf, size_t len, struct sigmsg *out)
{
    struct jscan s = {buf, len, 0};
    struct sigmsg_fast f = {.buf = buf};

    jscan_ws(&s);
    if (s.pos >= len || buf[s.pos] != '{' ||
        jscan_object(&s, SIGMSG_FAST_DEPTH, sigmsg_fast_member, &f) != JSCAN_OK)
        return false;
    jscan_ws(&s);
    if (s.pos != len || !f.type_len)
        return false;
    if (sigmsg_fast_is(&f, f.type_off, f.type_len, "signal")) {
        /* An id has no escapes, so its raw text is its value. */
        if (!f.data_len || f.to_len < 3 || buf[f.to_off] != '"' ||
            !sigmsg_id_valid((const char *)buf + f.to_off + 1, f.to_len - 2, SIGMSG_ID_MAX))
            return false;
        memcpy(out->peer, buf + f.to_off + 1, f.to_len - 2);
        out->peer[f.to_len - 2] = '\0';
        out->data_off = f.data_off;
        out->data_len = f.data_len;
        out->type = SIGMSG_SIGNAL;
        return true;
    }
    static const struct {
        const char *name;
        enum sigmsg_type type;
    } bare[] = {{"ping", SIGMSG_PING}, {"leave", SIGMSG_LEAVE}, {"end", SIGMSG_END}};
    for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
        if (sigmsg_fast_is(&f, f.type_off, f.type_len, bare[i].name)) {
            out->type = bare[i].type;
            return true;
        }
    }
    return false;
}

int sigmsg_parse(const uint8_t *buf, size_t len, struct sigmsg *out, const char **code)
{
    if (code)
        *code = NULL;
    memset(out, 0, sizeof(*out));
    if (buf && len > 0 && len <= SIGMSG_MAX_FRAME && !memchr(buf, 0, len) &&
        sigmsg_parse_fast(buf, len, out))
        return 0;
    return sigmsg_parse_reference(buf, len, out, code);
}

int sigmsg_parse_reference(const uint8_t *buf, size_t len, struct sigmsg *out, const char **code)
{
    const char *unused;
    json_error_t jerr;
    const json_t *type;
    json_t *root;
    size_t i, n = sizeof(sigmsg_types) / sizeof(sigmsg_types[0]);
    int rc;

    if (!code)
        code = &unused;
    *code = NULL;
    memset(out, 0, sizeof(*out));
    if (len > SIGMSG_MAX_FRAME) {
        *code = "too_large";
        return -EMSGSIZE;
    }
    /* A raw NUL is never valid JSON, but jansson drops one that follows a scalar ("[1\0]"
     * loads), which would let it through into forwarded data. */
    if (!buf || len == 0 || memchr(buf, 0, len)) {
        *code = "bad_json";
        return SIGMSG_BAD;
    }
    root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        *code = "bad_json";
        return SIGMSG_BAD;
    }
    type = json_object_get(root, "type");
    if (!json_is_string(type)) {
        json_decref(root);
        *code = "bad_request";
        return SIGMSG_BAD;
    }
    for (i = 0; i < n; i++)
        if (strcmp(json_string_value(type), sigmsg_types[i].name) == 0)
            break;
    if (i == n) {
        json_decref(root);
        *code = "unknown_type";
        return SIGMSG_BAD;
    }
    out->type = sigmsg_types[i].type;
    rc = sigmsg_parse_fields(root, buf, len, out);
    json_decref(root);
    if (rc < 0)
        *code = rc == -EMSGSIZE ? "too_large" : "bad_request";
    return rc;
}

/* ---- output buffer ----------------------------------------------------------------------- */

void sigmsg_buf_init(struct sigmsg_buf *b, size_t limit)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->limit = limit;
}

void sigmsg_buf_free(struct sigmsg_buf *b)
{
    free(b->data);
    sigmsg_buf_init(b, b->limit);
}

/* Appends n bytes, keeping a NUL after the content (cap counts it). The content never exceeds
 * limit bytes: -EMSGSIZE then, with the buffer unchanged. */
static int sigmsg_buf_append(struct sigmsg_buf *b, const void *p, size_t n)
{
    size_t need;

    if (n > b->limit || b->len > b->limit - n || b->len + n >= SIZE_MAX / 2)
        return -EMSGSIZE;
    need = b->len + n + 1;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : SIGMSG_BUF_START;
        char *d;
        while (cap < need)
            cap *= 2; /* need <= limit + 1, so this stops before overflow for any sane limit */
        if (cap > b->limit + 1)
            cap = b->limit + 1;
        d = realloc(b->data, cap);
        if (!d)
            return -ENOMEM;
        b->data = d;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int sigmsg_buf_add(struct sigmsg_buf *b, const void *p, size_t n)
{
    return sigmsg_buf_append(b, p, n);
}

static int sigmsg_buf_puts(struct sigmsg_buf *b, const char *s)
{
    return sigmsg_buf_append(b, s, strlen(s));
}

/* ---- encoders ---------------------------------------------------------------------------- */

int sigmsg_encode_signal(struct sigmsg_buf *b, const char *from, const uint8_t *data, size_t len)
{
    int rc;

    b->len = 0;
    if (!from || !sigmsg_id_valid(from, strnlen(from, SIGMSG_ID_MAX + 1), SIGMSG_ID_MAX))
        return -EINVAL;
    if (!data || len == 0)
        return -EINVAL;
    if ((rc = sigmsg_buf_puts(b, "{\"type\":\"signal\",\"from\":\"")) < 0 ||
        (rc = sigmsg_buf_puts(b, from)) < 0 || (rc = sigmsg_buf_puts(b, "\",\"data\":")) < 0 ||
        (rc = sigmsg_buf_append(b, data, len)) < 0 || (rc = sigmsg_buf_puts(b, "}")) < 0) {
        b->len = 0;
        return rc;
    }
    return 0;
}

struct sigmsg_dump {
    struct sigmsg_buf *b;
    int rc;
};

static int sigmsg_dump_cb(const char *buffer, size_t size, void *data)
{
    struct sigmsg_dump *d = data;
    int rc = sigmsg_buf_append(d->b, buffer, size);

    if (rc < 0) {
        d->rc = rc;
        return -1;
    }
    return 0;
}

int sigmsg_buf_set_json(struct sigmsg_buf *b, const json_t *obj)
{
    struct sigmsg_dump d = {b, 0};

    b->len = 0;
    if (json_dump_callback(obj, sigmsg_dump_cb, &d, JSON_COMPACT | JSON_PRESERVE_ORDER) < 0) {
        b->len = 0;
        return d.rc < 0 ? d.rc : -EINVAL;
    }
    return 0;
}

/* A new object holding only "type", so it dumps first. Returns NULL for a bad type string. */
static json_t *sigmsg_new_typed(const char *type)
{
    json_t *obj, *t;

    if (!type || !(t = json_string(type)))
        return NULL;
    obj = json_object();
    if (!obj || json_object_set_new(obj, "type", t) < 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

int sigmsg_encode_error_by(struct sigmsg_buf *b, const char *code, const char *message,
                           const char *by)
{
    json_t *obj = sigmsg_new_typed("error");
    int rc = -EINVAL;

    b->len = 0;
    if (!obj)
        return -ENOMEM;
    if (code && message && json_object_set_new(obj, "code", json_string(code)) == 0 &&
        json_object_set_new(obj, "message", json_string(message)) == 0 &&
        (!by || json_object_set_new(obj, "by", json_string(by)) == 0))
        rc = sigmsg_buf_set_json(b, obj);
    json_decref(obj);
    return rc;
}

int sigmsg_encode_error(struct sigmsg_buf *b, const char *code, const char *message)
{
    return sigmsg_encode_error_by(b, code, message, NULL);
}

int sigmsg_encode(struct sigmsg_buf *b, const char *type, const char *fmt, ...)
{
    json_t *obj, *fields = NULL;
    json_error_t jerr;
    int rc = -EINVAL;

    b->len = 0;
    obj = sigmsg_new_typed(type);
    if (!obj)
        return -EINVAL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fields = json_vpack_ex(&jerr, 0, fmt, ap);
        va_end(ap);
        /* "type" among the fields would silently replace the one set above. */
        if (!json_is_object(fields) || json_object_get(fields, "type") ||
            json_object_update(obj, fields) < 0)
            goto out;
    }
    rc = sigmsg_buf_set_json(b, obj);
out:
    json_decref(fields);
    json_decref(obj);
    return rc;
}
