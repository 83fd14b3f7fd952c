/* options: getopt_long over a table; options_take is the one place a
 * value's text becomes its destination's (the config file uses it too). */
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

int options_take(const struct options_spec *s, const char *v, char *err, size_t cap)
{
	long n;
	switch (OPTIONS_KIND(s)) {
	case OPTIONS_STR:
		*(const char **)s->dst = v;
		return 0;
	case OPTIONS_INT:
	case OPTIONS_LONG:
	case OPTIONS_SIZE:
		if (number(v, s->min, s->max, &n) != 0) {
			snprintf(err, cap, "takes a whole number from %ld to %ld, not \"%s\"", s->min, s->max, v);
			return -1;
		}
		if (OPTIONS_KIND(s) == OPTIONS_INT)
			*(int *)s->dst = (int)n;
		else if (OPTIONS_KIND(s) == OPTIONS_LONG)
			*(long *)s->dst = n;
		else
			*(size_t *)s->dst = (size_t)n;
		return 0;
	case OPTIONS_TRUE:
	case OPTIONS_FALSE:
		if (v && strcmp(v, "true") && strcmp(v, "false")) {
			snprintf(err, cap, "takes true or false, not \"%s\"", v);
			return -1;
		}
		*(bool *)s->dst = (OPTIONS_KIND(s) == OPTIONS_TRUE) == (!v || !strcmp(v, "true"));
		return 0;
	case OPTIONS_LIST: {
		struct options_list *l = s->dst;
		if (l->n >= l->max) {
			snprintf(err, cap, "may be given at most %d times", l->max);
			return -1;
		}
		l->items[l->n++] = v;
		return 0;
	}
	case OPTIONS_LEVEL:
	case OPTIONS_FORMAT: {
		bool level = OPTIONS_KIND(s) == OPTIONS_LEVEL;
		int got = level ? log_level_parse(v) : log_format_parse(v);
		if (got < 0) {
			snprintf(err, cap, "takes %s, not \"%s\"", level ? "error, warn, info or debug" : "text or json", v);
			return -1;
		}
		*(int *)s->dst = got;
		return 0;
	}
	}
	snprintf(err, cap, "has an unknown kind");
	return -1;
}

int options_list_join(const struct options_list *l, char *buf, size_t cap)
{
	size_t at = 0;
	buf[0] = '\0';
	for (int i = 0; i < l->n; i++) {
		int n = snprintf(buf + at, cap - at, "%s%s", i ? "," : "", l->items[i]);
		if (strchr(l->items[i], ',') || n < 0 || (size_t)n >= cap - at)
			return -1;
		at += (size_t)n;
	}
	return 0;
}

int options_parse(const char *prog, const char *about, const struct options_spec *spec, int argc, char **argv)
{
	return options_parse_seen(prog, about, spec, argc, argv, NULL);
}

int options_parse_seen(const char *prog, const char *about, const struct options_spec *spec, int argc, char **argv,
		       bool *seen)
{
	struct option opts[OPTIONS_MAX + 2];
	int n = 0;
	for (; spec[n].name; n++) {
		if (n == OPTIONS_MAX) {
			fprintf(stderr, "%s: %s: more than %d options\n", prog, __func__, OPTIONS_MAX);
			return 2;
		}
		bool flag = OPTIONS_KIND(&spec[n]) == OPTIONS_TRUE || OPTIONS_KIND(&spec[n]) == OPTIONS_FALSE;
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
			const struct options_spec *s = &spec[c - OPTIONS_VAL0];
			char err[OPTIONS_ERR_MAX];
			if (options_take(s, optarg, err, sizeof(err)) != 0) {
				fprintf(stderr, "%s: --%s %s\n", prog, s->name, err);
				return 2;
			}
			if (seen)
				seen[c - OPTIONS_VAL0] = true;
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
