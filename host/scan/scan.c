/*
 * The scan pipeline: read -> BPF filter -> decode -> SoA batch -> backend
 * summary. Frames rejected by the filter or not decodable still count in
 * the summary, under their skip reason: nothing is dropped silently.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "cuflow/internal.h"
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

/* ---------------------------------------------------------------- hook thread */

/* With opts.hook_thread, runs of records go through a queue of HOOK_SLOTS
 * buffers to one thread that calls on_packets on them in order, while the
 * caller's thread reads and decodes the next ones. */
#define HOOK_RUN 4096
#define HOOK_SLOTS 3
#define HOOK_MIN_FILE (16u << 20)

typedef struct hook_pipe {
	int (*fn)(void *user, const cf_pkt *p, size_t n);
	void *user;
	cf_pkt *run[HOOK_SLOTS];
	size_t n[HOOK_SLOTS];
	int head, queued, cur;      /* queued runs: run[head] and the ones after it */
	int status;                 /* the hook's first negative return */
	int quit;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
} hook_pipe;

static void *hook_main(void *arg)
{
	hook_pipe *h = arg;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->queued && !h->quit)
			pthread_cond_wait(&h->cv, &h->mu);
		if (!h->queued)
			break;
		int k = h->head, failed = h->status < 0;
		pthread_mutex_unlock(&h->mu);
		int st = failed ? CF_OK : h->fn(h->user, h->run[k], h->n[k]);
		pthread_mutex_lock(&h->mu);
		if (st < 0 && h->status == CF_OK)
			h->status = st;
		h->head = (h->head + 1) % HOOK_SLOTS;
		h->queued--;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* 0, or -1 (out of memory, no thread: the caller goes on inline). */
static int hook_start(hook_pipe *h, const cf_scan_opts *o)
{
	memset(h, 0, sizeof *h);
	h->fn = o->on_packets;
	h->user = o->on_packet_user;
	for (int k = 0; k < HOOK_SLOTS; k++)
		if (!(h->run[k] = malloc(HOOK_RUN * sizeof(cf_pkt)))) {
			for (int j = 0; j < k; j++)
				free(h->run[j]);
			return -1;
		}
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (pthread_create(&h->th, NULL, hook_main, h) != 0) {
		pthread_mutex_destroy(&h->mu);
		pthread_cond_destroy(&h->cv);
		for (int k = 0; k < HOOK_SLOTS; k++)
			free(h->run[k]);
		return -1;
	}
	return 0;
}

/* Queues the run being filled (when not empty) and waits for a free one;
 * returns the hook's status so far. */
static int hook_submit(hook_pipe *h)
{
	pthread_mutex_lock(&h->mu);
	if (h->n[h->cur]) {
		h->queued++;
		pthread_cond_broadcast(&h->cv);
		while (h->queued == HOOK_SLOTS)
			pthread_cond_wait(&h->cv, &h->mu);
		h->cur = (h->head + h->queued) % HOOK_SLOTS;
		h->n[h->cur] = 0;
	}
	int st = h->status;
	pthread_mutex_unlock(&h->mu);
	return st;
}

/* Hands over what is left, waits for the hook to finish it, and frees the
 * pipe; returns the hook's status. */
static int hook_finish(hook_pipe *h)
{
	hook_submit(h);
	pthread_mutex_lock(&h->mu);
	h->quit = 1;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->th, NULL);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	for (int k = 0; k < HOOK_SLOTS; k++)
		free(h->run[k]);
	return h->status;
}

/* ---------------------------------------------------------------- scan */

static int flush(const cf_scan_opts *o, cf_pkt_batch *b, cf_scan_result *res)
{
	int st = CF_OK;
	if (b->count && o->summary_on_backend)
		st = cf_backend_summarize(o->backend, b, &res->summary);
	else /* the CPU reference's loop: no device round trip for a count */
		for (size_t i = 0; i < b->count; i++)
			cf_summary_add(&res->summary, b->ts_ns[i], b->caplen[i], b->wirelen[i], b->layers[i], b->skip[i]);
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
	cf_pkt run_inline[32]; /* records waiting for on_packets */
	cf_pkt *run = run_inline;
	size_t nrun = 0, run_cap = 32;
	hook_pipe pipe;
	int piped = o->on_packets && o->hook_thread && !o->on_frame && cf_reader_get_info(r)->file_size >= HOOK_MIN_FILE &&
	            hook_start(&pipe, o) == 0;
	if (piped) {
		run = pipe.run[0];
		run_cap = HOOK_RUN;
	}
	uint64_t n = 0;
	for (int stop = 0; !stop;) {
		/* a run of records decoded straight into the hook's buffer
		 * (cf_read_decode), or one frame at a time when a filter needs
		 * the frame's bytes */
		cf_pkt *dst = o->on_packets ? run + nrun : run;
		size_t got = 1;
		if (o->filter || o->on_frame) {
			if ((st = cf_reader_next(r, &f)) != CF_OK)
				break;
			if (o->filter && !cf_filter_match(o->filter, &f)) {
				memset(dst, 0, sizeof *dst);
				dst->ts_ns = f.ts_ns;
				dst->caplen = f.caplen;
				dst->wirelen = f.wirelen;
				dst->linktype = (uint16_t)f.linktype;
				dst->skip = CF_SKIP_FILTERED;
			} else {
				cf_decode_frame(&o->decode, &f, dst);
			}
			if (o->on_frame && (st = o->on_frame(o->on_packet_user, dst, f.data)) < 0) {
				res->status = st;
				snprintf(res->error, sizeof res->error, "%s: %s", path, cf_status_str(st));
				st = CF_OK;
				break;
			}
		} else if ((st = cf_read_decode(r, &o->decode, dst, o->on_packets ? run_cap - nrun : run_cap, &got)) !=
		           CF_OK) {
			break;
		}
		for (size_t i = 0; i < got && !stop; i++) {
			cf_pkt *p = dst + i;
			cf_pkt_batch_push(b, p);
			int pst = CF_OK;
			if (o->on_packets) {
				if (++nrun == run_cap) { /* only at the run's last record */
					if (piped) {
						pipe.n[pipe.cur] = nrun;
						pst = hook_submit(&pipe);
						run = pipe.run[pipe.cur];
					} else {
						pst = o->on_packets(o->on_packet_user, run, nrun);
					}
					nrun = 0;
				}
			} else if (o->on_packet) {
				pst = o->on_packet(o->on_packet_user, p);
			}
			if (pst < 0) {
				res->status = pst;
				snprintf(res->error, sizeof res->error, "%s: %s", path, cf_status_str(pst));
				stop = 1;
			} else if (b->count == b->capacity && flush(o, b, res) < 0) {
				stop = 1;
			}
			if ((++n & 0xffff) == 0 && o->progress)
				o->progress(o->progress_user, cf_reader_bytes_read(r), cf_reader_get_info(r)->file_size, n);
		}
	}
	int pst = CF_OK;
	if (piped) {
		pipe.n[pipe.cur] = res->status == CF_OK ? nrun : 0;
		pst = hook_finish(&pipe);
	} else if (nrun && res->status == CF_OK) {
		pst = o->on_packets(o->on_packet_user, run, nrun);
	}
	if (pst < 0 && res->status == CF_OK) {
		res->status = pst;
		snprintf(res->error, sizeof res->error, "%s: %s", path, cf_status_str(pst));
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
