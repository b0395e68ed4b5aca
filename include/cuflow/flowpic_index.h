/*
 * The index of FlowPic images as a column table (cuflow/table.h), for any
 * sink (cuflow/sink.h): one row per image, in emit order, with the
 * columns of `cuflow flowpic`'s index.csv (`cuflow flowpic --format
 * parquet` writes it to DIR/index.parquet):
 *
 *   src_ip string; src_port uint16; dst_ip string; dst_port uint16;
 *   protocol uint8; window uint32 (window index within the session);
 *   window_start_ns timestamp_ns; packets uint32 (packets in the image);
 *   with labels: label_id int64 (labels.npy), label string (index.csv);
 *   with augmentation: augment uint32, augment_param float64
 *
 * Rows are gathered into column arrays allocated once for `capacity`
 * rows (label strings in a buffer that grows); the caller writes the
 * batch when cf_flowpic_index_full says so and resets it.
 */
#ifndef CUFLOW_FLOWPIC_INDEX_H
#define CUFLOW_FLOWPIC_INDEX_H

#include <stdint.h>
#include "cuflow/status.h"
#include "cuflow/flowpic.h"
#include "cuflow/table.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_flowpic_index cf_flowpic_index;

/* What cf_flowpic_index_create's flags add after packets: label_id and
 * label; augment uint32 (0: the session's own packets, k: augmented copy
 * k) and augment_param float64 (the copy's drawn parameter). */
enum { CF_FLOWPIC_INDEX_LABELS = 1, CF_FLOWPIC_INDEX_AUGMENT = 2 };

/* capacity: rows per batch (1..2^24); flags: CF_FLOWPIC_INDEX_* (1, the
 * old "labels" argument, adds label_id and label). CF_OK, CF_ERR_ARG or
 * CF_ERR_NOMEM (message in errbuf, may be NULL). */
int cf_flowpic_index_create(uint32_t capacity, int flags, cf_flowpic_index **out, char *errbuf);
void cf_flowpic_index_free(cf_flowpic_index *x);
/* The table's schema, owned by x. */
const cf_table_schema *cf_flowpic_index_schema(const cf_flowpic_index *x);
/* Appends the row of one image (a cf_flowpic_emit_fn can call it);
 * label_id and label (UTF-8, NULL = "") are used when the index has
 * labels. CF_ERR_ARG when the batch is full, CF_ERR_NOMEM when the label
 * bytes cannot grow. */
int cf_flowpic_index_add(cf_flowpic_index *x, const cf_flowpic_image *im, int64_t label_id, const char *label);
/* Rows held, and whether no more fit. */
uint32_t cf_flowpic_index_count(const cf_flowpic_index *x);
int cf_flowpic_index_full(const cf_flowpic_index *x);
/* The rows held as a batch of the schema (borrowed until the next add or
 * reset), and emptying it. */
const cf_table_batch *cf_flowpic_index_batch(cf_flowpic_index *x);
void cf_flowpic_index_reset(cf_flowpic_index *x);

#ifdef __cplusplus
}
#endif

#endif
