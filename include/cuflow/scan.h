/*
 * Scanning a capture: read -> (BPF filter) -> decode -> batch -> backend
 * summary. This is the whole data path of `cuflow info`, and the front
 * half of every later command.
 */
#ifndef CUFLOW_SCAN_H
#define CUFLOW_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include "cuflow/status.h"
#include "cuflow/reader.h"
#include "cuflow/decode.h"
#include "cuflow/backend.h"
#include "cuflow/summary.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A BPF filter in tcpdump syntax, compiled by libpcap once per link type
 * it meets and applied with pcap_offline_filter. */
typedef struct cf_filter cf_filter;

/* Checks that `expr` compiles (for Ethernet) and returns a filter.
 * CF_OK, or CF_ERR_FILTER with libpcap's message in errbuf. */
int cf_filter_open(const char *expr, cf_filter **out, char *errbuf);
/* 1 when the frame passes, 0 when it does not. A link type for which the
 * expression does not compile rejects every frame (counted as filtered). */
int cf_filter_match(cf_filter *f, const cf_frame *frame);
void cf_filter_close(cf_filter *f);

/* Decoded packets as the backends read them (a structure of arrays),
 * reused across files: one allocation per run, pinned host memory when
 * the backend is CUDA. Opaque. */
typedef struct cf_pkt_batch cf_pkt_batch;
/* CF_OK, CF_ERR_ARG (capacity 0 or over 2^32) or CF_ERR_NOMEM. */
int cf_pkt_batch_create(cf_pkt_batch **out, size_t capacity, const cf_backend *backend);
void cf_pkt_batch_destroy(cf_pkt_batch *b);

/* Called from cf_scan_file about every 64 Ki packets. */
typedef void (*cf_progress_fn)(void *user, uint64_t bytes_done, uint64_t bytes_total,
                               uint64_t packets_done);

typedef struct cf_scan_opts {
	cf_decode_opts decode;
	cf_filter *filter;        /* borrowed; NULL for none */
	cf_backend *backend;      /* borrowed; must be set */
	cf_pkt_batch *batch;      /* borrowed, reused across files (cf_pkt_batch_create once
	                             per run); NULL: cf_scan_file allocates one for the file */
	cf_progress_fn progress;  /* NULL for none */
	void *progress_user;
	/* Called with every frame's record (decoded, skipped or filtered),
	 * in capture order; a negative return stops the file with that status.
	 * NULL for none. The flow table hooks in here (cf_flow_scan_file). */
	int (*on_packet)(void *user, const cf_pkt *p);
	void *on_packet_user;
	/* The same hook for runs of up to 32 records at a time (in capture
	 * order, sharing on_packet_user), for consumers that overlap work
	 * across packets; used instead of on_packet when set. A negative
	 * return stops the file (the run's records are all counted in the
	 * summary). */
	int (*on_packets)(void *user, const cf_pkt *p, size_t n);
	/* 1: on_packets runs in a second thread, on runs of up to 4096 records,
	 * overlapped with reading and decoding (files of 16 MB and more; the
	 * same records in the same order, and the hook is done with the file
	 * when cf_scan_file returns). The hook's state must then be its own:
	 * nothing else may touch it during the scan. 0 (default): inline. */
	int hook_thread;
	/* Called with each frame's bytes (caplen of them) right after its
	 * record is decoded, before the record reaches on_packet(s): records
	 * and frames come in the same order, one call per frame read (skipped
	 * and filtered ones too). For consumers of payloads (DNS, DHCP). Set,
	 * it reads frame by frame and runs the hooks inline (no hook_thread).
	 * A negative return stops the file. NULL: none. */
	int (*on_frame)(void *user, const cf_pkt *p, const uint8_t *frame);
	/* 0 (default): the scan adds up the summary on the host as it
	 * batches (a few additions per packet; nothing is copied to a
	 * device for it); 1: the backend computes it (`cuflow info`: the
	 * CUDA backend's summary is what it checks). The same bits. */
	int summary_on_backend;
} cf_scan_opts;

typedef struct cf_scan_result {
	int status;               /* CF_OK, or the error that stopped the file */
	char error[CF_ERRBUF_SIZE]; /* message naming the file and byte offset */
	int64_t error_offset;     /* -1 when none */
	cf_reader_info info;      /* format facts (valid when the file opened) */
	int opened;               /* 1 when the header was read */
	cf_summary summary;       /* every frame read, decoded or skipped */
} cf_scan_result;

/* Scans one capture. Frames read before damage are kept in the summary.
 * Returns res->status. */
int cf_scan_file(const char *path, const cf_scan_opts *opts, cf_scan_result *res);

#ifdef __cplusplus
}
#endif

#endif
