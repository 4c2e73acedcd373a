/*
 * report_html: step 4 of a report - the document as one self-contained
 * HTML file: inline CSS, charts as inline SVG, no script, no external
 * request (not even a font: the fonts are the reader's own, Noto CJK or
 * the system's Japanese fonts), a Content-Security-Policy that forbids
 * anything else, and print rules for A4 (margins, no table or chart cut
 * across pages, headings kept with what follows).
 *
 * Must never: write a text without escaping it (rbuf_html), or emit a
 * number that is not finite into the SVG.
 */
#include "report/report_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char css[] =
    "@page{size:A4;margin:14mm 14mm 16mm 14mm}"
    "*{box-sizing:border-box}"
    "body{font-family:'Noto Sans CJK JP','Noto Sans JP','Hiragino Sans','Yu Gothic',"
    "'Meiryo',sans-serif;color:#222;margin:0 auto;max-width:182mm;padding:8mm 0;"
    "font-size:10.5pt;line-height:1.55}"
    "h1{font-size:19pt;margin:0 0 2mm;color:#0d3b66}"
    ".sub{color:#555;font-size:9pt;margin:0 0 6mm}"
    "h2{font-size:13pt;color:#0d3b66;border-bottom:1.5pt solid #0d3b66;margin:7mm 0 3mm;"
    "padding-bottom:1mm;break-after:avoid;page-break-after:avoid}"
    "p{margin:0 0 3mm}"
    "p.note{color:#555;font-size:9pt}"
    "table{border-collapse:collapse;width:100%;margin:0 0 4mm;font-size:9pt;"
    "break-inside:avoid;page-break-inside:avoid}"
    "th,td{border:0.5pt solid #bbb;padding:1.2mm 2mm;text-align:left;vertical-align:top}"
    "th{background:#e8eef5}"
    "td.n{text-align:right;white-space:nowrap}"
    "tr.good td:first-child{border-left:3pt solid #2e7d32}"
    "tr.bad td:first-child{border-left:3pt solid #c62828}"
    "tr.bad{background:#fdecea}"
    "tr.warn td:first-child{border-left:3pt solid #ef6c00}"
    "tr.muted{color:#888}"
    "ul{margin:0 0 4mm;padding-left:6mm}"
    "li{margin:0 0 1.5mm}"
    ".chart{break-inside:avoid;page-break-inside:avoid;margin:0 0 4mm}"
    ".chart .cap{font-weight:bold;font-size:9.5pt;margin:0 0 1mm}"
    ".legend{font-size:8.5pt;color:#444}"
    ".legend span{display:inline-block;margin-right:4mm}"
    ".legend i{display:inline-block;width:3mm;height:3mm;margin-right:1mm;"
    "vertical-align:middle}"
    ".fig{display:flex;gap:4mm;margin:0 0 4mm;break-inside:avoid}"
    ".fig div{flex:1;border:0.5pt solid #bbb;border-radius:2mm;padding:2mm 3mm}"
    ".fig b{display:block;font-size:15pt;color:#0d3b66}"
    ".fig small{color:#555}"
    "svg{display:block;width:100%;height:auto}"
    "footer{margin-top:8mm;color:#888;font-size:8pt;border-top:0.5pt solid #ccc;"
    "padding-top:2mm}";

static const char *cls_name(int c)
{
	switch (c) {
	case RC_GOOD: return "good";
	case RC_BAD: return "bad";
	case RC_WARN: return "warn";
	case RC_MUTED: return "muted";
	default: return NULL;
	}
}

const char *report__color(int cls, int i)
{
	switch (cls) {
	case RC_GOOD: return "#2e7d32";
	case RC_BAD: return "#c62828";
	case RC_WARN: return "#ef6c00";
	case RC_MUTED: return "#bdbdbd";
	default: return i ? "#6a1b9a" : "#1565c0";
	}
}

static void text_block(struct rbuf *o, const char *tag, const char *cls, const char *s)
{
	rbuf_printf(o, "<%s%s%s%s>", tag, cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
	/* a line break in a text is a <br> */
	const char *p = s ? s : "";
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char tmp[4096];
		while (n) {
			size_t k = n < sizeof tmp - 1 ? n : sizeof tmp - 1;
			memcpy(tmp, p, k);
			tmp[k] = '\0';
			rbuf_html(o, tmp);
			p += k;
			n -= k;
		}
		if (nl) {
			rbuf_puts(o, "<br>");
			p = nl + 1;
		}
	}
	rbuf_printf(o, "</%s>\n", tag);
}

