/*
 * The table of sinks and the cf_sink handle around one of them: checks
 * every batch against the schema before the format sees it, and makes
 * errors sticky so a format only reports each failure once.
 */
#include "cuflow/sink.h"
#include "cuflow/status.h"
#include "sink/sink_internal.h"
#include "cuflow/errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const cf_sink_ops cf_sink_npy;   /* host/sink/npy_dir.c */
extern const cf_sink_ops cf_sink_jsonl; /* host/sink/jsonl.c */

static const cf_sink_ops *const sinks[] = {&cf_sink_parquet, &cf_sink_csv, &cf_sink_npy, &cf_sink_jsonl};
#define N_SINKS (sizeof sinks / sizeof sinks[0])

struct cf_sink {
	const cf_sink_ops *ops;
	void *state;             /* NULL once closed or aborted */
	cf_table_schema *schema; /* our copy, borrowed by the format */
	int err;                 /* sticky */
	char msg[CF_ERRBUF_SIZE];
};

void cf_sink_opts_default(cf_sink_opts *o)
{
	memset(o, 0, sizeof *o);
	o->row_group_rows = 1u << 20;
	o->row_group_bytes = 256u << 20;
	o->page_bytes = 1u << 20;
	o->dictionary_bytes = 1u << 20;
	o->compression = CF_SINK_ZSTD;
	o->compression_level = 0;
}

const cf_sink_ops *cf_sink_find(const char *name)
{
	for (size_t i = 0; name && i < N_SINKS; i++)
		if (!strcmp(sinks[i]->name, name))
			return sinks[i];
	return NULL;
}

uint32_t cf_sink_count(void)
{
	return (uint32_t)N_SINKS;
}

const cf_sink_ops *cf_sink_at(uint32_t i)
{
	return i < N_SINKS ? sinks[i] : NULL;
}

int cf_sink_open(const char *name, const cf_table_schema *schema, const char *path, const cf_sink_opts *opts,
                 cf_sink **out, char *errbuf)
{
	if (out)
		*out = NULL;
	if (!out || !schema || !path)
		return cf_errf(errbuf, CF_ERR_ARG, "sink: NULL schema, path or handle pointer");
	const cf_sink_ops *ops = cf_sink_find(name);
	if (!ops)
		return cf_errf(errbuf, CF_ERR_ARG, "sink: unknown format \"%s\"", name ? name : "(null)");
	cf_sink_opts def;
	if (!opts) {
		cf_sink_opts_default(&def);
		opts = &def;
	}
	cf_sink *k = calloc(1, sizeof *k);
	if (!k)
		return cf_errf(errbuf, CF_ERR_NOMEM, "sink: out of memory");
	k->ops = ops;
	int rc = cf_table_schema_clone(schema, &k->schema, errbuf);
	if (rc == CF_OK)
		rc = ops->open(k->schema, path, opts, &k->state, k->msg);
	if (rc != CF_OK) {
		if (k->msg[0])
			cf_errf(errbuf, rc, "%s", k->msg);
		cf_table_schema_free(k->schema);
		free(k);
		return rc;
	}
	*out = k;
	return CF_OK;
}

int cf_sink_write(cf_sink *k, const cf_table_batch *batch)
{
	if (!k)
		return CF_ERR_ARG;
	if (k->err)
		return k->err;
	int rc = cf_table_batch_check(k->schema, batch, k->msg);
	if (rc) /* a bad batch is the caller's mistake, not a broken file: not sticky */
		return rc;
	if (batch->n_rows == 0)
		return CF_OK;
	rc = k->ops->write(k->state, batch, k->msg);
	if (rc < 0)
		k->err = rc;
	return rc;
}

const char *cf_sink_error(const cf_sink *k)
{
	return k ? k->msg : "";
}

int cf_sink_close(cf_sink *k, cf_sink_stats *stats, char *errbuf)
{
	if (stats)
		memset(stats, 0, sizeof *stats);
	if (!k)
		return CF_OK;
	int rc = k->err;
	if (rc) {
		k->ops->abort(k->state);
		cf_errf(errbuf, rc, "%s", k->msg);
	} else {
		cf_sink_stats st = {0, 0};
		rc = k->ops->close(k->state, &st, k->msg);
		if (rc)
			cf_errf(errbuf, rc, "%s", k->msg);
		else if (stats)
			*stats = st;
	}
	cf_table_schema_free(k->schema);
	free(k);
	return rc;
}

void cf_sink_abort(cf_sink *k)
{
	if (!k)
		return;
	k->ops->abort(k->state);
	cf_table_schema_free(k->schema);
	free(k);
}
