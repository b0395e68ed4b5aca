/*
 * The flow engine: decoded packets in, finished flows with their
 * statistics and early-packet sequences out.
 *
 * Key. A flow is keyed by (IP version, the two endpoints (address, port),
 * IP protocol, first VLAN id, tunnel id), with the endpoints in canonical
 * order (lower address, then lower port, first) so both directions find
 * the same flow. ICMP and ICMPv6 are keyed by type and code as well; echo
 * request and reply are normalised to one type (8 / 128) and use the echo
 * identifier as both ports, so a ping and its answer share a flow; other
 * ICMP types have ports 0.
 *
 * Direction. The source (src2dst) is the sender of the flow's first
 * packet, except that a TCP flow whose first packet is a SYN-ACK gets its
 * receiver as source (the SYN was missed): orientation CF_ORIENT_CLIENT,
 * the default. CF_ORIENT_FIRST_PACKET (NFStream's rule) always takes the
 * first packet's sender.
 *
 * Time. Expiry runs on packet time, never on the wall clock. The table
 * keeps a clock that only moves forward: a packet older than the newest
 * one seen is treated as arriving at the clock's time (counted in
 * time_backwards), for expiry AND for the statistics, so durations and
 * inter-arrival times are never negative. A jump forward (even by years)
 * simply expires every flow idle at that packet.
 *
 * Expiry (checked before each packet is placed; a flow that expires is
 * emitted at once):
 *  - idle: clock - last packet >= idle timeout (NFStream's rule);
 *  - active: clock - first packet >= active timeout;
 *  - TCP termination (tcp_end on): a RST, or a FIN from each side, puts
 *    the flow into a closing state. Packets of the same key that arrive
 *    within tcp_linger of the close (the last ACK of the handshake,
 *    retransmitted FINs, RSTs answering the close) still join it; a pure
 *    SYN (new connection, port reuse) ends it at once and starts a new
 *    flow. The closing flow ends with reason fin or rst when the linger
 *    has passed (clock - close time >= tcp_linger) or at a new SYN. So the
 *    teardown's trailing ACK never becomes a separate artefact flow (the
 *    CICFlowMeter defect); a stray packet of that key arriving after the
 *    flow has ended starts a new flow, as any first packet does.
 *    tcp_linger = 0 ends the flow at the closing packet itself.
 *  - eviction: a new flow when max_flows are live first ends the least
 *    recently active flow with reason evicted (counted); see also the
 *    waiting reserve below;
 *  - end of input (cf_flow_engine_finish): every live flow; a closing one
 *    keeps its fin/rst reason.
 * Each rule pops the old end of a list ordered by time (last activity,
 * start, close), so no packet scans the table.
 *
 * Output order: flow ids count up from 1 in order of creation, which is
 * the order of first packets (the clock is monotonic). By default
 * (end_order) each flow is emitted the moment it ends, flows ended by the
 * same packet or at end of input in id order, and nothing waits. With
 * end_order = 0 records are emitted in id order instead: a flow that ends
 * while an older one is still live waits (in its slot) until every older
 * flow has ended, so rows are sorted by (first packet time, id) and still
 * streamed, at the price of the reserve below.
 *
 * Memory: the slots (max_flows live flows plus a reserve of
 * max_flows / 8 + 16 for ended flows waiting behind an older live one),
 * the hash buckets, the lists, the packet pool and the batches are
 * allocated once by cf_flow_engine_open; nothing is allocated per packet
 * (a split flow's size histogram grows with its distinct sizes). When the reserve is full, the oldest
 * live flow is ended early with reason evicted (counted), which releases
 * the flows waiting behind it.
 */
#ifndef CUFLOW_FLOW_H
#define CUFLOW_FLOW_H

#include <stdint.h>
#include "cuflow/packet.h"
#include "cuflow/flow_stats.h"
#include "cuflow/scan.h"
#include "cuflow/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

enum cf_flow_end {
	CF_FLOW_END_IDLE = 0,
	CF_FLOW_END_ACTIVE,
	CF_FLOW_END_FIN,
	CF_FLOW_END_RST,
	CF_FLOW_END_EVICTED,
	CF_FLOW_END_EOF,       /* "end_of_input" */
	CF_FLOW_END_COUNT
};

/* Stable names: "idle", "active", "fin", "rst", "evicted", "end_of_input". */
const char *cf_flow_end_name(int reason);

/* Which length of a packet the statistics count. */
enum cf_flow_size {
	CF_SIZE_WIRE = 0,   /* original frame length (default) */
	CF_SIZE_CAPTURED,   /* bytes captured */
	CF_SIZE_IP,         /* IP total length (inner packet of a tunnel) */
	CF_SIZE_TRANSPORT,  /* IP length minus the IP header(s) */
	CF_SIZE_PAYLOAD     /* transport payload */
};
/* "wire", "captured", "ip", "transport", "payload" -> mode. CF_OK or CF_ERR_ARG. */
int cf_flow_size_parse(const char *name, int *mode);