static void table_html(struct rbuf *o, const struct rblk *b)
{
	rbuf_puts(o, "<table>\n<thead><tr>");
	for (int c = 0; c < b->ncols; c++) {
		rbuf_puts(o, "<th>");
		rbuf_html(o, b->cells[c]);
		rbuf_puts(o, "</th>");
	}
	rbuf_puts(o, "</tr></thead>\n<tbody>\n");
	for (int r = 1; r < b->nrows; r++) {
		const char *cn = cls_name(b->row_cls[r]);
		if (cn)
			rbuf_printf(o, "<tr class=\"%s\">", cn);
		else
			rbuf_puts(o, "<tr>");
		for (int c = 0; c < b->ncols; c++) {
			rbuf_puts(o, b->num_col[c] ? "<td class=\"n\">" : "<td>");
			rbuf_html(o, b->cells[r * b->ncols + c]);
			rbuf_puts(o, "</td>");
		}
		rbuf_puts(o, "</tr>\n");
	}
	rbuf_puts(o, "</tbody></table>\n");
}

/* A round number at or above v for the y axis. */
static double nice_max(double v)
{
	if (!(v > 0) || !isfinite(v))
		return 1;
	double e = pow(10, floor(log10(v)));
	double m = v / e;
	double n = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
	return n * e;
}

static void fmt_tick(char *buf, size_t len, double v)
{
	if (v >= 100 || v == floor(v))
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.1f", v);
}

#define CW 680.0 /* the chart's view box */
#define CH 190.0
#define PL 44.0 /* plot area: left, right, top, bottom margins */
#define PR 8.0
#define PT 8.0
#define PB 22.0

static void chart_html(struct rbuf *o, const struct rblk *b)
{
	double ymax = nice_max(b->ymax);
	double pw = CW - PL - PR, ph = CH - PT - PB;
	double slot = b->n_x ? pw / b->n_x : pw;
	rbuf_puts(o, "<div class=\"chart\"><div class=\"cap\">");
	rbuf_html(o, b->text);
	if (b->yunit && *b->yunit) {
		rbuf_puts(o, " (");
		rbuf_html(o, b->yunit);
		rbuf_puts(o, ")");
	}
	rbuf_puts(o, "</div>\n");
	rbuf_printf(o,
	            "<svg viewBox=\"0 0 %.0f %.0f\" "
	            "role=\"img\" aria-label=\"",
	            CW, CH);
	rbuf_html(o, b->text);
	rbuf_puts(o, "\" font-family=\"sans-serif\" font-size=\"9\">\n");
	/* days without business hours */
	for (int i = 0; b->x_mark && i < b->n_x; i++)
		if (b->x_mark[i])
			rbuf_printf(o,
			            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			            "fill=\"#f1f1f1\"/>\n",
			            PL + i * slot, PT, slot, ph);
	/* grid and y labels */
	for (int k = 0; k <= 4; k++) {
		double v = ymax * k / 4, y = PT + ph - ph * k / 4;
		char t[32];
		fmt_tick(t, sizeof t, v);
		rbuf_printf(o,
		            "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
		            "stroke-width=\"0.5\"/>",
		            PL, CW - PR, y, y, k ? "#ddd" : "#888");
		rbuf_printf(o,
		            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" fill=\"#555\">%s"
		            "</text>\n",
		            PL - 4, y + 3, t);
	}
	/* x labels: every day when they fit, else every other one */
	int every = slot >= 14 ? 1 : 2;
	for (int i = 0; i < b->n_x; i += every) {
		rbuf_printf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#555\">",
		            PL + (i + 0.5) * slot, CH - 8);
		rbuf_html(o, b->x_labels[i]);
		rbuf_puts(o, "</text>");
	}
	rbuf_puts(o, "\n");
	if (b->type == RB_BARS) {
		for (int i = 0; i < b->n_x; i++) {
			double acc = 0;
			for (int s = 0; s < b->n_series; s++) {
				double v = b->s_val[s][i];
				if (!isfinite(v) || v <= 0)
					continue;
				double y0 = PT + ph - ph * acc / ymax;
				acc += v;
				double y1 = PT + ph - ph * (acc > ymax ? ymax : acc) / ymax;
				rbuf_printf(o,
				            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
				            "height=\"%.1f\" fill=\"%s\"/>",
				            PL + i * slot + slot * 0.15, y1, slot * 0.7,
				            y0 - y1 > 0 ? y0 - y1 : 0,
				            report__color(b->s_cls[s], s));
			}
		}
		rbuf_puts(o, "\n");
	} else {
		for (int s = 0; s < b->n_series; s++) {
			int open = 0;
			for (int i = 0; i < b->n_x; i++) {
				double v = b->s_val[s][i];
				if (!isfinite(v)) {
					if (open)
						rbuf_puts(o, "\"/>\n");
					open = 0;
					continue;
				}
				double px = PL + (i + 0.5) * slot;
				double py = PT + ph - ph * (v > ymax ? ymax : v) / ymax;
				if (!open)
					rbuf_printf(o,
					            "<polyline fill=\"none\" stroke=\"%s\" "
					            "stroke-width=\"1.6\" points=\"",
					            report__color(b->s_cls[s], s));
				rbuf_printf(o, "%.1f,%.1f ", px, py);
				open = 1;
			}
			if (open)
				rbuf_puts(o, "\"/>\n");
			/* points, so a lone day shows */
			for (int i = 0; i < b->n_x; i++) {
				double v = b->s_val[s][i];
				if (!isfinite(v))
					continue;
				rbuf_printf(
				    o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.8\" fill=\"%s\"/>",
				    PL + (i + 0.5) * slot,
				    PT + ph - ph * (v > ymax ? ymax : v) / ymax,
				    report__color(b->s_cls[s], s));
			}
			rbuf_puts(o, "\n");
		}
	}
	rbuf_puts(o, "</svg>\n<div class=\"legend\">");
	for (int s = 0; s < b->n_series; s++) {
		rbuf_printf(o, "<span><i style=\"background:%s\"></i>",
		            report__color(b->s_cls[s], s));
		rbuf_html(o, b->s_name[s]);
		rbuf_puts(o, "</span>");
	}
	rbuf_puts(o, "</div></div>\n");
}

