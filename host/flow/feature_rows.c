/*
 * cf_feature_rows: extract's training rows as one column table (see
 * cuflow/feature_rows.h). One allocation per column for `capacity` rows;
 * strings in one byte buffer per column with Arrow offsets (the label's
 * grows, the others have a bound per row).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/feature_rows.h"
#include "common/text_fmt.h"

#define N_STAT_COLS 22
#define IP_TEXT_MAX 46 /* INET6_ADDRSTRLEN */
#define END_TEXT_MAX 32

#define STAT_NAMES(p)                                                                                      \
	p "_packets", p "_bytes", p "_duration_ns", p "_min_ps", p "_mean_ps", p "_stddev_ps", p "_max_ps",      \
	    p "_p25_ps", p "_p50_ps", p "_p75_ps", p "_min_piat_ns", p "_mean_piat_ns", p "_stddev_piat_ns",   \
	    p "_max_piat_ns", p "_syn_packets", p "_cwr_packets", p "_ece_packets", p "_urg_packets",           \
	    p "_ack_packets", p "_psh_packets", p "_rst_packets", p "_fin_packets"

static const char *const feature_names[CF_FLOW_FEATURES] = {STAT_NAMES("bidirectional"), STAT_NAMES("src2dst"),
                                                            STAT_NAMES("dst2src")};
static const char *const stat_units[N_STAT_COLS] = {
	"packets", "bytes", "ns", "bytes", "bytes", "bytes", "bytes", "bytes", "bytes", "bytes", "ns",
	"ns",      "ns",    "ns", "packets", "packets", "packets", "packets", "packets", "packets", "packets", "packets"};
static const char *const stat_docs[N_STAT_COLS] = {
	"packets", "bytes (per the size mode)", "last - first", "smallest packet size", "mean packet size",
	"sample standard deviation of packet sizes", "largest packet size",
	"25th percentile of packet sizes (numpy linear)", "median packet size (numpy linear)",
	"75th percentile of packet sizes (numpy linear)", "smallest inter-arrival time", "mean inter-arrival time",
	"sample standard deviation of inter-arrival times", "largest inter-arrival time", "packets with syn set",
	"packets with cwr set", "packets with ece set", "packets with urg set", "packets with ack set",
	"packets with psh set", "packets with rst set", "packets with fin set"};
static const char *const set_names[3] = {"bidirectional", "src2dst", "dst2src"};

const char *cf_flow_feature_name(uint32_t i)
{
	return i < CF_FLOW_FEATURES ? feature_names[i] : NULL;
}

const char *cf_flow_feature_unit(uint32_t i)
{
	return i < CF_FLOW_FEATURES ? stat_units[i % N_STAT_COLS] : NULL;
}

static void stat_values(double *o, const cf_flow_stats *s)
{
	double v[N_STAT_COLS] = {(double)s->packets,  (double)s->bytes,    (double)s->duration_ns, s->ps_min,
	                         s->ps_mean,          s->ps_stddev,        s->ps_max,              s->ps_p25,
	                         s->ps_p50,           s->ps_p75,           (double)s->piat_min,    s->piat_mean,
	                         s->piat_stddev,      (double)s->piat_max};
	for (int f = 0; f < CF_FF_COUNT; f++)
		v[14 + f] = s->flag[f];
	memcpy(o, v, sizeof v);
}

void cf_flow_features(const cf_flow_record *rec, double *out)
{
	stat_values(out, &rec->bidir);
	stat_values(out + N_STAT_COLS, &rec->src2dst);
	stat_values(out + 2 * N_STAT_COLS, &rec->dst2src);
}

/* Column indices. */
enum { ROW, ID, END, SRC_IP, DST_IP, SPORT, DPORT, PROTO, IPV, VLAN, TUNNEL, FIRST, LAST, N_FIXED };
enum { S_END, S_SRC, S_DST, S_LABEL, N_STR };

