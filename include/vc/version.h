/* The release of vc: what --version prints for every command, in the man pages and the package. */
#ifndef VC_VERSION_H
#define VC_VERSION_H

#define VC_VERSION "0.1.0"

#endif
