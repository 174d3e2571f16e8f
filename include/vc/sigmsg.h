/* The vc.v1 WebSocket envelope: parse client messages and encode server messages. No I/O. */
#ifndef VC_SIGMSG_H
#define VC_SIGMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A text frame larger than this is refused with too_large and close 1009. */
#define SIGMSG_MAX_FRAME (64 * 1024)
#define SIGMSG_ID_MAX 32        /* peer ids */
#define SIGMSG_TOKEN_MAX 64     /* room tokens and resume tokens */
#define SIGMSG_CLINICIAN_MAX 32 /* clinician ids: "user:" and 16 hex digits */
/* A message to waiting patients: at most this many characters (Unicode code points). */
#define SIGMSG_TEXT_MAX_CHARS 280
#define SIGMSG_TEXT_MAX_BYTES (SIGMSG_TEXT_MAX_CHARS * 4)
/* A room's label: at most this many characters (HUB_LABEL_MAX_CHARS). */
#define SIGMSG_LABEL_MAX_CHARS 80
/* A participant's display name (join.name): at most this many characters. */
#define SIGMSG_NAME_MAX_CHARS 40
#define SIGMSG_NAME_MAX_BYTES (SIGMSG_NAME_MAX_CHARS * 4)
#define SIGMSG_HASH_HEX 64 /* hex characters of a SHA-256 */

enum sigmsg_type {
    SIGMSG_JOIN,
    SIGMSG_SIGNAL,
    SIGMSG_ADMIT,
    SIGMSG_DENY,
    SIGMSG_STATS,
    SIGMSG_LEAVE,
    SIGMSG_END,
    SIGMSG_PING,
    SIGMSG_PRECHECK,      /* a waiting guest's updated pre-call check (an extension of vc.v1) */
    SIGMSG_WATCH,         /* a clinician's dashboard asks for its live waiting area */
    SIGMSG_LOBBY_MESSAGE, /* a short text to one or every waiting guest of a room */
    SIGMSG_HANDOVER,      /* a consultation handed to another clinician of its team */
    SIGMSG_LABEL,         /* a consultation's label changed */
    SIGMSG_REMOVE,        /* a host takes a participant out of the call */
    SIGMSG_INVITE,        /* a guest invite to the room (from a host, a dashboard, a node) */
    SIGMSG_REVOKE,        /* an invite revoked */
};

enum sigmsg_path { SIGMSG_PATH_UNKNOWN = 0, SIGMSG_PATH_P2P, SIGMSG_PATH_RELAY };

/* The pre-call check a guest reports in join: booleans only (absent counts as false).
 * turn_checked: the relay checks have finished (until then the turn_* are not yet known). */
struct sigmsg_precheck {
    bool present;
    bool camera, microphone, turn_udp, turn_tcp, turn_tls, turn_checked;
};

struct sigmsg {
    enum sigmsg_type type;
    char token[SIGMSG_TOKEN_MAX + 1];  /* join; "" when it names a room instead */
    char resume[SIGMSG_TOKEN_MAX + 1]; /* join; "" when absent */
    struct sigmsg_precheck precheck;   /* join, precheck */
    char peer[SIGMSG_ID_MAX + 1]; /* signal.to, admit.peer, deny.peer, lobby-message.peer, remove */
    char room[SIGMSG_ID_MAX + 1]; /* join, admit, deny, lobby-message, handover; "" absent */
    char to[SIGMSG_CLINICIAN_MAX + 1];    /* handover: the clinician's id */
    char text[SIGMSG_TEXT_MAX_BYTES + 1]; /* lobby-message.text, label.label: UTF-8, no NUL */
    char name[SIGMSG_NAME_MAX_BYTES + 1]; /* join.name, invite.name: UTF-8, no control characters */
    char invite[SIGMSG_ID_MAX + 1];       /* invite.invite (from a node), revoke.invite */
    char hash[SIGMSG_HASH_HEX + 1];       /* invite.hash (from a node): the token's SHA-256, hex */
    /* signal.data: where its raw JSON text lies in the frame, so it is forwarded byte for byte
     * without being inspected or copied anywhere else. */
    size_t data_off, data_len;
    enum sigmsg_path path; /* stats */
    double rtt_ms, loss_pct, bitrate_kbps;
    bool video_off; /* stats.video: false (the browser sends no video) */
};

/* Parses one client text frame (borrowed). Returns 0, or -EMSGSIZE (too_large: the frame, or a
 * text field over its cap) or -EBADMSG (any other refusal) with *code set to the
 * protocol error code: "bad_json" (not a JSON object), "unknown_type", "bad_request" (a field is
 * missing, of the wrong type or out of range) or "too_large". */
int sigmsg_parse(const uint8_t *buf, size_t len, struct sigmsg *out, const char **code);
/* The same through jansson alone: the reference sigmsg_parse()'s fast path is checked against
 * (tests/fuzz/fuzz_sigmsg.c). */
int sigmsg_parse_reference(const uint8_t *buf, size_t len, struct sigmsg *out, const char **code);

/* The number of Unicode code points in the UTF-8 text s[0..n) (jansson has checked it). */
size_t sigmsg_utf8_chars(const char *s, size_t n);
/* True for "user:" and 16 lower-case hex digits: a clinician's id. */
bool sigmsg_clinician_id_valid(const char *s);

/* A growable output buffer with a cap, for building server frames. Every encoder below replaces
 * the buffer's contents (len is 0 after an error, so no partial frame is left) and keeps a NUL
 * after the frame. Encoders return 0, -EINVAL (a bad id, empty data, or "type" among the
 * fields), -EMSGSIZE past the limit, or -ENOMEM. */
struct sigmsg_buf {
    char *data;
    size_t len, cap, limit;
};
void sigmsg_buf_init(struct sigmsg_buf *b, size_t limit);
void sigmsg_buf_free(struct sigmsg_buf *b);

/* Appends n bytes of p (a CSV line, say): 0, -EMSGSIZE past the limit (b unchanged), -ENOMEM. */
int sigmsg_buf_add(struct sigmsg_buf *b, const void *p, size_t n);
/* Replaces b's contents with obj (borrowed) dumped compactly, keys in insertion order. */
struct json_t;
int sigmsg_buf_set_json(struct sigmsg_buf *b, const struct json_t *obj);

/* {"type":"signal","from":FROM,"data":DATA} with DATA copied verbatim. Returns 0 or -EMSGSIZE. */
int sigmsg_encode_signal(struct sigmsg_buf *b, const char *from, const uint8_t *data, size_t len);

/* {"type":"error","code":CODE,"message":MESSAGE}. */
int sigmsg_encode_error(struct sigmsg_buf *b, const char *code, const char *message);
/* The same with "by":BY (borrowed; NULL leaves it out): whom the error is about, for a page to
 * word it in its own language. */
int sigmsg_encode_error_by(struct sigmsg_buf *b, const char *code, const char *message,
                           const char *by);

/* Any other server message: {"type":TYPE, ...fields}, fields given as a jansson json_pack()
 * object format and its arguments (NULL for none), e.g.
 * sigmsg_encode(b, "peer-left", "{s:s}", "peer", id). Returns 0, -EINVAL or -EMSGSIZE. */
int sigmsg_encode(struct sigmsg_buf *b, const char *type, const char *fmt, ...);

#endif
