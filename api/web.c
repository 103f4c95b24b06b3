/*
 * web.c — the web app's side of `sievefs serve` (issue 17): sign-in
 * sessions under /app/, the CSRF rule of cookie auth, and the app's static
 * files at / (api/server_int.h says how this file joins the router).
 *
 * Sessions. POST /app/session {"token": "svf_..."} trades an API token for
 * a session (store/sessions.c: 256 random bits, only a hash kept, tied to
 * the token: revoking it ends the session) whose id goes to the browser in
 * an HttpOnly, SameSite=Strict cookie (SRV_COOKIE; Secure over https),
 * expiring after --session-ttl. The token comes in the body only: never
 * in a URL, never logged, never answered; its copies in this process are
 * wiped once checked. A wrong token is a failed secret check like a bad
 * bearer token (srv_refuse_secret: counted per address, 429 over the
 * limit). GET /app/session says who is signed in; DELETE signs out (the
 * row goes, the cookie is cleared). All state is in the catalog, so any
 * server process on the store honours a session.
 *
 * CSRF. A browser sends the cookie with any request to this server,
 * whichever page makes it; SameSite=Strict already keeps it off requests
 * from other sites, and the Origin check is the second lock: a request
 * authenticated by cookie that changes something (not GET/HEAD) must carry
 * Origin equal to this server's own — the scheme it runs and the Host the
 * request names — or it is refused 403 before its route runs
 * (server_http.c, cookie_auth). Sign-in takes no cookie, but a foreign
 * Origin on it is refused too (login CSRF); curl sends none, which passes.
 *
 * Static files. --web-root DIR (opened once, O_PATH) holds the built app:
 * GET / is DIR/index.html; /a/b.js is DIR/a/b.js, walked one component at
 * a time with openat(O_NOFOLLOW), so no symlink is followed inside DIR (one
 * pointing out of it is refused, and so is one pointing within: the build
 * makes none). A component must be a plain name: letters, digits and
 * "-_.~+@", not starting with '.', no percent escapes (the app's file
 * names need none, so "%2e%2e", "%2f" and NUL never reach a path). A
 * refused path is 404, never another file. A path that names no file is
 * index.html when its last component has no extension (the app's own
 * routes, such as /datasets/12), else 404. Files are answered from their
 * descriptor (MHD_create_response_from_fd). index.html and other files
 * outside /assets/ are "no-cache"; /assets/ holds content-hashed names,
 * cached for a year. Without a web root or its index.html, every static
 * path answers 404 with a fixed plain-text note on how to build the app.
 *
 * Headers. Every answer to the app (static and /app, errors included:
 * server_http.c adds them through srv_send_resp) carries a strict CSP (no
 * inline script, no other origins), nosniff, no referrer and no framing.
 *
 * Threads: handlers run in MHD's threads; s->web_fd is read-only after
 * start.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api/server_int.h"
#include "core/log.h"

#define CSP_A "default-src 'self'; script-src 'self'; style-src 'self';" \
	" img-src 'self' data: blob:"
#define CSP_B "; connect-src 'self'; object-src 'none';" \
	" base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
#define ASSET_MAX_AGE "public, max-age=31536000, immutable"

static const char not_installed[] =
	"sievefs: the web app is not installed on this server.\n"
	"Build it with `make` on a machine with Node.js and npm (issue 17),"
	" then give\n`sievefs serve` the built files with --web-root DIR.\n";

void srv_web_headers(struct MHD_Response *resp)
{
	char csp[sizeof(CSP_A CSP_B) + 260], o[256];

	/* images and downloads may come from the object store, by presigned
	 * URLs (routes_media.c): its origin, when the blobs live there */
	if (srv_media_origin(NULL, o, sizeof(o)))
		snprintf(csp, sizeof(csp), "%s %s%s", CSP_A, o, CSP_B);
	else
		snprintf(csp, sizeof(csp), "%s%s", CSP_A, CSP_B);
	MHD_add_response_header(resp, "Content-Security-Policy", csp);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
}

int srv_origin_ok(struct srv *s, struct MHD_Connection *c, int required)
{
	const char *o = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "Origin");
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_HOST);
	const char *scheme = s->tls ? "https://" : "http://";
	size_t sl = strlen(scheme);

	if (!o)
		return !required;
	return host && *host && strlen(o) == sl + strlen(host) &&
	       !strncasecmp(o, scheme, sl) && !strcasecmp(o + sl, host);
}

