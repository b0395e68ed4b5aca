/*
 * netml's packets on disk (internal): bounded memory for whole-capture
 * groupings. netml needs every packet of a flow before the flow's first
 * row, and the flows in first-appearance order, so the packets held
 * while reading grow with the capture. With a spill, they go to sorted
 * runs instead (each run: one buffer of packets, grouped by flow id with
 * capture order kept), and finish merges the runs into flows, one flow
 * at a time. Memory then grows with the number of flows, not packets.
 *
 * Two unlinked temporary files: the runs, and the kept packets in row
 * order (what the in-memory path holds in its t/size/ttl/hfl arrays),
 * read back by row range for the feature batches.
 */
#ifndef CUFLOW_NETML_SPILL_H
#define CUFLOW_NETML_SPILL_H

#include <stddef.h>
#include <stdint.h>

/* One packet in a run: 16 bytes. */
typedef struct netml_rec {
	double t;
	uint32_t flow;   /* flow id | NETML_REC_TCP */
	uint16_t size;
	uint8_t ttl, hfl;
} netml_rec;
#define NETML_REC_TCP 0x80000000u

/* One kept packet in row order: 16 bytes. */
typedef struct netml_pkt {
	double t;
	uint16_t size;
	uint8_t ttl, hfl;
	uint32_t pad;
} netml_pkt;

typedef struct netml_spill netml_spill;

/* Creates the two files in dir (NULL: $TMPDIR, else /tmp). CF_OK, or a
 * negative status with the reason in err. */
int netml_spill_open(netml_spill **out, const char *dir, char *err, size_t errlen);
void netml_spill_close(netml_spill *s);
/* One run: begin, the records grouped by flow in increasing id with
 * capture order kept within a flow (append, buffered), end. */
int netml_spill_run_begin(netml_spill *s, char *err, size_t errlen);
int netml_spill_run_append(netml_spill *s, const netml_rec *r, char *err, size_t errlen);
int netml_spill_run_end(netml_spill *s, char *err, size_t errlen);
uint32_t netml_spill_runs(const netml_spill *s);

/* Merging the runs: records come in increasing flow id, and within a flow
 * in capture order (earlier runs first). buf_bytes is each run's read
 * buffer. next: 1 with *r, 0 at the end, or a negative status. */
int netml_spill_merge_start(netml_spill *s, size_t buf_bytes, char *err, size_t errlen);
int netml_spill_merge_next(netml_spill *s, netml_rec *r, char *err, size_t errlen);
/* After the merge: the runs' disk space back. */
void netml_spill_runs_drop(netml_spill *s);

/* The kept packets: appended in row order (buffered), then read by packet
 * index once writing is over (netml_spill_pkts_flush). */
int netml_spill_pkts_append(netml_spill *s, const netml_pkt *p, uint64_t n, char *err, size_t errlen);
int netml_spill_pkts_flush(netml_spill *s, char *err, size_t errlen);
uint64_t netml_spill_pkts_count(const netml_spill *s);
int netml_spill_pkts_read(netml_spill *s, uint64_t first, uint64_t n, netml_pkt *out, char *err, size_t errlen);

#endif
