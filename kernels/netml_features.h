/*
 * netml 0.7.1's per-subflow feature vectors (spec: netml.md sections 5-7),
 * bit for bit: the function both backends run for each row of a
 * cf_netml_batch (the CPU reference in a loop, the CUDA backend in a
 * Thrust for_each, one thread per row), plus the numpy numerics it needs.
 * The FFT variant is applied afterwards to the padded rows (FFTW or
 * cuFFT): np.fft.fft(v, n) truncates or zero-pads v to n first, which is
 * exactly the padded row. Read by gcc, g++ and nvcc.
 */
#ifndef CUFLOW_KERNELS_NETML_FEATURES_H
#define CUFLOW_KERNELS_NETML_FEATURES_H

#include <math.h>
#include <stdint.h>
#include "cuflow/hd.h"
#include "cuflow/netml_batch.h"

/* Python's float floor division a // b (CPython float_floor_div), for
 * b != 0. A plain floor(a / b) can differ. */
static inline CF_HD double cf_py_floordiv(double a, double b)
{
	double mod = fmod(a, b);
	double div = (a - mod) / b;
	if (mod != 0.0 && ((b < 0.0) != (mod < 0.0)))
		div -= 1.0;
	if (div != 0.0) {
		double fd = floor(div);
		if (div - fd > 0.5)
			fd += 1.0;
		return fd;
	}
	return copysign(0.0, a / b);
}

/* Where np.quantile(x, q), method "linear", falls among n >= 1 ascending
 * values: between x[*i] and x[*i + 1] at fraction *g (1), or on x[n - 1]
 * itself (0). */
static inline CF_HD int cf_np_quantile_at(uint64_t n, double q, uint64_t *i, double *g)
{
	double v = (double)(n - 1) * q;
	if (v >= (double)(n - 1))
		return 0;
	double lo = floor(v);
	*g = v - lo;
	*i = (uint64_t)lo;
	return 1;
}

/* numpy's lerp between neighbours a <= b at fraction g. */
static inline CF_HD double cf_np_lerp(double a, double b, double g)
{
	double d = b - a;
	return g >= 0.5 ? b - d * (1.0 - g) : a + d * g;
}

/* np.quantile(x, q), method "linear", of n >= 1 ascending doubles. */
static inline CF_HD double cf_np_quantile_sorted(const double *x, uint64_t n, double q)
{
	uint64_t i;
	double g;
	if (!cf_np_quantile_at(n, q, &i, &g))
		return x[n - 1];
	return cf_np_lerp(x[i], x[i + 1], g);
}

/* The same for ascending integers (np.quantile of an int array: the
 * difference is an exact integer, then the lerp in double). */
static inline CF_HD double cf_np_quantile_sorted_u32(const uint32_t *x, uint64_t n, double q)
{
	double v = (double)(n - 1) * q;
	if (v >= (double)(n - 1))
		return (double)x[n - 1];
	double lo = floor(v), g = v - lo;
	uint64_t i = (uint64_t)lo;
	double a = (double)x[i], b = (double)x[i + 1], d = (double)((int64_t)x[i + 1] - (int64_t)x[i]);
	return g >= 0.5 ? b - d * (1.0 - g) : a + d * g;
}

/* numpy's pairwise sum of (size[i] - mean)^2 over i < n, as one inner
 * loop call does it: blocks of at most 128 summed with 8 accumulators,
 * larger ranges split at n/2 rounded down to a multiple of 8. */
static inline CF_HD double cf_np_block_sqdev(const uint32_t *s, uint64_t n, double mean)
{
	double r;
	if (n < 8) {
		r = 0.0; /* numpy starts from -0.0; equal for these non-negative terms */
		for (uint64_t i = 0; i < n; i++) {
			double d = (double)s[i] - mean;
			r += d * d;
		}
		return r;
	}
	double acc[8];
	for (int j = 0; j < 8; j++) {
		double d = (double)s[j] - mean;
		acc[j] = d * d;
	}
	uint64_t i = 8;
	for (; i < n - (n % 8); i += 8)
		for (int j = 0; j < 8; j++) {
			double d = (double)s[i + j] - mean;
			acc[j] += d * d;
		}
	r = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
	for (; i < n; i++) {
		double d = (double)s[i] - mean;
		r += d * d;
	}
	return r;
}

