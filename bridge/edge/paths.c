/* paths: endpoint and route matching, the origin allow-list. */
#include "paths.h"

#include <string.h>
#include <strings.h>

#include <libwebsockets.h>

#define PATHS_HOST_MAX 256 /* a Host header we compare */

static const char notify_path[] = "/ws/notifications/";
static const char chat_prefix[] = "/ws/chat/";

enum paths_ws paths_ws(const char *path, char conv[IDS_MAX + 1])
{
	if (paths_is(path, notify_path))
		return PATHS_WS_NOTIFY;
	size_t pl = sizeof(chat_prefix) - 1;
	if (strncmp(path, chat_prefix, pl))
		return PATHS_WS_NONE;
	const char *id = path + pl;
	size_t n = strcspn(id, "/");
	if (id[n] == '/' && id[n + 1] != '\0')
		return PATHS_WS_NONE;
	if (!ids_valid_n(id, n))
		return PATHS_WS_NONE;
	memcpy(conv, id, n);
	conv[n] = '\0';
	return PATHS_WS_CHAT;
}

bool paths_is(const char *path, const char *want)
{
	size_t n = strlen(want);
	return !strcmp(path, want) || (n && want[n - 1] == '/' && strlen(path) == n - 1 && !strncmp(path, want, n - 1));
}

int paths_id_in(const char *path, const char *prefix, const char *suffix, char *out, size_t cap)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	if (strncmp(path, prefix, pl))
		return -1;
	const char *id = path + pl;
	size_t n = strcspn(id, "/");
	const char *rest = id + n;
	if (n == 0 || n >= cap || strncmp(rest, suffix, sl) || (rest[sl] && strcmp(rest + sl, "/")))
		return -1;
	memcpy(out, id, n);
	out[n] = '\0';
	return 0;
}

int paths_id(const char *path, const char *prefix, char *out, size_t cap)
{
	return paths_id_in(path, prefix, "", out, cap);
}

bool paths_origin_allowed(const char *origin, const char *host, const char *const *allowed, int n)
{
	if (!origin || !*origin)
		return true; /* not a browser */
	if (host && *host) {
		const char *rest = !strncmp(origin, "http://", 7) ? origin + 7 : !strncmp(origin, "https://", 8) ? origin + 8 : NULL;
		if (rest && !strcasecmp(rest, host))
			return true;
	}
	for (int i = 0; i < n; i++)
		if (!strcmp(allowed[i], "*") || !strcmp(origin, allowed[i]))
			return true;
	return false;
}

bool paths_request_origin_allowed(struct lws *wsi, const char *origin, const char *const *allowed, int n)
{
	char host[PATHS_HOST_MAX];
	if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0)
		host[0] = '\0';
	return paths_origin_allowed(origin, host, allowed, n);
}
