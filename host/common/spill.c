/*
 * Grouping on disk: stores read back by offset, hash partitions and
 * their splits, and the k-way merge's heap (spill.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/key_table.h"
#include "cuflow/status.h"
#include "spill.h"

enum { WBUF_BYTES = 1 << 20 }; /* the store's write buffer */

typedef struct spill_file {
	int fd;
	uint64_t size;   /* bytes written */
	char path[512];  /* for messages; unlinked at once */
} spill_file;

struct cf_spill {
	spill_file store_f;
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

void cf_spill_close(cf_spill *s)
{
	if (!s)
		return;
	if (s->store_f.fd >= 0)
		close(s->store_f.fd);
	free(s->wstore);
	free(s);
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

int cf_spill_open_store(cf_spill **out, const char *dir, const char *tag, char *err, size_t errlen)
{
	if (!dir || !*dir)
		dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/tmp";
	cf_spill *s = calloc(1, sizeof *s);
	if (!s)
		return no_memory(err, errlen);
	s->store_f.fd = -1;
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
	spill_file own;
	spill_file *f;          /* own, or the file of the set it was split from */
	part *p;
	uint32_t n;
	size_t rec, buf_bytes;
	char dir[400], tag[32]; /* for the sets a split makes */
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
	snprintf(p->dir, sizeof p->dir, "%s", dir);
	snprintf(p->tag, sizeof p->tag, "%s", tag);
	p->buf_bytes = buf_bytes / rec_size * rec_size;
	p->f = &p->own;
	int st = file_open(&p->own, dir, tag, "parts", err, errlen);
	if (st < 0) {
		p->own.fd = -1;
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
	if (p->f == &p->own && p->own.fd >= 0)
		close(p->own.fd);
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
	q->blocks[q->nblocks++] = (part_block){p->f->size, (uint32_t)q->nbuf};
	int st = file_write(p->f, q->buf, q->nbuf, err, errlen);
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

uint64_t cf_parts_records(const cf_parts *p, uint32_t i) { return p->p[i].records; }

int cf_parts_read(cf_parts *p, uint32_t i, void *out, char *err, size_t errlen)
{
	const part *q = &p->p[i];
	unsigned char *o = out;
	for (uint32_t b = 0; b < q->nblocks; b++) {
		int st = file_read(p->f, o, q->blocks[b].bytes, q->blocks[b].off, err, errlen);
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
		(void)fallocate(p->f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)q->blocks[b].off,
		                (off_t)q->blocks[b].bytes);
	free(q->blocks);
	q->blocks = NULL;
	q->nblocks = q->cap = 0;
}

void cf_heap_down(uint32_t *heap, uint32_t n, uint32_t i, const uint64_t *key)
{
	for (;;) {
		uint32_t l = 2 * i + 1, m = i;
		if (l < n && key[heap[l]] < key[heap[m]])
			m = l;
		if (l + 1 < n && key[heap[l + 1]] < key[heap[m]])
			m = l + 1;
		if (m == i)
			return;
		uint32_t x = heap[i];
		heap[i] = heap[m];
		heap[m] = x;
		i = m;
	}
}

/* Partition i of src into a new set of nsub partitions (level `level` of
 * cf_part_pick); src's partition is released. */
static int parts_split(cf_parts *src, uint32_t i, uint32_t nsub, uint32_t level, size_t key_off, cf_parts **out,
                       char *err, size_t errlen)
{
	part *q = &src->p[i];
	unsigned char *buf = malloc(src->buf_bytes);
	cf_parts *d = calloc(1, sizeof *d);
	int st = CF_OK;
	if (!buf || !d || !(d->p = calloc(nsub, sizeof *d->p))) {
		st = no_memory(err, errlen);
	} else { /* the new set appends to src's file: one descriptor for every level */
		d->own.fd = -1;
		d->f = src->f;
		d->n = nsub;
		d->rec = src->rec;
		d->buf_bytes = src->buf_bytes;
		memcpy(d->dir, src->dir, sizeof d->dir);
		memcpy(d->tag, src->tag, sizeof d->tag);
	}
	if (d && !d->p) {
		free(d);
		d = NULL;
	}
	*out = d;
	for (uint32_t b = 0; b <= q->nblocks && st == CF_OK; b++) {
		const unsigned char *r = buf;
		size_t bytes;
		if (b < q->nblocks) {
			bytes = q->blocks[b].bytes;
			st = file_read(src->f, buf, bytes, q->blocks[b].off, err, errlen);
		} else { /* what was never flushed */
			bytes = q->nbuf;
			r = q->buf;
		}
		for (size_t o = 0; o + src->rec <= bytes && st == CF_OK; o += src->rec) {
			cf_key5 k;
			memcpy(&k, r + o + key_off, sizeof k);
			st = cf_parts_add(d, cf_part_pick(cf_key5_hash(&k), level, nsub), r + o, err, errlen);
		}
	}
	free(buf);
	if (st == CF_OK)
		st = cf_parts_flush(d, err, errlen);
	cf_parts_release(src, i);
	q->records = 0;
	free(q->buf);
	q->buf = NULL;
	q->nbuf = 0;
	return st;
}

typedef struct unit_list {
	cf_unit *u;
	uint32_t n, cap;
	cf_parts **made;
	uint32_t nmade, mcap;
} unit_list;

static int units_of(unit_list *l, cf_parts *p, uint32_t level, uint64_t max_records, uint32_t nsub, size_t key_off,
                    char *err, size_t errlen)
{
	for (uint32_t i = 0; i < p->n; i++) {
		uint64_t n = p->p[i].records;
		if (!n)
			continue;
		if (n > max_records && level < 4) {
			cf_parts *sub = NULL;
			/* pieces of about half the limit: as few units as will do */
			uint64_t want = (2 * n + max_records - 1) / max_records;
			uint32_t ns = want < 2 ? 2 : want > nsub ? nsub : (uint32_t)want;
			if (l->nmade == l->mcap) {
				uint32_t nc = l->mcap ? l->mcap * 2 : 8;
				cf_parts **m = realloc(l->made, nc * sizeof *m);
				if (!m)
					return no_memory(err, errlen);
				l->made = m;
				l->mcap = nc;
			}
			int st = parts_split(p, i, ns, level + 1, key_off, &sub, err, errlen);
			if (sub)
				l->made[l->nmade++] = sub;
			if (st < 0)
				return st;
			uint32_t biggest = 0;
			for (uint32_t j = 0; j < ns; j++)
				if (sub->p[j].records > sub->p[biggest].records)
					biggest = j;
			/* one key can be more than the limit: after two splits that
			 * kept everything together it goes no deeper (two large keys
			 * stay together at one level in 1 / ns) */
			uint32_t next = sub->p[biggest].records == n && level >= 1 ? 4 : level + 1;
			if ((st = units_of(l, sub, next, max_records, nsub, key_off, err, errlen)) < 0)
				return st;
			continue;
		}
		if (l->n == l->cap) {
			uint32_t nc = l->cap ? l->cap * 2 : 256;
			cf_unit *u = realloc(l->u, nc * sizeof *u);
			if (!u)
				return no_memory(err, errlen);
			l->u = u;
			l->cap = nc;
		}
		l->u[l->n++] = (cf_unit){p, i};
	}
	return CF_OK;
}

int cf_parts_units(cf_parts *src, uint64_t max_records, uint32_t nsub, size_t key_off, cf_unit **units,
                   uint32_t *nunits, cf_parts ***made, uint32_t *nmade, char *err, size_t errlen)
{
	unit_list l;
	memset(&l, 0, sizeof l);
	int st = units_of(&l, src, 0, max_records ? max_records : 1, nsub < 2 ? 2 : nsub, key_off, err, errlen);
	*units = l.u;
	*nunits = l.n;
	*made = l.made;
	*nmade = l.nmade;
	return st;
}
