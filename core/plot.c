/*
 * plot.c — `plot.svg`: a static picture of a dataset's embedding.
 *
 * The vectors of the embedding the latest finished run used (else the
 * latest uploaded one), of the files of the selection's source tag, are
 * laid out in 2-D by the method asked for (core/layout.h: PCA, or the
 * neighbour-preserving "umap" of sampling/layout.c, cached by content) and
 * drawn as SVG; the axis titles name the method.
 *
 * What the picture promises:
 * - its second title line names the selection as it is now, as the caller
 *   describes it (a run, a `keep`, a list written by hand: core/runs.c
 *   knows which), with its size and the number of files of the tag;
 * - at most PLOT_POINTS points, evenly spaced through the candidates when
 *   there are more (the legend says 1 in how many);
 * - every point is a small translucent dot, coloured by the embedding's
 *   label when there are at least two distinct labels (PALETTE colours in
 *   label order, then one grey for the rest); the more points, the smaller
 *   and fainter the dots (dot_style), and past DENSITY_MIN points a grey
 *   shading of GRID cells under them shows where they pile up, so density
 *   reads even where dots overlap (seen at 19,200 points: a solid blot);
 *   the selected points are thin translucent rings drawn on top, sized to
 *   the dots, so they mark picks without hiding what is under them (none
 *   while the selection is still the default, all of the tag: rings on
 *   every point would hide the picture);
 * - every point and ring carries a <title> with its path, so a viewer
 *   shows it on hover. Paths are untrusted: XML metacharacters are
 *   escaped, and bytes XML cannot carry (controls, invalid UTF-8) become
 *   U+FFFD, so the file always parses;
 * - axis ticks at round values (1, 2 or 5 × 10^k, about 5 per axis),
 *   labelled with no more decimals than the step needs, inside a margin
 *   that keeps them clear of the axis titles; the data range is padded so
 *   no point sits on the frame.
 *
 * The text is generated whole on each call (the FUSE layer snapshots it
 * per open); the selected paths are held as a set of 64-bit hashes, so a
 * hash collision can at worst draw one ring too many. Without any
 * embedding, the picture says how to get one. Size: about 100 bytes plus
 * twice the path per point, so at most a few MB.
 *
 * Threads: no state of its own; as thread-safe as store/ is.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/layout.h"
#include "core/names.h"
#include "core/plot.h"
#include "core/text.h"
#include "sampling/sampling.h"
#include "store/store.h"

#define PLOT_POINTS 20000
#define PALETTE 10
#define DENSITY_MIN 2000   /* drawn points from which the shading shows */
#define GRID 64            /* shading cells across the frame (and down) */

/* Tableau 10: distinct for most colour-blind viewers, and none of them
 * the rings' near-black. */
static const char *const palette[PALETTE] = {
	"#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
	"#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
};

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

/* Appends s escaped for XML text and attributes: metacharacters as
 * entities, and what XML 1.0 cannot hold (control bytes but tab, newline
 * and CR; a byte that is not valid UTF-8) as U+FFFD. */
static void svg_escape(struct tbuf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned char c = *s;
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
			   (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		size_t k = 1;

		while (k < n && (s[k] & 0xc0) == 0x80)
			k++;
		if (n == 0 || k < n || (n == 2 && c < 0xc2) ||
		    (n == 3 && c == 0xe0 && s[1] < 0xa0) ||
		    (n == 3 && c == 0xed && s[1] >= 0xa0) ||
		    (n == 4 && (c > 0xf4 || (c == 0xf0 && s[1] < 0x90) ||
				(c == 0xf4 && s[1] >= 0x90))) ||
		    (n == 1 && c < 0x20 && c != '\t' && c != '\n' &&
		     c != '\r')) {
			tbuf_put(b, "\xef\xbf\xbd", 3);
			s += k ? k : 1;
			continue;
		}
		switch (c) {
		case '<': tbuf_put(b, "&lt;", 4); break;
		case '>': tbuf_put(b, "&gt;", 4); break;
		case '&': tbuf_put(b, "&amp;", 5); break;
		case '"': tbuf_put(b, "&quot;", 6); break;
		case '\t': tbuf_put(b, "&#9;", 4); break;
		case '\n': tbuf_put(b, "&#10;", 5); break;
		case '\r': tbuf_put(b, "&#13;", 5); break;
		default: tbuf_put(b, (const char *)s, n);
		}
		s += n;
	}
}

