/*
 * Backend selection and the CPU reference backend.
 *
 * A backend is a small table of operations (struct backend_ops); the CPU
 * one is the specification, the CUDA one (kernels/, through cuda_api.h)
 * must give the same bits. AUTO picks CUDA only when a device answers
 * and this build has a kernel image for it; when an AUTO-chosen device
 * fails at run time (an error, out of memory), the batch is redone on the
 * CPU and the rest of the run stays there (cf_backend_counters says so).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <pthread.h>

#include "cuflow/internal.h"
#include "flow_features.h"
#include "netml_features.h"
#include "flowpic_hist.h"
#include "fft_cpu.h"
#include "backend_cpu.h"
#ifdef CUFLOW_HAVE_CUDA
#include "cuda_api.h"
#endif

struct backend_ops {
	const char *name;
	int (*summarize)(cf_backend *b, const cf_pkt_batch *batch, cf_summary *acc);
	int (*flow_features)(cf_backend *b, cf_flow_batch *batch);
	int (*netml_features)(cf_backend *b, cf_netml_batch *batch);
	int (*flowpic_images)(cf_backend *b, cf_flowpic_batch *batch);
	int (*window_rows)(cf_backend *b, cf_window_batch *batch);
	void (*close)(cf_backend *b);
};

struct cf_backend {
	pthread_rwlock_t lock;     /* ops/kind/ctx: read by calls, written by the fallback */
	int kind;
	int requested;             /* the kind asked for: only AUTO falls back */
	cf_backend_counters counters;
	int fault_after;           /* test hook: the fault backend fails from this call on */
	const struct backend_ops *ops;
	void *ctx;
	char note[CF_ERRBUF_SIZE];
	char error[CF_ERRBUF_SIZE];
	cf_cpu_flow_scratch flow_scratch; /* CPU: one piece's sort keys */
	uint32_t *sizes;           /* CPU: one netml row's sizes, sorted */
	uint64_t sizes_cap;
};

/* ---------------------------------------------------------------- CPU reference */

