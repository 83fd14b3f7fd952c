/* options: the command lines of ringmq's programs, from one table per
 * program. Each entry names a long option (--name), what it holds and
 * where, its bounds and its line of --help; options_parse fills the
 * destinations (which hold the defaults beforehand), and --help prints the
 * table. The config file (config.h) goes through the same table: every
 * option is a key of the file, with the same name, kind and bounds, unless
 * its kind carries OPTIONS_CLI; OPTIONS_LIVE says that a change of
 * it in the file applies on SIGHUP (the others are logged as needing a
 * restart). */
#ifndef RINGMQ_OPTIONS_H
#define RINGMQ_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define OPTIONS_ERR_MAX 256 /* the message of one refused value */

enum options_kind {
	OPTIONS_STR,    /* const char ** (the argv string itself) */
	OPTIONS_INT,    /* int *, within [min, max] */
	OPTIONS_LONG,   /* long *, within [min, max] */
	OPTIONS_SIZE,   /* size_t *, within [min, max] */
	OPTIONS_TRUE,   /* bool *, set true; takes no value */
	OPTIONS_FALSE,  /* bool *, set false; takes no value */
	OPTIONS_LIST,   /* struct options_list *: repeatable, each value appended */
	OPTIONS_LEVEL,  /* int *: a log level name (log.h) */
	OPTIONS_FORMAT, /* int *: a log format name, text or json (log.h) */
};

/* Flags an entry's kind may carry (OPTIONS_INT | OPTIONS_LIVE). */
#define OPTIONS_LIVE 0x100 /* a change in the config file applies on SIGHUP */
#define OPTIONS_CLI 0x200  /* command line only, no key of the config file (--config) */
#define OPTIONS_KIND(s) ((enum options_kind)((s)->kind & 0xff))

/* The values of a repeatable option: items (of max) holds n strings. */
struct options_list {
	const char **items;
	int n, max;
};

struct options_spec {
	const char *name;  /* without "--"; NULL ends the table */
	int kind;          /* an enum options_kind, with OPTIONS_LIVE or OPTIONS_CLI or'd in */
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

/* options_parse that also sets seen[i] (one per entry of spec, false
 * beforehand) for each entry argv gave. seen may be NULL. */
int options_parse_seen(const char *prog, const char *about, const struct options_spec *spec, int argc, char **argv,
		       bool *seen);

/* Sets s's destination from the text v, as the command line does (a list
 * appends). For OPTIONS_TRUE/FALSE, v is NULL (the flag given), "true" (the
 * same) or "false" (its opposite). v is borrowed and must outlive the
 * destination. 0, or -1 with why in err ("takes a whole number from 1 to
 * 10, not \"x\""), for the caller to prefix with the option's name. */
int options_take(const struct options_spec *s, const char *v, char *err, size_t cap);

/* "a,b,c" of a list's items into buf (cap bytes); -1 when it does not fit
 * or an item holds a comma (jwt_keyset_load takes comma-separated lists). */
int options_list_join(const struct options_list *l, char *buf, size_t cap);

/* The usage text of --help. */
void options_usage(FILE *f, const char *prog, const char *about, const struct options_spec *spec);

#endif
