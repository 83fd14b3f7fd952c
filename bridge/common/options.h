/* options: the command lines of ringmq's programs, from one table per
 * program. Each entry names a long option (--name), what it holds and
 * where, its bounds and its line of --help; options_parse fills the
 * destinations (which hold the defaults beforehand), and --help prints the
 * table. A config file (one key = value a line, keys named as the long
 * options) is meant to go through the same table. */
#ifndef RINGMQ_OPTIONS_H
#define RINGMQ_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum options_kind {
	OPTIONS_STR,   /* const char ** (the argv string itself) */
	OPTIONS_INT,   /* int *, within [min, max] */
	OPTIONS_LONG,  /* long *, within [min, max] */
	OPTIONS_SIZE,  /* size_t *, within [min, max] */
	OPTIONS_TRUE,  /* bool *, set true; takes no value */
	OPTIONS_FALSE, /* bool *, set false; takes no value */
	OPTIONS_LIST,  /* struct options_list *: repeatable, each value appended */
	OPTIONS_LEVEL, /* int *: a log level name (log.h) */
};

/* The values of a repeatable option: items (of max) holds n strings. */
struct options_list {
	const char **items;
	int n, max;
};

struct options_spec {
	const char *name;  /* without "--"; NULL ends the table */
	enum options_kind kind;
	void *dst;
	long min, max;     /* OPTIONS_INT/LONG/SIZE */
	const char *arg;   /* the value's name in --help ("N", "FILE"), NULL for none */
	const char *help;  /* its text in --help (may hold "\n" for more lines) */
};

/* Parses argv against spec (ended by a NULL name). --help prints the usage
 * (prog, then about, then the table) to stdout. Returns 0, 1 when --help
 * was printed (exit 0), or 2 after a message on stderr naming the option
 * and what it takes (exit 2). */
int options_parse(const char *prog, const char *about, const struct options_spec *spec, int argc, char **argv);

/* The usage text of --help. */
void options_usage(FILE *f, const char *prog, const char *about, const struct options_spec *spec);

#endif