/* numpy's split of a range of m > 128 elements: the left half is m/2
 * rounded down to a multiple of 8. */
static inline CF_HD uint64_t cf_np_pairwise_left(uint64_t m)
{
	uint64_t m2 = m / 2;
	return m2 - m2 % 8;
}

/* Frames of cf_np_pairwise_tree's stack: its ranges hold at most
 * CF_NP_BUFSIZE (8192) elements, and the deepest split tree of such a
 * range (8191 elements: 8191 -> 4103 -> 2055 -> 1031 -> 519 -> 263 -> 135
 * -> 71) has 8 frames, root and leaf included. A fixed 64-frame stack
 * cost 2 KB of local memory per GPU thread for nothing.
 * cf_np_pairwise_frames(n) is the exact need of a range of n, checked
 * for every n <= 8192 by tests/test_netml.cpp. */
#define CF_NP_TREE_FRAMES 8

static inline int cf_np_pairwise_frames(uint64_t n)
{
	if (n <= 128)
		return 1;
	uint64_t m2 = cf_np_pairwise_left(n);
	int l = cf_np_pairwise_frames(m2), r = cf_np_pairwise_frames(n - m2);
	return 1 + (l > r ? l : r);
}

/* Pairwise sum of a range of n <= CF_NP_BUFSIZE elements, as numpy's
 * pairwise_sum splits it. */
static inline CF_HD double cf_np_pairwise_tree(const uint32_t *s, uint64_t n, double mean)
{
	/* Iterative (an explicit stack of pending halves) so that device
	 * code needs no recursion. Post-order walk of numpy's split tree. Each
	 * frame is a range; a frame whose left half is done holds that half's
	 * sum. */
	struct {
		uint64_t off, n;
		double left;
		int state; /* 0: not split yet, 1: left half summed */
	} st[CF_NP_TREE_FRAMES];
	int top = 0;
	double ret = 0.0;
	st[0].off = 0;
	st[0].n = n;
	st[0].state = 0;
	for (;;) {
		uint64_t off = st[top].off, m = st[top].n;
		if (m <= 128) {
			ret = cf_np_block_sqdev(s + off, m, mean);
		} else if (st[top].state == 0) {
			st[top].state = 1;
			st[top + 1].off = off;
			st[top + 1].n = cf_np_pairwise_left(m);
			st[top + 1].state = 0;
			top++;
			continue;
		} else {
			ret = st[top].left + ret; /* ret is the right half's sum */
		}
		/* ret is the sum of frame `top`: hand it to the parent */
		for (;;) {
			if (top == 0)
				return ret;
			top--;
			if (st[top].state == 1) {
				uint64_t m2 = cf_np_pairwise_left(st[top].n);
				st[top].left = ret;
				st[top].state = 2;
				st[top + 1].off = st[top].off + m2;
				st[top + 1].n = st[top].n - m2;
				st[top + 1].state = 0;
				top++;
				break;
			}
			ret = st[top].left + ret; /* state 2: both halves done */
		}
	}
}

/* float64 add.reduce of (size[i] - mean)^2 as np.std computes it: the
 * reduction iterator hands the inner loop at most 8192 elements at a time
 * (numpy's buffer size, NPY_BUFSIZE), each chunk is summed pairwise and
 * added to the running result. Checked against numpy 1.24 and 2.0 on
 * subflows of 8191 to 100000 packets (tests/test_netml.cpp). */
