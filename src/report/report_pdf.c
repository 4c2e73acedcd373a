/*
 * report_pdf: step 4 of a report as an A4 PDF - cairo's PDF surface and
 * pango's text layout (Debian's libcairo2 and libpango1.0; doc/report.md
 * says why these).  Text is real text (pango hands cairo glyphs with
 * their Unicode, so it can be selected, searched and extracted), the
 * fonts are embedded as subsets (Noto Sans CJK JP from fonts-noto-cjk
 * when installed; fontconfig's nearest sans-serif otherwise), charts are
 * vectors, every page has the report's name and "page n of m".
 *
 * Layout: one flow of blocks down the page; a block that does not fit
 * starts a new page (a table continues on the next page with its header
 * repeated).  "Page n of m" needs m: the flow is laid out twice, first on
 * a PDF surface that discards its bytes (to count pages with the very
 * same font metrics), then for real.
 *
 * Must never: hand pango invalid UTF-8 (rbuf_utf8 cleans every text),
 * use pango markup (a text from the store could carry some), or keep
 * cairo or pango objects past the call.
 */
#include "report/report_int.h"
#include "util/mem.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <math.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_W  595.28 /* A4 in points */
#define PAGE_H  841.89
#define MARGIN  42.0
#define TOP     46.0
#define BOTTOM  54.0 /* room for the footer */
#define CONTENT (PAGE_W - 2 * MARGIN)
#define FONT    "Noto Sans CJK JP"

struct pdf {
	cairo_t *cr;
	int draw;        /* 0: the counting pass */
	int page, pages; /* current page (1-based), total (known in the second pass) */
	double y;
	const struct rdoc *d;
};

static void rgb(cairo_t *cr, const char *hex)
{
	unsigned v = 0;
	sscanf(hex + 1, "%6x", &v);
	cairo_set_source_rgb(cr, ((v >> 16) & 255) / 255.0, ((v >> 8) & 255) / 255.0,
	                     (v & 255) / 255.0);
}

