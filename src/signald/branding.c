/* The organisation's branding (--branding FILE): the name, logo, colours, support phone and
 * privacy notice the patient's pages show, checked at start-up (contrast, the logo's bytes). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include <jansson.h>

#include "vc/sigmsg.h"
#include "branding.h"

#define BRANDING_DEFAULT_COLOUR "#0b57a4"
#define BRANDING_DEFAULT_TEXT "#ffffff"

static int branding_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int branding_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(err, errlen, "branding: ");

    va_start(ap, fmt);
    if (n > 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* ---- colours ---- */

static int branding_hex(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

int branding_parse_colour(const char *s, unsigned char rgb[3])
{
    size_t n = s ? strlen(s) : 0;

    if ((n != 4 && n != 7) || s[0] != '#')
        return -EINVAL;
    for (size_t i = 1; i < n; i++)
        if (branding_hex((unsigned char)s[i]) < 0)
            return -EINVAL;
    for (int i = 0; i < 3; i++) {
        int hi = branding_hex((unsigned char)s[n == 4 ? 1 + i : 1 + 2 * i]);
        int lo = branding_hex((unsigned char)s[n == 4 ? 1 + i : 2 + 2 * i]);
        rgb[i] = (unsigned char)(hi * 16 + lo);
    }
    return 0;
}

/* WCAG 2.x relative luminance of an sRGB colour. */
static double branding_luminance(const unsigned char rgb[3])
{
    static const double weight[3] = {0.2126, 0.7152, 0.0722};
    double l = 0;

    for (int i = 0; i < 3; i++) {
        double c = rgb[i] / 255.0;
        l += weight[i] * (c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4));
    }
    return l;
}

double branding_contrast(const unsigned char a[3], const unsigned char b[3])
{
    double la = branding_luminance(a), lb = branding_luminance(b);

    return la > lb ? (la + 0.05) / (lb + 0.05) : (lb + 0.05) / (la + 0.05);
}

/* ---- the logo ---- */

