/*
 * The windows table: its schema (the seed's columns in its order) and the
 * rows, buffered WIN_ROWS_CHUNK at a time in column arrays and handed to
 * the emit callback. Empty windows (--empty) are made here, between two
 * rows whose windows are not adjacent.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "window_internal.h"
#include "cuflow/plot.h"

static const char *const stat_names[6] = {"max", "mean", "perc25", "perc50", "perc75", "perc90"};

/* The distributions in the seed's column order: (column prefix, kind). */
static const struct {
	const char *name;
	int kind;
} base_dists[] = {
	{"dst_port_per_conn", CF_WDIST_CONN},       {"dst_port_per_dst_ip", CF_WDIST_DST_IP},
	{"src_ip_per_dst_ip", CF_WDIST_DST_IP},     {"dst_port_per_src_ip", CF_WDIST_SRC_IP},
	{"dst_ip_per_src_ip", CF_WDIST_SRC_IP},     {"dst_ip_per_dst_port", CF_WDIST_DST_PORT},
	{"src_ip_per_dst_port", CF_WDIST_DST_PORT},
};
static const struct {
	const char *name;
	int kind;
} distinct_dists[] = {
	{"distinct_dst_port_per_conn", CF_WDIST_U_DPORT_PER_CONN},
	{"distinct_dst_port_per_dst_ip", CF_WDIST_U_DPORT_PER_DST},
	{"distinct_src_ip_per_dst_ip", CF_WDIST_U_SRC_PER_DST},
	{"distinct_dst_port_per_src_ip", CF_WDIST_U_DPORT_PER_SRC},
	{"distinct_dst_ip_per_src_ip", CF_WDIST_U_DST_PER_SRC},
	{"distinct_dst_ip_per_dst_port", CF_WDIST_U_DST_PER_DPORT},
	{"distinct_src_ip_per_dst_port", CF_WDIST_U_SRC_PER_DPORT},
};

typedef union {
	int64_t i;
	double d;
} cell;

static int add_col(cf_windows *w, const char *name, int dtype, const char *unit, const char *doc, uint32_t flags,
                   char *errbuf)
{
	return cf_table_schema_add(w->schema, name, dtype, 1, unit, doc, flags, errbuf);
}

static int add_dist(cf_windows *w, const char *prefix, const char *what, char *errbuf)
{
	char name[96], doc[200];
	int st = 0;
	for (int s = 0; s < 6; s++) {
		snprintf(name, sizeof name, "%s_%s", prefix, stat_names[s]);
		snprintf(doc, sizeof doc, "%s of %s over the window's groups (pandas %s)", stat_names[s], what,
		         s == 0 ? "max" : s == 1 ? "mean" : "linear quantile");
		st |= add_col(w, name, s ? CF_DTYPE_FLOAT64 : CF_DTYPE_INT64, "", doc, s ? 0 : CF_COLUMN_NULLABLE, errbuf);
	}
	return st;
}

