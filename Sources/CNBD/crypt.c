#include "cnbd_crypt.h"
#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cnbd_crypt_with_setting(const char *phrase, const char *setting, char *out, size_t out_size) {
    struct crypt_data *data = calloc(1, sizeof *data);
    if (data == NULL) return -1;
    int result = -1;
    // crypt_rn returns NULL on failure and never the "*0" failure token crypt() may return.
    if (crypt_rn(phrase, setting, data, (int)sizeof *data) != NULL) {
        size_t length = strlen(data->output);
        if (length + 1 > out_size) {
            errno = ERANGE;
        } else {
            memcpy(out, data->output, length + 1);
            result = 0;
        }
    }
    explicit_bzero(data, sizeof *data);
    free(data);
    return result;
}

int cnbd_crypt_hash(const char *phrase, const char *prefix, char *out, size_t out_size) {
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    // NULL random bytes: libxcrypt reads the salt from the kernel's random source.
    if (crypt_gensalt_rn(prefix, 0, NULL, 0, setting, (int)sizeof setting) == NULL) return -1;
    return cnbd_crypt_with_setting(phrase, setting, out, out_size);
}