/* The first case-insensitive match of needle in hay (NUL-terminated), or NULL. */
static const char *branding_find(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

/* After an attribute's name at p: the start of its quoted value, or NULL when there is none. */
static const char *branding_value(const char *p)
{
    p += strspn(p, " \t\r\n");
    if (*p != '=')
        return NULL;
    p++;
    p += strspn(p, " \t\r\n");
    return *p == '"' || *p == '\'' ? p + 1 : NULL;
}

/* The first attribute after from whose name is prefix (more_letters: prefix and at least one
 * more letter, as the on* handlers), after a blank or a ':' (xlink:href) and followed by '=';
 * *value gets the start of its quoted value (NULL: unquoted). NULL when there is none. */
static const char *branding_attr(const char *from, const char *prefix, bool more_letters,
                                 const char **value)
{
    size_t n = strlen(prefix);

    for (const char *p = from + 1; (p = branding_find(p, prefix)) != NULL; p++) {
        const char *end = p + n;

        if (!strchr(" \t\r\n:", p[-1]))
            continue;
        if (more_letters) {
            if (!isalpha((unsigned char)*end))
                continue;
            while (isalpha((unsigned char)*end))
                end++;
        } else if (isalnum((unsigned char)*end) || *end == '-' || *end == ':') {
            continue;
        }
        if (end[strspn(end, " \t\r\n")] != '=')
            continue;
        *value = branding_value(end);
        return p;
    }
    return NULL;
}

/* Why an SVG's text (NUL-terminated) cannot be shown as a logo, or NULL when it can. */
static const char *branding_svg_danger(const char *text)
{
    static const struct {
        const char *needle, *why;
    } bad[] = {
        {"<script", "script (<script>)"},
        {"javascript:", "a script URL (javascript:)"},
        {"vbscript:", "a script URL (vbscript:)"},
        {"<!entity", "entity definitions (<!ENTITY>)"},
        {"<foreignobject", "embedded HTML (<foreignObject>)"},
        {"<iframe", "embedded content (<iframe>)"},
        {"<embed", "embedded content (<embed>)"},
        {"<object", "embedded content (<object>)"},
        {"<handler", "script (<handler>)"},
        {"<listener", "an event listener (<listener>)"},
        {"@import", "a reference to another file (@import)"},
    };
    const char *p;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (branding_find(text, bad[i].needle))
            return bad[i].why;
    const char *v;

    if (branding_attr(text, "on", true, &v))
        return "an event handler (an on...= attribute)";
    for (p = text; (p = branding_attr(p, "href", false, &v)) != NULL;)
        if (!v || *v != '#')
            return "a link to another file or site (href= not starting with #)";
    for (p = text; (p = branding_find(p, "url(")) != NULL; p++) {
        const char *u = p + 4 + strspn(p + 4, " \t\r\n\"'");
        if (*u != '#')
            return "a reference to another file (url() not starting with #)";
    }
    for (p = text; (p = branding_attr(p, "attributeName", false, &v)) != NULL;)
        if (!v || strncasecmp(v, "href", 4) == 0 || strncasecmp(v, "xlink:href", 10) == 0)
            return "an animation of a link (attributeName=\"href\")";
    return NULL;
}

/* The SVG root after the prolog (BOM, XML declaration, comments, a DOCTYPE without
 * definitions): true when text starts an <svg> element there. */
static bool branding_svg_root(const char *p, const char **why)
{
    if (strncmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    for (;;) {
        const char *end;
        size_t skip;

        p += strspn(p, " \t\r\n");
        if (strncmp(p, "<?xml", 5) == 0) {
            end = strstr(p, "?>");
            skip = 2;
        } else if (strncmp(p, "<!--", 4) == 0) {
            end = strstr(p, "-->");
            skip = 3;
        } else if (strncasecmp(p, "<!doctype", 9) == 0) {
            end = strchr(p, '>');
            skip = 1;
            if (end && memchr(p, '[', (size_t)(end - p))) {
                *why = "it is an SVG with a DOCTYPE that holds definitions";
                return false;
            }
        } else {
            break;
        }
        if (!end)
            return false;
        p = end + skip;
    }
    return strncmp(p, "<svg", 4) == 0 && strchr(" \t\r\n>", p[4]) && p[4];
}

int branding_sniff_logo(const unsigned char *buf, size_t len, const char **type, char *why,
                        size_t whylen)
{
    static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    const char *root_why = "its first bytes are neither a PNG's nor an SVG's";
    const char *danger;
    char *text;

    *type = NULL;
    if (len >= 33 && memcmp(buf, png, 8) == 0 && memcmp(buf + 12, "IHDR", 4) == 0) {
        *type = "image/png";
        return 0;
    }
    json_t *utf8 = len && !memchr(buf, '\0', len) ? json_stringn((const char *)buf, len) : NULL;

    json_decref(utf8); /* jansson checks the UTF-8: an SVG is text */
    if (!utf8) {
        snprintf(why, whylen, "%s", root_why);
        return -EINVAL;
    }
    if (!(text = malloc(len + 1))) {
        snprintf(why, whylen, "out of memory");
        return -EINVAL;
    }
    memcpy(text, buf, len);
    text[len] = '\0';
    if (!branding_svg_root(text, &root_why)) {
        snprintf(why, whylen, "%s", root_why);
        free(text);
        return -EINVAL;
    }
    danger = branding_svg_danger(text);
    free(text);
    if (danger) {
        snprintf(why, whylen, "it is an SVG with %s: refused, not cleaned; remove it", danger);
        return -EINVAL;
    }
    *type = "image/svg+xml";
    return 0;
}

/* Reads at most max bytes of path into *buf (owned by the caller). -EFBIG past max. */
static int branding_read(const char *path, size_t max, unsigned char **buf, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    ssize_t n;

    *buf = NULL;
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EISDIR;
    }
    if ((size_t)st.st_size > max) {
        close(fd);
        return -EFBIG;
    }
    *buf = malloc((size_t)st.st_size + 1);
    if (!*buf) {
        close(fd);
        return -ENOMEM;
    }
    *len = 0;
    while (*len <= max && (n = read(fd, *buf + *len, (size_t)st.st_size + 1 - *len)) > 0)
        *len += (size_t)n;
    close(fd);
    if (n < 0 || *len > (size_t)st.st_size) { /* an error, or the file grew meanwhile */
        free(*buf);
        *buf = NULL;
        return n < 0 ? -EIO : -EFBIG;
    }
    return 0;
}

/* The logo named by value (relative to dir), checked, into b. */
static int branding_logo(const char *dir, const char *value, struct branding *b, char *err,
                         size_t errlen)
{
    char path[4096], why[160];
    int r;

    if (snprintf(path, sizeof(path), "%s%s", value[0] == '/' ? "" : dir, value) >=
        (int)sizeof(path))
        return branding_fail(err, errlen, "logo: the path is too long");
    r = branding_read(path, BRANDING_LOGO_MAX, &b->logo, &b->logo_len);
    if (r == -EFBIG)
        return branding_fail(err, errlen, "logo: %s is over %d KB", path, BRANDING_LOGO_MAX / 1024);
    if (r < 0)
        return branding_fail(err, errlen, "logo: cannot read %s: %s", path, strerror(-r));
    if (branding_sniff_logo(b->logo, b->logo_len, &b->logo_type, why, sizeof(why)) < 0)
        return branding_fail(err, errlen, "logo: %s is not a PNG or SVG image we can show: %s",
                             path, why);
    return 0;
}

/* ---- the file ---- */

/* The branding file's values, borrowed from its JSON. */
struct branding_values {
    const char *name, *logo, *colour, *text, *phone, *privacy;
};

/* One string key: a string of 1..max bytes without control characters, else a message. */
static int branding_string(const char *key, json_t *v, size_t max, const char **out, char *err,
                           size_t errlen)
{
    const char *s = json_string_value(v);
    size_t n = s ? json_string_length(v) : 0;

    if (!s || n == 0 || n > max || strlen(s) != n)
        return branding_fail(err, errlen, "%s: must be a string of 1 to %zu bytes", key, max);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return branding_fail(err, errlen, "%s: must not hold control characters", key);
    *out = s;
    return 0;
}

static int branding_keys(json_t *root, struct branding_values *v, char *err, size_t errlen)
{
    const struct {
        const char *key;
        size_t max;
        const char **out;
    } keys[] = {
        {"name", BRANDING_NAME_MAX * 4, &v->name},
        {"logo", 4000, &v->logo},
        {"colour", 7, &v->colour},
        {"text-colour", 7, &v->text},
        {"phone", BRANDING_PHONE_MAX, &v->phone},
        {"privacy-url", BRANDING_URL_MAX, &v->privacy},
    };
    const char *key;
    json_t *val;

    json_object_foreach(root, key, val)
    {
        size_t i = 0;
        if (key[0] == '#')
            continue;
        while (i < sizeof(keys) / sizeof(keys[0]) && strcmp(keys[i].key, key) != 0)
            i++;
        if (i == sizeof(keys) / sizeof(keys[0]))
            return branding_fail(err, errlen,
                                 "unknown key \"%.40s\" (name, logo, colour, "
                                 "text-colour, phone, privacy-url)",
                                 key);
        if (branding_string(key, val, keys[i].max, keys[i].out, err, errlen) < 0)
            return -EINVAL;
    }
    return 0;
}

/* The values' own rules: the name's length in characters, the phone's characters, an https
 * privacy notice, colours that parse and keep their contrast. */
static int branding_check(struct branding_values *v, char *err, size_t errlen)
{
    unsigned char c[3], t[3];
    size_t digits = 0;
    double ratio;

    if (v->name && sigmsg_utf8_chars(v->name, strlen(v->name)) > BRANDING_NAME_MAX)
        return branding_fail(err, errlen, "name: at most %d characters", BRANDING_NAME_MAX);
    for (const char *p = v->phone; p && *p; p++) {
        if (!strchr("0123456789 +()-.", *p))
            return branding_fail(err, errlen, "phone: only digits, spaces and + ( ) - . please");
        digits += isdigit((unsigned char)*p) != 0;
    }
    if (v->phone && digits < 3)
        return branding_fail(err, errlen, "phone: needs at least 3 digits");
    if (v->privacy && (strncmp(v->privacy, "https://", 8) != 0 || !v->privacy[8] ||
                       strpbrk(v->privacy, " \"'<>\\`")))
        return branding_fail(err, errlen, "privacy-url: must be an https:// URL");
    if (!v->colour)
        v->colour = BRANDING_DEFAULT_COLOUR;
    if (!v->text)
        v->text = BRANDING_DEFAULT_TEXT;
    if (branding_parse_colour(v->colour, c) < 0)
        return branding_fail(err, errlen, "colour: \"%s\" is not #rgb or #rrggbb", v->colour);
    if (branding_parse_colour(v->text, t) < 0)
        return branding_fail(err, errlen, "text-colour: \"%s\" is not #rgb or #rrggbb", v->text);
    ratio = branding_contrast(c, t);
    if (ratio < BRANDING_MIN_CONTRAST)
        return branding_fail(err, errlen,
                             "colour and text-colour: %s text on %s has a contrast of %.2f:1; "
                             "WCAG 2.2 AA needs at least %.1f:1",
                             v->text, v->colour, floor(ratio * 100) / 100, BRANDING_MIN_CONTRAST);
    return 0;
}

/* The /branding.json body: what the pages show, with the colours in lower case. */
static int branding_body(const struct branding_values *v, struct branding *b)
{
    json_t *j = json_object();
    char colour[8], text[8];
    unsigned char c[3], t[3];

    if (!j)
        return -ENOMEM;
    branding_parse_colour(v->colour, c);
    branding_parse_colour(v->text, t);
    snprintf(colour, sizeof(colour), "#%02x%02x%02x", c[0], c[1], c[2]);
    snprintf(text, sizeof(text), "#%02x%02x%02x", t[0], t[1], t[2]);
    if ((v->name && json_object_set_new(j, "name", json_string(v->name)) < 0) ||
        json_object_set_new(j, "colour", json_string(colour)) < 0 ||
        json_object_set_new(j, "text_colour", json_string(text)) < 0 ||
        (v->phone && json_object_set_new(j, "phone", json_string(v->phone)) < 0) ||
        (v->privacy && json_object_set_new(j, "privacy_url", json_string(v->privacy)) < 0) ||
        (b->logo && json_object_set_new(j, "logo", json_string("/branding/logo")) < 0)) {
        json_decref(j);
        return -ENOMEM;
    }
    b->json = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!b->json)
        return -ENOMEM;
    b->json_len = strlen(b->json);
    return 0;
}

