/*
 * The C interface of the CUDA part (kernels/ *.cu). host/ code calls only
 * these functions, and only when built with CUFLOW_HAVE_CUDA. Every one
 * returns a cf_status and writes a message into errbuf (CF_ERRBUF_SIZE)
 * on failure; none throws or aborts.
 */
#ifndef CUFLOW_KERNELS_CUDA_API_H
#define CUFLOW_KERNELS_CUDA_API_H

#include <stddef.h>
#include "cuflow/packet.h"
#include "cuflow/summary.h"
#include "cuflow/flow_batch.h"
#include "cuflow/netml_batch.h"
#include "cuflow/flowpic_batch.h"
#include "cuflow/window_batch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Devices that answer and can run this build's kernels (a kernel image
 * for device 0's compute capability); 0 (never an error) without driver
 * or device, or when no image fits. *why gets the reason when 0 (static
 * or thread-local text). */
int cf_cuda_probe(const char **why);

/* "NAME (compute X.Y, N MiB)" of device 0 into buf. */
void cf_cuda_device_desc(char *buf, size_t n);

/* Pinned host memory; CF_ERR_DEVICE when pinning is impossible. */
int cf_cuda_host_alloc(void **p, size_t bytes);
void cf_cuda_host_free(void *p);

/* Per-run device state of the CUDA backend: one stream and one device
 * arena sized for the largest batch, allocated once. */
typedef struct cf_cuda_ctx cf_cuda_ctx;
int cf_cuda_ctx_init(cf_cuda_ctx **out, char *errbuf);
void cf_cuda_ctx_free(cf_cuda_ctx *c);

/* acc += summary of the batch (copied to the device, reduced there). */
int cf_cuda_summarize(cf_cuda_ctx *c, const cf_pkt_batch *b, cf_summary *acc, char *errbuf);

/* Computes the flow batch's pieces on the device (flow_features_thrust.h)
 * and copies the results back into b. Device buffers grow to the largest
 * batch once. */
int cf_cuda_flow_features(cf_cuda_ctx *c, cf_flow_batch *b, char *errbuf);

/* netml rows of the batch (netml_features_thrust.h) and their FFT
 * (cuFFT when it loads, else a direct DFT), into b->out. */
int cf_cuda_netml_features(cf_cuda_ctx *c, cf_netml_batch *b, char *errbuf);
/* FFT parts computed so far by cuFFT and by the direct DFT, and why the
 * direct DFT ran ("" when it did not). */
void cf_cuda_fft_counts(const cf_cuda_ctx *c, uint64_t *cufft, uint64_t *direct, const char **why);
/* Frees the netml buffers and plans (called by cf_cuda_ctx_free). */
void cf_cuda_netml_free(cf_cuda_ctx *c);

/* FlowPic images of the batch (flowpic_thrust.h) into b->out and
 * b->packets (b->acc is not copied back). */
int cf_cuda_flowpic_images(cf_cuda_ctx *c, cf_flowpic_batch *b, char *errbuf);
/* The rows of every window of the batch (windows_thrust.h) into b->rows
 * (host memory; the columns are copied to the device). */
int cf_cuda_window_rows(cf_cuda_ctx *c, cf_window_batch *b, char *errbuf);

#ifdef __cplusplus
}
#endif

#endif
