/*
 * netml feature matrices as column tables (cuflow/table.h), for any sink
 * (cuflow/sink.h): one table per feature type, one row per subflow, with
 * what `cuflow netml --format csv` writes in subflows.csv, labels.csv and
 * <TYPE>.csv (`cuflow netml --format parquet` writes it to
 * DIR/<TYPE>.parquet):
 *
 *   src_ip, dst_ip string          "" for netml's IPv6 pseudo-flow
 *   src_port, dst_port int32       -1 for the pseudo-flow
 *   protocol int16                 6 or 17; -1 for the pseudo-flow
 *   packets uint32                 packets of the subflow
 *   first_time, last_time float64  seconds since the epoch (netml's
 *                                  float(pkt.time)), first and last packet
 *   with labels: label int64       (labels.npy / labels.csv)
 *   with header: header float64 vector of 8 + F: the row's first 8 + F
 *                values (8 TCP flag counts, then the TTLs; their FFT with
 *                fft), as cf_netml_features writes them
 *   features float64 vector of F   the type's F = cf_netml_feat_cols values
 *
 * so header then features is the row of cf_netml_features (and of
 * <TYPE>.npy), value for value.
 */
#ifndef CUFLOW_NETML_TABLE_H
#define CUFLOW_NETML_TABLE_H

#include <stdint.h>
#include "cuflow/status.h"
#include "cuflow/netml.h"
#include "cuflow/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_netml_table cf_netml_table;

/* After cf_netml_finish (and labelling): the table of `type` (enum
 * cf_netml_type) for h, which must outlive the table. fft, header: as
 * cf_netml_features; labels: add the label column; capacity: rows per
 * batch (1..2^24). CF_OK, CF_ERR_ARG (h not finished, bad type, a
 * feature width of 0 or over CF_COLUMN_WIDTH_MAX) or CF_ERR_NOMEM, with
 * the message in errbuf (may be NULL). */
int cf_netml_table_create(cf_netml *h, int type, int fft, int header, int labels, uint32_t capacity,
                          cf_netml_table **out, char *errbuf);
void cf_netml_table_free(cf_netml_table *t);
/* The table's schema, owned by t. */
const cf_table_schema *cf_netml_table_schema(const cf_netml_table *t);
/* Computes rows [row0, row0 + n) (n <= capacity, row0 + n <=
 * cf_netml_rows) on backend b (NULL: the CPU reference) and points
 * *batch at them (borrowed until the next fill or free). CF_OK, or what
 * cf_netml_features returns (message in cf_netml_error(h)). */
int cf_netml_table_fill(cf_netml_table *t, struct cf_backend *b, uint64_t row0, uint32_t n,
                        const cf_table_batch **batch);

#ifdef __cplusplus
}
#endif

#endif
