/* config: the config file into an option table (design: config.h). Lines
 * are read with fgets into a bounded buffer; each value is copied once
 * into the struct config's array of strings, which config_keep prunes to
 * what the destinations still name, so reloads never add up. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_STRINGS_MAX CONFIG_LINES_MAX /* values held at once: one per line at most, per read */

static const char *const parts[] = {"bridge", "rules", "plugin"};
static const char *const shared[] = CONFIG_SHARED;

struct config {
	char **s;
	size_t n, cap;
};

enum scope { SCOPE_NONE, SCOPE_SHARED, SCOPE_PART };

struct config *config_new(void)
{
	return calloc(1, sizeof(struct config));
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->s[i]);
	free(c->s);
	free(c);
}

static char *hold(struct config *c, const char *v)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		if (cap > 2 * CONFIG_STRINGS_MAX)
			return NULL;
		char **s = realloc(c->s, cap * sizeof(*s));
		if (!s)
			return NULL;
		c->s = s;
		c->cap = cap;
	}
	char *d = strdup(v);
	if (d)
		c->s[c->n++] = d;
	return d;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static bool in(const char *s, const char *const *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, words[i]))
			return true;
	return false;
}

static int find(const struct options_spec *spec, const char *key)
{
	for (int i = 0; spec[i].name; i++)
		if (!(spec[i].kind & OPTIONS_CLI) && !strcmp(spec[i].name, key))
			return i;
	return -1;
}

static bool scalar(const struct options_spec *s)
{
	return OPTIONS_KIND(s) != OPTIONS_LIST;
}

/* One "key = value" line of scope into spec: 0 (taken or skipped), or -1
 * with why in err. */
static int take_line(struct config *c, const struct options_spec *spec, const bool *given, enum scope scope,
		     const char *part, enum scope *set, char *line, char *err, size_t cap)
{
	char *eq = strchr(line, '=');
	if (!eq) {
		snprintf(err, cap, "expected \"key = value\", not \"%.64s\"", line);
		return -1;
	}
	*eq = '\0';
	char *key = trim(line), *value = trim(eq + 1);
	if (!*key) {
		snprintf(err, cap, "a line without a key");
		return -1;
	}
	if (!*value) {
		snprintf(err, cap, "%.64s needs a value", key);
		return -1;
	}
	if (scope == SCOPE_NONE)
		return 0; /* another part's section: its program checks it */
	int i = find(spec, key);
	if (scope == SCOPE_SHARED && !in(key, shared, sizeof(shared) / sizeof(shared[0]))) {
		snprintf(err, cap, "%.64s is not a shared key: put it in [bridge], [rules] or [plugin]", key);
		return -1;
	}
	if (i < 0) {
		if (scope == SCOPE_SHARED)
			return 0; /* a shared key this part has not */
		snprintf(err, cap, "unknown key %.64s in [%s]", key, part);
		return -1;
	}
	const struct options_spec *s = &spec[i];
	if (given && given[i])
		return 0; /* the command line wins */
	if (set[i] == SCOPE_PART && scope == SCOPE_SHARED)
		return 0; /* the part's own section wins */
	if (set[i] == scope && scalar(s)) {
		snprintf(err, cap, "%s given twice", key);
		return -1;
	}
	if (set[i] == SCOPE_SHARED && scope == SCOPE_PART && !scalar(s))
		((struct options_list *)s->dst)->n = 0; /* the section's list replaces the shared one */
	set[i] = scope;
	const char *v = hold(c, value);
	if (!v) {
		snprintf(err, cap, "out of memory");
		return -1;
	}
	char why[OPTIONS_ERR_MAX];
	if (options_take(s, v, why, sizeof(why)) != 0) {
		snprintf(err, cap, "%s %s", key, why);
		return -1;
	}
	return 0;
}

