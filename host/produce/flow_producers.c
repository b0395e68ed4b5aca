/*
 * The "flows" and "features" producers: the flow engine of one worker,
 * fed file after file, its records gathered into cf_flow_rows or
 * cf_feature_rows and emitted as batches. Both share the engine part
 * (struct flow_prod); they differ in the row builder and in labels.
 *
 * Ids: the engine numbers flows 1, 2, ... over every file it is given;
 * the rows carry the id within the file (id - flows created before the
 * file), and the driver adds the earlier files' flows (CF_COLUMN_RUN_ID).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/cuflow.h"
#include "cuflow/flow_rows.h"
#include "cuflow/producers.h"
#include "produce/produce_internal.h"

#define N_FLOW_COUNTERS (sizeof(cf_flow_counters) / sizeof(uint64_t))
/* max_live is a high-water mark of the worker's engine, which depends on
 * which files the worker saw before: not a per-file counter */
#define MAX_LIVE_AT (offsetof(cf_flow_counters, max_live) / sizeof(uint64_t))
#define NAME_LEN 48

struct flow_prod {
	int features;                 /* 0: "flows", 1: "features" */
	cf_producer_env env;
	cf_flow_engine *engine;
	cf_flow_rows *flow_rows;      /* flows */
	cf_feature_rows *feat_rows;   /* features */
	cf_producer_labels labels;    /* features: from_dir needs it per file */
	cf_labeler *labeler;
	uint64_t id_base;             /* flows created before the file */
	uint64_t row;                 /* features: rows of this file so far */
	uint64_t dropped;             /* features: rows the labeler dropped, this file */
	cf_flow_counters before;      /* the engine's counters at begin_file */
	int failed;
	char err[CF_ERRBUF_SIZE];
	/* counter names: the cf_flow_counters fields, in order */
	char names[N_FLOW_COUNTERS + 1][NAME_LEN];
};

void cf_flows_producer_config_default(cf_flows_producer_config *c)
{
	memset(c, 0, sizeof *c);
	cf_flow_opts_default(&c->flow);
	c->batch_rows = 4096;
}

void cf_features_producer_config_default(cf_features_producer_config *c)
{
	memset(c, 0, sizeof *c);
	cf_flow_opts_default(&c->flow);
	c->rows.capacity = 4096;
	c->rows.seq_len = c->flow.seq_len;
	cf_producer_labels_default(&c->labels);
}

static int prod_fail(struct flow_prod *p, int st, const char *msg)
{
	if (!p->failed) {
		p->failed = st;
		snprintf(p->err, sizeof p->err, "%s", msg);
	}
	return st;
}

static int flush(struct flow_prod *p)
{
	const cf_table_batch *b;
	if (p->features) {
		if (!cf_feature_rows_count(p->feat_rows))
			return CF_OK;
		b = cf_feature_rows_batch(p->feat_rows);
	} else {
		if (!cf_flow_rows_count(p->flow_rows))
			return CF_OK;
		b = cf_flow_rows_batch(p->flow_rows);
	}
	int st = p->env.emit(p->env.user, 0, b);
	if (p->features)
		cf_feature_rows_reset(p->feat_rows);
	else
		cf_flow_rows_reset(p->flow_rows);
	return st < 0 ? prod_fail(p, st, "the rows could not be handed on") : CF_OK;
}

static int on_record(void *user, const cf_flow_record *rec)
{
	struct flow_prod *p = user;
	if (p->failed)
		return p->failed;
	cf_flow_record local = *rec;
	local.id = rec->id - p->id_base;
	int st;
	if (!p->features) {
		if ((st = cf_flow_rows_add(p->flow_rows, &local)) < 0)
			return prod_fail(p, st, "flows: a row did not fit");
		return cf_flow_rows_full(p->flow_rows) ? flush(p) : CF_OK;
	}
	int64_t label = -1;
	if (p->labeler) {
		cf_label_query q = {rec->ip_version, rec->proto, rec->src_ip, rec->dst_ip, rec->src_port, rec->dst_port,
		                    rec->bidir.first_ns, rec->bidir.last_ns};
		int id = cf_labeler_match(p->labeler, &q);
		if (id == CF_LABEL_DROP) {
			p->dropped++;
			return CF_OK;
		}
		if (id < 0)
			return prod_fail(p, id, "labels: the labeler failed");
		label = id;
	}
	st = cf_feature_rows_add(p->feat_rows, &local, p->row, label,
	                         label >= 0 ? cf_labeler_name(p->labeler, (uint32_t)label) : NULL);
	if (st < 0)
		return prod_fail(p, st, "features: out of memory");
	p->row++;
	return cf_feature_rows_full(p->feat_rows) ? flush(p) : CF_OK;
}

static void name_counters(struct flow_prod *p)
{
	size_t k = 0;
#define NAME(...) snprintf(p->names[k++], NAME_LEN, __VA_ARGS__)
	NAME("packets");
	NAME("packets_used");
	for (int i = 0; i < CF_SKIP_COUNT; i++)
		NAME("skipped_%s", i ? cf_skip_name(i) : "none");
	NAME("time_backwards");
	NAME("bad_wirelen");
	NAME("flows");
	for (int i = 0; i < CF_FLOW_END_COUNT; i++)
		NAME("ended_%s", cf_flow_end_name(i));
	NAME("evictions");
	NAME("max_live"); /* its slot; not reported */
	NAME("pieces");
	NAME("split_flows");
	NAME("pool_flushes");
	NAME("batches");
	NAME("rows_unlabelled_dropped");
#undef NAME
}