/* The reference summary: one pass in packet order. */
static int cpu_summarize(cf_backend *b, const cf_pkt_batch *batch, cf_summary *acc)
{
	(void)b;
	for (size_t i = 0; i < batch->count; i++)
		cf_summary_add(acc, batch->ts_ns[i], batch->caplen[i], batch->wirelen[i], batch->layers[i],
		               batch->skip[i]);
	return CF_OK;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Insertion sorts for short arrays (most flows and rows are short). */
#define DEFINE_INSERTION_SORT(name, T)                          \
	static void name(T *v, uint64_t n)                      \
	{                                                       \
		for (uint64_t i = 1; i < n; i++) {              \
			T x = v[i];                             \
			uint64_t j = i;                         \
			for (; j > 0 && v[j - 1] > x; j--)      \
				v[j] = v[j - 1];                \
			v[j] = x;                               \
		}                                               \
	}
DEFINE_INSERTION_SORT(insertion_sort_u64, uint64_t)
DEFINE_INSERTION_SORT(insertion_sort_u32, uint32_t)

/* Sorts a piece's (direction, size) keys ascending: insertion sort for
 * short pieces, two 9-bit counting passes through tmp when every size is
 * below 65536 (keys of 17 bits), else qsort. */
static void sort_flow_keys(uint64_t *k, uint64_t *tmp, uint64_t n)
{
	if (n <= 40) {
		insertion_sort_u64(k, n);
		return;
	}
	uint64_t any = 0;
	for (uint64_t i = 0; i < n; i++)
		any |= k[i];
	if ((any & 0xffffffffu) >> 16) {
		qsort(k, n, sizeof *k, cmp_u64);
		return;
	}
	uint32_t cnt[2][513];
	memset(cnt, 0, sizeof cnt);
	for (uint64_t i = 0; i < n; i++) {
		uint32_t v = (uint32_t)(k[i] >> 16) & 0x10000u; /* the direction bit next to the size */
		v |= (uint32_t)k[i] & 0xffffu;
		cnt[0][(v & 0x1ff) + 1]++;
		cnt[1][(v >> 9) + 1]++;
	}
	for (int d = 0; d < 2; d++)
		for (int b = 0; b < 512; b++)
			cnt[d][b + 1] += cnt[d][b];
	for (uint64_t i = 0; i < n; i++)
		tmp[cnt[0][k[i] & 0x1ff]++] = k[i];
	for (uint64_t i = 0; i < n; i++) {
		uint32_t v = ((uint32_t)(tmp[i] >> 16) & 0x10000u) | ((uint32_t)tmp[i] & 0xffffu);
		k[cnt[1][v >> 9]++] = tmp[i];
	}
}

int cf_cpu_flow_pieces(cf_flow_batch *fb, uint32_t begin, uint32_t end, cf_cpu_flow_scratch *s, char *error)
{
	for (uint32_t i = begin; i < end; i++) {
		uint64_t o0 = fb->offsets[i], n = fb->offsets[i + 1] - o0;
		if (fb->whole[i]) {
			if (n > s->cap) {
				uint64_t cap = n < 4096 ? 4096 : n;
				uint64_t *k = realloc(s->keys, 2 * cap * sizeof *k);
				if (!k) {
					snprintf(error, CF_ERRBUF_SIZE, "out of memory for a flow of %" PRIu64 " packets", n);
					return CF_ERR_NOMEM;
				}
				s->keys = k;
				s->cap = cap;
			}
			for (uint64_t j = 0; j < n; j++)
				s->keys[j] = cf_flow_sort_key(0, fb->dir[o0 + j], fb->size[o0 + j]);
			sort_flow_keys(s->keys, s->keys + s->cap, n);
		}
		cf_flow_piece_compute(fb, i, s->keys);
	}
	return CF_OK;
}

void cf_cpu_flow_scratch_free(cf_cpu_flow_scratch *s)
{
	free(s->keys);
	s->keys = NULL;
	s->cap = 0;
}

/* The reference flow features: pieces one after the other, each whole
 * flow's (direction, size) keys sorted for its quantiles. */
static int cpu_flow_features(cf_backend *b, cf_flow_batch *fb)
{
	return cf_cpu_flow_pieces(fb, 0, fb->n_pieces, &b->flow_scratch, b->error);
}

/* Sorts n packet sizes (< 65536) ascending: insertion sort for short
 * rows, else two 8-bit counting passes through tmp. */
static void sort_sizes(uint32_t *v, uint32_t *tmp, uint64_t n)
{
	if (n <= 32) {
		insertion_sort_u32(v, n);
		return;
	}
	for (int shift = 0; shift < 16; shift += 8) {
		uint64_t cnt[257] = {0};
		for (uint64_t i = 0; i < n; i++)
			cnt[((v[i] >> shift) & 0xff) + 1]++;
		for (int k = 0; k < 256; k++)
			cnt[k + 1] += cnt[k];
		for (uint64_t i = 0; i < n; i++)
			tmp[cnt[(v[i] >> shift) & 0xff]++] = v[i];
		memcpy(v, tmp, n * sizeof *v);
	}
}

/* The FFT variant on padded rows: header part (n = hdr_cols) and feature
 * part (n = feat_cols) separately, as netml does. */
static int netml_fft_parts(const cf_netml_batch *nb, char *error)
{
	uint32_t stride = nb->hdr_cols + nb->feat_cols;
	if ((nb->hdr_cols && cf_fft_real_part_rows(nb->out, nb->n_rows, stride, 0, nb->hdr_cols)) ||
	    cf_fft_real_part_rows(nb->out, nb->n_rows, stride, nb->hdr_cols, nb->feat_cols)) {
		snprintf(error, CF_ERRBUF_SIZE, "FFTW could not plan a transform of %u rows", nb->n_rows);
		return CF_ERR_NOMEM;
	}
	return CF_OK;
}

/* The reference netml rows: one after the other; STATS rows sort a copy
 * of their sizes for the quantiles. */
static int cpu_netml_features(cf_backend *b, cf_netml_batch *nb)
{
	for (uint32_t r = 0; r < nb->n_rows; r++) {
		uint64_t o0 = nb->offsets[r], n = nb->offsets[r + 1] - o0;
		if (nb->type == CF_NETML_STATS) {
			if (n > b->sizes_cap) {
				uint64_t cap = n < 4096 ? 4096 : n;
				uint32_t *s = realloc(b->sizes, 2 * cap * sizeof *s); /* values, then radix scratch */
				if (!s) {
					snprintf(b->error, sizeof b->error, "out of memory for a subflow of %" PRIu64 " packets", n);
					return CF_ERR_NOMEM;
				}
				b->sizes = s;
				b->sizes_cap = cap;
			}
			memcpy(b->sizes, nb->size + o0, n * sizeof *b->sizes);
			sort_sizes(b->sizes, b->sizes + b->sizes_cap, n);
		}
		cf_netml_row(nb, r, b->sizes);
	}
	return nb->fft ? netml_fft_parts(nb, b->error) : CF_OK;
}

/* The reference FlowPic images: zeroed counts, entries scattered in
 * order, pixels converted. */
/* An image holds at most its window's packets (thousands) in a grid of up
 * to 1500 x 1500: with a pixel per entry kept in fb->pix, only the pixels
 * packets land in are cleared, counted and converted, and the rest of the
 * output is zeroed (every value type converts a count of 0 to 0). */
static void cpu_flowpic_sparse(cf_flowpic_batch *fb, uint64_t px)
{
	uint64_t n = fb->offsets[fb->n_images];
	for (uint32_t i = 0; i < fb->n_images; i++) {
		uint32_t landed = 0;
		for (uint64_t j = fb->offsets[i]; j < fb->offsets[i + 1]; j++) {
			int64_t p = cf_flowpic_pixel(fb, i, j);
			fb->pix[j] = p;
			if (p >= 0) {
				fb->acc[p] = 0;
				landed++;
			}
		}
		fb->packets[i] = landed;
	}
	for (uint64_t j = 0; j < n; j++)
		if (fb->pix[j] >= 0)
			fb->acc[fb->pix[j]]++;
	if (!fb->out_zero)
		memset(fb->out, 0, px * cf_flowpic_value_bytes(fb->value));
	for (uint64_t j = 0; j < n; j++)
		if (fb->pix[j] >= 0)
			cf_flowpic_convert(fb, (uint64_t)fb->pix[j]);
}

static int cpu_flowpic_images(cf_backend *b, cf_flowpic_batch *fb)
{
	(void)b;
	uint64_t px = (uint64_t)fb->n_images * fb->channels * fb->res * fb->res;
	if (fb->pix && fb->offsets[0] == 0) {
		cpu_flowpic_sparse(fb, px);
		return CF_OK;
	}
	memset(fb->acc, 0, px * sizeof *fb->acc);
	memset(fb->packets, 0, (size_t)fb->n_images * sizeof *fb->packets);
	for (uint32_t i = 0; i < fb->n_images; i++)
		for (uint64_t j = fb->offsets[i]; j < fb->offsets[i + 1]; j++) {
			int64_t p = cf_flowpic_pixel(fb, i, j); /* one thread: no atomics needed */
			if (p >= 0) {
				fb->acc[p]++;
				fb->packets[i]++;
			}
		}
	for (uint64_t k = 0; k < px; k++)
		cf_flowpic_convert(fb, k);
	return CF_OK;
}

static int cpu_window_rows(cf_backend *b, cf_window_batch *wb)
{
	(void)b;
	return cf_window_rows_cpu(wb);
}

static void cpu_close(cf_backend *b) { (void)b; }

static const struct backend_ops cpu_ops = {"cpu", cpu_summarize, cpu_flow_features, cpu_netml_features,
                                           cpu_flowpic_images, cpu_window_rows, cpu_close};

/* ---------------------------------------------------------------- CUDA */

#ifdef CUFLOW_HAVE_CUDA
static int cuda_summarize(cf_backend *b, const cf_pkt_batch *batch, cf_summary *acc)
{
	return cf_cuda_summarize((cf_cuda_ctx *)b->ctx, batch, acc, b->error);
}

static int cuda_flow_features(cf_backend *b, cf_flow_batch *fb)
{
	return cf_cuda_flow_features((cf_cuda_ctx *)b->ctx, fb, b->error);
}

static int cuda_netml_features(cf_backend *b, cf_netml_batch *nb)
{
	int st = cf_cuda_netml_features((cf_cuda_ctx *)b->ctx, nb, b->error);
	const char *why;
	cf_cuda_fft_counts((cf_cuda_ctx *)b->ctx, &b->counters.fft_cufft, &b->counters.fft_direct, &why);
	if (why[0] && b->counters.fft_direct)
		snprintf(b->counters.fft_why, sizeof b->counters.fft_why, "%s", why);
	return st;
}

static int cuda_flowpic_images(cf_backend *b, cf_flowpic_batch *fb)
{
	return cf_cuda_flowpic_images((cf_cuda_ctx *)b->ctx, fb, b->error);
}

static int cuda_window_rows(cf_backend *b, cf_window_batch *wb)
{
	return cf_cuda_window_rows((cf_cuda_ctx *)b->ctx, wb, b->error);
}

static void cuda_close(cf_backend *b)
{
	cf_cuda_ctx_free((cf_cuda_ctx *)b->ctx);
	b->ctx = NULL;
}

static const struct backend_ops cuda_ops = {"cuda", cuda_summarize, cuda_flow_features, cuda_netml_features,
                                            cuda_flowpic_images, cuda_window_rows, cuda_close};
#endif

/* ---------------------------------------------------------------- fault injection */

/* A stand-in for a device that fails (tests only, cf_backend_open_faulty):
 * the CPU operations until call number fault_after, CF_ERR_DEVICE from
 * then on, so the AUTO fallback can be tested without a GPU. */
static int fault_hit(cf_backend *b)
{
	if (__atomic_fetch_sub(&b->fault_after, 1, __ATOMIC_RELAXED) > 0)
		return 0;
	snprintf(b->error, sizeof b->error, "injected device error (out of memory)");
	return 1;
}
static int fault_summarize(cf_backend *b, const cf_pkt_batch *batch, cf_summary *acc)
{
	return fault_hit(b) ? CF_ERR_DEVICE : cpu_summarize(b, batch, acc);
}
static int fault_flow_features(cf_backend *b, cf_flow_batch *fb)
{
	if (fault_hit(b)) {
		if (fb->n_pieces) /* leave garbage, as a half-done device call would */
			memset(&fb->part[0], 0x5a, sizeof fb->part[0]);
		return CF_ERR_DEVICE;
	}
	return cpu_flow_features(b, fb);
}
static int fault_netml_features(cf_backend *b, cf_netml_batch *nb)
{
	return fault_hit(b) ? CF_ERR_DEVICE : cpu_netml_features(b, nb);
}
static int fault_flowpic_images(cf_backend *b, cf_flowpic_batch *fb)
{
	return fault_hit(b) ? CF_ERR_DEVICE : cpu_flowpic_images(b, fb);
}
static int fault_window_rows(cf_backend *b, cf_window_batch *wb)
{
	return fault_hit(b) ? CF_ERR_DEVICE : cpu_window_rows(b, wb);
}
static const struct backend_ops fault_ops = {"fault", fault_summarize, fault_flow_features, fault_netml_features,
                                             fault_flowpic_images, fault_window_rows, cpu_close};

int cf_backend_open_faulty(int requested, int fail_from_call, cf_backend **out)
{
	cf_backend *b = calloc(1, sizeof *b);
	if (!b)
		return CF_ERR_NOMEM;
	pthread_rwlock_init(&b->lock, NULL);
	b->kind = CF_BACKEND_CUDA; /* it stands for a device */
	b->requested = requested;
	b->ops = &fault_ops;
	b->fault_after = fail_from_call;
	*out = b;
	return CF_OK;
}

/* ---------------------------------------------------------------- selection */

int cf_cuda_device_count(void)
{
#ifdef CUFLOW_HAVE_CUDA
	return cf_cuda_probe(NULL);
#else
	return 0;
#endif
}

int cf_backend_parse(const char *name, int *kind)
{
	if (!name || !strcmp(name, "auto"))
		*kind = CF_BACKEND_AUTO;
	else if (!strcmp(name, "cpu"))
		*kind = CF_BACKEND_CPU;
	else if (!strcmp(name, "cuda") || !strcmp(name, "gpu"))
		*kind = CF_BACKEND_CUDA;
	else
		return CF_ERR_ARG;
	return CF_OK;
}

int cf_backend_open(int kind, cf_backend **out, char *errbuf)
{
	*out = NULL;
	cf_backend *b = calloc(1, sizeof *b);
	if (!b) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	pthread_rwlock_init(&b->lock, NULL);
	b->requested = kind;
	const char *why = "cuflow was built without CUDA";
#ifdef CUFLOW_HAVE_CUDA
	int devices = 0;
	if (kind != CF_BACKEND_CPU)
		devices = cf_cuda_probe(&why);
	if (devices > 0) {
		int st = cf_cuda_ctx_init((cf_cuda_ctx **)&b->ctx, errbuf);
		if (st == CF_OK) {
			b->kind = CF_BACKEND_CUDA;
			b->ops = &cuda_ops;
			cf_cuda_device_desc(b->counters.device, sizeof b->counters.device);
			*out = b;
			return CF_OK;
		}
		if (kind == CF_BACKEND_CUDA) {
			free(b);
			return st;
		}
		why = "the CUDA backend failed to start";
	}
#endif
	if (kind == CF_BACKEND_CUDA) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "CUDA backend requested but unavailable: %s", why);
		free(b);
		return CF_ERR_DEVICE;
	}
	if (kind == CF_BACKEND_AUTO)
		snprintf(b->note, sizeof b->note, "no usable CUDA device (%s); using the CPU backend", why);
	b->kind = CF_BACKEND_CPU;
	b->ops = &cpu_ops;
	*out = b;
	return CF_OK;
}

