/*
 * routes_app.c — the v1 routes the web app adds (issue 17, docs/api.md
 * "The web app's routes"), and their table (srv_routes_app_v1;
 * api/server_int.h says how a route is called and answers):
 *
 *   GET/POST /v1/tokens, DELETE /v1/tokens/{id}   the caller's own tokens
 *   GET /v1/datasets/{id}/state                   change counters (poll)
 *   GET /v1/datasets/{id}/runs                    the latest runs
 *   GET /v1/tags/{id}/filenames                   a tag's paths, as text
 *   GET /v1/tags/{id}/tar                         a tag's files, streamed
 *
 * Ownership as everywhere: a dataset or tag of another user is 404 as if
 * absent (srv_own_ds, srv_own_tag); a token of another user is 404 too
 * (core_token_revoke matches id and user in one statement). Creating
 * a token by session cookie is a change, so the router's CSRF rule
 * (cookie_auth: the server's own Origin) has refused a foreign one before
 * the route runs. A new token's value is answered once, with no-store,
 * and never logged.
 *
 * State. Each counter is a row of the catalog's `changes` table, moved by
 * triggers in the transaction of the change (store/schema_sqlite.c), so a mount of
 * the same store in this process, the API and a `sievefs token` beside
 * them all move it; the route reads them in one indexed range. "tree" is
 * the sample table's gen, the very string its routes send as
 * X-Sievefs-Gen (routes_samples.c: samples_gen and this server's start
 * id), so the app may compare it with either. Two values are composed
 * here: the selection's also carries the tree's when the
 * selection is taken from the live tree (an implicit "all of initial-tag"
 * changes with every file), and the runs' carries the current second
 * while a run is queued or running, because its progress lives in the
 * runner's memory (core/runs.c), not in the catalog: the app polls the
 * runs while one is active, and stops when it ends.
 *
 * The tar stream. A tag's files are read in pages of TAR_PAGE paths
 * (core_tree_files_page: path order, one index range, no transaction
 * held between pages) and written by libarchive (pax, ustar when it
 * suffices) whose write callback appends to a small buffer; libmicrohttpd
 * pulls that buffer through MHD_create_response_from_callback, and each
 * pull first drives libarchive one step (a header, TAR_CHUNK bytes of a
 * file read through the backend's node_open fd, or the end). So the
 * memory of a download is one page of paths, one chunk and libarchive's
 * 10 KiB block, whatever the archive's size. A file whose bytes are not
 * on the server for this user — kept by the uploader (upload=meta or
 * thumbnails), not sent by this user, or an upload not finished — is
 * left out and listed with its reason in a last member SKIPPED.txt (only
 * when there is one; its text is capped at SKIP_CAP bytes). A failure
 * mid-stream (a read error) ends the response with an error: libmicrohttpd
 * closes the connection, so the client sees a truncated transfer, never a
 * short file inside a well-formed archive.
 *
 * Threads: handlers and the stream's callback run in MHD's threads; a
 * stream belongs to one connection. They share only the backend and the
 * store (both thread-safe).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/server_int.h"
#include "core/log.h"
#include "core/runs.h"
#include "core/text.h"
#include "core/util.h"

#define RUNS_DEFAULT 20
#define RUNS_MAX 100
#define TAR_PAGE 256               /* paths read at once */
#define TAR_CHUNK (64 * 1024)      /* bytes of a file per step */
#define SKIP_CAP (1u << 20)        /* SKIPPED.txt's text */
#define FILENAMES_CAP (256u << 20) /* a tag's file names as text */

/* ---- tokens ---- */

