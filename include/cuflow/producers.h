/*
 * The built-in producers (cuflow/producer.h) and their configurations.
 * Each config has a _default function that sets every field; open copies
 * what it needs (strings included), so a config may be freed after open.
 *
 *   producer   tables                 rows
 *   flows      "flows"                one per flow: cf_flow_rows (cuflow/flow_rows.h)
 *   features   "features"             one per flow: cf_feature_rows (cuflow/feature_rows.h)
 *   netml      "IAT", "SIZE", ...     one per subflow and selected type: cf_netml_table
 *                                     (cuflow/netml_table.h); netml's quantiles are
 *                                     taken over each input file on its own, except
 *                                     the dimension, which the config fixes (`dim`)
 *   summary    "summary"              one per input: what the scan counted (cuflow info)
 *   flowpic    "index", "images"      one per image, same rows in both: cf_flowpic_index
 *                                     (cuflow/flowpic_index.h), and the image as one
 *                                     vector column `image` of shape channels x res x res
 *                                     (uint16 / uint8 / float32 as the options' value)
 *   windows    "windows"              one per window of the file's packets: seed 001's
 *                                     aggregates (cuflow/windows.h, docs/windows.md)
 */
#ifndef CUFLOW_PRODUCERS_H
#define CUFLOW_PRODUCERS_H

#include <stdint.h>
#include "cuflow/producer.h"
#include "cuflow/windows.h"
#include "cuflow/flow.h"
#include "cuflow/feature_rows.h"
#include "cuflow/label.h"
#include "cuflow/netml.h"
#include "cuflow/flowpic.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Labels for the producers that take them (features, flowpic): at most
 * one of csv, constant, from_dir. The producer opens its own labeler per
 * instance; label ids do not depend on which worker saw which file: a CSV
 * numbers its labels as it is read, a constant is id 0, and from_dir
 * registers `dir_names` (every input's directory name, in input order;
 * cf_label_dir_name) first. Rows the labeler drops are counted. */
typedef struct cf_producer_labels {
	const char *csv;              /* ground-truth CSV (cf_labeler_open_csv) */
	cf_label_opts csv_opts;
	const char *constant;         /* every row gets this label */
	int from_dir;                 /* the name of the directory holding each input */
	const char *const *dir_names; /* from_dir: the names to number first, in order */
	uint32_t n_dir_names;
} cf_producer_labels;

void cf_producer_labels_default(cf_producer_labels *l);
/* 1 when l asks for labels. */
int cf_producer_labels_on(const cf_producer_labels *l);
struct cf_run_inputs;
/* from_dir: sets l's dir_names to every input's directory name
 * (cf_label_dir_name, "unknown" when it has none), in input order, in
 * *names (n_dir_names of them), which the caller keeps for the run and
 * then frees with cf_producer_labels_free_dir_names. Without from_dir:
 * nothing (*names NULL). CF_OK or CF_ERR_NOMEM (message in errbuf). */
int cf_producer_labels_dir_names(cf_producer_labels *l, const struct cf_run_inputs *in, char ***names,
                                 char *errbuf);
void cf_producer_labels_free_dir_names(char **names, size_t n);

/* "flows": cf_flow_rows of every flow; id is a CF_COLUMN_RUN_ID. */
typedef struct cf_flows_producer_config {
	cf_flow_opts flow;     /* the flow engine's options */
	uint32_t seq_len;      /* sequence columns (0: none; <= flow.seq_len) */
	uint32_t batch_rows;   /* rows per emitted batch (default 4096) */
} cf_flows_producer_config;
void cf_flows_producer_config_default(cf_flows_producer_config *c);
const cf_producer_ops *cf_producer_flows(void);

/* "features": training rows; row is a CF_COLUMN_ROW_NUMBER, id a
 * CF_COLUMN_RUN_ID. rows.capacity is the batch size. */
typedef struct cf_features_producer_config {
	cf_flow_opts flow;
	cf_feature_rows_opts rows;   /* rows.labels is set from `labels` */
	cf_producer_labels labels;
} cf_features_producer_config;
void cf_features_producer_config_default(cf_features_producer_config *c);
const cf_producer_ops *cf_producer_features(void);

