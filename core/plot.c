/*
 * plot.c — `plot.svg`: a static picture of a dataset's embedding.
 *
 * The vectors of the embedding the latest finished run used (else the
 * latest uploaded one) are projected to 2-D with PCA (sampling/
 * smp_pca2) and drawn as SVG: at most PLOT_POINTS points, evenly spaced
 * through the candidates when there are more, the selected ones drawn
 * after the others. The text is generated whole on each call (the FUSE
 * layer snapshots it per open); the selected paths are held as a set of
 * 64-bit hashes, so a hash collision can at worst colour one point wrong.
 * Without any embedding, the picture says how to get one.
 *
 * Threads: no state of its own; as thread-safe as store/ is.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/names.h"
#include "core/plot.h"
#include "core/text.h"
#include "sampling/sampling.h"

#define PLOT_POINTS 20000

/* A set of selected paths, by 64-bit FNV-1a hash (open addressing). */
struct pathset {
	uint64_t *h;
	size_t cap, n;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h ? h : 1;
}

static int set_add(void *arg, const char *path)
{
	struct pathset *s = arg;
	uint64_t h = fnv(path);

	if (2 * (s->n + 1) > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 1024;
		uint64_t *nh = calloc(ncap, sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->h[i])
				continue;
			size_t j = s->h[i] & (ncap - 1);
			while (nh[j])
				j = (j + 1) & (ncap - 1);
			nh[j] = s->h[i];
		}
		free(s->h);
		s->h = nh;
		s->cap = ncap;
	}
	size_t j = h & (s->cap - 1);
	while (s->h[j] && s->h[j] != h)
		j = (j + 1) & (s->cap - 1);
	if (!s->h[j]) {
		s->h[j] = h;
		s->n++;
	}
	return 0;
}

static int set_has(const struct pathset *s, const char *path)
{
	uint64_t h = fnv(path);

	if (!s->cap)
		return 0;
	for (size_t j = h & (s->cap - 1); s->h[j]; j = (j + 1) & (s->cap - 1))
		if (s->h[j] == h)
			return 1;
	return 0;
}

static void svg_escape(struct tbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': tbuf_put(b, "&lt;", 4); break;
		case '>': tbuf_put(b, "&gt;", 4); break;
		case '&': tbuf_put(b, "&amp;", 5); break;
		case '"': tbuf_put(b, "&quot;", 6); break;
		default: tbuf_put(b, s, 1);
		}
	}
}

int core_plot_svg(store *st, int64_t ds, const char *dsname, char **out,
		  size_t *len)
{
	const double W = 800, H = 600, L = 70, R = 190, T = 50, B = 60;
	struct store_embedding e, *embs = NULL;
	struct store_run run;
	struct store_dataset d;
	struct store_matrix m = { 0 };
	struct pathset sel = { 0 };
	float *xy = NULL;
	size_t nemb = 0, step, nsel = 0, nother = 0;
	int have_run, rc;
	struct tbuf b;

	rc = store_dataset_get_id(st, ds, &d);
	if (rc)
		return rc;
	have_run = store_run_latest_done(st, ds, &run) == 0;
	if (have_run && store_embedding_get_id(st, run.emb, &e) == 0) {
		rc = 0;
	} else {
		rc = store_embedding_list(st, ds, &embs, &nemb);
		if (!rc && nemb)
			e = embs[nemb - 1];
		free(embs);
		if (!rc && !nemb)
			rc = -ENOENT;
		have_run = 0;
	}
	tbuf_init(&b, 64u << 20);
	tbuf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\""
		    " height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\""
		    " font-family=\"sans-serif\" font-size=\"12\">\n"
		    "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
		    W, H, W, H);
	if (rc == -ENOENT) {
		/* Say every way to get one, the built-in embedder first. */
		tbuf_printf(&b, "<g text-anchor=\"middle\"><text x=\"%.0f\""
			    " y=\"%.0f\">No embedding yet. Compute the built-in"
			    " one: echo embed &gt; ", W / 2, H / 2 - 20);
		svg_escape(&b, dsname);
		tbuf_printf(&b, "/sample</text>\n<text x=\"%.0f\" y=\"%.0f\">"
			    "(a sampling request computes it too),"
			    " or copy a CSV into ", W / 2, H / 2);
		svg_escape(&b, dsname);
		tbuf_printf(&b, "/embeddings/</text></g>\n</svg>\n");
		return tbuf_finish(&b, out, len);
	}
	if (!rc)
		rc = store_matrix_load(st, e.id, have_run ? run.from_tag :
				       d.live_tree, &m);
	if (!rc)
		rc = store_selection_each(st, ds, set_add, &sel);
	if (!rc && m.n && !(xy = malloc(m.n * 2 * sizeof(float))))
		rc = -ENOMEM;
	if (!rc && m.n)
		rc = smp_pca2(m.x, m.n, m.dim, xy);
	if (rc) {
		tbuf_free(&b);
		goto out;
	}
	float minx = 0, maxx = 1, miny = 0, maxy = 1;
	for (size_t i = 0; i < m.n; i++) {
		if (i == 0 || xy[2 * i] < minx) minx = xy[2 * i];
		if (i == 0 || xy[2 * i] > maxx) maxx = xy[2 * i];
		if (i == 0 || xy[2 * i + 1] < miny) miny = xy[2 * i + 1];
		if (i == 0 || xy[2 * i + 1] > maxy) maxy = xy[2 * i + 1];
	}
	if (maxx - minx < 1e-12f) maxx = minx + 1;
	if (maxy - miny < 1e-12f) maxy = miny + 1;
	double pw = W - L - R, ph = H - T - B;
