/*
 * cf_flow_rows: flow records into column arrays (see cuflow/flow_rows.h).
 * One allocation per column for `capacity` rows; strings (end reason,
 * addresses) go into one byte buffer per column with Arrow offsets.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/flow_rows.h"
#include "common/text_fmt.h"

enum { ID, END, SRC_IP, DST_IP, SPORT, DPORT, PROTO, IPV, VLAN, TUNNEL, N_IDENT };
/* Per direction set, in the CSV's order. */
enum {
	D_FIRST, D_LAST, D_DUR, D_PKTS, D_BYTES, D_MIN_PS, D_MEAN_PS, D_SD_PS, D_MAX_PS, D_P25, D_P50, D_P75,
	D_MIN_PIAT, D_MEAN_PIAT, D_SD_PIAT, D_MAX_PIAT, D_FLAG0, N_DIRCOLS = D_FLAG0 + CF_FF_COUNT
};
#define IP_TEXT_MAX 46 /* INET6_ADDRSTRLEN */
#define END_TEXT_MAX 32

struct cf_flow_rows {
	cf_table_schema *schema;
	cf_table_batch batch;
	uint32_t cap, n, seq_len, ncols;
	void **col;          /* values of each column */
	uint8_t *str[3];     /* END, SRC_IP, DST_IP bytes */
	size_t str_len[3];
};

static const char *const dir_prefix[3] = {"bidirectional", "src2dst", "dst2src"};
static const char *const flag_names[CF_FF_COUNT] = {"syn", "cwr", "ece", "urg", "ack", "psh", "rst", "fin"};

static int add(cf_table_schema *s, const char *name, int dtype, uint32_t width, const char *unit, const char *doc,
               char *errbuf)
{
	return cf_table_schema_add(s, name, dtype, width, unit, doc, 0, errbuf);
}

static int build_schema(cf_table_schema *s, uint32_t seq_len, char *e)
{
	int st = 0;
	st |= cf_table_schema_add(s, "id", CF_DTYPE_UINT64, 1, "", "flow id: 1, 2, ... in order of creation",
	                          CF_COLUMN_RUN_ID, e);
	st |= add(s, "end_reason", CF_DTYPE_STRING, 1, "", "why the flow ended (idle, active, fin, rst, ...)", e);
	st |= add(s, "src_ip", CF_DTYPE_STRING, 1, "", "source address (the client), text", e);
	st |= add(s, "dst_ip", CF_DTYPE_STRING, 1, "", "destination address, text", e);
	st |= add(s, "src_port", CF_DTYPE_UINT16, 1, "", "source port (ICMP echo: the identifier)", e);
	st |= add(s, "dst_port", CF_DTYPE_UINT16, 1, "", "destination port", e);
	st |= add(s, "protocol", CF_DTYPE_UINT8, 1, "", "IP protocol number", e);
	st |= add(s, "ip_version", CF_DTYPE_UINT8, 1, "", "4 or 6", e);
	st |= add(s, "vlan_id", CF_DTYPE_UINT16, 1, "", "first VLAN id, 0 without VLAN", e);
	st |= add(s, "tunnel_id", CF_DTYPE_UINT32, 1, "", "tunnel id (VXLAN VNI, GTP TEID, ...), 0 without", e);
	for (int d = 0; d < 3 && !st; d++) {
		const char *p = dir_prefix[d];
		char n[96], doc[160];
#define COL(suffix, dtype, unit, what)                                                   \
	do {                                                                             \
		snprintf(n, sizeof n, "%s_%s", p, suffix);                                \
		snprintf(doc, sizeof doc, "%s (%s packets)", what, p);                    \
		st |= add(s, n, dtype, 1, unit, doc, e);                                  \
	} while (0)
		COL("first_seen_ns", CF_DTYPE_TIMESTAMP_NS, "ns", "time of the first packet");
		COL("last_seen_ns", CF_DTYPE_TIMESTAMP_NS, "ns", "time of the last packet");
		COL("duration_ns", CF_DTYPE_INT64, "ns", "last - first");
		COL("packets", CF_DTYPE_UINT64, "", "packets");
		COL("bytes", CF_DTYPE_UINT64, "bytes", "bytes (per the size mode)");
		COL("min_ps", CF_DTYPE_UINT32, "bytes", "smallest packet size");
		COL("mean_ps", CF_DTYPE_FLOAT64, "bytes", "mean packet size");
		COL("stddev_ps", CF_DTYPE_FLOAT64, "bytes", "sample standard deviation of packet sizes");
		COL("max_ps", CF_DTYPE_UINT32, "bytes", "largest packet size");
		COL("p25_ps", CF_DTYPE_FLOAT64, "bytes", "25th percentile of packet sizes (numpy linear)");
		COL("p50_ps", CF_DTYPE_FLOAT64, "bytes", "median packet size (numpy linear)");
		COL("p75_ps", CF_DTYPE_FLOAT64, "bytes", "75th percentile of packet sizes (numpy linear)");
		COL("min_piat_ns", CF_DTYPE_INT64, "ns", "smallest inter-arrival time");
		COL("mean_piat_ns", CF_DTYPE_FLOAT64, "ns", "mean inter-arrival time");
		COL("stddev_piat_ns", CF_DTYPE_FLOAT64, "ns", "sample standard deviation of inter-arrival times");
		COL("max_piat_ns", CF_DTYPE_INT64, "ns", "largest inter-arrival time");
		for (int f = 0; f < CF_FF_COUNT; f++) {
			char what[48];
			snprintf(what, sizeof what, "packets with %s set", flag_names[f]);
			char sfx[32];
			snprintf(sfx, sizeof sfx, "%s_packets", flag_names[f]);
			COL(sfx, CF_DTYPE_UINT32, "", what);
		}
#undef COL
	}
	if (seq_len && !st) {
		st |= add(s, "seq_n", CF_DTYPE_UINT32, 1, "", "packets listed in the seq_ columns", e);
		st |= add(s, "seq_size", CF_DTYPE_UINT32, seq_len, "bytes", "sizes of the first packets, 0 past seq_n", e);
		st |= add(s, "seq_iat_ns", CF_DTYPE_INT64, seq_len, "ns",
		          "time since the flow's previous packet (0 for the first), 0 past seq_n", e);
		st |= add(s, "seq_dir", CF_DTYPE_INT8, seq_len, "", "+1 src2dst, -1 dst2src, 0 past seq_n", e);
	}
	return st ? CF_ERR_ARG : CF_OK;
}

