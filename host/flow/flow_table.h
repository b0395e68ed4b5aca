/*
 * The flow table (internal; the public entry is the flow engine in
 * include/cuflow/flow.h, whose header comment states the rules: keys,
 * direction, time, expiry, eviction, output order).
 *
 * The table tracks live flows and keeps their packets compactly
 * (cf_flow_pkt, 24 bytes) in fixed-size chunks from one pool allocated at
 * open. It hands packets out as pieces through one callback:
 *  - a flow's last piece when it ends (with its end reason);
 *  - an earlier piece when the flow already stores piece_packets packets
 *    and another arrives (so a flow of exactly piece_packets packets stays
 *    whole), or when the chunk pool runs dry and the least recently
 *    active flows give their stored packets up to free chunks.
 * A flow's pieces come out in packet order; a flow seen whole is one
 * piece with first = last = 1. Memory is fixed at open: slots, hash,
 * pool, one piece-sized scratch buffer.
 */
#ifndef CUFLOW_HOST_FLOW_TABLE_H
#define CUFLOW_HOST_FLOW_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include "cuflow/flow.h"

/* What the table knows of a flow (the identity columns of a record). */
typedef struct cf_flow_ident {
	uint64_t id;
	uint8_t ip_version, proto, end_reason, icmp_type, icmp_code;
	uint16_t vlan_id;
	uint32_t tunnel_id;
	uint16_t src_port, dst_port;
	uint8_t src_ip[16], dst_ip[16];
} cf_flow_ident;

/* One piece: n packets (n may be 0 for a last piece whose packets all
 * left in earlier pieces). *tag is a per-flow word the callback may set
 * on a flow's first piece and reads back on the later ones (0 at first).
 * A negative return is kept and returned by the next table call. */
typedef int (*cf_flow_piece_fn)(void *user, const cf_flow_ident *id, const cf_flow_pkt *pkts, uint32_t n,
                                int first, int last, uint32_t *tag);

typedef struct cf_flow_table cf_flow_table;

int cf_flow_table_open(const cf_flow_opts *o, cf_flow_piece_fn piece, void *user, cf_flow_table **out,
                       char *errbuf);
int cf_flow_table_add(cf_flow_table *t, const cf_pkt *p);
/* The same for n packets in order (their hash lookups overlap). */
int cf_flow_table_add_batch(cf_flow_table *t, const cf_pkt *pkts, size_t n);
int cf_flow_table_finish(cf_flow_table *t);
uint32_t cf_flow_table_live(const cf_flow_table *t);
const cf_flow_counters *cf_flow_table_counters(const cf_flow_table *t);
void cf_flow_table_close(cf_flow_table *t);

#endif