static cJSON *token_json(const struct store_token *t, int current)
{
	cJSON *j = cJSON_CreateObject();
	int rc = j ? 0 : -ENOMEM;

	if (!rc && !cJSON_AddNumberToObject(j, "id", (double)t->id))
		rc = -ENOMEM;
	if (!rc && !cJSON_AddStringToObject(j, "name", t->name))
		rc = -ENOMEM;
	if (!rc)
		rc = api_add_i64_str(j, "created_ns", t->created_ns);
	if (!rc)
		rc = t->last_used_ns > 0 ?
		     api_add_i64_str(j, "last_used_ns", t->last_used_ns) :
		     cJSON_AddNullToObject(j, "last_used_ns") ? 0 : -ENOMEM;
	if (!rc && current >= 0 &&
	    !cJSON_AddBoolToObject(j, "current", current))
		rc = -ENOMEM;
	if (rc) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* GET /v1/tokens: the caller's unrevoked tokens, newest first. */
static enum MHD_Result r_tokens(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	struct store_token *v = NULL;
	cJSON *j = NULL, *arr;
	size_t n = 0;
	int rc = core_token_list(s->st, r->user, &v, &n);

	if (!rc && (!(j = cJSON_CreateObject()) ||
		    !(arr = cJSON_AddArrayToObject(j, "tokens"))))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		cJSON *t = token_json(&v[i], v[i].id == r->token_id);
		if (!t || !cJSON_AddItemToArray(arr, t)) {
			cJSON_Delete(t);
			rc = -ENOMEM;
		}
	}
	free(v);
	if (rc) {
		cJSON_Delete(j);
		j = NULL;
	}
	return srv_send_obj(c, MHD_HTTP_OK, rc, j);
}

/* POST /v1/tokens {"name"}: 201 with the token, shown this once. */
static enum MHD_Result r_token_create(struct srv *s, struct req *r,
				      struct MHD_Connection *c)
{
	char token[STORE_TOKEN_LEN + 1], name[STORE_TOKEN_NAME_MAX + 1];
	struct store_token t = { 0 };
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const cJSON *nm;
	cJSON *j, *out;
	int rc;

	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	nm = cJSON_GetObjectItemCaseSensitive(j, "name");
	if (!cJSON_IsString(nm) || !nm->valuestring) {
		cJSON_Delete(j);
		return srv_bad_field(c, "name");
	}
	if (!nm->valuestring[0] ||
	    strlen(nm->valuestring) > STORE_TOKEN_NAME_MAX ||
	    !core_token_name_valid(nm->valuestring)) {
		cJSON_Delete(j);
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "invalid",
				    "EINVAL", "a token name is 1-64 bytes of"
				    " UTF-8 without control characters;"
				    " no token made");
	}
	snprintf(name, sizeof(name), "%s", nm->valuestring);
	cJSON_Delete(j);
	/* t: the row as the catalog has it (its time, its name) */
	rc = core_token_create(s->st, r->user, name, token, &t);
	if (rc)
		return srv_send_errno(c, rc, "cannot make a token now");
	log_info("token %" PRId64 " made for user '%s' through the API", t.id,
		 r->user);
	out = token_json(&t, -1);
	if (out) {
		cJSON_DeleteItemFromObject(out, "last_used_ns");
		if (!cJSON_AddStringToObject(out, "token", token)) {
			cJSON_Delete(out);
			out = NULL;
		}
	}
	resp = srv_json_resp(out);     /* takes out over */
	explicit_bzero(token, sizeof(token));
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	return srv_send_resp(c, MHD_HTTP_CREATED, resp, "application/json");
}

/* DELETE /v1/tokens/{id}: revokes one of the caller's tokens (and ends
 * the sessions it made: this browser's too when it is the current one). */
static enum MHD_Result r_token_delete(struct srv *s, struct req *r,
				      struct MHD_Connection *c)
{
	int rc = core_token_revoke(s->st, r->user, r->id);

	if (rc)
		return srv_send_errno(c, rc, rc == -ENOENT ? "no such token" :
				      NULL);
	log_info("token %" PRId64 " of user '%s' revoked through the API",
		 r->id, r->user);
	return srv_send_empty(c, MHD_HTTP_NO_CONTENT);
}

/* ---- a dataset's state and runs ---- */

/* Adds key: "A", or "A.B" when two is set. */
static int add_u64_str(cJSON *j, const char *key, uint64_t a, int two,
		       uint64_t b)
{
	char text[48];

	if (two)
		snprintf(text, sizeof(text), "%" PRIu64 ".%" PRIu64, a, b);
	else
		snprintf(text, sizeof(text), "%" PRIu64, a);
	return cJSON_AddStringToObject(j, key, text) ? 0 : -ENOMEM;
}

