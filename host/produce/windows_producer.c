/*
 * The "windows" producer: seed 001's window aggregates of each input's
 * packets (cuflow/windows.h) as one table, "windows". Each file starts a
 * fresh engine state (flows, windows), so a file's rows depend on it
 * alone; flow_batch is a CF_COLUMN_ROW_NUMBER column, numbered across the
 * run by the driver.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/producers.h"

struct windows_prod {
	cf_producer_env env;
	cf_windows *w;
	char *constant;  /* the constant label, or NULL */
	int from_dir;
	cf_windows_counters c;
	char err[CF_ERRBUF_SIZE];
};

void cf_windows_producer_config_default(cf_windows_producer_config *c)
{
	memset(c, 0, sizeof *c);
	cf_windows_opts_default(&c->win);
	cf_producer_labels_default(&c->labels);
}

static int wp_emit(void *user, const cf_table_batch *b)
{
	struct windows_prod *p = user;
	return p->env.emit(p->env.user, 0, b);
}

static void wp_close(void *state)
{
	struct windows_prod *p = state;
	if (!p)
		return;
	cf_windows_free(p->w);
	free(p->constant);
	free(p);
}

static int wp_open(const void *config, const cf_producer_env *env, void **state, char *errbuf)
{
	const cf_windows_producer_config *c = config;
	*state = NULL;
	struct windows_prod *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	p->env = *env;
	if (c->win.batching == CF_WINDOWS_SEED) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "windows: seed batching needs entries in one stream (no --jobs)");
		free(p);
		return CF_ERR_ARG;
	}
	if (c->labels.csv || (c->labels.constant && c->labels.from_dir)) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "windows: %s",
		         c->labels.csv ? "labels from a CSV are not served for windows (a constant label or the "
		                         "input's directory are)"
		                       : "a constant label and labels from directories exclude each other");
		free(p);
		return CF_ERR_ARG;
	}
	cf_windows_opts wo = c->win;
	wo.label_column = c->labels.constant || c->labels.from_dir;
	p->from_dir = c->labels.from_dir;
	if (c->labels.constant && !(p->constant = strdup(c->labels.constant))) {
		free(p);
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	int st = cf_windows_create(&wo, env->backend, &p->w, errbuf);
	if (st != CF_OK) {
		free(p->constant);
		free(p);
		return st;
	}
	cf_windows_set_emit(p->w, wp_emit, p);
	*state = p;
	return CF_OK;
}

static uint32_t wp_tables(void *state)
{
	(void)state;
	return 1;
}

static const char *wp_table_name(void *state, uint32_t t)
{
	(void)state;
	return t ? NULL : "windows";
}

static const cf_table_schema *wp_schema(void *state, uint32_t t)
{
	return t ? NULL : cf_windows_schema(((struct windows_prod *)state)->w);
}

static int wp_begin_file(void *state, const cf_producer_file *f)
{
	struct windows_prod *p = state;
	cf_windows_reset(p->w);
	if (p->constant)
		return cf_windows_set_label(p->w, p->constant);
	if (p->from_dir) {
		char name[256];
		if (cf_label_dir_name(f->path, name, sizeof name) != CF_OK)
			snprintf(name, sizeof name, "unknown");
		return cf_windows_set_label(p->w, name);
	}
	return CF_OK;
}

static int wp_packets(void *state, const cf_pkt *pk, size_t n)
{
	struct windows_prod *p = state;
	return cf_windows_add_packets(p->w, pk, n);
}

static int wp_end_file(void *state, const cf_scan_result *scan, uint64_t *ids_used)
{
	(void)scan;
	struct windows_prod *p = state;
	*ids_used = 0;
	int st = cf_windows_finish(p->w);
	cf_windows_get_counters(p->w, &p->c);
	return st;
}

static uint32_t wp_counters(void *state, cf_producer_counter *out, uint32_t cap)
{
	struct windows_prod *p = state;
	const cf_producer_counter all[] = {
		{"entries", p->c.entries}, {"late_entries", p->c.late_entries}, {"not_entries", p->c.not_ip}, {"bad_time", p->c.bad_time},
		{"rows", p->c.rows},       {"flows", p->c.flows},
	};
	uint32_t n = sizeof all / sizeof *all;
	for (uint32_t i = 0; i < n && i < cap; i++)
		out[i] = all[i];
	return n;
}

static const char *wp_error(void *state)
{
	struct windows_prod *p = state;
	return p->err[0] ? p->err : cf_windows_error(p->w);
}

static const cf_producer_ops windows_ops = {
	.name = "windows",
	.open = wp_open,
	.tables = wp_tables,
	.table_name = wp_table_name,
	.schema = wp_schema,
	.begin_file = wp_begin_file,
	.packets = wp_packets,
	.end_file = wp_end_file,
	.counters = wp_counters,
	.error = wp_error,
	.close = wp_close,
};

const cf_producer_ops *cf_producer_windows(void)
{
	return &windows_ops;
}
