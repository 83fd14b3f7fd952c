/* test_jwt: HS256 verification as PROTOCOL.md "Identity" demands. Tokens
 * are built here from raw JSON so every field can be wrong on purpose. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "check.h"
#include "jwt.h"

static const unsigned char secret[] = "test-secret";
#define SECRET_LEN (sizeof(secret) - 1)
#define NOW 1800000000

static void b64url(const unsigned char *in, size_t len, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	for (int i = 0; i < n; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
}

/* header.payload.signature with a real HS256 signature over key. */
static char *make(const char *header, const char *payload, const unsigned char *key, size_t key_len)
{
	static char tok[4096];
	char h[1024], p[2048], s[128];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	b64url((const unsigned char *)header, strlen(header), h);
	b64url((const unsigned char *)payload, strlen(payload), p);
	snprintf(tok, sizeof(tok), "%s.%s", h, p);
	HMAC(EVP_sha256(), key, (int)key_len, (unsigned char *)tok, strlen(tok), mac, &mac_len);
	b64url(mac, mac_len, s);
	strcat(tok, ".");
	strcat(tok, s);
	return tok;
}

static int verify(const char *tok, bool require_exp, struct jwt_claims *c)
{
	return jwt_verify(tok, strlen(tok), secret, SECRET_LEN, NOW, require_exp, c);
}

static const char *HS = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

int main(void)
{
	struct jwt_claims c;

	/* good: sub + name */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"alice\",\"name\":\"Alice A.\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_OK);
	CHECK_EQ_STR(c.user_id, "alice");
	CHECK_EQ_STR(c.username, "Alice A.");
	CHECK_EQ_INT(c.exp, 1900000000);

	/* SimpleJWT: integer user_id, username claim */
	CHECK_EQ_INT(verify(make(HS, "{\"user_id\":42,\"username\":\"bob\",\"exp\":1900000000,\"token_type\":\"access\"}", secret, SECRET_LEN), true, &c), JWT_OK);
	CHECK_EQ_STR(c.user_id, "42");
	CHECK_EQ_STR(c.username, "bob");

	/* sub wins over user_id; no name: the id */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"7\",\"user_id\":8,\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_OK);
	CHECK_EQ_STR(c.user_id, "7");
	CHECK_EQ_STR(c.username, "7");
	/* preferred_username */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"7\",\"preferred_username\":\"pp\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_OK);
	CHECK_EQ_STR(c.username, "pp");

	/* bad signature: another key, and a flipped signature byte */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"alice\",\"exp\":1900000000}", (const unsigned char *)"other", 5), true, &c), JWT_ESIG);
	char *t = make(HS, "{\"sub\":\"alice\",\"exp\":1900000000}", secret, SECRET_LEN);
	t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(verify(t, true, &c), JWT_ESIG);
	/* payload changed after signing */
	t = make(HS, "{\"sub\":\"alice\",\"exp\":1900000000}", secret, SECRET_LEN);
	char *dot = strchr(t, '.');
	dot[2] = dot[2] == 'a' ? 'b' : 'a';
	CHECK(verify(t, true, &c) != JWT_OK);

	/* alg none (no signature, and with one), other algorithms, no alg */
	t = make("{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"sub\":\"alice\",\"exp\":1900000000}", secret, SECRET_LEN);
	CHECK_EQ_INT(verify(t, true, &c), JWT_EALG);
	*strrchr(t, '.') = '\0';
	strcat(t, ".");
	CHECK_EQ_INT(verify(t, true, &c), JWT_EALG);
	CHECK_EQ_INT(verify(make("{\"alg\":\"HS512\"}", "{\"sub\":\"a\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_EALG);
	CHECK_EQ_INT(verify(make("{\"alg\":\"RS256\"}", "{\"sub\":\"a\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_EALG);
	CHECK_EQ_INT(verify(make("{\"typ\":\"JWT\"}", "{\"sub\":\"a\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_EALG);
	CHECK_EQ_INT(verify(make("{\"alg\":\"hs256\"}", "{\"sub\":\"a\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_EALG);

	/* expiry: past, exactly now, missing (required or not) */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":1700000000}", secret, SECRET_LEN), true, &c), JWT_EEXPIRED);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":1800000000}", secret, SECRET_LEN), true, &c), JWT_EEXPIRED);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\"}", secret, SECRET_LEN), true, &c), JWT_ENOEXP);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\"}", secret, SECRET_LEN), false, &c), JWT_OK);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":\"soon\"}", secret, SECRET_LEN), true, &c), JWT_EMALFORMED);

	/* exp out of any integer's range: refused or clamped, never undefined */
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":1e300}", secret, SECRET_LEN), true, &c), JWT_OK);
	CHECK_EQ_INT(c.exp, JWT_EXP_MAX);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":-1e300}", secret, SECRET_LEN), true, &c), JWT_EEXPIRED);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"exp\":9223372036854775807}", secret, SECRET_LEN), true, &c), JWT_OK);

	/* user id: missing, breaking the id rule, wrong type */
	CHECK_EQ_INT(verify(make(HS, "{\"name\":\"x\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_ENOUSER);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a/b\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_ENOUSER);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"users/+/x\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_ENOUSER);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_ENOUSER);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":[1],\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_ENOUSER);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_ENOUSER);

	/* malformed shapes */
	CHECK_EQ_INT(verify("", true, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(verify("abc", true, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(verify("a.b", true, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(verify("a.b.c.d", true, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(verify("!!!.???.###", true, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(verify(make(HS, "[1,2]", secret, SECRET_LEN), true, &c), JWT_EMALFORMED);
	CHECK_EQ_INT(verify(make(HS, "{\"sub\":\"a\",\"sub\":\"b\",\"exp\":1900000000}", secret, SECRET_LEN), true, &c), JWT_EMALFORMED);

	/* mint -> verify round trip */
	char *m = jwt_mint(secret, SECRET_LEN, "carol", "Carol", 1900000000);
	CHECK(m != NULL);
	CHECK_EQ_INT(verify(m, true, &c), JWT_OK);
	CHECK_EQ_STR(c.user_id, "carol");
	CHECK_EQ_STR(c.username, "Carol");
	free(m);
	m = jwt_mint(secret, SECRET_LEN, "dave", NULL, 0);
	CHECK_EQ_INT(verify(m, true, &c), JWT_ENOEXP);
	CHECK_EQ_INT(verify(m, false, &c), JWT_OK);
	free(m);
	CHECK(strcmp(jwt_strerror(JWT_ESIG), "bad signature") == 0);

	return check_done("test_jwt");
}
