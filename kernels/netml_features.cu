/*
 * CUDA backend: netml rows of a batch (netml_features_thrust.h on the
 * backend's stream), then the FFT variant with cuFFT (D2Z, batched over
 * the rows, real parts kept), each part staged into 16-byte-aligned rows
 * first (cf_fft_stage). cuFFT is loaded at run time (dlopen): the library
 * is large and optional; without it a direct DFT kernel (cf_dft_real_at)
 * computes the same values within netml's tolerance, and the context
 * counts which path ran (cf_cuda_fft_counts).
 * Device memory is one block grown to the largest batch.
 */
#include <dlfcn.h>
#include <cstdlib>
#include <exception>

#include <cufft.h>
#include <thrust/execution_policy.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/system/cuda/execution_policy.h>
#include <thrust/transform.h>

#include "cuda_ctx.h"
#include "cuflow/internal.h"
#include "netml_features_thrust.h"

namespace {

// cuFFT entry points, resolved once.
struct cufft_api {
	int tried, ok;
	cufftResult (*plan_many)(cufftHandle *, int, int *, int *, int, int, int *, int, int, cufftType, int);
	cufftResult (*set_stream)(cufftHandle, cudaStream_t);
	cufftResult (*exec_d2z)(cufftHandle, cufftDoubleReal *, cufftDoubleComplex *);
	cufftResult (*destroy)(cufftHandle);
};
cufft_api g_cufft;

const cufft_api *load_cufft()
{
	if (!g_cufft.tried) {
		g_cufft.tried = 1;
		// CUFLOW_CUFFT_LIB names the library where it is not on the
		// loader's path (e.g. pip's nvidia-cufft wheel)
		const char *names[] = {getenv("CUFLOW_CUFFT_LIB"), "libcufft.so.12", "libcufft.so.11", "libcufft.so"};
		void *h = nullptr;
		for (const char *nm : names)
			if (nm && *nm && (h = dlopen(nm, RTLD_NOW | RTLD_LOCAL)))
				break;
		if (h) {
			g_cufft.plan_many = (decltype(g_cufft.plan_many))dlsym(h, "cufftPlanMany");
			g_cufft.set_stream = (decltype(g_cufft.set_stream))dlsym(h, "cufftSetStream");
			g_cufft.exec_d2z = (decltype(g_cufft.exec_d2z))dlsym(h, "cufftExecD2Z");
			g_cufft.destroy = (decltype(g_cufft.destroy))dlsym(h, "cufftDestroy");
			g_cufft.ok = g_cufft.plan_many && g_cufft.set_stream && g_cufft.exec_d2z && g_cufft.destroy;
		}
	}
	return g_cufft.ok ? &g_cufft : nullptr;
}

static_assert(sizeof(cf_thrust::cf_cplx) == sizeof(cufftDoubleComplex) &&
                  alignof(cufftDoubleComplex) == 16,
              "cf_cplx must have cufftDoubleComplex's layout");

int cufft_plan(cf_cuda_ctx *c, const cufft_api *api, int n, int rows, int dist, cufftHandle *out)
{
	for (auto &p : c->netml_plan)
		if (p.made && p.n == n && p.rows == rows && p.stride == dist) {
			*out = p.handle;
			return 0;
		}
	auto &p = c->netml_plan[c->netml_plan_next];
	c->netml_plan_next ^= 1;
	if (p.made)
		api->destroy(p.handle);
	p.made = 0;
	// staged rows of `dist` doubles (even: 16-byte aligned), spectra of half
	int inembed[1] = {dist}, half = n / 2 + 1, onembed[1] = {half};
	cufftHandle h;
	if (api->plan_many(&h, 1, &n, inembed, 1, dist, onembed, 1, half, CUFFT_D2Z, rows) != CUFFT_SUCCESS)
		return -1;
	if (api->set_stream(h, c->stream) != CUFFT_SUCCESS) {
		api->destroy(h);
		return -1;
	}
	p.made = 1;
	p.n = n;
	p.rows = rows;
	p.stride = dist;
	p.handle = h;
	*out = h;
	return 0;
}

// Real part of the DFT of one part (col0, n) of every row, in place:
// staged into aligned rows (cf_fft_stage), cuFFT D2Z or the direct DFT,
// real parts scattered back. `block` is 16-byte aligned and holds
// cf_fft_stage_of(rows, n).bytes.
int fft_part(cf_cuda_ctx *c, double *out, uint32_t rows, uint32_t stride, uint32_t col0, uint32_t n, char *block,
             char *errbuf)
{
	if (!n)
		return CF_OK;
	auto pol = thrust::cuda::par.on(c->stream);
	cf_fft_stage st = cf_fft_stage_of(rows, n);
	cf_thrust::fft_stage(pol, out, rows, stride, col0, n, st, block);
	const cufft_api *api = load_cufft();
	cufftHandle plan;
	if (!api) {
		c->fft_why = "cuFFT not loaded (libcufft.so.12/.11 not found by dlopen)";
	} else if (cufft_plan(c, api, (int)n, (int)rows, (int)st.dist, &plan) != 0) {
		c->fft_why = "cuFFT could not plan the transform";
		api = nullptr;
	}
	if (api) {
		cufftResult r = api->exec_d2z(plan, (cufftDoubleReal *)block, (cufftDoubleComplex *)(block + st.spec_off));
		if (r != CUFFT_SUCCESS) {
			snprintf(errbuf, CF_ERRBUF_SIZE, "cufftExecD2Z failed (cufftResult %d; n %u, %u rows)", (int)r, n,
			         rows);
			return CF_ERR_DEVICE;
		}
		c->fft_cufft++;
	} else {
		cf_thrust::fft_direct(pol, rows, n, st, block);
		c->fft_direct++;
	}
	cf_thrust::fft_scatter(pol, out, rows, stride, col0, n, st, block);
	return CF_OK;
}

struct sub_base {
	uint64_t base;
	__device__ uint64_t operator()(uint64_t o) const { return o - base; }
};

size_t align16(size_t x) { return (x + 15) & ~(size_t)15; }

} // namespace

