/*
 * Library-internal: a batch of decoded packets as a structure of arrays,
 * the layout the backends (CPU reference and CUDA) read. Plain data, read
 * by gcc and nvcc.
 */
#ifndef CUFLOW_PKT_BATCH_H
#define CUFLOW_PKT_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include "cuflow/packet.h"
#include "cuflow/scan.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A batch of decoded packets as a structure of arrays. Columns are carved
 * out of one allocation made by cf_pkt_batch_init (pinned host memory when
 * the CUDA backend asks for it) and reused for every batch of a run.
 * Only the columns the backends read are kept; the per-packet record
 * stays the source of truth for everything else.
 */
struct cf_pkt_batch {
	size_t count;          /* packets in the batch */
	size_t capacity;       /* packets the columns hold */
	int64_t *ts_ns;
	uint32_t *caplen;
	uint32_t *wirelen;
	uint32_t *ip_len;
	uint16_t *layers;
	uint16_t *sport, *dport;
	uint16_t *tcp_flags;
	uint8_t *proto;
	uint8_t *skip;
	uint8_t *ttl;
	void *mem;             /* the single allocation behind the columns */
	int pinned;            /* 1 when mem is CUDA pinned memory */
};

/* Allocates the columns for `capacity` packets in one block. With
 * want_pinned != 0 and a CUDA device present, the block is pinned host
 * memory; otherwise (or when pinning fails) it is ordinary memory.
 * Returns CF_OK or CF_ERR_NOMEM / CF_ERR_ARG. */
int cf_pkt_batch_init(cf_pkt_batch *b, size_t capacity, int want_pinned);
/* Frees the columns (NULL-safe; the struct itself is the caller's). */
void cf_pkt_batch_free(cf_pkt_batch *b);
/* Appends one record; the caller checks count < capacity first. */
static inline void cf_pkt_batch_push(cf_pkt_batch *b, const cf_pkt *p)
{
	size_t i = b->count++;
	b->ts_ns[i] = p->ts_ns;
	b->caplen[i] = p->caplen;
	b->wirelen[i] = p->wirelen;
	b->ip_len[i] = p->ip_len;
	b->layers[i] = p->layers;
	b->sport[i] = p->sport;
	b->dport[i] = p->dport;
	b->tcp_flags[i] = p->tcp_flags;
	b->proto[i] = p->proto;
	b->skip[i] = p->skip;
	b->ttl[i] = p->ttl;
}

#ifdef __cplusplus
}
#endif

#endif
