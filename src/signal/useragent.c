/* The User-Agent normaliser: maps a UA header to fixed browser/OS names and a numeric version. */
#include <string.h>

#include "vc/useragent.h"

/* Browser rules, first match wins. Chromium-based browsers (Edge, Samsung Internet, Opera) also
 * say "Chrome/", and Chrome says "Safari/", so the specific tokens come before the generic ones.
 * On iOS every browser is WebKit and names itself with its own token (CriOS, FxiOS, EdgiOS). */
static const struct {
    const char *token; /* followed by the version */
    const char *browser;
} useragent_browsers[] = {
    {"EdgA/", "edge"},
    {"EdgiOS/", "edge"},
    {"Edg/", "edge"},
    {"Edge/", "edge"},
    {"SamsungBrowser/", "samsung"},
    {"OPR/", "opera"},
    {"OPiOS/", "opera"},
    {"OPT/", "opera"},
    {"CriOS/", "chrome"},
    {"FxiOS/", "firefox"},
    {"Firefox/", "firefox"},
    {"Chromium/", "chrome"},
    {"Chrome/", "chrome"},
};

/* OS rules, first match wins: Android UAs say "Linux", iOS UAs say "like Mac OS X". */
static const struct {
    const char *token;
    const char *os;
} useragent_oses[] = {
    {"CrOS", "chromeos"},   {"Android", "android"}, {"iPhone", "ios"},
    {"iPad", "ios"},        {"iPod", "ios"},        {"Windows", "windows"},
    {"Macintosh", "macos"}, {"Mac OS X", "macos"},  {"Linux", "linux"},
};

/* Copies a constant name into dst (size n), truncating; nothing for n == 0. */
static void useragent_put(char *dst, size_t n, const char *s)
{
    size_t l = strlen(s);

    if (!dst || n == 0)
        return;
    if (l >= n)
        l = n - 1;
    memcpy(dst, s, l);
    dst[l] = '\0';
}

/* Where token starts in ua[0..len), or NULL. */
static const char *useragent_find(const char *ua, size_t len, const char *token)
{
    return ua ? memmem(ua, len, token, strlen(token)) : NULL;
}

static size_t useragent_digits(const char *p, const char *end)
{
    size_t n = 0;

    while (p + n < end && p[n] >= '0' && p[n] <= '9')
        n++;
    return n;
}

/* Writes major[.minor] from the digits at p (up to end) into out (size n): only digits and one
 * dot. A version that does not fit in USERAGENT_VERSION_MAX (or n) is dropped, not cut. */
static void useragent_version(const char *p, const char *end, char *out, size_t n)
{
    size_t cap = n ? n - 1 : 0, major, minor = 0, total;

    if (!out || n == 0)
        return;
    out[0] = '\0';
    if (cap > USERAGENT_VERSION_MAX)
        cap = USERAGENT_VERSION_MAX;
    major = useragent_digits(p, end);
    if (major == 0 || major > cap)
        return;
    if (p + major < end && p[major] == '.')
        minor = useragent_digits(p + major + 1, end);
    total = major;
    if (minor > 0 && major + 1 + minor <= cap)
        total = major + 1 + minor;
    memcpy(out, p, total);
    out[total] = '\0';
}

void useragent_parse(const char *ua, size_t len, char *browser, size_t blen, char *version,
                     size_t vlen, char *os, size_t olen)
{
    const char *name = "other", *vp = NULL, *hit;
    const char *end = ua ? ua + len : NULL;
    size_t i;

    if (!ua)
        len = 0;
    for (i = 0; i < sizeof(useragent_browsers) / sizeof(useragent_browsers[0]); i++) {
        hit = useragent_find(ua, len, useragent_browsers[i].token);
        if (hit) {
            name = useragent_browsers[i].browser;
            vp = hit + strlen(useragent_browsers[i].token);
            break;
        }
    }
    /* Safari names its engine in "Safari/NNN"; its own version is in "Version/x.y". */
    if (!vp && useragent_find(ua, len, "Safari/") && (hit = useragent_find(ua, len, "Version/"))) {
        name = "safari";
        vp = hit + strlen("Version/");
    }
    useragent_put(browser, blen, name);
    useragent_put(version, vlen, "");
    if (vp)
        useragent_version(vp, end, version, vlen);

    name = "other";
    for (i = 0; i < sizeof(useragent_oses) / sizeof(useragent_oses[0]); i++) {
        if (useragent_find(ua, len, useragent_oses[i].token)) {
            name = useragent_oses[i].os;
            break;
        }
    }
    /* The iOS-only browser tokens settle the OS even if the device part was trimmed. */
    if (strcmp(name, "other") == 0 &&
        (useragent_find(ua, len, "CriOS/") || useragent_find(ua, len, "FxiOS/") ||
         useragent_find(ua, len, "EdgiOS/") || useragent_find(ua, len, "OPiOS/")))
        name = "ios";
    useragent_put(os, olen, name);
}
