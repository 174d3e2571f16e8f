/* Shared secrets from the config: given inline under one option, or as the first line of a file. */
#ifndef VC_SECRET_H
#define VC_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define SECRET_MAX 1024

/* A secret's bytes; len 0 when none was given. Wipe with secret_wipe() when done. */
struct secret {
    uint8_t bytes[SECRET_MAX];
    size_t len;
};

/* Where one secret comes from. All strings are borrowed. */
struct secret_opt {
    const char *key;      /* the inline option, "api-key"; its file option is KEY-file */
    const char *file_key; /* names the file in messages about reading it */
    const char *value;    /* the inline value, or NULL */
    const char *path;     /* the file, or NULL */
};

/* Reads the first line of path, blanks around it trimmed, into out. Returns 0, or -EINVAL with
 * a message starting "key: " in err for an unreadable file, a first line over SECRET_MAX bytes,
 * or an empty one. */
int secret_read_file(const char *key, const char *path, struct secret *out, char *err,
                     size_t errlen);

/* Fills out from o->value or o->path; neither leaves out->len 0 (the caller decides whether the
 * secret is required). Returns 0, or -EINVAL with a message naming the key in err when both are
 * given, the inline value is empty or over SECRET_MAX bytes, or the file cannot be used. */
int secret_load(const struct secret_opt *o, struct secret *out, char *err, size_t errlen);

/* Overwrites the secret's bytes with zeros. */
void secret_wipe(struct secret *s);

#endif
