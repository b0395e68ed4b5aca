/*
 * Grouping on disk: sorted runs of fixed-size records, their merge, a
 * store read back by offset, and hash partitions (spill.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuflow/status.h"
#include "spill.h"

enum { WBUF_BYTES = 1 << 20, /* write buffers */
       MAX_REC = 256 };      /* cf_spill_write_run's record */

typedef struct spill_file {
	int fd;
	uint64_t size;   /* bytes written */
	char path[512];  /* for messages; unlinked at once */
} spill_file;

typedef struct run {
	uint64_t off, n;         /* the run's records in the runs file */
	uint64_t next;           /* records read so far */
	unsigned char *buf;
	uint32_t pos, len;       /* records in buf */
} run;

struct cf_spill {
	spill_file runs_f, store_f;
	size_t rec, key_off;
	uint32_t key_mask;
	run *runs;
	uint32_t nruns, cap;
	uint32_t *heap, nheap;   /* run indices, smallest (group, run) first */
	uint32_t buf_recs;
	unsigned char *wrun;     /* run writer's buffer */
	size_t nwrun;            /* bytes in it */
	unsigned char *wstore;   /* the store's write buffer */
	size_t nwstore;
	uint64_t store_size;     /* bytes appended */
	char dir[400], tag[32];  /* for the store, opened at its first append */
};

static int io_fail(char *err, size_t errlen, const spill_file *f, const char *what, uint64_t off, int e)
{
	snprintf(err, errlen, "spill file %s: %s at byte %llu: %s", f->path, what, (unsigned long long)off,
	         e ? strerror(e) : "short");
	return CF_ERR_IO;
}

