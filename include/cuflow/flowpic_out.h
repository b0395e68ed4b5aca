/*
 * The FlowPic dataset writer: what `cuflow flowpic -o DIR` writes (without
 * --jobs), for any caller that runs cf_flowpic itself:
 *
 *   DIR/flowpic.npy     N x C x H x W images (uint16 counts, uint8 capped,
 *                       float32 normalised: cf_flowpic_opts.value); with
 *                       shard_rows: flowpic-00000.npy, ...
 *   DIR/index.csv       one row per image: src_ip,src_port,dst_ip,dst_port,
 *                       protocol,window,window_start_ns,packets,label (the
 *                       label quoted where it holds a comma, quote or line
 *                       break; empty without labels)
 *     or DIR/index.parquet  the same rows through the Parquet sink
 *                       (cuflow/flowpic_index.h), with CF_FLOWPIC_INDEX_PARQUET
 *   DIR/labels.npy      int64 label ids, with a labeler (sharded alike)
 *   DIR/meta.json       options, shape, counters, decoder skips, label
 *                       names, files, written by cf_flowpic_writer_close
 *   DIR/png/NNNNNN.png  previews of the first `png` images
 *
 * Use:
 *
 *   cf_flowpic_writer *w;
 *   cf_flowpic_writer_open(dir, &opts, &wo, &w, err);
 *   cf_flowpic_open(&opts, backend, cf_flowpic_writer_emit, w, &h, err);
 *   ... cf_flowpic_scan_file(h, path, &so, &res) per capture ...
 *   cf_flowpic_counters k; cf_flowpic_counters_get(h, &k);
 *   cf_flowpic_writer_close(w, &k, &meta, err);   (or _abort)
 *
 * Errors stick: after one, add and emit return it again and close reports
 * it. A writer is used by one thread at a time; it prints nothing.
 */
#ifndef CUFLOW_FLOWPIC_OUT_H
#define CUFLOW_FLOWPIC_OUT_H

#include <stdint.h>
#include "cuflow/status.h"
#include "cuflow/summary.h"
#include "cuflow/flowpic.h"
#include "cuflow/label.h"

#ifdef __cplusplus
extern "C" {
#endif

/* cf_flowpic_writer_opts.index */
enum cf_flowpic_index_format {
	CF_FLOWPIC_INDEX_CSV = 0,  /* DIR/index.csv (default) */
	CF_FLOWPIC_INDEX_PARQUET   /* DIR/index.parquet */
};

typedef struct cf_flowpic_writer_opts {
	int index;                /* enum cf_flowpic_index_format */
	uint64_t shard_rows;      /* images per flowpic.npy / labels.npy file; 0: one file */
	uint64_t png;             /* PNG previews of the first png images (DIR/png, created) */
	cf_labeler *labeler;      /* borrowed, may be NULL: labels.npy and the label
	                             column; cf_flowpic_writer_emit matches with it */
	const char *label_source; /* meta.json "labels"."source" (e.g. the CSV path,
	                             "constant", "directory"); NULL: "" */
} cf_flowpic_writer_opts;

/* What meta.json says besides the options and the counters. */
typedef struct cf_flowpic_writer_meta {
	const char *preset;        /* the preset the options started from ("official") */
	const char *backend;       /* "cpu", "cuda" */
	const cf_summary *summary; /* the captures' summaries merged: "decoder_skips";
	                              NULL: none */
} cf_flowpic_writer_meta;

typedef struct cf_flowpic_writer cf_flowpic_writer;

/* The options as meta.json's "options" object (one line, fixed key order:
 * equal options give equal text), into out (cap bytes, NUL-terminated;
 * 1024 is enough). Returns the length it needed. */
size_t cf_flowpic_opts_json(const cf_flowpic_opts *o, char *out, size_t cap);

/* Creates dir (and dir/png with png > 0) when missing and opens its
 * files; o is copied (meta.json's options, the images' shape and type),
 * wo may be NULL (defaults: CSV index, one file, no PNG, no labels).
 * CF_OK with *out set, or CF_ERR_ARG / CF_ERR_IO / CF_ERR_NOMEM with the
 * message in errbuf (may be NULL) and *out NULL. */
int cf_flowpic_writer_open(const char *dir, const cf_flowpic_opts *o, const cf_flowpic_writer_opts *wo,
                           cf_flowpic_writer **out, char *errbuf);

/* Writes one image (channels and res must be the options'): its pixels
 * to flowpic.npy, its row to the index, label_id to labels.npy and label
 * (UTF-8, NULL = "") to the index's label column when the writer has a
 * labeler (otherwise both are ignored), and its PNG while previews are
 * due. CF_OK, or the (sticky) CF_ERR_IO / CF_ERR_NOMEM / CF_ERR_ARG. */
int cf_flowpic_writer_add(cf_flowpic_writer *w, const cf_flowpic_image *im, int64_t label_id, const char *label);

/* A cf_flowpic_emit_fn (user: the writer): labels the image with the
 * writer's labeler (an image that matches nothing and has no default
 * label is left out and counted in meta.json's
 * "images_unlabelled_dropped"), then cf_flowpic_writer_add. */
int cf_flowpic_writer_emit(void *w, const cf_flowpic_image *im);

/* Images written, images left out unlabelled, and whether an error
 * stuck (its text, "" when none; never NULL). */
uint64_t cf_flowpic_writer_rows(const cf_flowpic_writer *w);
uint64_t cf_flowpic_writer_dropped(const cf_flowpic_writer *w);
int cf_flowpic_writer_failed(const cf_flowpic_writer *w);
const char *cf_flowpic_writer_error(const cf_flowpic_writer *w);

/* Writes meta.json (k: cf_flowpic_counters_get's; m may be NULL), then
 * finishes every file (npy headers with their row counts, the Parquet
 * index renamed into place) and frees w. CF_OK, or the first error (an
 * earlier sticky one included; then meta.json is not written) with its
 * message in errbuf (may be NULL). NULL is accepted (CF_OK). */
int cf_flowpic_writer_close(cf_flowpic_writer *w, const cf_flowpic_counters *k, const cf_flowpic_writer_meta *m,
                            char *errbuf);

/* Stops without meta.json: the npy files and index.csv keep the rows
 * written (headers finished), index.parquet's temporary file is removed;
 * frees w. NULL is accepted. */
void cf_flowpic_writer_abort(cf_flowpic_writer *w);

#ifdef __cplusplus
}
#endif

#endif
