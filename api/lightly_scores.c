/*
 * lightly_scores.c — the lightly door's active-learning scores (issue 21,
 * i21a): POST /v1/datasets/{id}/tags/{tagId}/scores, what the lightly
 * client's upload_scores sends, one request per score type:
 *
 *   {"scoreType": "uncertainty_margin", "scores": [0.1, 0.7, ...]}
 *
 * the scores aligned with the tag's samples in the order the door lists
 * them (GET …/tags/{tagId}/filenames: the sample table's order). Stored as
 * the metadata input `lightly` (metadata/lightly.csv), one numeric column
 * per score type, so a sampling request reads it as the column
 * `lightly.<scoreType>`; a second upload of the same type replaces that
 * column, other types are kept, and samples of other tags keep their values
 * (rows are the union). Answers 201 {"id": "<the input's id>"} (lightly's
 * CreateEntityResponse); 400 with the reason for a count that does not match
 * the tag, a value that is not a finite number, or a bad score type.
 * Threads: as every route.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/lightly_int.h"
#include "api/server_int.h"
#include "core/incsv.h"
#include "core/inputs.h"
#include "core/table.h"
#include "core/text.h"

#define INPUT_NAME "lightly"

/* The CSV text of input id (malloc'd, NUL-ended) through the backend's
 * export, by way of an anonymous file. */
static int input_text(struct req *r, int64_t id, char **out, size_t *len)
{
	struct stat sb;
	int fd = memfd_create("sievefs-input", MFD_CLOEXEC), rc;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	rc = r->be->ops->input_export(r->be, id, CORE_INPUT_TEXT, fd);
	if (!rc && fstat(fd, &sb))
		rc = -errno;
	if (!rc && !(*out = malloc((size_t)sb.st_size + 1)))
		rc = -ENOMEM;
	if (!rc && pread(fd, *out, (size_t)sb.st_size, 0) != sb.st_size)
		rc = -EIO;
	if (!rc) {
		(*out)[sb.st_size] = '\0';
		*len = (size_t)sb.st_size;
	} else {
		free(*out);
		*out = NULL;
	}
	close(fd);
	return rc;
}

/* The stored `lightly` input of ds parsed into *old (zeroed if none). */
static int load_old(struct req *r, int64_t ds, struct core_input *old)
{
	struct store_input in;
	char *text = NULL;
	size_t len = 0;
	int rc;

	memset(old, 0, sizeof(*old));
	rc = r->be->ops->input_get(r->be, ds, CORE_INPUT_METADATA, INPUT_NAME,
				   &in);
	if (rc == -ENOENT)
		return 0;
	if (!rc)
		rc = input_text(r, in.id, &text, &len);
	if (!rc)
		rc = core_input_parse(CORE_INPUT_METADATA, text, len, old,
				      NULL, 0);
	free(text);
	return rc;
}

/* The new CSV: old's columns less `type`, then `type`; old's rows, then
 * the tag's samples old has no row for. paths/vals: n of them. */
static int build(const struct core_input *old, const char *type,
		 const char **paths, const double *vals, size_t n, char **out,
		 size_t *len)
{
	struct tbuf b;
	size_t keep = 0;

	tbuf_init(&b, (size_t)1 << 30);
	tbuf_printf(&b, "filename");
	for (size_t k = 0; k < old->ncols; k++)
		if (strcmp(old->cols[k], type)) {
			tbuf_put(&b, ",", 1);
			tbuf_put_csv_field(&b, old->cols[k]);
			keep++;
		}
	tbuf_put(&b, ",", 1);
	tbuf_put_csv_field(&b, type);
	tbuf_put(&b, "\r\n", 2);
	/* old rows, with the new value where the tag has the sample */
	for (size_t i = 0; i < old->n; i++) {
		tbuf_put_csv_field(&b, old->names[i]);
		for (size_t k = 0; k < old->ncols; k++)
			if (strcmp(old->cols[k], type)) {
				tbuf_put(&b, ",", 1);
				tbuf_put_csv_field(&b, old->cells[i * old->ncols + k]);
			}
		tbuf_put(&b, ",", 1);
		for (size_t j = 0; j < n; j++)
			if (paths[j] && !strcmp(paths[j], old->names[i])) {
				tbuf_printf(&b, "%.17g", vals[j]);
				paths[j] = NULL;     /* written */
				break;
			}
		tbuf_put(&b, "\r\n", 2);
	}
	for (size_t j = 0; j < n; j++) {
		if (!paths[j])
			continue;
		tbuf_put_csv_field(&b, paths[j]);
		for (size_t k = 0; k < keep; k++)
			tbuf_put(&b, ",", 1);
		tbuf_printf(&b, ",%.17g\r\n", vals[j]);
	}
	return tbuf_finish(&b, out, len);
}

