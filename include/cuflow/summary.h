/*
 * cf_summary: packet, byte, time, per-layer and per-skip-reason totals of a
 * set of decoded packets. The per-packet update and the merge are CF_HD
 * functions shared by the CPU reference and the CUDA kernel; all fields are
 * integers, so both backends agree bit for bit in any order.
 */
#ifndef CUFLOW_SUMMARY_H
#define CUFLOW_SUMMARY_H

#include <stdint.h>
#include "cuflow/hd.h"
#include "cuflow/packet.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CF_SUMMARY_LAYERS 13 /* bits of enum cf_layer */

typedef struct cf_summary {
	uint64_t packets;
	uint64_t captured_bytes;     /* sum of caplen */
	uint64_t wire_bytes;         /* sum of wirelen */
	int64_t first_ns;            /* earliest timestamp (INT64_MAX when empty) */
	int64_t last_ns;             /* latest timestamp (INT64_MIN when empty) */
	uint64_t layer[CF_SUMMARY_LAYERS]; /* frames with bit i of cf_layer set */
	uint64_t skip[CF_SKIP_COUNT];      /* frames per cf_skip reason (skip[0] = decoded) */
} cf_summary;

static inline CF_HD void cf_summary_clear(cf_summary *s)
{
	s->packets = 0;
	s->captured_bytes = 0;
	s->wire_bytes = 0;
	s->first_ns = INT64_MAX;
	s->last_ns = INT64_MIN;
	for (int i = 0; i < CF_SUMMARY_LAYERS; i++)
		s->layer[i] = 0;
	for (int i = 0; i < CF_SKIP_COUNT; i++)
		s->skip[i] = 0;
}

static inline CF_HD void cf_summary_add(cf_summary *s, int64_t ts_ns, uint32_t caplen,
                                        uint32_t wirelen, uint16_t layers, uint8_t skip)
{
	s->packets += 1;
	s->captured_bytes += caplen;
	s->wire_bytes += wirelen;
	if (ts_ns < s->first_ns)
		s->first_ns = ts_ns;
	if (ts_ns > s->last_ns)
		s->last_ns = ts_ns;
	for (int i = 0; i < CF_SUMMARY_LAYERS; i++)
		s->layer[i] += (layers >> i) & 1u;
	s->skip[skip < CF_SKIP_COUNT ? skip : 0] += 1;
}

/* a += b. Associative and commutative. */
static inline CF_HD void cf_summary_merge(cf_summary *a, const cf_summary *b)
{
	a->packets += b->packets;
	a->captured_bytes += b->captured_bytes;
	a->wire_bytes += b->wire_bytes;
	if (b->first_ns < a->first_ns)
		a->first_ns = b->first_ns;
	if (b->last_ns > a->last_ns)
		a->last_ns = b->last_ns;
	for (int i = 0; i < CF_SUMMARY_LAYERS; i++)
		a->layer[i] += b->layer[i];
	for (int i = 0; i < CF_SKIP_COUNT; i++)
		a->skip[i] += b->skip[i];
}

#ifdef __cplusplus
}
#endif

#endif