#define CF_NP_BUFSIZE 8192u
static inline CF_HD double cf_np_pairwise_sqdev(const uint32_t *s, uint64_t n, double mean)
{
	double r = 0.0;
	for (uint64_t o = 0; o < n; o += CF_NP_BUFSIZE)
		r += cf_np_pairwise_tree(s + o, n - o < CF_NP_BUFSIZE ? n - o : CF_NP_BUFSIZE, mean);
	return r;
}

/* Writes v into column c of a part of width w (columns past w are cut). */
#define CF_NETML_PUT(o, w, c, v)             \
	do {                                     \
		uint64_t c_ = (c);                   \
		if (c_ < (uint64_t)(w))              \
			(o)[c_] = (double)(v);           \
	} while (0)

/* SAMP_NUM (by_size 0) or SAMP_SIZE (1) of one subflow into o[0..w). */
static inline CF_HD void cf_netml_samp(const double *t, const uint32_t *size, uint64_t n, double rate,
                                       int by_size, double *o, uint32_t w)
{
	uint64_t len = 0;
	double cur = t[0];
	int64_t sub = by_size ? (int64_t)size[0] : 1;
	for (uint64_t i = 1; i < n; i++) {
		if (t[i] - cur <= rate) {
			sub += by_size ? (int64_t)size[i] : 1;
			continue;
		}
		cur += rate;
		CF_NETML_PUT(o, w, len, sub);
		len++;
		double k = floor(cf_py_floordiv(t[i] - cur, rate));
		if (k > 0.0) {
			int64_t ki = k > (double)CF_NETML_SAMP_MAX ? CF_NETML_SAMP_MAX : (int64_t)k;
			len += (uint64_t)ki; /* zeros: the row is zero-filled already */
			cur += (double)ki * rate;
		}
		if (len > CF_NETML_SAMP_MAX) {
			/* upstream cuts the list to 500 and stops; only columns
			 * below 500 can have been written */
			for (uint64_t c = CF_NETML_SAMP_MAX; c < w; c++)
				o[c] = 0.0;
			return;
		}
		sub = by_size ? (int64_t)size[i] : 1;
	}
	if (sub > 0)
		CF_NETML_PUT(o, w, len, sub);
}

/* One output row: header part (hdr_cols, may be 0) then the feature part
 * (feat_cols), padded with zeros or truncated as netml does. `sorted`
 * holds the row's sizes ascending (only read for STATS). */
