/* secret: reads a secret (JWT key, service password, API key) from a file
 * named by a flag, or else from an environment variable. Secrets never come
 * from the repository or the command line itself (ps would show them). */
#ifndef RINGMQ_SECRET_H
#define RINGMQ_SECRET_H

#include <stddef.h>

/* Loads from path when non-NULL (trailing newlines stripped), else from the
 * environment variable env. Returns a malloc'd NUL-terminated string
 * (caller frees) and its length in *len, or NULL when neither is set or
 * the file cannot be read (logged). */
char *secret_load(const char *path, const char *env, size_t *len);

#endif
