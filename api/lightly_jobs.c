/*
 * lightly_jobs.c — the lightly door's embeddings, sampling and jobs
 * (docs/api.md "The lightly door"; api/routes_lightly.c has the rest and
 * the router, api/lightly_urls.c the signed URLs).
 *
 * An embedding is a sievefs embedding by name; the 24-hex id the client
 * holds (given before the CSV exists, with its write URL) is a row of
 * store/lightly.c. A sampling request becomes one `sample` request line
 * (core/runs.c): RANDOM → random, CORESET → coreset n= min_distance=, over
 * the embedding by name, from the query tag. With a preselectedTagId the
 * line is a selection (core/request.h): RANDOM → `random`, CORESET →
 * `diversity`, plus preselected=TAG. ACTIVE_LEARNING → `weights
 * column=lightly.SCORETYPE`, CORAL → that `+ diversity` (the scores the
 * client uploads to …/tags/{tagId}/scores, a column named
 * lightly.<scoreType>; refused with core_column_load's reason while the
 * dataset has none). The pip client 1.1.x never sends a scoreType: without
 * one it is uncertainty_margin (LIGHTLY_SCORE_DEFAULT). Its job id names the run
 * (store/lightly.c keeps the run and the tag name asked for); the first
 * poll that finds the run done freezes the selection — the run's top n —
 * as that tag (tag_create, as `mkdir` does), and every later poll answers
 * the same tag. A poll that comes only after a later run has finished
 * (the selection is then that run's) answers FAILED with the reason
 * rather than freeze the wrong samples.
 *
 * Threads: MHD's; shared is only the store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/lightly_int.h"
#include "core/names.h"
#include "core/runs.h"

/* The score an ACTIVE_LEARNING or CORAL request without scoreType weighs
 * by: one the client's ScorerClassification and ScorerDetection both
 * upload (1 - the margin of the two likeliest classes, in [0, 1]). */
#define LIGHTLY_SCORE_DEFAULT "uncertainty_margin"

enum MHD_Result srv_lightly_embeddings(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_embedding *all = NULL;
	struct store_lightly_id id;
	size_t n = 0;
	cJSON *arr = NULL;
	int rc = srv_lightly_ds(r, &d);

	if (!rc)
		rc = r->be->ops->emb_list(r->be, d.id, &all, &n);
	if (!rc && !(arr = cJSON_CreateArray()))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		cJSON *j = cJSON_CreateObject();
		rc = core_lightly_id(s->st, STORE_LIGHTLY_EMB, d.id,
				     all[i].name, 0, &id);
		if (!rc && !j)
			rc = -ENOMEM;
		if (rc) {
			cJSON_Delete(j);
			break;
		}
		cJSON_AddStringToObject(j, "id", id.id);
		cJSON_AddStringToObject(j, "name", all[i].name);
		cJSON_AddBoolToObject(j, "isProcessed", 1);
		cJSON_AddNumberToObject(j, "createdAt",
					(double)srv_lightly_ms(all[i].created_ns));
		cJSON_AddBoolToObject(j, "is2d", 0);
		cJSON_AddItemToArray(arr, j);
	}
	free(all);
	if (rc) {
		cJSON_Delete(arr);
		return srv_send_errno(c, rc, NULL);
	}
	return srv_send_json(c, MHD_HTTP_OK, arr);
}

enum MHD_Result srv_lightly_csv_url(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_lightly_id id;
	char name[STORE_NAME_MAX + 1], url[LIGHTLY_URL_MAX];
	enum MHD_Result ret;
	cJSON *o;
	int rc = srv_lightly_ds(r, &d), q;

	if (rc)
		return srv_lightly_ds_err(c, rc);
	q = srv_query(r, c, "name", name, sizeof(name), &ret);
	if (q < 0)
		return ret;
	if (!q || !core_name_valid(name))
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "invalid", "EINVAL",
				    "an embedding name is 1-128 characters of"
				    " A-Z a-z 0-9 . _ -, starting with a letter"
				    " or digit");
	rc = core_lightly_id(s->st, STORE_LIGHTLY_EMB, d.id, name, 0, &id);
	if (!rc)
		rc = srv_lightly_make_url(s, r, c, "PUT", "csv", id.id, "", url,
			      sizeof(url));
	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (!(o = cJSON_CreateObject()))
		return MHD_NO;
	cJSON_AddStringToObject(o, "signedWriteUrl", url);
	cJSON_AddStringToObject(o, "embeddingId", id.id);
	return srv_send_json(c, MHD_HTTP_OK, o);
}

