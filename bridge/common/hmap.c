/* hmap: chained hash table with string keys. */
#include "hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct hmap_node {
	struct hmap_node *next;
	uint32_t hash;
	void *value;
	char key[];
};

struct hmap {
	struct hmap_node **slots;
	size_t nslots, count;
};

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

struct hmap *hmap_new(void)
{
	struct hmap *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->nslots = 64;
	m->slots = calloc(m->nslots, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void hmap_free(struct hmap *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nslots; i++) {
		struct hmap_node *n = m->slots[i];
		while (n) {
			struct hmap_node *next = n->next;
			free(n);
			n = next;
		}
	}
	free(m->slots);
	free(m);
}

size_t hmap_count(const struct hmap *m)
{
	return m->count;
}

static struct hmap_node **find(const struct hmap *m, const char *key, uint32_t h)
{
	struct hmap_node **pp = &m->slots[h & (m->nslots - 1)];
	while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key)))
		pp = &(*pp)->next;
	return pp;
}

void *hmap_get(const struct hmap *m, const char *key)
{
	struct hmap_node **pp = find(m, key, fnv1a(key));
	return *pp ? (*pp)->value : NULL;
}

static void grow(struct hmap *m)
{
	size_t n = m->nslots * 2;
	struct hmap_node **slots = calloc(n, sizeof(*slots));
	if (!slots)
		return; /* keep working at a higher load */
	for (size_t i = 0; i < m->nslots; i++) {
		struct hmap_node *node = m->slots[i];
		while (node) {
			struct hmap_node *next = node->next;
			node->next = slots[node->hash & (n - 1)];
			slots[node->hash & (n - 1)] = node;
			node = next;
		}
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
}

int hmap_put(struct hmap *m, const char *key, void *value)
{
	uint32_t h = fnv1a(key);
	struct hmap_node **pp = find(m, key, h);
	if (*pp) {
		(*pp)->value = value;
		return 0;
	}
	size_t klen = strlen(key);
	struct hmap_node *n = malloc(sizeof(*n) + klen + 1);
	if (!n)
		return -1;
	n->hash = h;
	n->value = value;
	memcpy(n->key, key, klen + 1);
	n->next = NULL;
	*pp = n;
	if (++m->count > m->nslots)
		grow(m);
	return 0;
}

void *hmap_del(struct hmap *m, const char *key)
{
	struct hmap_node **pp = find(m, key, fnv1a(key));
	struct hmap_node *n = *pp;
	if (!n)
		return NULL;
	void *v = n->value;
	*pp = n->next;
	free(n);
	m->count--;
	return v;
}

void hmap_each(const struct hmap *m, void (*fn)(const char *key, void *value, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nslots; i++)
		for (struct hmap_node *n = m->slots[i]; n; n = n->next)
			fn(n->key, n->value, arg);
}
