/*
 * lightly.c — core/lightly.h over store/lightly.h and the runs of
 * store/store.h: the lightly door's ids with their owner checked in one
 * call, jobs and their runs, image types, URL claims, the signing secret.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/lightly.h"
#include "core/serve.h"
#include "store/lightly.h"
#include "store/store.h"

int core_lightly_id(store *st, int kind, int64_t ds, const char *name,
		    int64_t ref, struct store_lightly_id *out)
{
	return store_lightly_id_get(st, kind, ds, name, ref, out);
}

int core_lightly_find(store *st, const char *owner, int kind, const char *id,
		      struct store_lightly_id *out, struct store_dataset *d)
{
	struct store_dataset tmp;
	int rc = store_lightly_id_find(st, id, out);

	if (!rc && out->kind != kind)
		rc = -ENOENT;
	if (!rc)
		rc = core_own_dataset(st, owner, out->dataset, d ? d : &tmp);
	return rc;
}

int core_lightly_job(store *st, const char *owner, const char *id,
		     struct store_lightly_id *job, struct store_run *run)
{
	int rc = core_lightly_find(st, owner, STORE_LIGHTLY_JOB, id, job, NULL);

	return rc ? rc : store_run_get(st, job->ref, run);
}

int core_lightly_job_done(store *st, const char *id, int64_t tag)
{
	return store_lightly_job_done(st, id, tag);
}

int core_lightly_run_of(store *st, int64_t ds, const char *line,
			struct store_run *out)
{
	struct store_run *runs = NULL;
	size_t n = 0;
	int rc = store_run_list(st, ds, 16, &runs, &n);

	if (!rc)
		rc = -ENOENT;
	for (size_t i = 0; rc == -ENOENT && i < n; i++)
		if (!strcmp(runs[i].request, line)) {
			*out = runs[i];
			rc = 0;
		}
	free(runs);
	return rc;
}

int core_lightly_img_type(store *st, int64_t ds, char *buf, size_t len)
{
	return store_lightly_ds_get(st, ds, buf, len);
}

int core_lightly_set_img_type(store *st, int64_t ds, const char *img)
{
	return store_lightly_ds_set(st, ds, img);
}

int core_lightly_claim(store *st, const char *sig, int64_t expires_ns)
{
	return store_lightly_claim(st, sig, expires_ns);
}

void core_lightly_unclaim(store *st, const char *sig)
{
	store_lightly_unclaim(st, sig);
}

int core_lightly_key(store *st, unsigned char key[STORE_LIGHTLY_KEY_LEN])
{
	return store_lightly_key(st, key);
}
