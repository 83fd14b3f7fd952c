/* paths: what a request's path and Origin mean, before anything is done
 * about them: the two WebSocket endpoints, HTTP routes with and without
 * an id, and the origin allow-list. Pure string functions. */
#ifndef RINGMQ_PATHS_H
#define RINGMQ_PATHS_H

#include <stdbool.h>
#include <stddef.h>

#include "ids.h"

enum paths_ws { PATHS_WS_NONE = -1, PATHS_WS_NOTIFY = 0, PATHS_WS_CHAT = 1 };

/* "/ws/notifications/" and "/ws/chat/<cid>/" (trailing slash optional; the
 * conversation id must pass the id rule, written into conv). Any other path
 * is PATHS_WS_NONE. */
enum paths_ws paths_ws(const char *path, char conv[IDS_MAX + 1]);

/* True when path is want, with or without want's trailing slash. */
bool paths_is(const char *path, const char *want);

/* "<prefix><id>" or "<prefix><id>/": the id (1..cap-1 bytes, no '/') into
 * out; 0, or -1 for any other path. */
int paths_id(const char *path, const char *prefix, char *out, size_t cap);
/* "<prefix><id><suffix>" or the same with a trailing '/' (suffix "" is
 * paths_id): the id into out as paths_id; 0, or -1. */
int paths_id_in(const char *path, const char *prefix, const char *suffix, char *out, size_t cap);

/* True when origin (NULL or "": not a browser) may open sockets and make
 * CORS requests: http(s)://<host> (host: this request's Host header, may be
 * NULL), or one of the n allowed origins ("*" allows all). */
bool paths_origin_allowed(const char *origin, const char *host, const char *const *allowed, int n);

struct lws;
/* paths_origin_allowed for a request of wsi (its Host header). */
bool paths_request_origin_allowed(struct lws *wsi, const char *origin, const char *const *allowed, int n);

#endif