/* Which endpoint of a bidirectional flow is its source. */
enum cf_flow_orientation {
	CF_ORIENT_CLIENT = 0,      /* first packet's sender, or the receiver of a first SYN-ACK (default) */
	CF_ORIENT_FIRST_PACKET = 1 /* the first packet's sender, always (NFStream) */
};

/* Compatibility with another tool's flow table where its rules are
 * quirks cuflow does not follow by default (docs/capture-differences.md). */
enum cf_flow_compat {
	CF_COMPAT_NONE = 0,
	/* NFStream's: wire sizes kept to 16 bits (its packet size is a uint16:
	 * hdr.len mod 65536); a TCP/UDP packet whose IP length leaves less
	 * than the fixed transport header (CF_PKT_SHORT_L4) keyed with ports 0 */
	CF_COMPAT_NFSTREAM = 1
};

/* A wire length above this (the largest record cuflow reads, 32 MiB) is no
 * frame's: with CF_COMPAT_NONE the packet counts the length its headers
 * imply instead (the IP header's end of datagram, at least the captured
 * length), counted in cf_flow_counters.bad_wirelen. */
#define CF_FLOW_MAX_WIRELEN (32u << 20)

typedef struct cf_flow_opts {
	int64_t idle_timeout_ns;    /* default 120 s; <= 0: no idle expiry */
	int64_t active_timeout_ns;  /* default 1800 s; <= 0: no active expiry */
	int64_t tcp_linger_ns;      /* default 2 s, see above */
	int tcp_end;                /* 1 (default): FIN/FIN and RST end TCP flows */
	int unidirectional;         /* 1: each direction is its own flow (netml/FlowPic
	                               style): no canonical key, no SYN-ACK flip,
	                               echo request and reply apart, and one FIN (or a
	                               RST) closes the flow; 0 (default): bidirectional */
	int size_mode;              /* enum cf_flow_size, default CF_SIZE_WIRE */
	int orientation;            /* enum cf_flow_orientation, default CF_ORIENT_CLIENT */
	int compat;                 /* enum cf_flow_compat, default CF_COMPAT_NONE */
	int end_order;              /* 1 (default): emit each flow as it ends (no waiting,
	                               no reserve evictions); 0: emit in id order */
	uint32_t max_flows;         /* live flows, default 1 Mi (slots are touched
	                               only as used) */
	uint32_t seq_len;           /* early-packet sequence length, default 30, 0..1024 */
	uint32_t piece_packets;     /* per-flow cap on stored packets, default 4096: a
	                               longer flow is processed in pieces that merge
	                               exactly (flow_stats.h) */
	uint64_t pool_packets;      /* packets stored for all live flows together,
	                               default 4 Mi (about 100 MB); when the pool is
	                               full the least recently active flows hand their
	                               packets to the backend early (same results) */
	uint32_t batch_flows;       /* pieces per backend batch, default 16 Ki */
	uint32_t batch_packets;     /* packets per backend batch, default 512 Ki (about
	                               12 MB: the CPU backend runs faster on batches that
	                               stay in cache than on 4 Mi, and two threads need
	                               many batches to overlap) */
	uint32_t threads;           /* 0 or 1 (default): the backend and the emit callback
	                               run inside cf_flow_engine_add/finish; 2: in a second
	                               thread, on one batch while the caller fills the next
	                               (two batches in memory; the same records in the same
	                               order; emit is then called from that thread, and
	                               never after cf_flow_engine_finish returns); with
	                               the CPU backend the caller's thread also computes
	                               pieces of queued batches instead of waiting. More
	                               than 2 means 2 here; a third thread for flow
	                               tracking is the scan's (cf_scan_opts.hook_thread:
	                               cf_flow_engine_add_batch is then called from it) */
	uint32_t ip_ids;            /* 0 (default) or 1..1024: each record also gets, per
	                               direction, the minimum TTL / hop limit and the IP
	                               ids of that direction's first ip_ids packets (Joy's
	                               `ip` object; gathered on the host as pieces pass) */
} cf_flow_opts;

void cf_flow_opts_default(cf_flow_opts *o);

/* A finished flow, as handed to the emit callback. The sequence arrays
 * are borrowed for the call. */