/* GET /v1/datasets/{id}/state (see the top of this file). */
static enum MHD_Result r_state(struct srv *s, struct req *r,
			       struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_changes ch;
	struct MHD_Response *resp;
	cJSON *j = NULL;
	int rc = srv_own_ds(s, r, r->id, &d);

	if (!rc)
		rc = core_dataset_changes(s->st, d.id, &ch);
	if (!rc && !(j = cJSON_CreateObject()))
		rc = -ENOMEM;
	if (!rc) {
		/* the sample table's X-Sievefs-Gen (core/table.c) exactly */
		char gen[48];
		snprintf(gen, sizeof(gen), "%" PRIu64 "-%016" PRIx64, ch.tree,
			 s->boot);
		if (!cJSON_AddStringToObject(j, "tree", gen))
			rc = -ENOMEM;
	}
	if (!rc)
		rc = add_u64_str(j, "tags", ch.tags, 0, 0);
	if (!rc)
		rc = add_u64_str(j, "selection", ch.selection,
				 d.sel_tree == d.live_tree, ch.tree);
	if (!rc)
		rc = add_u64_str(j, "runs", ch.runs, ch.run_active,
				 (uint64_t)time(NULL));
	if (!rc)
		rc = add_u64_str(j, "embeddings", ch.embeddings, 0, 0);
	/* a rename (mv in a mount) changes no counter: the name itself */
	if (!rc && !cJSON_AddStringToObject(j, "name", d.name))
		rc = -ENOMEM;
	if (rc) {
		cJSON_Delete(j);
		return srv_send_errno(c, rc, NULL);
	}
	if (!(resp = srv_json_resp(j)))
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	return srv_send_resp(c, MHD_HTTP_OK, resp, "application/json");
}

/* What the runner says of its active run (the `sample` text: "run: N",
 * "phase: X ...", "progress: A/B"), for run number seq: 1 with *phase
 * (static text), *done and *total when that run is the one running. */
static int live_progress(struct req *r, int64_t ds, int64_t seq,
			 const char **phase, int64_t *done, int64_t *total)
{
	static const char *const phases[] = { "embedding", "sampling",
					      "loading", "projecting",
					      "starting" };
	char *text = NULL, *p;
	size_t len = 0;
	long long a, b, run = -1;
	int found = 0;

	if (r->be->ops->sample_read(r->be, ds, &text, &len) || !text)
		return 0;
	if ((p = strstr(text, "\nrun: ")))
		run = strtoll(p + 6, NULL, 10);
	if (run == seq && (p = strstr(text, "\nphase: "))) {
		for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
			if (!strncmp(p + 8, phases[i], strlen(phases[i]))) {
				*phase = phases[i];
				found = 1;
			}
		if (found && (p = strstr(text, "\nprogress: ")) &&
		    sscanf(p + 11, "%lld/%lld", &a, &b) == 2) {
			*done = a;
			*total = b;
		}
	}
	free(text);
	return found;
}