struct cf_feature_rows {
	cf_table_schema *schema;
	cf_table_batch batch;
	cf_feature_rows_opts o;
	uint32_t n, ncols;
	uint32_t c_label_id, c_label, c_feat, c_seq; /* first column of each part (0 when absent) */
	void **col;
	uint8_t *str[N_STR];
	size_t str_len[N_STR], str_cap[N_STR];
	uint32_t str_col[N_STR];
};

static int build_schema(cf_feature_rows *r, char *e)
{
	cf_table_schema *s = r->schema;
	const int ft = r->o.float64 ? CF_DTYPE_FLOAT64 : CF_DTYPE_FLOAT32;
	int st = 0;
#define ADD(name, dtype, width, unit, doc) st |= cf_table_schema_add(s, name, dtype, width, unit, doc, 0, e)
	st |= cf_table_schema_add(s, "row", CF_DTYPE_UINT64, 1, "", "row number in the output: 0, 1, ... (flows.csv's row)",
	                          CF_COLUMN_ROW_NUMBER, e);
	st |= cf_table_schema_add(s, "id", CF_DTYPE_UINT64, 1, "", "flow id: 1, 2, ... in order of creation",
	                          CF_COLUMN_RUN_ID, e);
	ADD("end_reason", CF_DTYPE_STRING, 1, "", "why the flow ended (idle, active, fin, rst, ...)");
	ADD("src_ip", CF_DTYPE_STRING, 1, "", "source address (the client), text");
	ADD("dst_ip", CF_DTYPE_STRING, 1, "", "destination address, text");
	ADD("src_port", CF_DTYPE_UINT16, 1, "", "source port (ICMP echo: the identifier)");
	ADD("dst_port", CF_DTYPE_UINT16, 1, "", "destination port");
	ADD("protocol", CF_DTYPE_UINT8, 1, "", "IP protocol number");
	ADD("ip_version", CF_DTYPE_UINT8, 1, "", "4 or 6");
	ADD("vlan_id", CF_DTYPE_UINT16, 1, "", "first VLAN id, 0 without VLAN");
	ADD("tunnel_id", CF_DTYPE_UINT32, 1, "", "tunnel id (VXLAN VNI, GTP TEID, ...), 0 without");
	ADD("first_seen_ns", CF_DTYPE_TIMESTAMP_NS, 1, "ns", "time of the flow's first packet");
	ADD("last_seen_ns", CF_DTYPE_TIMESTAMP_NS, 1, "ns", "time of the flow's last packet");
	if (r->o.labels && !st) {
		r->c_label_id = cf_table_schema_columns(s);
		ADD("label_id", CF_DTYPE_INT64, 1, "", "label number (labels.npy): index into the label names");
		r->c_label = cf_table_schema_columns(s);
		ADD("label", CF_DTYPE_STRING, 1, "", "label name");
	}
	r->c_feat = cf_table_schema_columns(s);
	for (uint32_t i = 0; i < CF_FLOW_FEATURES && !st; i++) {
		char doc[160];
		snprintf(doc, sizeof doc, "%s (%s packets)", stat_docs[i % N_STAT_COLS], set_names[i / N_STAT_COLS]);
		ADD(feature_names[i], ft, 1, stat_units[i % N_STAT_COLS], doc);
	}
	if (r->o.seq_len && !st) {
		uint32_t L = r->o.seq_len;
		r->c_seq = cf_table_schema_columns(s);
		ADD("seq_length", CF_DTYPE_INT32, 1, "packets", "packets listed in the seq_ vectors (lengths.npy)");
		ADD("seq_size", ft, L, "bytes", "sizes of the first packets, seq_pad past seq_length");
		ADD("seq_iat_ns", ft, L, "ns", "time since the flow's previous packet (0 for the first), seq_pad past seq_length");
		ADD("seq_dir", ft, L, "", "+1 src2dst, -1 dst2src, seq_pad past seq_length");
	}
#undef ADD
	return st ? CF_ERR_ARG : CF_OK;
}

