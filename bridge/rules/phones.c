/* phones: leases per user in an hmap (value: malloc'd until-ms). */
#include "phones.h"

#include <stdlib.h>

#include "hmap.h"

struct phones {
	struct hmap *users; /* uid -> int64_t * (the lease's end, ms) */
	int64_t lease_ms;
};

struct phones *phones_new(int64_t lease_ms)
{
	struct phones *p = calloc(1, sizeof(*p));
	if (!p || !(p->users = hmap_new())) {
		free(p);
		return NULL;
	}
	p->lease_ms = lease_ms;
	return p;
}

static void free_value(const char *uid, void *value, void *arg)
{
	(void)uid;
	(void)arg;
	free(value);
}

void phones_free(struct phones *p)
{
	if (!p)
		return;
	hmap_each(p->users, free_value, NULL);
	hmap_free(p->users);
	free(p);
}

int phones_seen(struct phones *p, const char *uid, int64_t now_ms)
{
	int64_t *until = hmap_get(p->users, uid);
	if (until) {
		*until = now_ms + p->lease_ms;
		return 0;
	}
	if (hmap_count(p->users) >= PHONES_MAX || !(until = malloc(sizeof(*until))))
		return -1;
	*until = now_ms + p->lease_ms;
	if (hmap_put(p->users, uid, until) != 0) {
		free(until);
		return -1;
	}
	return 1;
}

#define EXPIRE_BATCH 256 /* keys collected per pass (hmap_each must not change the map) */

struct collect {
	int64_t now_ms;
	const char *keys[EXPIRE_BATCH];
	int n;
	int64_t next;
};

static void collect_over(const char *uid, void *value, void *arg)
{
	struct collect *c = arg;
	int64_t until = *(int64_t *)value;
	if (until <= c->now_ms) {
		if (c->n < EXPIRE_BATCH)
			c->keys[c->n++] = uid;
	} else if (until < c->next) {
		c->next = until;
	}
}

int phones_expire(struct phones *p, int64_t now_ms, void (*gone)(const char *uid, void *arg), void *arg)
{
	int total = 0;
	for (;;) {
		struct collect c = {.now_ms = now_ms, .next = INT64_MAX};
		hmap_each(p->users, collect_over, &c);
		if (!c.n)
			return total;
		for (int i = 0; i < c.n; i++) {
			/* The key belongs to the map: call first, then delete. */
			gone(c.keys[i], arg);
			free(hmap_del(p->users, c.keys[i]));
		}
		total += c.n;
	}
}

static void earliest(const char *uid, void *value, void *arg)
{
	(void)uid;
	int64_t *next = arg;
	if (*(int64_t *)value < *next)
		*next = *(int64_t *)value;
}

int64_t phones_next_ms(const struct phones *p, int64_t now_ms)
{
	int64_t next = INT64_MAX;
	hmap_each(p->users, earliest, &next);
	return next == INT64_MAX ? INT64_MAX : next > now_ms ? next - now_ms : 0;
}
