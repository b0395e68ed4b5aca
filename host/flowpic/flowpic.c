/*
 * FlowPic on the host (include/cuflow/flowpic.h, docs/flowpic.md): a
 * file's TCP/UDP packets are grouped into sessions (unidirectional over
 * the whole capture, or bidirectional with an idle timeout), each
 * session's windows are cut with the official rules, and the windows'
 * packet lists go to the backend in batches (CSR entries + per-image
 * times) that it bins into images (kernels/flowpic_hist.h).
 */
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/internal.h"
#include "cuflow/backend_batch.h"
#include "cuflow/flowpic.h"
#include "flowpic_hist.h"
#include "common/key_table.h"
#include "common/spill.h"

typedef cf_key5 skey;

typedef struct keyinfo {
	int64_t last_ns;     /* the key's last packet (bidirectional idle timeout) */
	uint32_t sess;       /* its current session */
} keyinfo;

typedef struct sessinfo {
	int64_t first_ns;    /* the session's first packet */
	uint32_t key;
	uint32_t flip;       /* 1 when the first packet ran against the key's (canonical) orientation */
	uint64_t stored;     /* its packets kept for the images */
} sessinfo;

/* Image batch: entries (CSR) and per-image data, sized once per run. */
typedef struct fbatch {
	cf_flowpic_batch b;
	uint64_t *offsets;
	double *t;
	uint32_t *size;
	uint8_t *chan;
	int64_t *pix;        /* the CPU backend's pixel of each entry */
	uint64_t *nz;        /* one image's non-zero pixels (emit) */
	uint64_t nz_n, nz_cap;
	double *t_first, *t_last, *anchor, *edges_t, *edges_s;
	uint32_t *acc, *packets;
	void *out;
	uint32_t dirty_images;   /* images of out a dense path (the device) may have left non-zero */
	uint64_t cap_entries;
	uint32_t cap_images;
	cf_flowpic_image *info; /* per image, pixels filled at emit */
} fbatch;

struct cf_flowpic {
	cf_flowpic_opts o;
	cf_backend *backend;
	cf_flowpic_emit_fn emit;
	void *user;
	char err[CF_ERRBUF_SIZE];
	uint32_t channels;
	/* the file's packets, capture order */
	uint32_t *p_sess;
	int64_t *p_ns;
	uint32_t *p_size;
	uint8_t *p_dir;
	uint64_t np, cap;
	/* sessions: keys in first-appearance order, per key and per session data */
	cf_keymap keys;
	keyinfo *kinfo;
	uint32_t kinfo_cap;
	sessinfo *sinfo;
	uint32_t nsess, sess_cap;
	int ts_ns_exact;      /* a classic nanosecond pcap (DPKT time model) */
	fbatch fb;
	cf_flowpic_counters c;
	/* the images session_windows makes now: which copy, its parameter,
	 * and the session's own first and last packet */
	uint32_t aug_copy;
	double aug_param;
	int64_t sess_first_ns, sess_last_ns;
	/* Streaming (one window from the first packet, exact time model): the
	 * sessions before `emitted` have had their images made and their
	 * packets dropped. A session is done once the latest packet is more
	 * than its keep time plus STREAM_SLACK_NS after its first: later
	 * packets of it would be dropped anyway. Input that goes back in time
	 * by more than the slack turns streaming off for the rest of the file
	 * (`hold`), so the images stay those of the whole file. */
	int stream;           /* streaming allowed (options; CUFLOW_FLOWPIC_HOLD unset) */
	int hold;
	uint32_t emitted;
	uint32_t done;        /* sessions before it are done (emitted <= done) */
	uint64_t done_packets; /* stored packets of the sessions emitted .. done - 1 */
	int64_t max_ns;
	uint64_t flush_min;   /* stored packets before streaming starts: STREAM_FLUSH_MIN, or
	                         CUFLOW_FLOWPIC_FLUSH_PACKETS (tests) */
	/* Bounded memory (common/spill.h): once the packets, keys and
	 * sessions held would pass the budget, the state so far and every
	 * later packet go to hash partitions of the session keys; the end of
	 * the file replays one partition at a time (partition_sessions) and
	 * merges their sessions in session order into ranges of about
	 * spill_cap packets for the image code. */
	cf_parts *parts;
	uint32_t nparts;
	uint64_t spill_cap;
	uint64_t pkt_idx;     /* packets sent to the partitions: their capture order */
	uint32_t nsess0;      /* sessions made before the partitions */
	uint64_t unit_cap;    /* records a partition may have before it is split */
	struct range_sess *rinfo; /* the range's sessions (from rbase): key and flip */
	uint32_t rbase, rcap;
	int rinfo_on;
	int failed;           /* a spill write failed: its status */
};

/* The partitions' records, 64 bytes: the state when they were made
 * (sessions not yet imaged, every key, the packets held) and then every
 * packet, each with its session key. */
enum { FPR_SESSION = 1, FPR_KEY, FPR_HELD, FPR_PKT };
typedef struct fp_prec {
	skey k;        /* the session key (canonical for bidirectional sessions) */
	uint8_t type;
	uint8_t flip;  /* PKT: against the canonical orientation; SESSION, KEY: the session's; HELD: its dir */
	uint32_t size; /* PKT, HELD */
	uint32_t s;    /* SESSION, HELD; KEY: its current session */
	int64_t ns;    /* PKT, HELD: time; SESSION: first packet; KEY: the key's last packet */
	int64_t aux;   /* PKT: capture order; KEY: its current session's first packet */
} fp_prec;

typedef struct range_sess {
	skey k;
	uint8_t flip;
} range_sess;

_Static_assert(sizeof(fp_prec) == 64, "flowpic's partition record has no hidden padding");

/* Bytes per held packet (the four arrays and the grouping), per key (the
 * map and its info) and per session. */
#define FP_BYTES_PER_PKT 25u
#define FP_BYTES_PER_KEY 64u
#define FP_BYTES_PER_SESS 24u
#define FP_PARTS 512u
#define FP_PART_BUF (64u << 10)
/* Bytes per record while a partition is replayed (the record, its packet
 * and session, the key map): one of more than the budget's worth is split
 * into FP_SUBPARTS (at least 2^16 records; CUFLOW_FLOWPIC_UNIT_PACKETS
 * sets the count). */
#define FP_UNIT_BYTES 120u
#define FP_SUBPARTS 64u

#define STREAM_SLACK_NS (10 * 1000000000LL)
#define STREAM_FLUSH_MIN ((uint64_t)1 << 20)

static const char *const augment_names[] = {"none", "rtt", "shift", "loss"};

int cf_flowpic_augment_parse(const char *name, int *kind)
{
	for (int k = 0; k < 4; k++)
		if (name && !strcmp(name, augment_names[k])) {
			*kind = k;
			return CF_OK;
		}
	return CF_ERR_ARG;
}

const char *cf_flowpic_augment_name(int kind) { return kind >= 0 && kind < 4 ? augment_names[kind] : "?"; }

static int fail(cf_flowpic *h, int st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(cf_flowpic *h, int st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->err, sizeof h->err, fmt, ap);
	va_end(ap);
	return st;
}

int cf_flowpic_preset(cf_flowpic_opts *o, const char *name)
{
	memset(o, 0, sizeof *o);
	o->res = 1500;
	o->window_s = 60.0;
	o->step_s = 60.0;
	o->right_closed = 1;
	o->time_axis = CF_FLOWPIC_STRETCH;
	o->size_clip = 0;
	/* exact floor(L N / 1500): numpy's edges 0..1500 at N = 1500, the
	 * spec's general rule at any other resolution */
	o->size_edges = CF_FLOWPIC_SIZE_SCALE;
	o->value = CF_FLOWPIC_COUNT;
	o->direction = CF_FLOWPIC_UP;
	o->min_packets = 10;
	o->min_span_s = 50.0;
	o->sessions = CF_FLOWPIC_SESSIONS_UNI;
	o->idle_timeout_s = 120.0;
	o->ipv4_only = 1;
	o->time_model = CF_FLOWPIC_TIME_DPKT;
	o->spill_bytes = (uint64_t)128 << 20;
	if (!name || !strcmp(name, "official"))
		return CF_OK;
	if (!strcmp(name, "mini")) {
		/* tcbench get_flowpic(dim=32, max_block_duration=15) */
		o->res = 32;
		o->window_s = 15.0;
		o->step_s = 0.0;
		o->right_closed = 0;
		o->time_axis = CF_FLOWPIC_FIXED_SCALE; /* (t / 15) * 32 on integer edges */
		o->anchor_first = 0;
		o->size_clip = 1;
		o->size_edges = CF_FLOWPIC_SIZE_FLOAT; /* (L / 1500) * 32 on integer edges */
		o->value = CF_FLOWPIC_CAPPED;
		o->min_span_s = -1.0;
		o->time_model = CF_FLOWPIC_TIME_EXACT;
		return CF_OK;
	}
	return CF_ERR_ARG;
}

