/* mqtt_tls: the broker link's TLS settings, checked with OpenSSL before a
 * program starts and handed to libmosquitto; what mqtt.c asks of a TLS
 * connection. */
#include "mqtt_tls.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Keys must not be encrypted: without this OpenSSL would ask for the
 * pass phrase on the terminal, and a service has none. */
static int no_password(char *buf, int size, int rwflag, void *userdata)
{
	return 0;
}

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* err says fmt; -1. */
static int fail(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return -1;
}

/* OpenSSL's reason for the last failure (its queue emptied). */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return r ? r : "not understood";
}

/* The file can be opened for reading; else err names the option. */
static int readable(const char *opt, const char *path, char *err, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return fail(err, cap, "--%s %s: %s", opt, path, strerror(errno));
	fclose(f);
	return 0;
}

/* Every file of t loaded into ctx, as the connection will load them. */
static int load(SSL_CTX *ctx, const struct mqtt_tls *t, char *err, size_t cap)
{
	if (t->cafile && (readable("mqtt-cafile", t->cafile, err, cap) ||
			  SSL_CTX_load_verify_locations(ctx, t->cafile, NULL) != 1))
		return err[0] ? -1 : fail(err, cap, "--mqtt-cafile %s: no CA certificate read (%s)", t->cafile, ssl_reason());
	if (t->capath) {
		DIR *d = opendir(t->capath);
		if (!d)
			return fail(err, cap, "--mqtt-capath %s: %s", t->capath, strerror(errno));
		closedir(d);
	}
	if (!t->certfile)
		return 0;
	if (readable("mqtt-certfile", t->certfile, err, cap) || readable("mqtt-keyfile", t->keyfile, err, cap))
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, t->certfile) != 1)
		return fail(err, cap, "--mqtt-certfile %s: no certificate read (%s)", t->certfile, ssl_reason());
	FILE *f = fopen(t->keyfile, "r");
	EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, no_password, NULL) : NULL;
	if (f)
		fclose(f);
	if (!key)
		return fail(err, cap, "--mqtt-keyfile %s: no key read (%s; an encrypted key is not supported)",
			    t->keyfile, ssl_reason());
	int rc = SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1 ? 0 : -1;
	EVP_PKEY_free(key);
	ERR_clear_error();
	return rc ? fail(err, cap, "--mqtt-keyfile %s is not the key of --mqtt-certfile %s", t->keyfile, t->certfile) : 0;
}

int mqtt_tls_check(const struct mqtt_tls *t, char *err, size_t cap)
{
	if (cap)
		err[0] = '\0';
	bool any_file = t->cafile || t->capath || t->certfile || t->keyfile;
	if (!t->on)
		return any_file ? fail(err, cap, "--mqtt-cafile, --mqtt-capath, --mqtt-certfile and --mqtt-keyfile "
						 "need --mqtt-tls")
				: 0;
	if (!t->certfile != !t->keyfile)
		return fail(err, cap, "--mqtt-certfile and --mqtt-keyfile go together: give both or neither");
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return fail(err, cap, "cannot make a TLS context (%s)", ssl_reason());
	int rc = load(ctx, t, err, cap);
	SSL_CTX_free(ctx);
	return rc;
}

int mqtt_tls_apply(struct mosquitto *mosq, const struct mqtt_tls *t)
{
	const char *capath = t->capath;
	int rc = MOSQ_ERR_SUCCESS;
	if (!t->cafile && !capath) {
		/* The system store: OpenSSL's default file and directory (Debian:
		 * /etc/ssl/certs); mosquitto_tls_set wants one of the two named. */
		rc = mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
		capath = X509_get_default_cert_dir();
	}
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_set(mosq, t->cafile, capath, t->certfile, t->keyfile, no_password);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_opts_set(mosq, SSL_VERIFY_PEER, "tlsv1.2", NULL); /* 1.2 and 1.3 */
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_insecure_set(mosq, false); /* the host name is checked */
	return rc;
}

bool mqtt_tls_handshaking(struct mosquitto *mosq)
{
	SSL *ssl = mosquitto_ssl_get(mosq);
	return ssl && mosquitto_socket(mosq) >= 0 && !SSL_is_init_finished(ssl);
}

bool mqtt_tls_handshake_wants_write(struct mosquitto *mosq)
{
	SSL *ssl = mosquitto_ssl_get(mosq);
	return ssl && SSL_want_write(ssl);
}

bool mqtt_tls_pending(struct mosquitto *mosq)
{
	SSL *ssl = mosquitto_ssl_get(mosq);
	return ssl && SSL_pending(ssl) > 0;
}

const char *mqtt_tls_verify_error(struct mosquitto *mosq)
{
	SSL *ssl = mosquitto_ssl_get(mosq);
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	return v == X509_V_OK ? NULL : X509_verify_cert_error_string(v);
}
