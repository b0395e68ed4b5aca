/*
 * Fuzz target: the capture reader over memory, then the decoder on every
 * frame it yields.
 *
 * The whole input is the capture (pcap, pcapng, snoop, compressed or not),
 * so capture files are valid seeds as they are. The decode options come
 * from the input's last two bytes (see fuzz_opts_from_bytes); every frame
 * is decoded with the defaults and with those options, from a private copy
 * of exactly caplen bytes so that a decoder read past caplen is an ASan
 * error even when the reader hands out a pointer into a larger buffer.
 *
 * Checked besides memory safety (include/cuflow/reader.h):
 *  - a failed open leaves *out NULL and a NUL-terminated errbuf;
 *  - statuses are CF_OK, CF_EOF or a known negative code, and after an
 *    error every later call returns the same status;
 *  - record offsets strictly increase; bytes_read never exceeds the input;
 *  - reader info is present and its counts are in range;
 *  - cf_read_decode gives the records and the final status of
 *    cf_reader_next + cf_decode_frame (a second pass, in lockstep).
 * An empty error message is reported on stderr (once) but not fatal.
 *
 * Work per input is bounded (FUZZ_MAX_FRAMES frames, FUZZ_MAX_STREAM bytes
 * of decompressed stream) so a small compressed input that expands to
 * gigabytes is not reported as a timeout.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuflow/cuflow.h"
#include "fuzz_common.h"

#define FUZZ_MAX_FRAMES 100000
#define FUZZ_MAX_STREAM (64ull << 20)

static int known_status(int s)
{
	return s == CF_OK || s == CF_EOF || (s <= CF_ERR_IO && s >= CF_ERR_FILTER);
}

static void warn_once(int *done, const char *what)
{
	if (!*done) {
		*done = 1;
		fprintf(stderr, "cuflow fuzz: note (not fatal): %s\n", what);
	}
}

/* cf_read_decode against its definition, cf_reader_next + cf_decode_frame,
 * in lockstep on two readers of the same input: the same records byte for
 * byte, then the same final status. The run length comes from the input. */