uint32_t cf_flowpic_channels(const cf_flowpic_opts *o) { return o->direction == CF_FLOWPIC_CHANNELS ? 2 : 1; }

size_t cf_flowpic_pixel_bytes(const cf_flowpic_opts *o)
{
	return cf_flowpic_value_bytes(o->value);
}

/* ---------------------------------------------------------------- batch */

static void batch_free(fbatch *f)
{
	free(f->offsets);
	free(f->t);
	free(f->size);
	free(f->chan);
	free(f->t_first);
	free(f->t_last);
	free(f->anchor);
	free(f->edges_t);
	free(f->edges_s);
	free(f->acc);
	free(f->pix);
	free(f->nz);
	free(f->packets);
	free(f->out);
	free(f->info);
	memset(f, 0, sizeof *f);
}

static int grow_entries(fbatch *f, uint64_t need)
{
	if (need <= f->cap_entries)
		return 0;
	uint64_t nc = f->cap_entries ? f->cap_entries : 1 << 20;
	while (nc < need)
		nc *= 2;
	double *t = realloc(f->t, nc * sizeof *t);
	if (t)
		f->t = t;
	uint32_t *s = realloc(f->size, nc * sizeof *s);
	if (s)
		f->size = s;
	uint8_t *c = realloc(f->chan, nc);
	if (c)
		f->chan = c;
	int64_t *x = realloc(f->pix, nc * sizeof *x);
	if (x)
		f->pix = x;
	if (!t || !s || !c || !x)
		return -1;
	f->cap_entries = nc;
	return 0;
}

/* numpy.linspace(0, stop, n + 1): k * (stop / n) + 0, the last edge stop. */
static void linspace_edges(double *e, uint32_t n, double stop)
{
	double step = stop / (double)n;
	for (uint32_t k = 0; k < n; k++)
		e[k] = (double)k * step + 0.0;
	e[n] = stop;
}

static int batch_init(cf_flowpic *h)
{
	fbatch *f = &h->fb;
	const cf_flowpic_opts *o = &h->o;
	uint64_t px = (uint64_t)h->channels * o->res * o->res;
	uint64_t per_image = px * (4 + cf_flowpic_pixel_bytes(o));
	uint64_t cap = ((uint64_t)64 << 20) / per_image;
	if (cap < 1)
		cap = 1;
	if (cap > 65536)
		cap = 65536;
	f->cap_images = (uint32_t)cap;
	f->offsets = malloc((cap + 1) * sizeof *f->offsets);
	f->t_first = malloc(cap * sizeof(double));
	f->t_last = malloc(cap * sizeof(double));
	f->anchor = malloc(cap * sizeof(double));
	f->packets = malloc(cap * sizeof(uint32_t));
	f->info = malloc(cap * sizeof *f->info);
	f->acc = malloc(cap * px * sizeof(uint32_t));
	f->out = calloc(cap * px, cf_flowpic_pixel_bytes(o)); /* kept zero between batches (CPU) */
	f->edges_t = malloc(((size_t)o->res + 1) * sizeof(double));
	f->edges_s = malloc(((size_t)o->res + 1) * sizeof(double));
	if (!f->offsets || !f->t_first || !f->t_last || !f->anchor || !f->packets || !f->info || !f->acc || !f->out ||
	    !f->edges_t || !f->edges_s || grow_entries(f, 1 << 20))
		return -1;
	if (o->time_axis == CF_FLOWPIC_FIXED_EDGES)
		linspace_edges(f->edges_t, o->res, o->window_s);
	else
		linspace_edges(f->edges_t, o->res, (double)o->res); /* the integers 0..N */
	linspace_edges(f->edges_s, o->res, 1500.0);
	cf_flowpic_batch *b = &f->b;
	memset(b, 0, sizeof *b);
	b->channels = h->channels;
	b->res = o->res;
	b->time_axis = o->time_axis;
	b->size_clip = o->size_clip;
	b->size_edges = o->size_edges;
	b->value = o->value;
	b->duration = o->window_s;
	b->offsets = f->offsets;
	b->t_first = f->t_first;
	b->t_last = f->t_last;
	b->anchor = f->anchor;
	b->edges_t = f->edges_t;
	b->edges_s = f->edges_s;
	b->acc = f->acc;
	b->out = f->out;
	b->packets = f->packets;
	f->offsets[0] = 0;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Image i's pixels that packets landed in (ascending, distinct) into
 * f->nz / f->nz_n, from the CPU backend's pixel per entry; -1 out of
 * memory (the image is then written without the list). */
static int nonzero_pixels(fbatch *f, uint32_t i, uint64_t px)
{
	uint64_t lo = f->offsets[i], hi = f->offsets[i + 1], n = 0;
	if (hi - lo > f->nz_cap) {
		uint64_t *q = realloc(f->nz, (hi - lo) * sizeof *q);
		if (!q)
			return -1;
		f->nz = q;
		f->nz_cap = hi - lo;
	}
	for (uint64_t j = lo; j < hi; j++)
		if (f->pix[j] >= 0)
			f->nz[n++] = (uint64_t)f->pix[j] - (uint64_t)i * px;
	qsort(f->nz, n, sizeof *f->nz, cmp_u64);
	uint64_t m = 0;
	for (uint64_t k = 0; k < n; k++)
		if (!m || f->nz[k] != f->nz[m - 1])
			f->nz[m++] = f->nz[k];
	f->nz_n = m;
	return 0;
}

/* Bins the batch's images and emits them; the batch is empty after. */
static int batch_flush(cf_flowpic *h)
{
	fbatch *f = &h->fb;
	cf_flowpic_batch *b = &f->b;
	if (!b->n_images)
		return CF_OK;
	b->t = f->t;
	b->size = f->size;
	b->chan = f->chan;
	b->pix = f->pix;
	int st = cf_backend_flowpic_images(h->backend, b);
	if (st < 0)
		return fail(h, st, "flowpic: %s backend: %s", h->backend ? cf_backend_name(h->backend) : "cpu",
		            h->backend ? cf_backend_error(h->backend) : "failed");
	h->c.batches++;
	/* The CPU backend left each entry's pixel in pix: the writer is told
	 * which pixels may be non-zero, and afterwards only those are cleared,
	 * so the output stays zero for the next batch. */
	int cpu = !h->backend || cf_backend_kind(h->backend) == CF_BACKEND_CPU;
	uint64_t px = (uint64_t)h->channels * h->o.res * h->o.res;
	size_t vb = cf_flowpic_pixel_bytes(&h->o), img_bytes = (size_t)px * vb;
	b->out_zero = 0; /* until every image is out and its pixels are cleared */
	for (uint32_t i = 0; i < b->n_images; i++) {
		cf_flowpic_image *im = &f->info[i];
		im->packets = f->packets[i];
		im->pixels = (const char *)f->out + (size_t)i * img_bytes;
		im->nonzero = NULL;
		im->n_nonzero = 0;
		if (cpu && (st = nonzero_pixels(f, i, px)) == 0) {
			im->nonzero = f->nz;
			im->n_nonzero = f->nz_n;
		}
		h->c.entries_outside += (f->offsets[i + 1] - f->offsets[i]) - f->packets[i];
		if ((st = h->emit(h->user, im)) < 0)
			return fail(h, st, "flowpic: the output stopped");
	}
	if (cpu) {
		for (uint64_t j = 0; j < f->offsets[b->n_images]; j++)
			if (f->pix[j] >= 0)
				memset((char *)f->out + (size_t)f->pix[j] * vb, 0, vb);
		/* after a device batch larger than this one (an AUTO backend that
		 * fell back to the CPU), images past this batch still hold its
		 * pixels: cleared once, so "out is zero" holds again */
		if (f->dirty_images > b->n_images)
			memset((char *)f->out + (size_t)b->n_images * img_bytes, 0,
			       (size_t)(f->dirty_images - b->n_images) * img_bytes);
		f->dirty_images = 0;
	} else if (b->n_images > f->dirty_images) {
		f->dirty_images = b->n_images;
	}
	b->out_zero = cpu;
	b->n_images = 0;
	f->offsets[0] = 0;
	return CF_OK;
}

/* ---------------------------------------------------------------- open */

static void reset_file(cf_flowpic *h);

int cf_flowpic_open(const cf_flowpic_opts *o, cf_backend *backend, cf_flowpic_emit_fn emit, void *user,
                    cf_flowpic **out, char *errbuf)
{
	const char *bad = NULL;
	if (!o || !emit)
		bad = "options and an emit function are required";
	else if (o->res < 1 || o->res > 4096)
		bad = "resolution must be 1..4096";
	else if (!(o->window_s > 0.0) || !isfinite(o->window_s))
		bad = "window must be > 0 seconds";
	else if (!(o->step_s >= 0.0) || !isfinite(o->step_s))
		bad = "step must be >= 0 seconds";
	else if (o->direction < CF_FLOWPIC_UP || o->direction > CF_FLOWPIC_CHANNELS)
		bad = "unknown direction";
	else if (o->direction != CF_FLOWPIC_UP && o->sessions != CF_FLOWPIC_SESSIONS_BIDIR)
		bad = "direction down, both and 2ch need bidirectional sessions";
	else if (o->value < CF_FLOWPIC_COUNT || o->value > CF_FLOWPIC_NORM)
		bad = "unknown value";
	else if (o->time_axis < CF_FLOWPIC_STRETCH || o->time_axis > CF_FLOWPIC_FIXED_SCALE)
		bad = "unknown time axis";
	else if (o->sessions == CF_FLOWPIC_SESSIONS_BIDIR && !(o->idle_timeout_s > 0.0))
		bad = "the idle timeout must be > 0 seconds";
	if (bad) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flowpic: %s", bad);
		return CF_ERR_ARG;
	}
	cf_flowpic *h = calloc(1, sizeof *h);
	if (!h) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flowpic: out of memory");
		return CF_ERR_NOMEM;
	}
	h->o = *o;
	h->backend = backend;
	h->emit = emit;
	h->user = user;
	h->channels = cf_flowpic_channels(o);
	/* sessions end a known time after their first packet only with one
	 * window from it; the DPKT time model waits for the file's format */
	const char *hold = getenv("CUFLOW_FLOWPIC_HOLD");
	h->stream = o->step_s == 0.0 && o->time_model == CF_FLOWPIC_TIME_EXACT && !(hold && hold[0] && strcmp(hold, "0"));
	const char *fl = getenv("CUFLOW_FLOWPIC_FLUSH_PACKETS");
	h->flush_min = fl && strtoull(fl, NULL, 10) ? strtoull(fl, NULL, 10) : STREAM_FLUSH_MIN;
	if (o->spill_bytes) {
		h->spill_cap = o->spill_bytes / FP_BYTES_PER_PKT;
		if (h->spill_cap < 64)
			h->spill_cap = 64;
	}
	h->unit_cap = o->spill_bytes / FP_UNIT_BYTES > 65536 ? o->spill_bytes / FP_UNIT_BYTES : 65536;
	const char *up = getenv("CUFLOW_FLOWPIC_UNIT_PACKETS"); /* tests */
	if (up && strtoull(up, NULL, 10))
		h->unit_cap = strtoull(up, NULL, 10);
	const char *pp = getenv("CUFLOW_FLOWPIC_PARTITIONS"); /* tests */
	uint64_t npp = pp ? strtoull(pp, NULL, 10) : 0;
	h->nparts = npp && npp <= 65536 ? (uint32_t)npp : FP_PARTS;
	reset_file(h);
	if (batch_init(h)) {
		cf_flowpic_close(h);
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "flowpic: out of memory for the image batch");
		return CF_ERR_NOMEM;
	}
	*out = h;
	return CF_OK;
}