int cf_windows_table_init(cf_windows *w, char *errbuf)
{
	if (cf_table_schema_create(&w->schema, errbuf) != CF_OK)
		return CF_ERR_NOMEM;
	int st = 0;
	st |= add_col(w, "flow_batch", CF_DTYPE_INT64, "", "row number, windows in time order (the seed's flow_batch)",
	              CF_COLUMN_ROW_NUMBER, errbuf);
	if (w->o.batching != CF_WINDOWS_SEED)
		st |= add_col(w, "window_start_ns", CF_DTYPE_INT64, "ns", "the window's start, ns since the Unix epoch", 0,
		              errbuf);
	st |= add_col(w, "num_entries", CF_DTYPE_INT64, "entries", "entries in the window", 0, errbuf);
	st |= add_col(w, "count_dst_port", CF_DTYPE_INT64, "", "distinct destination ports", 0, errbuf);
	st |= add_col(w, "count_src_port", CF_DTYPE_INT64, "", "distinct source ports", 0, errbuf);
	st |= add_col(w, "count_dst_ip", CF_DTYPE_INT64, "", "distinct destination addresses", 0, errbuf);
	st |= add_col(w, "count_src_ip", CF_DTYPE_INT64, "", "distinct source addresses", 0, errbuf);
	char name[96], doc[160];
	for (int s = 0; s < CF_WSTATE_COUNT; s++) {
		snprintf(name, sizeof name, "num_state_%s", cf_window_state_name(s));
		snprintf(doc, sizeof doc, "entries whose flow is %s", cf_window_state_name(s));
		st |= add_col(w, name, CF_DTYPE_INT64, "entries", doc, 0, errbuf);
	}
	st |= add_col(w, "count_conns", CF_DTYPE_INT64, "", "distinct (dst_ip, src_ip)", 0, errbuf);
	st |= add_dist(w, base_dists[0].name, "entries per connection", errbuf);
	st |= add_col(w, "count_flows", CF_DTYPE_INT64, "",
	              "distinct (dst_ip, dst_port, src_ip, src_port, ip_protocol)", 0, errbuf);
	st |= add_col(w, "num_flows_per_conn_mean", CF_DTYPE_FLOAT64, "", "count_flows / count_conns", 0, errbuf);
	for (size_t i = 1; i < sizeof base_dists / sizeof *base_dists; i++) {
		const char *g = strstr(base_dists[i].name, "_per_") + 5;
		snprintf(doc, sizeof doc, "entries per %s", g);
		st |= add_dist(w, base_dists[i].name, doc, errbuf);
	}
	st |= add_col(w, "bytes_up", CF_DTYPE_INT64, "bytes", "bytes sent src -> dst", 0, errbuf);
	st |= add_col(w, "bytes_down", CF_DTYPE_INT64, "bytes", "bytes sent dst -> src", 0, errbuf);
	if (w->o.distinct)
		for (size_t i = 0; i < sizeof distinct_dists / sizeof *distinct_dists; i++) {
			const char *n = distinct_dists[i].name + 9;
			const char *per = strstr(n, "_per_");
			snprintf(doc, sizeof doc, "distinct %.*s per %s", (int)(per - n), n, per + 5);
			st |= add_dist(w, distinct_dists[i].name, doc, errbuf);
		}
	if (w->o.label_column)
		st |= add_col(w, "label", CF_DTYPE_STRING, "", "the input's label (--label, --label-from-dir)", 0, errbuf);
	if (st)
		return CF_ERR_ARG;
	uint32_t nc = cf_table_schema_columns(w->schema);
	if (nc > sizeof w->cols / sizeof *w->cols || cf_table_batch_init(&w->tb, w->schema, 0) != CF_OK)
		return CF_ERR_NOMEM;
	for (uint32_t c = 0; c < nc; c++) {
		if (!(w->cols[c] = calloc(WIN_ROWS_CHUNK, 8)))
			return CF_ERR_NOMEM;
		w->tb.columns[c].values = w->cols[c];
	}
	if (!(w->validity = calloc(nc, WIN_ROWS_CHUNK / 8)))
		return CF_ERR_NOMEM;
	if (w->o.label_column &&
	    (!(w->label_off = calloc(WIN_ROWS_CHUNK + 1, sizeof *w->label_off)) ||
	     !(w->label_data = malloc((size_t)WIN_ROWS_CHUNK * (sizeof w->label - 1)))))
		return CF_ERR_NOMEM;
	return CF_OK;
}

int cf_windows_set_label(cf_windows *w, const char *label)
{
	if (!w->o.label_column || strlen(label) >= sizeof w->label) {
		snprintf(w->err, sizeof w->err, "%s", w->o.label_column ? "a label is at most 255 bytes" : "no label column");
		return CF_ERR_ARG;
	}
	if (w->n_rows) { /* rows of the old label go out first */
		int st = cf_windows_flush_rows(w);
		if (st != CF_OK)
			return st;
	}
	snprintf(w->label, sizeof w->label, "%s", label);
	return CF_OK;
}

void cf_windows_table_free(cf_windows *w)
{
	for (size_t c = 0; c < sizeof w->cols / sizeof *w->cols; c++)
		free(w->cols[c]);
	free(w->validity);
	free(w->label_off);
	free(w->label_data);
	cf_table_batch_free(&w->tb);
	cf_table_schema_free(w->schema);
}

const cf_table_schema *cf_windows_schema(const cf_windows *w)
{
	return w->schema;
}

void cf_windows_set_emit(cf_windows *w, int (*emit)(void *user, const cf_table_batch *b), void *user)
{
	w->emit = emit;
	w->emit_user = user;
}

int cf_windows_flush_rows(cf_windows *w)
{
	if (!w->n_rows)
		return CF_OK;
	uint32_t nc = cf_table_schema_columns(w->schema);
	w->tb.n_rows = w->n_rows;
	for (uint32_t c = 0; c < nc; c++) {
		const cf_table_column *col = cf_table_schema_column(w->schema, c);
		const uint8_t *v = w->validity + (size_t)c * (WIN_ROWS_CHUNK / 8);
		int any_null = 0;
		if (col->flags & CF_COLUMN_NULLABLE)
			for (uint32_t r = 0; r < w->n_rows && !any_null; r++)
				any_null = !(v[r / 8] >> (r % 8) & 1);
		w->tb.columns[c].validity = any_null ? v : NULL;
	}
	if (w->o.label_column) { /* the last column: the label, once per row */
		size_t len = strlen(w->label);
		for (uint32_t r = 0; r <= w->n_rows; r++)
			w->label_off[r] = (int32_t)(r * len);
		for (uint32_t r = 0; r < w->n_rows; r++)
			memcpy(w->label_data + r * len, w->label, len);
		w->tb.columns[nc - 1].values = w->label_off;
		w->tb.columns[nc - 1].data = w->label_data;
		w->tb.columns[nc - 1].validity = NULL;
	}
	int st = w->emit ? w->emit(w->emit_user, &w->tb) : CF_OK;
	w->n_rows = 0;
	if (st < 0 && !w->err[0])
		snprintf(w->err, sizeof w->err, "writing the window rows failed");
	return st < 0 ? st : CF_OK;
}

