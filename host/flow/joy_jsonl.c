/*
 * Joy-compatible JSON lines (cuflow/flow_text.h, `cuflow flows -o
 * OUT.jsonl[.gz]`): a configuration line, then one flow record per line
 * with the keys of Cisco Joy 4.x (../shared/specs/flowpic_joy_lstm.md §2)
 * in Joy's order: sa, da, pr, sp, dp, bytes_out, num_pkts_out, bytes_in,
 * num_pkts_in, time_start, time_end, packets[{b,dir,ipt}],
 * ip{out,in}{ttl,id[]}, expire_type; then cuflow's own keys. Where Joy
 * narrows or drops (uint8/uint16 counters, retransmissions left out, 1 µs
 * times) cuflow keeps exact values; docs/flows.md lists every difference.
 */

#include <string.h>

#include "cuflow/flow_text.h"
#include "common/text_fmt.h"

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

/* ns since the epoch as decimal seconds with 9 digits, exact. */
static char *put_seconds(char *p, int64_t ns)
{
	uint64_t u = (uint64_t)ns;
	if (ns < 0) {
		*p++ = '-';
		u = 0 - u;
	}
	p = cf_fmt_u64(p, u / 1000000000u);
	*p++ = '.';
	uint64_t frac = u % 1000000000u;
	for (int k = 8; k >= 0; k--) {
		p[k] = (char)('0' + frac % 10);
		frac /= 10;
	}
	return p + 9;
}

size_t cf_joy_record_max(const cf_flow_opts *fo)
{
	/* ,{"b":4294967295,"dir":">","ipt":9223372036854} (47 bytes) per
	 * packet, ,65535 per id, and 1 KiB for the rest (two IPv6 texts,
	 * 20-digit counts, keys) */
	return (size_t)fo->seq_len * 64 + (size_t)fo->ip_ids * 2 * 6 + 1024;
}

char *cf_joy_config(char *p, const cf_flow_opts *fo, int zeros)
{
	static const char *const size_names[] = {"wire", "captured", "ip", "transport", "payload"};
	p = put_str(p, "{\"version\":\"cuflow ");
	p = put_str(p, cf_version());
	p = put_str(p, "\",\"bidir\":");
	*p++ = fo->unidirectional ? '0' : '1';
	p = put_str(p, ",\"num_pkts\":");
	p = cf_fmt_u64(p, fo->seq_len);
	p = put_str(p, ",\"zeros\":");
	*p++ = zeros ? '1' : '0';
	p = put_str(p, ",\"retrans\":1,\"size\":\"");
	p = put_str(p, fo->size_mode >= 0 && fo->size_mode < 5 ? size_names[fo->size_mode] : "?");
	p = put_str(p, "\",\"num_ip_ids\":");
	p = cf_fmt_u64(p, fo->ip_ids);
	p = put_str(p, ",\"idle_timeout_ns\":");
	p = cf_fmt_i64(p, fo->idle_timeout_ns);
	p = put_str(p, ",\"active_timeout_ns\":");
	p = cf_fmt_i64(p, fo->active_timeout_ns);
	p = put_str(p, ",\"tcp_end\":");
	*p++ = fo->tcp_end ? '1' : '0';
	p = put_str(p, ",\"end-config\":1}\n");
	return p;
}

static char *put_ip_dir(char *p, const cf_flow_record *r, int d)
{
	p = put_str(p, d ? "\"in\":{\"ttl\":" : "\"out\":{\"ttl\":");
	p = cf_fmt_u64(p, r->ttl_min[d]);
	/* Joy omits the key when no id was recorded; IPv6 has none */
	if (r->ip_version == 4 && r->ip_id_n[d]) {
		p = put_str(p, ",\"id\":[");
		for (uint32_t k = 0; k < r->ip_id_n[d]; k++) {
			if (k)
				*p++ = ',';
			p = cf_fmt_u64(p, r->ip_ids[d][k]);
		}
		*p++ = ']';
	}
	*p++ = '}';
	return p;
}

