/*
 * Training sets from an IoT sessions database (the seed 002 notebook's
 * "Outstanding" list; definitions in docs/dataset.md): the rows of one
 * SQL query over the database `cuflow sessions` writes, a label per row,
 * stratified train / validation / test splits, min-max scaling and
 * category maps fitted on the training split only, and one-hot DNS names
 * of each row's device.
 *
 *   cf_dataset_opts o;
 *   cf_dataset_opts_default(&o);
 *   o.seed = 7;
 *   cf_dataset_summary s;
 *   if (cf_dataset_prepare("net.sqlite", "ds", &o, &s, errbuf) < 0) ...
 *
 * DIR receives X_{train,val,test}.npy (float64), y_*.npy and idx_*.npy
 * (int64), maps.json and, with `parquet`, dataset.parquet. Everything is
 * written into DIR.tmp-<pid> first and renamed to DIR at the end, so DIR
 * is either complete or absent.
 */
#ifndef CUFLOW_DATASET_H
#define CUFLOW_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "cuflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default query: the seed's select list plus d.mac (the row's device,
 * for the DNS columns). */
extern const char cf_dataset_default_sql[];

typedef struct cf_dataset_opts {
	const char *sql;            /* NULL: cf_dataset_default_sql */
	const char *label_column;   /* NULL: is_iot = device_type != 'Other' */
	const char *categorical;    /* comma-separated column names treated as categories
	                               (besides every column holding text); NULL: the seed's
	                               "srcport,dstport,manufacturer" */
	uint32_t top_dns;           /* K one-hot DNS names (default 100; 0: no DNS columns) */
	uint64_t min_count;         /* category values seen fewer times in training -> "other" (1) */
	double splits[3];           /* train, validation, test percentages (70, 15, 15) */
	uint64_t seed;              /* of the split (default 0) */
	int parquet;                /* also write dataset.parquet */
} cf_dataset_opts;

void cf_dataset_opts_default(cf_dataset_opts *o);

/* Checks three percentages: each >= 0 and finite, summing to 100 (within
 * 1e-9). CF_OK or CF_ERR_ARG with errbuf. */
int cf_dataset_check_splits(const double splits[3], char *errbuf);

/* What a run produced. */
typedef struct cf_dataset_summary {
	uint64_t rows;              /* query rows */
	uint64_t split_rows[3];     /* train, val, test */
	uint32_t columns;           /* of X */
	uint32_t classes;
	uint32_t dns_columns;       /* top names + dns_other; 0 without DNS */
	int dns_skipped;            /* the query has no `mac` column: no DNS columns */
} cf_dataset_summary;

/* Runs the whole preparation. summary may be NULL. CF_OK; CF_ERR_IO (the
 * database cannot be opened, an output cannot be written), CF_ERR_ARG (bad
 * options, a query SQLite rejects, a missing label column, a BLOB value),
 * CF_ERR_CORRUPT (a row's label is NULL, the database is not one SQLite
 * can read), CF_ERR_NO_DATA (the query returns no row), CF_ERR_NOMEM; the
 * message in errbuf (CF_ERRBUF_SIZE bytes, may be NULL). On failure no
 * DIR is created. Calls on different outputs may run at once. */
int cf_dataset_prepare(const char *db_path, const char *out_dir, const cf_dataset_opts *o,
                       cf_dataset_summary *summary, char *errbuf);

#ifdef __cplusplus
}
#endif

#endif
