/*
 * Joy 4.5.0's records exactly as Joy writes them (`cuflow flows --joy-compat`).
 *
 * Cisco Joy's flow records (`joy bidir=1`, every other setting at its
 * default) are the input format of models trained on Joy archives (seed
 * 003). cuflow's own JSON lines (cuflow/flow_text.h) keep cuflow's exact
 * flow semantics; this tracker reproduces Joy's instead, quirks included:
 * its filter ("ip or ip6 or vlan") and its expiry check after every 10
 * packets that pass it, 10 s idle / 30 s active timeouts measured over
 * both directions, its client rule (TLS/HTTP keywords, then SYN, then the
 * earlier side; a DNS query marks the querier as the server), time_end of
 * the first-seen side, one-sided records without the "in" keys, TCP
 * retransmissions left out, 16-bit byte and 8-bit packet counters, IPv6
 * extension headers counted as 8-byte payload, ICMP per host pair,
 * fragments as protocol 0, truncated packets counting captured bytes, the
 * tcp, probable_os and debug objects, and Joy's key order. docs/flows.md
 * ("Joy 4.5.0 exactly") lists the rules; tests hold them against Joy's
 * own output (../shared/data/joy/reference) and hand-built captures.
 *
 * Like Joy it reads Ethernet framing whatever the link type says. CPU
 * only: a record per flow, written as text through a callback.
 */
#ifndef CUFLOW_JOY_H
#define CUFLOW_JOY_H

#include <stddef.h>
#include <stdint.h>
#include "cuflow/status.h"
#include "cuflow/reader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_joy cf_joy;

/* Receives whole lines (each ends with '\n'); a negative return stops the
 * tracker (cf_joy_frame/cf_joy_end then return CF_ERR_IO). */
typedef int (*cf_joy_write_fn)(void *user, const char *text, size_t len);

/* CF_OK, CF_ERR_NOMEM or CF_ERR_FILTER (libpcap could not compile Joy's
 * filter), message in errbuf. */
int cf_joy_open(cf_joy_write_fn write, void *user, cf_joy **out, char *errbuf);
/* One frame, in capture order. Frames Joy's filter rejects are ignored;
 * after every 10th frame that passes it, expired records are written. */
int cf_joy_frame(cf_joy *j, const cf_frame *frame);
/* End of the capture: every remaining record is written (Joy's end of
 * file), and the tracker is empty again for the next capture. */
int cf_joy_end(cf_joy *j);
/* Reads a capture through the tracker (cf_reader) and ends it. CF_OK, or
 * the reader's status with its message (file and byte offset) in errbuf;
 * the records of the frames read before damage are written. */
int cf_joy_scan_file(cf_joy *j, const char *path, uint64_t *frames, char *errbuf);
/* Records written so far. */
uint64_t cf_joy_records(const cf_joy *j);
void cf_joy_close(cf_joy *j);

/* Joy's configuration line (its first line: bidir 1, num_pkts 50, ...)
 * with `output` and cuflow's version; '\n'-terminated, in buf (size cap).
 * Returns the length, or what it would have been when cap is too small. */
size_t cf_joy_config_line(char *buf, size_t cap, const char *output);

/* ------------------------------------------------------------ reading */

/* Reading Joy records (Joy's own files, plain or gzip, cuflow's JSON lines
 * of either kind, or a capture run through the tracker above): the fields
 * a model trained on Joy archives takes. The configuration line (a line
 * with "end-config") is skipped; keys not listed here (tcp, probable_os,
 * debug, cuflow's own) are skipped. */
typedef struct cf_joy_packet {
	uint32_t b;   /* payload bytes ("rep" entries: 65536 - rep, as Joy stored them) */
	int8_t dir;   /* +1 ">" (sa to da), -1 "<" */
	uint32_t ipt; /* milliseconds, as written (Joy's wrap included) */
} cf_joy_packet;

typedef struct cf_joy_flow {
	char sa[48], da[48];
	uint8_t pr;
	int32_t sp, dp;              /* -1 for null */
	uint64_t bytes_out, num_pkts_out, bytes_in, num_pkts_in;
	int has_in;                  /* 0: one-sided (Joy omits bytes_in/num_pkts_in) */
	int64_t time_start_ns, time_end_ns; /* the decimal seconds as written, exactly */
	char expire_type;            /* 'i', 'a', or 0 when absent */
	size_t npackets;
	const cf_joy_packet *packets; /* the reader's; valid until the next call */
	uint64_t line;               /* line number in the file; from a capture,
	                                the record's ordinal (1-based) */
	/* "ip":{"out":{"ttl":N,"id":[...]},"in":{...}}: either side or the
	 * whole object may be absent, and "id" too (IPv6) */
	int ttl_out, ttl_in;         /* ip.out.ttl / ip.in.ttl (0..255); -1 when absent */
	size_t n_ids_out, n_ids_in;  /* ip.out.id / ip.in.id list lengths */
	const uint16_t *ids_out, *ids_in; /* the reader's; valid until the next call */
	/* A top-level "label" string (cuflow's labelled JSON lines), JSON
	 * escapes decoded; NULL when absent (or null). The reader's; valid
	 * until the next call. */
	const char *label;
} cf_joy_flow;

typedef struct cf_joy_reader cf_joy_reader;

/* A Joy file ("-": standard input). CF_OK; CF_ERR_IO (cannot open) or
 * CF_ERR_NOMEM, message in errbuf. */
int cf_joy_reader_open(const char *path, cf_joy_reader **out, char *errbuf);
/* The records the Joy-compatible tracker writes for a capture (what
 * `cuflow flows --joy-compat CAPTURE` writes after its configuration
 * line), made while reading: frames are read only until the tracker has
 * written a line, so memory stays that of the tracker. CF_OK, or
 * cf_reader_open's status and message, CF_ERR_FILTER or CF_ERR_NOMEM. */
int cf_joy_reader_open_capture(const char *path, cf_joy_reader **out, char *errbuf);
/* A capture (pcap, pcapng, snoop, by the first bytes, also compressed)
 * through cf_joy_reader_open_capture, anything else (a gzip Joy file
 * included) through cf_joy_reader_open; "-" is read as a Joy file. */
int cf_joy_reader_open_auto(const char *path, cf_joy_reader **out, char *errbuf);
/* The next record: CF_OK, CF_EOF, or CF_ERR_CORRUPT / CF_ERR_IO with a
 * message naming the file and line (record, from a capture) in
 * cf_joy_reader_error; a corrupt line stops the reader (every later call
 * returns the same status). A damaged capture gives the records of the
 * frames before the damage, then cf_reader's status and message (file and
 * byte offset). */
int cf_joy_reader_next(cf_joy_reader *r, cf_joy_flow *flow);
const char *cf_joy_reader_error(const cf_joy_reader *r);
void cf_joy_reader_close(cf_joy_reader *r);

#ifdef __cplusplus
}
#endif

#endif