int cf_backend_kind(const cf_backend *b) { return b->kind; }
const char *cf_backend_name(const cf_backend *b) { return b->ops->name; }
const char *cf_backend_note(const cf_backend *b) { return b->note; }
const char *cf_backend_error(const cf_backend *b) { return b->error; }

void cf_backend_get_counters(const cf_backend *b, cf_backend_counters *out) { *out = b->counters; }

/* After a device operation failed: an AUTO backend moves to the CPU for
 * the rest of the run and the caller redoes the batch there (the device
 * never writes a batch's inputs, and the CPU rewrites every output); a
 * forced CUDA backend reports the error. Two threads may share a backend
 * (the scan's summary and the flow engine's worker): operations hold the
 * lock for reading, the switch for writing, so the device context is
 * never freed under a call that is still using it. Returns 1 when the
 * caller must redo the batch on the CPU. */
static int fall_back_to_cpu(cf_backend *b, const struct backend_ops *used, int st)
{
	if (st != CF_ERR_DEVICE || used == &cpu_ops || b->requested != CF_BACKEND_AUTO)
		return 0;
	pthread_rwlock_wrlock(&b->lock);
	if (b->ops != &cpu_ops) { /* the first thread to fail switches; the others just redo */
		char why[CF_ERRBUF_SIZE];
		snprintf(why, sizeof why, "%s", b->error);
		b->ops->close(b);
		b->kind = CF_BACKEND_CPU;
		b->ops = &cpu_ops;
		b->counters.fallbacks++;
		snprintf(b->note, sizeof b->note,
		         "the CUDA device failed (%.300s); the batch was redone on the CPU, which runs the rest", why);
		b->error[0] = 0;
	}
	pthread_rwlock_unlock(&b->lock);
	return 1;
}