int report__html(const struct rdoc *d, struct rbuf *o)
{
	rbuf_printf(o, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n",
	            d->lang);
	rbuf_puts(o, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	             "style-src 'unsafe-inline'\">\n");
	rbuf_puts(o, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
	rbuf_puts(o, "<title>");
	rbuf_html(o, d->title);
	rbuf_puts(o, "</title>\n<style>");
	rbuf_puts(o, css);
	rbuf_puts(o, "</style>\n</head>\n<body>\n");
	for (size_t i = 0; i < d->n; i++) {
		const struct rblk *b = &d->b[i];
		switch (b->type) {
		case RB_TITLE: text_block(o, "h1", NULL, b->text); break;
		case RB_SUBTITLE: text_block(o, "p", "sub", b->text); break;
		case RB_H2: text_block(o, "h2", NULL, b->text); break;
		case RB_PARA: text_block(o, "p", NULL, b->text); break;
		case RB_NOTE: text_block(o, "p", "note", b->text); break;
		case RB_TABLE: table_html(o, b); break;
		case RB_BARS:
		case RB_LINES: chart_html(o, b); break;
		case RB_LIST:
			rbuf_puts(o, "<ul>\n");
			for (int k = 0; k < b->n_items; k++)
				text_block(o, "li", NULL, b->items[k]);
			rbuf_puts(o, "</ul>\n");
			break;
		case RB_FIGURES:
			rbuf_puts(o, "<div class=\"fig\">");
			for (int k = 0; k < b->n_items; k++) {
				rbuf_puts(o, "<div><b>");
				rbuf_html(o, b->items[k]);
				rbuf_puts(o, "</b><small>");
				rbuf_html(o, b->item_sub ? b->item_sub[k] : "");
				rbuf_puts(o, "</small></div>");
			}
			rbuf_puts(o, "</div>\n");
			break;
		default: break;
		}
	}
	rbuf_puts(o, "<footer>");
	rbuf_html(o, d->footer);
	rbuf_puts(o, "</footer>\n</body>\n</html>\n");
	return 0;
}