void cf_flow_rows_free(cf_flow_rows *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; r->col && i < r->ncols; i++)
		free(r->col[i]);
	free(r->col);
	for (int k = 0; k < 3; k++)
		free(r->str[k]);
	cf_table_batch_free(&r->batch);
	cf_table_schema_free(r->schema);
	free(r);
}

int cf_flow_rows_create(uint32_t capacity, uint32_t seq_len, cf_flow_rows **out, char *errbuf)
{
	*out = NULL;
	if (capacity == 0 || capacity > (1u << 24) || seq_len > 4096) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flow rows: capacity 1..2^24 and seq_len 0..4096");
		return CF_ERR_ARG;
	}
	cf_flow_rows *r = calloc(1, sizeof *r);
	if (!r || cf_table_schema_create(&r->schema, errbuf) != CF_OK) {
		free(r);
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flow rows: out of memory");
		return CF_ERR_NOMEM;
	}
	r->cap = capacity;
	r->seq_len = seq_len;
	int st = build_schema(r->schema, seq_len, errbuf);
	if (st != CF_OK) {
		cf_flow_rows_free(r);
		return st;
	}
	r->ncols = cf_table_schema_columns(r->schema);
	r->col = calloc(r->ncols, sizeof *r->col);
	int ok = r->col && cf_table_batch_init(&r->batch, r->schema, 0) == CF_OK;
	for (uint32_t i = 0; ok && i < r->ncols; i++) {
		const cf_table_column *c = cf_table_schema_column(r->schema, i);
		size_t el = cf_dtype_size(c->dtype);
		/* strings: capacity + 1 offsets */
		size_t n = c->dtype == CF_DTYPE_STRING ? (size_t)capacity + 1 : (size_t)capacity * c->width;
		ok = (r->col[i] = calloc(n, el)) != NULL;
	}
	const size_t str_max[3] = {END_TEXT_MAX, IP_TEXT_MAX, IP_TEXT_MAX};
	for (int k = 0; ok && k < 3; k++)
		ok = (r->str[k] = malloc((size_t)capacity * str_max[k])) != NULL;
	if (!ok) {
		cf_flow_rows_free(r);
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flow rows: out of memory for %u rows", capacity);
		return CF_ERR_NOMEM;
	}
	*out = r;
	return CF_OK;
}

const cf_table_schema *cf_flow_rows_schema(const cf_flow_rows *r) { return r->schema; }
uint32_t cf_flow_rows_count(const cf_flow_rows *r) { return r->n; }
int cf_flow_rows_full(const cf_flow_rows *r) { return r->n >= r->cap; }

void cf_flow_rows_reset(cf_flow_rows *r)
{
	r->n = 0;
	for (int k = 0; k < 3; k++)
		r->str_len[k] = 0;
}