/* The backend's current operations, held for the duration of one call. */
static const struct backend_ops *ops_enter(cf_backend *b)
{
	pthread_rwlock_rdlock(&b->lock);
	return b->ops;
}
static void ops_leave(cf_backend *b) { pthread_rwlock_unlock(&b->lock); }

int cf_backend_summarize(cf_backend *b, const cf_pkt_batch *batch, cf_summary *acc)
{
	cf_summary part; /* acc is left alone unless the whole batch succeeds */
	cf_summary_clear(&part);
	const struct backend_ops *ops = ops_enter(b);
	int st = ops->summarize(b, batch, &part);
	ops_leave(b);
	if (fall_back_to_cpu(b, ops, st)) {
		cf_summary_clear(&part); /* the device may have merged some chunks */
		st = cpu_summarize(b, batch, &part);
	}
	if (st == CF_OK)
		cf_summary_merge(acc, &part);
	return st;
}

int cf_backend_flow_features(cf_backend *b, cf_flow_batch *batch)
{
	const struct backend_ops *ops = ops_enter(b);
	int st = ops->flow_features(b, batch);
	ops_leave(b);
	if (fall_back_to_cpu(b, ops, st))
		st = cpu_flow_features(b, batch);
	return st;
}

int cf_backend_netml_features(cf_backend *b, cf_netml_batch *batch)
{
	if (b) {
		const struct backend_ops *ops = ops_enter(b);
		int st = ops->netml_features(b, batch);
		ops_leave(b);
		if (fall_back_to_cpu(b, ops, st))
			st = cpu_netml_features(b, batch);
		return st;
	}
	cf_backend cpu; /* NULL: the CPU reference with scratch for this call */
	memset(&cpu, 0, sizeof cpu);
	cpu.ops = &cpu_ops;
	int st = cpu_netml_features(&cpu, batch);
	free(cpu.sizes);
	return st;
}