static void reset_file(cf_flowpic *h)
{
	cf_parts_close(h->parts); /* sessions never span files */
	h->parts = NULL;
	h->pkt_idx = 0;
	h->rinfo_on = 0;
	h->failed = 0;
	h->np = 0;
	h->nsess = 0;
	cf_keymap_clear(&h->keys);
	h->hold = 0;
	h->emitted = h->done = 0;
	h->done_packets = 0;
	h->max_ns = INT64_MIN;
}

void cf_flowpic_close(cf_flowpic *h)
{
	if (!h)
		return;
	free(h->p_sess);
	free(h->p_ns);
	free(h->p_size);
	free(h->p_dir);
	cf_keymap_free(&h->keys);
	free(h->kinfo);
	free(h->sinfo);
	batch_free(&h->fb);
	cf_parts_close(h->parts);
	free(h->rinfo);
	free(h);
}

const char *cf_flowpic_error(const cf_flowpic *h) { return h ? h->err : ""; }
void cf_flowpic_counters_get(const cf_flowpic *h, cf_flowpic_counters *out) { *out = h->c; }

/* ---------------------------------------------------------------- packets */

/* A new session of key ki starting with packet p; -1 out of memory. */
static int64_t new_session(cf_flowpic *h, uint32_t ki, const cf_pkt *p, int flip)
{
	if (h->nsess == h->sess_cap) {
		uint32_t nc = h->sess_cap ? h->sess_cap * 2 : 1024;
		sessinfo *q = realloc(h->sinfo, (size_t)nc * sizeof *q);
		if (!q)
			return -1;
		h->sinfo = q;
		h->sess_cap = nc;
	}
	uint32_t s = h->nsess++;
	h->sinfo[s] = (sessinfo){p->ts_ns, ki, (uint32_t)flip, 0};
	h->kinfo[ki].sess = s;
	return s;
}

/* A packet's session key; *flip gets 1 when it runs against the key's
 * (canonical) orientation. */
static void session_key(const cf_flowpic *h, const cf_pkt *p, skey *k, int *flip)
{
	memset(k, 0, sizeof *k);
	k->ver = p->ip_version;
	k->proto = p->proto;
	k->sport = p->sport;
	k->dport = p->dport;
	memcpy(k->src, p->src_ip, 16);
	memcpy(k->dst, p->dst_ip, 16);
	*flip = 0;
	if (h->o.sessions == CF_FLOWPIC_SESSIONS_BIDIR) {
		int c = memcmp(k->src, k->dst, 16);
		if (c > 0 || (c == 0 && k->sport > k->dport)) { /* canonical: lower endpoint first */
			uint8_t tmp[16];
			memcpy(tmp, k->src, 16);
			memcpy(k->src, k->dst, 16);
			memcpy(k->dst, tmp, 16);
			uint16_t tp = k->sport;
			k->sport = k->dport;
			k->dport = tp;
			*flip = 1;
		}
	}
}

/* Session of a packet (created when new); -1 out of memory. *flip gets 1
 * when the packet runs against the session's first orientation. */
static int64_t session_of(cf_flowpic *h, const cf_pkt *p, int *flip)
{
	skey k;
	session_key(h, p, &k, flip);
	int added;
	int64_t ki = cf_keymap_add(&h->keys, &k, &added);
	if (ki < 0)
		return -1;
	if (added) {
		if (h->keys.n > h->kinfo_cap) {
			uint32_t nc = h->keys.cap;
			keyinfo *q = realloc(h->kinfo, (size_t)nc * sizeof *q);
			if (!q)
				return -1;
			h->kinfo = q;
			h->kinfo_cap = nc;
		}
		h->kinfo[ki].last_ns = p->ts_ns;
		int64_t s = new_session(h, (uint32_t)ki, p, *flip);
		*flip = 0;
		return s;
	}
	keyinfo *kinf = &h->kinfo[ki];
	int64_t s = kinf->sess;
	if (h->o.sessions == CF_FLOWPIC_SESSIONS_BIDIR &&
	    (double)(p->ts_ns - kinf->last_ns) > h->o.idle_timeout_s * 1e9)
		if ((s = new_session(h, (uint32_t)ki, p, *flip)) < 0)
			return -1;
	if (p->ts_ns > kinf->last_ns)
		kinf->last_ns = p->ts_ns;
	*flip ^= (int)h->sinfo[s].flip;
	return s;
}