/* The round step (1, 2 or 5 × 10^k) that cuts span into about `want`
 * intervals, and the decimals its labels need. */
static double nice_step(double span, int want, int *decimals)
{
	double raw = span / want, p = pow(10, floor(log10(raw)));
	double f = raw / p, step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5
				    : 10) * p;
	int d = -(int)floor(log10(step) + 1e-9);

	*decimals = d > 0 ? d : 0;
	return step;
}

/* Appends v with `decimals` decimals, never "-0". */
static void put_tick(struct tbuf *b, double v, int decimals)
{
	char num[48];

	snprintf(num, sizeof(num), "%.*f", decimals, v);
	if (num[0] == '-' && strspn(num + 1, "0.") == strlen(num + 1))
		memmove(num, num + 1, strlen(num));
	tbuf_printf(b, "%s", num);
}

struct frame {
	double L, T, pw, ph;
	double minx, maxx, miny, maxy;
};

static double px(const struct frame *f, double v)
{
	return f->L + (v - f->minx) / (f->maxx - f->minx) * f->pw;
}

static double py(const struct frame *f, double v)
{
	return f->T + f->ph - (v - f->miny) / (f->maxy - f->miny) * f->ph;
}

/* The data range of xy, padded by 4 % so no point touches the frame. */
static void frame_fit(struct frame *f, const float *xy, size_t n)
{
	f->minx = f->miny = 0;
	f->maxx = f->maxy = 1;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || xy[2 * i] < f->minx) f->minx = xy[2 * i];
		if (i == 0 || xy[2 * i] > f->maxx) f->maxx = xy[2 * i];
		if (i == 0 || xy[2 * i + 1] < f->miny) f->miny = xy[2 * i + 1];
		if (i == 0 || xy[2 * i + 1] > f->maxy) f->maxy = xy[2 * i + 1];
	}
	if (f->maxx - f->minx < 1e-9) f->minx -= 0.5, f->maxx += 0.5;
	if (f->maxy - f->miny < 1e-9) f->miny -= 0.5, f->maxy += 0.5;
	double dx = (f->maxx - f->minx) * 0.04, dy = (f->maxy - f->miny) * 0.04;
	f->minx -= dx, f->maxx += dx, f->miny -= dy, f->maxy += dy;
}

/* The frame, round ticks on both axes and the axis titles. Tick labels sit
 * 18 px below the frame and end 8 px left of it; the axis titles are 44
 * px below it and at x = 16: clear of labels up to ~8 characters. */
static void draw_axes(struct tbuf *b, const struct frame *f, int method)
{
	const char *tx, *ty;
	int dx, dy;
	double sx = nice_step(f->maxx - f->minx, 5, &dx);
	double sy = nice_step(f->maxy - f->miny, 5, &dy);

	tbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
		    " height=\"%.1f\" fill=\"none\" stroke=\"#444\"/>\n",
		    f->L, f->T, f->pw, f->ph);
	tbuf_printf(b, "<g id=\"xticks\" text-anchor=\"middle\">\n");
	for (double v = ceil(f->minx / sx) * sx; v <= f->maxx; v += sx) {
		double x = px(f, v);
		tbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\""
			    " y2=\"%.1f\" stroke=\"#444\"/><text x=\"%.1f\""
			    " y=\"%.1f\">", x, f->T + f->ph, x,
			    f->T + f->ph + 5, x, f->T + f->ph + 18);
		put_tick(b, v, dx);
		tbuf_printf(b, "</text>\n");
	}
	tbuf_printf(b, "</g>\n<g id=\"yticks\" text-anchor=\"end\">\n");
	for (double v = ceil(f->miny / sy) * sy; v <= f->maxy; v += sy) {
		double y = py(f, v);
		tbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\""
			    " y2=\"%.1f\" stroke=\"#444\"/><text x=\"%.1f\""
			    " y=\"%.1f\">", f->L - 5, y, f->L, y, f->L - 8,
			    y + 4);
		put_tick(b, v, dy);
		tbuf_printf(b, "</text>\n");
	}
	core_layout_axes(method, &tx, &ty);
	tbuf_printf(b, "</g>\n<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
		    "%s</text>\n", f->L + f->pw / 2, f->T + f->ph + 44, tx);
	tbuf_printf(b, "<text transform=\"translate(16 %.1f) rotate(-90)\""
		    " text-anchor=\"middle\">%s</text>\n", f->T + f->ph / 2, ty);
}

