/* hmap: a string-keyed hash map (chained, FNV-1a, doubles at load 1).
 * Keys are copied; values are the caller's and never freed here.
 * Used by the bridge for topics, devices and pending requests. */
#ifndef RINGMQ_HMAP_H
#define RINGMQ_HMAP_H

#include <stddef.h>

struct hmap;

struct hmap *hmap_new(void);
/* Frees the map and its keys, not the values; NULL-safe. */
void hmap_free(struct hmap *m);
size_t hmap_count(const struct hmap *m);
void *hmap_get(const struct hmap *m, const char *key);
/* Inserts or replaces. 0, or -1 on allocation failure (map unchanged). */
int hmap_put(struct hmap *m, const char *key, void *value);
/* Removes key; returns its value, or NULL when absent. */
void *hmap_del(struct hmap *m, const char *key);
/* Calls fn for every entry; fn must not change the map. */
void hmap_each(const struct hmap *m, void (*fn)(const char *key, void *value, void *arg), void *arg);

#endif
