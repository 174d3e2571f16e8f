/* The TLS server context for TURN over TLS: OpenSSL 3, TLS 1.2 or later, AEAD ciphers only. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "turnd.h"

/* ECDHE key exchange with AEAD ciphers for TLS 1.2; TLS 1.3 suites are all AEAD already. */
#define TLS_CIPHERS_12 "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

static int tls_check_readable(const char *key, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");

    if (!f) {
        snprintf(err, errlen, "%s: cannot read %s: %s", key, path, strerror(errno));
        return -errno;
    }
    fclose(f);
    return 0;
}

static void tls_error(const char *key, const char *what, const char *path, char *err, size_t errlen)
{
    char reason[256];
    unsigned long e = ERR_peek_last_error();

    ERR_error_string_n(e, reason, sizeof(reason));
    snprintf(err, errlen, "%s: %s %s: %s", key, what, path, e ? reason : "unknown error");
    ERR_clear_error();
}

SSL_CTX *turnd_tls_new(const char *cert, const char *key, char *err, size_t errlen)
{
    static const unsigned char sid_ctx[] = "vc-turn";
    SSL_CTX *ctx;

    if (tls_check_readable("cert", cert, err, errlen) < 0 ||
        tls_check_readable("key", key, err, errlen) < 0)
        return NULL;
    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "cert: cannot create a TLS context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Partial writes let a frame leave in pieces from the output queue, which moves as it is
     * compacted; idle connections give their buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
        tls_error("cert", "cipher list", TLS_CIPHERS_12, err, errlen);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        tls_error("cert", "cannot load", cert, err, errlen);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        tls_error("key", "cannot load", key, err, errlen);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_error("key", "does not match the certificate:", key, err, errlen);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}
