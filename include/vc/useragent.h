/* Reduces a User-Agent header to a browser family, major[.minor] version and OS for the logs. */
#ifndef VC_USERAGENT_H
#define VC_USERAGENT_H

#include <stddef.h>

/* Longest version written ("major.minor", digits and one dot only); buffers of
 * USERAGENT_VERSION_MAX + 1 bytes always hold it. */
#define USERAGENT_VERSION_MAX 15

/* Parses ua[0..len) (borrowed, received bytes: need not be NUL-terminated) and writes
 * NUL-terminated, normalised values into the caller's buffers (each truncated to its size; a size
 * of 0 leaves that buffer untouched):
 *   browser: chrome, firefox, safari, edge, samsung, opera or other
 *   version: major[.minor] in digits, "" when unknown
 *   os:      android, ios, windows, macos, linux, chromeos or other
 * No other text of the User-Agent is ever copied out. */
void useragent_parse(const char *ua, size_t len, char *browser, size_t blen, char *version,
                     size_t vlen, char *os, size_t olen);

#endif
