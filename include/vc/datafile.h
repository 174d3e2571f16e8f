/* Private data files under --data-dir (databases): created with owner-only modes. */
#ifndef VC_DATAFILE_H
#define VC_DATAFILE_H

#include <stddef.h>

/* Creates dir (0700) if missing, and DIR/NAME with mode 0600 before a database opens it, so it
 * never exists with looser permissions; its path goes into path. Returns 0, or a negative errno
 * with a message in err. */
int datafile_prepare(const char *dir, const char *name, char *path, size_t pathlen, char *err,
                     size_t errlen);

#endif