/* A layout of text in FONT at size pt (bold), wrapped at width. */
static PangoLayout *layout(struct pdf *p, const char *text, double pt, int bold, double width)
{
	PangoLayout *l = pango_cairo_create_layout(p->cr);
	PangoContext *ctx = pango_layout_get_context(l);
	pango_cairo_context_set_resolution(ctx, 72); /* sizes in points */
	cairo_font_options_t *fo = cairo_font_options_create();
	cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
	cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
	pango_cairo_context_set_font_options(ctx, fo);
	cairo_font_options_destroy(fo);
	pango_layout_context_changed(l);
	PangoFontDescription *fd = pango_font_description_from_string(FONT);
	pango_font_description_set_absolute_size(fd, pt * PANGO_SCALE);
	pango_font_description_set_weight(fd, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
	pango_layout_set_font_description(l, fd);
	pango_font_description_free(fd);
	if (width > 0) {
		pango_layout_set_width(l, (int)(width * PANGO_SCALE));
		pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
	}
	struct rbuf b = { 0 };
	rbuf_utf8(&b, text);
	pango_layout_set_text(l, b.p, -1);
	rbuf_free(&b);
	return l;
}

static double lh(PangoLayout *l)
{
	int w, h;
	pango_layout_get_size(l, &w, &h);
	return (double)h / PANGO_SCALE;
}

static double lw(PangoLayout *l)
{
	int w, h;
	pango_layout_get_size(l, &w, &h);
	return (double)w / PANGO_SCALE;
}

static void show(struct pdf *p, PangoLayout *l, double x, double y, const char *color)
{
	if (!p->draw)
		return;
	cairo_save(p->cr);
	rgb(p->cr, color);
	cairo_move_to(p->cr, x, y);
	pango_cairo_show_layout(p->cr, l);
	cairo_restore(p->cr);
}

static void footer(struct pdf *p)
{
	if (!p->draw)
		return;
	char n[16], m[16];
	snprintf(n, sizeof n, "%d", p->page);
	snprintf(m, sizeof m, "%d", p->pages);
	struct rbuf b = { 0 };
	rbuf_puts(&b, p->d->footer ? p->d->footer : "");
	rbuf_puts(&b, "  ·  ");
	/* the page text: {n} and {m} */
	for (const char *s = p->d->page ? p->d->page : "{n}/{m}"; *s; s++) {
		if (strncmp(s, "{n}", 3) == 0) {
			rbuf_puts(&b, n);
			s += 2;
		} else if (strncmp(s, "{m}", 3) == 0) {
			rbuf_puts(&b, m);
			s += 2;
		} else {
			rbuf_add(&b, s, 1);
		}
	}
	PangoLayout *l = layout(p, b.p, 7.5, 0, CONTENT);
	pango_layout_set_alignment(l, PANGO_ALIGN_CENTER);
	cairo_save(p->cr);
	cairo_set_source_rgb(p->cr, 0.75, 0.75, 0.75);
	cairo_set_line_width(p->cr, 0.5);
	cairo_move_to(p->cr, MARGIN, PAGE_H - BOTTOM + 14);
	cairo_line_to(p->cr, PAGE_W - MARGIN, PAGE_H - BOTTOM + 14);
	cairo_stroke(p->cr);
	cairo_restore(p->cr);
	show(p, l, MARGIN, PAGE_H - BOTTOM + 20, "#777777");
	g_object_unref(l);
	rbuf_free(&b);
}

static void new_page(struct pdf *p)
{
	footer(p);
	cairo_show_page(p->cr);
	p->page++;
	p->y = TOP;
}

/* Room for h more points on this page, else a new page. */
static void need(struct pdf *p, double h)
{
	if (p->y + h > PAGE_H - BOTTOM && p->y > TOP + 1)
		new_page(p);
}

static void text(struct pdf *p, const char *s, double pt, int bold, const char *color,
                 double before, double after)
{
	PangoLayout *l = layout(p, s, pt, bold, CONTENT);
	double h = lh(l);
	need(p, before + h);
	p->y += before;
	show(p, l, MARGIN, p->y, color);
	p->y += h + after;
	g_object_unref(l);
}

static void heading(struct pdf *p, const char *s)
{
	PangoLayout *l = layout(p, s, 13, 1, CONTENT);
	double h = lh(l);
	/* a heading keeps company: room for it and a few lines */
	need(p, 14 + h + 60);
	p->y += 14;
	show(p, l, MARGIN, p->y, "#0d3b66");
	p->y += h + 2;
	if (p->draw) {
		cairo_save(p->cr);
		rgb(p->cr, "#0d3b66");
		cairo_set_line_width(p->cr, 1.2);
		cairo_move_to(p->cr, MARGIN, p->y);
		cairo_line_to(p->cr, PAGE_W - MARGIN, p->y);
		cairo_stroke(p->cr);
		cairo_restore(p->cr);
	}
	p->y += 7;
	g_object_unref(l);
}

static void list(struct pdf *p, const struct rblk *b)
{
	for (int i = 0; i < b->n_items; i++) {
		PangoLayout *l = layout(p, b->items[i], 9.5, 0, CONTENT - 14);
		double h = lh(l);
		need(p, h + 3);
		PangoLayout *bullet = layout(p, "•", 9.5, 0, 0);
		show(p, bullet, MARGIN + 3, p->y, "#0d3b66");
		g_object_unref(bullet);
		show(p, l, MARGIN + 14, p->y, "#222222");
		p->y += h + 3;
		g_object_unref(l);
	}
	p->y += 5;
}

static void figures(struct pdf *p, const struct rblk *b)
{
	int n = b->n_items;
	if (!n)
		return;
	double gap = 10, w = (CONTENT - gap * (n - 1)) / n, h = 0;
	PangoLayout **v = xcalloc((size_t)n * 2, sizeof *v);
	for (int i = 0; i < n; i++) {
		v[2 * i] = layout(p, b->items[i], 15, 1, w - 16);
		v[2 * i + 1] = layout(p, b->item_sub ? b->item_sub[i] : "", 8, 0, w - 16);
		double hh = lh(v[2 * i]) + lh(v[2 * i + 1]) + 12;
		if (hh > h)
			h = hh;
	}
	need(p, h + 8);
	for (int i = 0; i < n; i++) {
		double x = MARGIN + i * (w + gap);
		if (p->draw) {
			cairo_save(p->cr);
			cairo_set_source_rgb(p->cr, 0.73, 0.73, 0.73);
			cairo_set_line_width(p->cr, 0.5);
			cairo_rectangle(p->cr, x, p->y, w, h);
			cairo_stroke(p->cr);
			cairo_restore(p->cr);
		}
		show(p, v[2 * i], x + 8, p->y + 5, "#0d3b66");
		show(p, v[2 * i + 1], x + 8, p->y + 6 + lh(v[2 * i]), "#555555");
		g_object_unref(v[2 * i]);
		g_object_unref(v[2 * i + 1]);
	}
	free(v);
	p->y += h + 8;
}

/* ---- tables ---- */

#define PAD 3.0

static void table_widths(struct pdf *p, const struct rblk *b, double *w)
{
	int n = b->ncols;
	double *nat = xcalloc((size_t)n, sizeof *nat);
	for (int c = 0; c < n; c++) {
		for (int r = 0; r < b->nrows; r++) {
			PangoLayout *l = layout(p, b->cells[r * n + c], 8, r == 0, -1);
			double x = lw(l);
			g_object_unref(l);
			if (x > nat[c])
				nat[c] = x;
		}
		nat[c] += 2 * PAD + 1;
	}
	/* every column gets what it needs up to a fair share; what is
	 * left goes to the columns that need more, by how much more */
	double fair = CONTENT / n, used = 0, deficit = 0;
	for (int c = 0; c < n; c++) {
		w[c] = nat[c] < fair ? nat[c] : fair;
		used += w[c];
		deficit += nat[c] - w[c];
	}
	double rem = CONTENT - used;
	for (int c = 0; c < n; c++) {
		if (deficit > rem)
			w[c] += rem * (nat[c] - w[c]) / deficit;
		else
			w[c] = nat[c] + (rem - deficit) / n;
	}
	free(nat);
}

static double row_height(struct pdf *p, const struct rblk *b, int r, const double *w,
                         PangoLayout **out)
{
	double h = 0;
	for (int c = 0; c < b->ncols; c++) {
		out[c] = layout(p, b->cells[r * b->ncols + c], 8, r == 0, w[c] - 2 * PAD);
		if (b->num_col[c] && r > 0)
			pango_layout_set_alignment(out[c], PANGO_ALIGN_RIGHT);
		double x = lh(out[c]);
		if (x > h)
			h = x;
	}
	return h + 2 * PAD;
}

static void draw_row(struct pdf *p, const struct rblk *b, int r, const double *w, PangoLayout **ls,
                     double h)
{
	int cls = r == 0 ? -1 : b->row_cls[r];
	if (p->draw) {
		cairo_save(p->cr);
		if (r == 0)
			rgb(p->cr, "#e8eef5");
		else if (cls == RC_BAD)
			rgb(p->cr, "#fdecea");
		else
			cairo_set_source_rgb(p->cr, 1, 1, 1);
		cairo_rectangle(p->cr, MARGIN, p->y, CONTENT, h);
		cairo_fill(p->cr);
		cairo_set_source_rgb(p->cr, 0.73, 0.73, 0.73);
		cairo_set_line_width(p->cr, 0.5);
		double x = MARGIN;
		for (int c = 0; c < b->ncols; c++) {
			cairo_rectangle(p->cr, x, p->y, w[c], h);
			x += w[c];
		}
		cairo_stroke(p->cr);
		if (cls == RC_GOOD || cls == RC_BAD || cls == RC_WARN) {
			rgb(p->cr, report__color(cls, 0));
			cairo_rectangle(p->cr, MARGIN, p->y, 2.5, h);
			cairo_fill(p->cr);
		}
		cairo_restore(p->cr);
	}
	double x = MARGIN;
	for (int c = 0; c < b->ncols; c++) {
		show(p, ls[c], x + PAD, p->y + PAD, cls == RC_MUTED ? "#888888" : "#222222");
		x += w[c];
	}
	p->y += h;
}

static void table(struct pdf *p, const struct rblk *b)
{
	double *w = xcalloc((size_t)b->ncols, sizeof *w);
	PangoLayout **ls = xcalloc((size_t)b->ncols, sizeof *ls),
	            **hd = xcalloc((size_t)b->ncols, sizeof *hd);
	table_widths(p, b, w);
	double hh = row_height(p, b, 0, w, hd);
	for (int r = 1; r < b->nrows; r++) {
		double h = row_height(p, b, r, w, ls);
		/* the header and the first row together; later rows may
		 * start a page, with the header again */
		if (r == 1 || p->y + h > PAGE_H - BOTTOM) {
			need(p, hh + h);
			draw_row(p, b, 0, w, hd, hh);
		}
		draw_row(p, b, r, w, ls, h);
		for (int c = 0; c < b->ncols; c++)
			g_object_unref(ls[c]);
	}
	if (b->nrows == 1) {
		need(p, hh);
		draw_row(p, b, 0, w, hd, hh);
	}
	for (int c = 0; c < b->ncols; c++)
		g_object_unref(hd[c]);
	free(ls);
	free(hd);
	free(w);
	p->y += 8;
}

/* ---- charts ---- */

static double nice_max(double v)
{
	if (!(v > 0) || !isfinite(v))
		return 1;
	double e = pow(10, floor(log10(v)));
	double m = v / e;
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10) * e;
}

