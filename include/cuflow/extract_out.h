/*
 * The training-data writer: what `cuflow extract -o DIR` writes (without
 * --jobs), for any caller that runs the flow engine (cuflow/flow.h)
 * itself. One row per flow record, in emit order:
 *
 *   DIR/features.npy   N x CF_FLOW_FEATURES statistics (float32, or float64)
 *   DIR/sequences.npy  N x L x 3 first L packets (size, inter-arrival ns,
 *                      direction +1/-1), padded with seq_pad (seq_len L > 0)
 *   DIR/lengths.npy    N int32: valid sequence entries per row (L > 0)
 *   DIR/labels.npy     N int64 label ids (with a labeler)
 *   DIR/flows.csv      row,id,end_reason,src_ip,dst_ip,src_port,dst_port,
 *                      protocol,ip_version,vlan_id,tunnel_id,first_seen_ns,
 *                      last_seen_ns,label (the label quoted where it holds a
 *                      comma, quote or line break)
 *   DIR/schema.json    columns, units, conventions, labels and their match
 *                      report, options, counters, files; written at close
 * With shard_rows every array is split into files of that many rows
 * (features-00000.npy, ...), listed in schema.json's "files".
 * CF_EXTRACT_PARQUET writes all of it as one table instead,
 * DIR/features.parquet (cuflow/feature_rows.h through the Parquet sink,
 * renamed into place at close), plus schema.json.
 *
 * Use:
 *
 *   cf_extract_writer *w;
 *   cf_extract_writer_open(dir, &wo, &w, err);   (wo.seq_len = the engine's)
 *   cf_flow_engine_open(&fo, backend, cf_extract_writer_emit, w, &e, err);
 *   ... cf_flow_scan_file per capture, cf_flow_engine_finish ...
 *   cf_extract_writer_close(w, &meta, err);      (or _abort)
 *
 * Times are int64 ns since the Unix epoch. A writer is used by one thread
 * at a time; it prints nothing.
 */
#ifndef CUFLOW_EXTRACT_OUT_H
#define CUFLOW_EXTRACT_OUT_H

#include <stdint.h>
#include "cuflow/status.h"
#include "cuflow/summary.h"
#include "cuflow/flow.h"
#include "cuflow/label.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cf_extract_writer_opts.format */
enum cf_extract_format {
	CF_EXTRACT_NPY = 0,   /* the arrays + flows.csv (default) */
	CF_EXTRACT_PARQUET    /* features.parquet */
};

typedef struct cf_extract_writer_opts {
	int format;               /* enum cf_extract_format */
	int float64;              /* features and sequences as float64 (else float32) */
	uint32_t seq_len;         /* the engine's cf_flow_opts.seq_len (0: no sequences) */
	double seq_pad;           /* sequence entries past a flow's packets */
	uint64_t shard_rows;      /* npy: rows per file, 0 = one file; Parquet: must be 0 */
	cf_labeler *labeler;      /* borrowed, may be NULL: labels.npy and the label
	                             column; cf_extract_writer_emit matches with it */
	const char *label_source; /* schema.json "labels"."source" (e.g. the CSV path,
	                             "constant", "directory"); NULL: "" */
} cf_extract_writer_opts;

/* What schema.json says besides the columns. */
typedef struct cf_extract_writer_meta {
	const cf_flow_opts *flow;         /* the options the engine ran with ("options", "size") */
	const char *backend;              /* "cpu", "cuda"; NULL or "": "none" */
	const cf_flow_counters *counters; /* the engine's, after the last finish */
	const cf_summary *summary;        /* the captures' summaries merged (packets read, decoded) */
	uint64_t ts_bad_fraction;         /* the readers' timestamp counters, all captures */
	uint64_t ts_out_of_range;         /* (cf_scan_result.info) */
} cf_extract_writer_meta;

typedef struct cf_extract_writer cf_extract_writer;

/* Creates dir when missing and opens its files (wo NULL: float32, no
 * sequences, npy, no labels). CF_OK with *out set, or CF_ERR_ARG /
 * CF_ERR_IO / CF_ERR_NOMEM with the message in errbuf (may be NULL) and
 * *out NULL. */
int cf_extract_writer_open(const char *dir, const cf_extract_writer_opts *wo, cf_extract_writer **out,
                           char *errbuf);

/* Writes one record as the next row (its first seq_len sequence entries);
 * label_id and label (UTF-8, NULL = "") are used when the writer has a
 * labeler. CF_OK, or CF_ERR_IO / CF_ERR_NOMEM; after an error every
 * later add returns CF_ERR_IO. */
int cf_extract_writer_add(cf_extract_writer *w, const cf_flow_record *rec, int64_t label_id, const char *label);

/* A cf_flow_emit_fn (user: the writer): labels the record with the
 * writer's labeler (a flow that matches nothing and has no default
 * label is left out and counted in schema.json's "dropped_flows"), then
 * cf_extract_writer_add. */
int cf_extract_writer_emit(void *w, const cf_flow_record *rec);

/* Rows written, flows left out unlabelled, whether writing failed (for
 * a run loop to stop on), and the failure's text ("" when none or not
 * known; never NULL). */
uint64_t cf_extract_writer_rows(const cf_extract_writer *w);
uint64_t cf_extract_writer_dropped(const cf_extract_writer *w);
int cf_extract_writer_failed(const cf_extract_writer *w);
const char *cf_extract_writer_error(const cf_extract_writer *w);

/* Finishes the output: npy, schema.json (listing the files), then the
 * arrays' final headers and flows.csv; Parquet, the table renamed into
 * place, then schema.json (a writer that failed removes it and writes
 * no schema). Frees w. CF_OK, or the first error with its message in
 * errbuf (may be NULL). m may be NULL (zero counters); NULL w: CF_OK. */
int cf_extract_writer_close(cf_extract_writer *w, const cf_extract_writer_meta *m, char *errbuf);

/* Stops without schema.json: the arrays and flows.csv keep the rows
 * written (headers finished), features.parquet's temporary file is
 * removed. Frees w; NULL is accepted. */
void cf_extract_writer_abort(cf_extract_writer *w);

#ifdef __cplusplus
}
#endif

#endif
