/*
 * cf_flowpic_index: the FlowPic index as a column table (see
 * cuflow/flowpic_index.h). One allocation per column for `capacity`
 * rows; addresses in one byte buffer per column, labels in one that grows.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/flowpic_index.h"

#define IP_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

enum { SRC_IP, SPORT, DST_IP, DPORT, PROTO, WINDOW, START, PACKETS, LABEL_ID, LABEL, N_COLS_MAX = LABEL + 3 };
enum { S_SRC, S_DST, S_LABEL, N_STR };
static const uint32_t str_col[N_STR] = {SRC_IP, DST_IP, LABEL};

struct cf_flowpic_index {
	cf_table_schema *schema;
	cf_table_batch batch;
	uint32_t cap, n, ncols;
	int labels, augment;
	uint32_t aug_col;     /* the augment column (augment_param follows) */
	void *col[N_COLS_MAX];
	uint8_t *str[N_STR];
	size_t str_len[N_STR], str_cap[N_STR];
};

static int build_schema(cf_flowpic_index *x, char *e)
{
	cf_table_schema *s = x->schema;
	int st = 0;
#define ADD(name, dtype, unit, doc) st |= cf_table_schema_add(s, name, dtype, 1, unit, doc, 0, e)
	ADD("src_ip", CF_DTYPE_STRING, "", "the session's source address (its first packet's), text");
	ADD("src_port", CF_DTYPE_UINT16, "", "source port");
	ADD("dst_ip", CF_DTYPE_STRING, "", "destination address, text");
	ADD("dst_port", CF_DTYPE_UINT16, "", "destination port");
	ADD("protocol", CF_DTYPE_UINT8, "", "IP protocol number");
	ADD("window", CF_DTYPE_UINT32, "", "window index within the session: 0, 1, ...");
	ADD("window_start_ns", CF_DTYPE_TIMESTAMP_NS, "ns", "the session's first packet + window * step");
	ADD("packets", CF_DTYPE_UINT32, "packets", "packets counted into the image");
	if (x->labels) {
		ADD("label_id", CF_DTYPE_INT64, "", "label number (labels.npy): index into the label names");
		ADD("label", CF_DTYPE_STRING, "", "label name");
	}
	if (x->augment) {
		ADD("augment", CF_DTYPE_UINT32, "", "0: the session's own packets; k: augmented copy k");
		ADD("augment_param", CF_DTYPE_FLOAT64, "", "the copy's drawn parameter (factor, seconds or loss centre)");
	}
#undef ADD
	return st ? CF_ERR_ARG : CF_OK;
}

void cf_flowpic_index_free(cf_flowpic_index *x)
{
	if (!x)
		return;
	for (int i = 0; i < N_COLS_MAX; i++)
		free(x->col[i]);
	for (int k = 0; k < N_STR; k++)
		free(x->str[k]);
	cf_table_batch_free(&x->batch);
	cf_table_schema_free(x->schema);
	free(x);
}

int cf_flowpic_index_create(uint32_t capacity, int flags, cf_flowpic_index **out, char *errbuf)
{
	*out = NULL;
	if (capacity == 0 || capacity > (1u << 24)) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flowpic index: capacity 1..2^24");
		return CF_ERR_ARG;
	}
	cf_flowpic_index *x = calloc(1, sizeof *x);
	if (!x || cf_table_schema_create(&x->schema, errbuf) != CF_OK) {
		free(x);
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flowpic index: out of memory");
		return CF_ERR_NOMEM;
	}
	x->cap = capacity;
	x->labels = (flags & CF_FLOWPIC_INDEX_LABELS) != 0;
	x->augment = (flags & CF_FLOWPIC_INDEX_AUGMENT) != 0;
	x->aug_col = x->labels ? LABEL + 1 : LABEL_ID;
	int st = build_schema(x, errbuf);
	if (st != CF_OK) {
		cf_flowpic_index_free(x);
		return st;
	}
	x->ncols = cf_table_schema_columns(x->schema);
	int ok = cf_table_batch_init(&x->batch, x->schema, 0) == CF_OK;
	for (uint32_t i = 0; ok && i < x->ncols; i++) {
		const cf_table_column *c = cf_table_schema_column(x->schema, i);
		size_t n = c->dtype == CF_DTYPE_STRING ? (size_t)capacity + 1 : capacity;
		ok = (x->col[i] = calloc(n, cf_dtype_size(c->dtype))) != NULL;
	}
	const size_t str_max[N_STR] = {IP_TEXT_MAX, IP_TEXT_MAX, 16};
	for (int k = 0; ok && k < N_STR; k++) {
		x->str_cap[k] = (size_t)capacity * str_max[k];
		ok = (x->str[k] = malloc(x->str_cap[k])) != NULL;
	}
	if (!ok) {
		cf_flowpic_index_free(x);
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flowpic index: out of memory for %u rows", capacity);
		return CF_ERR_NOMEM;
	}
	*out = x;
	return CF_OK;
}

