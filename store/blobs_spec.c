/*
 * blobs_spec.c — which blob engine a store opens (blobstore.h,
 * blobs_open_spec): the text of `sievefs serve --blobs SPEC` (or its
 * config file's `blobs` line) read strictly, and the credentials that go
 * with it.
 *
 * Forms:
 *   NULL or ""          the local engine on the store's folder (the default)
 *   s3://BUCKET[/PREFIX]?endpoint=http[s]://HOST[:PORT]&region=REGION
 *                       the S3 engine: both parameters required and each
 *                       given once (no silent default to AWS when the
 *                       endpoint was forgotten), nothing else in the query
 *                       (credentials never ride in a spec: it shows in argv
 *                       and in log lines), no user:password@ in the endpoint,
 *                       no path, query or fragment after HOST:PORT, a prefix
 *                       without empty, "." or ".." segments or control bytes.
 * Anything else is -EINVAL, with a reason naming the part that is wrong.
 *
 * Credentials: key_id and secret as the caller read them from a config
 * file (s3_access_key_id, s3_secret_access_key), else AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY from the environment (S3's convention). Missing or
 * half given: -EINVAL naming where they go. The secret is copied into the
 * engine and this file's copy wiped; no message ever holds it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/blobstore.h"

static int bad(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (msg && msglen) {
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

#define FORM "s3://BUCKET[/PREFIX]?endpoint=http(s)://HOST[:PORT]&region=REGION"

/* The prefix between the bucket's '/' and the '?' (n bytes): no empty,
 * "." or ".." segment, no control byte, no '#'. */
static int prefix_ok(const char *p, size_t n, char *msg, size_t msglen)
{
	size_t seg = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i == n || p[i] == '/') {
			if (i == n && seg == 0)
				break;   /* a trailing '/' is fine */
			if (seg == 0)
				return bad(msg, msglen, "blob spec: the prefix '%.*s' "
					   "has an empty segment ('//' or a leading '/')",
					   (int)n, p);
			if ((seg == 1 && p[i - 1] == '.') ||
			    (seg == 2 && p[i - 1] == '.' && p[i - 2] == '.'))
				return bad(msg, msglen, "blob spec: the prefix '%.*s' "
					   "has a '.' or '..' segment", (int)n, p);
			seg = 0;
			continue;
		}
		if ((unsigned char)p[i] < 0x21 || p[i] == 0x7f || p[i] == '#' ||
		    p[i] == '\\')
			return bad(msg, msglen, "blob spec: the prefix holds a "
				   "space, control byte, '#' or '\\'");
		seg++;
	}
	return 0;
}

/* http[s]://HOST[:PORT] and nothing more (v, n bytes, not decoded). */
static int endpoint_ok(const char *v, size_t n, char *msg, size_t msglen)
{
	size_t i = 0, host, port = 0;

	if (memchr(v, '@', n))   /* not echoed: it may hold a password */
		return bad(msg, msglen, "blob spec: no user or password in the "
			   "endpoint (credentials go in the environment or the "
			   "config file)");
	if (n >= 7 && !strncmp(v, "http://", 7))
		i = 7;
	else if (n >= 8 && !strncmp(v, "https://", 8))
		i = 8;
	else
		return bad(msg, msglen, "blob spec: endpoint '%.*s' must start "
			   "with http:// or https://", (int)(n > 80 ? 80 : n), v);
	host = i;
	if (i < n && v[i] == '[') {   /* [IPv6] */
		size_t j = i + 1;

		while (j < n && (isxdigit((unsigned char)v[j]) || v[j] == ':' ||
				 v[j] == '.'))
			j++;
		if (j == n || v[j] != ']' || j == i + 1)
			return bad(msg, msglen, "blob spec: endpoint's IPv6 "
				   "address is malformed");
		i = j + 1;
	} else {
		while (i < n && (isalnum((unsigned char)v[i]) || v[i] == '.' ||
				 v[i] == '-'))
			i++;
	}
	if (i == host)
		return bad(msg, msglen, "blob spec: endpoint has no host");
	if (i < n && v[i] == ':') {
		unsigned long p = 0;

		for (i++; i < n && isdigit((unsigned char)v[i]); i++, port++)
			p = p * 10 + (unsigned long)(v[i] - '0');
		if (!port || port > 5 || p == 0 || p > 65535)
			return bad(msg, msglen, "blob spec: endpoint's port must "
				   "be a number from 1 to 65535");
	}
	if (i < n && v[i] == '/' && i + 1 == n)
		return 0;   /* one trailing '/' */
	if (i < n)
		return bad(msg, msglen, "blob spec: endpoint '%.*s' must be "
			   "http(s)://HOST[:PORT], without a path (bad at '%c')",
			   (int)(n > 80 ? 80 : n), v, v[i]);
	return 0;
}

