/* ringmq-token: mints an HS256 user token for demos and tests, signed with
 * the same secret the bridge and the broker plugin verify with (iat = now;
 * with --kid, the kid header naming that secret's file). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ids.h"
#include "jwt.h"
#include "log.h"
#include "secret.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ringmq-token --user ID [--name NAME] [--ttl SECONDS] [--secret-file FILE] [--kid KID]\n"
		"Prints an HS256 JWT for user ID (sub = ID, name = NAME, iat = now) that\n"
		"expires after SECONDS (default 86400; 0 = no exp claim).\n"
		"The secret is read from FILE, else from $RINGMQ_JWT_SECRET.\n"
		"--kid puts KID in the header (--kid auto: FILE's name without directory\n"
		"and extension, the kid the bridge and the broker plugin give that file).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"user", required_argument, NULL, 'u'},   {"name", required_argument, NULL, 'n'},
		{"ttl", required_argument, NULL, 't'},    {"secret-file", required_argument, NULL, 's'},
		{"kid", required_argument, NULL, 'k'},    {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *user = NULL, *name = NULL, *secret_file = NULL, *kid = NULL;
	char file_kid[JWT_KID_MAX + 1];
	long ttl = 86400;
	int c;
	log_init("ringmq-token", LOG_LEVEL_WARN);
	while ((c = getopt_long(argc, argv, "u:n:t:s:k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u': user = optarg; break;
		case 'n': name = optarg; break;
		case 't': ttl = strtol(optarg, NULL, 10); break;
		case 's': secret_file = optarg; break;
		case 'k': kid = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!user || !ids_valid(user) || ttl < 0) {
		fprintf(stderr, "ringmq-token: --user must be 1-64 of [A-Za-z0-9_-], --ttl >= 0\n");
		usage(stderr);
		return 2;
	}
	if (kid && !strcmp(kid, "auto")) {
		if (!secret_file || jwt_kid_of_path(secret_file, file_kid)) {
			fprintf(stderr, "ringmq-token: --kid auto needs a --secret-file whose name is a kid\n");
			return 2;
		}
		kid = file_kid;
	} else if (kid && (!*kid || strlen(kid) > JWT_KID_MAX)) {
		fprintf(stderr, "ringmq-token: --kid must be 1-%d characters\n", JWT_KID_MAX);
		return 2;
	}
	size_t slen = 0;
	char *secret = secret_load(secret_file, "RINGMQ_JWT_SECRET", &slen);
	if (!secret) {
		fprintf(stderr, "ringmq-token: no secret (--secret-file or RINGMQ_JWT_SECRET)\n");
		return 2;
	}
	int64_t now_s = clock_now_ms() / 1000;
	char *tok = jwt_mint_hs256((unsigned char *)secret, slen, kid, user, name, now_s, ttl ? now_s + ttl : 0);
	free(secret);
	if (!tok)
		return 1;
	puts(tok);
	free(tok);
	return 0;
}