static cJSON *run_json(struct req *r, const struct store_run *run)
{
	cJSON *j = cJSON_CreateObject();
	const char *phase = "";
	int64_t done = run->done, total = run->total;
	int rc = j ? 0 : -ENOMEM;

	if (run->status == STORE_RUN_RUNNING &&
	    !live_progress(r, run->dataset, run->seq, &phase, &done, &total))
		/* no live word: the run's record says which part it is in */
		phase = !strcmp(run->strategy, "embed") || run->emb == 0 ?
			"embedding" : "sampling";
	if (!strcmp(phase, "loading") || !strcmp(phase, "starting"))
		phase = run->emb == 0 || !strcmp(run->strategy, "embed") ?
			"embedding" : "sampling";
	if (!strcmp(phase, "projecting"))
		phase = "embedding";
	if (!rc && (!cJSON_AddNumberToObject(j, "number", (double)run->seq) ||
		    !cJSON_AddStringToObject(j, "request", run->request) ||
		    !cJSON_AddStringToObject(j, "strategy", run->strategy) ||
		    !cJSON_AddStringToObject(j, "state",
					     core_run_status_name(run->status)) ||
		    !cJSON_AddStringToObject(j, "phase", phase) ||
		    !cJSON_AddNumberToObject(j, "done", (double)done) ||
		    !cJSON_AddNumberToObject(j, "total", (double)total) ||
		    !cJSON_AddNumberToObject(j, "skipped",
					     (double)run->skipped) ||
		    !cJSON_AddNumberToObject(j, "candidates",
					     (double)run->candidates) ||
		    !cJSON_AddStringToObject(j, "error", run->error)))
		rc = -ENOMEM;
	if (!rc)
		rc = api_add_i64_str(j, "created_ns", run->created_ns);
	if (!rc)
		rc = run->started_ns ?
		     api_add_i64_str(j, "started_ns", run->started_ns) :
		     cJSON_AddNullToObject(j, "started_ns") ? 0 : -ENOMEM;
	if (!rc)
		rc = run->finished_ns ?
		     api_add_i64_str(j, "finished_ns", run->finished_ns) :
		     cJSON_AddNullToObject(j, "finished_ns") ? 0 : -ENOMEM;
	if (rc) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* GET /v1/datasets/{id}/runs?limit=N: the latest runs, newest first. */
static enum MHD_Result r_runs(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_run *v = NULL;
	enum MHD_Result ret;
	char lim[16], *end;
	long limit = RUNS_DEFAULT;
	cJSON *j = NULL, *arr;
	size_t n = 0;
	int rc = srv_own_ds(s, r, r->id, &d), q;

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if ((q = srv_query(r, c, "limit", lim, sizeof(lim), &ret)) < 0)
		return ret;
	if (q) {
		errno = 0;
		limit = strtol(lim, &end, 10);
		if (errno || end == lim || *end || limit < 1 ||
		    limit > RUNS_MAX)
			return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "invalid",
					    "EINVAL", "limit is a whole number"
					    " from 1 to 100");
	}
	rc = core_run_list(s->st, d.id, (int)limit, &v, &n);
	if (!rc && (!(j = cJSON_CreateObject()) ||
		    !(arr = cJSON_AddArrayToObject(j, "runs"))))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		cJSON *o = run_json(r, &v[i]);
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			rc = -ENOMEM;
		}
	}
	free(v);
	if (rc) {
		cJSON_Delete(j);
		j = NULL;
	}
	return srv_send_obj(c, MHD_HTTP_OK, rc, j);
}

/* ---- a tag's files ---- */

/* Content-Disposition for a download of tag `name` + ext (RFC 6266): an
 * ASCII fallback (printable ASCII; '"', '\\', '/', '%' and the rest
 * become '_') and the exact name as filename*=UTF-8''..., percent-encoded.
 * Added to resp. */
static void add_disposition(struct MHD_Response *resp, const char *name,
			    const char *ext)
{
	static const char hex[] = "0123456789ABCDEF";
	char plain[STORE_NAME_MAX + 16], enc[3 * (STORE_NAME_MAX + 16) + 1];
	char full[STORE_NAME_MAX + 16], hdr[sizeof(plain) + sizeof(enc) + 64];
	size_t k = 0;

	snprintf(full, sizeof(full), "%s%s", name, ext);
	for (size_t i = 0; full[i] && i < sizeof(plain) - 1; i++) {
		unsigned char ch = (unsigned char)full[i];
		plain[i] = ch >= 0x20 && ch < 0x7f && !strchr("\"\\/%;", ch) ?
			   (char)ch : '_';
		plain[i + 1] = '\0';
	}
	for (size_t i = 0; full[i] && k + 4 < sizeof(enc); i++) {
		unsigned char ch = (unsigned char)full[i];
		/* RFC 5987 attr-char */
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("!#$&+-.^_`|~", ch)) {
			enc[k++] = (char)ch;
		} else {
			enc[k++] = '%';
			enc[k++] = hex[ch >> 4];
			enc[k++] = hex[ch & 15];
		}
	}
	enc[k] = '\0';
	snprintf(hdr, sizeof(hdr), "attachment; filename=\"%s\";"
		 " filename*=UTF-8''%s", plain, enc);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, hdr);
}

