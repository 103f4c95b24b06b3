/*
 * lightly_tags.c — the lightly door's tag arithmetic (issue 21, i21c):
 * POST /lightly/v1/datasets/{id}/tags/arithmetics with the client's
 * TagArithmeticsRequest {tagId1, tagId2, operation: UNION | INTERSECTION
 * | DIFFERENCE, newTagName?, creator?} answers TagBitMaskResponse
 * {bitMaskData} (Python's hex() of the result over the sample table's
 * order, as every bitmask of the door). The same algebra as the
 * `selection` file (core/tagalg.h): bits are files of the live tree,
 * matched by path in both. With newTagName the result is also made a tag
 * whose parent is tagId1, as the platform did: the `selection` text
 * "OP: TAG1 TAG2" goes through the backend (so its log and its run state
 * see it, as a mount's write would) and the selection is frozen under
 * that name (tag_create, as `mkdir`); the answer then also carries the
 * new tag's "id". creator is accepted and ignored.
 *
 * Refusals: an unknown dataset or tag id (another user's too) 404; a
 * missing or unknown operation, or a newTagName that is no valid tag name
 * 400; a taken newTagName 409, before anything changed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json.h"
#include "api/lightly_int.h"
#include "core/names.h"
#include "core/table.h"
#include "core/tagalg.h"

/* The members of tag tg in t's order into bits (t->n bytes). */
static int members(struct srv *s, struct tbl *t, const struct store_tag *tg,
		   uint8_t *bits)
{
	if (tg->live) {
		memset(bits, 1, t->n);
		return 0;
	}
	return tbl_members_tree(t, s->st, tg->id, bits);
}

enum MHD_Result srv_lightly_tag_arithmetics(struct srv *s, struct req *r,
					    struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_tag t1, t2, made;
	char id1[64], id2[64], opw[32], name[CORE_NAME_MAX + 2] = "";
	char msg[BE_MSG] = "", text[2 * CORE_NAME_MAX + 32], *hex = NULL;
	enum core_tagop op;
	enum MHD_Result ret;
	uint8_t *a = NULL, *b = NULL;
	struct tbl *t = NULL;
	cJSON *j, *o;
	int rc = srv_lightly_ds(r, &d), named;

	if (rc)
		return srv_lightly_ds_err(c, rc);
	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	if (api_get_str(j, "tagId1", id1, sizeof(id1), 1) ||
	    api_get_str(j, "tagId2", id2, sizeof(id2), 1)) {
		cJSON_Delete(j);
		return srv_bad_field(c, "tagId1, tagId2 (tag ids)");
	}
	if (api_get_str(j, "operation", opw, sizeof(opw), 1) ||
	    strspn(opw, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(opw) ||
	    !(op = core_tagop_parse_word(opw))) {
		cJSON_Delete(j);
		return srv_bad_field(c, "operation (UNION, INTERSECTION,"
				     " DIFFERENCE)");
	}
	named = cJSON_GetObjectItemCaseSensitive(j, "newTagName") &&
		!cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j,
							       "newTagName"));
	if (named && (api_get_str(j, "newTagName", name, sizeof(name), 1) ||
		      !core_name_valid(name) || core_name_reserved(name))) {
		cJSON_Delete(j);
		return srv_bad_field(c, "newTagName (1-128 of A-Z a-z 0-9 ._-,"
				     " starting with a letter or digit; not a"
				     " reserved name)");
	}
	cJSON_Delete(j);
	rc = srv_lightly_tag(r, d.id, id1, &t1);
	if (!rc)
		rc = srv_lightly_tag(r, d.id, id2, &t2);
	if (rc == -ENOENT)
		return srv_send_errno(c, rc, "no such tag in this dataset"
				      " (GET .../tags lists them)");
	if (!rc && named &&
	    r->be->ops->tag_get(r->be, d.id, name, &made) == 0)
		return srv_send_errno(c, -EEXIST, "newTagName: a tag of that"
				      " name exists");
	if (!rc)
		rc = srv_lightly_table(s, d.id, &t);
	if (!rc && (!(a = malloc(t->n ? t->n : 1)) ||
		    !(b = malloc(t->n ? t->n : 1))))
		rc = -ENOMEM;
	if (!rc)
		rc = members(s, t, &t1, a);
	if (!rc)
		rc = members(s, t, &t2, b);
	for (size_t i = 0; !rc && i < t->n; i++)
		a[i] = op == CORE_TAG_UNION ? (a[i] || b[i]) :
		       op == CORE_TAG_INTERSECTION ? (a[i] && b[i]) :
		       (a[i] && !b[i]);
	if (!rc && !(hex = srv_lightly_bitmask_hex(a, t->n)))
		rc = -ENOMEM;
	srv_lightly_table_done(s, t);
	free(a);
	free(b);
	if (!rc && named) {
		snprintf(text, sizeof(text), "%s: %s %s\n", core_tagop_name(op),
			 t1.name, t2.name);
		rc = r->be->ops->selection_write(r->be, d.id, text,
						 strlen(text), 0, msg);
		if (!rc)
			rc = r->be->ops->tag_create(r->be, d.id, name, &made,
						    msg);
	}
	if (rc) {
		free(hex);
		return srv_send_errno(c, rc, msg[0] ? msg : NULL);
	}
	if (!(o = cJSON_CreateObject())) {
		free(hex);
		return MHD_NO;
	}
	cJSON_AddStringToObject(o, "bitMaskData", hex);
	if (named)
		cJSON_AddStringToObject(o, "id", made.uid);
	free(hex);
	return srv_send_json(c, MHD_HTTP_OK, o);
}