#define PX(v) (L + ((v) - minx) / (maxx - minx) * pw)
#define PY(v) (T + ph - ((v) - miny) / (maxy - miny) * ph)
	tbuf_printf(&b, "<text x=\"%.0f\" y=\"24\" font-size=\"15\">", L);
	svg_escape(&b, dsname);
	tbuf_printf(&b, " — embedding ");
	svg_escape(&b, e.name);
	if (have_run)
		tbuf_printf(&b, " — %s n=%" PRId64, run.strategy, run.done);
	tbuf_printf(&b, " — %zu sample%s</text>\n", m.n, core_s((long long)m.n));
	/* axes with ticks */
	tbuf_printf(&b, "<g stroke=\"#444\" fill=\"none\"><rect x=\"%.1f\" y=\"%.1f\""
		    " width=\"%.1f\" height=\"%.1f\"/></g>\n", L, T, pw, ph);
	for (int i = 0; i <= 4; i++) {
		double fx = minx + (maxx - minx) * i / 4.0;
		double fy = miny + (maxy - miny) * i / 4.0;
		tbuf_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
			    " stroke=\"#444\"/><text x=\"%.1f\" y=\"%.1f\""
			    " text-anchor=\"middle\">%.3g</text>\n",
			    PX(fx), T + ph, PX(fx), T + ph + 5, PX(fx),
			    T + ph + 18, fx);
		tbuf_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\""
			    " stroke=\"#444\"/><text x=\"%.1f\" y=\"%.1f\""
			    " text-anchor=\"end\">%.3g</text>\n",
			    L - 5, PY(fy), L, PY(fy), L - 8, PY(fy) + 4, fy);
	}
	tbuf_printf(&b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
		    "principal component 1</text>\n", L + pw / 2, H - 15);
	tbuf_printf(&b, "<text transform=\"translate(18 %.1f) rotate(-90)\""
		    " text-anchor=\"middle\">principal component 2</text>\n",
		    T + ph / 2);
	/* points: at most PLOT_POINTS, evenly spaced; selected ones last so
	 * they are drawn on top */
	step = m.n > PLOT_POINTS ? (m.n + PLOT_POINTS - 1) / PLOT_POINTS : 1;
	for (int pass = 0; pass < 2; pass++) {
		tbuf_printf(&b, "<g fill=\"%s\" fill-opacity=\"%s\">\n",
			    pass ? "#d62728" : "#9aa5b1", pass ? "0.9" : "0.5");
		for (size_t i = 0; i < m.n; i += step) {
			int s = set_has(&sel, m.paths[i]);
			if (s != pass)
				continue;
			tbuf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\"/>\n",
				    PX(xy[2 * i]), PY(xy[2 * i + 1]),
				    pass ? "2.5" : "1.6");
		}
		tbuf_printf(&b, "</g>\n");
	}
	for (size_t i = 0; i < m.n; i++) {
		if (set_has(&sel, m.paths[i]))
			nsel++;
		else
			nother++;
	}
	tbuf_printf(&b, "<g transform=\"translate(%.0f %.0f)\">"
		    "<circle cx=\"0\" cy=\"0\" r=\"5\" fill=\"#d62728\"/>"
		    "<text x=\"12\" y=\"4\">selected (%zu)</text>"
		    "<circle cx=\"0\" cy=\"22\" r=\"5\" fill=\"#9aa5b1\"/>"
		    "<text x=\"12\" y=\"26\">other (%zu)</text>",
		    W - R + 25, T + 10, nsel, nother);
	if (step > 1)
		tbuf_printf(&b, "<text x=\"0\" y=\"50\">1 point in %zu drawn</text>",
			    step);
	tbuf_printf(&b, "</g>\n</svg>\n");
#undef PX
#undef PY
	rc = tbuf_finish(&b, out, len);
out:
	free(xy);
	free(sel.h);
	store_matrix_free(&m);
	return rc;
}