/* The sample request line of a SamplingCreateRequest into line: 0, or
 * -EINVAL / -ENOSYS with the reason in msg. */
static int sampling_line(struct req *r, const struct store_dataset *d,
			 const cJSON *j, const char *emb, char *line,
			 size_t len, char *msg, size_t msglen)
{
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "config");
	const cJSON *stop = cJSON_GetObjectItemCaseSensitive(cfg,
							     "stoppingCondition");
	const cJSON *nj = cJSON_GetObjectItemCaseSensitive(stop, "nSamples");
	const cJSON *mj = cJSON_GetObjectItemCaseSensitive(stop, "minDistance");
	const cJSON *pre = cJSON_GetObjectItemCaseSensitive(j,
							    "preselectedTagId");
	const cJSON *qt = cJSON_GetObjectItemCaseSensitive(j, "queryTagId");
	const cJSON *stj = cJSON_GetObjectItemCaseSensitive(j, "scoreType");
	char method[32], from[160] = "", nstr[40] = "", mstr[48] = "";
	char prestr[160] = "", obj[200];
	const char *scoretype = "";
	int64_t npre = 0;
	struct store_tag tg;
	int coreset, al = 0, sel;

	if (api_get_str(j, "method", method, sizeof(method), 1)) {
		snprintf(msg, msglen, "missing or mistyped field: method");
		return -EINVAL;
	}
	coreset = !strcmp(method, "CORESET") || !strcmp(method, "CORAL");
	al = !strcmp(method, "ACTIVE_LEARNING") || !strcmp(method, "CORAL");
	if (!coreset && !al && strcmp(method, "RANDOM")) {
		snprintf(msg, msglen, "sampling method %.31s is not supported"
			 " (RANDOM, CORESET, ACTIVE_LEARNING, CORAL)", method);
		return -ENOSYS;
	}
	if (pre && !cJSON_IsNull(pre)) {
		if (!cJSON_IsString(pre) ||
		    srv_lightly_tag(r, d->id, pre->valuestring, &tg)) {
			snprintf(msg, msglen, "no such preselectedTagId");
			return -ENOENT;
		}
		snprintf(prestr, sizeof(prestr), " preselected=%s", tg.name);
		npre = tg.live ? 0 : tg.files;
	}
	if (al) {
		/* the pip client 1.1.x sends no scoreType (its
		 * SamplingCreateRequest has none): absent or null is
		 * LIGHTLY_SCORE_DEFAULT, a score every scorer of the client
		 * uploads (classification's and detection's) */
		size_t ok;
		if (!stj || cJSON_IsNull(stj))
			scoretype = LIGHTLY_SCORE_DEFAULT;
		else if (cJSON_IsString(stj))
			scoretype = stj->valuestring;
		ok = strspn(scoretype, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
		if (!*scoretype || scoretype[ok] || ok > 64) {
			snprintf(msg, msglen, "%s needs scoreType of letters,"
				 " digits and _ (e.g. uncertainty_margin, the"
				 " default: the scores uploaded to"
				 " /tags/{tagId}/scores)", method);
			return -EINVAL;
		}
	}
	sel = al || prestr[0];
	if (qt && cJSON_IsString(qt)) {
		if (srv_lightly_tag(r, d->id, qt->valuestring, &tg)) {
			snprintf(msg, msglen, "no such queryTagId");
			return -ENOENT;
		}
		if (!tg.live)
			snprintf(from, sizeof(from), " from=%s", tg.name);
	}
	if (cJSON_IsNumber(nj) && nj->valuedouble >= 1) {
		if (nj->valuedouble > 1e15) {
			snprintf(msg, msglen, "nSamples too large");
			return -EINVAL;
		}
		/* the platform's nSamples is the new tag's size, the
		 * preselected samples included (the client's agent asks
		 * labelled + batch): the run picks the rest */
		if ((long long)nj->valuedouble <= npre) {
			snprintf(msg, msglen, "nSamples (%lld) must be more than"
				 " the preselected tag's %lld samples: it is"
				 " the size of the new tag, the preselected"
				 " ones included", (long long)nj->valuedouble,
				 (long long)npre);
			return -EINVAL;
		}
		snprintf(nstr, sizeof(nstr), " n=%lld",
			 (long long)nj->valuedouble - (long long)npre);
	}
	if (coreset && cJSON_IsNumber(mj) && mj->valuedouble > 0)
		snprintf(mstr, sizeof(mstr), " min_distance=%.9g",
			 mj->valuedouble);
	if (al)
		snprintf(obj, sizeof(obj), "weights column=lightly.%s%s",
			 scoretype, coreset ? " + diversity" : "");
	else
		snprintf(obj, sizeof(obj), "%s", !sel ? (coreset ? "coreset"
			 : "random") : coreset ? "diversity" : "random");
	if ((size_t)snprintf(line, len, "%s%s%s embedding=%s%s%s", obj, nstr,
			     mstr, emb, from, prestr) >= len) {
		snprintf(msg, msglen, "request too long");
		return -EINVAL;
	}
	return 0;
}