char *cf_joy_record(char *p, const cf_flow_record *r, int zeros)
{
	const int ports = r->proto == 6 || r->proto == 17; /* Joy: null for the rest */
	p = put_str(p, "{\"sa\":\"");
	p = cf_flow_ip_put(p, r->src_ip, r->ip_version);
	p = put_str(p, "\",\"da\":\"");
	p = cf_flow_ip_put(p, r->dst_ip, r->ip_version);
	p = put_str(p, "\",\"pr\":");
	p = cf_fmt_u64(p, r->proto);
	p = put_str(p, ",\"sp\":");
	p = ports ? cf_fmt_u64(p, r->src_port) : put_str(p, "null");
	p = put_str(p, ",\"dp\":");
	p = ports ? cf_fmt_u64(p, r->dst_port) : put_str(p, "null");
	const struct {
		const char *key;
		uint64_t v;
	} counts[] = {{",\"bytes_out\":", r->src2dst.bytes},
	              {",\"num_pkts_out\":", r->src2dst.packets},
	              {",\"bytes_in\":", r->dst2src.bytes},
	              {",\"num_pkts_in\":", r->dst2src.packets}};
	for (int k = 0; k < 4; k++) {
		p = put_str(p, counts[k].key);
		p = cf_fmt_u64(p, counts[k].v);
	}
	p = put_str(p, ",\"time_start\":");
	p = put_seconds(p, r->bidir.first_ns);
	p = put_str(p, ",\"time_end\":");
	p = put_seconds(p, r->bidir.last_ns);

	/* Joy's bidirectional ipt: milliseconds, truncated, from the previous
	 * listed packet, the first from the flow's start; packets left out
	 * (empty ones, without zeros) are spanned, not restarted from. */
	p = put_str(p, ",\"packets\":[");
	int64_t t = 0, t_listed = 0;
	int first = 1;
	for (uint32_t k = 0; k < r->seq_n; k++) {
		t += r->seq_iat_ns[k];
		if (!zeros && r->seq_size[k] == 0)
			continue;
		if (!first)
			*p++ = ',';
		first = 0;
		p = put_str(p, "{\"b\":");
		p = cf_fmt_u64(p, r->seq_size[k]);
		p = put_str(p, r->seq_dir[k] > 0 ? ",\"dir\":\">\",\"ipt\":" : ",\"dir\":\"<\",\"ipt\":");
		p = cf_fmt_i64(p, (t - t_listed) / 1000000);
		*p++ = '}';
		t_listed = t;
	}
	*p++ = ']';

	p = put_str(p, ",\"ip\":{");
	p = put_ip_dir(p, r, 0);
	if (r->dst2src.packets) { /* as Joy: "in" only with a reverse direction */
		*p++ = ',';
		p = put_ip_dir(p, r, 1);
	}
	*p++ = '}';
	if (r->end_reason == CF_FLOW_END_IDLE)
		p = put_str(p, ",\"expire_type\":\"i\"");
	else if (r->end_reason == CF_FLOW_END_ACTIVE)
		p = put_str(p, ",\"expire_type\":\"a\"");

	/* cuflow's keys */
	p = put_str(p, ",\"flow_id\":");
	p = cf_fmt_u64(p, r->id);
	p = put_str(p, ",\"end_reason\":\"");
	p = put_str(p, cf_flow_end_name(r->end_reason));
	*p++ = '"';
	if (r->vlan_id) {
		p = put_str(p, ",\"vlan_id\":");
		p = cf_fmt_u64(p, r->vlan_id);
	}
	if (r->tunnel_id) {
		p = put_str(p, ",\"tunnel_id\":");
		p = cf_fmt_u64(p, r->tunnel_id);
	}
	p = put_str(p, "}\n");
	return p;
}