static int netml_features(cf_cuda_ctx *c, cf_netml_batch *b, char *errbuf)
{
	uint64_t R = b->n_rows;
	if (!R)
		return CF_OK;
	uint64_t base = b->offsets[0], N = b->offsets[R] - base;
	uint32_t hc = b->hdr_cols, fc = b->feat_cols, C = hc + fc;
	uint32_t part = hc > fc ? hc : fc;
	// offsets, t, size, ttl, hflags, out, keys, rows, FFT scratch
	size_t o_off = 0, o_t = align16(o_off + (R + 1) * 8), o_size = align16(o_t + N * 8);
	size_t o_ttl = align16(o_size + N * 4), o_hfl = align16(o_ttl + N), o_out = align16(o_hfl + N);
	size_t o_keys = align16(o_out + R * C * 8), o_row = align16(o_keys + N * 8);
	size_t o_fft = align16(o_row + N * 4);
	// one part at a time; the larger part's staging is the larger block
	size_t fft_bytes = b->fft ? cf_fft_stage_of(R, part).bytes : 0;
	size_t need = o_fft + fft_bytes;
	if (need > c->netml_bytes) {
		if (c->netml_mem)
			cudaFree(c->netml_mem);
		c->netml_mem = nullptr;
		c->netml_bytes = 0;
		CF_CUDA_TRY(cudaMalloc(&c->netml_mem, need));
		c->netml_bytes = need;
	}
	char *m = (char *)c->netml_mem;
	cf_netml_batch d = *b;
	d.offsets = (const uint64_t *)(m + o_off);
	d.t = (const double *)(m + o_t);
	d.size = (const uint32_t *)(m + o_size);
	d.ttl = (const uint8_t *)(m + o_ttl);
	d.hflags = (const uint8_t *)(m + o_hfl);
	d.out = (double *)(m + o_out);
	cudaStream_t s = c->stream;
	try {
		auto pol = thrust::cuda::par.on(s);
		CF_CUDA_TRY(h2d((uint64_t *)d.offsets, b->offsets, R + 1, s));
		thrust::transform(pol, (uint64_t *)d.offsets, (uint64_t *)d.offsets + R + 1, (uint64_t *)d.offsets,
		                  sub_base{base});
		CF_CUDA_TRY(h2d((double *)d.t, b->t + base, N, s));
		CF_CUDA_TRY(h2d((uint32_t *)d.size, b->size + base, N, s));
		CF_CUDA_TRY(h2d((uint8_t *)d.ttl, b->ttl + base, N, s));
		CF_CUDA_TRY(h2d((uint8_t *)d.hflags, b->hflags + base, N, s));
		cf_thrust::netml_rows(pol, d, 0, N, (uint64_t *)(m + o_keys), (uint32_t *)(m + o_row));
		if (b->fft) {
			int st = fft_part(c, d.out, (uint32_t)R, C, 0, hc, m + o_fft, errbuf);
			if (st == CF_OK)
				st = fft_part(c, d.out, (uint32_t)R, C, hc, fc, m + o_fft, errbuf);
			if (st != CF_OK)
				return st;
		}
		CF_CUDA_TRY(d2h(b->out, d.out, R * C, s));
		CF_CUDA_TRY(cudaStreamSynchronize(s));
	} catch (const std::exception &ex) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "CUDA netml features: %s", ex.what());
		cudaGetLastError();
		return CF_ERR_DEVICE;
	}
	return CF_OK;
}

extern "C" int cf_cuda_netml_features(cf_cuda_ctx *c, cf_netml_batch *b, char *errbuf)
{
	return cf_cuda_finish(c, netml_features(c, b, errbuf));
}

extern "C" void cf_cuda_fft_counts(const cf_cuda_ctx *c, uint64_t *cufft, uint64_t *direct, const char **why)
{
	*cufft = c->fft_cufft;
	*direct = c->fft_direct;
	*why = c->fft_why ? c->fft_why : "";
}

extern "C" void cf_cuda_netml_free(cf_cuda_ctx *c)
{
	const cufft_api *api = g_cufft.ok ? &g_cufft : nullptr;
	for (auto &p : c->netml_plan)
		if (p.made && api)
			api->destroy(p.handle);
	if (c->netml_mem)
		cudaFree(c->netml_mem);
	c->netml_mem = nullptr;
}