/* The query after '?': endpoint and region, once each, not empty. */
static int query_ok(const char *q, char *msg, size_t msglen)
{
	int have_ep = 0, have_rg = 0;

	if (!*q)
		return bad(msg, msglen, "blob spec: no '?endpoint=…&region=…' "
			   "(the form is " FORM ")");
	for (const char *a = q; *a;) {
		const char *amp = strchr(a, '&');
		size_t n = amp ? (size_t)(amp - a) : strlen(a);
		const char *eq = memchr(a, '=', n);
		size_t kl = eq ? (size_t)(eq - a) : n;
		int rc;

		if (!n)
			return bad(msg, msglen, "blob spec: an empty parameter "
				   "('&&', or '&' at an end)");
		if (!eq || eq + 1 == a + n)
			return bad(msg, msglen, "blob spec: parameter '%.*s' has "
				   "no value", (int)(kl > 40 ? 40 : kl), a);
		if (kl == 8 && !memcmp(a, "endpoint", 8)) {
			if (have_ep++)
				return bad(msg, msglen, "blob spec: endpoint "
					   "given twice");
			if ((rc = endpoint_ok(eq + 1, n - kl - 1, msg, msglen)))
				return rc;
		} else if (kl == 6 && !memcmp(a, "region", 6)) {
			if (have_rg++)
				return bad(msg, msglen, "blob spec: region "
					   "given twice");
			for (const char *r = eq + 1; r < a + n; r++)
				if (!isalnum((unsigned char)*r) && *r != '-' &&
				    *r != '_')
					return bad(msg, msglen, "blob spec: region "
						   "may hold only letters, digits, "
						   "'-' and '_'");
		} else {
			/* the name only: a value might be a key someone
			 * tried to pass here */
			return bad(msg, msglen, "blob spec: unknown parameter "
				   "'%.*s' (only endpoint and region; credentials "
				   "go in the environment or the config file)",
				   (int)(kl > 40 ? 40 : kl), a);
		}
		a += n + (amp ? 1 : 0);
		if (amp && !*a)
			return bad(msg, msglen, "blob spec: an empty parameter "
				   "('&&', or '&' at an end)");
	}
	if (!have_ep)
		return bad(msg, msglen, "blob spec: endpoint= is missing "
			   "(e.g. endpoint=https://s3.us-east-1.amazonaws.com)");
	if (!have_rg)
		return bad(msg, msglen, "blob spec: region= is missing "
			   "(e.g. region=us-east-1)");
	return 0;
}

/* The keys: given, or from the environment. */
static int creds(struct s3_config *cfg, const char *key_id,
		 const char *secret, char *msg, size_t msglen)
{
	int have_id = key_id && *key_id, have_sk = secret && *secret;

	if (have_id != have_sk)
		return bad(msg, msglen, "S3 credentials half given: the config "
			   "file needs both s3_access_key_id and "
			   "s3_secret_access_key");
	if (!have_id) {
		const char *ak = getenv("AWS_ACCESS_KEY_ID");
		const char *sk = getenv("AWS_SECRET_ACCESS_KEY");

		if (!ak || !*ak || !sk || !*sk)
			return bad(msg, msglen, "S3 credentials missing: set "
				   "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
				   "in the environment, or s3_access_key_id and "
				   "s3_secret_access_key in the config file");
		key_id = ak;
		secret = sk;
	}
	if (strlen(key_id) >= sizeof cfg->access_key ||
	    strlen(secret) >= sizeof cfg->secret_key)
		return bad(msg, msglen, "S3 credentials too long (at most %zu "
			   "bytes each)", sizeof cfg->access_key - 1);
	snprintf(cfg->access_key, sizeof cfg->access_key, "%s", key_id);
	snprintf(cfg->secret_key, sizeof cfg->secret_key, "%s", secret);
	return 0;
}

int blobs_open_spec(const char *dir, const char *spec, const char *key_id,
		    const char *secret, blobstore **out, char *msg,
		    size_t msglen)
{
	struct s3_config cfg;
	const char *p, *q, *slash;
	int rc;

	*out = NULL;
	if (msg && msglen)
		msg[0] = 0;
	if (!spec || !*spec) {
		if (!dir || !*dir)
			return bad(msg, msglen, "the local blob engine needs the "
				   "store's folder");
		rc = blobs_local_open(dir, out);
		if (rc)
			bad(msg, msglen, "cannot make the blob folders under %s: %s",
			    dir, strerror(-rc));
		return rc;
	}
	if (strncmp(spec, "s3://", 5))
		return bad(msg, msglen, "blob spec: unknown engine in '%.20s…' "
			   "(the form is " FORM ", or nothing for the store's "
			   "folder)", spec);
	p = spec + 5;
	q = strchr(p, '?');
	if (!q)
		return bad(msg, msglen, "blob spec: no '?endpoint=…&region=…' "
			   "(the form is " FORM ")");
	if (strchr(spec, '#'))
		return bad(msg, msglen, "blob spec: no '#' anywhere");
	slash = memchr(p, '/', (size_t)(q - p));
	if (slash && (rc = prefix_ok(slash + 1, (size_t)(q - slash - 1), msg,
				     msglen)))
		return rc;
	if ((rc = query_ok(q + 1, msg, msglen)))
		return rc;
	/* bucket name, percent-decoding and the fields: the S3 client's */
	if ((rc = s3_config_parse(spec, &cfg, msg, msglen))) {
		if (msg && msglen) {
			char why[200];

			snprintf(why, sizeof why, "%s", msg);
			bad(msg, msglen, "blob spec: %s", why);
		}
		return rc;
	}
	if ((rc = creds(&cfg, key_id, secret, msg, msglen)) == 0)
		rc = blobs_s3_open(&cfg, out, msg, msglen);
	s3_config_wipe(&cfg);
	return rc;
}
