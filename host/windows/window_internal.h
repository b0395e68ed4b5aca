/* Internal to host/windows/: the engine's state. */
#ifndef CUFLOW_WINDOWS_WINDOW_INTERNAL_H
#define CUFLOW_WINDOWS_WINDOW_INTERNAL_H

#include "cuflow/windows.h"
#include "cuflow/window_batch.h"
#include "window_map.h"

#define WIN_POOL_MAX 64
#define WIN_ROWS_CHUNK 1024

/* Entry columns as dense ids (a window's, or the closed windows' batch). */
typedef struct wcols {
	uint32_t *src_id, *dst_id, *conn_id;
	uint16_t *sport, *dport;
	uint8_t *state;
	uint64_t cap;
} wcols;

/* One open window: its entries as dense ids, and the maps that made them. */
typedef struct wacc {
	int64_t k;              /* window index (seed batching: batch number) */
	uint32_t serial;        /* unique among live windows, never 0: flows cache ids by it */
	uint64_t n;
	wcols c;
	uint64_t bytes_up, bytes_down;
	wmap ips, conns, flows;
} wacc;

/* A flow's ids in the window it last went to. */
typedef struct wflow_ids {
	uint32_t serial;        /* 0: none */
	uint32_t src_id, dst_id, conn_id;
} wflow_ids;

struct wflows; /* window_flows.c */

struct cf_windows {
	cf_windows_opts o;
	struct cf_backend *backend;
	int64_t T_s;
	/* open windows, ascending k */
	wacc **open;
	uint32_t n_open, open_cap;
	wacc *pool[WIN_POOL_MAX];
	uint32_t n_pool;
	uint32_t serial;
	int64_t closed_below;   /* windows below this index are closed */
	int64_t max_ts;
	int64_t close_check;    /* max_ts from which the next window may close */
	int64_t cur_lo, cur_hi, cur_jlo, cur_jhi; /* [lo, hi): times in windows jlo..jhi */
	int any_ts;
	int64_t seed_k;
	/* closed windows waiting for the backend */
	uint32_t n_closed;
	uint64_t b_entries;
	uint64_t *b_off;
	uint32_t *b_nip, *b_nconn, *b_nflow;
	wcols b;
	int64_t *b_k;
	uint64_t *b_bytes;
	cf_window_row *b_rows;
	/* rows out (window_table.c) */
	cf_table_schema *schema;
	cf_table_batch tb;
	void *cols[160];
	uint8_t *validity;
	char label[256];
	int32_t *label_off;     /* WIN_ROWS_CHUNK + 1 */
	uint8_t *label_data;    /* the label once per row */
	uint32_t n_rows;        /* rows buffered in the column arrays */
	int64_t next_row;       /* flow_batch of the next row */
	int64_t last_k;
	int have_last_k;
	int (*emit)(void *user, const cf_table_batch *b);
	void *emit_user;
	int (*on_entry)(void *user, const cf_window_entry *e);
	void *on_entry_user;
	/* packets (window_flows.c) */
	struct wflows *flows;
	uint64_t flows_seen;
	cf_windows_counters c;
	char err[CF_ERRBUF_SIZE];
};

int cf_windows_add_one(cf_windows *w, const cf_window_entry *e, wflow_ids *cache);
/* window_table.c */
int cf_windows_table_init(cf_windows *w, char *errbuf);
void cf_windows_table_free(cf_windows *w);
int cf_windows_put_row(cf_windows *w, int64_t k, const cf_window_row *r, uint64_t up, uint64_t down);
int cf_windows_flush_rows(cf_windows *w);
/* window_flows.c */
void cf_windows_flows_reset(cf_windows *w);
void cf_windows_flows_free(cf_windows *w);
/* Forgets every flow's cached window ids (the serials wrapped). */
void cf_windows_flows_forget_ids(cf_windows *w);

#endif
