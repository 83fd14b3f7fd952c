/* revoked: a map of user id -> before (an int64_t cell on the heap),
 * the message and the file. */
#include "revoked.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "hmap.h"

#define REVOKED_PATH_MAX 4096

struct revoked {
	struct hmap *users; /* user id -> int64_t * */
};

struct revoked *revoked_new(void)
{
	struct revoked *r = calloc(1, sizeof(*r));
	if (r && !(r->users = hmap_new())) {
		free(r);
		r = NULL;
	}
	return r;
}

static void free_cell(const char *key, void *value, void *arg)
{
	free(value);
}

void revoked_free(struct revoked *r)
{
	if (!r)
		return;
	hmap_each(r->users, free_cell, NULL);
	hmap_free(r->users);
	free(r);
}

size_t revoked_count(const struct revoked *r)
{
	return hmap_count(r->users);
}

int revoked_set(struct revoked *r, const char *user_id, int64_t before)
{
	if (!user_id || !ids_valid(user_id))
		return -1;
	int64_t *cell = hmap_get(r->users, user_id);
	if (cell) {
		if (before <= *cell)
			return 0;
		*cell = before;
		return 1;
	}
	if (!(cell = malloc(sizeof(*cell))))
		return -1;
	*cell = before;
	if (hmap_put(r->users, user_id, cell) != 0) {
		free(cell);
		return -1;
	}
	return 1;
}

int64_t revoked_before(const struct revoked *r, const char *user_id)
{
	const int64_t *cell = r && user_id ? hmap_get(r->users, user_id) : NULL;
	return cell ? *cell : 0;
}

bool revoked_refuses(const struct revoked *r, const char *user_id, int64_t iat)
{
	int64_t before = revoked_before(r, user_id);
	return before > 0 && iat <= before;
}

int revoked_check(const struct revoked *r, const struct jwt_claims *claims)
{
	return revoked_refuses(r, claims->user_id, claims->iat) ? JWT_EREVOKED : JWT_OK;
}

struct each_arg {
	void (*fn)(const char *user_id, int64_t before, void *arg);
	void *arg;
};

static void each_cell(const char *key, void *value, void *arg)
{
	struct each_arg *a = arg;
	a->fn(key, *(const int64_t *)value, a->arg);
}

void revoked_each(const struct revoked *r, void (*fn)(const char *user_id, int64_t before, void *arg), void *arg)
{
	struct each_arg a = {fn, arg};
	hmap_each(r->users, each_cell, &a);
}

int revoked_parse(const void *payload, size_t len, char user_id[IDS_MAX + 1], int64_t *before)
{
	if (len > REVOKED_PAYLOAD_MAX)
		return -1;
	json_t *j = json_loadb(payload, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *b = json_object_get(j, "before");
	int rc = -1;
	if (json_is_integer(b) && json_integer_value(b) > 0 && ids_from_json(json_object_get(j, "user_id"), user_id) == 0) {
		*before = json_integer_value(b);
		rc = 0;
	}
	json_decref(j);
	return rc;
}

int revoked_load(struct revoked *r, const char *path)
{
	json_error_t err;
	FILE *f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -1;
	json_t *j = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
	fclose(f);
	const char *uid;
	json_t *v;
	int rc = json_is_object(j) ? 0 : -1;
	json_object_foreach(j, uid, v) {
		if (!json_is_integer(v) || json_integer_value(v) <= 0 || revoked_set(r, uid, json_integer_value(v)) < 0)
			rc = -1;
	}
	json_decref(j);
	return rc;
}

static void save_cell(const char *user_id, int64_t before, void *arg)
{
	json_object_set_new(arg, user_id, json_integer(before));
}

int revoked_save(const struct revoked *r, const char *path)
{
	char tmp[REVOKED_PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	json_t *j = json_object();
	if (!j) {
		errno = ENOMEM;
		return -1;
	}
	revoked_each(r, save_cell, j);
	FILE *f = fopen(tmp, "w");
	int rc = f && json_dumpf(j, f, JSON_COMPACT) == 0 ? 0 : -1;
	if (f && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		rc = -1;
	if (f && fclose(f) != 0)
		rc = -1;
	json_decref(j);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -1;
	if (rc != 0)
		unlink(tmp);
	return rc;
}
