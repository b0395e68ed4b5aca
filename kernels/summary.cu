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

#include "cuda_ctx.h"
#include "cuflow/cuflow.h"
#include "summary_thrust.h"

extern "C" int cf_cuda_probe(const char **why)
{
	int n = 0; // cudaGetDeviceCount leaves it untouched on failure
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess) {
		if (why)
			*why = cudaGetErrorString(e);
		cudaGetLastError(); // clear the sticky error of a failed probe
		return 0;
	}
	if (n == 0 && why)
		*why = "no CUDA device";
	return n;
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

extern "C" int cf_cuda_summarize(cf_cuda_ctx *c, const cf_pkt_batch *b, cf_summary *acc, char *errbuf)
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
