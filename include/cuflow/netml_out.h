/*
 * netml's outputs as files: what `cuflow netml CAPTURE -o DIR` writes
 * (without --jobs), byte for byte, from a finished (and optionally
 * labelled) cf_netml handle (cuflow/netml.h):
 *
 *   DIR/<TYPE>.npy    float64, subflows x columns, one per type
 *                     (CF_NETML_OUT_CSV: <TYPE>.csv, values as %.17g,
 *                     which read back to the same doubles)
 *   DIR/labels.npy    int64, when labelled (CSV: labels.csv, one a line)
 *   DIR/subflows.csv  the row-aligned subflows: 5-tuple, packets,
 *                     first/last time (the IPv6 pseudo-flow as ,,-1,-1,-1)
 *   DIR/meta.json     interval, dim, SAMP width, shapes, options, counters
 *
 * CF_NETML_OUT_PARQUET writes DIR/<TYPE>.parquet instead of the matrices,
 * subflows.csv and the labels file: one cf_netml_table per type
 * (cuflow/netml_table.h: subflow, label, header and feature columns)
 * through the Parquet sink (cuflow/sink.h); meta.json as above.
 *
 * The matrices are computed on the backend in blocks of rows (at most
 * 64 MiB of values at a time), so memory does not grow with the capture.
 *
 * Typical use (errors omitted):
 *
 *   cf_netml_open(&no, &h, err);
 *   cf_netml_scan_file(h, capture, &so, &res);
 *   cf_netml_finish(h);
 *   cf_netml_write_opts w; cf_netml_write_opts_default(&w);
 *   w.types[0] = CF_NETML_STATS; w.ntypes = 1;
 *   w.capture = capture; w.netml = no; w.summary = &res.summary;
 *   if (cf_netml_write_dir(h, so.backend, "out", &w, err) < 0) ...
 */
#ifndef CUFLOW_NETML_OUT_H
#define CUFLOW_NETML_OUT_H

#include <stdint.h>
#include "cuflow/status.h"
#include "cuflow/netml.h"
#include "cuflow/summary.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cf_backend;

/* File formats of the feature matrices. */
enum cf_netml_out_format {
	CF_NETML_OUT_NPY = 0,  /* <TYPE>.npy, labels.npy (the default) */
	CF_NETML_OUT_CSV,      /* <TYPE>.csv, labels.csv */
	CF_NETML_OUT_PARQUET   /* <TYPE>.parquet only (plus meta.json) */
};

/* Options; set every field with cf_netml_write_opts_default first. */
typedef struct cf_netml_write_opts {
	/* The types (enum cf_netml_type) to write, each at most once, in this
	 * order (meta.json's "outputs" lists them so). */
	int types[CF_NETML_TYPE_COUNT];
	int ntypes;                 /* 1..CF_NETML_TYPE_COUNT (default 0: set it) */
	int fft, header;            /* as cf_netml_features (0, 0) */
	int format;                 /* enum cf_netml_out_format (CF_NETML_OUT_NPY) */
	/* Labels: when label_file or have_label is set the subflows' labels
	 * are written (labels.npy / labels.csv, the label column of the
	 * Parquet tables); label the handle first (cf_netml_label_csv,
	 * cf_netml_label_with, cf_netml_label_constant). meta.json's
	 * options.labels is label_file as a string, else `label` when
	 * have_label, else null. (NULL, 0, 0) */
	const char *label_file;
	int have_label;
	int64_t label;
	/* What meta.json records of the run (the handle does not keep it): */
	const char *capture;        /* "capture": the input's path (NULL: null) */
	cf_netml_opts netml;        /* "options": those h was opened with
	                               (cf_netml_opts_default's) */
	const cf_summary *summary;  /* the scan's summary, for
	                               "decoder_skips" (NULL: none listed) */
} cf_netml_write_opts;

/* Fills o with the defaults above. */
void cf_netml_write_opts_default(cf_netml_write_opts *o);

/* Sets one option of o by its `cuflow netml` name (--NAME VALUE), for
 * programs that take the command's option vocabulary (a config file, a
 * command line):
 *   "type"     a comma-separated list of type names (cf_netml_type_parse's),
 *              added to types in order, repeats ignored
 *   "fft", "header"   value NULL or "1": on, "0": off
 *   "format"   "npy", "csv" or "parquet"
 *   "labels"   label_file (the string is borrowed, not copied)
 *   "label"    an integer: have_label and label
 * and the netml options in o->netml:
 *   "q-interval", "interval", "tcp-timeout", "udp-timeout", "samp-width"
 *              a number >= 0
 *   "flow-pkts-thres"  1..1000000000
 *   "dim"      fixed_dim, 2..8388608
 *   "spill-mb" spill_bytes in MB (fractions allowed), 0..16777216 (0: never)
 *   "spill-dir"  spill_dir (borrowed, not copied)
 *   "fixed"    a comma-separated list of "trailing" (keep_trailing),
 *              "ipv6" (ipv6_flows), "all"
 * CF_OK; CF_ERR_ARG for an unknown name or a bad value (o may hold the
 * items of a list before the bad one), CF_ERR_NOMEM; the message, naming
 * the option as --NAME, in errbuf (may be NULL). */
int cf_netml_write_opts_set(cf_netml_write_opts *o, const char *name, const char *value, char *errbuf);

/* Writes the files above into dir (created when missing; files there
 * are replaced) from h, after cf_netml_finish and any labelling, on
 * backend b (NULL: the CPU reference; meta.json's "backend" is its
 * name). Types in the order given, then subflows.csv, the labels file,
 * meta.json. Prints nothing. CF_OK; CF_ERR_NO_DATA where
 * cf_netml_features gives it (a SAMP type with a window width of 0 and
 * a subflow with a gap); CF_ERR_ARG (bad options, h without rows);
 * CF_ERR_IO, CF_ERR_NOMEM, CF_ERR_DEVICE; on failure the message is in
 * errbuf (may be NULL) and the files before the failing one stay. */
int cf_netml_write_dir(cf_netml *h, struct cf_backend *b, const char *dir, const cf_netml_write_opts *o,
                       char *errbuf);

#ifdef __cplusplus
}
#endif

#endif
