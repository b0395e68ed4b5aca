/*
 * CUDA backend: FlowPic images of a batch (flowpic_thrust.h on the
 * backend's stream). The batch's entries and per-image times go to one
 * device block grown to the largest batch; the images come back into the
 * host batch. Counts are integers, so the atomic scatter gives the CPU's
 * bits whatever the order.
 */
#include <exception>

#include <thrust/execution_policy.h>
#include <thrust/system/cuda/execution_policy.h>
#include <thrust/transform.h>

#include "cuda_ctx.h"
#include "cuflow/internal.h"
#include "flowpic_thrust.h"

static size_t al16(size_t x) { return (x + 15) & ~(size_t)15; }

namespace {
struct sub_base {
	uint64_t base;
	__device__ uint64_t operator()(uint64_t o) const { return o - base; }
};
} // namespace

static int flowpic_images_body(cf_cuda_ctx *c, cf_flowpic_batch *b, char *errbuf)
{
	uint64_t I = b->n_images;
	if (!I)
		return CF_OK;
	// entries base..offsets[I]-1 (the CPU reference takes any start): the
	// device copy starts at entry 0, its offsets rebased
	uint64_t base = b->offsets[0], N = b->offsets[I] - base, R = b->res, px = I * b->channels * R * R;
	size_t vbytes = b->value == CF_FLOWPIC_COUNT ? 2 : b->value == CF_FLOWPIC_CAPPED ? 1 : 4;
	size_t o_off = 0, o_t = al16((I + 1) * 8), o_size = al16(o_t + N * 8), o_chan = al16(o_size + N * 4);
	size_t o_tf = al16(o_chan + N), o_tl = al16(o_tf + I * 8), o_an = al16(o_tl + I * 8);
	size_t o_et = al16(o_an + I * 8), o_es = al16(o_et + (R + 1) * 8), o_acc = al16(o_es + (R + 1) * 8);
	size_t o_pk = al16(o_acc + px * 4), o_out = al16(o_pk + I * 4), o_img = al16(o_out + px * vbytes);
	size_t need = o_img + N * 4;
	if (need > c->flowpic_bytes) {
		if (c->flowpic_mem)
			cudaFree(c->flowpic_mem);
		c->flowpic_mem = nullptr;
		c->flowpic_bytes = 0;
		CF_CUDA_TRY(cudaMalloc(&c->flowpic_mem, need));
		c->flowpic_bytes = need;
	}
	char *m = (char *)c->flowpic_mem;
	cf_flowpic_batch d = *b;
	d.offsets = (const uint64_t *)(m + o_off);
	d.t = (const double *)(m + o_t);
	d.size = (const uint32_t *)(m + o_size);
	d.chan = (const uint8_t *)(m + o_chan);
	d.t_first = (const double *)(m + o_tf);
	d.t_last = (const double *)(m + o_tl);
	d.anchor = (const double *)(m + o_an);
	d.edges_t = (const double *)(m + o_et);
	d.edges_s = (const double *)(m + o_es);
	d.acc = (uint32_t *)(m + o_acc);
	d.packets = (uint32_t *)(m + o_pk);
	d.out = m + o_out;
	cudaStream_t s = c->stream;
	try {
		auto pol = thrust::cuda::par.on(s);
		CF_CUDA_TRY(h2d((uint64_t *)d.offsets, b->offsets, I + 1, s));
		if (base)
			thrust::transform(pol, (uint64_t *)d.offsets, (uint64_t *)d.offsets + I + 1, (uint64_t *)d.offsets,
			                  sub_base{base});
		CF_CUDA_TRY(h2d((double *)d.t, b->t + base, N, s));
		CF_CUDA_TRY(h2d((uint32_t *)d.size, b->size + base, N, s));
		CF_CUDA_TRY(h2d((uint8_t *)d.chan, b->chan + base, N, s));
		CF_CUDA_TRY(h2d((double *)d.t_first, b->t_first, I, s));
		CF_CUDA_TRY(h2d((double *)d.t_last, b->t_last, I, s));
		CF_CUDA_TRY(h2d((double *)d.anchor, b->anchor, I, s));
		CF_CUDA_TRY(h2d((double *)d.edges_t, b->edges_t, R + 1, s));
		CF_CUDA_TRY(h2d((double *)d.edges_s, b->edges_s, R + 1, s));
		cf_thrust::flowpic_images(pol, d, 0, N, (uint32_t *)(m + o_img));
		CF_CUDA_TRY(d2h((char *)b->out, (const char *)d.out, px * vbytes, s));
		CF_CUDA_TRY(d2h(b->packets, d.packets, I, s));
		CF_CUDA_TRY(cudaStreamSynchronize(s));
	} catch (const std::exception &ex) {
		snprintf(errbuf, CF_ERRBUF_SIZE, "CUDA flowpic: %s", ex.what());
		cudaGetLastError();
		return CF_ERR_DEVICE;
	}
	return CF_OK;
}

extern "C" int cf_cuda_flowpic_images(cf_cuda_ctx *c, cf_flowpic_batch *b, char *errbuf)
{
	return cf_cuda_finish(c, flowpic_images_body(c, b, errbuf));
}
