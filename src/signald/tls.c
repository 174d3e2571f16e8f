/* vc-signal's certificate loading with OpenSSL, shared by start-up checks and SIGHUP reloads. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "signald.h"

int signald_tls_load(SSL_CTX *ctx, const char *cert, const char *key, char *err, size_t errlen)
{
    bool key_step = false;

    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) == 1) {
        key_step = true;
        if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) == 1 &&
            SSL_CTX_check_private_key(ctx) == 1)
            return 0;
    }
    const char *why = ERR_reason_error_string(ERR_peek_last_error());

    snprintf(err, errlen, "%s: cannot load %s: %s", key_step ? "key" : "cert",
             key_step ? key : cert, why ? why : "bad PEM, or the key does not match");
    ERR_clear_error();
    return -EINVAL;
}

int signald_tls_check(const char *cert, const char *key, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int r;

    if (!ctx) {
        snprintf(err, errlen, "cert: cannot check it (out of memory)");
        return -ENOMEM;
    }
    r = signald_tls_load(ctx, cert, key, err, errlen);
    SSL_CTX_free(ctx);
    return r;
}