static inline CF_HD void cf_netml_row(const cf_netml_batch *b, uint32_t r, const uint32_t *sorted)
{
	uint64_t o0 = b->offsets[r], n = b->offsets[r + 1] - o0;
	const double *t = b->t + o0;
	const uint32_t *size = b->size + o0;
	uint32_t hc = b->hdr_cols, fc = b->feat_cols;
	double *o = b->out + (uint64_t)r * (hc + fc);
	for (uint32_t c = 0; c < hc + fc; c++)
		o[c] = 0.0;
	if (hc) {
		uint32_t cnt[CF_NETML_HDR_FLAGS] = {0, 0, 0, 0, 0, 0, 0, 0};
		const uint8_t *fl = b->hflags + o0, *ttl = b->ttl + o0;
		for (uint64_t i = 0; i < n; i++) {
			for (int k = 0; k < (int)CF_NETML_HDR_FLAGS; k++)
				cnt[k] += (fl[i] >> k) & 1u;
			CF_NETML_PUT(o, hc, CF_NETML_HDR_FLAGS + i, ttl[i]);
		}
		for (uint32_t k = 0; k < CF_NETML_HDR_FLAGS && k < hc; k++)
			o[k] = (double)cnt[k];
		o += hc;
	}
	switch (b->type) {
	case CF_NETML_IAT:
		for (uint64_t i = 0; i + 1 < n && i < fc; i++)
			o[i] = t[i + 1] - t[i];
		break;
	case CF_NETML_SIZE:
		for (uint64_t i = 0; i < n && i < fc; i++)
			o[i] = (double)size[i];
		break;
	case CF_NETML_IAT_SIZE:
		for (uint64_t i = 0; i + 1 < n && 2 * i < fc; i++) {
			o[2 * i] = t[i + 1] - t[i];
			CF_NETML_PUT(o, fc, 2 * i + 1, size[i]);
		}
		CF_NETML_PUT(o, fc, 2 * (n - 1), size[n - 1]);
		break;
	case CF_NETML_STATS: {
		uint64_t bytes = 0;
		for (uint64_t i = 0; i < n; i++)
			bytes += size[i];
		double dur = t[n - 1] - t[0]; /* max - min: the row is in time order */
		double mean = (double)bytes / (double)n;
		double v[CF_NETML_STATS_COLS];
		v[0] = dur;
		v[1] = dur == 0.0 ? 0.0 : (double)n / dur;
		v[2] = dur == 0.0 ? 0.0 : (double)bytes / dur;
		v[3] = mean;
		v[4] = sqrt(cf_np_pairwise_sqdev(size, n, mean) / (double)n);
		v[5] = cf_np_quantile_sorted_u32(sorted, n, 0.25);
		v[6] = cf_np_quantile_sorted_u32(sorted, n, 0.5);
		v[7] = cf_np_quantile_sorted_u32(sorted, n, 0.75);
		v[8] = (double)sorted[0];
		v[9] = (double)sorted[n - 1];
		v[10] = (double)n;
		v[11] = (double)bytes;
		for (uint32_t c = 0; c < CF_NETML_STATS_COLS && c < fc; c++)
			o[c] = v[c];
		break;
	}
	case CF_NETML_SAMP_NUM:
	case CF_NETML_SAMP_SIZE:
		cf_netml_samp(t, size, n, b->samp_width, b->type == CF_NETML_SAMP_SIZE, o, fc);
		break;
	default:
		break;
	}
}

/* Staging of one part's FFT (the header part or the feature part of
 * every padded row) for cuFFT. cufftExecD2Z needs its real input aligned
 * like cufftDoubleComplex (16 bytes); a part that starts at an odd column
 * of the row-major matrix is 8 mod 16, and a row distance of odd length
 * misaligns every other row. So the part is copied into rows of `dist`
 * doubles (n rounded up to even: every staged row is 16-byte aligned when
 * the block is), transformed into `half` complex values per row at
 * `spec_off`, and the real parts are scattered back. The direct-DFT
 * fallback uses the same staging, so CI runs it (tests/test_netml_omp.cpp). */
typedef struct cf_fft_stage {
	uint32_t dist;     /* staged row distance, in doubles: even, >= n */
	uint32_t half;     /* complex values per spectrum row: n / 2 + 1 */
	uint64_t spec_off; /* bytes from the block to the spectra: a multiple of 16 */
	uint64_t bytes;    /* bytes of the whole block */
} cf_fft_stage;

static inline cf_fft_stage cf_fft_stage_of(uint64_t rows, uint32_t n)
{
	cf_fft_stage s;
	s.dist = n + (n & 1u);
	s.half = n / 2 + 1;
	s.spec_off = rows * s.dist * sizeof(double);
	s.bytes = s.spec_off + rows * s.half * 2 * sizeof(double);
	return s;
}

/* Re X_k of the DFT of v[0..n) (no normalisation), directly: the GPU's
 * fallback when cuFFT cannot be loaded. The angle is reduced exactly
 * ((j k) mod n) before the cosine; the error is a few ulp of sum |v_j|,
 * far inside netml's FFT tolerance (1e-12 of the row's magnitude). */
static inline CF_HD double cf_dft_real_at(const double *v, uint32_t n, uint32_t k)
{
	double acc = 0.0;
	uint64_t m = 0;
	for (uint32_t j = 0; j < n; j++) {
		acc += v[j] * cos(6.283185307179586 * ((double)m / (double)n));
		m += k;
		if (m >= n)
			m -= n;
	}
	return acc;
}

#endif
