/*
 * CUDA backend: the rows of a window batch (windows_thrust.h on the
 * backend's stream). The batch's entries (from offsets[0], the offsets
 * rebased to 0), its per-window arrays, the rows and the scratch go to one
 * device block allocated for the call; the rows come back into the host
 * batch. Everything is integer group-bys finished by the same CF_HD code
 * as the CPU reference, so the rows are the CPU's bits.
 */
#include <exception>
#include <vector>

#include <thrust/execution_policy.h>
#include <thrust/system/cuda/execution_policy.h>

#include "cuda_ctx.h"
#include "cuflow/internal.h"
#include "windows_thrust.h"

namespace {
// The call's device block, freed on every way out (after the stream has
// drained: an error may leave copies from it in flight).
struct device_block {
	cudaStream_t s;
	void *p = nullptr;
	~device_block()
	{
		if (p) {
			cudaStreamSynchronize(s);
			cudaFree(p);
			cudaGetLastError();
		}
	}
};
} // namespace

static size_t al16(size_t x) { return (x + 15) & ~(size_t)15; }

static int window_rows_body(cf_cuda_ctx *c, cf_window_batch *b, char *errbuf)
{
	uint64_t W = b->n_windows;
	if (!W)
		return CF_OK;
	if (W > CF_WINDOW_BATCH_MAX_WINDOWS) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "CUDA window rows: %llu windows (at most %u)", (unsigned long long)W,
		         CF_WINDOW_BATCH_MAX_WINDOWS);
		return CF_ERR_DEVICE;
	}
	uint64_t base = b->offsets[0], N = b->offsets[W] - base;
	if (N >> 32) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "CUDA window rows: %llu entries (below 2^32)", (unsigned long long)N);
		return CF_ERR_DEVICE;
	}
	std::vector<uint64_t> off(W + 1);
	for (uint64_t w = 0; w <= W; w++)
		off[w] = b->offsets[w] - base;
	size_t o_off = 0, o_ip = al16(o_off + (W + 1) * 8), o_conn = al16(o_ip + W * 4), o_flow = al16(o_conn + W * 4);
	size_t o_src = al16(o_flow + W * 4), o_dst = al16(o_src + N * 4), o_cid = al16(o_dst + N * 4);
	size_t o_sp = al16(o_cid + N * 4), o_dp = al16(o_sp + N * 2), o_st = al16(o_dp + N * 2);
	size_t o_rows = al16(o_st + N), o_scr = al16(o_rows + W * sizeof(cf_window_row));
	cf_thrust::window_scratch s;
	size_t need = o_scr + cf_thrust::window_scratch_carve(&s, nullptr, N, (uint32_t)W);
	cudaStream_t st = c->stream;
	device_block blk{st};
	CF_CUDA_TRY(cudaMalloc(&blk.p, need));
	char *m = (char *)blk.p;
	cf_thrust::window_scratch_carve(&s, m + o_scr, N, (uint32_t)W);
	cf_window_batch d = *b;
	d.offsets = (const uint64_t *)(m + o_off);
	d.n_ip = (const uint32_t *)(m + o_ip);
	d.n_conn = (const uint32_t *)(m + o_conn);
	d.n_flow = (const uint32_t *)(m + o_flow);
	d.src_id = (const uint32_t *)(m + o_src);
	d.dst_id = (const uint32_t *)(m + o_dst);
	d.conn_id = (const uint32_t *)(m + o_cid);
	d.sport = (const uint16_t *)(m + o_sp);
	d.dport = (const uint16_t *)(m + o_dp);
	d.state = (const uint8_t *)(m + o_st);
	d.rows = (cf_window_row *)(m + o_rows);
	try {
		CF_CUDA_TRY(h2d((uint64_t *)d.offsets, off.data(), W + 1, st));
		CF_CUDA_TRY(h2d((uint32_t *)d.n_ip, b->n_ip, W, st));
		CF_CUDA_TRY(h2d((uint32_t *)d.n_conn, b->n_conn, W, st));
		CF_CUDA_TRY(h2d((uint32_t *)d.n_flow, b->n_flow, W, st));
		CF_CUDA_TRY(h2d((uint32_t *)d.src_id, b->src_id + base, N, st));
		CF_CUDA_TRY(h2d((uint32_t *)d.dst_id, b->dst_id + base, N, st));
		CF_CUDA_TRY(h2d((uint32_t *)d.conn_id, b->conn_id + base, N, st));
		CF_CUDA_TRY(h2d((uint16_t *)d.sport, b->sport + base, N, st));
		CF_CUDA_TRY(h2d((uint16_t *)d.dport, b->dport + base, N, st));
		CF_CUDA_TRY(h2d((uint8_t *)d.state, b->state + base, N, st));
		cf_thrust::window_rows(thrust::cuda::par.on(st), d, 0, N, s);
		CF_CUDA_TRY(d2h(b->rows, d.rows, W, st));
		// the host vector `off` and the block live until the copies are done
		CF_CUDA_TRY(cudaStreamSynchronize(st));
	} catch (const std::exception &ex) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "CUDA window rows: %s", ex.what());
		cudaGetLastError();
		return CF_ERR_DEVICE;
	}
	return CF_OK;
}

extern "C" int cf_cuda_window_rows(cf_cuda_ctx *c, cf_window_batch *b, char *errbuf)
{
	int st = window_rows_body(c, b, errbuf);
	return cf_cuda_finish(c, st);
}
