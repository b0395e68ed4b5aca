/*
 * cf_flowpic_writer: the files of `cuflow flowpic -o DIR` (see
 * cuflow/flowpic_out.h): images through the streaming npy writer, the
 * index as CSV or through the Parquet sink, labels, PNG previews, and
 * meta.json at close.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/text_fmt.h"
#include "cuflow/flowpic_out.h"
#include "cuflow/flowpic_index.h"
#include "cuflow/npy.h"
#include "cuflow/sink.h"

struct cf_flowpic_writer {
	char *dir;
	cf_flowpic_opts o;
	cf_labeler *labeler;
	char *label_source;
	cf_npy_writer *img, *lab;
	FILE *index;
	cf_flowpic_index *idx;  /* Parquet: index rows gathered here ... */
	cf_sink *idx_sink;      /* ... and written by the sink */
	uint64_t rows, dropped, png_left, png_done;
	int failed;
	char err[CF_ERRBUF_SIZE];
};

static const char *const axis_names[] = {"stretch", "edges", "scale"};
static const char *const value_names[] = {"count", "capped", "norm"};
static const char *const dir_names[] = {"up", "down", "both", "2ch"};

static int augmenting(const cf_flowpic_opts *o)
{
	return o->augment != CF_FLOWPIC_AUGMENT_NONE && o->augment_copies > 0;
}

size_t cf_flowpic_opts_json(const cf_flowpic_opts *o, char *out, size_t cap)
{
	int n = snprintf(out, cap,
	        "{\"resolution\": %u, \"window_s\": %.17g, \"step_s\": %.17g, \"right_closed\": %s, "
	        "\"time_axis\": \"%s\", \"anchor\": \"%s\", \"oversize\": \"%s\", \"size_bins\": \"%s\", \"value\": \"%s\", "
	        "\"direction\": \"%s\", \"min_packets\": %u, \"min_span_s\": %.17g, \"size\": \"%s\", \"sessions\": \"%s\", "
	        "\"idle_timeout_s\": %.17g, \"ipv4_only\": %s, \"time\": \"%s\", \"max_windows\": %u}",
	        o->res, o->window_s, o->step_s, o->right_closed ? "true" : "false",
	        o->time_axis >= 0 && o->time_axis <= CF_FLOWPIC_FIXED_SCALE ? axis_names[o->time_axis] : "?",
	        o->anchor_first ? "first" : "window", o->size_clip ? "clip" : "drop",
	        o->size_edges == CF_FLOWPIC_SIZE_EDGES ? "edges" : o->size_edges ? "tcbench" : "scale",
	        o->value >= 0 && o->value <= CF_FLOWPIC_NORM ? value_names[o->value] : "?",
	        o->direction >= 0 && o->direction <= CF_FLOWPIC_CHANNELS ? dir_names[o->direction] : "?", o->min_packets,
	        o->min_span_s, o->size_frame ? "frame" : "ip", o->sessions ? "bidir" : "uni", o->idle_timeout_s,
	        o->ipv4_only ? "true" : "false", o->time_model ? "exact" : "dpkt", o->max_windows);
	return n < 0 ? 0 : (size_t)n;
}

static int fail(cf_flowpic_writer *w, int st, const char *msg)
{
	if (!w->failed) {
		snprintf(w->err, sizeof w->err, "%s", msg);
		w->failed = st;
	}
	return w->failed;
}

static void ip_str(const uint8_t *a, int version, char *out, size_t cap)
{
	if (!inet_ntop(version == 6 ? AF_INET6 : AF_INET, a, out, (socklen_t)cap))
		snprintf(out, cap, "?");
}

static int make_dir(const char *path, char *errbuf)
{
	if (mkdir(path, 0777) < 0 && errno != EEXIST) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "cannot create %.400s: %s", path, strerror(errno));
		return CF_ERR_IO;
	}
	return CF_OK;
}

