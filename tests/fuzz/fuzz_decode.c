/*
 * Fuzz target: the packet decoder on one frame.
 *
 * Input layout: byte 0 and byte 1 choose the link type and the options,
 * the rest (possibly empty) is the frame, caplen = its size. The frame is
 * the tail of libFuzzer's buffer, which ends exactly at the end of its
 * allocation, so any read past caplen is an ASan error.
 *
 *   b0 < 0xf0:  link type = LINKTYPES[b0 % N] (the link types the decoder
 *               handles); max_depth selector = b0 / N (0 = default);
 *               b1 = decap selector (0x00 = every tunnel kind, 0xff = none).
 *   b0 0xf0..0xfe: link type = (b0 - 0xf0) << 8 | b1 (any value below
 *               3840: unknown ones must be skipped cleanly); default options.
 *   b0 == 0xff: link type = 0xffffff00 | b1 (does not fit cf_pkt.linktype).
 *
 * So a seed for a frame of link type LINKTYPES[i] with default options is
 * {i, 0x00, frame...}; tests/fuzz/make_corpus.py writes them that way.
 * Each frame is decoded with wirelen = caplen and again with a larger
 * wirelen (as if cut by a snap length); fuzz_decode_check verifies the
 * contracts of cf_decode_frame each time.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "cuflow/cuflow.h"
#include "fuzz_common.h"

static const uint32_t LINKTYPES[] = {
	0,   /* NULL/loopback */
	1,   /* Ethernet */
	9,   /* PPP */
	12,  /* raw IP (OpenBSD value) */
	14,  /* raw IP (BSD value) */
	50,  /* PPP in HDLC framing */
	51,  /* PPPoE */
	101, /* raw IP */
	104, /* Cisco HDLC */
	105, /* IEEE 802.11 */
	108, /* OpenBSD loopback */
	113, /* Linux SLL */
	127, /* IEEE 802.11 radiotap */
	228, /* raw IPv4 */
	229, /* raw IPv6 */
	239, /* NFLOG */
	276, /* Linux SLL2 */
};
#define N_LINKTYPES (sizeof LINKTYPES / sizeof LINKTYPES[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t b0 = data[0], b1 = data[1];
	cf_decode_opts opts;
	cf_frame f;
	memset(&f, 0, sizeof f);

	if (b0 < 0xf0) {
		f.linktype = LINKTYPES[b0 % N_LINKTYPES];
		fuzz_opts_from_bytes(b1, (uint8_t)(b0 / N_LINKTYPES), &opts);
	} else if (b0 < 0xff) {
		f.linktype = (uint32_t)(b0 - 0xf0) << 8 | b1;
		cf_decode_opts_default(&opts);
	} else {
		f.linktype = 0xffffff00u | b1;
		cf_decode_opts_default(&opts);
	}

	f.ts_ns = 1700000000123456789ll;
	f.caplen = (uint32_t)(size - 2);
	f.wirelen = f.caplen;
	f.offset = 24;
	f.data = data + 2; /* one past the end when the frame is empty */
	fuzz_decode_check(&opts, &f);

	f.wirelen = f.caplen + 1500;
	f.ts_ns = -1; /* before the epoch: still just copied */
	fuzz_decode_check(&opts, &f);
	return 0;
}
