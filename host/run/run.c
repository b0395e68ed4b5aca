/*
 * The run driver (include/cuflow/run.h): N workers, each with its own
 * backend, filter, packet batch and flow engine, take the inputs in order;
 * their rows go through bounded per-input queues to the committer (the
 * caller's thread), which writes them in input order with the run's flow
 * ids, appends one journal line per committed input, and writes the
 * manifest at the end.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cuflow/cuflow.h"
#include "cuflow/run.h"
#include "sink/sqlite_db.h"
#include "cuflow/table_copy.h"
#include "common/fs_util.h"
#include "common/text_fmt.h"
#include "run/run_internal.h"

#define CHUNK_TEXT (256u << 10) /* text bytes per queued chunk: an input with little
                                   output holds one, counted at this size */
#define CHUNK_ROWS 4096u        /* table rows per queued chunk (Parquet) */
#define CHUNK_ROW_BYTES 768u    /* memory of one cf_flow_rows row (82 columns, the strings) */
#define STAGE_BYTES (1u << 20)  /* committed text written once this much is staged */
#define BATCH_SECONDS 0.01      /* ... or this long after the last write */
#define POLL_NS 1000000         /* the committer looks for finished work every 1 ms */

struct hole {
	size_t at;    /* where the id goes in the chunk's text */
	uint64_t id;  /* the flow's id within its file */
};

struct chunk {
	struct chunk *next;
	char *text;
	size_t len, cap;
	struct hole *holes;
	size_t nholes, hcap;
	cf_flow_rows *rows;   /* Parquet */
	cf_table_copy *tab;   /* CF_RUN_TABLES: one batch of one table */
	size_t weight;        /* bytes counted against the queue */
	size_t *owner_pending; /* the producing worker's queued bytes */
};

struct slot {
	struct chunk *head, *tail;
	size_t queued;
	int done;
	cf_run_file f;
	uint64_t ids;         /* ids the input used (flows created; a producer's ids_used) */
	uint64_t *named_vals; /* CF_RUN_TABLES: the producer's counters */
	char *jbody;          /* its journal line after "rows" (text outputs), by the worker */
	char path_stat_ok;
	char in_db;           /* CF_RUN_SQLITE append: already in the database, not read */
	char error[CF_ERRBUF_SIZE];
};

struct run;

struct part {
	uint32_t table, index;
	uint64_t rows, bytes;
	char sha[65];          /* "" for a directory (npy) */
};

struct worker {
	struct run *r;
	pthread_t th;
	int started;
	cf_backend *backend;
	cf_filter *filter;
	cf_pkt_batch *batch;
	cf_flow_engine *engine;
	void *prod;           /* CF_RUN_TABLES: the worker's producer instance */
	cf_scan_result res;
	struct slot *s;       /* the input in work */
	size_t index;
	struct chunk *ch;
	uint64_t id_base;     /* engine's flows created before this input */
	char *scratch;
	uint64_t cur_bytes, cur_packets; /* progress within the input (atomics) */
	size_t pending;       /* bytes this worker has queued, all its inputs (under mu) */
	int ts_any;           /* continuous: the input's first and latest packet times */
	int64_t ts_first, ts_max;
};

struct run {
	const cf_run_opts *o;
	const cf_run_inputs *in;
	size_t n;
	struct slot *slots;
	pthread_mutex_t mu;
	pthread_cond_t wake_committer, wake_workers;
	size_t next;          /* next input to claim */
	size_t head;          /* input being committed */
	int abort;
	int fatal;            /* a worker's error: status */
	char fatal_msg[CF_ERRBUF_SIZE];
	uint64_t bytes_finished, packets_finished; /* atomics */
	/* output */
	int fd;               /* text: the partial file (or 1) */
	gzFile gz;
	cf_sink *sink;
	cf_flow_rows *schema_rows; /* owns the Parquet schema */
	char *stage;          /* committer's staging buffer */
	size_t stage_len, stage_cap;
	double last_flush;    /* when flush_batch last wrote */
	char *jbuf;           /* journal lines not yet written (their rows may not be) */
	size_t jlen, jcap;
	uint64_t out_len;     /* text bytes written */
	uint64_t id_offset;
	uint64_t rows;
	struct chunk *pool;   /* chunks to reuse (under mu) */
	size_t npool;
	cf_sha256 sha;        /* of the plain text output, as written */
	FILE *journal;
	char *path_partial, *path_journal, *path_manifest, *path_manifest_tmp;
	char *hdr_line;       /* the journal's first line */
	/* CF_RUN_TABLES */
	const cf_producer_ops *pops;
	uint32_t n_tables;
	const cf_table_schema **schemas; /* worker 0's producer's */
	const char **table_names;
	char **table_paths;
	const cf_sink_ops *sink_ops;
	cf_sink **sinks;
	uint64_t *table_rows;  /* rows written per table */
	uint64_t *table_base;  /* of those, before the input being committed */
	cf_producer_counter *named; /* names (worker 0's), values per slot */
	uint32_t n_named;
	uint64_t *table_bytes;
	char (*table_sha)[65];
	/* CF_RUN_TABLES parts: table t is OUTPUT/<name>/part-NNNNN<ext>; all
	 * tables' parts close together at an input boundary (a checkpoint) */
	struct part *parts;    /* closed parts, every table, in order */
	size_t nparts, parts_cap;
	uint32_t *part_index;  /* per table: the part being written (or next) */
	uint64_t *part_rows;   /* per table: rows in it */
	uint64_t part_limit;   /* rows that close the parts */
	uint32_t checkpoints;
	int resumed;
	double start;
	cf_sqlite_db *db;      /* CF_RUN_SQLITE */
	const cf_run_net *net; /* several ranks (NULL: this process alone) */
	int remote;            /* a rank other than 0: sends its inputs' rows to rank 0 */
};

/* Whether this rank reads input i (every input without ranks). */
static int owned(const struct run *r, size_t i)
{
	return !r->net || (int)(i % (size_t)r->net->size) == r->net->rank;
}

/* The formats that run a producer (not the flow engine's rows). */
static int uses_producer(const cf_run_opts *o)
{
	return o->format == CF_RUN_TABLES || o->format == CF_RUN_SQLITE || o->format == CF_RUN_CALLBACK;
}

struct run;
static char *journal_body(const struct run *r, const struct slot *s);
static int part_open(struct run *r, uint32_t t, char *err);

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static char *str_cat(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *s = malloc(na + nb + 1);
	if (s) {
		memcpy(s, a, na);
		memcpy(s + na, b, nb + 1);
	}
	return s;
}

void cf_run_opts_default(cf_run_opts *o)
{
	memset(o, 0, sizeof *o);
	o->jobs = 1;
	o->format = CF_RUN_TEXT;
	cf_flow_opts_default(&o->flow);
	cf_decode_opts_default(&o->decode);
	o->backend_kind = CF_BACKEND_AUTO;
}

int cf_run_manifest_path(const char *output, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s.manifest.json", output);
	return n < 0 || (size_t)n >= cap ? CF_ERR_ARG : CF_OK;
}

/* ------------------------------------------------------------ JSON */

void cf_run_json_str(FILE *o, const char *s)
{
	fputc('"', o);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(o, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(o, "\\u%04x", *p);
		else
			fputc(*p, o);
	}
	fputc('"', o);
}

const char *cf_run_json_str_read(const char *p, char *out, size_t cap)
{
	size_t n = 0;
	if (*p++ != '"')
		return NULL;
	for (; *p && *p != '"'; p++) {
		char c = *p;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				unsigned v;
				if (sscanf(p + 1, "%4x", &v) != 1)
					return NULL;
				c = (char)v;
				p += 4;
			} else if (*p) {
				c = *p;
			} else {
				return NULL;
			}
		}
		if (n + 1 >= cap)
			return NULL;
		out[n++] = c;
	}
	if (*p != '"')
		return NULL;
	out[n] = 0;
	return p + 1;
}

/* ------------------------------------------------------------ workers */

static void fail(struct run *r, int st, const char *msg)
{
	pthread_mutex_lock(&r->mu);
	if (!r->fatal) {
		r->fatal = st < 0 ? st : CF_ERR_IO;
		snprintf(r->fatal_msg, sizeof r->fatal_msg, "%.*s", CF_ERRBUF_SIZE - 1, msg);
	}
	/* atomic: emit() and the workers read it without the lock */
	__atomic_store_n(&r->abort, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&r->wake_committer);
	pthread_cond_broadcast(&r->wake_workers);
	pthread_mutex_unlock(&r->mu);
}

static void chunk_free(struct chunk *c)
{
	if (!c)
		return;
	free(c->text);
	free(c->holes);
	cf_flow_rows_free(c->rows);
	cf_table_copy_free(c->tab);
	free(c);
}

static struct chunk *chunk_new(struct run *r)
{
	pthread_mutex_lock(&r->mu);
	struct chunk *c = r->pool;
	if (c) {
		r->pool = c->next;
		r->npool--;
	}
	pthread_mutex_unlock(&r->mu);
	if (c) {
		c->next = NULL;
		c->len = c->nholes = 0;
		c->tab = NULL;
		if (c->rows)
			cf_flow_rows_reset(c->rows);
		return c;
	}
	c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	if (uses_producer(r->o))
		return c;
	if (r->o->format == CF_RUN_PARQUET) {
		char err[CF_ERRBUF_SIZE];
		if (cf_flow_rows_create(CHUNK_ROWS, 0, &c->rows, err) != CF_OK) {
			free(c);
			return NULL;
		}
		return c;
	}
	c->cap = CHUNK_TEXT > r->o->row_max ? CHUNK_TEXT : r->o->row_max;
	c->hcap = 4096;
	c->text = malloc(c->cap);
	c->holes = malloc(c->hcap * sizeof *c->holes);
	if (!c->text || !c->holes) {
		chunk_free(c);
		return NULL;
	}
	return c;
}

/* Keeps a committed chunk for reuse (allocating 1 MiB per input was a
 * page-fault storm on many small files). */
static void chunk_recycle(struct run *r, struct chunk *c)
{
	cf_table_copy_free(c->tab); /* a table batch is sized to its rows: not kept */
	c->tab = NULL;
	pthread_mutex_lock(&r->mu);
	if (r->npool < 64) {
		c->next = r->pool;
		r->pool = c;
		r->npool++;
		c = NULL;
	}
	pthread_mutex_unlock(&r->mu);
	chunk_free(c);
}

/* Hands the worker's chunk to its input's queue; waits while the input is
 * not being committed and its queue is full. */
static int push_chunk(struct worker *w)
{
	struct run *r = w->r;
	struct chunk *c = w->ch;
	w->ch = NULL;
	if (!c)
		return CF_OK;
	/* what the chunk holds in memory, not what it is filled with: every
	 * input ends with a part-filled chunk, and many small inputs queued
	 * ahead must still count as the memory they take */
	c->weight = c->tab    ? c->tab->bytes
	            : c->rows ? (size_t)CHUNK_ROWS * CHUNK_ROW_BYTES
	                      : c->cap + c->hcap * sizeof(struct hole);
	pthread_mutex_lock(&r->mu);
	struct slot *s = w->s;
	if (s->tail)
		s->tail->next = c;
	else
		s->head = c;
	s->tail = c;
	s->queued += c->weight;
	c->owner_pending = &w->pending;
	w->pending += c->weight;
	/* (the committer polls: no wake-up per chunk) */
	/* wait while this worker holds too much, over every input it finished
	 * that is not committed yet and its current one: also on the input
	 * being committed, whose chunks the committer takes as it goes (a
	 * slow output must not let them pile up) */
	if (w->pending > CF_RUN_QUEUE_BYTES)
		pthread_cond_signal(&r->wake_committer); /* about to wait: the committer drains now */
	while (!r->abort && w->pending > CF_RUN_QUEUE_BYTES)
		pthread_cond_wait(&r->wake_workers, &r->mu);
	int ab = r->abort;
	pthread_mutex_unlock(&r->mu);
	return ab ? CF_ERR_IO : CF_OK;
}

static int emit(void *user, const cf_flow_record *rec)
{
	struct worker *w = user;
	struct run *r = w->r;
	if (__atomic_load_n(&r->abort, __ATOMIC_RELAXED))
		return CF_ERR_IO;
	uint64_t local = rec->id - w->id_base;
	if (r->o->format == CF_RUN_PARQUET) {
		if (!w->ch && !(w->ch = chunk_new(r)))
			return CF_ERR_NOMEM;
		cf_flow_record copy = *rec;
		copy.id = local;
		if (cf_flow_rows_add(w->ch->rows, &copy) != CF_OK)
			return CF_ERR_ARG;
		w->s->f.rows++;
		return cf_flow_rows_full(w->ch->rows) ? push_chunk(w) : CF_OK;
	}
	size_t at = 0, idlen = 0;
	size_t n = r->o->row(r->o->row_user, rec, w->scratch, &at, &idlen);
	if (at + idlen > n)
		return CF_ERR_ARG;
	if (w->ch && (w->ch->len + n > w->ch->cap || w->ch->nholes == w->ch->hcap)) {
		int st = push_chunk(w);
		if (st < 0)
			return st;
	}
	if (!w->ch && !(w->ch = chunk_new(r)))
		return CF_ERR_NOMEM;
	struct chunk *c = w->ch;
	memcpy(c->text + c->len, w->scratch, at);
	c->holes[c->nholes].at = c->len + at;
	c->holes[c->nholes].id = local;
	c->nholes++;
	memcpy(c->text + c->len + at, w->scratch + at + idlen, n - at - idlen);
	c->len += n - idlen;
	w->s->f.rows++;
	return CF_OK;
}

