/*
 * CUDA backend: device probe, pinned memory, and the batch summary.
 *
 * The summary is cf_thrust::summarize (summary_thrust.h) on a stream, over
 * packet columns copied into a device arena allocated once per run. The
 * reduction is over integers only (counts, byte sums, min/max), so the
 * result equals the CPU reference bit for bit in any reduction order.
 * Thrust's CUDA system throws on errors; every entry point catches and
 * returns a cf_status, since C callers must be able to fall back.
 */
#include <cstdio>
#include <exception>
#include <new>

#include <cuda_runtime.h>
#include <thrust/execution_policy.h>
#include <thrust/system/cuda/execution_policy.h>

#include "backend/cuda_arch.h"
#include "cuda_ctx.h"
#include "cuflow/internal.h"
#include "summary_thrust.h"

#ifndef CUFLOW_CUDA_ARCHS
#define CUFLOW_CUDA_ARCHS ""
#endif

// Asked about by the probe: the driver finds an image of it for the
// device exactly when it finds one for every kernel of this build.
__global__ void cf_probe_kernel() {}

extern "C" int cf_cuda_probe(const char **why)
{
	static thread_local char msg[256];
	int n = 0; // cudaGetDeviceCount leaves it untouched on failure
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess) {
		if (why)
			*why = cudaGetErrorString(e);
		cudaGetLastError(); // clear the sticky error of a failed probe
		return 0;
	}
	if (n == 0) {
		if (why)
			*why = "no CUDA device";
		return 0;
	}
	// Device 0 is the one the backend uses (cudaSetDevice is never called).
	int major = 0, minor = 0;
	if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0) != cudaSuccess ||
	    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0) != cudaSuccess) {
		cudaGetLastError();
		if (why)
			*why = "the CUDA device did not report its compute capability";
		return 0;
	}
	if (cf_cuda_arch_runs(CUFLOW_CUDA_ARCHS, major, minor) == 0) {
		snprintf(msg, sizeof msg,
		         "CUDA device 0 has compute capability %d.%d, and this build has kernels for %s only "
		         "(rebuild with -DCMAKE_CUDA_ARCHITECTURES=%d%d)",
		         major, minor, CUFLOW_CUDA_ARCHS, major, minor);
		if (why)
			*why = msg;
		return 0;
	}
	cudaFuncAttributes fa;
	e = cudaFuncGetAttributes(&fa, cf_probe_kernel);
	if (e != cudaSuccess) {
		snprintf(msg, sizeof msg, "CUDA device 0 (compute capability %d.%d) cannot run this build's kernels: %s",
		         major, minor, cudaGetErrorString(e));
		cudaGetLastError();
		if (why)
			*why = msg;
		return 0;
	}
	return n;
}

extern "C" void cf_cuda_device_desc(char *buf, size_t n)
{
	cudaDeviceProp p;
	if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
		cudaGetLastError();
		snprintf(buf, n, "CUDA device 0");
		return;
	}
	snprintf(buf, n, "%s (compute %d.%d, %zu MiB)", p.name, p.major, p.minor, (size_t)(p.totalGlobalMem >> 20));
}

extern "C" int cf_cuda_host_alloc(void **p, size_t bytes)
{
	*p = nullptr;
	if (cudaMallocHost(p, bytes) != cudaSuccess) {
		cudaGetLastError();
		*p = nullptr;
		return CF_ERR_DEVICE;
	}
	return CF_OK;
}

extern "C" void cf_cuda_host_free(void *p)
{
	if (p)
		cudaFreeHost(p);
}

extern "C" int cf_cuda_ctx_init(cf_cuda_ctx **out, char *errbuf)
{
	*out = nullptr;
	cf_cuda_ctx *c = new (std::nothrow) cf_cuda_ctx();
	if (!c) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "out of memory");
		return CF_ERR_NOMEM;
	}
	const size_t per_pkt = sizeof(int64_t) + 2 * sizeof(uint32_t) + sizeof(uint16_t) + sizeof(uint8_t);
	cudaError_t e = cudaStreamCreate(&c->stream);
	if (e == cudaSuccess)
		e = cudaMalloc(&c->arena, kChunk * per_pkt);
	if (e != cudaSuccess) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "CUDA backend init: %s", cudaGetErrorString(e));
		cudaGetLastError();
		cf_cuda_ctx_free(c);
		return CF_ERR_DEVICE;
	}
	char *m = (char *)c->arena;
	c->ts = (int64_t *)m;
	m += kChunk * sizeof(int64_t);
	c->caplen = (uint32_t *)m;
	m += kChunk * sizeof(uint32_t);
	c->wirelen = (uint32_t *)m;
	m += kChunk * sizeof(uint32_t);
	c->layers = (uint16_t *)m;
	m += kChunk * sizeof(uint16_t);
	c->skip = (uint8_t *)m;
	*out = c;
	return CF_OK;
}

extern "C" void cf_cuda_ctx_free(cf_cuda_ctx *c)
{
	if (!c)
		return;
	if (c->arena)
		cudaFree(c->arena);
	if (c->flow_mem)
		cudaFree(c->flow_mem);
	cf_cuda_netml_free(c);
	if (c->flowpic_mem)
		cudaFree(c->flowpic_mem);
	if (c->stream)
		cudaStreamDestroy(c->stream);
	delete c;
}

static int summarize(cf_cuda_ctx *c, const cf_pkt_batch *b, cf_summary *acc, char *errbuf)
{
	try {
		for (size_t off = 0; off < b->count; off += kChunk) {
			size_t n = b->count - off < kChunk ? b->count - off : kChunk;
			CF_CUDA_TRY(cudaMemcpyAsync(c->ts, b->ts_ns + off, n * sizeof(int64_t), cudaMemcpyHostToDevice, c->stream));
			CF_CUDA_TRY(cudaMemcpyAsync(c->caplen, b->caplen + off, n * sizeof(uint32_t), cudaMemcpyHostToDevice, c->stream));
			CF_CUDA_TRY(cudaMemcpyAsync(c->wirelen, b->wirelen + off, n * sizeof(uint32_t), cudaMemcpyHostToDevice, c->stream));
			CF_CUDA_TRY(cudaMemcpyAsync(c->layers, b->layers + off, n * sizeof(uint16_t), cudaMemcpyHostToDevice, c->stream));
			CF_CUDA_TRY(cudaMemcpyAsync(c->skip, b->skip + off, n * sizeof(uint8_t), cudaMemcpyHostToDevice, c->stream));
			cf_summary s = cf_thrust::summarize(thrust::cuda::par.on(c->stream), n, c->ts, c->caplen,
			                                    c->wirelen, c->layers, c->skip);
			cf_summary_merge(acc, &s);
		}
	} catch (const std::exception &ex) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "CUDA summary: %s", ex.what());
		cudaGetLastError();
		return CF_ERR_DEVICE;
	}
	return CF_OK;
}

extern "C" int cf_cuda_summarize(cf_cuda_ctx *c, const cf_pkt_batch *b, cf_summary *acc, char *errbuf)
{
	return cf_cuda_finish(c, summarize(c, b, acc, errbuf));
}
