/*
 * Fuzz target: the netml pipeline (include/cuflow/netml.h) on a capture
 * read from memory: every frame decoded with tunnels off and added, then
 * finish, optional labels, and every feature type on the CPU reference.
 *
 * Input: capture bytes (the same seeds as fuzz_reader). The last byte
 * picks options (threshold, fixed variants, FFT, header, a fixed interval
 * or SAMP width), the lowest bits of the one before it bounded memory:
 * hash partitions on disk from the 30th packet or so, 512 or 3 of them,
 * with windows and in-memory quantiles of 37 or the defaults. When the input holds the marker "\n#labels\n", the bytes
 * after it are a label CSV given to cf_netml_label_csv.
 *
 * Checked besides memory safety: statuses are known codes; finish fails
 * only with CF_ERR_NO_DATA / CF_ERR_NOMEM and a message; the packet
 * accounting adds up; rows have at least 2 packets in time order;
 * non-FFT values are never NaN.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuflow/cuflow.h"
#include "fuzz_common.h"

#define FUZZ_MAX_FRAMES 20000
#define FUZZ_MAX_CELLS (1u << 20)

static void features(cf_netml *h, int fft, int header)
{
	uint64_t rows = cf_netml_rows(h);
	for (int t = 0; t < CF_NETML_TYPE_COUNT; t++) {
		uint32_t cols = cf_netml_row_cols(h, t, header);
		if (!cols || (uint64_t)cols > FUZZ_MAX_CELLS)
			continue;
		uint64_t block = FUZZ_MAX_CELLS / cols;
		if (block > rows)
			block = rows;
		double *buf = malloc(block * cols * sizeof *buf);
		if (!buf)
			abort();
		for (uint64_t r = 0; r < rows; r += block) {
			uint64_t n = rows - r < block ? rows - r : block;
			int st = cf_netml_features(h, NULL, t, fft, header, r, n, buf);
			if (st == CF_ERR_NO_DATA && (t == CF_NETML_SAMP_NUM || t == CF_NETML_SAMP_SIZE))
				break; /* SAMP width 0 with a gap: netml's crash, refused */
			if (st != CF_OK)
				FUZZ_FAIL("cf_netml_features(%d) returned %d: %s", t, st, cf_netml_error(h));
			if (!fft)
				for (uint64_t i = 0; i < n * cols; i++)
					if (isnan(buf[i]))
						FUZZ_FAIL("NaN in type %d row %llu", t, (unsigned long long)(r + i / cols));
		}
		free(buf);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char marker[] = "\n#labels\n";
	size_t cap_size = size;
	const uint8_t *csv = NULL;
	for (size_t i = 0; i + sizeof marker - 1 <= size; i++)
		if (!memcmp(data + i, marker, sizeof marker - 1)) {
			cap_size = i;
			csv = data + i + sizeof marker - 1;
			break;
		}
	uint8_t sel = size ? data[size - 1] : 0;
	cf_netml_opts o;
	cf_netml_opts_default(&o);
	o.flow_pkts_thres = 1 + (sel & 3);
	o.keep_trailing = (sel >> 2) & 1;
	o.ipv6_flows = (sel >> 3) & 1;
	if (sel & 0x10)
		o.interval = 0.25;
	if (sel & 0x20)
		o.samp_width = 0.001;
	o.tcp_timeout = (sel & 0x40) ? 1.0 : 600.0;
	if (size > 1 && (data[size - 2] & 1)) {
		o.spill_bytes = 64 * 27; /* read at open: */
		setenv("CUFLOW_NETML_PARTITIONS", (data[size - 2] & 2) ? "3" : "512", 1);
		if (data[size - 2] & 4)
			setenv("CUFLOW_NETML_SPILL_READ_PACKETS", "37", 1);
		else
			unsetenv("CUFLOW_NETML_SPILL_READ_PACKETS");
	}

	char err[CF_ERRBUF_SIZE];
	cf_reader *r = NULL;
	if (cf_reader_open_memory(data, cap_size, "fuzz-input", &r, err) != CF_OK)
		return 0;
	cf_netml *h = NULL;
	if (cf_netml_open(&o, &h, err) != CF_OK)
		FUZZ_FAIL("cf_netml_open: %s", err);
	cf_decode_opts dopt;
	cf_decode_opts_default(&dopt);
	dopt.decap = CF_DECAP_NONE;
	cf_frame f;
	cf_pkt p;
	long frames = 0;
	while (cf_reader_next(r, &f) == CF_OK && frames++ < FUZZ_MAX_FRAMES) {
		cf_decode_frame(&dopt, &f, &p);
		if (cf_netml_add(h, &p) != CF_OK)
			FUZZ_FAIL("cf_netml_add: %s", cf_netml_error(h));
	}
	cf_reader_close(r);

	int st = cf_netml_finish(h);
	cf_netml_counters k;
	cf_netml_counters_get(h, &k);
	if (st != CF_OK) {
		if (st != CF_ERR_NO_DATA && st != CF_ERR_NOMEM)
			FUZZ_FAIL("cf_netml_finish returned %d", st);
		if (!cf_netml_error(h)[0])
			FUZZ_FAIL("cf_netml_finish failed without a message");
		cf_netml_close(h);
		return 0;
	}
	if (csv) {
		char path[] = "/tmp/cuflow-fuzz-labels-XXXXXX";
		int fd = mkstemp(path);
		if (fd >= 0) {
			size_t n = size - (size_t)(csv - data);
			int ok = write(fd, csv, n) == (ssize_t)n;
			close(fd);
			err[0] = 0;
			int ls = ok ? cf_netml_label_csv(h, path, err) : CF_ERR_IO;
			unlink(path);
			/* the labeler's codes (cf_labeler_open_csv): bad rows CORRUPT, a header
			 * it cannot read UNSUPPORTED; and netml's own */
			if (ls != CF_OK && ls != CF_ERR_ARG && ls != CF_ERR_NO_DATA && ls != CF_ERR_IO && ls != CF_ERR_NOMEM &&
			    ls != CF_ERR_CORRUPT && ls != CF_ERR_UNSUPPORTED)
				FUZZ_FAIL("cf_netml_label_csv returned %d", ls);
			if (ls != CF_OK && ok && !err[0])
				FUZZ_FAIL("cf_netml_label_csv failed (%d) without a message", ls);
			if (ls != CF_OK) {
				cf_netml_close(h);
				return 0;
			}
		}
	}
	cf_netml_counters_get(h, &k);
	uint64_t used = k.pkts_in_rows + k.skipped_decode + k.not_tcp_udp + k.pkts_small_flow + k.pkts_timeout_tail +
	                k.pkts_small_chunk + k.pkts_interval_tail + k.pkts_small_subflow + k.pkts_unlabelled;
	if (used != k.packets)
		FUZZ_FAIL("packet accounting: %llu accounted, %llu read", (unsigned long long)used,
		          (unsigned long long)k.packets);
	for (uint64_t i = 0; i < cf_netml_rows(h); i++) {
		cf_netml_subflow s;
		cf_netml_subflow_at(h, i, &s);
		if (s.packets < 2 || !(s.last_t >= s.first_t))
			FUZZ_FAIL("row %llu: %u packets, %g..%g", (unsigned long long)i, s.packets, s.first_t, s.last_t);
	}
	features(h, (sel >> 7) & 1, (sel >> 6) & 1);
	cf_netml_close(h);
	return 0;
}