/* CF_RUN_TABLES: a producer's batch, copied and queued for its input. */
static int emit_table(void *user, uint32_t table, const cf_table_batch *batch)
{
	struct worker *w = user;
	struct run *r = w->r;
	if (__atomic_load_n(&r->abort, __ATOMIC_RELAXED))
		return CF_ERR_IO;
	if (table >= r->n_tables || !batch->n_rows)
		return table >= r->n_tables ? CF_ERR_ARG : CF_OK;
	struct chunk *c = chunk_new(r);
	if (!c)
		return CF_ERR_NOMEM;
	int st = cf_table_batch_copy(r->schemas[table], batch, &c->tab);
	if (st < 0) {
		chunk_free(c);
		return st;
	}
	c->tab->table = table;
	w->s->f.rows += (uint64_t)batch->n_rows;
	w->ch = c;
	return push_chunk(w);
}

/* continuous: the times an input's records carry (skipped frames too) */
static void note_times(struct worker *w, const cf_pkt *p, size_t n)
{
	if (!n)
		return;
	if (!w->ts_any)
		w->ts_any = 1, w->ts_first = w->ts_max = p[0].ts_ns;
	for (size_t i = 0; i < n; i++)
		if (p[i].ts_ns > w->ts_max)
			w->ts_max = p[i].ts_ns;
}

/* The scan hooks of the workers: a stopped run (an error elsewhere, the
 * committer failing) ends the file being read at once, not at its end. */
static int engine_packets(void *user, const cf_pkt *p, size_t n)
{
	struct worker *w = user;
	if (__atomic_load_n(&w->r->abort, __ATOMIC_RELAXED))
		return CF_ERR_IO;
	if (w->r->o->continuous)
		note_times(w, p, n);
	return cf_flow_engine_add_batch(w->engine, p, n);
}

static int producer_packets(void *user, const cf_pkt *p, size_t n)
{
	struct worker *w = user;
	if (__atomic_load_n(&w->r->abort, __ATOMIC_RELAXED))
		return CF_ERR_IO;
	if (w->r->o->continuous)
		note_times(w, p, n);
	return w->r->o->producer->packets(w->prod, p, n);
}

static int producer_frame(void *user, const cf_pkt *p, const uint8_t *frame)
{
	struct worker *w = user;
	return w->r->o->producer->frame(w->prod, p, frame);
}

/* cf_producer_scan_file with the stop check in the hook. */
static int worker_scan_producer(struct worker *w, const cf_producer_file *pf, const cf_scan_opts *base, uint64_t *ids)
{
	const cf_producer_ops *po = w->r->o->producer;
	*ids = 0;
	int st = po->begin_file(w->prod, pf);
	if (st < 0) {
		memset(&w->res, 0, sizeof w->res);
		w->res.error_offset = -1;
		cf_summary_clear(&w->res.summary);
		return w->res.status = st;
	}
	cf_scan_opts so = *base;
	if (po->decode_opts)
		po->decode_opts(w->prod, &so.decode);
	so.on_packet = NULL;
	so.on_packets = producer_packets;
	so.on_packet_user = w;
	so.on_frame = po->flags & CF_PRODUCER_NEEDS_FRAMES ? producer_frame : NULL;
	cf_scan_file(pf->path, &so, &w->res);
	st = po->end_file(w->prod, &w->res, ids);
	return w->res.status < 0 ? w->res.status : st;
}

static void on_scan_progress(void *user, uint64_t done, uint64_t total, uint64_t packets)
{
	(void)total;
	struct worker *w = user;
	__atomic_store_n(&w->cur_bytes, done, __ATOMIC_RELAXED);
	__atomic_store_n(&w->cur_packets, packets, __ATOMIC_RELAXED);
}

static void counters_sub(cf_flow_counters *d, const cf_flow_counters *a, const cf_flow_counters *b)
{
	/* every field is a uint64 count; max_live is kept as the high-water mark */
	const uint64_t *pa = (const uint64_t *)a, *pb = (const uint64_t *)b;
	uint64_t *pd = (uint64_t *)d;
	for (size_t i = 0; i < sizeof *d / sizeof(uint64_t); i++)
		pd[i] = pa[i] - pb[i];
	d->max_live = a->max_live;
}

static int worker_open(struct worker *w, char *err)
{
	const cf_run_opts *o = w->r->o;
	int st;
	if (o->filter && (st = cf_filter_open(o->filter, &w->filter, err)) < 0)
		return st;
	if ((st = cf_backend_open(o->backend_kind, &w->backend, err)) < 0)
		return st;
	if ((st = cf_pkt_batch_create(&w->batch, 65536, w->backend)) < 0) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return st;
	}
	if (uses_producer(o)) {
		cf_producer_env env = {w->backend, emit_table, w};
		if ((st = o->producer->open(o->producer_config, &env, &w->prod, err)) < 0)
			return st;
		return CF_OK;
	}
	if ((st = cf_flow_engine_open(&o->flow, w->backend, emit, w, &w->engine, err)) < 0)
		return st;
	if (o->format != CF_RUN_PARQUET && !(w->scratch = malloc(o->row_max ? o->row_max : 1))) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	return CF_OK;
}

/* What a worker learned of an input it read, into its slot. */
static void slot_take_scan(struct worker *w, struct slot *s)
{
	s->f.summary = w->res.summary;
	s->f.status = w->res.status;
	snprintf(s->error, sizeof s->error, "%s", w->res.status < 0 ? w->res.error : "");
	if (w->res.opened) {
		s->f.ts_bad_fraction = w->res.info.ts_bad_fraction;
		s->f.ts_out_of_range = w->res.info.ts_out_of_range;
	}
	__atomic_add_fetch(&w->r->packets_finished, w->res.summary.packets, __ATOMIC_RELAXED);
}

/* The input is read (or skipped): the committer may take it. */
static void slot_done(struct worker *w, struct slot *s)
{
	struct run *r = w->r;
	if (!s->f.skipped) /* as bytes_total counts them */
		__atomic_add_fetch(&r->bytes_finished, s->f.size, __ATOMIC_RELAXED);
	__atomic_store_n(&w->cur_bytes, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&w->cur_packets, 0, __ATOMIC_RELAXED);
	char *jb = r->journal ? journal_body(r, s) : NULL; /* NULL: the committer formats it */
	pthread_mutex_lock(&r->mu);
	s->jbody = jb;
	s->done = 1; /* the committer polls: no wake-up per input */
	pthread_mutex_unlock(&r->mu);
}

/* cf_run_opts.continuous: every input is a piece of one packet stream, read
 * in order through one engine or producer instance that is finished only
 * after the last. Rows go to the input being read when they are emitted;
 * ids and row numbers are the stream's, so every input but the last adds
 * no ids (the committer's offsets stay where the stream began). */
static void stream_inputs(struct worker *w, const cf_scan_opts *base, cf_scan_result *opened)
{
	struct run *r = w->r;
	const cf_run_opts *o = r->o;
	const cf_producer_ops *po = uses_producer(o) ? o->producer : NULL;
	size_t last = r->n;
	for (size_t i = r->n; i-- > 0;)
		if (!r->slots[i].f.skipped) {
			last = i;
			break;
		}
	cf_scan_opts so = *base;
	so.on_packet = NULL;
	so.on_packet_user = w;
	if (po) {
		if (po->decode_opts)
			po->decode_opts(w->prod, &so.decode);
		so.on_packets = producer_packets;
		so.on_frame = po->flags & CF_PRODUCER_NEEDS_FRAMES ? producer_frame : NULL;
	} else {
		so.on_packets = engine_packets;
	}
	cf_producer_counter tmp[256];
	uint64_t prev_named[256] = {0};
	uint64_t stream_base = 0;
	int started = 0;
	/* end_file gets the scan of the last input that opened (`opened`):
	 * producers emit nothing for a file that did not, and a stream ending in
	 * a text file or a missing one still has its rows */
	int have_opened = 0;
	int64_t latest = INT64_MIN; /* the latest packet of the inputs before */
	for (size_t i = 0; i < r->n; i++) {
		pthread_mutex_lock(&r->mu);
		int ab = r->abort;
		r->next = i + 1;
		pthread_mutex_unlock(&r->mu);
		if (ab)
			return;
		struct slot *s = &r->slots[i];
		w->s = s;
		w->index = i;
		if (s->f.skipped) {
			slot_done(w, s);
			continue;
		}
		cf_producer_file pf = {s->f.path, i};
		int st = CF_OK;
		cf_flow_counters before;
		if (po && !started)
			st = po->begin_file(w->prod, &pf);
		else if (po && po->next_file)
			po->next_file(w->prod, &pf);
		if (!po) {
			before = *cf_flow_engine_counters(w->engine);
			if (!started)
				stream_base = w->id_base = before.flows;
		}
		started = 1;
		uint64_t ids = 0;
		w->ts_any = 0;
		if (st >= 0) {
			cf_scan_file(s->f.path, &so, &w->res);
			if (w->res.opened)
				memcpy(opened, &w->res, sizeof *opened), have_opened = 1;
			const cf_scan_result *end = w->res.opened || !have_opened ? &w->res : opened;
			if (i == last)
				st = po ? po->end_file(w->prod, end, &ids) : cf_flow_engine_finish(w->engine);
		}
		int pst = st >= 0 ? push_chunk(w) : st;
		if (__atomic_load_n(&r->abort, __ATOMIC_RELAXED))
			return;
		const char *perr = po ? po->error(w->prod) : cf_flow_engine_error(w->engine);
		if (pst < 0 || (po && perr[0])) {
			/* the producer or the engine failed (not the capture): the run stops */
			char m[CF_ERRBUF_SIZE];
			snprintf(m, sizeof m, "%.240s: %.240s", s->f.path, perr[0] ? perr : cf_status_str(pst));
			fail(r, pst < 0 ? pst : CF_ERR_IO, m);
			return;
		}
		if (po) {
			s->ids = ids;
			if (s->named_vals) {
				uint32_t k = po->counters(w->prod, tmp, 256);
				for (uint32_t j = 0; j < k && j < r->n_named && j < 256; j++) {
					s->named_vals[j] = tmp[j].value - prev_named[j];
					prev_named[j] = tmp[j].value;
				}
			}
		} else {
			const cf_flow_counters *now = cf_flow_engine_counters(w->engine);
			counters_sub(&s->f.counters, now, &before);
			s->ids = i == last ? now->flows - stream_base : 0;
		}
		slot_take_scan(w, s);
		if (w->ts_any) {
			s->f.first_ts_ns = w->ts_first;
			s->f.last_ts_ns = w->ts_max;
			if (latest > w->ts_first)
				s->f.overlap_ns = latest - w->ts_first;
			if (w->ts_max > latest)
				latest = w->ts_max;
		}
		slot_done(w, s);
	}
}