/* The number of distinct labels (their ranks are 0..count-1). */
static int label_count(const struct store_matrix *m)
{
	int32_t max = 0;

	for (size_t i = 0; i < m->n; i++)
		if (m->labels[i] > max)
			max = m->labels[i];
	return m->n ? (int)max + 1 : 0;
}

/* A point's colour: by its label's rank (palette, then grey for the rest)
 * when there are two labels or more, else one grey. */
static const char *point_colour(const struct store_matrix *m, int nlab,
				size_t i)
{
	if (nlab < 2)
		return "#7f8c99";
	return m->labels[i] < PALETTE ? palette[m->labels[i]] : "#555555";
}

/* The legend, right of the frame at (x, y). all: the selection is still
 * the default, all of the tag, and no ring is drawn. */
static void draw_legend(struct tbuf *b, const struct store_matrix *m,
			int nlab, int all, size_t nsel, size_t step, double x,
			double y)
{
	size_t count[PALETTE + 1] = { 0 };
	int64_t value[PALETTE] = { 0 };

	tbuf_printf(b, "<g id=\"legend\" transform=\"translate(%.0f %.0f)\">\n",
		    x, y);
	tbuf_printf(b, "<circle cx=\"0\" cy=\"0\" r=\"5\" fill=\"none\""
		    " stroke=\"#111\" stroke-width=\"1.5\"/><text x=\"12\""
		    " y=\"4\">");
	if (all)
		tbuf_printf(b, "selected: all (no rings)</text>\n");
	else
		tbuf_printf(b, "selected (%zu)</text>\n", nsel);
	y = 22;
	if (nlab < 2) {
		tbuf_printf(b, "<circle cx=\"0\" cy=\"%.0f\" r=\"3\""
			    " fill=\"#7f8c99\"/><text x=\"12\" y=\"%.0f\">"
			    "sample (%zu)</text>\n", y, y + 4, m->n);
		y += 22;
	} else {
		for (size_t i = 0; i < m->n; i++) {
			int k = m->labels[i] < PALETTE ? m->labels[i] : PALETTE;
			count[k]++;
			if (k < PALETTE)
				value[k] = m->raw_labels ? m->raw_labels[i]
							 : m->labels[i];
		}
		tbuf_printf(b, "<text x=\"-5\" y=\"%.0f\">by label:</text>\n",
			    y + 4);
		y += 20;
		for (int k = 0; k <= PALETTE && k < nlab; k++) {
			tbuf_printf(b, "<circle cx=\"0\" cy=\"%.0f\" r=\"4\""
				    " fill=\"%s\"/><text x=\"12\" y=\"%.0f\">",
				    y, k < PALETTE ? palette[k] : "#555555",
				    y + 4);
			if (k < PALETTE)
				tbuf_printf(b, "label %" PRId64 " (%zu)",
					    value[k], count[k]);
			else
				tbuf_printf(b, "%d other labels (%zu)",
					    nlab - PALETTE, count[k]);
			tbuf_printf(b, "</text>\n");
			y += 18;
		}
		y += 4;
	}
	if (step > 1)
		tbuf_printf(b, "<text x=\"-5\" y=\"%.0f\">1 point in %zu"
			    " drawn</text>\n", y + 4, step);
	tbuf_printf(b, "</g>\n");
}