int cf_backend_flowpic_images(cf_backend *b, cf_flowpic_batch *batch)
{
	if (!b)
		return cpu_flowpic_images(NULL, batch);
	const struct backend_ops *ops = ops_enter(b);
	int st = ops->flowpic_images(b, batch);
	ops_leave(b);
	if (fall_back_to_cpu(b, ops, st))
		st = cpu_flowpic_images(b, batch);
	return st;
}

int cf_backend_window_rows(cf_backend *b, cf_window_batch *batch)
{
	if (!b)
		return cpu_window_rows(NULL, batch);
	const struct backend_ops *ops = ops_enter(b);
	int st = ops->window_rows(b, batch);
	ops_leave(b);
	if (fall_back_to_cpu(b, ops, st))
		st = cpu_window_rows(b, batch);
	return st;
}

void cf_backend_close(cf_backend *b)
{
	if (!b)
		return;
	b->ops->close(b);
	cf_cpu_flow_scratch_free(&b->flow_scratch);
	free(b->sizes);
	pthread_rwlock_destroy(&b->lock);
	free(b);
}

/* ---------------------------------------------------------------- batches */

/* Pinned when asked for and possible, else ordinary memory. */
static void *batch_alloc(size_t bytes, int want_pinned, int *pinned)
{
	void *mem = NULL;
	*pinned = 0;
#ifdef CUFLOW_HAVE_CUDA
	if (want_pinned && cf_cuda_host_alloc(&mem, bytes) == CF_OK)
		*pinned = 1;
#else
	(void)want_pinned;
#endif
	if (!mem)
		mem = malloc(bytes);
	return mem;
}

