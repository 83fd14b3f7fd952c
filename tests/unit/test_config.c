/* test_config: the config file (bridge/common/config.c) read into an
 * option table: comments, whitespace, sections (own, other parts',
 * unknown), shared keys, repeatable keys, bad values and unknown keys with
 * their line numbers, flags over the file, and config_apply / config_keep
 * for a reload (live keys applied, the others left and counted). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "log.h"
#include "options.h"

struct vals {
	const char *host, *name, *cfgpath;
	int rate, level;
	long leeway;
	size_t frame;
	bool exp;
	const char *items[3];
	struct options_list files;
	struct options_spec spec[12];
};

static void vals_init(struct vals *v)
{
	memset(v, 0, sizeof(*v));
	v->host = "127.0.0.1";
	v->rate = 50;
	v->frame = 65536;
	v->exp = true;
	v->level = LOG_LEVEL_INFO;
	v->files = (struct options_list){v->items, 0, 3};
	const struct options_spec spec[] = {
		{"config", OPTIONS_STR | OPTIONS_CLI, &v->cfgpath, 0, 0, "F", "the file"},
		{"mqtt-host", OPTIONS_STR, &v->host, 0, 0, "H", "host"},
		{"rate", OPTIONS_INT | OPTIONS_LIVE, &v->rate, 1, 1000, "N", "rate"},
		{"max-frame", OPTIONS_SIZE, &v->frame, 128, 1 << 20, "B", "frame"},
		{"jwt-leeway-s", OPTIONS_LONG | OPTIONS_LIVE, &v->leeway, 0, 3600, "N", "leeway"},
		{"jwt-secret-file", OPTIONS_LIST | OPTIONS_LIVE, &v->files, 0, 0, "F", "files"},
		{"no-require-exp", OPTIONS_FALSE | OPTIONS_LIVE, &v->exp, 0, 0, NULL, "exp"},
		{"log-level", OPTIONS_LEVEL | OPTIONS_LIVE, &v->level, 0, 0, "L", "level"},
		{"name", OPTIONS_STR | OPTIONS_LIVE, &v->name, 0, 0, "S", "a name"},
		{NULL, 0, NULL, 0, 0, NULL, NULL},
	};
	memcpy(v->spec, spec, sizeof(spec));
}

static char path[] = "/tmp/test_config_XXXXXX";

static void write_file(const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* Reads text for part "bridge" into v (fresh defaults); 0 or -1 with err. */
static int read_text(struct config *c, struct vals *v, const char *text, const bool *given, char *err)
{
	write_file(text);
	return config_read(c, path, "bridge", v->spec, given, err, CONFIG_ERR_MAX);
}

/* The error of text names the line: "<path>:<line>: " and holds what. */
static void check_error(struct config *c, const char *text, int line, const char *what)
{
	struct vals v;
	char err[CONFIG_ERR_MAX], want[64];
	vals_init(&v);
	CHECK_EQ_INT(read_text(c, &v, text, NULL, err), -1);
	snprintf(want, sizeof(want), "%s:%d: ", path, line);
	CHECK(strncmp(err, want, strlen(want)) == 0);
	CHECK(strstr(err, what) != NULL);
	if (strncmp(err, want, strlen(want)) || !strstr(err, what))
		fprintf(stderr, "  got \"%s\", wanted line %d and \"%s\"\n", err, line, what);
}

static char said[8][CONFIG_SAY_MAX];
static int nsaid;

static void say(void *arg, const char *line)
{
	if (nsaid < 8)
		snprintf(said[nsaid++], sizeof(said[0]), "%s", line);
}