static void read_decode_differential(const uint8_t *data, size_t size, const cf_decode_opts *o)
{
	char err[CF_ERRBUF_SIZE];
	cf_reader *a = NULL, *b = NULL;
	if (cf_reader_open_memory(data, size, "fuzz-a", &a, err) != CF_OK)
		return;
	if (cf_reader_open_memory(data, size, "fuzz-b", &b, err) != CF_OK)
		FUZZ_FAIL("the second open of the same input failed");
	size_t run = size ? 1 + data[size / 2] % 64 : 1;
	cf_pkt got[64], want;
	long frames = 0;
	int sa = CF_OK, sb = CF_OK;
	while (frames < FUZZ_MAX_FRAMES) {
		size_t n = 0;
		sb = cf_read_decode(b, o, got, run, &n);
		if (sb != CF_OK && n != 0)
			FUZZ_FAIL("cf_read_decode returned %d with %zu records", sb, n);
		if (sb == CF_OK && (n == 0 || n > run))
			FUZZ_FAIL("cf_read_decode gave %zu records for a run of %zu", n, run);
		for (size_t i = 0; i < n; i++, frames++) {
			cf_frame f;
			sa = cf_reader_next(a, &f);
			if (sa != CF_OK)
				FUZZ_FAIL("cf_read_decode gave record %ld, cf_reader_next status %d", frames, sa);
			cf_decode_frame(o, &f, &want);
			if (memcmp(&want, &got[i], sizeof want) != 0)
				FUZZ_FAIL("record %ld differs between cf_read_decode and cf_decode_frame", frames);
		}
		if (sb != CF_OK) {
			cf_frame f;
			sa = cf_reader_next(a, &f);
			if (sa != sb)
				FUZZ_FAIL("after %ld records: cf_read_decode %d, cf_reader_next %d", frames, sb, sa);
			break;
		}
	}
	cf_reader_close(a);
	cf_reader_close(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int warned_open, warned_next;
	char errbuf[CF_ERRBUF_SIZE + 1];
	cf_reader *r = (cf_reader *)(uintptr_t)0x1; /* must become NULL on failure */

	memset(errbuf, 0, sizeof errbuf);
	errbuf[CF_ERRBUF_SIZE] = 0x5a; /* canary: the API writes at most CF_ERRBUF_SIZE bytes */
	int st = cf_reader_open_memory(data, size, "fuzz-input", &r, errbuf);
	if (errbuf[CF_ERRBUF_SIZE] != 0x5a)
		FUZZ_FAIL("cf_reader_open_memory wrote past CF_ERRBUF_SIZE");
	if (memchr(errbuf, 0, CF_ERRBUF_SIZE) == NULL)
		FUZZ_FAIL("errbuf not NUL-terminated");
	if (!known_status(st) || st == CF_EOF)
		FUZZ_FAIL("cf_reader_open_memory returned %d", st);
	if (st != CF_OK) {
		if (r != NULL)
			FUZZ_FAIL("cf_reader_open_memory failed (%d) but *out is not NULL", st);
		if (errbuf[0] == 0)
			warn_once(&warned_open, "cf_reader_open_memory failed with an empty errbuf");
		return 0;
	}
	if (r == NULL)
		FUZZ_FAIL("cf_reader_open_memory returned CF_OK and a NULL reader");

	const cf_reader_info *info = cf_reader_get_info(r);
	if (info == NULL)
		FUZZ_FAIL("cf_reader_get_info returned NULL");

	cf_decode_opts defaults, varied;
	cf_decode_opts_default(&defaults);
	fuzz_opts_from_bytes(size ? data[size - 1] : 0, size > 1 ? data[size - 2] : 0, &varied);

	uint64_t last_off = 0;
	long frames = 0;
	cf_frame f;
	for (;;) {
		memset(&f, 0, sizeof f);
		st = cf_reader_next(r, &f);
		if (!known_status(st))
			FUZZ_FAIL("cf_reader_next returned %d", st);
		if (st != CF_OK)
			break;
		if (frames > 0 && f.offset <= last_off)
			FUZZ_FAIL("frame %ld at offset %llu, not after the previous one at %llu", frames,
			          (unsigned long long)f.offset, (unsigned long long)last_off);
		last_off = f.offset;
		if (f.caplen > 0 && f.data == NULL)
			FUZZ_FAIL("frame with caplen %u and NULL data", f.caplen);

		/* Exactly caplen bytes, so reads past the end are caught. */
		uint8_t *copy = (uint8_t *)malloc(f.caplen ? f.caplen : 1);
		if (!copy)
			abort();
		if (f.caplen)
			memcpy(copy, f.data, f.caplen); /* ASan checks the reader's buffer here */
		f.data = copy;
		fuzz_decode_check(&defaults, &f);
		fuzz_decode_check(&varied, &f);
		free(copy);

		if (++frames >= FUZZ_MAX_FRAMES || f.offset > FUZZ_MAX_STREAM)
			break;
	}

	if (st < 0) {
		const char *msg = cf_reader_error(r);
		if (msg == NULL)
			FUZZ_FAIL("cf_reader_error returned NULL after status %d", st);
		if (msg[0] == 0)
			warn_once(&warned_next, "cf_reader_next failed with an empty cf_reader_error()");
		int again = cf_reader_next(r, &f);
		if (again != st)
			FUZZ_FAIL("cf_reader_next returned %d after an error %d (must repeat it)", again, st);
	} else if (st == CF_EOF) {
		int again = cf_reader_next(r, &f);
		if (again != CF_EOF)
			FUZZ_FAIL("cf_reader_next returned %d after CF_EOF", again);
	}

	info = cf_reader_get_info(r);
	if (info == NULL)
		FUZZ_FAIL("cf_reader_get_info returned NULL after reading");
	if (info->n_linktypes > CF_MAX_LINKTYPES)
		FUZZ_FAIL("n_linktypes %u > CF_MAX_LINKTYPES", info->n_linktypes);
	if (info->format < CF_FORMAT_PCAP || info->format > CF_FORMAT_LIBPCAP)
		FUZZ_FAIL("format %d", info->format);
	if (info->compression < CF_COMPRESSION_NONE || info->compression > CF_COMPRESSION_XZ)
		FUZZ_FAIL("compression %d", info->compression);
	if (cf_reader_bytes_read(r) > size)
		FUZZ_FAIL("bytes_read %llu > input size %zu",
		          (unsigned long long)cf_reader_bytes_read(r), size);
	(void)cf_reader_error_offset(r);

	cf_reader_close(r);
	read_decode_differential(data, size, &varied);
	return 0;
}