enum MHD_Result srv_send_csrf(struct MHD_Connection *c)
{
	return srv_send_err(c, MHD_HTTP_FORBIDDEN, "csrf", "EPERM",
			    "a change by session cookie needs this server's"
			    " own Origin header (cross-site request refused)");
}

/* ---- sessions ---- */

/* Queues status with j (or no body) and a Set-Cookie of the session:
 * value sid for max_age seconds, or cleared when sid is "". */
static enum MHD_Result send_with_cookie(struct srv *s,
					struct MHD_Connection *c,
					unsigned status, cJSON *j,
					const char *sid, unsigned max_age)
{
	char cookie[STORE_SESSION_LEN + 128];
	struct MHD_Response *resp = j ? srv_json_resp(j) :
		MHD_create_response_from_buffer(0, (char *)"",
						MHD_RESPMEM_PERSISTENT);

	if (!resp)
		return MHD_NO;
	snprintf(cookie, sizeof(cookie), SRV_COOKIE "=%s; HttpOnly;"
		 " SameSite=Strict; Path=/; Max-Age=%u%s", sid, max_age,
		 s->tls ? "; Secure" : "");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	OPENSSL_cleanse(cookie, sizeof(cookie));
	return srv_send_resp(c, status, resp, j ? "application/json" : NULL);
}

static cJSON *user_json(const char *user)
{
	cJSON *j = cJSON_CreateObject();

	if (j && !cJSON_AddStringToObject(j, "user", user)) {
		cJSON_Delete(j);
		j = NULL;
	}
	return j;
}

/* POST /app/session {"token": ...}: 201 {"user"} and the cookie. */
static enum MHD_Result app_sign_in(struct srv *s, struct req *r,
				   struct MHD_Connection *c)
{
	char sid[STORE_SESSION_LEN + 1], user[STORE_USER_MAX + 1];
	enum MHD_Result ret;
	cJSON *j, *tok;
	int rc = -EINVAL;

	if (!srv_origin_ok(s, c, MHD_lookup_connection_value(
				   c, MHD_COOKIE_KIND, SRV_COOKIE) != NULL))
		ret = srv_send_csrf(c);
	else if ((j = srv_body_json(r, c, &ret))) {
		tok = cJSON_GetObjectItemCaseSensitive(j, "token");
		if (cJSON_IsString(tok) && tok->valuestring) {
			rc = core_session_create(s->st, tok->valuestring,
						  (int64_t)s->session_ttl *
						  1000000000, sid, user);
			OPENSSL_cleanse(tok->valuestring,
					strlen(tok->valuestring));
		}
		cJSON_Delete(j);
		if (rc == -EINVAL)
			ret = srv_bad_field(c, "token");
		else if (rc == -EACCES)
			ret = srv_refuse_secret(s, c, "a sign-in token",
						"unknown or revoked token");
		else if (rc)
			ret = srv_send_errno(c, rc, "cannot sign in now");
		else {
			log_info("web sign-in of user '%s'", user);
			ret = send_with_cookie(s, c, MHD_HTTP_CREATED,
					       user_json(user), sid,
					       s->session_ttl);
			OPENSSL_cleanse(sid, sizeof(sid));
		}
	}
	if (r->buf)
		OPENSSL_cleanse(r->buf, r->len);
	return ret;
}

/* GET /app/session: 200 {"user"}, or 401 when not signed in. */
static enum MHD_Result app_who(struct srv *s, struct req *r,
			       struct MHD_Connection *c)
{
	enum MHD_Result ret;

	if (srv_authenticate(s, r, c, "GET", &ret))
		return ret;
	return srv_send_json(c, MHD_HTTP_OK, user_json(r->user));
}

/* DELETE /app/session: ends the cookie's session; 204, cookie cleared.
 * Authenticated first, so a cookie needs the server's Origin. */
static enum MHD_Result app_sign_out(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	const char *sid = MHD_lookup_connection_value(c, MHD_COOKIE_KIND,
						      SRV_COOKIE);
	enum MHD_Result ret;
	int rc;

	if (srv_authenticate(s, r, c, "DELETE", &ret))
		return ret;
	rc = sid ? core_session_end(s->st, sid) : 0;
	if (rc)
		return srv_send_errno(c, rc, NULL);
	return send_with_cookie(s, c, MHD_HTTP_NO_CONTENT, NULL, "", 0);
}

