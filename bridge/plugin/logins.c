/* logins: three chained hash tables over two kinds of node.
 *   by client pointer -> struct login (next)
 *   by client id      -> struct login (next_cid)
 *   by user id        -> struct user_count
 * Each table doubles its buckets when it holds more entries than buckets. */
#include "logins.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SESSIONS_MIN_BUCKETS 64

struct node {
	struct login s;
	struct node *next_cid;
};

struct user_count {
	char user_id[IDS_MAX + 1];
	unsigned n;
	struct user_count *next;
};

struct table {
	void **b; /* bucket heads */
	size_t nb, count;
};

struct logins {
	struct table by_client, by_cid, users;
};

static size_t hash_ptr(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

static size_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

static int table_init(struct table *t)
{
	t->b = calloc(SESSIONS_MIN_BUCKETS, sizeof(*t->b));
	t->nb = SESSIONS_MIN_BUCKETS;
	t->count = 0;
	return t->b ? 0 : -1;
}

/* Per-table accessors so one grow routine serves all three. */
typedef void **(*next_fn)(void *node);
typedef size_t (*hash_fn)(const void *node);

static void **next_client(void *n) { return (void **)&((struct node *)n)->s.next; }
static void **next_cid(void *n) { return (void **)&((struct node *)n)->next_cid; }
static void **next_user(void *n) { return (void **)&((struct user_count *)n)->next; }
static size_t key_client(const void *n) { return hash_ptr(((const struct node *)n)->s.client); }
static size_t key_cid(const void *n) { return hash_str(((const struct node *)n)->s.client_id); }
static size_t key_user(const void *n) { return hash_str(((const struct user_count *)n)->user_id); }

/* Doubles the buckets when crowded; on allocation failure keeps the old
 * (still correct, only slower) table. */
static void table_grow(struct table *t, next_fn nx, hash_fn hf)
{
	if (t->count <= t->nb)
		return;
	size_t nb = t->nb * 2;
	void **b = calloc(nb, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < t->nb; i++) {
		void *n = t->b[i];
		while (n) {
			void *next = *nx(n);
			size_t k = hf(n) & (nb - 1);
			*nx(n) = b[k];
			b[k] = n;
			n = next;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

static void table_insert(struct table *t, void *n, next_fn nx, hash_fn hf)
{
	size_t k = hf(n) & (t->nb - 1);
	*nx(n) = t->b[k];
	t->b[k] = n;
	t->count++;
	table_grow(t, nx, hf);
}

static void table_unlink(struct table *t, void *n, next_fn nx, hash_fn hf)
{
	void **pp = &t->b[hf(n) & (t->nb - 1)];
	while (*pp && *pp != n)
		pp = nx(*pp);
	if (*pp) {
		*pp = *nx(n);
		t->count--;
	}
}

struct logins *logins_new(void)
{
	struct logins *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (table_init(&s->by_client) || table_init(&s->by_cid) || table_init(&s->users)) {
		free(s->by_client.b);
		free(s->by_cid.b);
		free(s->users.b);
		free(s);
		return NULL;
	}
	return s;
}

void logins_free(struct logins *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->by_client.nb; i++) {
		struct node *n = s->by_client.b[i];
		while (n) {
			struct node *next = (struct node *)n->s.next;
			free(n);
			n = next;
		}
	}
	for (size_t i = 0; i < s->users.nb; i++) {
		struct user_count *u = s->users.b[i];
		while (u) {
			struct user_count *next = u->next;
			free(u);
			u = next;
		}
	}
	free(s->by_client.b);
	free(s->by_cid.b);
	free(s->users.b);
	free(s);
}

static struct node *find_client(const struct logins *s, const void *client)
{
	struct node *n = s->by_client.b[hash_ptr(client) & (s->by_client.nb - 1)];
	while (n && n->s.client != client)
		n = (struct node *)n->s.next;
	return n;
}

static struct user_count *find_user(const struct logins *s, const char *user_id)
{
	struct user_count *u = s->users.b[hash_str(user_id) & (s->users.nb - 1)];
	while (u && strcmp(u->user_id, user_id))
		u = u->next;
	return u;
}

static void copy_cut(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

/* Marks every indexed entry holding n's client id (n not yet indexed). */
static void supersede_others(struct logins *s, const struct node *n)
{
	size_t k = hash_str(n->s.client_id) & (s->by_cid.nb - 1);
	for (struct node *o = s->by_cid.b[k]; o; o = o->next_cid)
		if (!strcmp(o->s.client_id, n->s.client_id))
			o->s.superseded = true;
}

int logins_add(struct logins *s, const void *client, const char *user_id, const char *username,
		 const char *client_id)
{
	if (!ids_valid(user_id ? user_id : ""))
		return -1;
	struct node *n = find_client(s, client);
	if (n && !strcmp(n->s.user_id, user_id)) {
		/* Same user again on a pointer whose disconnect we missed: refresh. */
		table_unlink(&s->by_cid, n, next_cid, key_cid);
		copy_cut(n->s.username, sizeof(n->s.username), username ? username : user_id);
		copy_cut(n->s.client_id, sizeof(n->s.client_id), client_id);
		n->s.client_id_cut = client_id && strlen(client_id) >= sizeof(n->s.client_id);
		n->s.superseded = false;
		memset(&n->s.limits, 0, sizeof(n->s.limits));
		n->s.kick = n->s.kicked = n->s.revoked = false;
		n->s.iat = 0;
		supersede_others(s, n);
		table_insert(&s->by_cid, n, next_cid, key_cid);
		return 0;
	}
	logins_remove(s, client, NULL); /* another user's stale entry */
	n = calloc(1, sizeof(*n));
	if (!n)
		return -1;
	struct user_count *u = find_user(s, user_id);
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u) {
			free(n);
			return -1;
		}
		memcpy(u->user_id, user_id, strlen(user_id) + 1);
		table_insert(&s->users, u, next_user, key_user);
	}

	n->s.client = client;
	copy_cut(n->s.user_id, sizeof(n->s.user_id), user_id);
	copy_cut(n->s.username, sizeof(n->s.username), username ? username : user_id);
	copy_cut(n->s.client_id, sizeof(n->s.client_id), client_id);
	n->s.client_id_cut = client_id && strlen(client_id) >= sizeof(n->s.client_id);

	supersede_others(s, n);
	table_insert(&s->by_client, n, next_client, key_client);
	table_insert(&s->by_cid, n, next_cid, key_cid);
	return u->n++ == 0 ? 1 : 0;
}

int logins_remove(struct logins *s, const void *client, char *user_id_out)
{
	struct node *n = find_client(s, client);
	if (!n)
		return 0;
	table_unlink(&s->by_client, n, next_client, key_client);
	table_unlink(&s->by_cid, n, next_cid, key_cid);
	int went_offline = 0;
	struct user_count *u = find_user(s, n->s.user_id);
	if (u && u->n > 0 && --u->n == 0) {
		went_offline = 1;
		if (user_id_out)
			memcpy(user_id_out, u->user_id, strlen(u->user_id) + 1);
		table_unlink(&s->users, u, next_user, key_user);
		free(u);
	}
	free(n);
	return went_offline;
}

const struct login *logins_find(const struct logins *s, const void *client)
{
	struct node *n = find_client(s, client);
	return n ? &n->s : NULL;
}

struct login *logins_get(struct logins *s, const void *client)
{
	struct node *n = find_client(s, client);
	return n ? &n->s : NULL;
}

void logins_each(struct logins *s, void (*fn)(struct login *l, void *arg), void *arg)
{
	for (size_t i = 0; i < s->by_client.nb; i++)
		for (struct node *n = s->by_client.b[i]; n; n = (struct node *)n->s.next)
			fn(&n->s, arg);
}

size_t logins_users(const struct logins *s)
{
	return s->users.count;
}

void logins_each_user(const struct logins *s, void (*fn)(const char *user_id, void *arg), void *arg)
{
	for (size_t i = 0; i < s->users.nb; i++)
		for (struct user_count *u = s->users.b[i]; u; u = u->next)
			fn(u->user_id, arg);
}
