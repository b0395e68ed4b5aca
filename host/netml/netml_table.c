/*
 * cf_netml_table: one netml feature type as a column table (see
 * cuflow/netml_table.h). The rows are computed into one row-major block
 * by cf_netml_features and, with a header, split into the two vector
 * columns; without one the block is the features column itself.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/netml_table.h"

#define IP_TEXT_MAX 46 /* INET6_ADDRSTRLEN */

enum { SRC_IP, DST_IP, SPORT, DPORT, PROTO, PACKETS, FIRST_T, LAST_T, N_IDENT };

struct cf_netml_table {
	cf_netml *h;
	cf_table_schema *schema;
	cf_table_batch batch;
	int type, fft, header, labels;
	uint32_t cap, ncols, feat_cols, hdr_cols, row_cols;
	uint32_t c_label, c_header, c_feat;
	void *col[N_IDENT + 1];  /* identity columns and the label */
	uint8_t *ip[2];          /* src, dst bytes */
	double *block;           /* cap x row_cols, as cf_netml_features writes */
	double *hdr, *feat;      /* the split columns (header only) */
};

static int build_schema(cf_netml_table *t, char *e)
{
	cf_table_schema *s = t->schema;
	int st = 0;
#define ADD(name, dtype, width, unit, doc) st |= cf_table_schema_add(s, name, dtype, width, unit, doc, 0, e)
	ADD("src_ip", CF_DTYPE_STRING, 1, "", "source address, text ('' for netml's IPv6 pseudo-flow)");
	ADD("dst_ip", CF_DTYPE_STRING, 1, "", "destination address, text ('' for the pseudo-flow)");
	ADD("src_port", CF_DTYPE_INT32, 1, "", "source port (-1 for the pseudo-flow)");
	ADD("dst_port", CF_DTYPE_INT32, 1, "", "destination port (-1 for the pseudo-flow)");
	ADD("protocol", CF_DTYPE_INT16, 1, "", "6 TCP, 17 UDP (-1 for the pseudo-flow)");
	ADD("packets", CF_DTYPE_UINT32, 1, "packets", "packets of the subflow");
	ADD("first_time", CF_DTYPE_FLOAT64, 1, "s", "time of the first packet, seconds since the epoch (netml's float)");
	ADD("last_time", CF_DTYPE_FLOAT64, 1, "s", "time of the last packet, seconds since the epoch (netml's float)");
	if (t->labels) {
		t->c_label = cf_table_schema_columns(s);
		ADD("label", CF_DTYPE_INT64, 1, "", "label (CIC-IDS2017 file: 0 benign, 1 attack; or the constant)");
	}
	char doc[200];
	const char *name = cf_netml_type_name(t->type);
	if (t->header) {
		t->c_header = cf_table_schema_columns(s);
		snprintf(doc, sizeof doc, "netml header: 8 TCP flag counts (F S R P A U E C), then TTLs%s",
		         t->fft ? "; real part of the FFT" : "");
		ADD("header", CF_DTYPE_FLOAT64, t->hdr_cols, "", doc);
	}
	t->c_feat = cf_table_schema_columns(s);
	snprintf(doc, sizeof doc, "netml %s features%s", name, t->fft ? "; real part of the FFT" : "");
	ADD("features", CF_DTYPE_FLOAT64, t->feat_cols, "", doc);
#undef ADD
	return st ? CF_ERR_ARG : CF_OK;
}

void cf_netml_table_free(cf_netml_table *t)
{
	if (!t)
		return;
	for (int i = 0; i <= N_IDENT; i++)
		free(t->col[i]);
	free(t->ip[0]);
	free(t->ip[1]);
	free(t->block);
	free(t->hdr);
	free(t->feat);
	cf_table_batch_free(&t->batch);
	cf_table_schema_free(t->schema);
	free(t);
}

static int fail(char *errbuf, int st, const char *msg)
{
	if (errbuf)
		snprintf(errbuf, CF_ERRBUF_SIZE, "netml table: %s", msg);
	return st;
}