/* The tag of the request (owned by its user) and its files' tree. */
static int own_tag(struct srv *s, struct req *r, struct store_tag *t)
{
	return srv_own_tag(s, r, r->id, t);
}

/* GET /v1/tags/{id}/filenames: one path per line, selection quoting. */
static enum MHD_Result r_filenames(struct srv *s, struct req *r,
				   struct MHD_Connection *c)
{
	struct store_tree_file *v = NULL;
	struct MHD_Response *resp;
	struct store_tag t;
	struct tbuf b;
	char *after = NULL, *text = NULL;
	size_t n = 0, len = 0;
	int rc = own_tag(s, r, &t);

	if (rc)
		return srv_send_errno(c, rc, NULL);
	tbuf_init(&b, FILENAMES_CAP);
	do {
		rc = core_tree_files_page(s->st, t.id, after, TAR_PAGE, &v,
					   &n);
		free(after);
		after = NULL;
		for (size_t i = 0; !rc && i < n; i++)
			tbuf_put_path_line(&b, v[i].path);
		if (!rc && n && !(after = strdup(v[n - 1].path)))
			rc = -ENOMEM;
		core_tree_files_free(v, n);
	} while (!rc && n == TAR_PAGE);
	free(after);
	if (rc) {
		tbuf_free(&b);
		return srv_send_errno(c, rc, NULL);
	}
	rc = tbuf_finish(&b, &text, &len);
	if (rc)
		return srv_send_errno(c, rc, "the tag's file names are over"
				      " the size this route answers");
	resp = MHD_create_response_from_buffer(len, text ? text : (char *)"",
					       text ? MHD_RESPMEM_MUST_FREE :
					       MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	add_disposition(resp, t.name, ".txt");
	return srv_send_resp(c, MHD_HTTP_OK, resp,
			     "text/plain; charset=utf-8");
}

/* One download of a tag as a tar stream (see the top of this file). */
struct tarstream {
	struct srv *s;
	struct backend *be;
	char owner[STORE_USER_MAX + 1];   /* whose grants (req.owner) */
	int embedded;              /* the dataset's owner is "" (a mount's
	                            * own store): no grants to check */
	int64_t tree;
	struct archive *a;
	char *out;                 /* libarchive's output, not yet pulled */
	size_t out_len, out_off, out_cap;
	struct store_tree_file *page;
	size_t page_n, page_i;
	int listed;                /* every page read */
	int fd;                    /* the file being copied, -1 if none */
	int64_t left;              /* its bytes still to copy */
	struct tbuf skipped;       /* SKIPPED.txt's text */
	size_t nskipped;
	size_t nlisted;            /* of them, in the text (SKIP_CAP) */
	int ended;                 /* the archive is closed */
	char chunk[TAR_CHUNK];
};

/* libarchive's write callback: keeps the bytes for the next pulls. */
static la_ssize_t tar_write(struct archive *a, void *cls, const void *buf,
			    size_t len)
{
	struct tarstream *ts = cls;

	(void)a;
	if (ts->out_len + len > ts->out_cap) {
		size_t cap = ts->out_cap ? ts->out_cap : 16384;
		char *nb;
		while (cap < ts->out_len + len)
			cap *= 2;
		if (!(nb = realloc(ts->out, cap)))
			return -1;
		ts->out = nb;
		ts->out_cap = cap;
	}
	memcpy(ts->out + ts->out_len, buf, len);
	ts->out_len += len;
	return (la_ssize_t)len;
}

static void tar_free(void *cls)
{
	struct tarstream *ts = cls;

	if (!ts)
		return;
	if (ts->fd >= 0)
		close(ts->fd);
	if (ts->a)
		archive_write_free(ts->a);   /* closes it if still open */
	core_tree_files_free(ts->page, ts->page_n);
	tbuf_free(&ts->skipped);
	free(ts->out);
	free(ts);
}

static void tar_skip(struct tarstream *ts, const char *path, const char *why)
{
	/* a quoted path is at most 4 bytes per byte */
	if (ts->skipped.len + 4 * strlen(path) + 200 < SKIP_CAP) {
		char *line = NULL;
		size_t n = 0;
		struct tbuf one;
		tbuf_init(&one, 4 * strlen(path) + 16);
		tbuf_put_path_line(&one, path);
		if (!tbuf_finish(&one, &line, &n) && n) {
			/* "PATH\n" -> "PATH\tWHY\n" */
			tbuf_put(&ts->skipped, line, n - 1);
			tbuf_printf(&ts->skipped, "\t%s\n", why);
			ts->nlisted++;
		}
		free(line);
	}
	ts->nskipped++;
}

/* A header for a regular file: 0 or -1 (libarchive's error). */
static int tar_header(struct tarstream *ts, const char *path, int64_t size,
		      int64_t mtime_ns, unsigned mode)
{
	struct archive_entry *e = archive_entry_new();
	int rc;

	if (!e)
		return -1;
	/* names are UTF-8 (pax "path" header when ustar cannot hold them);
	 * one that is not falls back to its bytes as they are */
	if (!archive_entry_update_pathname_utf8(e, path))
		archive_entry_copy_pathname(e, path);
	archive_entry_set_size(e, size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, mode & 0777 ? mode & 0777 : 0644);
	archive_entry_set_mtime(e, mtime_ns / 1000000000,
				mtime_ns % 1000000000);
	rc = archive_write_header(ts->a, e);
	archive_entry_free(e);
	return rc == ARCHIVE_OK || rc == ARCHIVE_WARN ? 0 : -1;
}

/* Opens the next file to copy, or notes why it is skipped: 1 if a file
 * is open (its header written), 0 if skipped, -1 on an error. */
static int tar_next_file(struct tarstream *ts, const struct store_tree_file *f)
{
	const struct store_node *n = &f->n;
	struct stat sb;
	int fd = -ENOENT, rc;

	if (!n->has_sha) {
		tar_skip(ts, f->path, "upload not finished");
		return 0;
	}
	rc = ts->embedded ? 1 : core_blob_readable(ts->s->blobs, ts->owner,
						    n->sha);
	if (rc < 0)
		return -1;
	if (rc == 1)
		fd = ts->be->ops->node_open(ts->be, n);
	if (fd == -ENOENT || fd == -EIO) {
		tar_skip(ts, f->path, core_blob_kept(ts->s->blobs, NULL, n->sha) == 1 ?
			 "kept by the uploader (upload=meta or thumbnails):"
			 " the bytes are not on the server" :
			 "the bytes are not on the server");
		return 0;
	}
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) || tar_header(ts, f->path, sb.st_size,
					 n->mtime_ns, n->mode)) {
		close(fd);
		return -1;
	}
	ts->fd = fd;
	ts->left = sb.st_size;
	return 1;
}

