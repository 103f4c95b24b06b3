/*
 * s3_sign.c — the S3 client's pure computations: the target and
 * environment config (s3_config_parse, s3_config_env), the canonical URI
 * encoding that both signers rely on, and SigV4 presigned URLs.
 *
 * Canonical URI. A key is percent-encoded byte by byte except A-Z a-z 0-9
 * - . _ ~ and '/', which is the form SigV4 signs; curl sends the path as we
 * wrote it (CURLOPT_PATH_AS_IS), so the signed and the sent path agree.
 *
 * Presigning (SigV4 query signing): the canonical request is METHOD, path,
 * the sorted query without the signature, "host:HOST", "host",
 * UNSIGNED-PAYLOAD; the signing key is the HMAC-SHA256 chain
 * AWS4+secret → date → region → "s3" → "aws4_request" (OpenSSL's HMAC).
 * Response overrides (content type, disposition) are signed into the
 * query so the URL's holder cannot change them. The secret and every
 * derived key are wiped after use (OPENSSL_cleanse). Sends nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "store/s3_int.h"

void s3_hex(const unsigned char *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = 0;
}

void s3_sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[32];

	SHA256(buf, len, md);
	s3_hex(md, 32, out);
}

/* Appends s to dst (cap bytes) percent-encoded as SigV4 wants: unreserved
 * bytes as they are, '/' too when keep_slash. -ENAMETOOLONG on overflow. */
int s3i_uri_enc(char *dst, size_t cap, const char *s, int keep_slash)
{
	static const char d[] = "0123456789ABCDEF";
	size_t n = strlen(dst);

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int plain = isalnum(*p) || *p == '-' || *p == '.' ||
			    *p == '_' || *p == '~' || (keep_slash && *p == '/');

		if (n + (plain ? 1 : 3) >= cap)
			return -ENAMETOOLONG;
		if (plain) {
			dst[n++] = (char)*p;
		} else {
			dst[n++] = '%';
			dst[n++] = d[*p >> 4];
			dst[n++] = d[*p & 15];
		}
	}
	dst[n] = 0;
	return 0;
}

/* Appends a plain string. */
int s3i_cat(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(dst), l = strlen(s);

	if (n + l >= cap)
		return -ENAMETOOLONG;
	memcpy(dst + n, s, l + 1);
	return 0;
}

int s3i_key_ok(const s3 *h, const char *key)
{
	size_t l;

	if (!key || !*key)
		return 0;
	l = strlen(h->cfg.prefix) + strlen(key);
	return l <= S3_KEY_MAX;
}

/* The path "/BUCKET/PREFIX+KEY" (key may be NULL: the bucket), encoded. */
int s3i_object_path(const s3 *h, const char *key, char *out, size_t cap)
{
	int rc;

	out[0] = 0;
	if ((rc = s3i_cat(out, cap, "/")) || (rc = s3i_uri_enc(out, cap, h->cfg.bucket, 0)))
		return rc;
	if (!key)
		return s3i_cat(out, cap, "/");
	if ((rc = s3i_cat(out, cap, "/")) ||
	    (rc = s3i_uri_enc(out, cap, h->cfg.prefix, 1)) ||
	    (rc = s3i_uri_enc(out, cap, key, 1)))
		return rc;
	return 0;
}

int s3i_key_path(const s3 *h, const char *key, char *out, size_t cap,
		 struct s3_err *err)
{
	if (!key || !*key) {
		s3i_err_set(err, 0, NULL, "an empty key");
		return -EINVAL;
	}
	if (!s3i_key_ok(h, key) || s3i_object_path(h, key, out, cap)) {
		s3i_err_set(err, 0, NULL,
			    "a key of %zu bytes: with the prefix's %zu, over S3's %d",
			    strlen(key), strlen(h->cfg.prefix), S3_KEY_MAX);
		return -EINVAL;
	}
	return 0;
}
/* ------------------------------------------------------------- config */


static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char b[3] = { s[i + 1], s[i + 2], 0 };

			c = (char)strtol(b, NULL, 16);
			i += 2;
		}
		if (!c || o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = 0;
	return 0;
}