enum MHD_Result srv_lightly_sampling(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_lightly_id e, job;
	struct store_embedding emb;
	struct store_tag tg;
	struct store_run run;
	char tag[STORE_NAME_MAX + 1], line[CAP_LINE], msg[BE_MSG] = "";
	enum MHD_Result ret;
	cJSON *j, *o;
	int rc = srv_lightly_ds(r, &d);

	if (!rc)
		rc = core_lightly_find(s->st, r->owner, STORE_LIGHTLY_EMB,
				       srv_lightly_seg(r, "embeddings"), &e,
				       NULL);
	if (!rc && e.dataset != d.id)
		rc = -ENOENT;
	if (!rc)
		rc = r->be->ops->emb_get(r->be, d.id, e.name, &emb);
	if (rc)
		return srv_send_errno(c, rc, rc == -ENOENT ?
				      "no such dataset or embedding" : NULL);
	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	rc = api_get_str(j, "newTagName", tag, sizeof(tag), 1);
	if (rc) {
		cJSON_Delete(j);
		return srv_bad_field(c, "newTagName");
	}
	rc = sampling_line(r, &d, j, e.name, line, sizeof(line), msg,
			   sizeof(msg));
	cJSON_Delete(j);
	if (rc == -ENOSYS)
		return srv_send_err(c, 501, "not_implemented", "ENOSYS", msg);
	if (rc)
		return srv_send_errno(c, rc, msg);
	if (!core_name_valid(tag) || core_name_reserved(tag))
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "invalid", "EINVAL",
				    "newTagName: 1-128 characters of A-Z a-z"
				    " 0-9 . _ -, starting with a letter or"
				    " digit, not a reserved name");
	if (!r->be->ops->tag_get(r->be, d.id, tag, &tg))
		return srv_send_errno(c, -EEXIST, "a tag of this name exists");
	rc = r->be->ops->sample_request(r->be, d.id, line, msg);
	if (!rc)
		rc = core_lightly_run_of(s->st, d.id, line, &run);
	if (!rc)
		rc = core_lightly_id(s->st, STORE_LIGHTLY_JOB, d.id, tag,
				     run.id, &job);
	if (rc)
		return srv_send_errno(c, rc, msg[0] ? msg : NULL);
	if (!(o = cJSON_CreateObject()))
		return MHD_NO;
	cJSON_AddStringToObject(o, "jobId", job.id);
	return srv_send_json(c, MHD_HTTP_OK, o);
}

/* The preselected=TAG of a run's request line into name ("" if none):
 * the line as the runner reads it (core_req_parse). */
static void run_preselected(const struct store_run *run, char *name,
			    size_t len)
{
	struct core_req q;
	char ign[256];

	name[0] = '\0';
	if (!core_req_parse(run->request, &q, ign, sizeof(ign)) && q.sel.on)
		snprintf(name, len, "%s", q.sel.preselected);
}

