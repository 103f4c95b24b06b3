/*
 * s3_xml.c — S3's XML answers read with libexpat.
 *
 * S3 answers in small, flat documents: an <Error> with <Code> and
 * <Message>, a ListBucketResult of <Contents> entries, a
 * ListMultipartUploadsResult of <Upload> entries, the UploadId of a new
 * multipart upload. So the reader here hands each element, at its end, to
 * a callback with its parent's name and its text; a caller keeps what it
 * wants and acts on a group's end (</Contents>). Entities, character
 * references, CDATA and encodings are expat's job; expat 2.4+ also refuses
 * entity-expansion bombs, and no external entity is ever loaded (we set
 * no handler for them). Namespaces are not processed: S3's one default
 * namespace leaves the local names as they are.
 *
 * Caps: an element's text at 16 KiB (a key, percent-encoded, is at most
 * 3 KiB), nesting at 16 levels (S3 uses 3), a name at 63 bytes — beyond
 * them the document is refused (-EBADMSG), never cut silently. The
 * document itself is capped by whoever received it (S3I_XML_MAX).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "store/s3_int.h"

#define TEXT_MAX (16u << 10)
#define DEPTH_MAX 16
#define NAME_MAX_ 64

struct walk {
	XML_Parser p;
	s3i_xml_fn fn;
	void *arg;
	char names[DEPTH_MAX][NAME_MAX_];
	int depth;
	char *text;             /* the text since the last tag */
	size_t tlen, tcap;
	int rc;                 /* fn's non-zero, or ours; stops the parse */
};

static void stop(struct walk *w, int rc)
{
	if (!w->rc)
		w->rc = rc;
	XML_StopParser(w->p, XML_FALSE);
}

static void on_start(void *arg, const XML_Char *name, const XML_Char **atts)
{
	struct walk *w = arg;

	(void)atts;
	if (w->rc)
		return;
	if (w->depth >= DEPTH_MAX || strlen(name) >= NAME_MAX_) {
		stop(w, -EBADMSG);
		return;
	}
	memcpy(w->names[w->depth++], name, strlen(name) + 1);
	w->tlen = 0;
}

static void on_end(void *arg, const XML_Char *name)
{
	struct walk *w = arg;
	int rc;

	(void)name;   /* expat checked it matches its start */
	if (w->rc || w->depth < 1)
		return;
	if (w->text)
		w->text[w->tlen] = 0;
	rc = w->fn(w->arg, w->depth > 1 ? w->names[w->depth - 2] : "",
		   w->names[w->depth - 1], w->text ? w->text : "");
	w->depth--;
	w->tlen = 0;
	if (rc)
		stop(w, rc);
}

static void on_text(void *arg, const XML_Char *s, int len)
{
	struct walk *w = arg;
	size_t n = (size_t)len;

	if (w->rc)
		return;
	if (w->tlen + n + 1 > TEXT_MAX) {
		stop(w, -EBADMSG);
		return;
	}
	if (w->tlen + n + 1 > w->tcap) {
		size_t cap = w->tcap ? w->tcap : 256;
		char *t;

		while (cap < w->tlen + n + 1)
			cap *= 2;
		if (!(t = realloc(w->text, cap))) {
			stop(w, -ENOMEM);
			return;
		}
		w->text = t;
		w->tcap = cap;
	}
	memcpy(w->text + w->tlen, s, n);
	w->tlen += n;
}

int s3i_xml(const char *doc, size_t len, s3i_xml_fn fn, void *arg)
{
	struct walk w = { .fn = fn, .arg = arg };
	enum XML_Status st;

	if (len > S3I_XML_MAX)
		return -EBADMSG;
	if (!(w.p = XML_ParserCreate("UTF-8")))
		return -ENOMEM;
	XML_SetUserData(w.p, &w);
	XML_SetElementHandler(w.p, on_start, on_end);
	XML_SetCharacterDataHandler(w.p, on_text);
	st = XML_Parse(w.p, doc, (int)len, XML_TRUE);
	if (!w.rc && st != XML_STATUS_OK)
		w.rc = XML_GetErrorCode(w.p) == XML_ERROR_NO_MEMORY ?
		       -ENOMEM : -EBADMSG;
	XML_ParserFree(w.p);
	free(w.text);
	return w.rc;
}

struct get {
	const char *parent, *name;
	char *out;
	size_t cap;
};

/* 1: found (stops the walk), or -EOVERFLOW. */
static int get_one(void *arg, const char *parent, const char *name,
		   const char *text)
{
	struct get *g = arg;
	size_t l;

	if (strcmp(name, g->name) || (g->parent && strcmp(parent, g->parent)))
		return 0;
	l = strlen(text);
	if (l >= g->cap)
		return -EOVERFLOW;
	memcpy(g->out, text, l + 1);
	return 1;
}

int s3i_xml_get(const char *doc, size_t len, const char *parent,
		const char *name, char *out, size_t cap)
{
	struct get g = { parent, name, out, cap };
	int rc;

	if (!cap)
		return -EOVERFLOW;
	out[0] = 0;
	rc = s3i_xml(doc, len, get_one, &g);
	return rc == 1 ? 0 : rc ? rc : -ENOENT;
}
