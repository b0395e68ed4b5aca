/*
 * Flow records as a column table (cuflow/table.h), for any sink
 * (cuflow/sink.h: Parquet, CSV, ...): the columns of `cuflow flows`'s CSV,
 * with the same names and values, typed:
 *
 *   id uint64; end_reason string; src_ip, dst_ip string (as the CSV writes
 *   them); src_port, dst_port uint16; protocol, ip_version uint8; vlan_id
 *   uint16; tunnel_id uint32; then for P in bidirectional, src2dst,
 *   dst2src: P_first_seen_ns, P_last_seen_ns timestamp_ns; P_duration_ns
 *   int64; P_packets, P_bytes uint64; P_min_ps uint32, P_mean_ps,
 *   P_stddev_ps float64, P_max_ps uint32, P_p25_ps, P_p50_ps, P_p75_ps
 *   float64; P_min_piat_ns int64, P_mean_piat_ns, P_stddev_piat_ns
 *   float64, P_max_piat_ns int64; P_<flag>_packets uint32 for syn, cwr,
 *   ece, urg, ack, psh, rst, fin;
 *
 * and with seq_len > 0 the first seq_len packets as vector columns
 * seq_size (uint32 bytes), seq_iat_ns (int64), seq_dir (int8: +1 src2dst,
 * -1 dst2src, 0 past the flow's end) and seq_n (uint32, packets listed).
 *
 * Rows are gathered into column arrays allocated once for `capacity`
 * rows; the caller writes the batch when cf_flow_rows_full says so and
 * resets it.
 */
#ifndef CUFLOW_FLOW_ROWS_H
#define CUFLOW_FLOW_ROWS_H

#include <stdint.h>
#include "cuflow/status.h"
#include "cuflow/flow.h"
#include "cuflow/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_flow_rows cf_flow_rows;

/* capacity: rows per batch (1..2^24); seq_len: 0 or the engine's seq_len.
 * CF_OK, CF_ERR_ARG or CF_ERR_NOMEM (message in errbuf). */
int cf_flow_rows_create(uint32_t capacity, uint32_t seq_len, cf_flow_rows **out, char *errbuf);
void cf_flow_rows_free(cf_flow_rows *r);
/* The table's schema, owned by r. */
const cf_table_schema *cf_flow_rows_schema(const cf_flow_rows *r);
/* Appends one record (a cf_flow_emit_fn can call it); CF_ERR_ARG when the
 * batch is already full. */
int cf_flow_rows_add(cf_flow_rows *r, const cf_flow_record *rec);
/* Rows held, and whether no more fit. */
uint32_t cf_flow_rows_count(const cf_flow_rows *r);
int cf_flow_rows_full(const cf_flow_rows *r);
/* The rows held as a batch of the schema (borrowed until the next add or
 * reset), and emptying it. */
const cf_table_batch *cf_flow_rows_batch(cf_flow_rows *r);
void cf_flow_rows_reset(cf_flow_rows *r);

#ifdef __cplusplus
}
#endif

#endif