static void chart(struct pdf *p, const struct rblk *b)
{
	const double H = 150, pl = 34, pr = 4, pt = 6, pb = 16;
	struct rbuf cap = { 0 };
	rbuf_puts(&cap, b->text ? b->text : "");
	if (b->yunit && *b->yunit) {
		rbuf_puts(&cap, " (");
		rbuf_puts(&cap, b->yunit);
		rbuf_puts(&cap, ")");
	}
	PangoLayout *cl = layout(p, cap.p, 9, 1, CONTENT);
	rbuf_free(&cap);
	double ch = lh(cl);
	need(p, ch + 4 + H + 22);
	show(p, cl, MARGIN, p->y, "#222222");
	g_object_unref(cl);
	p->y += ch + 3;
	double x0 = MARGIN + pl, y0 = p->y + pt, pw = CONTENT - pl - pr, ph = H - pt - pb;
	double slot = b->n_x ? pw / b->n_x : pw, ymax = nice_max(b->ymax);
	cairo_t *cr = p->cr;
	if (p->draw) {
		cairo_save(cr);
		for (int i = 0; b->x_mark && i < b->n_x; i++)
			if (b->x_mark[i]) {
				cairo_set_source_rgb(cr, 0.945, 0.945, 0.945);
				cairo_rectangle(cr, x0 + i * slot, y0, slot, ph);
				cairo_fill(cr);
			}
		cairo_set_line_width(cr, 0.4);
		for (int k = 0; k <= 4; k++) {
			double y = y0 + ph - ph * k / 4;
			cairo_set_source_rgb(cr, k ? 0.87 : 0.5, k ? 0.87 : 0.5, k ? 0.87 : 0.5);
			cairo_move_to(cr, x0, y);
			cairo_line_to(cr, x0 + pw, y);
			cairo_stroke(cr);
		}
		if (b->type == RB_BARS) {
			for (int i = 0; i < b->n_x; i++) {
				double acc = 0;
				for (int s = 0; s < b->n_series; s++) {
					double v = b->s_val[s][i];
					if (!isfinite(v) || v <= 0)
						continue;
					double ya = y0 + ph - ph * acc / ymax;
					acc += v;
					double yb = y0 + ph - ph * (acc > ymax ? ymax : acc) / ymax;
					rgb(cr, report__color(b->s_cls[s], s));
					cairo_rectangle(cr, x0 + i * slot + slot * 0.15, yb,
					                slot * 0.7, ya - yb);
					cairo_fill(cr);
				}
			}
		} else {
			cairo_set_line_width(cr, 1.3);
			for (int s = 0; s < b->n_series; s++) {
				rgb(cr, report__color(b->s_cls[s], s));
				int open = 0;
				for (int i = 0; i < b->n_x; i++) {
					double v = b->s_val[s][i];
					if (!isfinite(v)) {
						if (open)
							cairo_stroke(cr);
						open = 0;
						continue;
					}
					double px = x0 + (i + 0.5) * slot;
					double py = y0 + ph - ph * (v > ymax ? ymax : v) / ymax;
					if (open)
						cairo_line_to(cr, px, py);
					else
						cairo_move_to(cr, px, py);
					open = 1;
				}
				if (open)
					cairo_stroke(cr);
				for (int i = 0; i < b->n_x; i++) {
					double v = b->s_val[s][i];
					if (!isfinite(v))
						continue;
					cairo_arc(cr, x0 + (i + 0.5) * slot,
					          y0 + ph - ph * (v > ymax ? ymax : v) / ymax, 1.4,
					          0, 2 * M_PI);
					cairo_fill(cr);
				}
			}
		}
		cairo_restore(cr);
	}
	/* y labels, x labels */
	for (int k = 0; k <= 4; k++) {
		char t[32];
		double v = ymax * k / 4;
		snprintf(t, sizeof t, v >= 100 || v == floor(v) ? "%.0f" : "%.1f", v);
		PangoLayout *l = layout(p, t, 6.5, 0, pl - 4);
		pango_layout_set_alignment(l, PANGO_ALIGN_RIGHT);
		show(p, l, MARGIN, y0 + ph - ph * k / 4 - lh(l) / 2, "#555555");
		g_object_unref(l);
	}
	int every = slot >= 14 ? 1 : 2;
	for (int i = 0; i < b->n_x; i += every) {
		PangoLayout *l = layout(p, b->x_labels[i], 6, 0, slot * every);
		pango_layout_set_alignment(l, PANGO_ALIGN_CENTER);
		show(p, l, x0 + i * slot - (every - 1) * slot / 2, y0 + ph + 3, "#555555");
		g_object_unref(l);
	}
	p->y += H;
	/* legend */
	double x = MARGIN + pl;
	for (int s = 0; s < b->n_series; s++) {
		PangoLayout *l = layout(p, b->s_name[s], 7.5, 0, -1);
		if (p->draw) {
			cairo_save(cr);
			rgb(cr, report__color(b->s_cls[s], s));
			cairo_rectangle(cr, x, p->y + 2.5, 7, 7);
			cairo_fill(cr);
			cairo_restore(cr);
		}
		show(p, l, x + 10, p->y, "#444444");
		x += 10 + lw(l) + 14;
		g_object_unref(l);
	}
	p->y += 20;
}

