/*
 * Library-internal: a batch of closed windows (seed 001's batches) as the
 * backends see it (cf_backend_window_rows). The host has already turned
 * every entry into small dense ids *within its window* (addresses, the
 * (dst_ip, src_ip) connection, the 5-tuple flow), so a window's rows are
 * integer group-bys over ids and ports:
 *   entries of window w: [offsets[w], offsets[w + 1]) of the entry columns;
 *   src_id, dst_id < n_ip[w]   (one id space for both sides),
 *   conn_id        < n_conn[w] (count_conns = n_conn, count_flows = n_flow).
 * Limits the host keeps so that the GPU's sort keys fit in 64 bits:
 * n_windows <= CF_WINDOW_BATCH_MAX_WINDOWS, total entries < 2^32.
 * The backend fills rows[w] for every window; the finishing math is in
 * kernels/window_stats.h.
 */
#ifndef CUFLOW_WINDOW_BATCH_H
#define CUFLOW_WINDOW_BATCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CF_WINDOW_STATES 6        /* closed, established, reset, new, closing, connecting */
#define CF_WINDOW_BATCH_MAX_WINDOWS 65536u

/* The distributions of a row: four of group sizes (entries per group, the
 * notebook's count()) and, with `distinct`, seven of distinct values per
 * group (nunique()). */
enum cf_window_dist_kind {
	CF_WDIST_CONN = 0,         /* entries per (dst_ip, src_ip) */
	CF_WDIST_DST_IP,           /* entries per dst_ip */
	CF_WDIST_SRC_IP,           /* entries per src_ip */
	CF_WDIST_DST_PORT,         /* entries per dst_port */
	CF_WDIST_U_DPORT_PER_CONN, /* distinct dst_port per conn */
	CF_WDIST_U_DPORT_PER_DST,  /* distinct dst_port per dst_ip */
	CF_WDIST_U_SRC_PER_DST,    /* distinct src_ip per dst_ip */
	CF_WDIST_U_DPORT_PER_SRC,  /* distinct dst_port per src_ip */
	CF_WDIST_U_DST_PER_SRC,    /* distinct dst_ip per src_ip */
	CF_WDIST_U_DST_PER_DPORT,  /* distinct dst_ip per dst_port */
	CF_WDIST_U_SRC_PER_DPORT,  /* distinct src_ip per dst_port */
	CF_WDIST_COUNT
};
#define CF_WDIST_BASE 4

typedef struct cf_window_dist {
	int64_t max;   /* -1 when the window has no group */
	double mean, p25, p50, p75, p90;
} cf_window_dist;

typedef struct cf_window_row {
	int64_t num_entries;
	int64_t count_dst_port, count_src_port, count_dst_ip, count_src_ip;
	int64_t num_state[CF_WINDOW_STATES];
	int64_t count_conns, count_flows;
	cf_window_dist dist[CF_WDIST_COUNT]; /* the distinct ones only with `distinct` */
} cf_window_row;

typedef struct cf_window_batch {
	uint32_t n_windows;
	int distinct;                /* compute dist[CF_WDIST_BASE ..] too */
	const uint64_t *offsets;     /* n_windows + 1 */
	const uint32_t *n_ip, *n_conn, *n_flow; /* per window */
	const uint32_t *src_id, *dst_id, *conn_id; /* per entry */
	const uint16_t *sport, *dport;
	const uint8_t *state;        /* enum cf_window_state */
	cf_window_row *rows;         /* n_windows, written by the backend */
} cf_window_batch;

/* The CPU reference (host/windows/window_rows.c): counting over the dense
 * ids, sorted pair keys for the distinct counts. CF_OK or CF_ERR_NOMEM. */
int cf_window_rows_cpu(cf_window_batch *b);

#ifdef __cplusplus
}
#endif

#endif
