/*
 * Training rows as a column table (cuflow/table.h), for any sink
 * (cuflow/sink.h): what `cuflow extract` writes as features.npy,
 * sequences.npy, lengths.npy, labels.npy and flows.csv, in one table
 * (`cuflow extract --format parquet` writes it to features.parquet):
 *
 *   row uint64            0, 1, ... in output order (flows.csv's "row")
 *   id uint64; end_reason, src_ip, dst_ip string; src_port, dst_port
 *   uint16; protocol, ip_version uint8; vlan_id uint16; tunnel_id uint32
 *                         the flow's identity, as `cuflow flows` writes it
 *   first_seen_ns, last_seen_ns timestamp_ns   the flow's first/last packet
 *   with labels: label_id int64 (labels.npy), label string (flows.csv)
 *   the CF_FLOW_FEATURES features, float32 or float64 (features.npy's
 *   columns: cf_flow_feature_name / cf_flow_feature_unit)
 *   with seq_len > 0: seq_length int32 (lengths.npy: packets listed),
 *   then vectors of seq_len elements of the features' type: seq_size
 *   (bytes), seq_iat_ns (ns since the flow's previous packet, 0 for the
 *   first), seq_dir (+1 src2dst, -1 dst2src); entries past seq_length
 *   hold seq_pad (the channels of sequences.npy).
 *
 * Rows are gathered into column arrays allocated once for `capacity`
 * rows (label strings in a buffer that grows); the caller writes the
 * batch when cf_feature_rows_full says so and resets it.
 */
#ifndef CUFLOW_FEATURE_ROWS_H
#define CUFLOW_FEATURE_ROWS_H

#include <stdint.h>
#include "cuflow/status.h"
#include "cuflow/flow.h"
#include "cuflow/table.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-flow statistics of a training row: for P in bidirectional,
 * src2dst, dst2src: P_packets, P_bytes, P_duration_ns, P_min_ps,
 * P_mean_ps, P_stddev_ps, P_max_ps, P_p25_ps, P_p50_ps, P_p75_ps,
 * P_min_piat_ns, P_mean_piat_ns, P_stddev_piat_ns, P_max_piat_ns, then
 * P_<flag>_packets for syn, cwr, ece, urg, ack, psh, rst, fin. */
#define CF_FLOW_FEATURES 66u

/* Feature i's name and unit ("packets", "bytes", "ns"); NULL when i is
 * out of range. */
const char *cf_flow_feature_name(uint32_t i);
const char *cf_flow_feature_unit(uint32_t i);
/* The features of one record as doubles (out: CF_FLOW_FEATURES values). */
void cf_flow_features(const cf_flow_record *rec, double *out);

typedef struct cf_feature_rows_opts {
	uint32_t capacity;  /* rows per batch, 1..2^24 */
	uint32_t seq_len;   /* 0 (no sequence columns) or the engine's seq_len, <= 4096 */
	double seq_pad;     /* sequence entries past seq_length */
	int float64;        /* features and sequences as float64 (else float32) */
	int labels;         /* add label_id and label */
} cf_feature_rows_opts;

typedef struct cf_feature_rows cf_feature_rows;

/* CF_OK, CF_ERR_ARG or CF_ERR_NOMEM (message in errbuf, may be NULL). */
int cf_feature_rows_create(const cf_feature_rows_opts *o, cf_feature_rows **out, char *errbuf);
void cf_feature_rows_free(cf_feature_rows *r);
/* The table's schema, owned by r. */
const cf_table_schema *cf_feature_rows_schema(const cf_feature_rows *r);
/* Appends one record as row number `row`; label_id and label (UTF-8,
 * NULL = "") are used when the rows have labels. CF_ERR_ARG when the
 * batch is full, CF_ERR_NOMEM when the label bytes cannot grow. */
int cf_feature_rows_add(cf_feature_rows *r, const cf_flow_record *rec, uint64_t row, int64_t label_id,
                        const char *label);
/* Rows held, and whether no more fit. */
uint32_t cf_feature_rows_count(const cf_feature_rows *r);
int cf_feature_rows_full(const cf_feature_rows *r);
/* The rows held as a batch of the schema (borrowed until the next add or
 * reset), and emptying it. */
const cf_table_batch *cf_feature_rows_batch(cf_feature_rows *r);
void cf_feature_rows_reset(cf_feature_rows *r);

#ifdef __cplusplus
}
#endif

#endif