static void flow(struct pdf *p)
{
	p->page = 1;
	p->y = TOP;
	for (size_t i = 0; i < p->d->n; i++) {
		const struct rblk *b = &p->d->b[i];
		switch (b->type) {
		case RB_TITLE: text(p, b->text, 18, 1, "#0d3b66", 0, 4); break;
		case RB_SUBTITLE: text(p, b->text, 8, 0, "#555555", 0, 6); break;
		case RB_H2: heading(p, b->text); break;
		case RB_PARA: text(p, b->text, 9.5, 0, "#222222", 0, 6); break;
		case RB_NOTE: text(p, b->text, 8, 0, "#555555", 0, 6); break;
		case RB_TABLE: table(p, b); break;
		case RB_BARS:
		case RB_LINES: chart(p, b); break;
		case RB_LIST: list(p, b); break;
		case RB_FIGURES: figures(p, b); break;
		default: break;
		}
	}
	footer(p);
	cairo_show_page(p->cr);
}

static cairo_status_t discard(void *closure, const unsigned char *data, unsigned int length)
{
	return CAIRO_STATUS_SUCCESS;
}

static cairo_status_t collect(void *closure, const unsigned char *data, unsigned int length)
{
	rbuf_add(closure, (const char *)data, length);
	return CAIRO_STATUS_SUCCESS;
}

