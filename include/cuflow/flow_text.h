/*
 * Flow records as text: the CSV and the Joy-compatible JSON lines of
 * `cuflow flows`, byte for byte, for any C user of the flow engine or of
 * the run driver (cuflow/run.h).
 *
 * CSV: a header line, then one line per record: id, end_reason, src_ip,
 * dst_ip, src_port, dst_port, protocol, ip_version, vlan_id, tunnel_id,
 * then for P in bidirectional, src2dst, dst2src: P_first_seen_ns,
 * P_last_seen_ns, P_duration_ns, P_packets, P_bytes, P_min_ps, P_mean_ps,
 * P_stddev_ps, P_max_ps, P_p25_ps, P_p50_ps, P_p75_ps, P_min_piat_ns,
 * P_mean_piat_ns, P_stddev_piat_ns, P_max_piat_ns and P_<flag>_packets
 * for syn, cwr, ece, urg, ack, psh, rst, fin (the columns of
 * cuflow/flow_rows.h). Times are int64 ns since the epoch, integers in
 * decimal, doubles as printf("%.17g"), addresses as inet_ntop writes them.
 *
 * JSON lines (Cisco Joy 4.x): a configuration line, then one object per
 * record with Joy's keys in Joy's order: sa, da, pr, sp, dp, bytes_out,
 * num_pkts_out, bytes_in, num_pkts_in, time_start, time_end (seconds with
 * 9 decimals, exact), packets [{b, dir, ipt}] (the record's sequence; ipt
 * in ms, truncated; empty packets only with zeros), ip {out, in} {ttl,
 * id[]} (opts.ip_ids), expire_type; then cuflow's own keys flow_id,
 * end_reason, vlan_id and tunnel_id (the last two when not 0). Where Joy
 * narrows values cuflow keeps them exact (docs/flows.md).
 *
 * The writers append at `out` without a terminating NUL and return the
 * end of what they wrote; the caller gives the room each one names. They
 * allocate nothing, keep no state and may run in many threads at once.
 */
#ifndef CUFLOW_FLOW_TEXT_H
#define CUFLOW_FLOW_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include "cuflow/status.h"
#include "cuflow/decode.h"
#include "cuflow/flow.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room for one CSV row (an IPv6 row of the longest values is about 2 KiB). */
#define CF_FLOW_CSV_ROW_MAX 4096
/* Room for a header: the CSV header line or the Joy configuration line. */
#define CF_FLOW_HEADER_MAX 8192
/* Room for one address's text (INET6_ADDRSTRLEN). */
#define CF_FLOW_IP_TEXT_MAX 46

/* The names of the identity columns cf_flow_csv_ident writes. */
#define CF_FLOW_CSV_IDENT_HEADER "id,end_reason,src_ip,dst_ip,src_port,dst_port,protocol,ip_version,vlan_id,tunnel_id"

/* An address (network order; IPv4 in the first 4 bytes) as dotted quad or
 * inet_ntop's IPv6 text ("?" if impossible). Room: CF_FLOW_IP_TEXT_MAX. */
char *cf_flow_ip_put(char *out, const uint8_t *addr, int ip_version);

/* ------------------------------------------------------------ CSV */

/* The identity columns of a record (CF_FLOW_CSV_IDENT_HEADER), no
 * trailing comma or newline; the id comes first. Room: 256 bytes. */
char *cf_flow_csv_ident(char *out, const cf_flow_record *r);
/* The header line, newline included. Room: CF_FLOW_HEADER_MAX. */
char *cf_flow_csv_header(char *out);
/* One row, newline included. Room: CF_FLOW_CSV_ROW_MAX. */
char *cf_flow_csv_row(char *out, const cf_flow_record *r);

/* ------------------------------------------------------------ Joy JSON lines */

/* The configuration line (newline included) for records of an engine run
 * with these options; zeros: empty packets are listed. Room:
 * CF_FLOW_HEADER_MAX. */
char *cf_joy_config(char *out, const cf_flow_opts *o, int zeros);
/* One record's line, newline included. Room: cf_joy_record_max of the
 * options the record was made with. */
char *cf_joy_record(char *out, const cf_flow_record *r, int zeros);
/* The most bytes one record's line takes (it grows with seq_len and ip_ids). */
size_t cf_joy_record_max(const cf_flow_opts *o);

/* ------------------------------------------------------------ both, for cf_run */

enum cf_flow_text_format {
	CF_FLOW_TEXT_CSV = 0,  /* header + cf_flow_csv_row */
	CF_FLOW_TEXT_JOY = 1   /* cf_joy_config + cf_joy_record */
};

typedef struct cf_flow_text {
	int format;  /* enum cf_flow_text_format */
	int zeros;   /* Joy: list packets without payload too (Joy's zeros=1) */
} cf_flow_text;

/* The format's header (CSV header or Joy configuration line) at out (room:
 * CF_FLOW_HEADER_MAX); returns its length. */
size_t cf_flow_text_header(const cf_flow_text *t, const cf_flow_opts *o, char *out);
/* The most bytes cf_flow_text_row writes for records of these options. */
size_t cf_flow_text_row_max(const cf_flow_text *t, const cf_flow_opts *o);
/* One record's line, with where the digits of its id are: a
 * cf_run_row_fn (cuflow/run.h) with a const cf_flow_text * as user.
 * Room: cf_flow_text_row_max. Returns the line's length. */
size_t cf_flow_text_row(void *t, const cf_flow_record *r, char *out, size_t *id_at, size_t *id_len);

/* The options that shape `cuflow flows`'s output, as the JSON object its
 * manifest records (cf_run_opts.options_json; --resume compares it):
 * format_name ("csv", "jsonl", "parquet"), zeros, the engine's options,
 * decapsulation and the filter (NULL: none). Like snprintf: writes at
 * most cap bytes, NUL included, and returns the length of the whole text
 * (call with cap 0 to size the buffer). */
size_t cf_flow_options_json(char *out, size_t cap, const char *format_name, int zeros, const cf_flow_opts *o,
                            const cf_decode_opts *decode, const char *filter);

#ifdef __cplusplus
}
#endif

#endif