int config_read(struct config *c, const char *path, const char *part, const struct options_spec *spec,
		const bool *given, char *err, size_t cap)
{
	enum scope set[CONFIG_SPEC_MAX] = {SCOPE_NONE};
	int n = 0;
	while (spec[n].name)
		if (++n > CONFIG_SPEC_MAX) {
			snprintf(err, cap, "%s: %s: more than %d options", path, __func__, CONFIG_SPEC_MAX);
			return -1;
		}
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		return -1;
	}
	char buf[CONFIG_LINE_MAX + 2], why[CONFIG_ERR_MAX / 2];
	enum scope scope = SCOPE_SHARED;
	int lineno = 0, rc = 0;
	while (fgets(buf, sizeof(buf), f)) {
		lineno++;
		size_t len = strlen(buf);
		if (lineno > CONFIG_LINES_MAX) {
			snprintf(why, sizeof(why), "more than %d lines", CONFIG_LINES_MAX);
			rc = -1;
		} else if (len && buf[len - 1] != '\n' && !feof(f)) {
			snprintf(why, sizeof(why), "a line longer than %d bytes", CONFIG_LINE_MAX);
			rc = -1;
		}
		if (rc)
			break;
		char *line = trim(buf);
		if (!*line || *line == '#')
			continue;
		if (*line == '[') {
			size_t l = strlen(line);
			char *name = line + 1;
			if (line[l - 1] != ']') {
				snprintf(why, sizeof(why), "a section is [name], not \"%.64s\"", line);
				rc = -1;
				break;
			}
			line[l - 1] = '\0';
			name = trim(name);
			if (!in(name, parts, sizeof(parts) / sizeof(parts[0]))) {
				snprintf(why, sizeof(why), "unknown section [%.64s] (bridge, rules, plugin)", name);
				rc = -1;
				break;
			}
			scope = !strcmp(name, part) ? SCOPE_PART : SCOPE_NONE;
			continue;
		}
		if ((rc = take_line(c, spec, given, scope, part, set, line, why, sizeof(why))) != 0)
			break;
	}
	if (!rc && ferror(f)) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		rc = -1;
	} else if (rc) {
		snprintf(err, cap, "%s:%d: %s", path, lineno, why);
	}
	fclose(f);
	return rc;
}

int config_parse(const char *prog, const char *about, const struct options_spec *spec, int argc, char **argv,
		 const char *const *path, const char *part, struct config *c, char *err, size_t cap)
{
	bool given[CONFIG_SPEC_MAX] = {false};
	err[0] = '\0';
	int rc = options_parse_seen(prog, about, spec, argc, argv, given);
	if (rc)
		return rc;
	return *path && config_read(c, *path, part, spec, given, err, cap) ? 2 : 0;
}

int config_set(struct config *c, const struct options_spec *spec, const char *key, const char *value, bool *given,
	       char *err, size_t cap)
{
	int i = 0;
	while (spec[i].name && strcmp(spec[i].name, key))
		i++;
	if (!spec[i].name) {
		snprintf(err, cap, "unknown key %.64s", key);
		return -1;
	}
	const char *v = hold(c, value);
	char why[OPTIONS_ERR_MAX];
	if (!v) {
		snprintf(err, cap, "out of memory");
		return -1;
	}
	if (options_take(&spec[i], v, why, sizeof(why)) != 0) {
		snprintf(err, cap, "%s %s", key, why);
		return -1;
	}
	if (given)
		given[i] = true;
	return 0;
}

/* The value of s's destination as the file would say it, into buf. */
static const char *describe(const struct options_spec *s, char *buf, size_t cap)
{
	static const char *const levels[] = {"error", "warn", "info", "debug"}, *const formats[] = {"text", "json"};
	const void *d = s->dst;
	switch (OPTIONS_KIND(s)) {
	case OPTIONS_STR:
		snprintf(buf, cap, "%s", *(const char *const *)d ? *(const char *const *)d : "(none)");
		break;
	case OPTIONS_INT:
		snprintf(buf, cap, "%d", *(const int *)d);
		break;
	case OPTIONS_LONG:
		snprintf(buf, cap, "%ld", *(const long *)d);
		break;
	case OPTIONS_SIZE:
		snprintf(buf, cap, "%zu", *(const size_t *)d);
		break;
	case OPTIONS_TRUE:
	case OPTIONS_FALSE:
		snprintf(buf, cap, "%s", *(const bool *)d == (OPTIONS_KIND(s) == OPTIONS_TRUE) ? "true" : "false");
		break;
	case OPTIONS_LEVEL:
	case OPTIONS_FORMAT: {
		int v = *(const int *)d;
		bool level = OPTIONS_KIND(s) == OPTIONS_LEVEL;
		snprintf(buf, cap, "%s", v < 0 || v > (level ? 3 : 1) ? "?" : level ? levels[v] : formats[v]);
		break;
	}
	case OPTIONS_LIST: {
		const struct options_list *l = d;
		size_t at = 0;
		buf[0] = '\0';
		for (int i = 0; i < l->n && at < cap; i++)
			at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? ", " : "", l->items[i]);
		if (!l->n)
			snprintf(buf, cap, "(none)");
		break;
	}
	}
	return buf;
}