int main(void)
{
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	struct config *c = config_new();
	struct vals v;
	char err[CONFIG_ERR_MAX];

	/* comments, blank lines, whitespace, shared keys, sections */
	vals_init(&v);
	CHECK_EQ_INT(read_text(c, &v,
			       "# a comment\n"
			       "\n"
			       "   mqtt-host   =   broker.local   \n"
			       "\tjwt-secret-file=/etc/a\n"
			       "jwt-leeway-s = 5\n"
			       "  # indented comment = not a key\n"
			       "[rules]\n"
			       "rate = 999999\n"           /* another part's section: skipped, even out of range */
			       "ring-timeout-ms = 1\n"     /* ... and keys this part has not */
			       "[ bridge ]\n"
			       "rate = 7\n"
			       "max-frame = 1024\n"
			       "no-require-exp = true\n"
			       "log-level = debug\n"
			       "jwt-leeway-s = 9\n"        /* the section wins over the shared value */
			       "name = a b  c\n"
			       "[plugin]\n"
			       "outbox-rate = 3\n",
			       NULL, err),
		     0);
	CHECK_EQ_STR(v.host, "broker.local");
	CHECK_EQ_INT(v.rate, 7);
	CHECK_EQ_INT(v.frame, 1024);
	CHECK_EQ_INT(v.leeway, 9);
	CHECK(!v.exp);
	CHECK_EQ_INT(v.level, LOG_LEVEL_DEBUG);
	CHECK_EQ_STR(v.name, "a b  c");
	CHECK_EQ_INT(v.files.n, 1);
	CHECK_EQ_STR(v.items[0], "/etc/a");

	/* a repeatable key, once per line; a section's list replaces the shared one */
	vals_init(&v);
	CHECK_EQ_INT(read_text(c, &v, "jwt-secret-file = /a\njwt-secret-file = /b\n", NULL, err), 0);
	CHECK_EQ_INT(v.files.n, 2);
	CHECK_EQ_STR(v.items[1], "/b");
	vals_init(&v);
	CHECK_EQ_INT(read_text(c, &v, "jwt-secret-file = /a\n[bridge]\njwt-secret-file = /c\n", NULL, err), 0);
	CHECK_EQ_INT(v.files.n, 1);
	CHECK_EQ_STR(v.items[0], "/c");

	/* flags over the file: an entry the command line gave is left alone */
	vals_init(&v);
	char *argv[] = {"test", "--rate", "3", "--jwt-secret-file", "/flag", NULL};
	bool given[12] = {false};
	CHECK_EQ_INT(options_parse_seen("test", "about", v.spec, 5, argv, given), 0);
	CHECK(given[2] && given[5] && !given[1]);
	CHECK_EQ_INT(read_text(c, &v, "jwt-secret-file = /file\n[bridge]\nrate = 9\nmax-frame = 2048\n", given, err), 0);
	CHECK_EQ_INT(v.rate, 3);
	CHECK_EQ_INT(v.files.n, 1);
	CHECK_EQ_STR(v.items[0], "/flag");
	CHECK_EQ_INT(v.frame, 2048);

	/* errors, each with its line */
	check_error(c, "# one\n\n[bridge]\nrate = 0\n", 4, "rate takes a whole number from 1 to 1000, not \"0\"");
	check_error(c, "[bridge]\nrate = 5x\n", 2, "rate takes a whole number");
	check_error(c, "[bridge]\nmax-frame = -1\n", 2, "max-frame takes");
	check_error(c, "[bridge]\nlog-level = loud\n", 2, "log-level takes error, warn, info or debug");
	check_error(c, "[bridge]\nno-require-exp = maybe\n", 2, "takes true or false");
	check_error(c, "\n\n[bridge]\nbogus = 1\n", 4, "unknown key bogus in [bridge]");
	check_error(c, "[bridge]\nconfig = /x\n", 2, "unknown key config");
	check_error(c, "rate = 5\n", 1, "rate is not a shared key");
	check_error(c, "[bridge]\nrate = 5\nrate = 6\n", 3, "rate given twice");
	check_error(c, "[bridge]\nrate\n", 2, "expected \"key = value\"");
	check_error(c, "[bridge]\nrate =\n", 2, "rate needs a value");
	check_error(c, "[bridge]\n= 5\n", 2, "a line without a key");
	check_error(c, "[bridges]\n", 1, "unknown section [bridges]");
	check_error(c, "[bridge\n", 1, "a section is [name]");
	check_error(c, "[bridge]\njwt-secret-file = 1\njwt-secret-file = 2\njwt-secret-file = 3\njwt-secret-file = 4\n", 5,
		    "at most 3 times");
	char longline[CONFIG_LINE_MAX + 64];
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "[bridge]\nname = ", 16);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	check_error(c, longline, 2, "longer than");
	CHECK_EQ_INT(config_read(c, "/nonexistent/ringmq.conf", "bridge", v.spec, NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "/nonexistent/ringmq.conf: ") == err);

	/* a reload: live keys applied and said, the others said and left */
	struct vals cur, fresh;
	vals_init(&cur);
	CHECK_EQ_INT(read_text(c, &cur, "[bridge]\nrate = 5\nmax-frame = 1024\nname = old\n", NULL, err), 0);
	config_keep(c, cur.spec);
	vals_init(&fresh);
	CHECK_EQ_INT(read_text(c, &fresh,
			       "jwt-secret-file = /k1\njwt-secret-file = /k2\n[bridge]\nrate = 6\nmax-frame = 2048\n"
			       "name = new\nmqtt-host = 127.0.0.1\n",
			       NULL, err),
		     0);
	int restart = -1;
	nsaid = 0;
	CHECK_EQ_INT(config_apply(cur.spec, fresh.spec, say, NULL, &restart), 3);
	CHECK_EQ_INT(restart, 1);
	CHECK_EQ_INT(cur.rate, 6);
	CHECK_EQ_INT(cur.frame, 1024);
	CHECK_EQ_STR(cur.name, "new");
	CHECK_EQ_INT(cur.files.n, 2);
	CHECK_EQ_STR(cur.items[1], "/k2");
	CHECK_EQ_INT(nsaid, 4);
	CHECK_EQ_STR(said[0], "rate: 5 → 6");
	CHECK_EQ_STR(said[1], "max-frame: 1024 → 2048: needs a restart, not applied");
	CHECK_EQ_STR(said[2], "jwt-secret-file: (none) → /k1, /k2");
	CHECK_EQ_STR(said[3], "name: old → new");
	/* the strings cur names survive the pruning; nothing changed is said again */
	config_keep(c, cur.spec);
	vals_init(&fresh);
	CHECK_EQ_INT(read_text(c, &fresh,
			       "jwt-secret-file = /k1\njwt-secret-file = /k2\n[bridge]\nrate = 6\nmax-frame = 1024\n"
			       "name = new\n",
			       NULL, err),
		     0);
	nsaid = 0;
	CHECK_EQ_INT(config_apply(cur.spec, fresh.spec, say, NULL, &restart), 0);
	CHECK_EQ_INT(nsaid, 0);
	CHECK_EQ_INT(restart, 0);
	config_keep(c, cur.spec);
	CHECK_EQ_STR(cur.name, "new");
	CHECK_EQ_STR(cur.items[0], "/k1");

	/* config_set: a value from elsewhere (plugin_opt_*), marked given */
	vals_init(&v);
	bool set[12] = {false};
	CHECK_EQ_INT(config_set(c, v.spec, "rate", "12", set, err, sizeof(err)), 0);
	CHECK_EQ_INT(v.rate, 12);
	CHECK(set[2]);
	CHECK_EQ_INT(config_set(c, v.spec, "rate", "0", set, err, sizeof(err)), -1);
	CHECK_EQ_INT(config_set(c, v.spec, "nope", "1", set, err, sizeof(err)), -1);

	config_free(c);
	unlink(path);
	return check_done("test_config");
}