/* Drives libarchive one step (see the top of this file): 0, 1 when the
 * archive has ended, or -1 on an error. */
static int tar_step(struct tarstream *ts)
{
	if (ts->fd >= 0) {
		size_t want = ts->left < TAR_CHUNK ? (size_t)ts->left :
			      TAR_CHUNK;
		ssize_t got = want ? read(ts->fd, ts->chunk, want) : 0;
		if (got < 0)
			return -1;
		if (got > 0 && archive_write_data(ts->a, ts->chunk,
						  (size_t)got) != got)
			return -1;
		ts->left -= got;
		if (got == 0 || ts->left <= 0) {
			/* a blob is immutable; if it were shorter, libarchive
			 * pads the member to the size its header says */
			close(ts->fd);
			ts->fd = -1;
			if (archive_write_finish_entry(ts->a) != ARCHIVE_OK)
				return -1;
		}
		return 0;
	}
	while (ts->page_i < ts->page_n) {
		int rc = tar_next_file(ts, &ts->page[ts->page_i++]);
		if (rc)
			return rc < 0 ? -1 : 0;
	}
	if (!ts->listed) {
		char *after = ts->page_n ?
			      strdup(ts->page[ts->page_n - 1].path) : NULL;
		int rc;
		if (ts->page_n && !after)
			return -1;
		core_tree_files_free(ts->page, ts->page_n);
		ts->page = NULL;
		ts->page_n = ts->page_i = 0;
		rc = core_tree_files_page(ts->s->st, ts->tree, after,
					   TAR_PAGE, &ts->page, &ts->page_n);
		free(after);
		if (rc)
			return -1;
		ts->listed = ts->page_n < TAR_PAGE;
		return 0;
	}
	if (ts->ended)
		return 1;
	if (ts->nskipped) {
		char *text = NULL;
		size_t len = 0;
		if (ts->nskipped > ts->nlisted)
			tbuf_printf(&ts->skipped, "(%zu files skipped in all;"
				    " the list stops here)\n", ts->nskipped);
		if (tbuf_finish(&ts->skipped, &text, &len) ||
		    tar_header(ts, "SKIPPED.txt", (int64_t)len,
			       core_now_ns(), 0644) ||
		    archive_write_data(ts->a, text, len) != (la_ssize_t)len) {
			free(text);
			return -1;
		}
		free(text);
		tbuf_init(&ts->skipped, SKIP_CAP + 256);
		ts->nskipped = 0;
		return 0;
	}
	ts->ended = 1;
	return archive_write_close(ts->a) == ARCHIVE_OK ? 0 : -1;
}