/* Doubles the held packets' arrays (up to spill_cap first: the
 * partitions' merge fills ranges of that size). */
static int grow_held(cf_flowpic *h)
{
	uint64_t nc = h->cap ? h->cap * 2 : 65536;
	if (h->spill_cap && nc > h->spill_cap && h->cap < h->spill_cap)
		nc = h->spill_cap;
	uint32_t *a = realloc(h->p_sess, nc * sizeof *a);
	if (a)
		h->p_sess = a;
	int64_t *b = realloc(h->p_ns, nc * sizeof *b);
	if (b)
		h->p_ns = b;
	uint32_t *c = realloc(h->p_size, nc * sizeof *c);
	if (c)
		h->p_size = c;
	uint8_t *d = realloc(h->p_dir, nc);
	if (d)
		h->p_dir = d;
	if (!a || !b || !c || !d)
		return -1;
	h->cap = nc;
	return 0;
}

static int part_add(cf_flowpic *h, const fp_prec *r)
{
	return cf_parts_add(h->parts, cf_part_pick(cf_key5_hash(&r->k), 0, h->nparts), r, h->err, sizeof h->err);
}

/* Past the budget: the state so far goes to the partitions (sessions not
 * imaged yet, every key with its current session, the packets held), and
 * the tables are freed; later packets follow (add_packet). */
static int to_partitions(cf_flowpic *h)
{
	int st = cf_parts_open(&h->parts, h->o.spill_dir, "flowpic", h->nparts, sizeof(fp_prec), FP_PART_BUF, h->err,
	                       sizeof h->err);
	fp_prec r;
	for (uint32_t s = h->emitted; s < h->nsess && st == CF_OK; s++) {
		memset(&r, 0, sizeof r);
		r.k = h->keys.keys[h->sinfo[s].key];
		r.type = FPR_SESSION;
		r.flip = (uint8_t)h->sinfo[s].flip;
		r.s = s;
		r.ns = h->sinfo[s].first_ns;
		st = part_add(h, &r);
	}
	for (uint32_t ki = 0; ki < h->keys.n && st == CF_OK; ki++) {
		const sessinfo *si = &h->sinfo[h->kinfo[ki].sess];
		memset(&r, 0, sizeof r);
		r.k = h->keys.keys[ki];
		r.type = FPR_KEY;
		r.flip = (uint8_t)si->flip;
		r.s = h->kinfo[ki].sess;
		r.ns = h->kinfo[ki].last_ns;
		r.aux = si->first_ns;
		st = part_add(h, &r);
	}
	for (uint64_t i = 0; i < h->np && st == CF_OK; i++) {
		memset(&r, 0, sizeof r);
		r.k = h->keys.keys[h->sinfo[h->p_sess[i]].key];
		r.type = FPR_HELD;
		r.flip = h->p_dir[i];
		r.size = h->p_size[i];
		r.s = h->p_sess[i];
		r.ns = h->p_ns[i];
		st = part_add(h, &r);
	}
	if (st < 0)
		return st;
	h->nsess0 = h->nsess;
	h->np = 0;
	cf_keymap_free(&h->keys);
	free(h->kinfo);
	free(h->sinfo);
	h->kinfo = NULL;
	h->sinfo = NULL;
	h->kinfo_cap = h->sess_cap = 0;
	h->c.spill_runs = h->nparts;
	return CF_OK;
}

/* How long after its first packet a session's packets are kept (one
 * window from the first packet, as mini: later ones can never be in an
 * image). An augmented copy can bring later ones in: up to 2 D for RTT
 * (x 0.5), D + 1 s for SHIFT. */
static double keep_seconds(const cf_flowpic *h)
{
	double keep_s = h->o.window_s;
	if (h->o.augment_copies && h->o.augment == CF_FLOWPIC_AUGMENT_RTT) keep_s /= 0.5;
	else if (h->o.augment_copies && h->o.augment == CF_FLOWPIC_AUGMENT_SHIFT) keep_s += 1.0;
	return keep_s;
}

static int late_packet(cf_flowpic *h, int64_t ns, int64_t first_ns, uint64_t s)
{
	return fail(h, CF_ERR_UNSUPPORTED,
	            "flowpic: a packet %.3f s after the first of session %llu arrived after that session's image "
	            "was written (the capture goes back in time by more than %lld s); set CUFLOW_FLOWPIC_HOLD=1 to "
	            "hold every session until the end of the file",
	            (double)(ns - first_ns) / 1e9, (unsigned long long)s, (long long)(STREAM_SLACK_NS / 1000000000LL));
}

/* The IP bytes of a packet an image counts. */
static uint32_t stored_size(const cf_flowpic *h, const cf_pkt *p)
{
	uint32_t size = p->ip_len; /* dpkt's len(ip): the IP bytes that were captured */
	if ((p->flags & CF_PKT_TRUNCATED) && p->caplen > p->l3_offset && p->caplen - p->l3_offset < size)
		size = p->caplen - p->l3_offset;
	return h->o.size_frame ? p->caplen : size;
}

static int add_packet(cf_flowpic *h, const cf_pkt *p)
{
	h->c.packets++;
	if (p->skip != CF_SKIP_NONE) {
		h->c.skipped_decode++;
		return 0;
	}
	if ((p->proto != 6 && p->proto != 17) || (h->o.ipv4_only && p->ip_version != 4)) {
		h->c.not_used++;
		return 0;
	}
	if (!h->parts && h->spill_cap &&
	    h->np * FP_BYTES_PER_PKT + (uint64_t)h->keys.n * FP_BYTES_PER_KEY + (uint64_t)h->nsess * FP_BYTES_PER_SESS >=
	        h->spill_cap * FP_BYTES_PER_PKT) {
		int st = to_partitions(h);
		if (st < 0) {
			h->failed = st;
			return -3;
		}
	}
	if (h->parts) { /* sessions are made when the partitions are replayed */
		fp_prec r;
		int flip;
		memset(&r, 0, sizeof r);
		session_key(h, p, &r.k, &flip);
		r.type = FPR_PKT;
		r.flip = (uint8_t)flip;
		r.size = stored_size(h, p);
		r.ns = p->ts_ns;
		r.aux = (int64_t)h->pkt_idx++;
		int st = part_add(h, &r);
		if (st < 0) {
			h->failed = st;
			return -3;
		}
		return 0;
	}
	int flip;
	int64_t s = session_of(h, p, &flip);
	if (s < 0)
		return -1;
	if (h->o.step_s == 0.0 && (double)(p->ts_ns - h->sinfo[s].first_ns) > keep_seconds(h) * 1e9 + 1e6) {
		h->c.after_window++; /* 1 ms of margin for the time model's rounding */
		return 0;
	}
	if ((uint32_t)s < h->emitted) {
		/* its image is written: only input more than the slack out of
		 * time order gets here (and it turned streaming off) */
		late_packet(h, p->ts_ns, h->sinfo[s].first_ns, (uint64_t)s);
		return -2;
	}
	if (h->np == h->cap && grow_held(h))
		return -1;
	uint64_t i = h->np++;
	h->sinfo[s].stored++;
	h->p_sess[i] = (uint32_t)s;
	h->p_ns[i] = p->ts_ns;
	h->p_size[i] = stored_size(h, p);
	h->p_dir[i] = (uint8_t)flip;
	return 0;
}

static int flush_done_sessions(cf_flowpic *h);

static int scan_hook(void *user, const cf_pkt *p, size_t n)
{
	cf_flowpic *h = user;
	for (size_t i = 0; i < n; i++) {
		if (p[i].ts_ns > h->max_ns)
			h->max_ns = p[i].ts_ns;
		else if (p[i].ts_ns < h->max_ns - STREAM_SLACK_NS)
			h->hold = 1;
		int st = add_packet(h, &p[i]);
		if (st == -2)
			return h->failed = CF_ERR_UNSUPPORTED;
		if (st == -3)
			return h->failed; /* the spill's message is in h->err */
		if (st)
			return fail(h, CF_ERR_NOMEM, "flowpic: out of memory after %llu packets", (unsigned long long)h->np);
	}
	if (h->stream && !h->hold && !h->parts && h->np >= h->flush_min) {
		int st = flush_done_sessions(h);
		if (st < 0)
			return st;
	}
	return 0;
}

