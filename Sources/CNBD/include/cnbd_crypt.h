#ifndef CNBD_CRYPT_H
#define CNBD_CRYPT_H
// Why C: libxcrypt's <crypt.h> (crypt_gensalt_rn, crypt_rn, struct crypt_data) has no Glibc-module
// declaration, and struct crypt_data is 32 KiB, better kept off Swift's stack.

#include <stddef.h>

// Hashes `phrase` with a fresh random salt for `prefix` ("$y$" yescrypt, "$6$" SHA-512, default cost) into
// `out`; returns 0, or -1 with errno (EINVAL: a method this libcrypt does not know; ERANGE: `out` too small).
int cnbd_crypt_hash(const char *_Nonnull phrase, const char *_Nonnull prefix, char *_Nonnull out, size_t out_size);

// Hashes `phrase` with the method and salt of `setting` (an existing hash) into `out`; 0 or -1 with errno.
int cnbd_crypt_with_setting(const char *_Nonnull phrase, const char *_Nonnull setting, char *_Nonnull out, size_t out_size);

#endif