typedef struct cf_flow_record {
	uint64_t id;             /* 1, 2, ... in order of creation */
	uint8_t ip_version;      /* 4 or 6 */
	uint8_t proto;
	uint8_t end_reason;      /* enum cf_flow_end */
	uint8_t icmp_type;       /* key type for ICMP (echo normalised to 8 / 128), else 0 */
	uint8_t icmp_code;
	uint16_t vlan_id;        /* first VLAN id, 0 without VLAN */
	uint32_t tunnel_id;
	uint16_t src_port, dst_port; /* ICMP echo: the identifier in both */
	uint8_t src_ip[16], dst_ip[16]; /* network order; IPv4 in the first 4 bytes */
	cf_flow_stats bidir, src2dst, dst2src;
	/* The first seq_n (<= opts.seq_len) packets: size (per the size
	 * mode), time since the flow's previous packet in ns (0 for the
	 * first), direction +1 (src2dst) or -1 (dst2src). */
	uint32_t seq_n;
	const uint32_t *seq_size;
	const int64_t *seq_iat_ns;
	const int8_t *seq_dir;
	/* With opts.ip_ids > 0, per direction [0] src2dst, [1] dst2src: the
	 * smallest TTL / hop limit (255 when the direction has no packet) and
	 * the low 16 bits of the IP id of its first ip_id_n (<= ip_ids)
	 * packets, in arrival order (IPv6: the fragment id, usually 0).
	 * Zero counts and NULL ids otherwise. */
	uint8_t ttl_min[2];
	uint32_t ip_id_n[2];
	const uint16_t *ip_ids[2];
} cf_flow_record;

/* Receives each finished flow; the record is borrowed for the call. A
 * negative return stops: the engine call in progress returns it. */
typedef int (*cf_flow_emit_fn)(void *user, const cf_flow_record *rec);

typedef struct cf_flow_counters {
	uint64_t packets;            /* packets offered to the table */
	uint64_t packets_used;       /* with skip == CF_SKIP_NONE: placed in a flow */
	uint64_t skipped[CF_SKIP_COUNT]; /* offered packets per skip reason ([0] unused) */
	uint64_t time_backwards;     /* used packets older than the clock (clamped) */
	uint64_t bad_wirelen;        /* used packets whose wire length exceeded
	                                CF_FLOW_MAX_WIRELEN (size mode wire) */
	uint64_t flows;              /* flows created */
	uint64_t ended[CF_FLOW_END_COUNT]; /* flows emitted per end reason */
	uint64_t evictions;          /* = ended[CF_FLOW_END_EVICTED] */
	uint64_t max_live;           /* high-water mark of live flows */
	uint64_t pieces;             /* pieces sent to the backend */
	uint64_t split_flows;        /* flows sent in more than one piece */
	uint64_t pool_flushes;       /* times the packet pool ran dry */
	uint64_t batches;            /* backend batches */
} cf_flow_counters;

/*
 * The flow engine: the flow table plus the batch path. Finished flows
 * (and pieces of long ones) are appended to a batch (CSR offsets +
 * packet columns, pinned memory with the CUDA backend); the backend
 * computes per-flow statistics and sequences for the whole batch; the
 * engine merges the pieces of split flows and emits records in the
 * table's output order. Everything is allocated at open.
 */
typedef struct cf_flow_engine cf_flow_engine;

/* opts NULL: defaults. backend: borrowed, required. emit: required.
 * CF_OK, CF_ERR_ARG or CF_ERR_NOMEM (message in errbuf). */
int cf_flow_engine_open(const cf_flow_opts *opts, cf_backend *backend, cf_flow_emit_fn emit, void *user,
                        cf_flow_engine **out, char *errbuf);

/* Offers one decoded packet. Packets with skip != CF_SKIP_NONE are only
 * counted. May emit finished flows. CF_OK or a negative status (an emit
 * callback's, or CF_ERR_DEVICE from the backend; see cf_flow_engine_error). */
int cf_flow_engine_add(cf_flow_engine *e, const cf_pkt *p);
/* The same for n packets in order; faster (their table lookups overlap). */
int cf_flow_engine_add_batch(cf_flow_engine *e, const cf_pkt *p, size_t n);

/* End of input: ends every live flow (reason end_of_input unless it was
 * closing), computes and emits everything pending, and resets the clock
 * so the engine can take an unrelated capture next. Flow ids keep
 * counting. */
int cf_flow_engine_finish(cf_flow_engine *e);

uint32_t cf_flow_engine_live(const cf_flow_engine *e);
const cf_flow_counters *cf_flow_engine_counters(const cf_flow_engine *e);
const char *cf_flow_engine_error(const cf_flow_engine *e);
void cf_flow_engine_close(cf_flow_engine *e);

/* Like cf_scan_file (read -> filter -> decode -> backend summary into
 * res->summary), and every packet, decoded or skipped, is offered to the
 * engine. Does not call cf_flow_engine_finish. Returns res->status (the
 * reader's damage status, or an emit/backend error). */
int cf_flow_scan_file(const char *path, const cf_scan_opts *opts, cf_flow_engine *e, cf_scan_result *res);

#ifdef __cplusplus
}
#endif

#endif