/* Appends s to string column k (column index col). */
static void put_str(cf_flow_rows *r, int k, uint32_t col, const char *s)
{
	int32_t *off = r->col[col];
	size_t n = strlen(s);
	memcpy(r->str[k] + r->str_len[k], s, n);
	r->str_len[k] += n;
	off[r->n + 1] = (int32_t)r->str_len[k];
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

int cf_flow_rows_add(cf_flow_rows *r, const cf_flow_record *rec)
{
	if (r->n >= r->cap)
		return CF_ERR_ARG;
	uint32_t i = r->n;
	if (i == 0)
		for (int k = 0; k < 3; k++)
			((int32_t *)r->col[END + k])[0] = 0;
	((uint64_t *)r->col[ID])[i] = rec->id;
	char ip[IP_TEXT_MAX], end[END_TEXT_MAX];
	snprintf(end, sizeof end, "%s", cf_flow_end_name(rec->end_reason));
	put_str(r, 0, END, end);
	ip_text(rec->src_ip, rec->ip_version, ip);
	put_str(r, 1, SRC_IP, ip);
	ip_text(rec->dst_ip, rec->ip_version, ip);
	put_str(r, 2, DST_IP, ip);
	((uint16_t *)r->col[SPORT])[i] = rec->src_port;
	((uint16_t *)r->col[DPORT])[i] = rec->dst_port;
	((uint8_t *)r->col[PROTO])[i] = rec->proto;
	((uint8_t *)r->col[IPV])[i] = rec->ip_version;
	((uint16_t *)r->col[VLAN])[i] = rec->vlan_id;
	((uint32_t *)r->col[TUNNEL])[i] = rec->tunnel_id;
	const cf_flow_stats *set[3] = {&rec->bidir, &rec->src2dst, &rec->dst2src};
	for (int d = 0; d < 3; d++) {
		const cf_flow_stats *a = set[d];
		void **c = r->col + N_IDENT + d * N_DIRCOLS;
		((int64_t *)c[D_FIRST])[i] = a->first_ns;
		((int64_t *)c[D_LAST])[i] = a->last_ns;
		((int64_t *)c[D_DUR])[i] = a->duration_ns;
		((uint64_t *)c[D_PKTS])[i] = a->packets;
		((uint64_t *)c[D_BYTES])[i] = a->bytes;
		((uint32_t *)c[D_MIN_PS])[i] = a->ps_min;
		((double *)c[D_MEAN_PS])[i] = a->ps_mean;
		((double *)c[D_SD_PS])[i] = a->ps_stddev;
		((uint32_t *)c[D_MAX_PS])[i] = a->ps_max;
		((double *)c[D_P25])[i] = a->ps_p25;
		((double *)c[D_P50])[i] = a->ps_p50;
		((double *)c[D_P75])[i] = a->ps_p75;
		((int64_t *)c[D_MIN_PIAT])[i] = a->piat_min;
		((double *)c[D_MEAN_PIAT])[i] = a->piat_mean;
		((double *)c[D_SD_PIAT])[i] = a->piat_stddev;
		((int64_t *)c[D_MAX_PIAT])[i] = a->piat_max;
		for (int f = 0; f < CF_FF_COUNT; f++)
			((uint32_t *)c[D_FLAG0 + f])[i] = a->flag[f];
	}
	if (r->seq_len) {
		uint32_t L = r->seq_len, n = rec->seq_n < L ? rec->seq_n : L;
		void **c = r->col + N_IDENT + 3 * N_DIRCOLS;
		((uint32_t *)c[0])[i] = n;
		uint32_t *sz = (uint32_t *)c[1] + (size_t)i * L;
		int64_t *iat = (int64_t *)c[2] + (size_t)i * L;
		int8_t *dir = (int8_t *)c[3] + (size_t)i * L;
		for (uint32_t k = 0; k < L; k++) {
			sz[k] = k < n ? rec->seq_size[k] : 0;
			iat[k] = k < n ? rec->seq_iat_ns[k] : 0;
			dir[k] = k < n ? rec->seq_dir[k] : 0;
		}
	}
	r->n++;
	return CF_OK;
}

const cf_table_batch *cf_flow_rows_batch(cf_flow_rows *r)
{
	r->batch.n_rows = r->n;
	for (uint32_t i = 0; i < r->ncols; i++) {
		const uint8_t *data = i == END ? r->str[0] : i == SRC_IP ? r->str[1] : i == DST_IP ? r->str[2] : NULL;
		cf_table_batch_set(&r->batch, i, r->col[i], data, NULL);
	}
	return &r->batch;
}
