/*
 * Flow records as CSV (cuflow/flow_text.h), and what both text formats
 * share for the run driver: the header, the row function, the options
 * JSON of the manifest. Rows are built in the caller's buffer without
 * stdio: printf was most of `cuflow flows` on captures of many short
 * flows (common/text_fmt.h gives the same text).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cuflow/flow_text.h"
#include "common/text_fmt.h"

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

char *cf_flow_ip_put(char *out, const uint8_t *addr, int ip_version)
{
	if (ip_version != 6)
		return cf_fmt_ipv4(out, addr);
	if (!inet_ntop(AF_INET6, addr, out, CF_FLOW_IP_TEXT_MAX))
		return put_str(out, "?");
	return out + strlen(out);
}

char *cf_flow_csv_ident(char *p, const cf_flow_record *r)
{
	p = cf_fmt_u64(p, r->id);
	*p++ = ',';
	p = put_str(p, cf_flow_end_name(r->end_reason));
	*p++ = ',';
	p = cf_flow_ip_put(p, r->src_ip, r->ip_version);
	*p++ = ',';
	p = cf_flow_ip_put(p, r->dst_ip, r->ip_version);
	const uint32_t u[6] = {r->src_port, r->dst_port, r->proto, r->ip_version, r->vlan_id, r->tunnel_id};
	for (int k = 0; k < 6; k++) {
		*p++ = ',';
		p = cf_fmt_u64(p, u[k]);
	}
	return p;
}

static const char *const dir_prefix[3] = {"bidirectional", "src2dst", "dst2src"};
static const char *const flag_names[CF_FF_COUNT] = {"syn", "cwr", "ece", "urg", "ack", "psh", "rst", "fin"};

char *cf_flow_csv_header(char *out)
{
	static const char *const cols[] = {"first_seen_ns", "last_seen_ns", "duration_ns", "packets", "bytes",
	                                   "min_ps", "mean_ps", "stddev_ps", "max_ps", "p25_ps", "p50_ps",
	                                   "p75_ps", "min_piat_ns", "mean_piat_ns", "stddev_piat_ns", "max_piat_ns"};
	char *p = put_str(out, CF_FLOW_CSV_IDENT_HEADER);
	for (int d = 0; d < 3; d++) {
		for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
			*p++ = ',';
			p = put_str(p, dir_prefix[d]);
			*p++ = '_';
			p = put_str(p, cols[c]);
		}
		for (int f = 0; f < CF_FF_COUNT; f++) {
			*p++ = ',';
			p = put_str(p, dir_prefix[d]);
			*p++ = '_';
			p = put_str(p, flag_names[f]);
			p = put_str(p, "_packets");
		}
	}
	*p++ = '\n';
	return p;
}

static char *csv_stats(char *p, const cf_flow_stats *a)
{
	const int64_t i[3] = {a->first_ns, a->last_ns, a->duration_ns};
	for (int k = 0; k < 3; k++) {
		*p++ = ',';
		p = cf_fmt_i64(p, i[k]);
	}
	*p++ = ',';
	p = cf_fmt_u64(p, a->packets);
	*p++ = ',';
	p = cf_fmt_u64(p, a->bytes);
	*p++ = ',';
	p = cf_fmt_u64(p, a->ps_min);
	*p++ = ',';
	p = cf_fmt_g17(p, a->ps_mean);
	*p++ = ',';
	p = cf_fmt_g17(p, a->ps_stddev);
	*p++ = ',';
	p = cf_fmt_u64(p, a->ps_max);
	const double q[3] = {a->ps_p25, a->ps_p50, a->ps_p75};
	for (int k = 0; k < 3; k++) {
		*p++ = ',';
		p = cf_fmt_g17(p, q[k]);
	}
	*p++ = ',';
	p = cf_fmt_i64(p, a->piat_min);
	*p++ = ',';
	p = cf_fmt_g17(p, a->piat_mean);
	*p++ = ',';
	p = cf_fmt_g17(p, a->piat_stddev);
	*p++ = ',';
	p = cf_fmt_i64(p, a->piat_max);
	for (int f = 0; f < CF_FF_COUNT; f++) {
		*p++ = ',';
		p = cf_fmt_u64(p, a->flag[f]);
	}
	return p;
}

char *cf_flow_csv_row(char *p, const cf_flow_record *r)
{
	p = cf_flow_csv_ident(p, r);
	p = csv_stats(p, &r->bidir);
	p = csv_stats(p, &r->src2dst);
	p = csv_stats(p, &r->dst2src);
	*p++ = '\n';
	return p;
}

/* ------------------------------------------------------------ both formats, for cf_run */

