/*
 * CUDA backend: flow features of a batch (flow_features_thrust.h on the
 * backend's stream). The host batch (pinned) is copied into a device
 * mirror allocated for the first batch's capacities and reused; results
 * come back into the host batch. Exceptions from Thrust become
 * CF_ERR_DEVICE with the message.
 */
#include <exception>

#include <thrust/execution_policy.h>
#include <thrust/system/cuda/execution_policy.h>

#include "cuda_ctx.h"
#include "cuflow/internal.h"
#include "flow_features_thrust.h"

// Carves the device mirror of a batch with h's capacities.
static int flow_mirror(cf_cuda_ctx *c, const cf_flow_batch *h, char *errbuf)
{
	cf_flow_batch *d = &c->flow;
	if (c->flow_mem && d->max_pieces >= h->max_pieces && d->max_packets >= h->max_packets &&
	    d->seq_len == h->seq_len)
		return CF_OK;
	if (c->flow_mem)
		cudaFree(c->flow_mem);
	c->flow_mem = nullptr;
	*d = cf_flow_batch();
	size_t bytes = cf_flow_batch_carve(d, nullptr, h->max_pieces, h->max_packets, h->seq_len);
	bytes = (bytes + 15) & ~(size_t)15;
	// the batch's arrays, then the sort keys and piece indices of every packet
	CF_CUDA_TRY(cudaMalloc(&c->flow_mem, bytes + h->max_packets * (sizeof(uint64_t) + sizeof(uint32_t))));
	char *m = (char *)c->flow_mem;
	cf_flow_batch_carve(d, m, h->max_pieces, h->max_packets, h->seq_len);
	c->flow_keys = (uint64_t *)(m + bytes);
	c->flow_piece = (uint32_t *)(c->flow_keys + h->max_packets);
	return CF_OK;
}

static int flow_features_body(cf_cuda_ctx *c, cf_flow_batch *b, char *errbuf)
{
	if (b->n_pieces == 0)
		return CF_OK;
	int st = flow_mirror(c, b, errbuf);
	if (st != CF_OK)
		return st;
	cf_flow_batch d = c->flow;
	d.n_pieces = b->n_pieces;
	d.n_packets = b->n_packets;
	uint64_t P = b->n_pieces, N = b->n_packets, L = b->seq_len;
	cudaStream_t s = c->stream;
	try {
		CF_CUDA_TRY(h2d(d.offsets, b->offsets, P + 1, s));
		CF_CUDA_TRY(h2d(d.whole, b->whole, P, s));
		CF_CUDA_TRY(h2d(d.ts_ns, b->ts_ns, N, s));
		CF_CUDA_TRY(h2d(d.size, b->size, N, s));
		CF_CUDA_TRY(h2d(d.dir, b->dir, N, s));
		CF_CUDA_TRY(h2d(d.tcp_flags, b->tcp_flags, N, s));
		cf_thrust::flow_features(thrust::cuda::par.on(s), d, c->flow_keys, c->flow_piece);
		CF_CUDA_TRY(d2h(b->part, d.part, P, s));
		CF_CUDA_TRY(d2h(b->stats, d.stats, 3 * P, s));
		CF_CUDA_TRY(d2h(b->seq_n, d.seq_n, P, s));
		CF_CUDA_TRY(d2h(b->seq_size, d.seq_size, P * L, s));
		CF_CUDA_TRY(d2h(b->seq_iat_ns, d.seq_iat_ns, P * L, s));
		CF_CUDA_TRY(d2h(b->seq_dir, d.seq_dir, P * L, s));
		CF_CUDA_TRY(cudaStreamSynchronize(s));
	} catch (const std::exception &ex) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "CUDA flow features: %s", ex.what());
		cudaGetLastError();
		return CF_ERR_DEVICE;
	}
	return CF_OK;
}

extern "C" int cf_cuda_flow_features(cf_cuda_ctx *c, cf_flow_batch *b, char *errbuf)
{
	return cf_cuda_finish(c, flow_features_body(c, b, errbuf));
}
