/* config: one file for ringmq-bridge, ringmq-rules and the broker plugin,
 * read into each program's option table (options.h), so every long option
 * is a key of the file with the same name, kind and bounds.
 *
 * The file is mosquitto-like, one setting a line:
 *
 *   # a comment (a line whose first non-blank character is #)
 *   log-level = info                      shared: outside any section
 *   jwt-secret-file = /etc/ringmq/jwt_secret
 *   [bridge]
 *   max-frame = 65536
 *   allow-origin = https://app.example.com   a repeatable key: one line each
 *   [rules]
 *   ring-timeout-ms = 45000
 *   [plugin]
 *   outbox-rate = 50                      the plugin_opt_* names, with dashes
 *
 * Sections are the three parts: [bridge], [rules], [plugin]. Before the
 * first section only the shared keys (CONFIG_SHARED below) may stand; each
 * part takes those it has and skips the others (rules has no
 * jwt-secret-file). In its own section a part takes every key of its
 * table and refuses any other; the sections of the other parts it skips
 * (their programs check them). A key in a part's section wins over the
 * same key outside. Flags win over the file (the file does not touch an
 * option the command line gave), and the environment only gives defaults.
 * A bad value, an unknown key or section, a scalar key given twice in one
 * place: an error naming the file and the line.
 *
 * On SIGHUP a program reads the file again into a second set of
 * destinations (defaults, flags, file) and hands both tables to
 * config_apply: what changed is logged (old → new); an entry marked
 * OPTIONS_LIVE is copied over, any other is logged as needing a restart
 * and left as it was. A file that does not read leaves everything as it
 * was. */
#ifndef RINGMQ_CONFIG_H
#define RINGMQ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "options.h"

#define CONFIG_LINE_MAX 1024    /* bytes of one line */
#define CONFIG_LINES_MAX 10000  /* lines of one file */
#define CONFIG_SPEC_MAX 96      /* entries of one table */
#define CONFIG_ERR_MAX 1280     /* "file:line: why" */
#define CONFIG_SAY_MAX 2048     /* one line of config_apply */

/* The keys that may stand outside a section. */
#define CONFIG_SHARED                                                                                   \
	{"mqtt-host", "mqtt-port", "service-secret-file", "jwt-secret-file", "jwt-public-key-file",    \
	 "jwt-leeway-s", "jwt-audience", "jwt-issuer", "log-level", "log-format", "mqtt-tls", "mqtt-cafile",  \
	 "mqtt-capath", "mqtt-certfile", "mqtt-keyfile"}

/* The two entries of a program's table that name its config file:
 * --config FILE (section, e.g. "[rules]", named in --help) and
 * --check-config, each OPTIONS_CLI; path is a const char **, check a bool *. */
#define CONFIG_OPTIONS(path, check, section)                                                   \
	{"config", OPTIONS_STR | OPTIONS_CLI, (path), 0, 0, "FILE",                            \
	 "read settings from FILE, section " section " (flags win over it;\nSIGHUP reads it again)"}, \
	{"check-config", OPTIONS_TRUE | OPTIONS_CLI, (check), 0, 0, NULL,                      \
	 "check the settings (and the files they name), then exit"}

/* The strings read from config files, owned until no destination names
 * them (config_keep). */
struct config;

/* NULL when out of memory. */
struct config *config_new(void);
/* Frees every string c holds: only once no destination points to one. NULL-safe. */
void config_free(struct config *c);

/* Reads the file at path for part ("bridge", "rules" or "plugin") into
 * spec's destinations (as options_take: each repeatable key appends). An
 * entry with given[i] true (the command line set it; given may be NULL) is
 * left alone. The values are copies owned by c. 0, or -1 with
 * "path:line: why" (or "path: why") in err; the destinations may then be
 * partly set. */
int config_read(struct config *c, const char *path, const char *part, const struct options_spec *spec,
		const bool *given, char *err, size_t cap);

/* A program's settings at start and on SIGHUP: options_parse_seen over
 * argv into spec, then, when *path (the destination of its --config entry)
 * is set, config_read of that file for part, leaving alone what argv gave.
 * 0, 1 (--help printed), or 2: options_parse said why on stderr (err
 * empty), or the file's error is in err. */
int config_parse(const char *prog, const char *about, const struct options_spec *spec, int argc, char **argv,
		 const char *const *path, const char *part, struct config *c, char *err, size_t cap);

/* Sets the entry of spec named key (OPTIONS_CLI entries included) from
 * value, a copy owned by c, as options_take does, and marks it in given
 * (may be NULL): for settings that come from elsewhere than argv or the
 * file (the broker's plugin_opt_* lines). 0, or -1 with why in err
 * ("unknown key", or options_take's). */
int config_set(struct config *c, const struct options_spec *spec, const char *key, const char *value, bool *given,
	       char *err, size_t cap);

/* After a reload: cur and fresh are one table over two sets of
 * destinations (what is in force, what the file says now). For each entry
 * whose values differ, say(arg, line) gets "key: old → new" and, when the
 * entry is OPTIONS_LIVE, the value is copied from fresh into cur; else the
 * line ends "needs a restart, not applied" and cur keeps its value.
 * Returns the number of entries applied; *restart (may be NULL) gets the
 * number that need a restart. */
int config_apply(const struct options_spec *cur, const struct options_spec *fresh,
		 void (*say)(void *arg, const char *line), void *arg, int *restart);

/* Frees the strings of c that no destination of spec points to now (the
 * values a reload read and did not apply, the values it replaced). */
void config_keep(struct config *c, const struct options_spec *spec);

#endif