void cf_feature_rows_free(cf_feature_rows *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; r->col && i < r->ncols; i++)
		free(r->col[i]);
	free(r->col);
	for (int k = 0; k < N_STR; k++)
		free(r->str[k]);
	cf_table_batch_free(&r->batch);
	cf_table_schema_free(r->schema);
	free(r);
}

int cf_feature_rows_create(const cf_feature_rows_opts *o, cf_feature_rows **out, char *errbuf)
{
	*out = NULL;
	if (!o || o->capacity == 0 || o->capacity > (1u << 24) || o->seq_len > 4096) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "feature rows: capacity 1..2^24 and seq_len 0..4096");
		return CF_ERR_ARG;
	}
	cf_feature_rows *r = calloc(1, sizeof *r);
	if (!r || cf_table_schema_create(&r->schema, errbuf) != CF_OK) {
		free(r);
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "feature rows: out of memory");
		return CF_ERR_NOMEM;
	}
	r->o = *o;
	int st = build_schema(r, errbuf);
	if (st != CF_OK) {
		cf_feature_rows_free(r);
		return st;
	}
	const uint32_t cap = o->capacity;
	r->ncols = cf_table_schema_columns(r->schema);
	r->col = calloc(r->ncols, sizeof *r->col);
	int ok = r->col && cf_table_batch_init(&r->batch, r->schema, 0) == CF_OK;
	for (uint32_t i = 0; ok && i < r->ncols; i++) {
		const cf_table_column *c = cf_table_schema_column(r->schema, i);
		size_t n = c->dtype == CF_DTYPE_STRING ? (size_t)cap + 1 : (size_t)cap * c->width;
		ok = (r->col[i] = calloc(n, cf_dtype_size(c->dtype))) != NULL;
	}
	r->str_col[S_END] = END;
	r->str_col[S_SRC] = SRC_IP;
	r->str_col[S_DST] = DST_IP;
	r->str_col[S_LABEL] = r->c_label;
	const size_t str_max[N_STR] = {END_TEXT_MAX, IP_TEXT_MAX, IP_TEXT_MAX, 16};
	for (int k = 0; ok && k < N_STR; k++) {
		r->str_cap[k] = (size_t)cap * str_max[k];
		ok = (r->str[k] = malloc(r->str_cap[k])) != NULL;
	}
	if (!ok) {
		cf_feature_rows_free(r);
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "feature rows: out of memory for %u rows", cap);
		return CF_ERR_NOMEM;
	}
	*out = r;
	return CF_OK;
}

const cf_table_schema *cf_feature_rows_schema(const cf_feature_rows *r) { return r->schema; }
uint32_t cf_feature_rows_count(const cf_feature_rows *r) { return r->n; }
int cf_feature_rows_full(const cf_feature_rows *r) { return r->n >= r->o.capacity; }

void cf_feature_rows_reset(cf_feature_rows *r)
{
	r->n = 0;
	for (int k = 0; k < N_STR; k++)
		r->str_len[k] = 0;
}

/* Appends s to string k as row r->n; CF_ERR_NOMEM when it cannot grow
 * (labels) or would pass 2^31 - 1 bytes. */
static int put_str(cf_feature_rows *r, int k, const char *s)
{
	size_t n = strlen(s);
	if (r->str_len[k] + n > r->str_cap[k]) {
		size_t cap = r->str_cap[k] * 2 > r->str_len[k] + n ? r->str_cap[k] * 2 : r->str_len[k] + n;
		if (cap > INT32_MAX)
			cap = INT32_MAX;
		uint8_t *p = r->str_len[k] + n <= cap ? realloc(r->str[k], cap) : NULL;
		if (!p)
			return CF_ERR_NOMEM;
		r->str[k] = p;
		r->str_cap[k] = cap;
	}
	memcpy(r->str[k] + r->str_len[k], s, n);
	r->str_len[k] += n;
	((int32_t *)r->col[r->str_col[k]])[r->n + 1] = (int32_t)r->str_len[k];
	return CF_OK;
}