/* Dot radius and opacity for `drawn` points: 2.2 px at 0.55 up to 1,000
 * points, then shrinking with sqrt(1000/drawn) to 1.3 px at 0.45 (from
 * about 3,000), so that many dots still show their colour but pile up
 * less; the shading says where they pile up anyway. */
static void dot_style(size_t drawn, double *r, double *alpha)
{
	double f = drawn > 1000 ? sqrt(1000.0 / (double)drawn) : 1;

	*r = 2.2 * f < 1.3 ? 1.3 : 2.2 * f;
	*alpha = 0.55 * f < 0.45 ? 0.45 : 0.55 * f;
}

/* The density shading: GRID × GRID cells over the frame, each a grey
 * rect whose opacity grows with the square root of its share of the
 * fullest cell (empty cells are not drawn). */
static int draw_density(struct tbuf *b, const struct frame *f,
			const float *xy, size_t n, size_t step)
{
	uint32_t *cnt = calloc((size_t)GRID * GRID, sizeof(*cnt)), max = 0;
	double cw = f->pw / GRID, ch = f->ph / GRID;

	if (!cnt)
		return -ENOMEM;
	for (size_t i = 0; i < n; i += step) {
		int cx = (int)((px(f, xy[2 * i]) - f->L) / cw);
		int cy = (int)((py(f, xy[2 * i + 1]) - f->T) / ch);
		if (cx < 0 || cy < 0 || cx >= GRID || cy >= GRID)
			continue;
		uint32_t c = ++cnt[cy * GRID + cx];
		if (c > max)
			max = c;
	}
	tbuf_printf(b, "<g id=\"density\" fill=\"#3b4a5a\">\n");
	for (int cy = 0; cy < GRID; cy++)
		for (int cx = 0; cx < GRID; cx++) {
			uint32_t c = cnt[cy * GRID + cx];
			if (!c)
				continue;
			tbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\""
				    " height=\"%.1f\" fill-opacity=\"%.3f\"/>\n",
				    f->L + cx * cw, f->T + cy * ch, cw + 0.05,
				    ch + 0.05, 0.03 + 0.17 * sqrt((double)c / max));
		}
	tbuf_printf(b, "</g>\n");
	free(cnt);
	return 0;
}

/* One point: a dot of radius r, or a ring of radius r for a selected one,
 * with its path as a <title>. */
static void draw_point(struct tbuf *b, const struct frame *f, const float *p,
		       const char *path, const char *fill, double r)
{
	if (!fill)
		tbuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\">",
			    px(f, p[0]), py(f, p[1]), r);
	else
		tbuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\""
			    " fill=\"%s\">", px(f, p[0]), py(f, p[1]), r, fill);
	tbuf_printf(b, "<title>");
	svg_escape(b, path);
	tbuf_printf(b, "</title></circle>\n");
}

