/* test_paths: WebSocket endpoints, routes with ids and the origin check
 * (bridge/edge/paths.c). */
#include "check.h"
#include "paths.h"

int main(void)
{
	char conv[IDS_MAX + 1], id[16];
	CHECK_EQ_INT(paths_ws("/ws/notifications/", conv), PATHS_WS_NOTIFY);
	CHECK_EQ_INT(paths_ws("/ws/notifications", conv), PATHS_WS_NOTIFY);
	CHECK_EQ_INT(paths_ws("/ws/notifications/x", conv), PATHS_WS_NONE);
	CHECK_EQ_INT(paths_ws("/ws/chat/c-1/", conv), PATHS_WS_CHAT);
	CHECK_EQ_STR(conv, "c-1");
	CHECK_EQ_INT(paths_ws("/ws/chat/c_2", conv), PATHS_WS_CHAT);
	CHECK_EQ_STR(conv, "c_2");
	CHECK_EQ_INT(paths_ws("/ws/chat/", conv), PATHS_WS_NONE);
	CHECK_EQ_INT(paths_ws("/ws/chat/a/b", conv), PATHS_WS_NONE);
	CHECK_EQ_INT(paths_ws("/ws/chat/a.b/", conv), PATHS_WS_NONE);
	CHECK_EQ_INT(paths_ws("/ws/chat//", conv), PATHS_WS_NONE);
	CHECK_EQ_INT(paths_ws("/", conv), PATHS_WS_NONE);
	char long_path[128];
	snprintf(long_path, sizeof(long_path), "/ws/chat/%065d/", 0);
	CHECK_EQ_INT(paths_ws(long_path, conv), PATHS_WS_NONE);

	CHECK(paths_is("/calls/", "/calls/"));
	CHECK(paths_is("/calls", "/calls/"));
	CHECK(!paths_is("/calls/x", "/calls/"));
	CHECK(paths_is("/healthz", "/healthz"));
	CHECK(!paths_is("/healthz/", "/healthz"));

	CHECK_EQ_INT(paths_id("/calls/abc/", "/calls/", id, sizeof(id)), 0);
	CHECK_EQ_STR(id, "abc");
	CHECK_EQ_INT(paths_id("/calls/abc", "/calls/", id, sizeof(id)), 0);
	CHECK_EQ_INT(paths_id("/calls/", "/calls/", id, sizeof(id)), -1);
	CHECK_EQ_INT(paths_id("/calls/a/b", "/calls/", id, sizeof(id)), -1);
	CHECK_EQ_INT(paths_id_in("/api/users/u1/disconnect/", "/api/users/", "/disconnect", id, sizeof(id)), 0);
	CHECK_EQ_STR(id, "u1");
	CHECK_EQ_INT(paths_id_in("/api/users/u2/disconnect", "/api/users/", "/disconnect", id, sizeof(id)), 0);
	CHECK_EQ_STR(id, "u2");
	CHECK_EQ_INT(paths_id_in("/api/users/u1/disconnectx", "/api/users/", "/disconnect", id, sizeof(id)), -1);
	CHECK_EQ_INT(paths_id_in("/api/users/u1/disconnect//", "/api/users/", "/disconnect", id, sizeof(id)), -1);
	CHECK_EQ_INT(paths_id_in("/api/users/u1", "/api/users/", "/disconnect", id, sizeof(id)), -1);
	CHECK_EQ_INT(paths_id_in("/api/users//disconnect/", "/api/users/", "/disconnect", id, sizeof(id)), -1);
	CHECK_EQ_INT(paths_id("/calls/0123456789abcdef", "/calls/", id, sizeof(id)), -1); /* too long */
	CHECK_EQ_INT(paths_id("/other/a", "/calls/", id, sizeof(id)), -1);

	const char *allowed[] = {"https://app.example"};
	const char *any[] = {"*"};
	CHECK(paths_origin_allowed(NULL, "h", allowed, 1));          /* not a browser */
	CHECK(paths_origin_allowed("", "h", allowed, 1));
	CHECK(paths_origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", NULL, 0)); /* our own */
	CHECK(paths_origin_allowed("https://Bridge.Local", "bridge.local", NULL, 0));
	CHECK(!paths_origin_allowed("http://evil", "127.0.0.1:8080", NULL, 0));
	CHECK(!paths_origin_allowed("ftp://127.0.0.1:8080", "127.0.0.1:8080", NULL, 0));
	CHECK(!paths_origin_allowed("http://127.0.0.1:8080", NULL, NULL, 0));
	CHECK(paths_origin_allowed("https://app.example", "h", allowed, 1));
	CHECK(!paths_origin_allowed("https://app.example.evil", "h", allowed, 1));
	CHECK(paths_origin_allowed("http://anything", "h", any, 1));
	return check_done("test_paths");
}
