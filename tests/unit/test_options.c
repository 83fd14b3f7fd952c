/* test_options: the table-driven command line (bridge/common/options.c):
 * each kind of option, bounds, repeats, unknown options and missing
 * values, and --help. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "log.h"
#include "options.h"

static const char *str;
static int i;
static long l;
static size_t z;
static bool yes, no = true;
static int level = -1;
static const char *items[2];
static struct options_list list = {items, 0, 2};

static const struct options_spec spec[] = {
	{"str", OPTIONS_STR, &str, 0, 0, "S", "a string"},
	{"int", OPTIONS_INT, &i, 1, 10, "N", "an int"},
	{"long", OPTIONS_LONG, &l, -5, 5000000000L, "N", "a long"},
	{"size", OPTIONS_SIZE, &z, 0, 1 << 20, "B", "a size\nover two lines"},
	{"yes", OPTIONS_TRUE, &yes, 0, 0, NULL, "set"},
	{"no", OPTIONS_FALSE, &no, 0, 0, NULL, "unset"},
	{"item", OPTIONS_LIST, &list, 0, 0, "X", "repeatable"},
	{"log-level", OPTIONS_LEVEL, &level, 0, 0, "L", "a level"},
	{NULL, 0, NULL, 0, 0, NULL, NULL},
};

static int parse(int argc, char **argv)
{
	return options_parse("test", "about", spec, argc, argv);
}

int main(void)
{
	char *ok[] = {"test", "--str", "s", "--int", "10", "--long", "-5", "--size", "1048576", "--yes", "--no",
		      "--item", "a", "--item=b", "--log-level", "debug", NULL};
	CHECK_EQ_INT(parse(16, ok), 0);
	CHECK_EQ_STR(str, "s");
	CHECK_EQ_INT(i, 10);
	CHECK_EQ_INT(l, -5);
	CHECK_EQ_INT(z, 1048576);
	CHECK(yes && !no);
	CHECK_EQ_INT(list.n, 2);
	CHECK_EQ_STR(items[1], "b");
	CHECK_EQ_INT(level, LOG_LEVEL_DEBUG);

	char *big[] = {"test", "--long", "5000000000", NULL};
	CHECK_EQ_INT(parse(3, big), 0);
	CHECK_EQ_INT(l, 5000000000L);

	/* each of these is refused with exit status 2 */
	char *bad[][3] = {
		{"test", "--int", "0"}, {"test", "--int", "11"}, {"test", "--int", "1x"}, {"test", "--int", ""},
		{"test", "--size", "-1"}, {"test", "--long", "99999999999999999999"}, {"test", "--item", "c"},
		{"test", "--log-level", "loud"}, {"test", "--bogus", "1"}, {"test", "stray", "x"},
	};
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		char *argv[] = {bad[k][0], bad[k][1], bad[k][2], NULL};
		CHECK_EQ_INT(parse(3, argv), 2);
	}
	char *missing[] = {"test", "--int", NULL};
	CHECK_EQ_INT(parse(2, missing), 2);
	char *flag_value[] = {"test", "--yes=1", NULL};
	CHECK_EQ_INT(parse(2, flag_value), 2);

	/* --help: the table, one line per option (and their continuations) */
	char *help[] = {"test", "--help", NULL};
	FILE *saved = stdout;
	char buf[2048] = "";
	stdout = fmemopen(buf, sizeof(buf) - 1, "w");
	CHECK_EQ_INT(parse(2, help), 1);
	fclose(stdout);
	stdout = saved;
	CHECK(strstr(buf, "Usage: test [options]\nabout\n") == buf);
	CHECK(strstr(buf, "  --size B") != NULL);
	CHECK(strstr(buf, "a size\n                           over two lines") != NULL);
	CHECK(strstr(buf, "  --help") != NULL);
	return check_done("test_options");
}
