/*
 * Windowed traffic aggregates (seed 001; semantics in docs/windows.md):
 * entries (one per packet, per flow or per row of an entries CSV) are cut
 * into windows of T, and every window becomes one row of volumetric
 * counts, per-state counts and distributions of group sizes (by
 * connection, flow, source IP, destination IP, destination port), the
 * features port-scan and DoS detectors are fed.
 *
 *   cf_windows *w;
 *   cf_windows_create(&opts, backend, &w, errbuf);
 *   cf_windows_set_emit(w, my_emit, user);      // rows, as column batches
 *   cf_windows_add_packets(w, pkts, n) ...      // or cf_windows_add(entries)
 *   cf_windows_finish(w);                       // closes the open windows
 *   cf_windows_free(w);
 *
 * Rows come out in window order through emit, as batches of the table
 * cf_windows_schema() describes. Memory is bounded by the entries of the
 * open windows (and, for packets, by the flows seen within the idle
 * timeout), not by the input.
 */
#ifndef CUFLOW_WINDOWS_H
#define CUFLOW_WINDOWS_H

#include <stddef.h>
#include <stdint.h>

#include "cuflow/status.h"
#include "cuflow/packet.h"
#include "cuflow/table.h"
#include "cuflow/flow.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cf_backend;

/* The conntrack-like state of an entry, in the seed's order. */
enum cf_window_state {
	CF_WSTATE_CLOSED = 0,
	CF_WSTATE_ESTABLISHED,
	CF_WSTATE_RESET,
	CF_WSTATE_NEW,
	CF_WSTATE_CLOSING,
	CF_WSTATE_CONNECTING,
	CF_WSTATE_COUNT
};
/* "closed", "established", ... or NULL. */
const char *cf_window_state_name(int state);
/* The state named by the n bytes at s, or -1. */
int cf_window_state_parse(const char *s, size_t n);

/* Times an entry may have (|ts_ns| <= this: 1824 to 2115, every classic
 * pcap time) and the longest window, step and lateness, so that no window
 * bound overflows. Packets and flows outside are counted (bad_time). */
#define CF_WINDOWS_TS_MAX 4600000000000000000ll
#define CF_WINDOWS_SPAN_MAX 1000000000000000000ll

enum cf_windows_batching {
	CF_WINDOWS_TUMBLING = 0, /* [k*T, (k+1)*T) from the Unix epoch (sliding with step_ns) */
	CF_WINDOWS_SEED = 1      /* the notebook's rule: input order, a batch closes after an
	                            entry whose whole second is a multiple of T */
};

typedef struct cf_windows_opts {
	int64_t window_ns;       /* T > 0 (seed batching: a whole number of seconds) */
	int64_t step_ns;         /* 0: tumbling; else sliding windows [j*S, j*S + T), 0 < S <= T */
	int batching;            /* enum cf_windows_batching */
	int distinct;            /* add the distinct_A_per_G_* columns */
	int empty;               /* also write the empty windows between two non-empty ones */
	int64_t lateness_ns;     /* a window stays open this long after its end for entries
	                            that arrive out of order (default 1 s); older ones are
	                            counted (late_entries) and dropped */
	int64_t idle_timeout_ns; /* packets: a flow's state is forgotten after this idle time
	                            (default 120 s) */
	uint32_t batch_windows;  /* closed windows handed to the backend at once (default 256) */
	int label_column;        /* add a string column `label` (cf_windows_set_label) */
} cf_windows_opts;

void cf_windows_opts_default(cf_windows_opts *o);

/* One entry. Addresses in network order, IPv4 in the first 4 bytes. */
typedef struct cf_window_entry {
	int64_t ts_ns;
	uint8_t ip_version;  /* 4 or 6 (of src_ip, and of dst_ip unless dst_ip_version says) */
	uint8_t proto;       /* IP protocol number */
	uint8_t state;       /* enum cf_window_state */
	uint8_t dst_ip_version; /* 0: as ip_version; else 4 or 6 (CSV entries may mix them) */
	uint16_t src_port, dst_port;
	uint8_t src_ip[16], dst_ip[16];
	uint64_t bytes_up, bytes_down;
} cf_window_entry;

