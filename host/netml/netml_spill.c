/*
 * netml's spill files: sorted runs of packets and the kept packets in row
 * order (netml_spill.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuflow/status.h"
#include "netml_spill.h"

enum { WBUF_RECS = 65536 }; /* 1 MB write buffers */

typedef struct spill_file {
	int fd;
	uint64_t size;   /* bytes written */
	char path[512];  /* for messages; unlinked at once */
} spill_file;

typedef struct run {
	uint64_t off, n;         /* the run's records in the runs file */
	uint64_t next;           /* records read so far */
	netml_rec *buf;
	uint32_t pos, len;       /* in buf */
} run;

struct netml_spill {
	spill_file runs_f, pkts_f;
	run *runs;
	uint32_t nruns, cap;
	uint32_t *heap, nheap;   /* run indices, smallest (flow, run) first */
	uint32_t buf_recs;
	netml_rec *wrec;         /* run writer's buffer */
	uint32_t nwrec;
	netml_pkt *wpkt;         /* kept packets' write buffer */
	uint32_t nwpkt;
	uint64_t npkts;
};

static int io_fail(char *err, size_t errlen, const spill_file *f, const char *what, uint64_t off, int e)
{
	snprintf(err, errlen, "netml: spill file %s: %s at byte %llu: %s", f->path, what, (unsigned long long)off,
	         e ? strerror(e) : "short");
	return CF_ERR_IO;
}

static int file_open(spill_file *f, const char *dir, const char *kind, char *err, size_t errlen)
{
	snprintf(f->path, sizeof f->path, "%s/cuflow-netml-%s-XXXXXX", dir, kind);
	f->fd = mkostemp(f->path, O_CLOEXEC);
	if (f->fd < 0) {
		snprintf(err, errlen, "netml: cannot create a spill file in %s: %s", dir, strerror(errno));
		return CF_ERR_IO;
	}
	unlink(f->path); /* gone when closed, whatever happens */
	return CF_OK;
}

static int file_write(spill_file *f, const void *p, size_t n, char *err, size_t errlen)
{
	const char *c = p;
	while (n) {
		ssize_t w = pwrite(f->fd, c, n, (off_t)f->size);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return io_fail(err, errlen, f, "write", f->size, w < 0 ? errno : ENOSPC);
		c += w;
		n -= (size_t)w;
		f->size += (uint64_t)w;
	}
	return CF_OK;
}