static void ip_text(const uint8_t *a, int version, char *out)
{
	if (version == 4) {
		*cf_fmt_ipv4(out, a) = 0;
		return;
	}
	if (!inet_ntop(AF_INET6, a, out, IP_TEXT_MAX))
		snprintf(out, IP_TEXT_MAX, "?");
}

static void put_num(cf_feature_rows *r, uint32_t col, size_t i, double v)
{
	if (r->o.float64)
		((double *)r->col[col])[i] = v;
	else
		((float *)r->col[col])[i] = (float)v;
}

int cf_feature_rows_add(cf_feature_rows *r, const cf_flow_record *rec, uint64_t row, int64_t label_id,
                        const char *label)
{
	if (r->n >= r->o.capacity)
		return CF_ERR_ARG;
	uint32_t i = r->n;
	if (i == 0)
		for (int k = 0; k < N_STR; k++)
			if (k != S_LABEL || r->o.labels)
				((int32_t *)r->col[r->str_col[k]])[0] = 0;
	size_t saved[N_STR];
	memcpy(saved, r->str_len, sizeof saved);
	char ip[IP_TEXT_MAX], end[END_TEXT_MAX];
	snprintf(end, sizeof end, "%s", cf_flow_end_name(rec->end_reason));
	int st = put_str(r, S_END, end);
	ip_text(rec->src_ip, rec->ip_version, ip);
	st |= put_str(r, S_SRC, ip);
	ip_text(rec->dst_ip, rec->ip_version, ip);
	st |= put_str(r, S_DST, ip);
	if (r->o.labels) {
		st |= put_str(r, S_LABEL, label ? label : "");
		((int64_t *)r->col[r->c_label_id])[i] = label_id;
	}
	if (st) { /* the row is not counted: the next add overwrites it */
		memcpy(r->str_len, saved, sizeof saved);
		return CF_ERR_NOMEM;
	}
	((uint64_t *)r->col[ROW])[i] = row;
	((uint64_t *)r->col[ID])[i] = rec->id;
	((uint16_t *)r->col[SPORT])[i] = rec->src_port;
	((uint16_t *)r->col[DPORT])[i] = rec->dst_port;
	((uint8_t *)r->col[PROTO])[i] = rec->proto;
	((uint8_t *)r->col[IPV])[i] = rec->ip_version;
	((uint16_t *)r->col[VLAN])[i] = rec->vlan_id;
	((uint32_t *)r->col[TUNNEL])[i] = rec->tunnel_id;
	((int64_t *)r->col[FIRST])[i] = rec->bidir.first_ns;
	((int64_t *)r->col[LAST])[i] = rec->bidir.last_ns;
	double fv[CF_FLOW_FEATURES];
	cf_flow_features(rec, fv);
	for (uint32_t k = 0; k < CF_FLOW_FEATURES; k++)
		put_num(r, r->c_feat + k, i, fv[k]);
	if (r->o.seq_len) {
		const uint32_t L = r->o.seq_len;
		const double pad = r->o.seq_pad;
		((int32_t *)r->col[r->c_seq])[i] = (int32_t)rec->seq_n;
		for (uint32_t k = 0; k < L; k++) {
			int have = k < rec->seq_n;
			size_t at = (size_t)i * L + k;
			put_num(r, r->c_seq + 1, at, have ? (double)rec->seq_size[k] : pad);
			put_num(r, r->c_seq + 2, at, have ? (double)rec->seq_iat_ns[k] : pad);
			put_num(r, r->c_seq + 3, at, have ? (double)rec->seq_dir[k] : pad);
		}
	}
	r->n++;
	return CF_OK;
}

const cf_table_batch *cf_feature_rows_batch(cf_feature_rows *r)
{
	r->batch.n_rows = r->n;
	for (uint32_t i = 0; i < r->ncols; i++) {
		const uint8_t *data = NULL;
		for (int k = 0; k < N_STR; k++)
			if ((k != S_LABEL || r->o.labels) && i == r->str_col[k])
				data = r->str[k];
		cf_table_batch_set(&r->batch, i, r->col[i], data, NULL);
	}
	return &r->batch;
}