static int file_open(spill_file *f, const char *dir, const char *tag, const char *kind, char *err, size_t errlen)
{
	snprintf(f->path, sizeof f->path, "%s/cuflow-%s-%s-XXXXXX", dir, tag, kind);
	f->fd = mkostemp(f->path, O_CLOEXEC);
	if (f->fd < 0) {
		snprintf(err, errlen, "cannot create a spill file in %s: %s", dir, strerror(errno));
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

static int no_memory(char *err, size_t errlen)
{
	snprintf(err, errlen, "spill: out of memory");
	return CF_ERR_NOMEM;
}

int cf_spill_open(cf_spill **out, const char *dir, const char *tag, size_t rec_size, size_t key_off,
                  uint32_t key_mask, char *err, size_t errlen)
{
	if (!dir || !*dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	if (!rec_size || rec_size > MAX_REC || key_off + sizeof(uint32_t) > rec_size) {
		snprintf(err, errlen, "spill: bad record layout");
		return CF_ERR_ARG;
	}
	cf_spill *s = calloc(1, sizeof *s);
	if (!s)
		return no_memory(err, errlen);
	s->runs_f.fd = s->store_f.fd = -1;
	s->rec = rec_size;
	s->key_off = key_off;
	s->key_mask = key_mask;
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	snprintf(s->tag, sizeof s->tag, "%s", tag);
	int st = file_open(&s->runs_f, dir, tag, "runs", err, errlen);
	if (st == CF_OK && !(s->wrun = malloc(WBUF_BYTES)))
		st = no_memory(err, errlen);
	if (st < 0) {
		cf_spill_close(s);
		return st;
	}
	*out = s;
	return CF_OK;
}

void cf_spill_close(cf_spill *s)
{
	if (!s)
		return;
	if (s->runs_f.fd >= 0)
		close(s->runs_f.fd);
	if (s->store_f.fd >= 0)
		close(s->store_f.fd);
	for (uint32_t i = 0; i < s->nruns; i++)
		free(s->runs[i].buf);
	free(s->runs);
	free(s->heap);
	free(s->wrun);
	free(s->wstore);
	free(s);
}

uint32_t cf_spill_runs(const cf_spill *s) { return s->nruns; }

static int cf_spill_run_begin(cf_spill *s, char *err, size_t errlen)
{
	if (s->nruns == s->cap) {
		uint32_t nc = s->cap ? s->cap * 2 : 16;
		run *p = realloc(s->runs, nc * sizeof *p);
		if (!p)
			return no_memory(err, errlen);
		s->runs = p;
		s->cap = nc;
	}
	run *r = &s->runs[s->nruns++];
	memset(r, 0, sizeof *r);
	r->off = s->runs_f.size;
	s->nwrun = 0;
	return CF_OK;
}

static int flush_run(cf_spill *s, char *err, size_t errlen)
{
	int st = file_write(&s->runs_f, s->wrun, s->nwrun, err, errlen);
	s->runs[s->nruns - 1].n += s->nwrun / s->rec;
	s->nwrun = 0;
	return st;
}

static int cf_spill_run_append(cf_spill *s, const void *rec, char *err, size_t errlen)
{
	if (s->nwrun + s->rec > WBUF_BYTES) {
		int st = flush_run(s, err, errlen);
		if (st < 0)
			return st;
	}
	memcpy(s->wrun + s->nwrun, rec, s->rec);
	s->nwrun += s->rec;
	return CF_OK;
}

static int cf_spill_run_end(cf_spill *s, char *err, size_t errlen) { return flush_run(s, err, errlen); }

static uint32_t head_key(const cf_spill *s, const run *r)
{
	uint32_t k;
	memcpy(&k, r->buf + (size_t)r->pos * s->rec + s->key_off, sizeof k);
	return k & s->key_mask;
}

/* (group, run) order: the run index breaks ties so that a group's records
 * come in capture order. */
static int before(const cf_spill *s, uint32_t a, uint32_t b)
{
	uint32_t ka = head_key(s, &s->runs[a]), kb = head_key(s, &s->runs[b]);
	return ka != kb ? ka < kb : a < b;
}

static void sift_down(cf_spill *s, uint32_t i)
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
static int refill(cf_spill *s, run *r, char *err, size_t errlen)
{
	uint64_t left = r->n - r->next;
	if (!left)
		return 0;
	uint32_t k = left < s->buf_recs ? (uint32_t)left : s->buf_recs;
	int st = file_read(&s->runs_f, r->buf, (size_t)k * s->rec, r->off + r->next * s->rec, err, errlen);
	if (st < 0)
		return st;
	r->next += k;
	r->pos = 0;
	r->len = k;
	return 1;
}

int cf_spill_merge_start(cf_spill *s, size_t buf_bytes, char *err, size_t errlen)
{
	uint64_t recs = buf_bytes / s->rec;
	s->buf_recs = recs < 256 ? 256 : recs > (1u << 24) ? (1u << 24) : (uint32_t)recs;
	free(s->heap);
	if (!(s->heap = malloc((s->nruns ? s->nruns : 1) * sizeof *s->heap)))
		return no_memory(err, errlen);
	s->nheap = 0;
	for (uint32_t i = 0; i < s->nruns; i++) {
		run *r = &s->runs[i];
		if (!(r->buf = malloc((size_t)s->buf_recs * s->rec)))
			return no_memory(err, errlen);
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

int cf_spill_merge_next(cf_spill *s, void *out, char *err, size_t errlen)
{
	if (!s->nheap)
		return 0;
	uint32_t i = s->heap[0];
	run *r = &s->runs[i];
	memcpy(out, r->buf + (size_t)r->pos++ * s->rec, s->rec);
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

void cf_spill_runs_drop(cf_spill *s)
{
	if (ftruncate(s->runs_f.fd, 0) == 0)
		s->runs_f.size = 0;
}

int cf_spill_store_append(cf_spill *s, const void *p, size_t n, char *err, size_t errlen)
{
	const unsigned char *c = p;
	if (s->store_f.fd < 0) { /* the first append: callers that only group never make a store */
		int st = file_open(&s->store_f, s->dir, s->tag, "store", err, errlen);
		if (st < 0)
			return st;
		if (!(s->wstore = malloc(WBUF_BYTES)))
			return no_memory(err, errlen);
	}
	s->store_size += n;
	while (n) {
		if (s->nwstore == WBUF_BYTES) {
			int st = cf_spill_store_flush(s, err, errlen);
			if (st < 0)
				return st;
		}
		size_t k = WBUF_BYTES - s->nwstore < n ? WBUF_BYTES - s->nwstore : n;
		memcpy(s->wstore + s->nwstore, c, k);
		s->nwstore += k;
		c += k;
		n -= k;
	}
	return CF_OK;
}

int cf_spill_store_flush(cf_spill *s, char *err, size_t errlen)
{
	int st = file_write(&s->store_f, s->wstore, s->nwstore, err, errlen);
	s->nwstore = 0;
	return st;
}

uint64_t cf_spill_store_size(const cf_spill *s) { return s->store_size; }

int cf_spill_store_read(cf_spill *s, uint64_t off, size_t n, void *out, char *err, size_t errlen)
{
	if (off > s->store_f.size || n > s->store_f.size - off) {
		snprintf(err, errlen, "spill: read past the store (%llu + %zu of %llu bytes written)",
		         (unsigned long long)off, n, (unsigned long long)s->store_f.size);
		return CF_ERR_ARG;
	}
	return file_read(&s->store_f, out, n, off, err, errlen);
}

#define RADIX_COUNTS 65537

const uint32_t *cf_spill_sort_ids(cf_spill_sorter *s, const uint32_t *key, uint64_t n)
{
	if (n > s->cap || !s->cnt) {
		uint64_t nc = n > s->cap ? n : s->cap;
		free(s->idx);
		free(s->tmp);
		s->idx = malloc((nc ? nc : 1) * sizeof *s->idx);
		s->tmp = malloc((nc ? nc : 1) * sizeof *s->tmp);
		if (!s->cnt)
			s->cnt = malloc(RADIX_COUNTS * sizeof *s->cnt);
		s->cap = s->idx && s->tmp ? nc : 0;
		if (!s->idx || !s->tmp || !s->cnt)
			return NULL;
	}
	uint32_t *idx = s->idx, *tmp = s->tmp;
	uint64_t *cnt = s->cnt;
	uint32_t maxk = 0;
	for (uint64_t i = 0; i < n; i++) {
		idx[i] = (uint32_t)i;
		if (key[i] > maxk)
			maxk = key[i];
	}
	for (int shift = 0; shift < 32 && (shift == 0 || (maxk >> shift)); shift += 16) {
		memset(cnt, 0, RADIX_COUNTS * sizeof *cnt);
		for (uint64_t i = 0; i < n; i++)
			cnt[((key[i] >> shift) & 0xffff) + 1]++;
		for (uint32_t d = 0; d < 65536; d++)
			cnt[d + 1] += cnt[d];
		for (uint64_t i = 0; i < n; i++) {
			uint32_t j = idx[i];
			tmp[cnt[(key[j] >> shift) & 0xffff]++] = j;
		}
		memcpy(idx, tmp, n * sizeof *idx);
	}
	return idx;
}

int cf_spill_write_run(cf_spill *s, cf_spill_sorter *so, const uint32_t *key, uint64_t n, cf_spill_fill_fn fill,
                       void *user, char *err, size_t errlen)
{
	unsigned char rec[MAX_REC];
	const uint32_t *idx = cf_spill_sort_ids(so, key, n);
	if (!idx)
		return no_memory(err, errlen);
	int st = cf_spill_run_begin(s, err, errlen);
	for (uint64_t i = 0; i < n && st == CF_OK; i++) {
		fill(user, idx[i], rec);
		st = cf_spill_run_append(s, rec, err, errlen);
	}
	return st == CF_OK ? cf_spill_run_end(s, err, errlen) : st;
}

void cf_spill_sorter_free(cf_spill_sorter *s)
{
	free(s->idx);
	free(s->tmp);
	free(s->cnt);
	memset(s, 0, sizeof *s);
}

int cf_spill_open_store(cf_spill **out, const char *dir, const char *tag, char *err, size_t errlen)
{
	if (!dir || !*dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	cf_spill *s = calloc(1, sizeof *s);
	if (!s)
		return no_memory(err, errlen);
	s->runs_f.fd = s->store_f.fd = -1;
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	snprintf(s->tag, sizeof s->tag, "%s", tag);
	*out = s;
	return CF_OK;
}

/* ---------------------------------------------------------------- hash partitions */

typedef struct part_block {
	uint64_t off;
	uint32_t bytes;
} part_block;

typedef struct part {
	unsigned char *buf; /* write buffer, made at the first add */
	size_t nbuf;
	part_block *blocks;
	uint32_t nblocks, cap;
	uint64_t records;
} part;

struct cf_parts {
	spill_file f;
	part *p;
	uint32_t n;
	size_t rec, buf_bytes;
};

int cf_parts_open(cf_parts **out, const char *dir, const char *tag, uint32_t nparts, size_t rec_size,
                  size_t buf_bytes, char *err, size_t errlen)
{
	if (!dir || !*dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	if (!nparts || !rec_size || buf_bytes < rec_size) {
		snprintf(err, errlen, "spill: bad partition layout");
		return CF_ERR_ARG;
	}
	cf_parts *p = calloc(1, sizeof *p);
	if (!p || !(p->p = calloc(nparts, sizeof *p->p))) {
		free(p);
		return no_memory(err, errlen);
	}
	p->n = nparts;
	p->rec = rec_size;
	p->buf_bytes = buf_bytes / rec_size * rec_size;
	int st = file_open(&p->f, dir, tag, "parts", err, errlen);
	if (st < 0) {
		p->f.fd = -1;
		cf_parts_close(p);
		return st;
	}
	*out = p;
	return CF_OK;
}

void cf_parts_close(cf_parts *p)
{
	if (!p)
		return;
	if (p->f.fd >= 0)
		close(p->f.fd);
	for (uint32_t i = 0; i < p->n; i++) {
		free(p->p[i].buf);
		free(p->p[i].blocks);
	}
	free(p->p);
	free(p);
}

static int part_write(cf_parts *p, part *q, char *err, size_t errlen)
{
	if (!q->nbuf)
		return CF_OK;
	if (q->nblocks == q->cap) {
		uint32_t nc = q->cap ? q->cap * 2 : 4;
		part_block *b = realloc(q->blocks, nc * sizeof *b);
		if (!b)
			return no_memory(err, errlen);
		q->blocks = b;
		q->cap = nc;
	}
	q->blocks[q->nblocks++] = (part_block){p->f.size, (uint32_t)q->nbuf};
	int st = file_write(&p->f, q->buf, q->nbuf, err, errlen);
	q->nbuf = 0;
	return st;
}

int cf_parts_add(cf_parts *p, uint32_t i, const void *rec, char *err, size_t errlen)
{
	part *q = &p->p[i];
	if (!q->buf && !(q->buf = malloc(p->buf_bytes)))
		return no_memory(err, errlen);
	memcpy(q->buf + q->nbuf, rec, p->rec);
	q->nbuf += p->rec;
	q->records++;
	return q->nbuf == p->buf_bytes ? part_write(p, q, err, errlen) : CF_OK;
}

int cf_parts_flush(cf_parts *p, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < p->n; i++) {
		int st = part_write(p, &p->p[i], err, errlen);
		if (st < 0)
			return st;
		free(p->p[i].buf);
		p->p[i].buf = NULL;
	}
	return CF_OK;
}

uint32_t cf_parts_count(const cf_parts *p) { return p->n; }
uint64_t cf_parts_records(const cf_parts *p, uint32_t i) { return p->p[i].records; }

int cf_parts_read(cf_parts *p, uint32_t i, void *out, char *err, size_t errlen)
{
	const part *q = &p->p[i];
	unsigned char *o = out;
	for (uint32_t b = 0; b < q->nblocks; b++) {
		int st = file_read(&p->f, o, q->blocks[b].bytes, q->blocks[b].off, err, errlen);
		if (st < 0)
			return st;
		o += q->blocks[b].bytes;
	}
	if (q->nbuf) /* not flushed yet */
		memcpy(o, q->buf, q->nbuf);
	return CF_OK;
}

void cf_parts_release(cf_parts *p, uint32_t i)
{
	part *q = &p->p[i];
	for (uint32_t b = 0; b < q->nblocks; b++)
		(void)fallocate(p->f.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)q->blocks[b].off,
		                (off_t)q->blocks[b].bytes);
	free(q->blocks);
	q->blocks = NULL;
	q->nblocks = q->cap = 0;
}