static void put_dist(cell *v, uint8_t *valid, uint32_t *c, const cf_window_dist *d)
{
	valid[*c] = d->max >= 0;
	v[(*c)++].i = d->max >= 0 ? d->max : 0;
	v[(*c)++].d = d->mean;
	v[(*c)++].d = d->p25;
	v[(*c)++].d = d->p50;
	v[(*c)++].d = d->p75;
	v[(*c)++].d = d->p90;
}

static int put_one(cf_windows *w, int64_t k, const cf_window_row *r, uint64_t up, uint64_t down)
{
	cell v[160];
	uint8_t valid[160];
	memset(valid, 1, sizeof valid);
	uint32_t c = 0;
	int64_t S = w->o.step_ns ? w->o.step_ns : w->o.window_ns;
	v[c++].i = w->next_row++;
	if (w->o.batching != CF_WINDOWS_SEED)
		v[c++].i = k * S;
	v[c++].i = r->num_entries;
	v[c++].i = r->count_dst_port;
	v[c++].i = r->count_src_port;
	v[c++].i = r->count_dst_ip;
	v[c++].i = r->count_src_ip;
	for (int s = 0; s < CF_WSTATE_COUNT; s++)
		v[c++].i = r->num_state[s];
	v[c++].i = r->count_conns;
	put_dist(v, valid, &c, &r->dist[base_dists[0].kind]);
	v[c++].i = r->count_flows;
	v[c++].d = r->count_conns ? (double)r->count_flows / (double)r->count_conns : NAN;
	for (size_t i = 1; i < sizeof base_dists / sizeof *base_dists; i++)
		put_dist(v, valid, &c, &r->dist[base_dists[i].kind]);
	v[c++].i = (int64_t)up;
	v[c++].i = (int64_t)down;
	if (w->o.distinct)
		for (size_t i = 0; i < sizeof distinct_dists / sizeof *distinct_dists; i++)
			put_dist(v, valid, &c, &r->dist[distinct_dists[i].kind]);
	uint32_t row = w->n_rows++;
	for (uint32_t j = 0; j < c; j++) {
		memcpy((char *)w->cols[j] + (size_t)row * 8, &v[j], 8);
		uint8_t *bits = w->validity + (size_t)j * (WIN_ROWS_CHUNK / 8);
		if (valid[j])
			bits[row / 8] |= (uint8_t)(1u << (row % 8));
		else
			bits[row / 8] &= (uint8_t)~(1u << (row % 8));
	}
	w->c.rows++;
	if (w->n_rows == WIN_ROWS_CHUNK)
		return cf_windows_flush_rows(w);
	return CF_OK;
}

int cf_windows_put_row(cf_windows *w, int64_t k, const cf_window_row *r, uint64_t up, uint64_t down)
{
	int st;
	if (w->o.empty && w->have_last_k && w->o.batching != CF_WINDOWS_SEED) {
		cf_window_row e;
		memset(&e, 0, sizeof e);
		for (int d = 0; d < CF_WDIST_COUNT; d++) {
			e.dist[d].max = -1;
			e.dist[d].mean = e.dist[d].p25 = e.dist[d].p50 = e.dist[d].p75 = e.dist[d].p90 = NAN;
		}
		for (int64_t j = w->last_k + 1; j < k; j++)
			if ((st = put_one(w, j, &e, 0, 0)) != CF_OK)
				return st;
	}
	w->last_k = k;
	w->have_last_k = 1;
	return put_one(w, k, r, up, down);
}

int cf_windows_plot_png(const char *path, const char *title, const char *xlabel, int n_series,
                        const char *const *names, const double *const *values, int n_points, const int64_t *x_ns,
                        char *errbuf)
{
	if (x_ns)
		return cf_plot_series_png(path, title, xlabel, n_series, names, values, n_points, x_ns, errbuf);
	return cf_plot_lines_png(path, title, xlabel, n_series, names, values, n_points, errbuf);
}