/* A finished job's tag: made now by the first poll that finds the run
 * done (the selection is the run's top n; with a preselected tag, the
 * union of that tag and the run's picks, as the platform's tag holds the
 * labelled samples and the new ones: the selection file's algebra, so
 * the tag's parent is the preselected tag), then remembered. */
static int job_tag(struct srv *s, struct req *r, struct store_lightly_id *job,
		   const struct store_run *run, struct store_tag *tg,
		   char *msg)
{
	struct store_run latest;
	char pre[CORE_NAME_MAX + 2], text[2 * CORE_NAME_MAX + 40];
	int rc;

	if (job->tag > 0)
		return r->be->ops->tag_get_id(r->be, job->tag, tg);
	/* the selection is the latest ranking run's top n: a run that
	 * finished after this job's (another job, `sample` in a mount) has
	 * replaced it, and freezing now would name the wrong samples */
	rc = core_run_latest_done(s->st, job->dataset, &latest);
	if (rc)
		return rc;
	if (latest.id != job->ref) {
		snprintf(msg, BE_MSG, "sampling run %lld finished after this"
			 " job's run and replaced its selection before the"
			 " job was polled; request the sampling again",
			 (long long)latest.seq);
		return -ESTALE;
	}
	run_preselected(run, pre, sizeof(pre));
	if (pre[0]) {
		snprintf(text, sizeof(text), "union: %s selection\n", pre);
		rc = r->be->ops->selection_write(r->be, job->dataset, text,
						 strlen(text), 0, msg);
		if (rc)
			return rc;
	}
	rc = r->be->ops->tag_create(r->be, job->dataset, job->name, tg, msg);
	if (rc == -EEXIST)   /* a concurrent poll made it */
		rc = r->be->ops->tag_get(r->be, job->dataset, job->name, tg);
	if (!rc)
		rc = core_lightly_job_done(s->st, job->id, tg->id);
	return rc;
}

enum MHD_Result srv_lightly_job(struct srv *s, struct req *r,
			     struct MHD_Connection *c)
{
	struct store_lightly_id job;
	struct store_run run;
	struct store_tag tg;
	char msg[BE_MSG] = "";
	const char *status = "UNKNOWN";
	cJSON *o, *res;
	int rc = core_lightly_job(s->st, r->owner, srv_lightly_seg(r, "jobs"),
				  &job, &run);

	if (rc)
		return srv_send_errno(c, rc, rc == -ENOENT ? "no such job" : NULL);
	switch (run.status) {
	case STORE_RUN_QUEUED: status = "WAITING"; break;
	case STORE_RUN_RUNNING: status = "RUNNING"; break;
	case STORE_RUN_DONE: status = "FINISHED"; break;
	default: status = "FAILED"; break;
	}
	if (run.status == STORE_RUN_DONE) {
		rc = job_tag(s, r, &job, &run, &tg, msg);
		if (rc == -EBUSY)            /* another run queued: later */
			status = "RUNNING";
		else if (rc) {
			status = "FAILED";
			/* run.error is 256 bytes: both parts cut to fit */
			snprintf(run.error, sizeof(run.error), "freezing tag"
				 " %.64s: %.170s", job.name,
				 msg[0] ? msg : strerror(-rc));
		}
	}
	if (!(o = cJSON_CreateObject()))
		return MHD_NO;
	cJSON_AddStringToObject(o, "id", job.id);
	cJSON_AddStringToObject(o, "status", status);
	cJSON_AddNumberToObject(o, "waitTimeTillNextPoll", 1);
	cJSON_AddNumberToObject(o, "createdAt",
				(double)srv_lightly_ms(run.created_ns));
	if (run.finished_ns)
		cJSON_AddNumberToObject(o, "finishedAt",
					(double)srv_lightly_ms(run.finished_ns));
	if (!strcmp(status, "FAILED"))
		cJSON_AddStringToObject(o, "error", run.error[0] ? run.error :
					run.status == STORE_RUN_CANCELLED ?
					"cancelled" : "failed");
	if (!strcmp(status, "FINISHED") &&
	    (res = cJSON_AddObjectToObject(o, "result"))) {
		cJSON_AddStringToObject(res, "type", "SAMPLING");
		cJSON_AddStringToObject(res, "data", tg.uid);
	}
	return srv_send_json(c, MHD_HTTP_OK, o);
}