static void worker_stream(struct worker *w, const cf_scan_opts *base)
{
	cf_scan_result *opened = malloc(sizeof *opened);
	if (!opened) {
		fail(w->r, CF_ERR_NOMEM, "out of memory");
		return;
	}
	stream_inputs(w, base, opened);
	free(opened);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	const cf_run_opts *o = r->o;
	cf_scan_opts so;
	memset(&so, 0, sizeof so);
	so.decode = o->decode;
	so.filter = w->filter;
	so.backend = w->backend;
	so.batch = w->batch;
	so.progress = on_scan_progress;
	so.progress_user = w;
	so.hook_thread = o->hook_thread;
	if (o->continuous) {
		worker_stream(w, &so);
		chunk_free(w->ch);
		w->ch = NULL;
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&r->mu);
		size_t i = r->next;
		while (i < r->n && !owned(r, i)) /* another rank's */
			i++;
		if (r->abort || i >= r->n) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		r->next = i + 1;
		pthread_mutex_unlock(&r->mu);
		struct slot *s = &r->slots[i];
		w->s = s;
		w->index = i;
		if (!s->f.skipped && (uses_producer(o))) {
			const cf_producer_ops *po = o->producer;
			cf_producer_file pf = {s->f.path, i};
			uint64_t ids = 0;
			int st = worker_scan_producer(w, &pf, &so, &ids);
			if (st >= 0)
				st = push_chunk(w);
			if (__atomic_load_n(&r->abort, __ATOMIC_RELAXED))
				break;
			const char *perr = po->error(w->prod);
			if (perr[0] || (st < 0 && w->res.status >= 0)) {
				/* the producer failed (not the capture): the run stops */
				char m[CF_ERRBUF_SIZE];
				snprintf(m, sizeof m, "%.240s: %.240s", s->f.path, perr[0] ? perr : cf_status_str(st));
				fail(r, st < 0 ? st : CF_ERR_IO, m);
				break;
			}
			s->ids = ids;
			if (s->named_vals) {
				cf_producer_counter tmp[256];
				uint32_t k = po->counters(w->prod, tmp, 256);
				for (uint32_t j = 0; j < k && j < r->n_named; j++)
					s->named_vals[j] = tmp[j].value;
			}
			slot_take_scan(w, s);
		} else if (!s->f.skipped) {
			cf_flow_counters before = *cf_flow_engine_counters(w->engine);
			w->id_base = before.flows;
			cf_scan_opts fso = so;
			fso.on_packets = engine_packets;
			fso.on_packet_user = w;
			cf_scan_file(s->f.path, &fso, &w->res);
			int fin = cf_flow_engine_finish(w->engine);
			int st = push_chunk(w);
			if (__atomic_load_n(&r->abort, __ATOMIC_RELAXED))
				break;
			if (fin < 0 || st < 0) {
				const char *msg = cf_flow_engine_error(w->engine);
				char m[CF_ERRBUF_SIZE];
				snprintf(m, sizeof m, "%.240s: %.240s", s->f.path, msg[0] ? msg : cf_status_str(fin < 0 ? fin : st));
				fail(r, fin < 0 ? fin : st, m);
				break;
			}
			counters_sub(&s->f.counters, cf_flow_engine_counters(w->engine), &before);
			s->ids = s->f.counters.flows;
			slot_take_scan(w, s);
		}
		slot_done(w, s);
	}
	chunk_free(w->ch);
	w->ch = NULL;
	return NULL;
}

/* ------------------------------------------------------------ committer */

static int io_fail(struct run *r, const char *what, char *err)
{
	snprintf(err, CF_ERRBUF_SIZE, "cannot write %s (%s): %s", r->o->output, what, strerror(errno ? errno : EIO));
	return CF_ERR_IO;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k, n -= (size_t)k;
	}
	return 0;
}

static int out_text(struct run *r, const char *p, size_t n, char *err)
{
	errno = 0;
	if (r->gz) {
		if (n && gzwrite(r->gz, p, (unsigned)n) != (int)n)
			return io_fail(r, r->path_partial, err);
	} else if (write_all(r->fd, p, n) < 0) {
		return io_fail(r, r->fd == 1 ? "standard output" : r->path_partial, err);
	} else {
		cf_sha256_update(&r->sha, p, n);
	}
	r->out_len += n;
	return CF_OK;
}

/* Writes the staged rows. */
static int stage_flush(struct run *r, char *err)
{
	size_t n = r->stage_len;
	r->stage_len = 0;
	return n ? out_text(r, r->stage, n, err) : CF_OK;
}

static int stage_room(struct run *r, size_t n)
{
	if (r->stage_len + n <= r->stage_cap)
		return 0;
	size_t cap = r->stage_cap ? r->stage_cap : 1u << 20;
	while (cap < r->stage_len + n)
		cap *= 2;
	char *s = realloc(r->stage, cap);
	if (!s)
		return -1;
	r->stage = s, r->stage_cap = cap;
	return 0;
}

/* Parquet flow rows (cf_flow_rows' columns): the run's ids, then the sink. */
static int commit_flow_rows(struct run *r, const cf_table_batch *b, char *err)
{
	uint64_t *ids = (uint64_t *)(uintptr_t)b->columns[0].values; /* column 0: the id (uint64) */
	for (int64_t i = 0; i < b->n_rows; i++)
		ids[i] += r->id_offset;
	r->rows += (uint64_t)b->n_rows;
	if (cf_sink_write(r->sink, b) != CF_OK) {
		snprintf(err, CF_ERRBUF_SIZE, "%s", cf_sink_error(r->sink));
		return CF_ERR_IO;
	}
	return CF_OK;
}

static int commit_chunk(struct run *r, struct chunk *c, char *err)
{
	if (c->tab && r->o->format == CF_RUN_PARQUET) /* flow rows another rank sent, as a table copy */
		return commit_flow_rows(r, &c->tab->batch, err);
	if (c->tab) {
		uint32_t t = c->tab->table;
		const cf_table_schema *sc = r->schemas[t];
		cf_table_batch *b = &c->tab->batch;
		for (uint32_t k = 0; k < b->n_columns; k++) {
			uint32_t fl = cf_table_schema_column(sc, k)->flags;
			uint64_t add = fl & CF_COLUMN_RUN_ID ? r->id_offset : fl & CF_COLUMN_ROW_NUMBER ? r->table_base[t] : 0;
			if (!add)
				continue;
			uint64_t *v = cf_table_copy_values(c->tab, k); /* uint64 or int64: the same addition */
			for (int64_t i = 0; i < b->n_rows; i++)
				v[i] += add;
		}
		r->rows += (uint64_t)b->n_rows;
		r->table_rows[t] += (uint64_t)b->n_rows;
		if (r->db)
			return cf_sqlite_db_write(r->db, t, b, err);
		if (r->o->format == CF_RUN_CALLBACK) {
			int st = r->o->on_batch(r->o->user, t, sc, b);
			if (st < 0)
				snprintf(err, CF_ERRBUF_SIZE, "the batch consumer stopped the run (%s)", cf_status_str(st));
			return st < 0 ? st : CF_OK;
		}
		if (!r->sinks[t] && part_open(r, t, err) < 0)
			return CF_ERR_IO;
		r->part_rows[t] += (uint64_t)b->n_rows;
		if (cf_sink_write(r->sinks[t], b) != CF_OK) {
			snprintf(err, CF_ERRBUF_SIZE, "%s", cf_sink_error(r->sinks[t]));
			return CF_ERR_IO;
		}
		return CF_OK;
	}
	if (c->rows)
		return commit_flow_rows(r, cf_flow_rows_batch(c->rows), err);
	/* rows of several chunks (and inputs) are staged and written together:
	 * one write per MiB, not one per small input */
	if (stage_room(r, c->len + c->nholes * 21) < 0) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	size_t from = 0;
	char *p = r->stage + r->stage_len;
	for (size_t i = 0; i < c->nholes; i++) {
		memcpy(p, c->text + from, c->holes[i].at - from);
		p += c->holes[i].at - from;
		p = cf_fmt_u64(p, r->id_offset + c->holes[i].id);
		from = c->holes[i].at;
	}
	memcpy(p, c->text + from, c->len - from);
	p += c->len - from;
	r->rows += c->nholes;
	r->stage_len = (size_t)(p - r->stage);
	return r->stage_len >= STAGE_BYTES ? stage_flush(r, err) : CF_OK;
}

/* ------------------------------------------------------------ ranks */

/* Messages from a rank to rank 0, in the order of its inputs: the rows of
 * an input as its committer takes them (text with its id places, or one
 * table batch as the copy's memory block), then the input's facts. */
enum { NET_TEXT = 1, NET_TABLE = 2, NET_DONE = 3 };

struct net_hdr {
	uint32_t kind, table;
	uint64_t slot;
	uint64_t a, b;  /* TEXT: text bytes, id places; TABLE: block bytes, its address there */
};

struct net_done {
	int32_t status, skipped;
	uint64_t ids, rows, ts_bad_fraction, ts_out_of_range;
	int64_t first_ts_ns, last_ts_ns, overlap_ns;
	cf_summary summary;
	cf_flow_counters counters;
	char error[CF_ERRBUF_SIZE];
	/* then the producer's named counters, n_named of them */
};

static int net_send(struct run *r, const struct net_hdr *h, const void *p1, size_t n1, const void *p2, size_t n2,
                    char *err)
{
	size_t n = sizeof *h + n1 + n2;
	char *m = malloc(n);
	if (!m) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	memcpy(m, h, sizeof *h);
	if (n1)
		memcpy(m + sizeof *h, p1, n1);
	if (n2)
		memcpy(m + sizeof *h + n1, p2, n2);
	int st = r->net->send(r->net->user, 0, m, n);
	free(m);
	if (st < 0)
		snprintf(err, CF_ERRBUF_SIZE, "rank %d: cannot send to rank 0 (%s)", r->net->rank, cf_status_str(st));
	return st < 0 ? st : CF_OK;
}

static int net_send_table(struct run *r, size_t slot, const cf_table_copy *t, char *err)
{
	struct net_hdr h = {NET_TABLE, t->table, slot, t->bytes, (uint64_t)(uintptr_t)t->mem};
	return net_send(r, &h, t->mem, t->bytes, NULL, 0, err);
}

/* A worker rank's committer: the chunks of input `slot` go to rank 0. */
static int net_send_chunk(struct run *r, size_t slot, struct chunk *c, char *err)
{
	if (c->tab)
		return net_send_table(r, slot, c->tab, err);
	if (c->rows) {
		cf_table_copy *t = NULL;
		int st = cf_table_batch_copy(cf_flow_rows_schema(c->rows), cf_flow_rows_batch(c->rows), &t);
		if (st == CF_OK)
			st = net_send_table(r, slot, t, err);
		else
			snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		cf_table_copy_free(t);
		return st;
	}
	struct net_hdr h = {NET_TEXT, 0, slot, c->len, c->nholes};
	return net_send(r, &h, c->text, c->len, c->holes, c->nholes * sizeof *c->holes, err);
}

static int net_send_done(struct run *r, size_t slot, const struct slot *s, char *err)
{
	struct net_done d;
	memset(&d, 0, sizeof d);
	d.status = s->f.status;
	d.skipped = s->f.skipped;
	d.ids = s->ids;
	d.rows = s->f.rows;
	d.ts_bad_fraction = s->f.ts_bad_fraction;
	d.ts_out_of_range = s->f.ts_out_of_range;
	d.first_ts_ns = s->f.first_ts_ns;
	d.last_ts_ns = s->f.last_ts_ns;
	d.overlap_ns = s->f.overlap_ns;
	d.summary = s->f.summary;
	d.counters = s->f.counters;
	snprintf(d.error, sizeof d.error, "%s", s->error);
	struct net_hdr h = {NET_DONE, 0, slot, r->n_named, 0};
	return net_send(r, &h, &d, sizeof d, s->named_vals, s->named_vals ? r->n_named * sizeof(uint64_t) : 0, err);
}

/* A table copy's memory block as sent: its pointers moved to where the
 * block is now, each checked to lie inside it. */
static cf_table_copy *net_table_copy(char *mem, size_t bytes, uintptr_t was, uint32_t table)
{
	if (bytes < sizeof(cf_table_copy))
		return NULL;
	cf_table_copy *c = (cf_table_copy *)mem;
	uintptr_t lo = was, hi = was + bytes;
#define NET_MOVE(p)                                                                                         \
	do {                                                                                                   \
		if (p) {                                                                                           \
			uintptr_t v_ = (uintptr_t)(p);                                                                 \
			if (v_ < lo || v_ >= hi)                                                                       \
				return NULL;                                                                               \
			(p) = (void *)(mem + (v_ - lo));                                                               \
		}                                                                                                  \
	} while (0)
	NET_MOVE(c->batch.columns);
	if (!c->batch.columns ||
	    (uintptr_t)(c->batch.columns + c->batch.n_columns) > (uintptr_t)(mem + bytes))
		return NULL;
	for (uint32_t i = 0; i < c->batch.n_columns; i++) {
		cf_table_array *a = &c->batch.columns[i];
		NET_MOVE(a->values);
		NET_MOVE(a->data);
		NET_MOVE(a->validity);
	}
#undef NET_MOVE
	c->mem = mem;
	c->bytes = bytes;
	c->table = table;
	return c;
}

/* Rank 0: input `slot` is another rank's; its rows and facts come from
 * that rank, in order, and are committed as they arrive. */
