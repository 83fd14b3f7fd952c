/* storefix: see storefix.h. Talks to PostgreSQL through libpq directly
 * only to empty the test database; everything else goes through store.h. */
#include "storefix.h"

#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

const char *storefix_pg(void)
{
	const char *pg = getenv("RINGMQ_TEST_PG");
	return pg && pg[0] ? pg : NULL;
}

int storefix_pg_reset(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r = PQexec(c, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "storefix: cannot empty %s: %s", conninfo, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok;
}

int storefix_open(struct store **out)
{
	const char *pg = storefix_pg();
	*out = NULL;
	if (pg && !storefix_pg_reset(pg))
		return STORE_EDB;
	return store_open(pg ? pg : ":memory:", out);
}

void storefix_say(const char *prog)
{
	printf("%s: on %s\n", prog, storefix_pg() ? "PostgreSQL (RINGMQ_TEST_PG)" : "SQLite :memory: (RINGMQ_TEST_PG unset)");
}