/* ---------------------------------------------------------------- windows */

/* dpkt's float timestamp of a µs pcap: tv_sec + tv_usec / 1E6. (A pcapng
 * file reaches the official parser through editcap -F libpcap, which
 * truncates to µs.) */
static double dpkt_seconds(int64_t ns)
{
	int64_t sec = ns / 1000000000, frac = ns % 1000000000;
	if (frac < 0) {
		sec -= 1;
		frac += 1000000000;
	}
	return (double)sec + (double)(frac / 1000) / 1e6;
}

/* Python 2's round(x, 6) (the official parser is Python 2): the double
 * nearest to x correctly rounded to 6 decimals, ties away from zero. A
 * tie needs x * 10^6 = k + 1/2 exactly, i.e. x an odd multiple of 1/128. */
static double py_round6(double x)
{
	double m = x * 128.0; /* exact */
	if (m == nearbyint(m) && fmod(m, 2.0) != 0.0 && fabs(m) < 1e12) {
		double y = m * 7812.5; /* x * 10^6, exact: m is an integer below 2^40 */
		return (y > 0 ? ceil(y) : floor(y)) / 1e6;
	}
	double k = nearbyint(x * 1e6), d = fabs(x * 1e6 - k);
	if (d < 0.4999 && fabs(k) < 9e15)
		return k / 1e6; /* the product's error cannot move it across a half */
	char buf[64];
	snprintf(buf, sizeof buf, "%.6f", x); /* glibc: exact (no tie is left here) */
	return strtod(buf, NULL);
}

static double rel_time(const cf_flowpic *h, int64_t ns, int64_t first_ns)
{
	if (h->o.time_model == CF_FLOWPIC_TIME_EXACT)
		return (double)(ns - first_ns) / 1e9;
	/* a nanosecond pcap gives dpkt exact Decimals: the difference is
	 * exact, then float() and round() */
	if (h->ts_ns_exact)
		return py_round6((double)(ns - first_ns) / 1e9);
	return py_round6(dpkt_seconds(ns) - dpkt_seconds(first_ns));
}

/* Is packet i (direction dir) in this image's channel set? Channel out. */
static int pick(const cf_flowpic *h, uint8_t dir, uint8_t *chan)
{
	switch (h->o.direction) {
	case CF_FLOWPIC_UP: *chan = 0; return dir == 0;
	case CF_FLOWPIC_DOWN: *chan = 0; return dir == 1;
	case CF_FLOWPIC_BOTH: *chan = 0; return 1;
	default: *chan = dir; return 1;
	}
}

/* Session s's key and flip: from the tables, or from the range the
 * partitions' merge is imaging. */
static const skey *sess_key(const cf_flowpic *h, uint32_t s)
{
	return h->rinfo_on ? &h->rinfo[s - h->rbase].k : &h->keys.keys[h->sinfo[s].key];
}

static int sess_flip(const cf_flowpic *h, uint32_t s)
{
	return h->rinfo_on ? h->rinfo[s - h->rbase].flip : (int)h->sinfo[s].flip;
}

/* Cuts one session's windows (its packets `ix`, capture order, times
 * `t` relative to its first packet) into the batch. */
static int session_windows(cf_flowpic *h, uint32_t s, const uint32_t *ix, const double *t, uint64_t n)
{
	const cf_flowpic_opts *o = &h->o;
	fbatch *f = &h->fb;
	double D = o->window_s, S = o->step_s;
	uint64_t nw = 1;
	if (S > 0.0) {
		/* the official count: range(int(last_ts / 60 - 60 / 60) + 1), last_ts
		 * the session's last packet in capture order; int() truncates
		 * toward zero, so last_ts <= 0 gives no window */
		double v = t[n - 1] / S - D / S;
		if (!(v > -1.0))
			nw = 0;
		else
			nw = v < 1e12 ? (uint64_t)(int64_t)trunc(v) + 1 : 1;
	}
	if (o->max_windows && nw > o->max_windows)
		nw = o->max_windows;
	const skey *k = sess_key(h, s);
	int flip0 = sess_flip(h, s);
	/* In a time-ordered session (the usual case) a window's members are a
	 * contiguous run: each window starts where the packets reach its
	 * start and stops at its end. Otherwise every packet is looked at. */
	int ordered = 1;
	for (uint64_t j = 1; j < n && ordered; j++)
		ordered = t[j] >= t[j - 1];
	uint64_t j0 = 0;
	for (uint64_t w = 0; w < nw; w++) {
		double lo = (double)w * S, hi = lo + D;
		h->c.windows++;
		/* room for every packet of the session, then the members in
		 * capture order straight into the batch; a window that fails the
		 * rules is simply not counted as an image */
		if (f->b.n_images == f->cap_images || f->offsets[f->b.n_images] + n > f->cap_entries) {
			int st = batch_flush(h);
			if (st < 0)
				return st;
			if (grow_entries(f, n))
				return fail(h, CF_ERR_NOMEM, "flowpic: out of memory for a session of %llu packets",
				            (unsigned long long)n);
		}
		uint32_t i = f->b.n_images;
		uint64_t e = f->offsets[i], e0 = e;
		double tf = 0, tl = 0;
		if (ordered)
			while (j0 < n && t[j0] < lo)
				j0++;
		for (uint64_t j = ordered ? j0 : 0; j < n; j++) {
			double x = t[j];
			uint8_t ch;
			if (ordered && (x > hi || (!o->right_closed && x == hi)))
				break;
			if (x < lo || x > hi || (!o->right_closed && x == hi) || !pick(h, h->p_dir[ix[j]], &ch))
				continue;
			if (e == e0)
				tf = x;
			tl = x;
			f->t[e] = x;
			f->size[e] = h->p_size[ix[j]];
			f->chan[e] = ch;
			e++;
		}
		uint64_t cnt = e - e0;
		if (cnt <= o->min_packets) {
			h->c.windows_small++;
			continue;
		}
		if (o->min_span_s >= 0.0 && !(tl - tf > o->min_span_s)) {
			h->c.windows_short++;
			continue;
		}
		f->b.n_images++;
		f->offsets[i + 1] = e;
		f->t_first[i] = tf;
		f->t_last[i] = tl;
		f->anchor[i] = o->anchor_first ? tf : lo;
		h->c.entries += cnt;
		h->c.images++;
		cf_flowpic_image *im = &f->info[i];
		memset(im, 0, sizeof *im);
		im->ip_version = k->ver;
		im->proto = k->proto;
		/* the session's first packet's orientation */
		im->src_port = flip0 ? k->dport : k->sport;
		im->dst_port = flip0 ? k->sport : k->dport;
		memcpy(im->src_ip, flip0 ? k->dst : k->src, 16);
		memcpy(im->dst_ip, flip0 ? k->src : k->dst, 16);
		im->session = s;
		im->window = (uint32_t)w;
		int64_t first = h->sess_first_ns;
		im->first_ns = first;
		im->last_ns = h->sess_last_ns;
		im->window_start_ns = first + (int64_t)w * llround(S * 1e9);
		im->augment = h->aug_copy;
		im->augment_param = h->aug_param;
		im->channels = h->channels;
		im->res = o->res;
	}
	return CF_OK;
}