static int net_commit_remote(struct run *r, size_t slot, char *err)
{
	struct slot *s = &r->slots[slot];
	int from = (int)(slot % (size_t)r->net->size);
	for (;;) {
		void *buf = NULL;
		size_t n = 0;
		int st = r->net->recv(r->net->user, from, &buf, &n);
		if (st < 0) {
			snprintf(err, CF_ERRBUF_SIZE, "cannot receive from rank %d (%s)", from, cf_status_str(st));
			return st;
		}
		struct net_hdr h;
		if (n < sizeof h) {
			free(buf);
			snprintf(err, CF_ERRBUF_SIZE, "rank %d sent a message of %zu bytes", from, n);
			return CF_ERR_CORRUPT;
		}
		memcpy(&h, buf, sizeof h);
		char *body = (char *)buf + sizeof h;
		size_t bn = n - sizeof h;
		int bad = h.slot != slot;
		if (!bad && h.kind == NET_DONE) {
			struct net_done d;
			bad = h.a != r->n_named || bn != sizeof d + r->n_named * sizeof(uint64_t);
			if (!bad) {
				memcpy(&d, body, sizeof d);
				if (s->named_vals)
					memcpy(s->named_vals, body + sizeof d, r->n_named * sizeof(uint64_t));
				s->f.status = d.status;
				s->ids = d.ids;
				s->f.rows = d.rows;
				s->f.ts_bad_fraction = d.ts_bad_fraction;
				s->f.ts_out_of_range = d.ts_out_of_range;
				s->f.first_ts_ns = d.first_ts_ns;
				s->f.last_ts_ns = d.last_ts_ns;
				s->f.overlap_ns = d.overlap_ns;
				s->f.summary = d.summary;
				s->f.counters = d.counters;
				d.error[sizeof d.error - 1] = 0;
				snprintf(s->error, sizeof s->error, "%s", d.error);
				if (!s->f.skipped)
					__atomic_add_fetch(&r->bytes_finished, s->f.size, __ATOMIC_RELAXED);
				__atomic_add_fetch(&r->packets_finished, s->f.summary.packets, __ATOMIC_RELAXED);
				free(buf);
				return CF_OK;
			}
		} else if (!bad && (h.kind == NET_TEXT || h.kind == NET_TABLE)) {
			struct chunk *c = calloc(1, sizeof *c);
			if (!c) {
				free(buf);
				snprintf(err, CF_ERRBUF_SIZE, "out of memory");
				return CF_ERR_NOMEM;
			}
			if (h.kind == NET_TEXT) {
				bad = h.a > bn || h.b > (bn - h.a) / sizeof(struct hole) || h.a + h.b * sizeof(struct hole) != bn;
				if (!bad && (!(c->text = malloc(h.a ? h.a : 1)) || !(c->holes = malloc(h.b ? h.b * sizeof *c->holes : 1)))) {
					chunk_free(c);
					free(buf);
					snprintf(err, CF_ERRBUF_SIZE, "out of memory");
					return CF_ERR_NOMEM;
				}
				if (!bad) {
					memcpy(c->text, body, h.a);
					memcpy(c->holes, body + h.a, h.b * sizeof *c->holes);
					c->len = h.a;
					c->nholes = h.b;
					for (size_t k = 0; k < c->nholes && !bad; k++)
						bad = c->holes[k].at > c->len || (k && c->holes[k].at < c->holes[k - 1].at);
				}
			} else {
				char *mem = bn == h.a ? malloc(bn ? bn : 1) : NULL;
				bad = bn != h.a || (uses_producer(r->o) ? h.table >= r->n_tables : h.table != 0);
				if (!bad && !mem) {
					chunk_free(c);
					free(buf);
					snprintf(err, CF_ERRBUF_SIZE, "out of memory");
					return CF_ERR_NOMEM;
				}
				if (!bad) {
					memcpy(mem, body, bn);
					if (!(c->tab = net_table_copy(mem, bn, (uintptr_t)h.b, h.table))) {
						free(mem);
						bad = 1;
					}
				}
			}
			free(buf);
			buf = NULL;
			if (!bad) {
				st = commit_chunk(r, c, err);
				chunk_free(c);
				if (st != CF_OK)
					return st;
				continue;
			}
			chunk_free(c);
		}
		free(buf);
		snprintf(err, CF_ERRBUF_SIZE, "rank %d sent a bad message (kind %u for input %" PRIu64 ", expected %zu)", from,
		         h.kind, h.slot, slot);
		return CF_ERR_CORRUPT;
	}
}

static void json_u64s(FILE *o, const uint64_t *v, size_t n)
{
	fputc('[', o);
	for (size_t i = 0; i < n; i++)
		fprintf(o, "%s%" PRIu64, i ? "," : "", v[i]);
	fputc(']', o);
}

#define SUMMARY_U64S (3 + CF_SUMMARY_LAYERS + CF_SKIP_COUNT)
#define COUNTER_U64S (sizeof(cf_flow_counters) / sizeof(uint64_t))

static void summary_pack(const cf_summary *s, uint64_t *v)
{
	size_t k = 0;
	v[k++] = s->packets, v[k++] = s->captured_bytes, v[k++] = s->wire_bytes;
	for (int i = 0; i < CF_SUMMARY_LAYERS; i++)
		v[k++] = s->layer[i];
	for (int i = 0; i < CF_SKIP_COUNT; i++)
		v[k++] = s->skip[i];
}

static void summary_unpack(cf_summary *s, const uint64_t *v)
{
	size_t k = 0;
	s->packets = v[k++], s->captured_bytes = v[k++], s->wire_bytes = v[k++];
	for (int i = 0; i < CF_SUMMARY_LAYERS; i++)
		s->layer[i] = v[k++];
	for (int i = 0; i < CF_SKIP_COUNT; i++)
		s->skip[i] = v[k++];
}

/* The journal line of an input after its "rows" field, formatted by the
 * worker that finished the input (the committer then only writes it: the
 * formatting was a fifth of the committer's time on many small inputs). */