size_t cf_flow_text_header(const cf_flow_text *t, const cf_flow_opts *o, char *out)
{
	char *end = t->format == CF_FLOW_TEXT_JOY ? cf_joy_config(out, o, t->zeros) : cf_flow_csv_header(out);
	return (size_t)(end - out);
}

size_t cf_flow_text_row_max(const cf_flow_text *t, const cf_flow_opts *o)
{
	return t->format == CF_FLOW_TEXT_JOY ? cf_joy_record_max(o) : CF_FLOW_CSV_ROW_MAX;
}

size_t cf_flow_text_row(void *user, const cf_flow_record *r, char *out, size_t *id_at, size_t *id_len)
{
	const cf_flow_text *t = user;
	char digits[CF_FMT_MAX];
	*id_len = (size_t)(cf_fmt_u64(digits, r->id) - digits);
	if (t->format != CF_FLOW_TEXT_JOY) {
		*id_at = 0; /* a CSV row starts with its id */
		return (size_t)(cf_flow_csv_row(out, r) - out);
	}
	char *end = cf_joy_record(out, r, t->zeros);
	static const char key[] = "\"flow_id\":";
	const size_t k = sizeof key - 1;
	*id_at = (size_t)(end - out); /* found below: the record's last flow_id key */
	for (char *q = end - k; q >= out; q--)
		if (!memcmp(q, key, k)) {
			*id_at = (size_t)(q + k - out);
			break;
		}
	return (size_t)(end - out);
}

/* snprintf-like appending: counts what does not fit. */
typedef struct text_buf {
	char *out;
	size_t cap, n;
} text_buf;

static void tb_put(text_buf *b, const char *s, size_t len)
{
	if (b->n < b->cap) {
		size_t room = b->cap - 1 - b->n, k = len < room ? len : room;
		memcpy(b->out + b->n, s, k);
		b->out[b->n + k] = 0;
	}
	b->n += len;
}

static void tb_printf(text_buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		tb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* s as a quoted JSON string (quotes, backslashes, control bytes escaped). */
static void tb_json_str(text_buf *b, const char *s)
{
	tb_put(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			tb_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			tb_printf(b, "\\u%04x", *p);
		else
			tb_put(b, (const char *)p, 1);
	}
	tb_put(b, "\"", 1);
}

size_t cf_flow_options_json(char *out, size_t cap, const char *format_name, int zeros, const cf_flow_opts *fo,
                            const cf_decode_opts *decode, const char *filter)
{
	text_buf b = {out, cap, 0};
	if (cap)
		out[0] = 0;
	tb_printf(&b, "{\"command\": \"flows\", \"format\": ");
	tb_json_str(&b, format_name);
	tb_printf(&b, ", \"zeros\": %s, \"idle_timeout_ns\": %" PRId64 ", \"active_timeout_ns\": %" PRId64
	              ", \"tcp_linger_ns\": %" PRId64 ", \"tcp_end\": %d, \"unidirectional\": %d, \"size\": %d",
	          zeros ? "true" : "false", fo->idle_timeout_ns, fo->active_timeout_ns, fo->tcp_linger_ns,
	          fo->tcp_end, fo->unidirectional, fo->size_mode);
	tb_printf(&b, ", \"orientation\": \"%s\", \"compat\": \"%s\", \"order\": \"%s\", \"max_flows\": %u, \"seq\": %u"
	              ", \"ip_ids\": %u, \"decap\": %u, \"max_depth\": %u, \"filter\": ",
	          fo->orientation == CF_ORIENT_CLIENT ? "client" : "first-packet",
	          fo->compat == CF_COMPAT_NFSTREAM ? "nfstream" : "none", fo->end_order ? "end" : "first", fo->max_flows,
	          fo->seq_len, fo->ip_ids, decode->decap, decode->max_depth);
	if (filter)
		tb_json_str(&b, filter);
	else
		tb_put(&b, "null", 4);
	tb_put(&b, "}", 1);
	return b.n;
}
