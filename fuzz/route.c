/*
 * fuzz/route.c — libFuzzer harness for the HTTP request routing of
 * `sievefs serve`: the router of api/server_http.c (through the test
 * entry point of api/server_probe.h) and the path and query parsers it uses
 * (api_path_parse, api_id_parse, api_sha_from_hex, api_query_get,
 * api_pct_decode in api/json.c).
 *
 * Feeds: "METHOD\nTARGET" — the first line is the method (GET if there is
 * no newline), the rest the raw request target as a client sends it
 * (percent-encoded, with an optional ?query), cut at the first NUL.
 *
 * Checks: no crash, no ASan/UBSan error, no leak. A routed request has a
 * path of 2-4 segments under /v1 whose shape is the route's key
 * ("nodes/#/children") and a valid id (> 0) or blob hash; or it is the
 * web app's: not under /v1, keyed by its whole path (/app/...) or "/"
 * (a static file). Property: the
 * decoded segments, percent-encoded again, parse to the same segments.
 */
#include <errno.h>
#include <string.h>

#include "api/json.h"
#include "api/server_probe.h"
#include "fuzz/fuzz.h"

static const char *const qkeys[] = { "name", "limit", "after", "is_dir",
				     "kept", "" };

static void queries(const char *q)
{
	char out[API_SEG_MAX];

	for (size_t i = 0; i < sizeof(qkeys) / sizeof(qkeys[0]); i++) {
		int rc = api_query_get(q, qkeys[i], out, sizeof(out));
		check(rc == 1 || rc == 0 || rc == -EINVAL ||
		      rc == -ENAMETOOLONG, "query_get: 1, 0 or -errno");
		check(rc != 1 || strlen(out) < sizeof(out), "query value fits");
	}
	check(api_query_get(q, "x", out, 0) <= 1, "query_get, no room");
}

/* Percent-encodes every segment and parses the result again. */
static void path_round_trip(const struct api_path *p)
{
	static const char hex[] = "0123456789ABCDEF";
	static struct api_path p2;
	char raw[API_SEGS_MAX * (API_SEG_MAX * 3 + 1) + 1];
	size_t o = 0;

	for (size_t i = 0; i < p->n; i++) {
		raw[o++] = '/';
		for (const char *s = p->seg[i]; *s; s++) {
			unsigned char c = (unsigned char)*s;
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			    c == '~') {
				raw[o++] = (char)c;
			} else {
				raw[o++] = '%';
				raw[o++] = hex[c >> 4];
				raw[o++] = hex[c & 15];
			}
		}
	}
	raw[o] = '\0';
	check(api_path_parse(raw, &p2) == 0, "an encoded path parses again");
	check(p2.n == p->n, "same number of segments");
	for (size_t i = 0; i < p->n; i++)
		check(!strcmp(p2.seg[i], p->seg[i]), "same segments");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct api_path path;
	char *buf, *target, *q, method[16] = "GET", key[64];
	const char *nl;
	int64_t id = -1;
	int rc;

	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	target = buf;
	nl = strchr(buf, '\n');
	if (nl) {
		size_t ml = (size_t)(nl - buf);
		snprintf(method, sizeof(method), "%.*s",
			 (int)(ml < sizeof(method) ? ml : sizeof(method) - 1), buf);
		target = buf + ml + 1;
	}
	rc = api_server_route_probe(target, method, key, sizeof(key), &id);
	check(rc == 0 || rc == 1 || rc == -ENOMEM, "probe: 0, 1 or -ENOMEM");

	q = strchr(target, '?');
	if (q)
		*q++ = '\0';
	if (api_path_parse(target, &path) == 0) {
		check(path.n >= 1 && path.n <= API_SEGS_MAX, "1..8 segments");
		path_round_trip(&path);
	}
	if (rc == 0 && key[0] == '/') {
		/* the web app's: a path whose first segment is not v1; an
		 * /app route is its whole path, anything else static */
		char seg[8];
		check(target[0] == '/', "a web route is a path");
		check(api_pct_decode(target + 1, strcspn(target + 1, "/"), seg,
				     sizeof(seg), 0) != 2 || strcmp(seg, "v1"),
		      "a web route is not under /v1");
		check(!strcmp(key, "/") || !strcmp(key, target),
		      "an /app route is keyed by its path");
		check(id == 0, "web routes have no id");
	} else if (rc == 0 && (!strncmp(key, "v1/", 3) ||
			       !strncmp(key, "signed/", 7))) {
		/* the lightly door's (routes_lightly.c): /lightly/ then the
		 * key's segments, an id segment ('#') 24 hex digits; the
		 * client's trailing '/' is dropped */
		size_t tl = strlen(target), k = 0;
		const char *kp = key;

		if (tl > 9 && target[tl - 1] == '/')
			target[tl - 1] = '\0';
		check(api_path_parse(target, &path) == 0,
		      "a lightly route's path parses");
		check(path.n >= 2 && !strcmp(path.seg[0], "lightly"),
		      "a lightly route is under /lightly/");
		for (size_t i = 1; i < path.n; i++, k++) {
			size_t sl = strcspn(kp, "/");
			if (sl == 1 && kp[0] == '#')
				check(strlen(path.seg[i]) == 24 &&
				      strspn(path.seg[i], "0123456789abcdef") == 24,
				      "a lightly id is 24 hex digits");
			else
				check(strlen(path.seg[i]) == sl &&
				      !strncmp(path.seg[i], kp, sl),
				      "a lightly key names its path's segments");
			kp += sl + (kp[sl] == '/');
		}
		check(*kp == '\0' && k == path.n - 1,
		      "a lightly key has one part per segment");
	} else if (rc == 0) {
		check(api_path_parse(target, &path) == 0, "a route's path parses");
		check(path.n >= 2 && path.n <= 4 && !strcmp(path.seg[0], "v1"),
		      "a route is /v1/ and 2..4 segments");
		check(!strncmp(key, path.seg[1], strlen(path.seg[1])),
		      "the key starts with the collection");
		check(path.n < 3 ? id == 0 && !strchr(key, '#') :
		      strchr(key, '#') != NULL, "an id segment iff '#'");
		if (path.n >= 3 && strcmp(path.seg[1], "blobs")) {
			int64_t v;
			check(id > 0, "ids are > 0");
			check(api_id_parse(path.seg[2], &v) == 0 && v == id,
			      "the id is the segment's");
		}
	}
	if (q)
		queries(q);
	free(buf);
	return 0;
}