/* ---- static files ---- */

/* 1 if name[0..n) is a plain file name (see the top of this file). */
static int name_ok(const char *name, size_t n)
{
	if (n == 0 || n > 255 || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("-_.~+@", ch)))
			return 0;
	}
	return 1;
}

/*
 * Opens the regular file `path` ("/a/b.js") names under the web root, one
 * component at a time, following no symlink. The descriptor (>= 0) with
 * *st; -ENOENT when nothing (or no regular file) is there; -EACCES when the
 * path is refused (a bad component, a symlink, a trailing or doubled
 * '/', a component that is no folder).
 */
static int open_under(int root, const char *path, struct stat *st)
{
	const char *p = path + 1;
	char name[256];
	int dir = root, fd, err;

	for (;;) {
		size_t n = strcspn(p, "/");
		int last = p[n] == '\0';

		if (!name_ok(p, n)) {
			if (dir != root)
				close(dir);
			return n == 0 && last ? -ENOENT : -EACCES;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		/* the last one is looked at before it is opened, so that no
		 * device or FIFO in DIR is ever opened */
		if (last && !fstatat(dir, name, st, AT_SYMLINK_NOFOLLOW) &&
		    !S_ISREG(st->st_mode)) {
			if (dir != root)
				close(dir);
			return S_ISLNK(st->st_mode) ? -EACCES : -ENOENT;
		}
		fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
			    (last ? O_NONBLOCK : O_DIRECTORY));
		err = errno;
		if (dir != root)
			close(dir);
		if (fd < 0)
			return err == ENOENT ? -ENOENT : -EACCES;
		if (last)
			break;
		dir = fd;
		p += n + 1;
	}
	if (fstat(fd, st) || !S_ISREG(st->st_mode)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* The Content-Type of a file name, by its extension. */
static const char *mime_of(const char *name)
{
	static const char *const types[][2] = {
		{ "html", "text/html; charset=utf-8" },
		{ "js", "text/javascript; charset=utf-8" },
		{ "mjs", "text/javascript; charset=utf-8" },
		{ "css", "text/css; charset=utf-8" },
		{ "svg", "image/svg+xml" },
		{ "png", "image/png" },
		{ "ico", "image/x-icon" },
		{ "json", "application/json" },
		{ "map", "application/json" },
		{ "wasm", "application/wasm" },
		{ "woff2", "font/woff2" },
		{ "txt", "text/plain; charset=utf-8" },
	};
	const char *dot = strrchr(name, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot + 1, types[i][0]))
			return types[i][1];
	return "application/octet-stream";
}

/* 1 if the last component of path has an extension ("x.js"). */
static int has_ext(const char *path)
{
	const char *last = strrchr(path, '/');

	return strchr(last ? last + 1 : path, '.') != NULL;
}

static enum MHD_Result send_plain_404(struct MHD_Connection *c,
				      const char *text)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), (char *)text,
						MHD_RESPMEM_PERSISTENT);

	return srv_send_resp(c, MHD_HTTP_NOT_FOUND, resp,
			     "text/plain; charset=utf-8");
}

/* GET/HEAD of a static file (see the top of this file). */
static enum MHD_Result web_static(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	const char *path = r->raw, *name = path;
	struct MHD_Response *resp;
	struct stat st;
	int fd = -ENOENT;

	if (s->web_fd < 0)
		return send_plain_404(c, not_installed);
	if (strcmp(path, "/"))
		fd = open_under(s->web_fd, path, &st);
	if (fd == -ENOENT && !has_ext(path)) {
		name = "/index.html";
		fd = open_under(s->web_fd, name, &st);
		if (fd < 0)
			return send_plain_404(c, not_installed);
	}
	if (fd < 0)
		return send_plain_404(c, "not found\n");
	resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				!strncmp(name, "/assets/", 8) ? ASSET_MAX_AGE :
				"no-cache");
	return srv_send_resp(c, MHD_HTTP_OK, resp, mime_of(name));
}

const struct route srv_routes_app[] = {
	{ "/app/session", "POST", app_sign_in, B_JSON, CAP_LINE },
	{ "/app/session", "GET", app_who, B_NONE, 0 },
	{ "/app/session", "DELETE", app_sign_out, B_NONE, 0 },
	{ NULL, NULL, NULL, B_NONE, 0 },
};

const struct route srv_route_static = { "/", "GET", web_static, B_NONE, 0 };