static int run(const struct rdoc *d, struct rbuf *out, int draw, int pages, int *counted, char *err,
               size_t errlen)
{
	cairo_surface_t *sf =
	    draw ? cairo_pdf_surface_create_for_stream(collect, out, PAGE_W, PAGE_H)
	         : cairo_pdf_surface_create_for_stream(discard, NULL, PAGE_W, PAGE_H);
	if (cairo_surface_status(sf) != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errlen, "cairo: %s",
		         cairo_status_to_string(cairo_surface_status(sf)));
		cairo_surface_destroy(sf);
		return REPORT_E_RENDER;
	}
	if (draw) {
		cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_TITLE,
		                               d->title ? d->title : "");
		cairo_pdf_surface_set_metadata(sf, CAIRO_PDF_METADATA_CREATOR, "mamori");
	}
	cairo_t *cr = cairo_create(sf);
	struct pdf p = { .cr = cr, .draw = draw, .pages = pages, .d = d };
	flow(&p);
	*counted = p.page;
	cairo_status_t st = cairo_status(cr);
	cairo_destroy(cr);
	cairo_surface_finish(sf);
	if (st == CAIRO_STATUS_SUCCESS)
		st = cairo_surface_status(sf);
	cairo_surface_destroy(sf);
	if (st != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errlen, "cairo: %s", cairo_status_to_string(st));
		return REPORT_E_RENDER;
	}
	return REPORT_OK;
}

int report__pdf(const struct rdoc *d, struct rbuf *out, char *err, size_t errlen)
{
	int pages = 0, again = 0;
	int rc = run(d, out, 0, 0, &pages, err, errlen);
	if (rc == REPORT_OK)
		rc = run(d, out, 1, pages, &again, err, errlen);
	return rc;
}