static void batch_mem_free(void *mem, int pinned)
{
#ifdef CUFLOW_HAVE_CUDA
	if (pinned) {
		cf_cuda_host_free(mem);
		return;
	}
#else
	(void)pinned;
#endif
	free(mem);
}

int cf_pkt_batch_init(cf_pkt_batch *b, size_t capacity, int want_pinned)
{
	memset(b, 0, sizeof *b);
	if (capacity == 0 || capacity > ((size_t)1 << 32))
		return CF_ERR_ARG;
	/* Column widths, widest first so each column stays aligned. */
	const size_t per_pkt = 8 + 4 * 3 + 2 * 4 + 1 * 3;
	size_t bytes = capacity * per_pkt + 64;
	void *mem = batch_alloc(bytes, want_pinned, &b->pinned);
	if (!mem)
		return CF_ERR_NOMEM;
	char *m = mem;
	b->mem = mem;
	b->capacity = capacity;
	b->ts_ns = (int64_t *)m;        m += capacity * 8;
	b->caplen = (uint32_t *)m;      m += capacity * 4;
	b->wirelen = (uint32_t *)m;     m += capacity * 4;
	b->ip_len = (uint32_t *)m;      m += capacity * 4;
	b->layers = (uint16_t *)m;      m += capacity * 2;
	b->sport = (uint16_t *)m;       m += capacity * 2;
	b->dport = (uint16_t *)m;       m += capacity * 2;
	b->tcp_flags = (uint16_t *)m;   m += capacity * 2;
	b->proto = (uint8_t *)m;        m += capacity;
	b->skip = (uint8_t *)m;         m += capacity;
	b->ttl = (uint8_t *)m;
	return CF_OK;
}

