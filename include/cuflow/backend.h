/*
 * Compute backends. A backend runs the batch computations (packet
 * summary, flow statistics and sequences, netml rows, FlowPic images) on
 * one device; the batch operations themselves are library-internal
 * (the engines call them). The CPU backend is the reference; the CUDA backend computes
 * the same bits on a GPU. Selection is automatic (CUDA when a device
 * answers, else CPU) and can be forced.
 */
#ifndef CUFLOW_BACKEND_H
#define CUFLOW_BACKEND_H

#include <stdint.h>
#include "cuflow/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_backend cf_backend;

enum cf_backend_kind {
	CF_BACKEND_AUTO = 0,
	CF_BACKEND_CPU = 1,
	CF_BACKEND_CUDA = 2
};

/* "auto", "cpu" or "cuda" -> kind. CF_OK or CF_ERR_ARG. */
int cf_backend_parse(const char *name, int *kind);

/* Number of usable CUDA devices: 0 when the library was built without
 * CUDA, when no driver is installed or no device answers. Never fails. */
int cf_cuda_device_count(void);

/* Opens a backend. AUTO picks CUDA when cf_cuda_device_count() > 0 (a
 * device answers and this build has a kernel image for its compute
 * capability), else CPU and sets a note (cf_backend_note) saying why.
 * Forcing CUDA without such a device fails with CF_ERR_DEVICE and a
 * message in errbuf. When an AUTO-chosen device fails during a call
 * (CF_ERR_DEVICE: an error, out of device memory), the call is redone on
 * the CPU and the backend stays on the CPU (cf_backend_kind changes, the
 * note says why, counters.fallbacks counts it); a forced CUDA backend
 * returns the error. */
int cf_backend_open(int kind, cf_backend **out, char *errbuf);

/* CF_BACKEND_CPU or CF_BACKEND_CUDA. */
int cf_backend_kind(const cf_backend *b);
/* "cpu" or "cuda". */
const char *cf_backend_name(const cf_backend *b);
/* Why AUTO fell back to the CPU, at open or later ("" when it did not). */
const char *cf_backend_note(const cf_backend *b);
/* Last error text of the backend ("" when none). */
const char *cf_backend_error(const cf_backend *b);

/* What a backend did, for reports and tests. */
typedef struct cf_backend_counters {
	uint64_t fallbacks;  /* device failures after which AUTO moved to the CPU */
	uint64_t fft_cufft;  /* netml FFT parts computed by cuFFT */
	uint64_t fft_direct; /* ... by the direct-DFT kernel (cuFFT not loaded or not planned) */
	char fft_why[128];   /* why the direct DFT ran ("" when it did not) */
	char device[128];    /* the CUDA device in use ("" for the CPU) */
} cf_backend_counters;
void cf_backend_get_counters(const cf_backend *b, cf_backend_counters *out);

/* Closes the backend (NULL-safe). */
void cf_backend_close(cf_backend *b);

#ifdef __cplusplus
}
#endif

#endif