int core_plot_svg(store *st, int64_t ds, const char *dsname,
		  const char *selnote, int method, char **out, size_t *len)
{
	const double W = 860, H = 640, R = 200, B = 70;
	struct store_embedding e, *embs = NULL;
	struct store_run run;
	struct store_dataset d;
	struct store_tag t;
	struct store_matrix m = { 0 };
	struct pathset sel = { 0 };
	struct frame f = { .L = 90, .T = 66 };
	float *xy = NULL;
	double r, alpha;
	size_t nemb = 0, step, nsel = 0, drawn;
	int64_t nselall = 0, tree;
	int have_run, nlab, rc;
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
	/* the files of the selection's source tag: what it was chosen from */
	tree = d.sel_tree ? d.sel_tree : d.live_tree;
	if (!rc && store_tag_get_id(st, tree, &t))
		snprintf(t.name, sizeof(t.name), "?");
	if (!rc)
		rc = store_matrix_load(st, e.id, tree, &m);
	if (!rc)
		rc = store_selection_each(st, ds, set_add, &sel);
	if (!rc)
		rc = store_selection_count(st, ds, &nselall);
	if (!rc && m.n && !(xy = malloc(m.n * 2 * sizeof(float))))
		rc = -ENOMEM;
	if (!rc && m.n)
		rc = core_layout_xy_nowait(method, m.x, m.n, m.dim, xy);
	if (rc == -EINPROGRESS) {
		/* seconds of work: not on a stat's thread (layout.h) */
		tbuf_printf(&b, "<g text-anchor=\"middle\"><text id=\"pending\""
			    " x=\"%.0f\" y=\"%.0f\">The neighbour-preserving"
			    " layout of %zu sample%s (embedding ", W / 2,
			    H / 2 - 20, m.n, core_s((long long)m.n));
		svg_escape(&b, e.name);
		tbuf_printf(&b, ") is being computed: read this file again in"
			    " a few seconds.</text>\n<text x=\"%.0f\""
			    " y=\"%.0f\">plot.svg draws the PCA layout at"
			    " once.</text></g>\n</svg>\n", W / 2, H / 2);
		rc = tbuf_finish(&b, out, len);
		goto out;
	}
	if (rc) {
		tbuf_free(&b);
		goto out;
	}
	frame_fit(&f, xy, m.n);
	f.pw = W - f.L - R;
	f.ph = H - f.T - B;
	nlab = label_count(&m);
	size_t nfiles = m.n + m.skipped;
	tbuf_printf(&b, "<text id=\"title\" x=\"%.0f\" y=\"24\""
		    " font-size=\"15\">", f.L);
	svg_escape(&b, dsname);
	tbuf_printf(&b, " — embedding ");
	svg_escape(&b, e.name);
	tbuf_printf(&b, " — %s — %zu sample%s of ", method == CORE_LAYOUT_UMAP ?
		    "umap layout" : "PCA", m.n, core_s((long long)m.n));
	svg_escape(&b, t.name);
	tbuf_printf(&b, "</text>\n<text id=\"selection\" x=\"%.0f\" y=\"46\""
		    " font-size=\"13\">selection: %" PRId64 " of %zu", f.L,
		    nselall, nfiles);
	if (selnote && *selnote) {
		tbuf_printf(&b, " (");
		svg_escape(&b, selnote);
		tbuf_printf(&b, ")");
	}
	tbuf_printf(&b, "</text>\n");
	draw_axes(&b, &f, method);
	/* shading, dots for every drawn point, then rings for the selected */
	step = m.n > PLOT_POINTS ? (m.n + PLOT_POINTS - 1) / PLOT_POINTS : 1;
	drawn = (m.n + step - 1) / step;
	dot_style(drawn, &r, &alpha);
	if (drawn >= DENSITY_MIN && (rc = draw_density(&b, &f, xy, m.n, step))) {
		tbuf_free(&b);
		goto out;
	}
	tbuf_printf(&b, "<g id=\"points\" fill-opacity=\"%.2f\">\n", alpha);
	for (size_t i = 0; i < m.n; i += step)
		draw_point(&b, &f, xy + 2 * i, m.paths[i],
			   point_colour(&m, nlab, i), r);
	tbuf_printf(&b, "</g>\n<g id=\"selected\" fill=\"none\""
		    " stroke=\"#111\" stroke-width=\"%.2f\""
		    " stroke-opacity=\"%.2f\">\n", r > 1.8 ? 1.1 : 0.6,
		    r > 1.8 ? 0.9 : 0.55);
	for (size_t i = 0; i < m.n && d.sel_explicit; i++) {
		if (!set_has(&sel, m.paths[i]))
			continue;
		nsel++;
		if (i % step == 0)
			draw_point(&b, &f, xy + 2 * i, m.paths[i], NULL,
				   r + 1.3);
	}
	tbuf_printf(&b, "</g>\n");
	draw_legend(&b, &m, nlab, !d.sel_explicit, nsel, step, W - R + 25,
		    f.T + 10);
	tbuf_printf(&b, "</svg>\n");
	rc = tbuf_finish(&b, out, len);
out:
	free(xy);
	free(sel.h);
	store_matrix_free(&m);
	return rc;
}