static char *journal_body(const struct run *r, const struct slot *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *j = open_memstream(&buf, &len);
	if (!j)
		return NULL;
	const cf_run_file *f = &s->f;
	uint64_t sv[SUMMARY_U64S];
	summary_pack(&f->summary, sv);
	fprintf(j, "\"status\":%d,\"skipped\":%d,\"dup\":%ld,\"size\":%" PRIu64 ",\"mtime_ns\":%" PRId64
	           ",\"first_ns\":%" PRId64 ",\"last_ns\":%" PRId64 ",\"ts\":[%" PRIu64 ",%" PRIu64 "],\"s\":",
	        f->status, f->skipped, f->duplicate_of, f->size, f->mtime_ns, f->summary.first_ns, f->summary.last_ns,
	        f->ts_bad_fraction, f->ts_out_of_range);
	json_u64s(j, sv, SUMMARY_U64S);
	fputs(",\"c\":", j);
	json_u64s(j, (const uint64_t *)&f->counters, COUNTER_U64S);
	if (r->o->format == CF_RUN_TABLES) {
		/* a producer's ids and counters */
		fprintf(j, ",\"ids\":%" PRIu64 ",\"n\":", s->ids);
		if (s->named_vals)
			json_u64s(j, s->named_vals, r->n_named);
		else
			fputs("[]", j);
	}
	fputs(",\"path\":", j);
	cf_run_json_str(j, f->path);
	fputs(",\"error\":", j);
	cf_run_json_str(j, s->error);
	fputs("}\n", j);
	if (fclose(j) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Appends an input's journal line to the committer's journal buffer,
 * which flush_batch writes after the rows it describes (not to the FILE:
 * stdio would write a full buffer whenever it likes). */
static int journal_line(struct run *r, const struct slot *s, char *err)
{
	const cf_run_file *f = &s->f;
	char *own = s->jbody ? NULL : journal_body(r, s);
	const char *body = s->jbody ? s->jbody : own;
	char head[96];
	int hn = snprintf(head, sizeof head, "{\"i\":%zu,\"end\":%" PRIu64 ",\"rows\":%" PRIu64 ",", f->index,
	                  f->out_end, f->rows);
	size_t bn = body ? strlen(body) : 0;
	if (body && r->jlen + (size_t)hn + bn > r->jcap) {
		size_t cap = r->jcap ? r->jcap : 1u << 16;
		while (cap < r->jlen + (size_t)hn + bn)
			cap *= 2;
		char *p = realloc(r->jbuf, cap);
		if (p)
			r->jbuf = p, r->jcap = cap;
		else
			body = NULL;
	}
	if (!body) {
		free(own);
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	memcpy(r->jbuf + r->jlen, head, (size_t)hn);
	memcpy(r->jbuf + r->jlen + hn, body, bn);
	r->jlen += (size_t)hn + bn;
	free(own);
	return CF_OK;
}

/* Writes what the committer holds back, staged rows first, then the
 * journal lines that describe them (so a journal line is on disk only
 * once its input's rows are), and reports those inputs as committed. */
static int flush_batch(struct run *r, size_t *announced, char *err)
{
	int rc = stage_flush(r, err);
	errno = 0;
	if (rc == CF_OK && r->journal &&
	    ((r->jlen && fwrite(r->jbuf, 1, r->jlen, r->journal) != r->jlen) || fflush(r->journal) != 0 ||
	     ferror(r->journal)))
		rc = io_fail(r, r->path_journal, err);
	r->jlen = 0;
	if (rc != CF_OK)
		return rc;
	for (; *announced < r->head; (*announced)++)
		if (r->o->on_file && !r->remote) /* rank 0 reports every input */
			r->o->on_file(r->o->user, &r->slots[*announced].f);
	r->last_flush = now_s();
	return CF_OK;
}

static const char *num_after(const char *line, const char *key)
{
	const char *p = strstr(line, key);
	return p ? p + strlen(key) : NULL;
}

static int read_u64s(const char *p, uint64_t *v, size_t n)
{
	if (!p || *p++ != '[')
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *end;
		v[i] = strtoull(p, &end, 10);
		if (end == p || *end != (i + 1 < n ? ',' : ']'))
			return -1;
		p = end + 1;
	}
	return 0;
}

/* One journal line back into its slot; -1 when it is not a whole line of
 * input `want`. */
static int journal_parse(struct run *r, const char *line, size_t want)
{
	struct slot *s = &r->slots[want];
	cf_run_file f = s->f;
	const char *p;
	char path[4096];
	uint64_t sv[SUMMARY_U64S], ts[2];
	size_t idx;
	if (sscanf(line, "{\"i\":%zu,\"end\":%" SCNu64 ",\"rows\":%" SCNu64 ",\"status\":%d,\"skipped\":%d,\"dup\":%ld,"
	                 "\"size\":%" SCNu64 ",\"mtime_ns\":%" SCNd64 ",\"first_ns\":%" SCNd64 ",\"last_ns\":%" SCNd64,
	           &idx, &f.out_end, &f.rows, &f.status, &f.skipped, &f.duplicate_of, &f.size, &f.mtime_ns,
	           &f.summary.first_ns, &f.summary.last_ns) != 10 || idx != want)
		return -1;
	if (read_u64s(num_after(line, "\"ts\":"), ts, 2) < 0 || read_u64s(num_after(line, "\"s\":"), sv, SUMMARY_U64S) < 0 ||
	    read_u64s(num_after(line, "\"c\":"), (uint64_t *)&f.counters, COUNTER_U64S) < 0)
		return -1;
	if (!(p = num_after(line, ",\"path\":")) || !(p = cf_run_json_str_read(p, path, sizeof path)) ||
	    strcmp(path, s->f.path) || strncmp(p, ",\"error\":", 9) ||
	    !(p = cf_run_json_str_read(p + 9, s->error, sizeof s->error)) || strcmp(p, "}"))
		return -1;
	f.ts_bad_fraction = ts[0], f.ts_out_of_range = ts[1];
	summary_unpack(&f.summary, sv);
	s->ids = f.counters.flows;
	if (r->o->format == CF_RUN_TABLES) {
		const char *q = num_after(line, ",\"ids\":");
		char *e;
		if (!q)
			return -1;
		s->ids = strtoull(q, &e, 10);
		if (e == q || (s->named_vals ? read_u64s(num_after(line, ",\"n\":"), s->named_vals, r->n_named) < 0
		                             : !num_after(line, ",\"n\":[]")))
			return -1;
	}
	s->f = f;
	return 0;
}

/* The journal's first line: what must be equal for a run to go on. */
static int journal_header(struct run *r)
{
	cf_sha256 h;
	cf_sha256_init(&h);
	for (size_t i = 0; i < r->n; i++)
		cf_sha256_update(&h, r->slots[i].f.path, strlen(r->slots[i].f.path) + 1);
	char hex[65];
	cf_sha256_hex(&h, hex);
	const char *opt = r->o->options_json ? r->o->options_json : "{}";
	size_t cap = strlen(opt) + 512;
	if (!(r->hdr_line = malloc(cap)))
		return -1;
	snprintf(r->hdr_line, cap, "{\"cuflow_journal\":1,\"version\":\"%s\",\"format\":\"%s\",\"header_bytes\":%zu,"
	         "\"inputs\":%zu,\"inputs_sha256\":\"%s\",\"options\":%s}\n",
	         cf_version(), r->o->format_name ? r->o->format_name : "", r->o->header_len, r->n, hex, opt);
	return 0;
}

/* --resume: the first k inputs, committed by the interrupted run, must
 * still be there with the size and mtime it saw (one whose stat failed
 * then, size 0, may still be absent). 0, or -1 with the message. */
static int committed_unchanged(const struct run *r, long k, char *err)
{
	for (long i = 0; i < k; i++) {
		const struct slot *s = &r->slots[i];
		struct stat st;
		if (s->f.skipped || !strcmp(s->f.path, "-"))
			continue;
		int gone = stat(s->f.path, &st) != 0;
		if (gone ? s->f.size != 0 || s->f.mtime_ns != 0
		         : (uint64_t)st.st_size != s->f.size ||
		               (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec != s->f.mtime_ns) {
			snprintf(err, CF_ERRBUF_SIZE, "%s %s since the interrupted run: run without --resume", s->f.path,
			         gone ? "was removed" : "changed");
			return -1;
		}
	}
	return 0;
}

/* --resume: reads the journal, restores the committed inputs, truncates
 * the partial output to the last committed length. Returns the number of
 * inputs committed (>= 0), or a status. */
static long resume_load(struct run *r, char *err)
{
	FILE *j = fopen(r->path_journal, "r");
	if (!j)
		return 0; /* nothing to resume: from the start */
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long k = 0;
	off_t good = 0;
	int ok_header = 0;
	len = getline(&line, &cap, j);
	if (len <= 0 || line[len - 1] != '\n') {
		/* killed before the journal's first line was whole: nothing was
		 * committed, the run starts over */
		free(line);
		fclose(j);
		return 0;
	}
	if (!strcmp(line, r->hdr_line)) {
		ok_header = 1;
		good = len;
		while ((size_t)k < r->n && (len = getline(&line, &cap, j)) > 0 && line[len - 1] == '\n') {
			line[len - 1] = 0;
			if (journal_parse(r, line, (size_t)k) < 0)
				break;
			k++;
			good += len;
		}
	}
	free(line);
	fclose(j);
	if (!ok_header) {
		snprintf(err, CF_ERRBUF_SIZE,
		         "%s belongs to another run (other options, inputs or format): remove it or run without --resume",
		         r->path_journal);
		return CF_ERR_ARG;
	}
	if (k == 0)
		return 0; /* nothing committed (a run killed as it started): start over */
	if (committed_unchanged(r, k, err) < 0)
		return CF_ERR_ARG;
	uint64_t end = k ? r->slots[k - 1].f.out_end : (uint64_t)r->o->header_len;
	struct stat st;
	if (stat(r->path_partial, &st) != 0 && k == (long)r->n && stat(r->o->output, &st) == 0 &&
	    (uint64_t)st.st_size == end)
		rename(r->o->output, r->path_partial); /* killed between the renames of the end */
	if (stat(r->path_partial, &st) != 0 || (uint64_t)st.st_size < end) {
		snprintf(err, CF_ERRBUF_SIZE, "%s is missing or shorter than %s says: run without --resume",
		         r->path_partial, r->path_journal);
		return CF_ERR_ARG;
	}
	if (truncate(r->path_partial, (off_t)end) != 0 || truncate(r->path_journal, good) != 0)
		return io_fail(r, r->path_partial, err);
	return k;
}

static void file_stat(struct slot *s)
{
	struct stat st;
	if (strcmp(s->f.path, "-") && stat(s->f.path, &st) == 0) {
		s->f.size = (uint64_t)st.st_size;
		s->f.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	}
}

/* The run's own files are never its inputs: an output written inside an
 * input directory by an earlier run (OUT, OUT.partial, its journal or
 * manifest, or anything under a table run's output directory) would
 * otherwise be read, or removed while it is read. Marked skipped. */
static void skip_own_outputs(struct run *r)
{
	const char *out = r->o->output;
	if (!strcmp(out, "-"))
		return;
	static const char *const sfx[] = {"", ".partial", ".journal", ".manifest.json", ".manifest.json.partial",
	                                  "-wal", "-shm"};
	struct stat own[7];
	int have[7];
	for (int k = 0; k < 7; k++) {
		char p[4096];
		snprintf(p, sizeof p, "%s%s", out, sfx[k]);
		have[k] = stat(p, &own[k]) == 0 && S_ISREG(own[k].st_mode);
	}
	size_t ol = strlen(out);
	while (ol > 1 && out[ol - 1] == '/')
		ol--;
	for (size_t i = 0; i < r->n; i++) {
		struct slot *s = &r->slots[i];
		if (s->f.skipped)
			continue;
		int mine = r->o->format == CF_RUN_TABLES && !strncmp(s->f.path, out, ol) && s->f.path[ol] == '/';
		dev_t dev;
		ino_t ino;
		for (int k = 0; k < 7 && !mine; k++)
			mine = have[k] && cf_run_inputs_id(r->in, i, &dev, &ino) == 0 && dev == own[k].st_dev &&
			       ino == own[k].st_ino;
		if (mine) {
			s->f.skipped = 1;
			snprintf(s->error, sizeof s->error, "the run's own output");
		}
	}
}

static const char *status_word(const cf_run_file *f)
{
	return f->skipped ? "skipped" : f->status < 0 ? "damaged" : "ok";
}

static int write_manifest(struct run *r, const char *sha, uint64_t bytes, double wall, char *err)
{
	FILE *m = fopen(r->path_manifest_tmp, "w");
	if (!m) {
		snprintf(err, CF_ERRBUF_SIZE, "cannot write %s: %s", r->path_manifest_tmp, strerror(errno));
		return CF_ERR_IO;
	}
	const cf_run_opts *o = r->o;
	fprintf(m, "{\n  \"cuflow_version\": \"%s\",\n  \"options\": %s,\n", cf_version(),
	        o->options_json ? o->options_json : "{}");
	if (o->format == CF_RUN_TABLES) {
		fprintf(m, "  \"producer\": \"%s\",\n  \"outputs\": [", r->pops->name);
		for (uint32_t t = 0; t < r->n_tables; t++) {
			fprintf(m, "%s\n    {\"table\": ", t ? "," : "");
			cf_run_json_str(m, r->table_names[t]);
			fprintf(m, ", \"path\": "); /* within the output directory: the dataset can move */
			cf_run_json_str(m, r->table_paths[t] + strlen(o->output) + 1);
			fprintf(m, ", \"format\": \"%s\", \"rows\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"parts\": [", o->sink,
			        r->table_rows[t], r->table_bytes[t]);
			int first = 1;
			for (size_t k = 0; k < r->nparts; k++) {
				const struct part *p = &r->parts[k];
				if (p->table != t)
					continue;
				fprintf(m, "%s{\"path\": \"%s/part-%05u%s\", \"rows\": %" PRIu64 ", \"bytes\": %" PRIu64
				           ", \"sha256\": ",
				        first ? "" : ", ", r->table_names[t], p->index, r->sink_ops->extension, p->rows, p->bytes);
				fprintf(m, p->sha[0] ? "\"%s\"}" : "null}", p->sha);
				first = 0;
			}
			fputs("]}", m);
		}
		fprintf(m, "\n  ],\n");
	} else {
		fprintf(m, "  \"outputs\": [{\"path\": ");
		cf_run_json_str(m, o->output);
		fprintf(m, ", \"format\": \"%s\", \"rows\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"sha256\": \"%s\"}],\n",
		        o->format_name ? o->format_name : "", r->rows, bytes, sha);
	}
	fprintf(m, "  \"inputs\": [");
	size_t ok = 0, dmg = 0, skip = 0;
	uint64_t pk = 0, used = 0, flows = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct slot *s = &r->slots[i];
		const cf_run_file *f = &s->f;
		ok += !f->skipped && f->status >= 0, dmg += !f->skipped && f->status < 0, skip += f->skipped;
		pk += f->summary.packets, used += f->counters.packets_used, flows += f->counters.flows;
		fprintf(m, "%s\n    {\"path\": ", i ? "," : "");
		cf_run_json_str(m, f->path);
		fprintf(m, ", \"size\": %" PRIu64 ", \"mtime_ns\": %" PRId64 ", \"status\": \"%s\", \"error\": ", f->size,
		        f->mtime_ns, status_word(f));
		if (f->skipped && f->duplicate_of >= 0)
			fprintf(m, "\"duplicate of input %ld\"", f->duplicate_of);
		else if (f->skipped)
			cf_run_json_str(m, s->error);
		else if (f->status < 0)
			cf_run_json_str(m, s->error);
		else
			fprintf(m, "null");
		if (o->format == CF_RUN_TABLES) /* what the producer used is in its counters */
			fprintf(m, ", \"packets_read\": %" PRIu64 ", \"packets_decoded\": %" PRIu64 ", \"first_id\": %" PRIu64
			           ", \"rows\": %" PRIu64,
			        f->summary.packets, f->summary.skip[CF_SKIP_NONE], f->first_id, f->rows);
		else
			fprintf(m, ", \"packets_read\": %" PRIu64 ", \"packets_decoded\": %" PRIu64 ", \"packets_used\": %" PRIu64
			           ", \"flows\": %" PRIu64 ", \"first_id\": %" PRIu64 ", \"rows\": %" PRIu64,
			        f->summary.packets, f->summary.skip[CF_SKIP_NONE], f->counters.packets_used, f->counters.flows,
			        f->first_id, f->rows);
		if (o->continuous && !f->skipped)
			fprintf(m, ", \"first_ts_ns\": %" PRId64 ", \"last_ts_ns\": %" PRId64 ", \"overlap_ns\": %" PRId64,
			        f->first_ts_ns, f->last_ts_ns, f->overlap_ns);
		if (s->named_vals && !f->skipped) {
			fprintf(m, ", \"counters\": {");
			for (uint32_t k = 0; k < r->n_named; k++)
				fprintf(m, "%s\"%s\": %" PRIu64, k ? ", " : "", r->named[k].name, s->named_vals[k]);
			fputc('}', m);
		}
		fputc('}', m);
	}
	if (o->format == CF_RUN_TABLES)
		fprintf(m, "\n  ],\n  \"totals\": {\"inputs\": %zu, \"ok\": %zu, \"damaged\": %zu, \"skipped\": %zu, "
		           "\"packets_read\": %" PRIu64 ", \"rows\": %" PRIu64 "},\n",
		        r->n, ok, dmg, skip, pk, r->rows);
	else
		fprintf(m, "\n  ],\n  \"totals\": {\"inputs\": %zu, \"ok\": %zu, \"damaged\": %zu, \"skipped\": %zu, "
		           "\"packets_read\": %" PRIu64 ", \"packets_used\": %" PRIu64 ", \"flows\": %" PRIu64 ", \"rows\": %" PRIu64
		           "},\n",
		        r->n, ok, dmg, skip, pk, used, flows, r->rows);
	fprintf(m,
	        "  \"run\": {\"jobs\": %u, \"ranks\": %d, \"continuous\": %s, \"resumed\": %s, \"started_unix_s\": %.0f, "
	        "\"wall_s\": %.3f}\n}\n",
	        o->jobs ? o->jobs : 1, r->net ? r->net->size : 1, o->continuous ? "true" : "false",
	        r->resumed ? "true" : "false", (double)time(NULL) - wall, wall);
	int bad = fflush(m) != 0 || ferror(m);
	bad |= fclose(m) != 0;
	if (bad) {
		snprintf(err, CF_ERRBUF_SIZE, "cannot write %s: %s", r->path_manifest_tmp, strerror(errno ? errno : EIO));
		unlink(r->path_manifest_tmp);
		return CF_ERR_IO;
	}
	return CF_OK;
}

static void progress(struct run *r, struct worker *ws, uint32_t nw, uint64_t bytes_total)
{
	if (!r->o->on_progress || r->remote) /* rank 0 reports the run */
		return;
	cf_run_progress p;
	p.files_done = r->head;
	p.files_total = r->n;
	p.bytes_done = __atomic_load_n(&r->bytes_finished, __ATOMIC_RELAXED);
	p.packets_done = __atomic_load_n(&r->packets_finished, __ATOMIC_RELAXED);
	for (uint32_t i = 0; i < nw; i++) {
		p.bytes_done += __atomic_load_n(&ws[i].cur_bytes, __ATOMIC_RELAXED);
		p.packets_done += __atomic_load_n(&ws[i].cur_packets, __ATOMIC_RELAXED);
	}
	p.bytes_total = bytes_total;
	p.elapsed_s = now_s() - r->start;
	r->o->on_progress(r->o->user, &p);
}


static void part_path(const struct run *r, uint32_t t, uint32_t index, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/part-%05u%s", r->table_paths[t], index, r->sink_ops->extension);
}

/* Removes what a table directory holds of earlier runs: parts from
 * `keep` on, and any sink's temporary (PATH.tmp-PID, PATH.old-PID). Only
 * names this driver writes are touched. */
static void remove_tree_parts(const char *dir, uint32_t keep)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	char path[4096];
	while ((de = readdir(d))) {
		unsigned idx;
		int n = 0;
		if (strncmp(de->d_name, "part-", 5) || sscanf(de->d_name, "part-%5u%n", &idx, &n) != 1 || n != 10)
			continue;
		int temp = strstr(de->d_name, ".tmp-") || strstr(de->d_name, ".old-");
		if (!temp && idx < keep)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			/* an npy part: its files, then itself */
			DIR *sub = opendir(path);
			struct dirent *e2;
			char p2[4096 + 256];
			while (sub && (e2 = readdir(sub)))
				if (strcmp(e2->d_name, ".") && strcmp(e2->d_name, "..")) {
					snprintf(p2, sizeof p2, "%s/%s", path, e2->d_name);
					unlink(p2);
				}
			if (sub)
				closedir(sub);
			rmdir(path);
		} else {
			unlink(path);
		}
	}
	closedir(d);
}

