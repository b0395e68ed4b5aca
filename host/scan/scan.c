/*
 * The scan pipeline: read -> BPF filter -> decode -> SoA batch -> backend
 * summary. Frames rejected by the filter or not decodable still count in
 * the summary, under their skip reason: nothing is dropped silently.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "cuflow/cuflow.h"
#include "read/reader_internal.h"

#define FILTER_LINKTYPES 16

struct cf_filter {
	char *expr;
	int n;
	struct {
		uint32_t linktype;
		int ok;                  /* 0: the expression does not compile for it */
		struct bpf_program prog;
	} prog[FILTER_LINKTYPES];
};

static int compile_for(const char *expr, uint32_t linktype, struct bpf_program *prog, char *errbuf)
{
	pcap_t *dead = pcap_open_dead((int)linktype, 262144);
	if (!dead) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "libpcap cannot open link type %u", linktype);
		return 0;
	}
	int ok = pcap_compile(dead, prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0;
	if (!ok && errbuf)
		snprintf(errbuf, CF_ERRBUF_SIZE, "bad filter '%s': %s", expr, pcap_geterr(dead));
	pcap_close(dead);
	return ok;
}

int cf_filter_open(const char *expr, cf_filter **out, char *errbuf)
{
	*out = NULL;
	struct bpf_program probe;
	if (!expr || !compile_for(expr, 1, &probe, errbuf))
		return CF_ERR_FILTER;
	pcap_freecode(&probe);
	cf_filter *f = calloc(1, sizeof *f);
	if (!f || !(f->expr = strdup(expr))) {
		free(f);
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	*out = f;
	return CF_OK;
}

int cf_filter_match(cf_filter *f, const cf_frame *frame)
{
	int i;
	for (i = 0; i < f->n; i++)
		if (f->prog[i].linktype == frame->linktype)
			break;
	if (i == f->n) {
		if (f->n == FILTER_LINKTYPES) { /* table full: recycle the last slot */
			i = f->n - 1;
			if (f->prog[i].ok)
				pcap_freecode(&f->prog[i].prog);
		} else {
			f->n++;
		}
		f->prog[i].linktype = frame->linktype;
		f->prog[i].ok = frame->linktype <= 0xffff &&
		                compile_for(f->expr, frame->linktype, &f->prog[i].prog, NULL);
	}
	if (!f->prog[i].ok)
		return 0;
	struct pcap_pkthdr h;
	memset(&h, 0, sizeof h);
	h.caplen = frame->caplen;
	h.len = frame->wirelen;
	return pcap_offline_filter(&f->prog[i].prog, &h, frame->data) != 0;
}

void cf_filter_close(cf_filter *f)
{
	if (!f)
		return;
	for (int i = 0; i < f->n; i++)
		if (f->prog[i].ok)
			pcap_freecode(&f->prog[i].prog);
	free(f->expr);
	free(f);
}

/* ---------------------------------------------------------------- scan */

static int flush(const cf_scan_opts *o, cf_pkt_batch *b, cf_scan_result *res)
{
	int st = CF_OK;
	if (b->count)
		st = cf_backend_summarize(o->backend, b, &res->summary);
	b->count = 0;
	if (st < 0 && res->status == CF_OK) {
		res->status = st;
		snprintf(res->error, sizeof res->error, "backend %s: %s", cf_backend_name(o->backend),
		         cf_backend_error(o->backend));
	}
	return st;
}

int cf_scan_file(const char *path, const cf_scan_opts *o, cf_scan_result *res)
{
	memset(res, 0, sizeof *res);
	res->error_offset = -1;
	cf_summary_clear(&res->summary);
	if (!o || !o->backend) {
		snprintf(res->error, sizeof res->error, "cf_scan_file: no backend");
		return res->status = CF_ERR_ARG;
	}
	cf_reader *r = NULL;
	int st = cf_reader_open_at(path, &r, res->error, &res->error_offset);
	if (st < 0)
		return res->status = st;
	res->opened = 1;

	cf_pkt_batch own, *b = o->batch;
	if (!b) {
		st = cf_pkt_batch_init(&own, 65536, cf_backend_kind(o->backend) == CF_BACKEND_CUDA);
		if (st < 0) {
			snprintf(res->error, sizeof res->error, "%s: out of memory", path);
			cf_reader_close(r);
			return res->status = st;
		}
		b = &own;
	}
	b->count = 0;

	cf_frame f;
	cf_pkt run[32]; /* records waiting for on_packets */
	size_t nrun = 0;
	uint64_t n = 0;
	while ((st = cf_reader_next(r, &f)) == CF_OK) {
		cf_pkt *p = &run[o->on_packets ? nrun : 0];
		if (o->filter && !cf_filter_match(o->filter, &f)) {
			memset(p, 0, sizeof *p);
			p->ts_ns = f.ts_ns;
			p->caplen = f.caplen;
			p->wirelen = f.wirelen;
			p->linktype = (uint16_t)f.linktype;
			p->skip = CF_SKIP_FILTERED;
		} else {
			cf_decode_frame(&o->decode, &f, p);
		}
		cf_pkt_batch_push(b, p);
		int pst = CF_OK;
		if (o->on_packets) {
			if (++nrun == 32) {
				pst = o->on_packets(o->on_packet_user, run, nrun);
				nrun = 0;
			}
		} else if (o->on_packet) {
			pst = o->on_packet(o->on_packet_user, p);
		}
		if (pst < 0) {
			res->status = pst;
			snprintf(res->error, sizeof res->error, "%s: %s", path, cf_status_str(pst));
			break;
		}
		if (b->count == b->capacity && flush(o, b, res) < 0)
			break;
		if ((++n & 0xffff) == 0 && o->progress)
			o->progress(o->progress_user, cf_reader_bytes_read(r), cf_reader_get_info(r)->file_size, n);
	}
	if (nrun && res->status == CF_OK) {
		int pst = o->on_packets(o->on_packet_user, run, nrun);
		if (pst < 0) {
			res->status = pst;
			snprintf(res->error, sizeof res->error, "%s: %s", path, cf_status_str(pst));
		}
	}
	flush(o, b, res); /* what was read before any error still counts */
	if (st < 0 && res->status == CF_OK) {
		res->status = st;
		snprintf(res->error, sizeof res->error, "%s", cf_reader_error(r));
		res->error_offset = cf_reader_error_offset(r);
	}
	if (o->progress)
		o->progress(o->progress_user, cf_reader_bytes_read(r), cf_reader_get_info(r)->file_size, n);
	res->info = *cf_reader_get_info(r);
	if (b == &own)
		cf_pkt_batch_free(&own);
	cf_reader_close(r);
	return res->status;
}
