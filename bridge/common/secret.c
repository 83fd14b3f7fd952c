/* secret: file or environment, never the command line. */
#include "secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define SECRET_MAX 4096

char *secret_load(const char *path, const char *env, size_t *len)
{
	char *s = NULL;
	size_t n = 0;
	if (path) {
		FILE *f = fopen(path, "rb");
		if (!f) {
			log_error("%s: %s: %s", __func__, path, strerror(errno));
			return NULL;
		}
		s = malloc(SECRET_MAX + 1);
		if (s)
			n = fread(s, 1, SECRET_MAX, f);
		fclose(f);
		if (!s)
			return NULL;
		s[n] = '\0';
	} else {
		const char *v = env ? getenv(env) : NULL;
		if (!v)
			return NULL;
		s = strdup(v);
		if (!s)
			return NULL;
		n = strlen(s);
	}
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	if (n == 0) {
		log_error("%s: %s is empty", __func__, path ? path : env);
		free(s);
		return NULL;
	}
	if (len)
		*len = n;
	return s;
}