static size_t value_size(enum options_kind k)
{
	switch (k) {
	case OPTIONS_STR:
		return sizeof(const char *);
	case OPTIONS_LONG:
		return sizeof(long);
	case OPTIONS_SIZE:
		return sizeof(size_t);
	case OPTIONS_TRUE:
	case OPTIONS_FALSE:
		return sizeof(bool);
	default:
		return sizeof(int);
	}
}

static bool same(const struct options_spec *a, const struct options_spec *b)
{
	if (OPTIONS_KIND(a) == OPTIONS_STR) {
		const char *x = *(const char *const *)a->dst, *y = *(const char *const *)b->dst;
		return x == y || (x && y && !strcmp(x, y));
	}
	if (OPTIONS_KIND(a) == OPTIONS_LIST) {
		const struct options_list *x = a->dst, *y = b->dst;
		for (int i = 0; x->n == y->n && i < x->n; i++)
			if (strcmp(x->items[i], y->items[i]))
				return false;
		return x->n == y->n;
	}
	return !memcmp(a->dst, b->dst, value_size(OPTIONS_KIND(a)));
}

static void copy(const struct options_spec *to, const struct options_spec *from)
{
	if (OPTIONS_KIND(to) == OPTIONS_LIST) {
		struct options_list *t = to->dst;
		const struct options_list *f = from->dst;
		for (int i = 0; i < f->n && i < t->max; i++)
			t->items[i] = f->items[i];
		t->n = f->n < t->max ? f->n : t->max;
		return;
	}
	memcpy(to->dst, from->dst, value_size(OPTIONS_KIND(to)));
}

int config_apply(const struct options_spec *cur, const struct options_spec *fresh,
		 void (*say)(void *arg, const char *line), void *arg, int *restart)
{
	int applied = 0, later = 0;
	for (int i = 0; cur[i].name && fresh[i].name; i++) {
		if ((cur[i].kind & OPTIONS_CLI) || same(&cur[i], &fresh[i]))
			continue;
		char was[CONFIG_SAY_MAX / 2 - 64], now[CONFIG_SAY_MAX / 2 - 64], line[CONFIG_SAY_MAX];
		bool live = cur[i].kind & OPTIONS_LIVE;
		snprintf(line, sizeof(line), "%s: %s → %s%s", cur[i].name, describe(&cur[i], was, sizeof(was)),
			 describe(&fresh[i], now, sizeof(now)), live ? "" : ": needs a restart, not applied");
		say(arg, line);
		if (live) {
			copy(&cur[i], &fresh[i]);
			applied++;
		} else {
			later++;
		}
	}
	if (restart)
		*restart = later;
	return applied;
}

static bool named(const struct options_spec *spec, const char *p)
{
	for (const struct options_spec *s = spec; s->name; s++) {
		if (OPTIONS_KIND(s) == OPTIONS_STR && *(const char *const *)s->dst == p)
			return true;
		if (OPTIONS_KIND(s) == OPTIONS_LIST) {
			const struct options_list *l = s->dst;
			for (int i = 0; i < l->n; i++)
				if (l->items[i] == p)
					return true;
		}
	}
	return false;
}

void config_keep(struct config *c, const struct options_spec *spec)
{
	size_t k = 0;
	for (size_t i = 0; i < c->n; i++) {
		if (named(spec, c->s[i]))
			c->s[k++] = c->s[i];
		else
			free(c->s[i]);
	}
	c->n = k;
}