void cf_pkt_batch_free(cf_pkt_batch *b)
{
	if (!b || !b->mem)
		return;
	batch_mem_free(b->mem, b->pinned);
	memset(b, 0, sizeof *b);
}

int cf_pkt_batch_create(cf_pkt_batch **out, size_t capacity, const cf_backend *backend)
{
	*out = NULL;
	cf_pkt_batch *b = calloc(1, sizeof *b);
	if (!b)
		return CF_ERR_NOMEM;
	int st = cf_pkt_batch_init(b, capacity, backend && cf_backend_kind(backend) == CF_BACKEND_CUDA);
	if (st < 0) {
		free(b);
		return st;
	}
	*out = b;
	return CF_OK;
}

void cf_pkt_batch_destroy(cf_pkt_batch *b)
{
	cf_pkt_batch_free(b);
	free(b);
}


int cf_flow_batch_init(cf_flow_batch *b, uint32_t max_pieces, uint64_t max_packets, uint32_t seq_len,
                       int want_pinned)
{
	memset(b, 0, sizeof *b);
	if (max_pieces == 0 || max_pieces > (1u << 30) || max_packets == 0 || max_packets > (1ull << 32) ||
	    seq_len > 4096)
		return CF_ERR_ARG;
	char *m = batch_alloc(cf_flow_batch_carve(b, NULL, max_pieces, max_packets, seq_len), want_pinned, &b->pinned);
	if (!m)
		return CF_ERR_NOMEM;
	b->mem = m;
	cf_flow_batch_carve(b, m, max_pieces, max_packets, seq_len);
	cf_flow_batch_reset(b);
	return CF_OK;
}

void cf_flow_batch_free(cf_flow_batch *b)
{
	if (!b || !b->mem)
		return;
	batch_mem_free(b->mem, b->pinned);
	memset(b, 0, sizeof *b);
}
