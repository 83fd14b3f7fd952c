/* storefix: the store the unit tests of the rules wing open. An empty
 * in-memory SQLite database, or, with RINGMQ_TEST_PG set to a libpq
 * conninfo (tests/integration/pgserver.py sets one), that PostgreSQL
 * database emptied first: the same checks then run on the PostgreSQL
 * store. Never point RINGMQ_TEST_PG at a database that holds anything. */
#ifndef RINGMQ_STOREFIX_H
#define RINGMQ_STOREFIX_H

#include "store.h"

/* The PostgreSQL conninfo of RINGMQ_TEST_PG, or NULL when unset (or empty). */
const char *storefix_pg(void);
/* Empties the PostgreSQL database of conninfo (its public schema).
 * 1 when done, 0 (said on stderr) when not. */
int storefix_pg_reset(const char *conninfo);
/* Opens a fresh store as above: store_open's result and *out. */
int storefix_open(struct store **out);
/* Prints, once per binary, which store prog's checks run on. */
void storefix_say(const char *prog);

#endif