int cf_netml_table_create(cf_netml *h, int type, int fft, int header, int labels, uint32_t capacity,
                          cf_netml_table **out, char *errbuf)
{
	*out = NULL;
	if (!h || type < 0 || type >= CF_NETML_TYPE_COUNT || capacity == 0 || capacity > (1u << 24))
		return fail(errbuf, CF_ERR_ARG, "bad type or capacity (1..2^24)");
	if (!cf_netml_rows(h))
		return fail(errbuf, CF_ERR_ARG, "no rows (cf_netml_finish first)");
	uint32_t feat = cf_netml_feat_cols(h, type), row = cf_netml_row_cols(h, type, header);
	if (feat == 0 || row - feat > CF_COLUMN_WIDTH_MAX || feat > CF_COLUMN_WIDTH_MAX)
		return fail(errbuf, CF_ERR_ARG, "feature width 0 or over CF_COLUMN_WIDTH_MAX");
	cf_netml_table *t = calloc(1, sizeof *t);
	if (!t || cf_table_schema_create(&t->schema, errbuf) != CF_OK) {
		free(t);
		return fail(errbuf, CF_ERR_NOMEM, "out of memory");
	}
	t->h = h;
	t->type = type;
	t->fft = fft;
	t->header = header;
	t->labels = labels;
	t->cap = capacity;
	t->feat_cols = feat;
	t->row_cols = row;
	t->hdr_cols = row - feat;
	int st = build_schema(t, errbuf);
	if (st != CF_OK) {
		cf_netml_table_free(t);
		return st;
	}
	t->ncols = cf_table_schema_columns(t->schema);
	int ok = cf_table_batch_init(&t->batch, t->schema, 0) == CF_OK;
	static const size_t el[N_IDENT + 1] = {4, 4, 4, 4, 2, 4, 8, 8, 8};
	for (int i = 0; ok && i <= N_IDENT; i++) {
		if (i == N_IDENT && !labels)
			break;
		size_t n = i <= DST_IP ? (size_t)capacity + 1 : capacity;
		ok = (t->col[i] = calloc(n, el[i])) != NULL;
	}
	for (int k = 0; ok && k < 2; k++)
		ok = (t->ip[k] = malloc((size_t)capacity * IP_TEXT_MAX)) != NULL;
	ok = ok && (t->block = malloc((size_t)capacity * row * sizeof(double))) != NULL;
	if (ok && header) {
		ok = (t->hdr = malloc((size_t)capacity * t->hdr_cols * sizeof(double))) != NULL &&
		     (t->feat = malloc((size_t)capacity * feat * sizeof(double))) != NULL;
	}
	if (!ok) {
		cf_netml_table_free(t);
		return fail(errbuf, CF_ERR_NOMEM, "out of memory");
	}
	*out = t;
	return CF_OK;
}

const cf_table_schema *cf_netml_table_schema(const cf_netml_table *t) { return t->schema; }

static size_t ip_text(const cf_netml_subflow *s, const uint8_t *a, uint8_t *out)
{
	char buf[IP_TEXT_MAX];
	if (s->ip_version == 0)
		return 0; /* netml's pseudo-flow: '' */
	if (!inet_ntop(s->ip_version == 6 ? AF_INET6 : AF_INET, a, buf, sizeof buf))
		snprintf(buf, sizeof buf, "?");
	size_t n = strlen(buf);
	memcpy(out, buf, n);
	return n;
}

int cf_netml_table_fill(cf_netml_table *t, struct cf_backend *b, uint64_t row0, uint32_t n,
                        const cf_table_batch **batch)
{
	uint64_t rows = cf_netml_rows(t->h);
	if (n > t->cap || row0 > rows || n > rows - row0)
		return CF_ERR_ARG;
	if (n) {
		int st = cf_netml_features(t->h, b, t->type, t->fft, t->header, row0, n, t->block);
		if (st < 0)
			return st;
	}
	int32_t *off[2] = {t->col[SRC_IP], t->col[DST_IP]};
	size_t len[2] = {0, 0};
	off[0][0] = off[1][0] = 0;
	for (uint32_t i = 0; i < n; i++) {
		cf_netml_subflow s;
		cf_netml_subflow_at(t->h, row0 + i, &s);
		len[0] += ip_text(&s, s.src_ip, t->ip[0] + len[0]);
		len[1] += ip_text(&s, s.dst_ip, t->ip[1] + len[1]);
		off[0][i + 1] = (int32_t)len[0];
		off[1][i + 1] = (int32_t)len[1];
		int pseudo = s.ip_version == 0;
		((int32_t *)t->col[SPORT])[i] = pseudo ? -1 : s.src_port;
		((int32_t *)t->col[DPORT])[i] = pseudo ? -1 : s.dst_port;
		((int16_t *)t->col[PROTO])[i] = pseudo ? (int16_t)-1 : (int16_t)s.proto;
		((uint32_t *)t->col[PACKETS])[i] = s.packets;
		((double *)t->col[FIRST_T])[i] = s.first_t;
		((double *)t->col[LAST_T])[i] = s.last_t;
		if (t->labels)
			((int64_t *)t->col[N_IDENT])[i] = s.label;
		if (t->header) {
			const double *src = t->block + (size_t)i * t->row_cols;
			memcpy(t->hdr + (size_t)i * t->hdr_cols, src, t->hdr_cols * sizeof(double));
			memcpy(t->feat + (size_t)i * t->feat_cols, src + t->hdr_cols, t->feat_cols * sizeof(double));
		}
	}
	t->batch.n_rows = n;
	for (uint32_t c = 0; c < N_IDENT; c++)
		cf_table_batch_set(&t->batch, c, t->col[c], c == SRC_IP ? t->ip[0] : c == DST_IP ? t->ip[1] : NULL, NULL);
	if (t->labels)
		cf_table_batch_set(&t->batch, t->c_label, t->col[N_IDENT], NULL, NULL);
	if (t->header)
		cf_table_batch_set(&t->batch, t->c_header, t->hdr, NULL, NULL);
	cf_table_batch_set(&t->batch, t->c_feat, t->header ? t->feat : t->block, NULL, NULL);
	*batch = &t->batch;
	return CF_OK;
}
