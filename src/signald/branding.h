/* The organisation's branding on the patient's pages (--branding FILE): checked once at start-up,
 * then served from memory as /branding.json and /branding/logo. No I/O after loading. */
#ifndef VC_SIGNALD_BRANDING_H
#define VC_SIGNALD_BRANDING_H

#include <stdbool.h>
#include <stddef.h>

#define BRANDING_FILE_MAX (64 * 1024)  /* the JSON file */
#define BRANDING_LOGO_MAX (200 * 1024) /* a logo of more bytes is refused */
#define BRANDING_NAME_MAX 80           /* characters of the organisation's name */
#define BRANDING_PHONE_MAX 32          /* bytes of the support phone number */
#define BRANDING_URL_MAX 300           /* bytes of the privacy notice's URL */
#define BRANDING_MIN_CONTRAST 4.5      /* WCAG 2.2 AA for normal text */

/* What the pages get. Without --branding: the neutral defaults, json "{}" and no logo. */
struct branding {
    char *json; /* owned: the /branding.json body, NUL-terminated */
    size_t json_len;
    unsigned char *logo; /* owned; NULL: no logo */
    size_t logo_len;
    const char *logo_type; /* static: "image/png" or "image/svg+xml"; NULL without a logo */
};

/* Reads and checks the branding file at path (NULL: the defaults), and the logo it names
 * (relative to the file's directory unless absolute). Every key is optional: "name", "logo",
 * "colour" and "text-colour" (#rgb or #rrggbb: the pair must reach BRANDING_MIN_CONTRAST),
 * "phone", "privacy-url" (https://); keys starting with '#' are comments. Returns 0 with out
 * filled (free it with branding_free), or -EINVAL with a message in err that names the key. */
int branding_load(const char *path, struct branding *out, char *err, size_t errlen);
void branding_free(struct branding *b);

/* The pieces, for the unit tests. */
/* "#rgb" or "#rrggbb" (either case) into rgb: 0 or -EINVAL. */
int branding_parse_colour(const char *s, unsigned char rgb[3]);
/* The WCAG contrast ratio of two sRGB colours, 1 to 21. */
double branding_contrast(const unsigned char a[3], const unsigned char b[3]);
/* What a logo's bytes are, whatever its file is called: 0 with *type "image/png" or
 * "image/svg+xml", or -EINVAL with why (for the message: "it is neither ..."). An SVG that holds
 * script, an event handler, a DOCTYPE with definitions, embedded content or a reference to
 * another file or site is refused, not cleaned: why says what was found. */
int branding_sniff_logo(const unsigned char *buf, size_t len, const char **type, char *why,
                        size_t whylen);

#endif