/* libmicrohttpd's pull: the next bytes of the archive. */
static ssize_t tar_pull(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct tarstream *ts = cls;
	size_t n;

	(void)pos;
	while (ts->out_off == ts->out_len) {
		int rc;
		ts->out_off = ts->out_len = 0;
		rc = tar_step(ts);
		if (rc < 0) {
			log_warn("tar of tag tree %" PRId64 " of user '%s'"
				 " stopped: %s", ts->tree, ts->owner,
				 archive_error_string(ts->a) ?
				 archive_error_string(ts->a) : "read error");
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (rc == 1)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
	n = ts->out_len - ts->out_off;
	if (n > max)
		n = max;
	memcpy(buf, ts->out + ts->out_off, n);
	ts->out_off += n;
	return (ssize_t)n;
}

/* GET /v1/tags/{id}/tar: the tag's files as one tar stream. */
static enum MHD_Result r_tar(struct srv *s, struct req *r,
			     struct MHD_Connection *c)
{
	struct store_dataset d;
	struct MHD_Response *resp;
	struct store_tag t;
	struct tarstream *ts;
	int rc = core_own_tag(s->st, r->owner, r->id, &t, &d);

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (!(ts = calloc(1, sizeof(*ts))))
		return srv_send_errno(c, -ENOMEM, NULL);
	ts->s = s;
	ts->be = r->be;
	ts->fd = -1;
	ts->tree = t.id;
	ts->embedded = d.owner[0] == '\0';
	snprintf(ts->owner, sizeof(ts->owner), "%s", r->owner);
	tbuf_init(&ts->skipped, SKIP_CAP + 256);
	if (!(ts->a = archive_write_new()) ||
	    archive_write_set_format_pax_restricted(ts->a) != ARCHIVE_OK ||
	    archive_write_open2(ts->a, ts, NULL, tar_write, NULL, NULL) !=
	    ARCHIVE_OK) {
		tar_free(ts);
		return srv_send_errno(c, -ENOMEM, NULL);
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, TAR_CHUNK,
						 tar_pull, ts, tar_free);
	if (!resp) {
		tar_free(ts);
		return MHD_NO;
	}
	add_disposition(resp, t.name, ".tar");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	return srv_send_resp(c, MHD_HTTP_OK, resp, "application/x-tar");
}

const struct route srv_routes_app_v1[] = {
	{ "tokens", "GET", r_tokens, B_NONE, 0 },
	{ "tokens", "POST", r_token_create, B_JSON, CAP_LINE },
	{ "tokens/#", "DELETE", r_token_delete, B_NONE, 0 },
	{ "datasets/#/state", "GET", r_state, B_NONE, 0 },
	{ "datasets/#/runs", "GET", r_runs, B_NONE, 0 },
	{ "tags/#/filenames", "GET", r_filenames, B_NONE, 0 },
	{ "tags/#/tar", "GET", r_tar, B_NONE, 0 },
	{ NULL, NULL, NULL, B_NONE, 0 },
};