static int file_read(const spill_file *f, void *p, size_t n, uint64_t off, char *err, size_t errlen)
{
	char *c = p;
	while (n) {
		ssize_t r = pread(f->fd, c, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return io_fail(err, errlen, f, "read", off, r < 0 ? errno : 0);
		c += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return CF_OK;
}

int netml_spill_open(netml_spill **out, const char *dir, char *err, size_t errlen)
{
	if (!dir || !*dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	netml_spill *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "netml: out of memory");
		return CF_ERR_NOMEM;
	}
	s->runs_f.fd = s->pkts_f.fd = -1;
	int st = file_open(&s->runs_f, dir, "runs", err, errlen);
	if (st == CF_OK)
		st = file_open(&s->pkts_f, dir, "rows", err, errlen);
	if (st == CF_OK && (!(s->wrec = malloc(WBUF_RECS * sizeof *s->wrec)) ||
	                    !(s->wpkt = malloc(WBUF_RECS * sizeof *s->wpkt)))) {
		snprintf(err, errlen, "netml: out of memory");
		st = CF_ERR_NOMEM;
	}
	if (st < 0) {
		netml_spill_close(s);
		return st;
	}
	*out = s;
	return CF_OK;
}

void netml_spill_close(netml_spill *s)
{
	if (!s)
		return;
	if (s->runs_f.fd >= 0)
		close(s->runs_f.fd);
	if (s->pkts_f.fd >= 0)
		close(s->pkts_f.fd);
	for (uint32_t i = 0; i < s->nruns; i++)
		free(s->runs[i].buf);
	free(s->runs);
	free(s->heap);
	free(s->wrec);
	free(s->wpkt);
	free(s);
}

uint32_t netml_spill_runs(const netml_spill *s) { return s->nruns; }

int netml_spill_run_begin(netml_spill *s, char *err, size_t errlen)
{
	if (s->nruns == s->cap) {
		uint32_t nc = s->cap ? s->cap * 2 : 16;
		run *p = realloc(s->runs, nc * sizeof *p);
		if (!p) {
			snprintf(err, errlen, "netml: out of memory");
			return CF_ERR_NOMEM;
		}
		s->runs = p;
		s->cap = nc;
	}
	run *r = &s->runs[s->nruns++];
	memset(r, 0, sizeof *r);
	r->off = s->runs_f.size;
	s->nwrec = 0;
	return CF_OK;
}

static int flush_recs(netml_spill *s, char *err, size_t errlen)
{
	int st = file_write(&s->runs_f, s->wrec, s->nwrec * sizeof *s->wrec, err, errlen);
	s->runs[s->nruns - 1].n += s->nwrec;
	s->nwrec = 0;
	return st;
}

int netml_spill_run_append(netml_spill *s, const netml_rec *r, char *err, size_t errlen)
{
	if (s->nwrec == WBUF_RECS) {
		int st = flush_recs(s, err, errlen);
		if (st < 0)
			return st;
	}
	s->wrec[s->nwrec++] = *r;
	return CF_OK;
}

int netml_spill_run_end(netml_spill *s, char *err, size_t errlen) { return flush_recs(s, err, errlen); }

/* (flow, run) order: the run index breaks ties so that a flow's packets
 * come in capture order. */
static int before(const netml_spill *s, uint32_t a, uint32_t b)
{
	const run *x = &s->runs[a], *y = &s->runs[b];
	uint32_t fa = x->buf[x->pos].flow & ~NETML_REC_TCP, fb = y->buf[y->pos].flow & ~NETML_REC_TCP;
	return fa != fb ? fa < fb : a < b;
}

static void sift_down(netml_spill *s, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, m = i;
		if (l < s->nheap && before(s, s->heap[l], s->heap[m]))
			m = l;
		if (l + 1 < s->nheap && before(s, s->heap[l + 1], s->heap[m]))
			m = l + 1;
		if (m == i)
			return;
		uint32_t t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
}

/* Refills run r's buffer; 1 when it has a record, 0 when exhausted. */
static int refill(netml_spill *s, run *r, char *err, size_t errlen)
{
	uint64_t left = r->n - r->next;
	if (!left)
		return 0;
	uint32_t k = left < s->buf_recs ? (uint32_t)left : s->buf_recs;
	int st = file_read(&s->runs_f, r->buf, (size_t)k * sizeof *r->buf, r->off + r->next * sizeof *r->buf, err,
	                   errlen);
	if (st < 0)
		return st;
	r->next += k;
	r->pos = 0;
	r->len = k;
	return 1;
}

int netml_spill_merge_start(netml_spill *s, size_t buf_bytes, char *err, size_t errlen)
{
	s->buf_recs = (uint32_t)(buf_bytes / sizeof(netml_rec));
	if (s->buf_recs < 256)
		s->buf_recs = 256;
	free(s->heap);
	if (!(s->heap = malloc((s->nruns ? s->nruns : 1) * sizeof *s->heap))) {
		snprintf(err, errlen, "netml: out of memory");
		return CF_ERR_NOMEM;
	}
	s->nheap = 0;
	for (uint32_t i = 0; i < s->nruns; i++) {
		run *r = &s->runs[i];
		if (!(r->buf = malloc((size_t)s->buf_recs * sizeof *r->buf))) {
			snprintf(err, errlen, "netml: out of memory");
			return CF_ERR_NOMEM;
		}
		int st = refill(s, r, err, errlen);
		if (st < 0)
			return st;
		if (st)
			s->heap[s->nheap++] = i;
	}
	for (uint32_t i = s->nheap / 2; i-- > 0;)
		sift_down(s, i);
	return CF_OK;
}

int netml_spill_merge_next(netml_spill *s, netml_rec *out, char *err, size_t errlen)
{
	if (!s->nheap)
		return 0;
	uint32_t i = s->heap[0];
	run *r = &s->runs[i];
	*out = r->buf[r->pos++];
	if (r->pos == r->len) {
		int st = refill(s, r, err, errlen);
		if (st < 0)
			return st;
		if (!st) {
			free(r->buf);
			r->buf = NULL;
			s->heap[0] = s->heap[--s->nheap];
		}
	}
	if (s->nheap)
		sift_down(s, 0);
	return 1;
}

void netml_spill_runs_drop(netml_spill *s)
{
	if (ftruncate(s->runs_f.fd, 0) == 0)
		s->runs_f.size = 0;
}

int netml_spill_pkts_append(netml_spill *s, const netml_pkt *p, uint64_t n, char *err, size_t errlen)
{
	for (uint64_t i = 0; i < n; i++) {
		if (s->nwpkt == WBUF_RECS) {
			int st = netml_spill_pkts_flush(s, err, errlen);
			if (st < 0)
				return st;
		}
		s->wpkt[s->nwpkt++] = p[i];
	}
	s->npkts += n;
	return CF_OK;
}

int netml_spill_pkts_flush(netml_spill *s, char *err, size_t errlen)
{
	int st = file_write(&s->pkts_f, s->wpkt, s->nwpkt * sizeof *s->wpkt, err, errlen);
	s->nwpkt = 0;
	return st;
}

uint64_t netml_spill_pkts_count(const netml_spill *s) { return s->npkts; }

int netml_spill_pkts_read(netml_spill *s, uint64_t first, uint64_t n, netml_pkt *out, char *err, size_t errlen)
{
	if (first > s->npkts || n > s->npkts - first || (first + n) * sizeof *out > s->pkts_f.size) {
		snprintf(err, errlen, "netml: spill read past the kept packets (%llu + %llu of %llu)",
		         (unsigned long long)first, (unsigned long long)n, (unsigned long long)s->npkts);
		return CF_ERR_ARG;
	}
	return file_read(&s->pkts_f, out, n * sizeof *out, first * sizeof *out, err, errlen);
}