/* "netml": netml's features of every input file, one table per type in
 * `types` (bit 1 << enum cf_netml_type), in the enum's order; each
 * file's rows go out type after type, in blocks of batch_rows.
 *
 * Row width: netml's dimension (self.dim: IAT and SAMP rows have dim - 1
 * values, SIZE dim, IAT_SIZE 2 dim - 1, the header 8 + those) is a
 * quantile of each capture's subflow sizes, so two files would give two
 * widths while a table has one, known at open. So `dim` is required: it
 * is netml.fixed_dim (cf_netml_opts) for every file, rows longer than it
 * are cut and shorter ones padded with zeros as netml does with its own
 * dim. (To reproduce netml on one capture, give the dim `cuflow netml`
 * writes to meta.json.) open fails with a message when dim is 0.
 *
 * Every other quantile (split interval, SAMP width) stays per file.
 * Decoding reads the outer headers only (tunnels not followed), as
 * cf_netml_scan_file. Labels: a CIC-IDS2017 CSV, loaded once at open into
 * the library's labeler (CF_LABEL_MATCH_TUPLE_DIRECTIONAL) and applied to
 * each file with cf_netml_label_with (subflows without a row are dropped
 * and counted), or one constant. A file where netml has no rows or would crash
 * (its CF_ERR_NO_DATA: no flow survives, a zero split interval or SAMP
 * width with gaps, no subflow in the label file) adds no rows to any
 * table and is counted (counter "files_no_data"); it is not an error.
 * Counters: cf_netml_counters' fields by name, then files_no_data. */
typedef struct cf_netml_producer_config {
	cf_netml_opts netml;     /* netml.fixed_dim is set from dim */
	uint32_t dim;            /* netml's dimension for every file (>= 2); 0: open fails */
	uint32_t types;          /* bit mask; 0 = every type */
	int fft, header;         /* as cf_netml_features */
	const char *labels_csv;  /* NULL: none */
	int have_label;          /* 1: every subflow gets `label` */
	int64_t label;
	uint32_t batch_rows;     /* rows computed per block (default 4096), 1..2^24 */
} cf_netml_producer_config;
void cf_netml_producer_config_default(cf_netml_producer_config *c);
const cf_producer_ops *cf_producer_netml(void);

/* "flowpic": FlowPic images of every input file (default options: the
 * "official" preset; decoding reads the outer headers, as
 * cf_flowpic_scan_file). Tables "index" (with label_id and label columns
 * when labels are on) and "images", row i of one being row i of the
 * other, in the library's emit order; images the labeler drops are left
 * out of both (counter "images_unlabelled_dropped"). Both tables' batches
 * go out together (index, then images) when batch_rows images are held,
 * or fewer when batch_rows images would take over 64 MiB (1500 x 1500
 * uint16 images: 14), and at the end of each file. Counters:
 * cf_flowpic_counters' fields by name (this file's), then
 * images_unlabelled_dropped. */
typedef struct cf_flowpic_producer_config {
	cf_flowpic_opts pic;
	cf_producer_labels labels;
	uint32_t batch_rows;     /* index rows / images per emitted batch (default 64) */
} cf_flowpic_producer_config;
void cf_flowpic_producer_config_default(cf_flowpic_producer_config *c);
const cf_producer_ops *cf_producer_flowpic(void);

/* "summary": one row per input of what the scan counted (`cuflow info`'s
 * numbers: frames, bytes, first/last time, frames per layer, frames not
 * decoded per reason, format, and the error that stopped a damaged file).
 * No options yet. */
typedef struct cf_summary_producer_config {
	int reserved;
} cf_summary_producer_config;
void cf_summary_producer_config_default(cf_summary_producer_config *c);
const cf_producer_ops *cf_producer_summary(void);

/* "windows": one row per window of each input's packets (cuflow/windows.h);
 * windows do not span files here (each file's rows depend on it alone);
 * flow_batch is numbered across the run. */
typedef struct cf_windows_producer_config {
	cf_windows_opts win;
	cf_producer_labels labels; /* constant or from_dir: a `label` column (each file's
	                              label on its rows); a labels CSV is refused */
} cf_windows_producer_config;
void cf_windows_producer_config_default(cf_windows_producer_config *c);
const cf_producer_ops *cf_producer_windows(void);

#ifdef __cplusplus
}
#endif

#endif