int cf_flowpic_writer_open(const char *dir, const cf_flowpic_opts *o, const cf_flowpic_writer_opts *wo,
                           cf_flowpic_writer **out, char *errbuf)
{
	static const cf_flowpic_writer_opts defaults;
	char path[4096];
	if (out)
		*out = NULL;
	if (!dir || !o || !out || o->value < CF_FLOWPIC_COUNT || o->value > CF_FLOWPIC_NORM || o->time_axis < 0 ||
	    o->time_axis > CF_FLOWPIC_FIXED_SCALE || o->direction < 0 || o->direction > CF_FLOWPIC_CHANNELS) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flowpic writer: a directory, options and an output are required");
		return CF_ERR_ARG;
	}
	if (!wo)
		wo = &defaults;
	cf_flowpic_writer *w = calloc(1, sizeof *w);
	if (!w || !(w->dir = strdup(dir)) || !(w->label_source = strdup(wo->label_source ? wo->label_source : ""))) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		cf_flowpic_writer_abort(w);
		return CF_ERR_NOMEM;
	}
	w->o = *o;
	w->labeler = wo->labeler;
	w->png_left = wo->png;
	int st = make_dir(dir, errbuf);
	if (st == CF_OK && wo->png) {
		snprintf(path, sizeof path, "%s/png", dir);
		st = make_dir(path, errbuf);
	}
	static const int npy_dtype[] = {CF_NPY_U2, CF_NPY_U1, CF_NPY_F4};
	uint64_t shape[3] = {cf_flowpic_channels(o), o->res, o->res};
	if (st == CF_OK) {
		snprintf(path, sizeof path, "%s/flowpic.npy", dir);
		st = cf_npy_writer_open(path, npy_dtype[o->value], 3, shape, wo->shard_rows, &w->img, errbuf);
	}
	if (st == CF_OK && w->labeler) {
		snprintf(path, sizeof path, "%s/labels.npy", dir);
		st = cf_npy_writer_open(path, CF_NPY_I8, 0, NULL, wo->shard_rows, &w->lab, errbuf);
	}
	if (st == CF_OK && wo->index == CF_FLOWPIC_INDEX_PARQUET) {
		snprintf(path, sizeof path, "%s/index.parquet", dir);
		st = cf_flowpic_index_create(65536, (w->labeler ? CF_FLOWPIC_INDEX_LABELS : 0) |
		                                     (augmenting(o) ? CF_FLOWPIC_INDEX_AUGMENT : 0), &w->idx, errbuf);
		if (st == CF_OK)
			st = cf_sink_open("parquet", cf_flowpic_index_schema(w->idx), path, NULL, &w->idx_sink, errbuf);
	} else if (st == CF_OK) {
		snprintf(path, sizeof path, "%s/index.csv", dir);
		if (!(w->index = fopen(path, "w"))) {
			if (errbuf)
				snprintf(errbuf, CF_ERRBUF_SIZE, "cannot write %.400s: %s", path, strerror(errno));
			st = CF_ERR_IO;
		} else {
			fputs(augmenting(o) ? "src_ip,src_port,dst_ip,dst_port,protocol,window,window_start_ns,packets,label,"
			                      "augment,augment_param\n"
			                    : "src_ip,src_port,dst_ip,dst_port,protocol,window,window_start_ns,packets,label\n",
			      w->index);
		}
	}
	if (st != CF_OK) {
		cf_flowpic_writer_abort(w);
		return st;
	}
	*out = w;
	return CF_OK;
}

/* Parquet: the index rows held go to the sink. */
static int index_flush(cf_flowpic_writer *w)
{
	if (!w->failed && cf_flowpic_index_count(w->idx) &&
	    cf_sink_write(w->idx_sink, cf_flowpic_index_batch(w->idx)) != CF_OK)
		fail(w, CF_ERR_IO, cf_sink_error(w->idx_sink));
	cf_flowpic_index_reset(w->idx);
	return w->failed;
}

