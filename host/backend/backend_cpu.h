/*
 * The CPU reference's flow features on a range of a batch's pieces, for a
 * caller that shares one batch's pieces between threads (the flow engine
 * with --threads 2). Library-internal.
 */
#ifndef CUFLOW_BACKEND_CPU_H
#define CUFLOW_BACKEND_CPU_H

#include <stdint.h>

#include "cuflow/flow_batch.h"

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

#endif