enum MHD_Result srv_lightly_scores(struct srv *s, struct req *r,
				   struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_tag tg;
	struct store_input in;
	struct core_input old = { 0 };
	struct tbl *t = NULL;
	struct tbl_cache *tc = srv_table_cache(s);
	enum MHD_Result ret;
	const cJSON *type, *scores, *v;
	uint8_t *bits = NULL;
	const char **paths = NULL;
	char *text = NULL, msg[BE_MSG] = "", why[256] = "";
	double *vals = NULL;
	size_t n = 0, len = 0, want = 0;
	cJSON *j, *answer;
	int rc = srv_lightly_ds(r, &d);

	if (rc)
		return srv_lightly_ds_err(c, rc);
	rc = srv_lightly_tag(r, d.id, srv_lightly_seg(r, "tags"), &tg);
	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	type = cJSON_GetObjectItemCaseSensitive(j, "scoreType");
	scores = cJSON_GetObjectItemCaseSensitive(j, "scores");
	if (!cJSON_IsString(type) || !*type->valuestring ||
	    strlen(type->valuestring) > 100 || !cJSON_IsArray(scores)) {
		cJSON_Delete(j);
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_request",
				    "EINVAL", "body: {\"scoreType\": NAME (1-100"
				    " characters), \"scores\": [numbers]}");
	}
	for (const char *p = type->valuestring; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == ',' || *p == '"')
			snprintf(why, sizeof(why), "scoreType: a control "
				 "character, ',' or '\"' in it");
	rc = tc ? tbl_get(tc, s->st, d.id, &t) : -ENOMEM;
	if (!rc && !(bits = malloc(t->n ? t->n : 1)))
		rc = -ENOMEM;
	if (!rc) {
		if (tg.live)
			memset(bits, 1, t->n);
		else
			rc = tbl_members_tree(t, s->st, tg.id, bits);
	}
	for (size_t i = 0; !rc && i < t->n; i++)
		want += bits[i] != 0;
	if (!rc && !*why && (size_t)cJSON_GetArraySize(scores) != want)
		snprintf(why, sizeof(why), "scores: %d values, the tag has %zu"
			 " samples", cJSON_GetArraySize(scores), want);
	if (!rc && !*why) {
		paths = calloc(want ? want : 1, sizeof(char *));
		vals = malloc((want ? want : 1) * sizeof(double));
		if (!paths || !vals)
			rc = -ENOMEM;
	}
	v = scores->child;
	for (size_t i = 0; !rc && !*why && i < t->n; i++) {
		if (!bits[i])
			continue;
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
			snprintf(why, sizeof(why), "scores[%zu]: not a finite"
				 " number", n);
			break;
		}
		paths[n] = t->path[i];
		vals[n++] = v->valuedouble;
		v = v->next;
	}
	if (!rc && !*why)
		rc = load_old(r, d.id, &old);
	if (!rc && !*why)
		rc = build(&old, type->valuestring, paths, vals, n, &text,
			   &len);
	if (!rc && !*why)
		rc = r->be->ops->input_put(r->be, d.id, CORE_INPUT_METADATA,
					   INPUT_NAME, text, len, msg);
	if (!rc && !*why)
		rc = r->be->ops->input_get(r->be, d.id, CORE_INPUT_METADATA,
					   INPUT_NAME, &in);
	core_input_free(&old);
	free(text);
	free((void *)paths);
	free(vals);
	free(bits);
	if (t)
		tbl_put(tc, &t->o);
	cJSON_Delete(j);
	if (*why)
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_request",
				    "EINVAL", why);
	if (rc)
		return srv_send_errno(c, rc, msg[0] ? msg : NULL);
	answer = cJSON_CreateObject();
	snprintf(why, sizeof(why), "%lld", (long long)in.id);
	if (answer && !cJSON_AddStringToObject(answer, "id", why)) {
		cJSON_Delete(answer);
		answer = NULL;
	}
	return srv_send_json(c, MHD_HTTP_CREATED, answer);
}
