/* vc-signal's account database from its keys (data-dir, or database with its password file and
 * timeout), for the daemon and the user and team commands alike. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "vc/accounts.h"
#include "vc/daemon.h"
#include "vc/secret.h"
#include "vc/store.h"
#include "signald.h"

int signald_db_open(const struct signald_db_keys *k, struct accounts **out, char *err,
                    size_t errlen)
{
    struct store_conf conf = {
        .database = k->database, .data_dir = k->data_dir, .timeout_ms = (unsigned)k->timeout};
    char why[384], password[SECRET_MAX + 1];
    struct secret pw = {.len = 0};
    int rc;

    *out = NULL;
    if (k->password_file && !k->database)
        return daemon_fail(err, errlen, "database-password-file: only with database");
    if (k->password_file) {
        rc = secret_read_file("database-password-file", k->password_file, &pw, err, errlen);
        if (rc < 0)
            return rc;
        memcpy(password, pw.bytes, pw.len);
        password[pw.len] = '\0';
        secret_wipe(&pw);
        conf.password = password;
    }
    rc = accounts_open_conf(&conf, out, why, sizeof(why));
    OPENSSL_cleanse(password, sizeof(password));
    if (rc < 0)
        daemon_fail(err, errlen, "%s: %s", k->database ? "database" : "data-dir", why);
    return rc;
}