static void prod_close(void *state)
{
	struct flow_prod *p = state;
	if (!p)
		return;
	cf_flow_engine_close(p->engine);
	cf_flow_rows_free(p->flow_rows);
	cf_feature_rows_free(p->feat_rows);
	cf_labeler_close(p->labeler);
	free(p);
}

static int prod_open(int features, const void *config, const cf_producer_env *env, void **state, char *errbuf)
{
	*state = NULL;
	if (!config || !env || !env->emit) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s producer: no config or emit callback", features ? "features" : "flows");
		return CF_ERR_ARG;
	}
	struct flow_prod *p = calloc(1, sizeof *p);
	if (!p) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	p->features = features;
	p->env = *env;
	name_counters(p);
	const cf_flow_opts *fo;
	int st;
	if (features) {
		const cf_features_producer_config *c = config;
		fo = &c->flow;
		cf_feature_rows_opts ro = c->rows;
		ro.labels = cf_producer_labels_on(&c->labels);
		st = cf_produce_labeler_open(&c->labels, &p->labeler, errbuf);
		/* from_dir is needed per file: keep the flag (the names are used at open only) */
		p->labels.from_dir = c->labels.from_dir;
		if (st == CF_OK)
			st = cf_feature_rows_create(&ro, &p->feat_rows, errbuf);
	} else {
		const cf_flows_producer_config *c = config;
		fo = &c->flow;
		st = cf_flow_rows_create(c->batch_rows ? c->batch_rows : 4096, c->seq_len, &p->flow_rows, errbuf);
	}
	if (st == CF_OK)
		st = cf_flow_engine_open(fo, env->backend, on_record, p, &p->engine, errbuf);
	if (st != CF_OK) {
		prod_close(p);
		return st;
	}
	*state = p;
	return CF_OK;
}

static int flows_open(const void *config, const cf_producer_env *env, void **state, char *errbuf)
{
	return prod_open(0, config, env, state, errbuf);
}

static int features_open(const void *config, const cf_producer_env *env, void **state, char *errbuf)
{
	return prod_open(1, config, env, state, errbuf);
}

static uint32_t prod_tables(void *state)
{
	(void)state;
	return 1;
}

static const char *prod_table_name(void *state, uint32_t t)
{
	struct flow_prod *p = state;
	return t ? NULL : p->features ? "features" : "flows";
}

static const cf_table_schema *prod_schema(void *state, uint32_t t)
{
	struct flow_prod *p = state;
	if (t)
		return NULL;
	return p->features ? cf_feature_rows_schema(p->feat_rows) : cf_flow_rows_schema(p->flow_rows);
}

static int prod_begin_file(void *state, const cf_producer_file *f)
{
	struct flow_prod *p = state;
	p->before = *cf_flow_engine_counters(p->engine);
	p->id_base = p->before.flows;
	p->row = 0;
	p->dropped = 0;
	cf_produce_labeler_file(p->labeler, &p->labels, f->path);
	return p->failed;
}

static int prod_packets(void *state, const cf_pkt *pk, size_t n)
{
	struct flow_prod *p = state;
	int st = cf_flow_engine_add_batch(p->engine, pk, n);
	if (st < 0)
		return prod_fail(p, st, cf_flow_engine_error(p->engine));
	return p->failed;
}

static int prod_end_file(void *state, const cf_scan_result *scan, uint64_t *ids_used)
{
	(void)scan;
	struct flow_prod *p = state;
	int st = cf_flow_engine_finish(p->engine);
	if (st < 0)
		prod_fail(p, st, cf_flow_engine_error(p->engine));
	if (!p->failed)
		flush(p);
	*ids_used = cf_flow_engine_counters(p->engine)->flows - p->id_base;
	return p->failed;
}

static uint32_t prod_counters(void *state, cf_producer_counter *out, uint32_t cap)
{
	struct flow_prod *p = state;
	const uint64_t *now = (const uint64_t *)cf_flow_engine_counters(p->engine);
	const uint64_t *was = (const uint64_t *)&p->before;
	uint32_t n = 0;
	for (uint32_t i = 0; i < N_FLOW_COUNTERS + (p->features ? 1 : 0); i++) {
		if (i == MAX_LIVE_AT)
			continue;
		if (n < cap) {
			out[n].name = p->names[i];
			out[n].value = i == N_FLOW_COUNTERS ? p->dropped : now[i] - was[i];
		}
		n++;
	}
	return n;
}

static const char *prod_error(void *state)
{
	struct flow_prod *p = state;
	return p->err;
}

static const cf_producer_ops flows_ops = {
	.name = "flows",
	.open = flows_open,
	.tables = prod_tables,
	.table_name = prod_table_name,
	.schema = prod_schema,
	.begin_file = prod_begin_file,
	.packets = prod_packets,
	.end_file = prod_end_file,
	.counters = prod_counters,
	.error = prod_error,
	.close = prod_close,
};

static const cf_producer_ops features_ops = {
	.name = "features",
	.open = features_open,
	.tables = prod_tables,
	.table_name = prod_table_name,
	.schema = prod_schema,
	.begin_file = prod_begin_file,
	.packets = prod_packets,
	.end_file = prod_end_file,
	.counters = prod_counters,
	.error = prod_error,
	.close = prod_close,
};

const cf_producer_ops *cf_producer_flows(void)
{
	return &flows_ops;
}

const cf_producer_ops *cf_producer_features(void)
{
	return &features_ops;
}