/* splitmix64 */
static uint64_t mix64(uint64_t z)
{
	z += 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* Copy c of session s: its parameter, uniform in [lo, hi), from the seed,
 * the session's key and first packet's time, and the copy alone (not from
 * the order of files or sessions: --jobs gives the same images). */
static double augment_draw(const cf_flowpic *h, uint32_t s, uint32_t c, double lo, double hi)
{
	const skey *k = sess_key(h, s);
	uint64_t z = mix64(h->o.augment_seed);
	const uint8_t *b = (const uint8_t *)k; /* cf_key5 has no padding */
	for (size_t i = 0; i < sizeof *k; i++) z = mix64(z ^ b[i]);
	z = mix64(z ^ (uint64_t)h->sess_first_ns);
	z = mix64(z ^ c);
	return lo + (hi - lo) * ((double)(z >> 11) * (1.0 / 9007199254740992.0));
}

/* The augmented copies of one session (times t of its packets ix, n of
 * them): new times (and, for LOSS, fewer packets) into t2/ix2, then the
 * windows as for the session itself. */
static int session_copies(cf_flowpic *h, uint32_t s, const uint32_t *ix, const double *t, uint64_t n, uint32_t *ix2,
                          double *t2)
{
	const cf_flowpic_opts *o = &h->o;
	for (uint32_t c = 1; c <= o->augment_copies; c++) {
		uint64_t m = 0;
		double p;
		switch (o->augment) {
		case CF_FLOWPIC_AUGMENT_RTT:
			p = augment_draw(h, s, c, 0.5, 1.5);
			for (uint64_t j = 0; j < n; j++) t2[m] = t[j] * p, ix2[m++] = ix[j];
			break;
		case CF_FLOWPIC_AUGMENT_SHIFT:
			p = augment_draw(h, s, c, -1.0, 1.0);
			for (uint64_t j = 0; j < n; j++) t2[m] = t[j] + p, ix2[m++] = ix[j];
			break;
		default: /* LOSS */
			p = augment_draw(h, s, c, 0.0, t[n - 1] > 0 ? t[n - 1] : 0.0);
			for (uint64_t j = 0; j < n; j++)
				if (!(fabs(t[j] - p) <= 0.1)) t2[m] = t[j], ix2[m++] = ix[j];
			break;
		}
		h->aug_copy = c;
		h->aug_param = p;
		int st = m > o->min_packets ? session_windows(h, s, ix2, t2, m) : CF_OK;
		if (st < 0) return st;
	}
	h->aug_copy = 0;
	h->aug_param = 0;
	return CF_OK;
}

/* The images of sessions s0 .. s1-1 from the stored packets, which are
 * exactly theirs, in capture order (into the batch; it is flushed when full
 * and at the end of the file, so batches are those of one pass). */
static int session_images(cf_flowpic *h, uint32_t s0, uint32_t s1)
{
	uint64_t np = h->np;
	uint32_t ns = s1 - s0;
	h->c.sessions += ns;
	uint64_t *start = calloc((size_t)ns + 1, sizeof *start);
	uint32_t *ix = malloc((np ? np : 1) * sizeof *ix), *ix2 = NULL, *keys = NULL;
	double *t = NULL, *t2 = NULL;
	int st = CF_ERR_NOMEM;
	if (!start || !ix)
		goto out;
	const uint32_t *g = h->p_sess;
	if (s0) { /* group numbers from 0 */
		if (!(keys = malloc((np ? np : 1) * sizeof *keys)))
			goto out;
		for (uint64_t j = 0; j < np; j++)
			keys[j] = h->p_sess[j] - s0;
		g = keys;
	}
	int64_t maxlen = cf_group_by(g, np, ns, start, ix);
	size_t ml = maxlen > 0 ? (size_t)maxlen : 1;
	int aug = h->o.augment != CF_FLOWPIC_AUGMENT_NONE && h->o.augment_copies > 0;
	if (maxlen < 0 || !(t = malloc(ml * sizeof *t)) ||
	    (aug && (!(t2 = malloc(ml * sizeof *t2)) || !(ix2 = malloc(ml * sizeof *ix2)))))
		goto out;
	for (uint32_t k = 0; k < ns; k++) {
		uint32_t s = s0 + k;
		uint64_t a = start[k], n = start[k + 1] - a;
		if (n <= h->o.min_packets)
			continue; /* no window can hold more than min_packets */
		int64_t first = h->p_ns[ix[a]];
		h->sess_first_ns = first;
		h->sess_last_ns = h->p_ns[ix[a + n - 1]];
		for (uint64_t j = 0; j < n; j++)
			t[j] = rel_time(h, h->p_ns[ix[a + j]], first);
		if ((st = session_windows(h, s, ix + a, t, n)) < 0)
			goto out;
		if (aug && (st = session_copies(h, s, ix + a, t, n, ix2, t2)) < 0)
			goto out;
	}
	st = CF_OK;
out:
	if (st == CF_ERR_NOMEM && !h->err[0])
		fail(h, st, "flowpic: out of memory (%llu packets)", (unsigned long long)np);
	free(start);
	free(ix);
	free(keys);
	free(t);
	free(t2);
	free(ix2);
	return st;
}

/* Streaming: once the sessions that are done (in session order, up to the
 * first that is not) hold half the stored packets, their images are made
 * and their packets dropped: each packet is moved at most twice. */
static int flush_done_sessions(cf_flowpic *h)
{
	double keep_ns = keep_seconds(h) * 1e9 + 1e6 + (double)STREAM_SLACK_NS; /* as add_packet keeps them */
	while (h->done < h->nsess && (double)(h->max_ns - h->sinfo[h->done].first_ns) > keep_ns)
		h->done_packets += h->sinfo[h->done++].stored;
	uint32_t k = h->done;
	uint64_t m = h->done_packets;
	if (k == h->emitted || (m && 2 * m < h->np))
		return CF_OK;
	int st = CF_OK;
	if (m) {
		/* the done sessions' packets apart (capture order kept), the others
		 * moved up in place */
		uint32_t *es = malloc(m * sizeof *es), *esz = malloc(m * sizeof *esz);
		int64_t *ens = malloc(m * sizeof *ens);
		uint8_t *ed = malloc(m);
		if (!es || !esz || !ens || !ed) {
			free(es), free(esz), free(ens), free(ed);
			return fail(h, CF_ERR_NOMEM, "flowpic: out of memory after %llu packets", (unsigned long long)h->np);
		}
		uint64_t a = 0, b = 0;
		for (uint64_t i = 0; i < h->np; i++) {
			if (h->p_sess[i] < k) {
				es[a] = h->p_sess[i], ens[a] = h->p_ns[i], esz[a] = h->p_size[i], ed[a] = h->p_dir[i];
				a++;
			} else {
				h->p_sess[b] = h->p_sess[i], h->p_ns[b] = h->p_ns[i], h->p_size[b] = h->p_size[i];
				h->p_dir[b] = h->p_dir[i];
				b++;
			}
		}
		uint32_t *ks = h->p_sess, *ksz = h->p_size;
		int64_t *kns = h->p_ns;
		uint8_t *kd = h->p_dir;
		h->p_sess = es, h->p_ns = ens, h->p_size = esz, h->p_dir = ed, h->np = a;
		st = session_images(h, h->emitted, k);
		h->p_sess = ks, h->p_ns = kns, h->p_size = ksz, h->p_dir = kd, h->np = b;
		free(es), free(esz), free(ens), free(ed);
	} else {
		h->c.sessions += k - h->emitted; /* done with no packet stored */
	}
	h->emitted = k;
	h->done_packets = 0;
	return st;
}

/* ------------------------------------------------ the partitions, at the end of the file */

/* A session a partition's replay made or was given. */
typedef struct rsess {
	uint64_t order;   /* an older session: its number; a new one: NEW_SESSION | its first packet's order */
	int64_t first_ns;
	uint32_t key;     /* in the replay's key map */
	uint8_t flip, imaged;
} rsess;
#define NEW_SESSION ((uint64_t)1 << 63)

/* What a partition's replay gives the merge: its sessions in session
 * order, each followed by its packets in capture order. */
typedef struct out_sess {
	uint64_t order;
	skey k;
	uint8_t flip, pad;
	uint32_t npk;
} out_sess;

typedef struct out_pkt {
	int64_t ns;
	uint32_t size;
	uint8_t dir, pad[3];
} out_pkt;

typedef struct replay {
	cf_keymap keys;
	keyinfo *kinfo;
	uint32_t kcap;
	rsess *ss;
	uint32_t ns, scap, nold; /* the first nold are the older sessions, by number */
	uint32_t *pe;            /* a kept packet's session */
	out_pkt *pk;
	uint64_t np;
} replay;

static void replay_free(replay *r)
{
	cf_keymap_free(&r->keys);
	free(r->kinfo);
	free(r->ss);
	free(r->pe);
	free(r->pk);
}

static int64_t replay_session(replay *r, uint64_t order, int64_t first_ns, uint32_t key, uint8_t flip, uint8_t imaged)
{
	if (r->ns == r->scap) {
		uint32_t nc = r->scap ? r->scap * 2 : 1024;
		rsess *q = realloc(r->ss, (size_t)nc * sizeof *q);
		if (!q)
			return -1;
		r->ss = q;
		r->scap = nc;
	}
	r->ss[r->ns] = (rsess){order, first_ns, key, flip, imaged};
	return r->ns++;
}

static int64_t replay_key(replay *r, const skey *k, int *added)
{
	int64_t ki = cf_keymap_add(&r->keys, k, added);
	if (ki >= 0 && r->keys.n > r->kcap) {
		keyinfo *q = realloc(r->kinfo, (size_t)r->keys.cap * sizeof *q);
		if (!q)
			return -1;
		r->kinfo = q;
		r->kcap = r->keys.cap;
	}
	return ki;
}

/* An older session by number among the first nold, or -1. */
static int64_t replay_old(const replay *r, uint32_t s)
{
	uint32_t lo = 0, hi = r->nold;
	while (lo < hi) {
		uint32_t m = lo + (hi - lo) / 2;
		if (r->ss[m].order < s)
			lo = m + 1;
		else
			hi = m;
	}
	return lo < r->nold && r->ss[lo].order == s ? (int64_t)lo : -1;
}

/* One partition's records in their order: the sessions they make (as
 * session_of and add_packet do), the packets each keeps. */
static int replay_partition(cf_flowpic *h, replay *r, const fp_prec *rec, uint64_t n)
{
	double keep_ns = keep_seconds(h) * 1e9 + 1e6;
	int bidir = h->o.sessions == CF_FLOWPIC_SESSIONS_BIDIR;
	for (uint64_t i = 0; i < n; i++) {
		const fp_prec *q = &rec[i];
		int added;
		int64_t ki, e;
		uint8_t dir = 0;
		switch (q->type) {
		case FPR_SESSION:
			if ((ki = replay_key(r, &q->k, &added)) < 0 || replay_session(r, q->s, q->ns, (uint32_t)ki, q->flip, 0) < 0)
				return CF_ERR_NOMEM;
			r->nold = r->ns;
			continue;
		case FPR_KEY:
			if ((ki = replay_key(r, &q->k, &added)) < 0)
				return CF_ERR_NOMEM;
			if ((e = replay_old(r, q->s)) < 0 &&
			    (e = replay_session(r, q->s, q->aux, (uint32_t)ki, q->flip, 1)) < 0) /* imaged already */
				return CF_ERR_NOMEM;
			r->kinfo[ki] = (keyinfo){q->ns, (uint32_t)e};
			continue;
		case FPR_HELD:
			if ((e = replay_old(r, q->s)) < 0)
				return fail(h, CF_ERR_CORRUPT, "flowpic: a held packet of session %u has no session", q->s);
			dir = q->flip;
			break;
		case FPR_PKT:
			if ((ki = replay_key(r, &q->k, &added)) < 0)
				return CF_ERR_NOMEM;
			if (added) {
				r->kinfo[ki].last_ns = q->ns;
				e = -1;
			} else {
				keyinfo *kf = &r->kinfo[ki];
				e = kf->sess;
				if (bidir && (double)(q->ns - kf->last_ns) > h->o.idle_timeout_s * 1e9)
					e = -1;
				if (q->ns > kf->last_ns)
					kf->last_ns = q->ns;
			}
			if (e < 0) {
				if ((e = replay_session(r, NEW_SESSION | (uint64_t)q->aux, q->ns, (uint32_t)ki, q->flip, 0)) < 0)
					return CF_ERR_NOMEM;
				r->kinfo[ki].sess = (uint32_t)e;
			}
			dir = q->flip ^ r->ss[e].flip;
			if (h->o.step_s == 0.0 && (double)(q->ns - r->ss[e].first_ns) > keep_ns) {
				h->c.after_window++;
				continue;
			}
			if (r->ss[e].imaged)
				return late_packet(h, q->ns, r->ss[e].first_ns, r->ss[e].order);
			break;
		default:
			return fail(h, CF_ERR_CORRUPT, "flowpic: partition record of type %u", q->type);
		}
		r->pe[r->np] = (uint32_t)e;
		r->pk[r->np++] = (out_pkt){q->ns, q->size, dir, {0}};
	}
	return CF_OK;
}

/* Partition u replayed; its sessions (those not imaged yet: in session
 * order, as they were made) and their packets go to the two stores. */
static int partition_sessions(cf_flowpic *h, const cf_unit *u, cf_spill *so, cf_spill *sp, uint64_t *nsess)
{
	char *e = h->err;
	size_t el = sizeof h->err;
	uint64_t n = cf_parts_records(u->p, u->i);
	replay r;
	memset(&r, 0, sizeof r);
	fp_prec *rec = malloc(n * sizeof *rec);
	r.pe = malloc(n * sizeof *r.pe);
	r.pk = malloc(n * sizeof *r.pk);
	uint64_t *start = NULL;
	uint32_t *ix = NULL;
	int st = rec && r.pe && r.pk ? cf_parts_read(u->p, u->i, rec, e, el) : CF_ERR_NOMEM;
	if (st == CF_OK)
		st = replay_partition(h, &r, rec, n);
	free(rec);
	if (st == CF_OK && (!(start = calloc((size_t)r.ns + 1, sizeof *start)) || !(ix = malloc((r.np ? r.np : 1) * sizeof *ix)) ||
	                    cf_group_by(r.pe, r.np, r.ns, start, ix) < 0))
		st = CF_ERR_NOMEM;
	*nsess = 0;
	for (uint32_t i = 0; i < r.ns && st == CF_OK; i++) {
		if (r.ss[i].imaged)
			continue;
		out_sess os;
		memset(&os, 0, sizeof os);
		os.order = r.ss[i].order;
		os.k = r.keys.keys[r.ss[i].key];
		os.flip = r.ss[i].flip;
		os.npk = (uint32_t)(start[i + 1] - start[i]);
		st = cf_spill_store_append(so, &os, sizeof os, e, el);
		for (uint64_t j = start[i]; j < start[i + 1] && st == CF_OK; j++)
			st = cf_spill_store_append(sp, &r.pk[ix[j]], sizeof *r.pk, e, el);
		++*nsess;
	}
	free(start);
	free(ix);
	replay_free(&r);
	return st;
}

typedef struct sess_reader {
	uint64_t next, end;      /* sessions in the sessions' store */
	uint64_t pnext;          /* packets in the packets' store */
	out_sess *buf;
	uint32_t pos, n, cap;
	out_pkt *pbuf;
	uint32_t ppos, pn, pcap;
} sess_reader;

/* Each reader's buffers: at most these, fewer when there are many units
 * (a share of a quarter of the budget). */
#define READ_SESS 64u
#define READ_PKTS 1024u

static int reader_sessions(cf_flowpic *h, cf_spill *so, sess_reader *r)
{
	uint64_t m = r->end - r->next < r->cap ? r->end - r->next : r->cap;
	r->pos = 0;
	r->n = (uint32_t)m;
	int st = cf_spill_store_read(so, r->next * sizeof *r->buf, m * sizeof *r->buf, r->buf, h->err, sizeof h->err);
	r->next += m;
	return st;
}

/* The reader's next packet (its sessions' packets are adjacent). */
static int reader_packet(cf_flowpic *h, cf_spill *sp, uint64_t pend, sess_reader *r, out_pkt *out)
{
	if (r->ppos == r->pn) {
		uint64_t m = pend - r->pnext < r->pcap ? pend - r->pnext : r->pcap;
		int st = m ? cf_spill_store_read(sp, r->pnext * sizeof *r->pbuf, m * sizeof *r->pbuf, r->pbuf, h->err,
		                                 sizeof h->err)
		           : fail(h, CF_ERR_CORRUPT, "flowpic: a partition's packets ended early");
		if (st < 0)
			return st;
		r->pnext += m;
		r->ppos = 0;
		r->pn = (uint32_t)m;
	}
	*out = r->pbuf[r->ppos++];
	return CF_OK;
}

/* The end of a file past the budget: every partition replayed, then their
 * sessions merged in session order (older sessions by number, new ones by
 * first packet, numbered on from there) into the packet arrays, which go
 * to session_images in consecutive ranges of at most spill_cap packets (a
 * larger session alone): the images of the in-memory path, in its order. */
static int partitioned_images(cf_flowpic *h)
{
	char *e = h->err;
	size_t el = sizeof h->err;
	cf_spill *so = NULL, *sp = NULL;
	cf_unit *units = NULL;
	cf_parts **made = NULL;
	uint32_t K = 0, nmade = 0;
	int st = cf_parts_flush(h->parts, e, el);
	if (st == CF_OK) /* partitions over the budget are split first */
		st = cf_parts_units(h->parts, h->unit_cap, FP_SUBPARTS, offsetof(fp_prec, k),
		                    &units, &K, &made, &nmade, e, el);
	sess_reader *rd = calloc(K ? K : 1, sizeof *rd);
	uint64_t *head = calloc(K ? K : 1, sizeof *head), *pend = calloc(K ? K : 1, sizeof *pend);
	uint32_t *heap = calloc(K ? K : 1, sizeof *heap), nh = 0;
	if (st == CF_OK && !(rd && head && pend && heap))
		st = CF_ERR_NOMEM;
	if (st == CF_OK && (st = cf_spill_open_store(&so, h->o.spill_dir, "flowpic-sess", e, el)) == CF_OK)
		st = cf_spill_open_store(&sp, h->o.spill_dir, "flowpic-pkts", e, el);
	for (uint32_t u = 0; u < K && st == CF_OK; u++) {
		rd[u].next = rd[u].end = cf_spill_store_size(so) / sizeof(out_sess);
		rd[u].pnext = cf_spill_store_size(sp) / sizeof(out_pkt);
		uint64_t ns = 0;
		st = partition_sessions(h, &units[u], so, sp, &ns);
		rd[u].end += ns;
		pend[u] = cf_spill_store_size(sp) / sizeof(out_pkt);
		cf_parts_release(units[u].p, units[u].i);
	}
	cf_parts_close(h->parts);
	h->parts = NULL;
	for (uint32_t i = 0; i < nmade; i++)
		cf_parts_close(made[i]);
	free(made);
	free(units);
	if (st == CF_OK && (st = cf_spill_store_flush(so, e, el)) == CF_OK)
		st = cf_spill_store_flush(sp, e, el);
	uint64_t share = h->o.spill_bytes / 4 / (K ? K : 1) / 2;
	uint32_t cap_s = share / sizeof(out_sess) > READ_SESS ? READ_SESS : share / sizeof(out_sess) < 4 ? 4 : (uint32_t)(share / sizeof(out_sess));
	uint32_t cap_p = share / sizeof(out_pkt) > READ_PKTS ? READ_PKTS : share / sizeof(out_pkt) < 16 ? 16 : (uint32_t)(share / sizeof(out_pkt));
	for (uint32_t u = 0; u < K && st == CF_OK; u++) {
		if (rd[u].next == rd[u].end)
			continue;
		rd[u].cap = cap_s;
		rd[u].pcap = cap_p;
		if (!(rd[u].buf = malloc(cap_s * sizeof *rd[u].buf)) || !(rd[u].pbuf = malloc(cap_p * sizeof *rd[u].pbuf)))
			st = CF_ERR_NOMEM;
		else if ((st = reader_sessions(h, so, &rd[u])) == CF_OK) {
			head[u] = rd[u].buf[0].order;
			heap[nh++] = u;
		}
	}
	for (uint32_t i = nh / 2; i-- > 0;)
		cf_heap_down(heap, nh, i, head);
	uint32_t s0 = h->emitted, next_new = h->nsess0, s = s0;
	h->np = 0;
	h->rinfo_on = 1;
	h->rbase = s0;
	while (nh && st == CF_OK) {
		sess_reader *r = &rd[heap[0]];
		const out_sess os = r->buf[r->pos++];
		s = os.order & NEW_SESSION ? next_new++ : (uint32_t)os.order;
		if (s < s0 || (!(os.order & NEW_SESSION) && os.order >= h->nsess0)) {
			st = fail(h, CF_ERR_CORRUPT, "flowpic: the partitions gave session %u after %u", s, s0);
			break;
		}
		if (h->np && h->np + os.npk > h->spill_cap && s > s0) { /* the range ends before session s */
			if ((st = session_images(h, s0, s)) < 0)
				break;
			h->np = 0;
			h->rbase = s0 = s;
		}
		if (s - s0 >= h->rcap) {
			uint64_t nc = h->rcap ? (uint64_t)h->rcap * 2 : 1024;
			while (nc <= s - s0)
				nc *= 2;
			range_sess *q = nc <= UINT32_MAX ? realloc(h->rinfo, (size_t)nc * sizeof *q) : NULL;
			if (!q) {
				st = CF_ERR_NOMEM;
				break;
			}
			h->rinfo = q;
			h->rcap = (uint32_t)nc;
		}
		h->rinfo[s - s0] = (range_sess){os.k, os.flip};
		for (uint32_t j = 0; j < os.npk && st == CF_OK; j++) {
			out_pkt pk;
			if ((st = reader_packet(h, sp, pend[heap[0]], r, &pk)) < 0)
				break;
			if (h->np == h->cap && grow_held(h)) { /* one session over the cap */
				st = fail(h, CF_ERR_NOMEM, "flowpic: out of memory (session %u)", s);
				break;
			}
			uint64_t i = h->np++;
			h->p_sess[i] = s;
			h->p_ns[i] = pk.ns;
			h->p_size[i] = pk.size;
			h->p_dir[i] = pk.dir;
		}
		if (st < 0)
			break;
		if (r->pos == r->n) {
			if (r->next == r->end)
				heap[0] = heap[--nh];
			else
				st = reader_sessions(h, so, r);
		}
		if (nh && r->pos < r->n)
			head[heap[0]] = r->buf[r->pos].order;
		cf_heap_down(heap, nh, 0, head);
		s++;
	}
	if (st == CF_OK)
		st = session_images(h, s0, next_new); /* the sessions end there: older ones all came */
	h->rinfo_on = 0;
	h->np = 0;
	for (uint32_t u = 0; rd && u < K; u++) {
		free(rd[u].buf);
		free(rd[u].pbuf);
	}
	free(rd);
	free(head);
	free(pend);
	free(heap);
	cf_spill_close(so);
	cf_spill_close(sp);
	if (st == CF_ERR_NOMEM && !h->err[0])
		fail(h, st, "flowpic: out of memory replaying the partitions (%u of them)", K);
	return st;
}

static int file_images(cf_flowpic *h)
{
	int st = h->parts ? partitioned_images(h) : session_images(h, h->emitted, h->nsess);
	return st < 0 ? st : batch_flush(h);
}

void cf_flowpic_begin_file(cf_flowpic *h)
{
	reset_file(h);
	h->err[0] = 0;
}

int cf_flowpic_add(cf_flowpic *h, const cf_pkt *p, size_t n)
{
	return scan_hook(h, p, n);
}

int cf_flowpic_end_file(cf_flowpic *h, const cf_scan_result *res)
{
	if (h->err[0])
		return h->failed ? h->failed : CF_ERR_NOMEM; /* the packets stopped: no images from a partial
		                                                 session table */
	if (res && !res->opened)
		return CF_OK;
	h->ts_ns_exact = res && res->info.format == CF_FORMAT_PCAP && res->info.ts_resolution_ns == 1;
	return file_images(h);
}

int cf_flowpic_scan_file(cf_flowpic *h, const char *path, const cf_scan_opts *opts, cf_scan_result *res)
{
	cf_flowpic_begin_file(h);
	cf_scan_opts so = *opts;
	so.decode.decap = CF_DECAP_NONE;
	so.on_packet = NULL;
	so.on_packets = scan_hook;
	so.on_packet_user = h;
	cf_scan_file(path, &so, res);
	if (h->err[0])
		return h->failed ? h->failed : CF_ERR_NOMEM;
	if (!res->opened)
		return res->status;
	int st = cf_flowpic_end_file(h, res);
	if (st < 0)
		return st;
	return res->status;
}