static int parts_add(struct run *r, const struct part *p)
{
	if (r->nparts == r->parts_cap) {
		size_t cap = r->parts_cap ? 2 * r->parts_cap : 64;
		struct part *v = realloc(r->parts, cap * sizeof *v);
		if (!v)
			return -1;
		r->parts = v, r->parts_cap = cap;
	}
	r->parts[r->nparts++] = *p;
	return 0;
}

/* Opens table t's current part when its first rows come. */
static int part_open(struct run *r, uint32_t t, char *err)
{
	char path[4096];
	part_path(r, t, r->part_index[t], path, sizeof path);
	if (cf_sink_open(r->o->sink, r->schemas[t], path, r->o->sink_opts, &r->sinks[t], err) != CF_OK)
		return CF_ERR_IO;
	r->part_rows[t] = 0;
	return CF_OK;
}

/* Closes every open part (renamed into place by its sink), hashes it and
 * records it; `empty_too`: a table with no part at all gets an empty one
 * (the end of the run: every table has its schema on disk). */
static int parts_close(struct run *r, int empty_too, char *err)
{
	for (uint32_t t = 0; t < r->n_tables; t++) {
		if (!r->sinks[t] && empty_too) {
			int have = 0;
			for (size_t k = 0; k < r->nparts && !have; k++)
				have = r->parts[k].table == t;
			if (!have && part_open(r, t, err) < 0)
				return CF_ERR_IO;
		}
		if (!r->sinks[t])
			continue;
		cf_sink_stats st;
		int rc = cf_sink_close(r->sinks[t], &st, err);
		r->sinks[t] = NULL;
		if (rc != CF_OK)
			return CF_ERR_IO;
		struct part p = {t, r->part_index[t], st.rows, st.bytes, ""};
		char path[4096];
		struct stat sb;
		part_path(r, t, p.index, path, sizeof path);
		/* array formats write a directory: its files are listed in it, not hashed here */
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && cf_sha256_file(path, p.sha, err) < 0)
			return CF_ERR_IO;
		if (parts_add(r, &p) < 0) {
			snprintf(err, CF_ERRBUF_SIZE, "out of memory");
			return CF_ERR_NOMEM;
		}
		r->part_index[t]++;
		r->part_rows[t] = 0;
	}
	return CF_OK;
}

/* A checkpoint: the inputs committed so far are on disk for good. Their
 * journal lines are written first (flush_batch), then every open part is
 * closed, then one line names the parts; --resume continues after the
 * last such line. */
static int checkpoint(struct run *r, size_t *announced, char *err)
{
	int rc = flush_batch(r, announced, err);
	size_t first = r->nparts;
	if (rc == CF_OK)
		rc = parts_close(r, 0, err);
	if (rc != CF_OK)
		return rc;
	FILE *j = r->journal;
	errno = 0;
	fprintf(j, "{\"checkpoint\":%u,\"inputs\":%zu,\"parts\":[", r->checkpoints, r->head);
	for (size_t k = first; k < r->nparts; k++)
		fprintf(j, "%s[%u,%u,%" PRIu64 ",%" PRIu64 ",\"%s\"]", k > first ? "," : "", r->parts[k].table,
		        r->parts[k].index, r->parts[k].rows, r->parts[k].bytes, r->parts[k].sha);
	fputs("]}\n", j);
	if (fflush(j) != 0 || ferror(j))
		return io_fail(r, r->path_journal, err);
	r->checkpoints++;
	return CF_OK;
}

/* --resume of a table run: the journal's inputs up to its last checkpoint
 * are restored, its parts kept, anything after removed. Returns the
 * inputs restored or a status. */