int s3_config_parse(const char *target, struct s3_config *cfg, char *msg,
		    size_t msglen)
{
	const char *p, *q, *slash;
	size_t bl;

	memset(cfg, 0, sizeof *cfg);
	if (!target || strncmp(target, "s3://", 5))
		return s3i_bad(msg, msglen, "an S3 target starts with s3://BUCKET");
	p = target + 5;
	q = strchr(p, '?');
	if (!q)
		q = p + strlen(p);
	slash = memchr(p, '/', (size_t)(q - p));
	bl = (size_t)((slash ? slash : q) - p);
	if (bl < 3 || bl > 63)
		return s3i_bad(msg, msglen, "bucket name must be 3 to 63 characters");
	for (size_t i = 0; i < bl; i++)
		if (!islower((unsigned char)p[i]) && !isdigit((unsigned char)p[i]) &&
		    p[i] != '-' && p[i] != '.')
			return s3i_bad(msg, msglen,
				   "bucket name may hold only a-z, 0-9, '-' and '.'");
	memcpy(cfg->bucket, p, bl);
	if (slash && slash + 1 < q) {
		if (pct_decode(slash + 1, (size_t)(q - slash - 1), cfg->prefix,
			       sizeof cfg->prefix - 1))
			return s3i_bad(msg, msglen, "bad or too long prefix");
		size_t l = strlen(cfg->prefix);
		if (cfg->prefix[l - 1] != '/') {
			cfg->prefix[l] = '/';
			cfg->prefix[l + 1] = 0;
		}
	}
	for (const char *a = *q ? q + 1 : q; *a;) {
		const char *amp = strchr(a, '&'), *eq;
		size_t n = amp ? (size_t)(amp - a) : strlen(a);

		eq = memchr(a, '=', n);
		if (!eq)
			return s3i_bad(msg, msglen, "target parameter without '=': %.*s",
				   (int)(n > 40 ? 40 : n), a);
		size_t kl = (size_t)(eq - a), vl = n - kl - 1;
		if (kl == 8 && !memcmp(a, "endpoint", 8)) {
			if (pct_decode(eq + 1, vl, cfg->endpoint, sizeof cfg->endpoint))
				return s3i_bad(msg, msglen, "bad or too long endpoint");
		} else if (kl == 6 && !memcmp(a, "region", 6)) {
			if (pct_decode(eq + 1, vl, cfg->region, sizeof cfg->region))
				return s3i_bad(msg, msglen, "bad or too long region");
		} else {
			return s3i_bad(msg, msglen,
				   "unknown target parameter '%.*s' (endpoint, region)",
				   (int)(kl > 40 ? 40 : kl), a);
		}
		a += n + (amp ? 1 : 0);
	}
	if (!cfg->region[0])
		snprintf(cfg->region, sizeof cfg->region, "us-east-1");
	if (!cfg->endpoint[0])
		snprintf(cfg->endpoint, sizeof cfg->endpoint,
			 "https://s3.%s.amazonaws.com", cfg->region);
	if (strncmp(cfg->endpoint, "http://", 7) &&
	    strncmp(cfg->endpoint, "https://", 8))
		return s3i_bad(msg, msglen, "endpoint must start with http:// or https://");
	size_t el = strlen(cfg->endpoint);
	while (el > 8 && cfg->endpoint[el - 1] == '/')
		cfg->endpoint[--el] = 0;
	if (strchr(strstr(cfg->endpoint, "//") + 2, '/'))
		return s3i_bad(msg, msglen, "endpoint must have no path (path-style URLs)");
	return 0;
}

int s3_config_env(struct s3_config *cfg, char *msg, size_t msglen)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID");
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");

	if (!ak || !*ak || !sk || !*sk)
		return s3i_bad(msg, msglen,
			   "S3 credentials missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
	if (strlen(ak) >= sizeof cfg->access_key ||
	    strlen(sk) >= sizeof cfg->secret_key)
		return s3i_bad(msg, msglen, "S3 credentials too long (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)");
	snprintf(cfg->access_key, sizeof cfg->access_key, "%s", ak);
	snprintf(cfg->secret_key, sizeof cfg->secret_key, "%s", sk);
	return 0;
}