/* The directory of path with its trailing '/', or "" for a bare name. */
static void branding_dir(const char *path, char *out, size_t outlen)
{
    const char *slash = strrchr(path, '/');

    snprintf(out, outlen, "%.*s", slash ? (int)(slash - path + 1) : 0, path);
}

int branding_load(const char *path, struct branding *out, char *err, size_t errlen)
{
    struct branding_values v = {0};
    unsigned char *text = NULL;
    char dir[4096];
    json_error_t jerr;
    json_t *root;
    size_t len = 0;
    int r;

    memset(out, 0, sizeof(*out));
    if (!path) {
        out->json = strdup("{}");
        out->json_len = 2;
        return out->json ? 0 : branding_fail(err, errlen, "out of memory");
    }
    r = branding_read(path, BRANDING_FILE_MAX, &text, &len);
    if (r < 0)
        return branding_fail(err, errlen, "cannot read %s: %s", path,
                             r == -EFBIG ? "over 64 KiB" : strerror(-r));
    root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return branding_fail(err, errlen, "%s: line %d: %s", path, jerr.line, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return branding_fail(err, errlen, "%s: not a JSON object", path);
    }
    branding_dir(path, dir, sizeof(dir));
    r = branding_keys(root, &v, err, errlen);
    if (r == 0)
        r = branding_check(&v, err, errlen);
    if (r == 0 && v.logo)
        r = branding_logo(dir, v.logo, out, err, errlen);
    if (r == 0 && branding_body(&v, out) < 0)
        r = branding_fail(err, errlen, "out of memory");
    json_decref(root);
    if (r < 0)
        branding_free(out);
    return r;
}

void branding_free(struct branding *b)
{
    free(b->json);
    free(b->logo);
    memset(b, 0, sizeof(*b));
}
