/* options: getopt_long over a table. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define OPTIONS_MAX 64    /* entries in one table */
#define OPTIONS_COLUMN 26 /* where the help text starts */
#define OPTIONS_VAL0 256  /* getopt_long values: OPTIONS_VAL0 + the entry's index */

void options_usage(FILE *f, const char *prog, const char *about, const struct options_spec *spec)
{
	fprintf(f, "Usage: %s [options]\n%s\n\n", prog, about);
	for (const struct options_spec *s = spec; s->name; s++) {
		char head[64];
		int n = snprintf(head, sizeof(head), "  --%s%s%s", s->name, s->arg ? " " : "", s->arg ? s->arg : "");
		fprintf(f, "%-*s", OPTIONS_COLUMN + 1, head);
		if (n > OPTIONS_COLUMN)
			fprintf(f, "\n%*s", OPTIONS_COLUMN + 1, "");
		for (const char *h = s->help; *h; h++) {
			fputc(*h, f);
			if (*h == '\n')
				fprintf(f, "%*s", OPTIONS_COLUMN + 1, "");
		}
		fputc('\n', f);
	}
	fprintf(f, "%-*s%s\n", OPTIONS_COLUMN + 1, "  --help", "this text");
}

static int number(const char *v, long min, long max, long *out)
{
	char *end = NULL;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static int take(const char *prog, const struct options_spec *s, const char *v)
{
	long n;
	switch (s->kind) {
	case OPTIONS_STR:
		*(const char **)s->dst = v;
		return 0;
	case OPTIONS_INT:
	case OPTIONS_LONG:
	case OPTIONS_SIZE:
		if (number(v, s->min, s->max, &n) != 0) {
			fprintf(stderr, "%s: --%s takes a whole number from %ld to %ld, not \"%s\"\n", prog, s->name,
				s->min, s->max, v);
			return 2;
		}
		if (s->kind == OPTIONS_INT)
			*(int *)s->dst = (int)n;
		else if (s->kind == OPTIONS_LONG)
			*(long *)s->dst = n;
		else
			*(size_t *)s->dst = (size_t)n;
		return 0;
	case OPTIONS_TRUE:
	case OPTIONS_FALSE:
		*(bool *)s->dst = s->kind == OPTIONS_TRUE;
		return 0;
	case OPTIONS_LIST: {
		struct options_list *l = s->dst;
		if (l->n >= l->max) {
			fprintf(stderr, "%s: --%s may be given at most %d times\n", prog, s->name, l->max);
			return 2;
		}
		l->items[l->n++] = v;
		return 0;
	}
	case OPTIONS_LEVEL: {
		int lv = log_level_parse(v);
		if (lv < 0) {
			fprintf(stderr, "%s: --%s takes error, warn, info or debug, not \"%s\"\n", prog, s->name, v);
			return 2;
		}
		*(int *)s->dst = lv;
		return 0;
	}
	}
	return 2;
}

int options_parse(const char *prog, const char *about, const struct options_spec *spec, int argc, char **argv)
{
	struct option opts[OPTIONS_MAX + 2];
	int n = 0;
	for (; spec[n].name; n++) {
		if (n == OPTIONS_MAX) {
			fprintf(stderr, "%s: %s: more than %d options\n", prog, __func__, OPTIONS_MAX);
			return 2;
		}
		bool flag = spec[n].kind == OPTIONS_TRUE || spec[n].kind == OPTIONS_FALSE;
		opts[n] = (struct option){spec[n].name, flag ? no_argument : required_argument, NULL, OPTIONS_VAL0 + n};
	}
	opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	opts[n] = (struct option){NULL, 0, NULL, 0};
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'h') {
			options_usage(stdout, prog, about, spec);
			return 1;
		}
		if (c >= OPTIONS_VAL0) {
			int rc = take(prog, &spec[c - OPTIONS_VAL0], optarg);
			if (rc)
				return rc;
			continue;
		}
		if (c == ':')
			fprintf(stderr, "%s: %s needs a value (see --help)\n", prog, argv[optind - 1]);
		else
			fprintf(stderr, "%s: unknown option %s (see --help)\n", prog, argv[optind - 1]);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument %s (see --help)\n", prog, argv[optind]);
		return 2;
	}
	return 0;
}