int cf_flowpic_writer_add(cf_flowpic_writer *w, const cf_flowpic_image *im, int64_t label_id, const char *label)
{
	if (!w || !im)
		return CF_ERR_ARG;
	if (w->failed)
		return w->failed;
	if (im->channels != cf_flowpic_channels(&w->o) || im->res != w->o.res || !im->pixels)
		return fail(w, CF_ERR_ARG, "flowpic writer: the image does not have the options' shape");
	if (!w->labeler)
		label = NULL;
	int st = im->nonzero ? cf_npy_writer_append_sparse(w->img, im->pixels, 1, im->nonzero, im->n_nonzero)
	                     : cf_npy_writer_append(w->img, im->pixels, 1);
	if (st < 0 || (w->lab && cf_npy_writer_append(w->lab, &label_id, 1) < 0))
		return fail(w, CF_ERR_IO,
		            cf_npy_writer_error(w->lab && cf_npy_writer_error(w->lab)[0] ? w->lab : w->img));
	if (w->idx) {
		if (cf_flowpic_index_add(w->idx, im, label_id, label) < 0)
			return fail(w, CF_ERR_NOMEM, "out of memory");
		if (cf_flowpic_index_full(w->idx) && index_flush(w) < 0)
			return w->failed;
	} else {
		char a[64], b[64];
		ip_str(im->src_ip, im->ip_version, a, sizeof a);
		ip_str(im->dst_ip, im->ip_version, b, sizeof b);
		fprintf(w->index, "%s,%u,%s,%u,%u,%u,%" PRId64 ",%u,", a, im->src_port, b, im->dst_port, im->proto,
		        im->window, im->window_start_ns, im->packets);
		cf_fput_csv_field(w->index, label ? label : "");
		if (augmenting(&w->o)) fprintf(w->index, ",%u,%.17g", im->augment, im->augment_param);
		fputc('\n', w->index);
	}
	if (w->png_left) {
		char path[4096], err[CF_ERRBUF_SIZE];
		snprintf(path, sizeof path, "%s/png/%06" PRIu64 ".png", w->dir, w->rows);
		if ((st = cf_flowpic_png_write(path, im, &w->o, err)) < 0)
			return fail(w, st, err);
		w->png_left--;
		w->png_done++;
	}
	w->rows++;
	return CF_OK;
}

int cf_flowpic_writer_emit(void *user, const cf_flowpic_image *im)
{
	cf_flowpic_writer *w = user;
	if (!w || !im)
		return CF_ERR_ARG;
	int64_t label = -1;
	if (w->labeler) {
		cf_label_query q = {im->ip_version, im->proto, im->src_ip, im->dst_ip, im->src_port, im->dst_port,
		                    im->first_ns, im->last_ns};
		int id = cf_labeler_match(w->labeler, &q);
		if (id == CF_LABEL_DROP) {
			w->dropped++;
			return CF_OK;
		}
		label = id;
	}
	return cf_flowpic_writer_add(w, im, label, label >= 0 ? cf_labeler_name(w->labeler, (uint32_t)label) : NULL);
}

uint64_t cf_flowpic_writer_rows(const cf_flowpic_writer *w)
{
	return w ? w->rows : 0;
}

uint64_t cf_flowpic_writer_dropped(const cf_flowpic_writer *w)
{
	return w ? w->dropped : 0;
}

int cf_flowpic_writer_failed(const cf_flowpic_writer *w)
{
	return w && w->failed;
}

const char *cf_flowpic_writer_error(const cf_flowpic_writer *w)
{
	return w ? w->err : "";
}