static long tables_resume(struct run *r, char *err)
{
	FILE *j = fopen(r->path_journal, "r");
	if (!j)
		return 0;
	cf_run_file *keep = malloc(r->n * sizeof *keep); /* the slots as they were, for undoing */
	if (!keep) {
		fclose(j);
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	for (size_t i = 0; i < r->n; i++)
		keep[i] = r->slots[i].f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long k = 0, committed = 0;
	off_t good = 0, at = 0;
	int ok_header = 0;
	len = getline(&line, &cap, j);
	if (len <= 0 || line[len - 1] != '\n') {
		/* killed before the first line was whole: nothing committed */
		free(line);
		fclose(j);
		free(keep);
		return 0;
	}
	if (!strcmp(line, r->hdr_line)) {
		ok_header = 1;
		good = at = len;
		while ((len = getline(&line, &cap, j)) > 0 && line[len - 1] == '\n') {
			line[len - 1] = 0;
			at += len;
			unsigned ck;
			size_t inputs;
			int off = 0;
			if (sscanf(line, "{\"checkpoint\":%u,\"inputs\":%zu,\"parts\":[%n", &ck, &inputs, &off) == 2 && off) {
				if (inputs != (size_t)k)
					break;
				const char *p = line + off;
				int bad = 0;
				while (*p == '[' || *p == ',') {
					if (*p == ',')
						p++;
					struct part pt;
					int n = 0;
					if (sscanf(p, "[%u,%u,%" SCNu64 ",%" SCNu64 ",\"%64[0-9a-f]\"]%n", &pt.table, &pt.index, &pt.rows,
					           &pt.bytes, pt.sha, &n) != 5 &&
					    (pt.sha[0] = 0,
					     sscanf(p, "[%u,%u,%" SCNu64 ",%" SCNu64 ",\"\"]%n", &pt.table, &pt.index, &pt.rows, &pt.bytes,
					            &n) != 4))
						bad = 1;
					if (bad || !n || pt.table >= r->n_tables || pt.index != r->part_index[pt.table] ||
					    parts_add(r, &pt) < 0) {
						bad = 1;
						break;
					}
					r->part_index[pt.table]++;
					r->table_rows[pt.table] += pt.rows;
					p += n;
				}
				if (bad || strcmp(p, "]}"))
					break;
				committed = k;
				good = at;
				r->checkpoints = ck + 1;
				continue;
			}
			if ((size_t)k >= r->n || journal_parse(r, line, (size_t)k) < 0)
				break;
			k++;
		}
	}
	free(line);
	fclose(j);
	/* the inputs after the last checkpoint are done again */
	for (long i = committed; i < k; i++) {
		r->slots[i].f = keep[i];
		r->slots[i].error[0] = 0;
		r->slots[i].ids = 0;
		if (r->slots[i].named_vals)
			memset(r->slots[i].named_vals, 0, r->n_named * sizeof(uint64_t));
	}
	free(keep);
	if (!ok_header) {
		snprintf(err, CF_ERRBUF_SIZE,
		         "%s belongs to another run (other options, inputs or format): remove it or run without --resume",
		         r->path_journal);
		return CF_ERR_ARG;
	}
	if (committed_unchanged(r, committed, err) < 0)
		return CF_ERR_ARG;
	/* the recorded parts must be there */
	for (size_t p = 0; p < r->nparts; p++) {
		char path[4096];
		struct stat st;
		part_path(r, r->parts[p].table, r->parts[p].index, path, sizeof path);
		if (stat(path, &st) != 0) {
			snprintf(err, CF_ERRBUF_SIZE, "%.200s is missing (%.200s names it): run without --resume", path,
			         r->path_journal);
			return CF_ERR_ARG;
		}
	}
	for (uint32_t t = 0; t < r->n_tables; t++) {
		remove_tree_parts(r->table_paths[t], r->part_index[t]);
		r->table_base[t] = r->table_rows[t];
	}
	if (truncate(r->path_journal, good) != 0)
		return io_fail(r, r->path_journal, err);
	return committed;
}

/* CF_RUN_SQLITE: the database, and with append what it holds already:
 * inputs committed before are skipped, ids go on after its largest. */
static int sqlite_setup(struct run *r, char *err)
{
	int st = cf_sqlite_db_open(r->o->output, r->o->sqlite, r->n_tables, r->table_names, r->schemas, &r->db, err);
	if (st < 0 || !r->o->sqlite->append)
		return st;
	for (size_t i = 0; i < r->n; i++) {
		struct slot *s = &r->slots[i];
		if (!s->f.skipped && cf_sqlite_db_has_file(r->db, s->f.path, s->f.size, s->f.mtime_ns)) {
			s->f.skipped = 1;
			s->in_db = 1;
			snprintf(s->error, sizeof s->error, "already in the database");
		}
	}
	r->id_offset = cf_sqlite_db_max_run_id(r->db);
	return 0;
}

/* The producer's counters of one input as a JSON object (malloc'ed). */
static char *counters_json(const struct run *r, const struct slot *s)
{
	size_t cap = 16 + (size_t)r->n_named * (CF_PRODUCER_TABLE_NAME_MAX + 32);
	char *j = malloc(cap);
	if (!j)
		return NULL;
	size_t at = (size_t)snprintf(j, cap, "{");
	for (uint32_t k = 0; s->named_vals && k < r->n_named && at < cap; k++)
		at += (size_t)snprintf(j + at, cap - at, "%s\"%.64s\":%" PRIu64, k ? "," : "", r->named[k].name,
		                       s->named_vals[k]);
	if (at < cap)
		snprintf(j + at, cap - at, "}");
	return j;
}

/* CF_RUN_TABLES: the tables of worker 0's producer (every worker's has
 * the same), their directories, and the journal; with resume, what the
 * interrupted run finished. Returns the inputs restored, or a status. */
static int tables_open(struct run *r, struct worker *w0, char *err)
{
	const cf_run_opts *o = r->o;
	const cf_producer_ops *po = o->producer;
	uint32_t n = po->tables(w0->prod);
	r->n_tables = n;
	r->schemas = calloc(n ? n : 1, sizeof *r->schemas);
	r->table_names = calloc(n ? n : 1, sizeof *r->table_names);
	r->table_paths = calloc(n ? n : 1, sizeof *r->table_paths);
	r->sinks = calloc(n ? n : 1, sizeof *r->sinks);
	r->table_rows = calloc(n ? n : 1, sizeof *r->table_rows);
	r->table_base = calloc(n ? n : 1, sizeof *r->table_base);
	r->table_bytes = calloc(n ? n : 1, sizeof *r->table_bytes);
	r->table_sha = calloc(n ? n : 1, sizeof *r->table_sha);
	if (!r->schemas || !r->table_names || !r->table_paths || !r->sinks || !r->table_rows || !r->table_base ||
	    !r->table_bytes || !r->table_sha) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	/* counter names, and room for every input's values */
	r->n_named = po->counters(w0->prod, NULL, 0);
	if (r->n_named) {
		if (!(r->named = calloc(r->n_named, sizeof *r->named))) {
			snprintf(err, CF_ERRBUF_SIZE, "out of memory");
			return CF_ERR_NOMEM;
		}
		po->counters(w0->prod, r->named, r->n_named);
		for (size_t i = 0; i < r->n; i++)
			if (!(r->slots[i].named_vals = calloc(r->n_named, sizeof(uint64_t)))) {
				snprintf(err, CF_ERRBUF_SIZE, "out of memory");
				return CF_ERR_NOMEM;
			}
	}
	for (uint32_t t = 0; t < n; t++) {
		r->schemas[t] = po->schema(w0->prod, t);
		r->table_names[t] = po->table_name(w0->prod, t);
		const char *name = r->table_names[t];
		if (!r->schemas[t] || !name || !name[0] || strlen(name) > CF_PRODUCER_TABLE_NAME_MAX ||
		    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != strlen(name) ||
		    name[0] == '.') {
			snprintf(err, CF_ERRBUF_SIZE, "producer %s: table %u has no schema or a bad name", po->name, t);
			return CF_ERR_ARG;
		}
		/* the table's directory of parts */
		size_t cap = strlen(o->output) + strlen(name) + 2;
		if (!(r->table_paths[t] = malloc(cap))) {
			snprintf(err, CF_ERRBUF_SIZE, "out of memory");
			return CF_ERR_NOMEM;
		}
		snprintf(r->table_paths[t], cap, "%s/%s", o->output, name);
	}
	if (!(r->part_index = calloc(n ? n : 1, sizeof *r->part_index)) ||
	    !(r->part_rows = calloc(n ? n : 1, sizeof *r->part_rows))) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	r->part_limit = o->part_rows ? o->part_rows : CF_RUN_PART_ROWS;
	if (r->remote)
		return 0; /* rank 0 writes the tables */
	if (o->format == CF_RUN_SQLITE)
		return sqlite_setup(r, err);
	if (o->format == CF_RUN_CALLBACK)
		return 0; /* no files: the consumer has the batches */
	long done = 0;
	if (o->resume && (done = tables_resume(r, err)) < 0)
		return (int)done;
	r->resumed = o->resume && done > 0;
	for (uint32_t t = 0; t < n; t++) {
		if (!r->resumed)
			remove_tree_parts(r->table_paths[t], 0);
		if (mkdir(r->table_paths[t], 0777) != 0 && errno != EEXIST) {
			snprintf(err, CF_ERRBUF_SIZE, "cannot create %s: %s", r->table_paths[t], strerror(errno));
			return CF_ERR_IO;
		}
	}
	if (!r->resumed) {
		if (!(r->journal = fopen(r->path_journal, "w")) || fputs(r->hdr_line, r->journal) < 0 ||
		    fflush(r->journal) != 0)
			return io_fail(r, r->path_journal, err);
	} else if (!(r->journal = fopen(r->path_journal, "a"))) {
		return io_fail(r, r->path_journal, err);
	}
	return (int)done;
}

/* Sets the output up: partial file, journal, gzip stream or Parquet
 * sink. Returns the number of inputs already committed (resume) or a
 * status. */
static long output_open(struct run *r, char *err)
{
	const cf_run_opts *o = r->o;
	int to_stdout = !strcmp(o->output, "-");
	r->fd = -1;
	cf_sha256_init(&r->sha);
	if (r->remote)
		return 0; /* rank 0 writes the output */
	if (to_stdout) {
		if (o->format != CF_RUN_TEXT) {
			snprintf(err, CF_ERRBUF_SIZE, "standard output takes plain text only");
			return CF_ERR_ARG;
		}
		if (o->resume) {
			snprintf(err, CF_ERRBUF_SIZE, "--resume needs an output file, not standard output");
			return CF_ERR_UNSUPPORTED;
		}
		r->fd = 1;
		return out_text(r, o->header ? o->header : "", o->header_len, err);
	}
	if (o->format == CF_RUN_CALLBACK) {
		if (o->resume) {
			snprintf(err, CF_ERRBUF_SIZE, "resume needs an output");
			return CF_ERR_UNSUPPORTED;
		}
		return 0;
	}
	if (o->format == CF_RUN_SQLITE) {
		if (o->resume) {
			snprintf(err, CF_ERRBUF_SIZE, "--resume is not for SQLite output (%s): append instead", o->output);
			return CF_ERR_UNSUPPORTED;
		}
		return 0; /* the database opens once the producers say what the tables are */
	}
	if (o->resume && o->format != CF_RUN_TEXT && o->format != CF_RUN_TABLES) {
		snprintf(err, CF_ERRBUF_SIZE, "--resume is not supported for %s output (%s): run without --resume",
		         o->format == CF_RUN_PARQUET ? "Parquet" : o->format == CF_RUN_TABLES ? "table" : "gzip", o->output);
		return CF_ERR_UNSUPPORTED;
	}
	if (o->format == CF_RUN_TABLES) {
		/* the sinks open once the workers' producers say what the tables are */
		if (cf_mkdir_p(o->output) != 0) {
			snprintf(err, CF_ERRBUF_SIZE, "cannot create %s: %s", o->output, strerror(errno));
			return CF_ERR_IO;
		}
		if (!(r->path_manifest = str_cat(o->output, "/manifest.json")) ||
		    !(r->path_manifest_tmp = str_cat(o->output, "/manifest.json.partial")) ||
		    !(r->path_journal = str_cat(o->output, "/.cuflow-journal")) || journal_header(r) < 0) {
			snprintf(err, CF_ERRBUF_SIZE, "out of memory");
			return CF_ERR_NOMEM;
		}
		unlink(r->path_manifest);
		return 0; /* resume: tables_open, once the tables are known */
	}
	if (!(r->path_partial = str_cat(o->output, ".partial")) || !(r->path_journal = str_cat(o->output, ".journal")) ||
	    !(r->path_manifest = str_cat(o->output, ".manifest.json")) ||
	    !(r->path_manifest_tmp = str_cat(o->output, ".manifest.json.partial")) || journal_header(r) < 0) {
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	long done = 0;
	if (o->resume) {
		done = resume_load(r, err);
		if (done < 0)
			return done;
	}
	r->resumed = o->resume && done > 0;
	/* an earlier run's results must not look like this run's */
	unlink(r->path_manifest);
	if (!r->resumed)
		unlink(o->output);
	if (o->format == CF_RUN_PARQUET) {
		if (cf_flow_rows_create(1, 0, &r->schema_rows, err) != CF_OK)
			return CF_ERR_NOMEM;
		if (cf_sink_open("parquet", cf_flow_rows_schema(r->schema_rows), o->output, o->sink_opts, &r->sink, err) != CF_OK)
			return CF_ERR_IO;
		return 0;
	}
	errno = 0;
	if (o->format == CF_RUN_TEXT_GZIP) {
		if (!(r->gz = gzopen(r->path_partial, "wb1")))
			return io_fail(r, r->path_partial, err);
		return out_text(r, o->header ? o->header : "", o->header_len, err);
	}
	r->fd = open(r->path_partial, O_WRONLY | O_CREAT | (r->resumed ? 0 : O_TRUNC), 0666);
	if (r->fd < 0)
		return io_fail(r, r->path_partial, err);
	r->journal = fopen(r->path_journal, r->resumed ? "a" : "w");
	if (!r->journal)
		return io_fail(r, r->path_journal, err);
	if (r->resumed) {
		r->out_len = done ? r->slots[done - 1].f.out_end : o->header_len;
		/* the digest of what stays */
		FILE *f = fopen(r->path_partial, "rb");
		if (!f)
			return io_fail(r, r->path_partial, err);
		char buf[1 << 16];
		size_t k;
		while ((k = fread(buf, 1, sizeof buf, f)) > 0)
			cf_sha256_update(&r->sha, buf, k);
		fclose(f);
		if (lseek(r->fd, (off_t)r->out_len, SEEK_SET) < 0)
			return io_fail(r, r->path_partial, err);
		return done;
	}
	int st = out_text(r, o->header ? o->header : "", o->header_len, err);
	if (st < 0)
		return st;
	fputs(r->hdr_line, r->journal);
	if (fflush(r->journal) != 0)
		return io_fail(r, r->path_journal, err);
	return 0;
}

/* Completes the output: closes it, hashes it, writes the manifest,
 * renames both into place, removes the journal. */
static int output_finish(struct run *r, cf_run_result *res, char *err)
{
	const cf_run_opts *o = r->o;
	char sha[65] = "";
	uint64_t bytes = r->out_len;
	if (r->fd == 1)
		return CF_OK;
	if (r->db) {
		int st = cf_sqlite_db_close(r->db, &res->bytes, err);
		r->db = NULL;
		return st;
	}
	if (o->format == CF_RUN_CALLBACK)
		return CF_OK;
	if (o->format == CF_RUN_TABLES) {
		/* the last parts (no checkpoint line: the manifest is the end) */
		if (parts_close(r, 1, err) < 0)
			return CF_ERR_IO;
		for (size_t k = 0; k < r->nparts; k++) {
			r->table_bytes[r->parts[k].table] += r->parts[k].bytes;
			res->bytes += r->parts[k].bytes;
		}
		if (write_manifest(r, "", res->bytes, now_s() - r->start, err) < 0)
			return CF_ERR_IO;
		if (rename(r->path_manifest_tmp, r->path_manifest) != 0)
			return io_fail(r, r->path_manifest, err);
		if (r->journal) {
			fclose(r->journal);
			r->journal = NULL;
			unlink(r->path_journal);
		}
		return CF_OK;
	}
	if (r->sink) {
		cf_sink_stats st;
		int rc = cf_sink_close(r->sink, &st, err);
		r->sink = NULL;
		if (rc != CF_OK)
			return CF_ERR_IO;
		bytes = st.bytes;
		if (cf_sha256_file(o->output, sha, err) < 0 || write_manifest(r, sha, bytes, now_s() - r->start, err) < 0) {
			unlink(o->output);
			return CF_ERR_IO;
		}
		if (rename(r->path_manifest_tmp, r->path_manifest) != 0) {
			unlink(o->output);
			return io_fail(r, r->path_manifest, err);
		}
		res->bytes = bytes;
		return CF_OK;
	}
	errno = 0;
	if (r->gz) {
		int zr = gzclose(r->gz);
		r->gz = NULL;
		if (zr != Z_OK)
			return io_fail(r, r->path_partial, err);
		struct stat st;
		if (stat(r->path_partial, &st) == 0)
			bytes = (uint64_t)st.st_size;
	} else {
		int cr = close(r->fd);
		r->fd = -1;
		if (cr != 0)
			return io_fail(r, r->path_partial, err);
	}
	if (o->format == CF_RUN_TEXT_GZIP ? cf_sha256_file(r->path_partial, sha, err) < 0 : (cf_sha256_hex(&r->sha, sha), 0))
		return CF_ERR_IO;
	if (write_manifest(r, sha, bytes, now_s() - r->start, err) < 0)
		return CF_ERR_IO;
	if (rename(r->path_partial, o->output) != 0)
		return io_fail(r, o->output, err); /* OUT.partial and the journal stay: --resume */
	/* a failure here leaves the finished output (the journal stays too:
	 * --resume, which knows a run killed between these renames, writes the
	 * manifest) rather than removing it */
	if (rename(r->path_manifest_tmp, r->path_manifest) != 0)
		return io_fail(r, r->path_manifest, err);
	if (r->journal) {
		fclose(r->journal);
		r->journal = NULL;
		unlink(r->path_journal);
	}
	res->bytes = bytes;
	return CF_OK;
}

static void output_abandon(struct run *r)
{
	cf_sqlite_db_abandon(r->db);
	r->db = NULL;
	if (r->sink)
		cf_sink_abort(r->sink);
	r->sink = NULL;
	for (uint32_t t = 0; r->sinks && t < r->n_tables; t++) {
		cf_sink_abort(r->sinks[t]);
		r->sinks[t] = NULL;
	}
	if (r->gz) {
		gzclose(r->gz);
		r->gz = NULL;
		if (r->path_partial)
			unlink(r->path_partial); /* gzip cannot be resumed */
	}
	if (r->fd > 1)
		close(r->fd);
	r->fd = -1;
	if (r->journal) {
		/* journal lines not yet flushed describe rows that were not written
		 * (flush_batch writes rows first): they must not reach the file */
		__fpurge(r->journal);
		fclose(r->journal);
	}
	r->journal = NULL;
	if (r->path_manifest_tmp)
		unlink(r->path_manifest_tmp);
}

int cf_run(const cf_run_opts *o, const cf_run_inputs *in, cf_run_result *res, char *errbuf)
{
	char tmp[CF_ERRBUF_SIZE];
	char *err = errbuf ? errbuf : tmp;
	err[0] = 0;
	memset(res, 0, sizeof *res);
	cf_summary_clear(&res->total);
	if (!o || !in || !o->output || !cf_run_inputs_count(in) || o->jobs > 256 ||
	    (o->format != CF_RUN_PARQUET && !uses_producer(o) && (!o->row || !o->row_max)) ||
	    (o->format == CF_RUN_TABLES && (!o->producer || !o->producer_config || !o->sink || !cf_sink_find(o->sink))) ||
	    (o->format == CF_RUN_SQLITE && (!o->producer || !o->producer_config || !o->sqlite)) ||
	    (o->format == CF_RUN_CALLBACK && (!o->producer || !o->producer_config || !o->on_batch))) {
		snprintf(err, CF_ERRBUF_SIZE, "cf_run: bad arguments");
		return CF_ERR_ARG;
	}
	if (o->net && (o->net->size < 1 || o->net->rank < 0 || o->net->rank >= o->net->size || !o->net->send ||
	                !o->net->recv)) {
		snprintf(err, CF_ERRBUF_SIZE, "cf_run: bad ranks");
		return CF_ERR_ARG;
	}
	if (o->net && o->net->size > 1 &&
	    (o->resume || o->continuous || o->format == CF_RUN_CALLBACK ||
	     (o->format == CF_RUN_SQLITE && o->sqlite->append))) {
		snprintf(err, CF_ERRBUF_SIZE, "several ranks do not serve %s yet",
		         o->resume ? "--resume" : o->continuous ? "--continuous" : o->format == CF_RUN_CALLBACK ? "batch callbacks"
		                                                                                              : "SQLite --append");
		return CF_ERR_UNSUPPORTED;
	}
	if (o->continuous && (o->jobs > 1 || o->resume)) {
		snprintf(err, CF_ERRBUF_SIZE, "%s",
		         o->resume ? "a continuous stream cannot be resumed mid-way: run without --resume"
		                   : "a continuous stream is read by one worker: --jobs 1");
		return o->resume ? CF_ERR_UNSUPPORTED : CF_ERR_ARG;
	}
	if ((uses_producer(o)) && (o->producer->flags & CF_PRODUCER_NEEDS_FRAMES) &&
	    !o->producer->frame) {
		snprintf(err, CF_ERRBUF_SIZE, "producer %s needs frame bytes but has no frame operation", o->producer->name);
		return CF_ERR_ARG;
	}
	struct run R, *r = &R;
	memset(r, 0, sizeof R);
	r->o = o;
	r->pops = o->producer;
	r->sink_ops = o->sink ? cf_sink_find(o->sink) : NULL;
	r->net = o->net && o->net->size > 1 ? o->net : NULL;
	r->remote = r->net && r->net->rank != 0;
	r->in = in;
	r->n = cf_run_inputs_count(in);
	r->fd = -1;
	r->start = now_s();
	uint32_t nw = o->jobs ? o->jobs : 1;
	if (nw > r->n)
		nw = (uint32_t)r->n;
	r->slots = calloc(r->n, sizeof *r->slots);
	struct worker *ws = calloc(nw, sizeof *ws);
	if (!r->slots || !ws) {
		free(r->slots);
		free(ws);
		snprintf(err, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->wake_committer, NULL);
	pthread_cond_init(&r->wake_workers, NULL);
	uint64_t bytes_total = 0;
	for (size_t i = 0; i < r->n; i++) {
		struct slot *s = &r->slots[i];
		s->f.index = i;
		s->f.path = cf_run_inputs_path(in, i);
		s->f.error = s->error;
		s->f.duplicate_of = cf_run_inputs_duplicate_of(in, i);
		s->f.skipped = s->f.duplicate_of >= 0;
		cf_summary_clear(&s->f.summary);
		/* the stat made when the inputs were listed (a second one per input
		 * was a tenth of the committer's time on many small files) */
		if (cf_run_inputs_stat(in, i, &s->f.size, &s->f.mtime_ns) < 0)
			file_stat(s);
		if (!s->f.skipped)
			bytes_total += s->f.size;
	}
	skip_own_outputs(r);
	for (size_t i = 0; i < r->n; i++)
		if (r->slots[i].f.skipped && r->slots[i].f.duplicate_of < 0)
			bytes_total -= r->slots[i].f.size;
	int rc = CF_OK;
	long done = output_open(r, err);
	if (done < 0) {
		rc = (int)done;
		goto out;
	}
	for (uint32_t i = 0; i < nw; i++) {
		ws[i].r = r;
		if ((rc = worker_open(&ws[i], err)) < 0)
			goto out;
	}
	if ((uses_producer(o)) && (done = tables_open(r, &ws[0], err)) < 0) {
		rc = (int)done;
		goto out;
	}
	if (r->db) /* inputs already in the database are not read */
		for (size_t i = 0; i < r->n; i++)
			if (r->slots[i].in_db)
				bytes_total -= r->slots[i].f.size;
	/* the inputs a resumed run has committed already */
	for (long i = 0; i < done; i++) {
		struct slot *s = &r->slots[i];
		s->f.first_id = r->id_offset + 1;
		r->id_offset += s->ids;
		r->rows += s->f.rows;
		__atomic_add_fetch(&r->bytes_finished, s->f.skipped ? 0 : s->f.size, __ATOMIC_RELAXED);
		res->files_resumed++;
	}
	r->next = r->head = (size_t)done;
	snprintf(res->backend, sizeof res->backend, "%s", cf_backend_name(ws[0].backend));
	snprintf(res->backend_note, sizeof res->backend_note, "%s", cf_backend_note(ws[0].backend));
	for (uint32_t i = 0; i < nw; i++) {
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0) {
			snprintf(err, CF_ERRBUF_SIZE, "cannot start a worker thread");
			rc = CF_ERR_NOMEM;
			fail(r, rc, err);
			break;
		}
		ws[i].started = 1;
	}
	uint64_t commits = 0;
	size_t announced = r->head; /* inputs reported through on_file */
	double last_progress = now_s();
	r->last_flush = last_progress;
	while (rc == CF_OK && r->head < r->n) {
		struct slot *s = &r->slots[r->head];
		if (r->remote && !owned(r, r->head)) { /* another rank's: rank 0 commits it */
			pthread_mutex_lock(&r->mu);
			r->head++;
			pthread_cond_broadcast(&r->wake_workers);
			pthread_mutex_unlock(&r->mu);
			continue;
		}
		if (!owned(r, r->head)) { /* rank 0: another rank reads it and sends its rows */
			if ((rc = net_commit_remote(r, r->head, err)) != CF_OK) {
				fail(r, rc, err);
				break;
			}
		} else {
			pthread_mutex_lock(&r->mu);
			for (;;) {
				while (!r->abort && !s->head && !s->done) {
					if (announced < r->head || r->stage_len) {
						/* nothing to do: first write what is held back */
						pthread_mutex_unlock(&r->mu);
						rc = flush_batch(r, &announced, err);
						pthread_mutex_lock(&r->mu);
						if (rc != CF_OK)
							break;
						continue;
					}
					/* poll: workers do not wake the committer for each input or
					 * chunk (thousands of small inputs were as many context
					 * switches); errors (fail) still wake it at once */
					struct timespec t;
					clock_gettime(CLOCK_REALTIME, &t);
					t.tv_nsec += POLL_NS;
					if (t.tv_nsec >= 1000000000)
						t.tv_sec++, t.tv_nsec -= 1000000000;
					pthread_cond_timedwait(&r->wake_committer, &r->mu, &t);
					if (now_s() - last_progress >= 0.25) {
						pthread_mutex_unlock(&r->mu);
						progress(r, ws, nw, bytes_total);
						last_progress = now_s();
						pthread_mutex_lock(&r->mu);
					}
				}
				if (rc != CF_OK)
					break;
				if (r->abort || (!s->head && s->done))
					break;
				struct chunk *list = s->head;
				s->head = s->tail = NULL;
				s->queued = 0;
				for (struct chunk *q = list; q; q = q->next)
					*q->owner_pending -= q->weight;
				pthread_cond_broadcast(&r->wake_workers);
				pthread_mutex_unlock(&r->mu);
				while (list && rc == CF_OK) {
					struct chunk *next = list->next;
					rc = r->remote ? net_send_chunk(r, r->head, list, err) : commit_chunk(r, list, err);
					chunk_recycle(r, list);
					list = next;
				}
				while (list) {
					struct chunk *next = list->next;
					chunk_free(list);
					list = next;
				}
				pthread_mutex_lock(&r->mu);
				if (rc != CF_OK)
					break;
			}
			int aborted = r->abort;
			pthread_mutex_unlock(&r->mu);
			if (rc != CF_OK) {
				fail(r, rc, err);
				break;
			}
			if (aborted) {
				rc = r->fatal ? r->fatal : CF_ERR_IO;
				memcpy(err, r->fatal_msg, CF_ERRBUF_SIZE);
				break;
			}
		}
		if (r->remote) { /* its rows went to rank 0: now its facts */
			if ((rc = net_send_done(r, r->head, s, err)) != CF_OK) {
				fail(r, rc, err);
				break;
			}
			free(s->jbody);
			s->jbody = NULL;
			pthread_mutex_lock(&r->mu);
			r->head++;
			pthread_cond_broadcast(&r->wake_workers);
			pthread_mutex_unlock(&r->mu);
			continue;
		}
		/* the input is complete: commit it */
		s->f.first_id = r->id_offset + 1;
		r->id_offset += s->ids;
		for (uint32_t t = 0; t < r->n_tables && !o->continuous; t++) /* continuous: the stream's numbers */
			r->table_base[t] = r->table_rows[t];
		s->f.out_end = r->journal ? r->out_len + r->stage_len : 0;
		if (r->db && !s->f.skipped) {
			char *cj = counters_json(r, s);
			rc = cf_sqlite_db_commit_file(r->db, &s->f, cj, err);
			free(cj);
			if (rc < 0) {
				fail(r, rc, err);
				break;
			}
		}
		if (r->journal && (rc = journal_line(r, s, err)) < 0) {
			fail(r, rc, err);
			break;
		}
		free(s->jbody);
		s->jbody = NULL;
		s->f.named = r->named;
		s->f.n_named = s->named_vals ? r->n_named : 0;
		commits++;
		pthread_mutex_lock(&r->mu);
		r->head++;
		pthread_cond_broadcast(&r->wake_workers);
		pthread_mutex_unlock(&r->mu);
		int stop = o->stop_after_commits && commits >= o->stop_after_commits;
		int full = 0;
		for (uint32_t t = 0; t < r->n_tables; t++)
			full |= r->part_rows[t] >= r->part_limit;
		if (full && (rc = checkpoint(r, &announced, err)) < 0) {
			fail(r, rc, err);
			break;
		}
		/* SQLite: the input is committed, so say so now */
		if (stop || r->db || r->stage_len >= STAGE_BYTES || now_s() - r->last_flush >= BATCH_SECONDS) {
			if ((rc = flush_batch(r, &announced, err)) < 0) {
				fail(r, rc, err);
				break;
			}
		}
		if (stop) {
			/* tests: stop here as a killed process would, nothing cleaned up */
			rc = CF_ERR_IO;
			snprintf(err, CF_ERRBUF_SIZE, "stopped after %" PRIu64 " commits (stop_after_commits)", commits);
			fail(r, rc, err);
			break;
		}
		if (now_s() - last_progress >= 0.25) {
			progress(r, ws, nw, bytes_total);
			last_progress = now_s();
		}
	}
	if (rc == CF_OK && (rc = flush_batch(r, &announced, err)) < 0)
		fail(r, rc, err);
	for (uint32_t i = 0; i < nw; i++)
		if (ws[i].started)
			pthread_join(ws[i].th, NULL);
	if (rc == CF_OK)
		progress(r, ws, nw, bytes_total);
	if (rc == CF_OK && !r->remote)
		rc = output_finish(r, res, err);
out:
	if (rc != CF_OK)
		output_abandon(r);
	/* the totals, from every input (the resumed ones too) */
	for (size_t i = 0; i < r->n && i < r->head; i++) {
		const cf_run_file *f = &r->slots[i].f;
		res->files++;
		res->files_ok += !f->skipped && f->status >= 0;
		res->files_damaged += !f->skipped && f->status < 0;
		res->files_out_of_order += !f->skipped && f->overlap_ns > 0;
		res->files_skipped += f->skipped;
		if (f->skipped)
			continue;
		cf_summary_merge(&res->total, &f->summary);
		const uint64_t *pf = (const uint64_t *)&f->counters;
		uint64_t *pt = (uint64_t *)&res->counters;
		uint64_t ml = res->counters.max_live;
		for (size_t k = 0; k < COUNTER_U64S; k++)
			pt[k] += pf[k];
		res->counters.max_live = ml > f->counters.max_live ? ml : f->counters.max_live;
		res->ts_bad_fraction += f->ts_bad_fraction;
		res->ts_out_of_range += f->ts_out_of_range;
	}
	res->rows = r->rows;
	if (rc == CF_OK && r->path_manifest)
		snprintf(res->manifest, sizeof res->manifest, "%s", r->path_manifest);
	for (uint32_t i = 0; i < nw; i++) {
		struct worker *w = &ws[i];
		if (w->backend) {
			cf_backend_counters k;
			cf_backend_get_counters(w->backend, &k);
			res->backend_fallbacks += k.fallbacks;
		}
		cf_flow_engine_close(w->engine);
		if (w->prod)
			o->producer->close(w->prod);
		cf_pkt_batch_destroy(w->batch);
		cf_backend_close(w->backend);
		cf_filter_close(w->filter);
		free(w->scratch);
	}
	for (size_t i = 0; i < r->n; i++) {
		struct chunk *c = r->slots[i].head;
		while (c) {
			struct chunk *next = c->next;
			chunk_free(c);
			c = next;
		}
	}
	while (r->pool) {
		struct chunk *next = r->pool->next;
		chunk_free(r->pool);
		r->pool = next;
	}
	cf_flow_rows_free(r->schema_rows);
	for (uint32_t t = 0; r->table_paths && t < r->n_tables; t++)
		free(r->table_paths[t]);
	for (size_t i = 0; i < r->n; i++) {
		free(r->slots[i].named_vals);
		free(r->slots[i].jbody);
	}
	free(r->schemas);
	free(r->table_names);
	free(r->table_paths);
	free(r->sinks);
	free(r->table_rows);
	free(r->table_base);
	free(r->table_bytes);
	free(r->table_sha);
	free(r->named);
	free(r->parts);
	free(r->part_index);
	free(r->part_rows);
	free(r->stage);
	free(r->jbuf);
	free(r->path_partial);
	free(r->path_journal);
	free(r->path_manifest);
	free(r->path_manifest_tmp);
	free(r->hdr_line);
	free(r->slots);
	free(ws);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->wake_committer);
	pthread_cond_destroy(&r->wake_workers);
	return rc;
}
