/*
 * The CPU reference's flow features on a range of a batch's pieces, for a
 * caller that shares one batch's pieces between threads (the flow engine
 * with --threads 2). Library-internal.
 */
#ifndef CUFLOW_BACKEND_CPU_H
#define CUFLOW_BACKEND_CPU_H

#include <stdint.h>

#include "cuflow/backend_batch.h"
#include "cuflow/flow_batch.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A thread's scratch for the sort keys of one piece (grown on demand). */
typedef struct cf_cpu_flow_scratch {
	uint64_t *keys; /* [2 * cap]: the keys, then room for a radix pass */
	uint64_t cap;
} cf_cpu_flow_scratch;

/* Computes pieces [begin, end) exactly as cf_backend_flow_features does
 * on the CPU. Distinct ranges of one batch may run in distinct threads,
 * each with its own scratch. CF_OK or CF_ERR_NOMEM (message in error). */
int cf_cpu_flow_pieces(cf_flow_batch *fb, uint32_t begin, uint32_t end, cf_cpu_flow_scratch *s, char *error);

void cf_cpu_flow_scratch_free(cf_cpu_flow_scratch *s);

/* Tests only: a backend that stands for a failing device. It computes
 * like the CPU backend for its first fail_from_call calls, then returns
 * CF_ERR_DEVICE; opened as if `requested` (CF_BACKEND_AUTO or
 * CF_BACKEND_CUDA) had been asked for, so the AUTO fallback is exercised
 * without a GPU. */
int cf_backend_open_faulty(int requested, int fail_from_call, cf_backend **out);

#ifdef __cplusplus
}
#endif

#endif
