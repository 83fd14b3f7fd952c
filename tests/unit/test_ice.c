/* test_ice: TURN REST API credentials and the ice-servers body
 * (bridge/edge/ice.c). The expected credentials were computed apart from
 * this code, with OpenSSL's command line:
 *   printf '%s' '1764633600:alice' | openssl dgst -sha1 -hmac 'north-pole-secret' -binary | base64 */
#include <string.h>

#include "check.h"
#include "ice.h"

static char secret[] = "north-pole-secret";

static struct ice_cfg cfg_of(const char *turn, const char *stun)
{
	struct ice_cfg c = {.ttl_s = ICE_TTL_DEFAULT_S};
	if (turn) {
		c.turn[c.nturn++] = turn;
		c.secret = secret;
		c.secret_len = strlen(secret);
	}
	if (stun)
		c.stun[c.nstun++] = stun;
	return c;
}

static bool refused(struct ice_cfg c, const char *words)
{
	char err[ICE_ERR_MAX] = "";
	return ice_cfg_check(&c, err, sizeof(err)) == -1 && strstr(err, words);
}

static void credentials(void)
{
	char user[ICE_USERNAME_MAX + 1], cred[ICE_CREDENTIAL_LEN + 1];
	CHECK_EQ_INT(ice_username(1764633600, "alice", user), 0);
	CHECK_EQ_STR(user, "1764633600:alice");
	CHECK_EQ_INT(ice_credential(secret, strlen(secret), user, cred), 0);
	CHECK_EQ_STR(cred, "BNqoiOJ2CM13w7Vq5zHGO7W5baQ=");
	/* one second later: another credential */
	CHECK_EQ_INT(ice_credential(secret, strlen(secret), "1764633601:alice", cred), 0);
	CHECK_EQ_STR(cred, "0HfM6aKeF1z46ZNliZbCnTKYw1Y=");
	CHECK_EQ_INT(ice_credential("s3cr3t", 6, "1700000000:7", cred), 0);
	CHECK_EQ_STR(cred, "5Y4YvkFAyE8zcB7Va0VuzDkF2Z4=");

	CHECK_EQ_INT(ice_username(1, "a b", user), -1);
	CHECK_EQ_INT(ice_username(1, "a:b", user), -1);
	CHECK_EQ_INT(ice_username(1, "", user), -1);
	CHECK_EQ_INT(ice_username(-1, "alice", user), -1);
	char longest[IDS_MAX + 1];
	memset(longest, 'x', IDS_MAX);
	longest[IDS_MAX] = '\0';
	CHECK_EQ_INT(ice_username(INT64_MAX, longest, user), 0);
	CHECK_EQ_INT((long long)strlen(user), (long long)ICE_USERNAME_MAX - 1); /* 19 digits of INT64_MAX */
}

static void body(void)
{
	struct ice_cfg c = cfg_of("turn:127.0.0.1:3478", "stun:127.0.0.1:3478");
	c.turn[c.nturn++] = "turn:127.0.0.1:3478?transport=tcp";
	c.ttl_s = 600;
	json_t *b = ice_servers(&c, "alice", 1764633000);
	CHECK(b != NULL);
	json_t *list = json_object_get(b, "ice_servers");
	CHECK_EQ_INT(json_array_size(list), 2);
	CHECK_EQ_INT(json_integer_value(json_object_get(b, "ttl")), 600);
	json_t *turn = json_array_get(list, 0), *stun = json_array_get(list, 1);
	CHECK_EQ_INT(json_array_size(json_object_get(turn, "urls")), 2);
	CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(turn, "urls"), 1)),
		     "turn:127.0.0.1:3478?transport=tcp");
	CHECK_EQ_STR(json_string_value(json_object_get(turn, "username")), "1764633600:alice");
	CHECK_EQ_STR(json_string_value(json_object_get(turn, "credential")), "BNqoiOJ2CM13w7Vq5zHGO7W5baQ=");
	CHECK_EQ_INT(json_object_size(stun), 1);
	CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(stun, "urls"), 0)), "stun:127.0.0.1:3478");
	json_decref(b);

	CHECK(ice_servers(&c, "not an id", 1764633000) == NULL);

	struct ice_cfg none = cfg_of(NULL, NULL);
	b = ice_servers(&none, "alice", 1764633000);
	CHECK_EQ_INT(json_array_size(json_object_get(b, "ice_servers")), 0);
	CHECK(json_is_array(json_object_get(b, "ice_servers")));
	json_decref(b);

	struct ice_cfg stun_only = cfg_of(NULL, "stun:stun.example");
	b = ice_servers(&stun_only, "alice", 1764633000);
	list = json_object_get(b, "ice_servers");
	CHECK_EQ_INT(json_array_size(list), 1);
	CHECK(json_object_get(json_array_get(list, 0), "username") == NULL);
	json_decref(b);
}

static void settings(void)
{
	char err[ICE_ERR_MAX];
	struct ice_cfg ok = cfg_of("turn:t.example:3478", "stun:t.example");
	CHECK_EQ_INT(ice_cfg_check(&ok, err, sizeof(err)), 0);
	struct ice_cfg turns = cfg_of("turns:t.example:5349?transport=tcp", "stuns:t.example");
	CHECK_EQ_INT(ice_cfg_check(&turns, err, sizeof(err)), 0);
	CHECK(refused(cfg_of("TURN:t.example", NULL), "--turn-uri"));
	struct ice_cfg none = cfg_of(NULL, NULL);
	CHECK_EQ_INT(ice_cfg_check(&none, err, sizeof(err)), 0);

	struct ice_cfg c = cfg_of("turn:t.example", NULL);
	c.secret = NULL;
	CHECK(refused(c, "needs --turn-secret-file"));
	c.secret = secret;
	c.secret_len = 0;
	CHECK(refused(c, "empty"));
	c = cfg_of("turn:t.example", NULL);
	c.nturn = 0;
	CHECK(refused(c, "needs at least one --turn-uri"));
	CHECK(refused(cfg_of("stun:t.example", NULL), "--turn-uri"));     /* a STUN URI as TURN */
	CHECK(refused(cfg_of(NULL, "turn:t.example"), "--stun-uri"));     /* and the other way */
	CHECK(refused(cfg_of("turn:", NULL), "--turn-uri"));
	CHECK(refused(cfg_of("turnx:t.example", NULL), "--turn-uri"));
	CHECK(refused(cfg_of("http://t.example", NULL), "--turn-uri"));
	CHECK(refused(cfg_of("turn:t.example 3478", NULL), "space"));
	char longest[ICE_URI_MAX + 2];
	memset(longest, 'x', sizeof(longest) - 1);
	memcpy(longest, "turn:", 5);
	longest[sizeof(longest) - 1] = '\0';
	CHECK(refused(cfg_of(longest, NULL), "longer than"));
	longest[ICE_URI_MAX] = '\0';
	struct ice_cfg at_bound = cfg_of(longest, NULL);
	CHECK_EQ_INT(ice_cfg_check(&at_bound, err, sizeof(err)), 0);
	c = cfg_of("turn:t.example", NULL);
	c.ttl_s = 0;
	CHECK(refused(c, "--turn-ttl-s"));
	c.ttl_s = ICE_TTL_MAX_S + 1;
	CHECK(refused(c, "--turn-ttl-s"));
}

int main(void)
{
	credentials();
	body();
	settings();
	return check_done("test_ice");
}
