/*
 * The CUDA backend's per-run state, shared by the kernels/ *.cu files:
 * one stream, the packet-summary arena, and the flow-batch buffers (grown
 * to the largest batch once, then reused).
 */
#ifndef CUFLOW_KERNELS_CUDA_CTX_H
#define CUFLOW_KERNELS_CUDA_CTX_H

#include <cstdio>
#include <cuda_runtime.h>

#include "cuda_api.h"
#include "cuflow/internal.h"

// On failure: the message, the thread's last CUDA error cleared (else the
// next Thrust call would throw it again), CF_ERR_DEVICE. Entry points then
// pass the status through cf_cuda_finish, which drains the stream.
#define CF_CUDA_TRY(expr)                                                                     \
	do {                                                                                      \
		cudaError_t e_ = (expr);                                                              \
		if (e_ != cudaSuccess) {                                                              \
			snprintf(errbuf, CF_ERRBUF_SIZE, "%s failed: %s (%s:%d)", #expr,                 \
			         cudaGetErrorString(e_), __FILE__, __LINE__);                             \
			cudaGetLastError();                                                               \
			return CF_ERR_DEVICE;                                                             \
		}                                                                                     \
	} while (0)

// Packets per device chunk of the summary: the arena holds this many
// packets' columns.
static const size_t kChunk = (size_t)1 << 20;

struct cf_cuda_ctx {
	cudaStream_t stream;
	void *arena;
	int64_t *ts;
	uint32_t *caplen, *wirelen;
	uint16_t *layers;
	uint8_t *skip;
	// flow batches: a device mirror of the host batch's arrays
	void *flow_mem;
	cf_flow_batch flow;     // device pointers, sized max_pieces/max_packets/seq_len
	uint64_t *flow_keys;
	uint32_t *flow_piece;
	// netml batches (netml_features.cu): one device block, grown to the
	// largest batch, and the cuFFT plans of the last two shapes
	void *netml_mem;
	size_t netml_bytes;
	struct cf_netml_plan {
		int made;
		int n, rows, stride;
		int handle; // cufftHandle
	} netml_plan[2];
	int netml_plan_next;
	uint64_t fft_cufft, fft_direct; // FFT parts done by cuFFT / by the direct DFT
	const char *fft_why;            // why the direct DFT ran (static text)
	// FlowPic batches (flowpic.cu): one device block, grown to the largest batch
	void *flowpic_mem;
	size_t flowpic_bytes;
};

template <class T> static inline cudaError_t h2d(T *dst, const T *src, uint64_t n, cudaStream_t s)
{
	return n ? cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyHostToDevice, s) : cudaSuccess;
}
template <class T> static inline cudaError_t d2h(T *dst, const T *src, uint64_t n, cudaStream_t s)
{
	return n ? cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost, s) : cudaSuccess;
}

// Every entry point returns through this: after an error the copies it
// queued into the caller's (pinned) buffers may still be in flight, so the
// stream is drained before the caller sees the status, and the sticky
// error of the failure is cleared.
static inline int cf_cuda_finish(cf_cuda_ctx *c, int st)
{
	if (st != CF_OK) {
		cudaStreamSynchronize(c->stream);
		cudaGetLastError();
	}
	return st;
}

#endif