void s3_config_wipe(struct s3_config *cfg)
{
	if (cfg)
		OPENSSL_cleanse(cfg, sizeof *cfg);
}
/* ------------------------------------------------------------ presign */

static void hmac(const void *key, size_t klen, const char *msg,
		 unsigned char out[32])
{
	unsigned char md[32];
	unsigned int n = 32;

	/* out may be key: the digest goes to md first */
	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
	     strlen(msg), md, &n);
	memcpy(out, md, 32);
	OPENSSL_cleanse(md, sizeof md);
}

int s3_presign_ex(s3 *h, const char *method, const char *key,
		  unsigned expires_s, int64_t now,
		  const struct s3_presign_opt *opt, char *url, size_t cap)
{
	char path[S3I_URL_MAX], q[1024], canon[S3I_URL_MAX + 1536], sts[512];
	char date[9], amzdate[17], scope[160], chex[65], ksecret[160], sig[65];
	unsigned char k[32];
	time_t t = (time_t)now;
	struct tm tm;

	if (!method || (strcmp(method, "GET") && strcmp(method, "PUT")) ||
	    (opt && strcmp(method, "GET") &&
	     (opt->content_type || opt->content_disposition)) ||
	    !expires_s || expires_s > S3_PRESIGN_MAX_S || !s3i_key_ok(h, key) ||
	    !gmtime_r(&t, &tm))
		return -EINVAL;
	if (s3i_object_path(h, key, path, sizeof path))
		return -ENAMETOOLONG;
	strftime(date, sizeof date, "%Y%m%d", &tm);
	strftime(amzdate, sizeof amzdate, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", date,
		 h->cfg.region);
	/* the query, in canonical (sorted) order, the signature left out */
	snprintf(q, sizeof q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
	char cred[320];
	snprintf(cred, sizeof cred, "%s/%s", h->cfg.access_key, scope);
	if (s3i_uri_enc(q, sizeof q, cred, 0))
		return -ENAMETOOLONG;
	char rest[128];
	snprintf(rest, sizeof rest,
		 "&X-Amz-Date=%s&X-Amz-Expires=%u&X-Amz-SignedHeaders=host",
		 amzdate, expires_s);
	if (s3i_cat(q, sizeof q, rest))
		return -ENAMETOOLONG;
	/* response overrides sort after the X-Amz- ones ('X' < 'r') */
	if (opt && opt->content_disposition &&
	    (s3i_cat(q, sizeof q, "&response-content-disposition=") ||
	     s3i_uri_enc(q, sizeof q, opt->content_disposition, 0)))
		return -ENAMETOOLONG;
	if (opt && opt->content_type &&
	    (s3i_cat(q, sizeof q, "&response-content-type=") ||
	     s3i_uri_enc(q, sizeof q, opt->content_type, 0)))
		return -ENAMETOOLONG;
	if ((size_t)snprintf(canon, sizeof canon, "%s\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD",
			     method, path, q, h->host) >= sizeof canon)
		return -ENAMETOOLONG;
	s3_sha256_hex(canon, strlen(canon), chex);
	snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amzdate,
		 scope, chex);
	snprintf(ksecret, sizeof ksecret, "AWS4%s", h->cfg.secret_key);
	hmac(ksecret, strlen(ksecret), date, k);
	OPENSSL_cleanse(ksecret, sizeof ksecret);
	hmac(k, 32, h->cfg.region, k);
	hmac(k, 32, "s3", k);
	hmac(k, 32, "aws4_request", k);
	hmac(k, 32, sts, k);
	s3_hex(k, 32, sig);
	OPENSSL_cleanse(k, sizeof k);
	if ((size_t)snprintf(url, cap, "%s%s?%s&X-Amz-Signature=%s",
			     h->cfg.endpoint, path, q, sig) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int s3_presign(s3 *h, const char *method, const char *key,
	       unsigned expires_s, char *url, size_t cap)
{
	return s3_presign_ex(h, method, key, expires_s, (int64_t)time(NULL),
			     NULL, url, cap);
}