static void write_meta(cf_flowpic_writer *w, const cf_flowpic_counters *k, const cf_flowpic_writer_meta *m)
{
	static const cf_flowpic_counters zero_k;
	static const cf_flowpic_writer_meta zero_m;
	char path[4096];
	if (!k)
		k = &zero_k;
	if (!m)
		m = &zero_m;
	snprintf(path, sizeof path, "%s/meta.json", w->dir);
	FILE *f = fopen(path, "w");
	if (!f) {
		char msg[CF_ERRBUF_SIZE];
		snprintf(msg, sizeof msg, "cannot write %.300s: %s", path, strerror(errno));
		fail(w, CF_ERR_IO, msg);
		return;
	}
	const cf_flowpic_opts *o = &w->o;
	static const char *const dtype[] = {"uint16", "uint8", "float32"};
	fprintf(f, "{\n  \"tool\": \"cuflow flowpic %s\",\n  \"backend\": \"%s\",\n  \"preset\": \"%s\",\n", cf_version(),
	        m->backend ? m->backend : "", m->preset ? m->preset : "");
	fprintf(f, "  \"shape\": [%" PRIu64 ", %u, %u, %u],\n  \"dtype\": \"%s\",\n  \"layout\": \"H[size row][time column], "
	        "row 0 = smallest size, column 0 = earliest time\",\n",
	        w->rows, cf_flowpic_channels(o), o->res, o->res, dtype[o->value]);
	char opts[1024];
	cf_flowpic_opts_json(o, opts, sizeof opts);
	fprintf(f, "  \"options\": %s,\n", opts);
	if (augmenting(o))
		fprintf(f, "  \"augment\": {\"kind\": \"%s\", \"copies\": %u, \"seed\": %" PRIu64 "},\n",
		        cf_flowpic_augment_name(o->augment), o->augment_copies, o->augment_seed);
	fprintf(f,
	        "  \"counters\": {\"packets\": %" PRIu64 ", \"no_ip_5tuple\": %" PRIu64 ", \"not_used\": %" PRIu64
	        ", \"after_single_window\": %" PRIu64 ", \"sessions\": %" PRIu64 ", \"windows\": %" PRIu64
	        ", \"windows_too_few_packets\": %" PRIu64 ", \"windows_too_short\": %" PRIu64 ", \"images\": %" PRIu64
	        ", \"images_unlabelled_dropped\": %" PRIu64 ", \"entries\": %" PRIu64 ", \"entries_outside_image\": %" PRIu64
	        ", \"batches\": %" PRIu64 "},\n",
	        k->packets, k->skipped_decode, k->not_used, k->after_window, k->sessions, k->windows, k->windows_small,
	        k->windows_short, k->images, w->dropped, k->entries, k->entries_outside, k->batches);
	fprintf(f, "  \"decoder_skips\": {");
	int first = 1;
	for (int r = 1; m->summary && r < CF_SKIP_COUNT; r++)
		if (m->summary->skip[r]) {
			fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ", cf_skip_name(r), m->summary->skip[r]);
			first = 0;
		}
	fprintf(f, "},\n  \"labels\": ");
	if (w->labeler) {
		fprintf(f, "{\"source\": ");
		cf_fput_json_str(f, w->label_source);
		fprintf(f, ", \"names\": [");
		for (uint32_t i = 0; i < cf_labeler_count(w->labeler); i++) {
			fprintf(f, "%s", i ? ", " : "");
			cf_fput_json_str(f, cf_labeler_name(w->labeler, i));
		}
		fprintf(f, "]}");
	} else {
		fprintf(f, "null");
	}
	fprintf(f, ",\n  \"files\": [");
	for (uint32_t i = 0; i < cf_npy_writer_files(w->img); i++) {
		fprintf(f, "%s{\"path\": ", i ? ", " : "");
		cf_fput_json_str(f, cf_npy_writer_file_path(w->img, i));
		fprintf(f, ", \"rows\": %" PRIu64 "}", cf_npy_writer_file_rows(w->img, i));
	}
	fprintf(f, "],\n  \"png\": %" PRIu64 "\n}\n", w->png_done);
	if (ferror(f) | fclose(f)) {
		char msg[CF_ERRBUF_SIZE];
		snprintf(msg, sizeof msg, "writing %.300s failed", path);
		fail(w, CF_ERR_IO, msg);
	}
}

/* Finishes the files; errors after the first are dropped. */
static void finish(cf_flowpic_writer *w)
{
	char err[CF_ERRBUF_SIZE];
	if (cf_npy_writer_close(w->img, err) < 0)
		fail(w, CF_ERR_IO, err);
	if (cf_npy_writer_close(w->lab, err) < 0)
		fail(w, CF_ERR_IO, err);
	w->img = w->lab = NULL;
	if (w->index && (ferror(w->index) | fclose(w->index)))
		fail(w, CF_ERR_IO, "writing index.csv failed");
	w->index = NULL;
	if (w->idx_sink) {
		index_flush(w);
		if (w->failed)
			cf_sink_abort(w->idx_sink);
		else if (cf_sink_close(w->idx_sink, NULL, err) != CF_OK)
			fail(w, CF_ERR_IO, err);
		w->idx_sink = NULL;
	}
}

static void writer_free(cf_flowpic_writer *w)
{
	cf_npy_writer_close(w->img, NULL);
	cf_npy_writer_close(w->lab, NULL);
	if (w->index)
		fclose(w->index);
	cf_sink_abort(w->idx_sink);
	cf_flowpic_index_free(w->idx);
	free(w->dir);
	free(w->label_source);
	free(w);
}

int cf_flowpic_writer_close(cf_flowpic_writer *w, const cf_flowpic_counters *k, const cf_flowpic_writer_meta *m,
                            char *errbuf)
{
	if (!w)
		return CF_OK;
	/* meta.json lists the npy files, so it goes before they close */
	if (!w->failed)
		write_meta(w, k, m);
	finish(w);
	int st = w->failed;
	if (st && errbuf)
		snprintf(errbuf, CF_ERRBUF_SIZE, "%s", w->err);
	writer_free(w);
	return st;
}

void cf_flowpic_writer_abort(cf_flowpic_writer *w)
{
	if (!w)
		return;
	if (!w->failed)
		w->failed = CF_ERR_IO; /* the Parquet index is removed, not finished */
	finish(w);
	writer_free(w);
}