typedef struct cf_windows cf_windows;

/* What a run did and did not use. */
typedef struct cf_windows_counters {
	uint64_t entries;        /* entries taken into windows */
	uint64_t late_entries;   /* older than a closed window: dropped */
	uint64_t tail_entries;   /* seed batching: after the last close, discarded as the notebook does */
	uint64_t not_ip;         /* packets without an IP 5-tuple (skip reasons) */
	uint64_t bad_time;       /* packets or flows with |ts| > CF_WINDOWS_TS_MAX: not used */
	uint64_t rows;           /* windows written (empty ones included) */
	uint64_t flows;          /* packets: flows whose state was tracked */
} cf_windows_counters;

/* backend: where the rows are computed (NULL: the CPU reference). CF_OK
 * with *out set, or CF_ERR_ARG / CF_ERR_NOMEM with errbuf. */
int cf_windows_create(const cf_windows_opts *o, struct cf_backend *backend, cf_windows **out, char *errbuf);
/* The rows' table: flow_batch, window_start_ns (not with seed batching),
 * the seed's columns in its order, bytes_up, bytes_down, then with
 * `distinct` the distinct_* columns. */
const cf_table_schema *cf_windows_schema(const cf_windows *w);
/* Where rows go; the batch is only read during the call; a negative
 * return stops the run with that status. */
void cf_windows_set_emit(cf_windows *w, int (*emit)(void *user, const cf_table_batch *b), void *user);
/* Sees every entry as it arrives (before windowing; late ones too), e.g.
 * to write them out for an independent implementation to check. A
 * negative return stops the run with that status. NULL: none. */
void cf_windows_set_entry_hook(cf_windows *w, int (*fn)(void *user, const cf_window_entry *e), void *user);
int cf_windows_add(cf_windows *w, const cf_window_entry *e, size_t n);
/* Packets of a capture, in capture order: one entry per TCP/UDP/ICMP/other
 * IP packet, oriented as its flow (src = the side that sent the first
 * packet), state after the packet. Packets without a 5-tuple are counted. */
int cf_windows_add_packets(cf_windows *w, const cf_pkt *p, size_t n);
/* A finished flow (cuflow/flow.h) as one entry: ts = its first packet,
 * src/dst as the record orients them, bytes per direction, state from its
 * end: fin -> closed, rst -> reset, otherwise established when both
 * directions had packets, else new. Flows end after they start, so their
 * entries arrive late: give lateness_ns the flow timeouts (idle + active)
 * or entries of long flows are counted late and dropped. */
int cf_windows_add_flow(cf_windows *w, const cf_flow_record *r);
/* Entries from a CSV (docs/windows.md): a bad row stops with the file
 * name and line. */
int cf_windows_add_csv(cf_windows *w, const char *path);
/* End of input: closes every open window and writes its row. */
int cf_windows_finish(cf_windows *w);
/* Forgets every window, flow and counter (a new input), keeping memory
 * and flow_batch numbering restarts at 0. */
void cf_windows_reset(cf_windows *w);
/* Columns of the rows as time series in an 800 x 500 PNG (libpng and a
 * built-in bitmap font: no font library needed): n_series series of
 * n_points values (NaN = no point), point k at time x_ns[k] with UTC
 * times on the x axis, or at 1..n_points when x_ns is NULL. CF_OK, or
 * CF_ERR_ARG / CF_ERR_IO / CF_ERR_NOMEM with errbuf naming the path. */
int cf_windows_plot_png(const char *path, const char *title, const char *xlabel, int n_series,
                        const char *const *names, const double *const *values, int n_points, const int64_t *x_ns,
                        char *errbuf);
/* With label_column: the label of the rows written from now on (copied,
 * at most 255 bytes; "" until set). Set it between inputs, after
 * cf_windows_finish or cf_windows_reset, so that no window is shared. */
int cf_windows_set_label(cf_windows *w, const char *label);
void cf_windows_get_counters(const cf_windows *w, cf_windows_counters *c);
const char *cf_windows_error(const cf_windows *w);
void cf_windows_free(cf_windows *w);

#ifdef __cplusplus
}
#endif

#endif