const cf_table_schema *cf_flowpic_index_schema(const cf_flowpic_index *x) { return x->schema; }
uint32_t cf_flowpic_index_count(const cf_flowpic_index *x) { return x->n; }
int cf_flowpic_index_full(const cf_flowpic_index *x) { return x->n >= x->cap; }

void cf_flowpic_index_reset(cf_flowpic_index *x)
{
	x->n = 0;
	for (int k = 0; k < N_STR; k++)
		x->str_len[k] = 0;
}

/* Appends s to string k as row x->n; CF_ERR_NOMEM when it cannot grow. */
static int put_str(cf_flowpic_index *x, int k, const char *s)
{
	size_t n = strlen(s);
	if (x->str_len[k] + n > x->str_cap[k]) {
		size_t cap = x->str_cap[k] * 2 > x->str_len[k] + n ? x->str_cap[k] * 2 : x->str_len[k] + n;
		if (cap > INT32_MAX)
			cap = INT32_MAX;
		uint8_t *p = x->str_len[k] + n <= cap ? realloc(x->str[k], cap) : NULL;
		if (!p)
			return CF_ERR_NOMEM;
		x->str[k] = p;
		x->str_cap[k] = cap;
	}
	memcpy(x->str[k] + x->str_len[k], s, n);
	x->str_len[k] += n;
	((int32_t *)x->col[str_col[k]])[x->n + 1] = (int32_t)x->str_len[k];
	return CF_OK;
}

static void ip_text(const uint8_t *a, int version, char *out)
{
	if (!inet_ntop(version == 6 ? AF_INET6 : AF_INET, a, out, IP_TEXT_MAX))
		snprintf(out, IP_TEXT_MAX, "?");
}

int cf_flowpic_index_add(cf_flowpic_index *x, const cf_flowpic_image *im, int64_t label_id, const char *label)
{
	if (x->n >= x->cap)
		return CF_ERR_ARG;
	uint32_t i = x->n;
	int nstr = x->labels ? N_STR : S_LABEL;
	if (i == 0)
		for (int k = 0; k < nstr; k++)
			((int32_t *)x->col[str_col[k]])[0] = 0;
	size_t saved[N_STR];
	memcpy(saved, x->str_len, sizeof saved);
	char ip[IP_TEXT_MAX];
	ip_text(im->src_ip, im->ip_version, ip);
	int st = put_str(x, S_SRC, ip);
	ip_text(im->dst_ip, im->ip_version, ip);
	st |= put_str(x, S_DST, ip);
	if (x->labels) {
		st |= put_str(x, S_LABEL, label ? label : "");
		((int64_t *)x->col[LABEL_ID])[i] = label_id;
	}
	if (st) { /* the row is not counted: the next add overwrites it */
		memcpy(x->str_len, saved, sizeof saved);
		return CF_ERR_NOMEM;
	}
	((uint16_t *)x->col[SPORT])[i] = im->src_port;
	((uint16_t *)x->col[DPORT])[i] = im->dst_port;
	((uint8_t *)x->col[PROTO])[i] = im->proto;
	((uint32_t *)x->col[WINDOW])[i] = im->window;
	((int64_t *)x->col[START])[i] = im->window_start_ns;
	((uint32_t *)x->col[PACKETS])[i] = im->packets;
	if (x->augment) {
		((uint32_t *)x->col[x->aug_col])[i] = im->augment;
		((double *)x->col[x->aug_col + 1])[i] = im->augment_param;
	}
	x->n++;
	return CF_OK;
}

const cf_table_batch *cf_flowpic_index_batch(cf_flowpic_index *x)
{
	x->batch.n_rows = x->n;
	for (uint32_t i = 0; i < x->ncols; i++) {
		const uint8_t *data = i == SRC_IP ? x->str[S_SRC] : i == DST_IP ? x->str[S_DST] : x->labels && i == LABEL ? x->str[S_LABEL] : NULL;
		cf_table_batch_set(&x->batch, i, x->col[i], data, NULL);
	}
	return &x->batch;
}
