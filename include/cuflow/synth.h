/*
 * Synthetic capture writer for tests, demos and benchmarks.
 *
 * Flow sizes are heavy-tailed (Pareto), packet sizes mixed (many 40-80 B
 * control packets and full 1500 B segments), TCP flows have handshakes and
 * teardowns (some end with RST), UDP flows look like DNS or RTP, some ICMP
 * echo; IPv4 and IPv6; some 802.1Q tags. The output depends only on the
 * options (same seed, same bytes).
 *
 * cf_synth_replay instead writes a real capture N times, each copy shifted
 * in time and with its IP addresses remapped so that flows stay distinct.
 */
#ifndef CUFLOW_SYNTH_H
#define CUFLOW_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cf_synth_opts {
	const char *path;      /* output file ("-" for standard output) */
	uint64_t flows;        /* flows to generate (default 1000); ignored when gbytes > 0 */
	double duration_s;     /* capture span in seconds (default 60) */
	uint64_t seed;         /* default 1 */
	uint32_t snaplen;      /* frames are cut to this many bytes (default 65535) */
	double gbytes;         /* when > 0: write flows until the file holds this many GB (1e9) */
	uint32_t frame_size;   /* 0: mixed sizes; N >= 60: every frame exactly N bytes on the wire */
	int nanosecond;        /* 1: nanosecond pcap magic */
	/* Called after each chunk (a few MB) reaches the output, from the
	 * calling thread: bytes so far, the target in gbytes mode (else 0),
	 * packets so far. Same shape as the CLI's progress update. NULL: none. */
	void (*progress)(void *ctx, uint64_t bytes_done, uint64_t bytes_total, uint64_t packets_done);
	void *progress_ctx;
} cf_synth_opts;

typedef struct cf_synth_stats {
	uint64_t flows;         /* cf_synth_write: flows started; replay: 0 (not counted) */
	uint64_t packets;
	uint64_t bytes_written; /* file size */
	/* cf_synth_replay only (0 otherwise): */
	uint64_t input_packets; /* frames in the input (one copy) */
	uint64_t unmapped;      /* frames of copies >= 1 written unchanged: no IPv4/IPv6
	                           header found, or its addresses not within the kept bytes */
	uint64_t span_ns;       /* latest - earliest input timestamp */
	uint32_t linktype;      /* of the input and the output */
	int disjoint;           /* 1: the masks were checked: no two copies share a
	                           conversation (see cf_synth_replay); 0: not checked */
} cf_synth_stats;

void cf_synth_opts_default(cf_synth_opts *o);

/* Writes the capture: classic little-endian pcap, LINKTYPE_ETHERNET.
 * Valid options: path set; flows >= 1 unless gbytes > 0; 0 < duration_s
 * <= 1e8; 1 <= snaplen <= 262144; frame_size 0 or 60..65535; 0 <= gbytes
 * <= 1e6. Memory stays bounded (about 10 MB) whatever the size.
 * CF_OK, or CF_ERR_IO / CF_ERR_ARG / CF_ERR_NOMEM with errbuf set (errbuf
 * may be NULL). stats may be NULL; on failure it holds what was written. */
int cf_synth_write(const cf_synth_opts *o, cf_synth_stats *stats, char *errbuf);

/*
 * Replay: a real capture amplified N times ("real-like" benchmark traffic).
 *
 * Input: any capture cf_reader_open reads (pcap, pcapng, snoop, compressed
 * or not), but not standard input: a first pass measures it, and the
 * copies are made from memory (inputs up to cache_max) or by reading the
 * file again for each copy. Every frame must have the same
 * link type (pcap has one per file): frames of two link types are
 * CF_ERR_UNSUPPORTED with a message naming the file and both types.
 * Damaged input: CF_ERR_TRUNCATED / CF_ERR_CORRUPT / ... with the reader's
 * message (file and byte offset); found in the first pass, before the
 * output is created. A file that changes between passes is CF_ERR_CORRUPT.
 *
 * Output: classic little-endian pcap, version 2.4, the input's link type,
 * microsecond timestamps (sub-microsecond digits truncated) or nanosecond
 * ones with `nanosecond`. snaplen 0: nothing is cut, the header says
 * max(65535, largest input frame); snaplen N: frames are cut to N bytes
 * (wire lengths kept) and the header says N.
 *
 * Copies k = 0 .. N-1, in order, each a full pass over the input in file
 * order. Timestamps of copy k are the input's + k * (span + 1 s), span =
 * latest - earliest input timestamp (last - first for a capture in time
 * order): copy k+1 starts 1 s after copy k ends, so the output is in time
 * order when the input is. Copy 0 is the input's frames, byte for byte
 * (with the timestamps, up to the microsecond truncation above).
 *
 * Addresses: in copy k the outermost IPv4/IPv6 header's source and
 * destination get their first 16 bits (IPv4: the first two octets; IPv6:
 * the first two bytes) XORed with a 16-bit mask M_k, M_0 = 0 and M_j !=
 * M_k: a bijection of each address family onto itself. The IPv4 header
 * checksum and the TCP, UDP, UDP-Lite, DCCP and ICMPv6 checksums (their
 * pseudo-header holds the addresses) are updated incrementally (RFC 1624),
 * so a checksum that was right stays right and one that was wrong (e.g.
 * offloaded) stays wrong by the same amount; a UDP checksum 0 (none) stays
 * 0. The L4 header of an IPv4/IPv6 fragment other than the first is not
 * there and is left alone (the first fragment's checksum covers the whole
 * datagram and is updated); nothing is read or written past the kept bytes
 * (a header cut by the capture keeps what it has). Behind an IPv6 routing
 * header with segments left, the pseudo-header holds the final
 * destination, which is not remapped: only the source enters the update.
 * Link layers looked through: Ethernet with any number of 802.1Q / 802.1ad
 * / QinQ tags, MPLS (also with a pseudowire control word and Ethernet
 * inside), PPPoE session, LLC/SNAP; Linux SLL and SLL2; raw IP (LINKTYPE
 * 12, 14, 101, 228, 229); NULL/LOOP; PPP, PPP-HDLC, PPP_ETHER and Cisco
 * HDLC. Frames with no IP header found there (ARP, 802.11, NFLOG, other
 * link types...) are written unchanged and counted in stats->unmapped, as
 * are frames cut before the end of the IP addresses. Not remapped:
 * addresses inside tunnels (GRE, IP-in-IP, VXLAN, ...: a tool that keys
 * flows on the inner headers, like cuflow's default --decap all, sees the
 * copies' tunnelled flows merge; use --decap none), inside ICMP errors,
 * and in ARP payloads; MAC addresses.
 *
 * The guarantee: no two copies share a conversation, i.e. for j != k no
 * frame of copy j has the same unordered {source, destination} pair of
 * outer addresses (same family) as a frame of copy k; so they share no
 * flow 5-tuple whatever the protocols and ports, and each flow of the
 * input becomes N flows (each copy has the same bytes apart from addresses
 * and checksums, with the same relative timing). Why: with D = M_j ^ M_k
 * (!= 0, in the first 16 bits), copy j's {a ^ M_j, b ^ M_j} equals copy
 * k's {c ^ M_k, d ^ M_k} iff {a ^ D, b ^ D} = {c, d}: iff the input holds
 * two conversations whose addresses agree end for end in every bit after
 * the first 16 and differ in the first 16 by exactly D at both ends (e.g.
 * {10.0.0.5, 10.0.0.6} and {192.168.0.5, 192.168.0.6}, D = 0xcaa8; or
 * {fe80::1, ff02::1} with itself reversed). The first pass collects every
 * such D, and the masks are taken greedily from a fixed scrambled sequence
 * of 16-bit values, skipping any whose XOR with an earlier mask is one of
 * them. stats->disjoint = 1 says this was done. It is 0 only when it could
 * not be (over about 1.5 million distinct conversations, or forbidden
 * differences so many that the masks cannot avoid them, e.g. 65536 copies
 * when any exists); then the masks are the plain sequence and copies j and
 * k can share a conversation only through two input conversations related
 * as above by exactly M_j ^ M_k. Addresses alone may recur across copies
 * (10.0.0.5 of copy 1 may be 192.168.0.5 of copy 0), conversations not.
 * The masks depend only on the input, so the output does too.
 *
 * copies: 1 .. 65536 (16-bit masks). The last timestamp must fit the pcap
 * header (before 2106) and no input timestamp may precede 1970: else
 * CF_ERR_ARG / CF_ERR_UNSUPPORTED, found before the output is created. An
 * output path naming the input file is CF_ERR_ARG.
 * Memory: the output buffer (8 MB, or twice the largest frame), the
 * reader, the input when it fits in cache_max, and the first pass's
 * conversation table (48-96 bytes per distinct conversation, at most 72
 * MiB; past that the masks go unchecked).
 */
typedef struct cf_synth_replay_opts {
	const char *input;     /* capture to replay (a file, not "-") */
	const char *path;      /* output file ("-" for standard output) */
	uint64_t copies;       /* 1 .. 65536 (default 1) */
	uint32_t snaplen;      /* 0 (default): cut nothing; else 1..262144: cut frames to it */
	int nanosecond;        /* 1: nanosecond pcap magic */
	size_t cache_max;      /* the first pass keeps the frames in memory when they take
	                          at most this many bytes (16 + kept bytes each; default
	                          256 MiB), and the copies come from there; else (or 0)
	                          the file is read again for each copy */
	/* Called after each chunk (a few MB) reaches the output: bytes so
	 * far, the final file size (known after the first pass), packets so
	 * far. NULL: none. */
	void (*progress)(void *ctx, uint64_t bytes_done, uint64_t bytes_total, uint64_t packets_done);
	void *progress_ctx;
} cf_synth_replay_opts;

void cf_synth_replay_opts_default(cf_synth_replay_opts *o);

/* Writes input's frames `copies` times as described above. CF_OK, or a
 * negative status with errbuf set (may be NULL): CF_ERR_ARG (options),
 * CF_ERR_IO (cannot open/read the input or write the output), the
 * reader's status for a damaged input, CF_ERR_UNSUPPORTED (several link
 * types, timestamps before 1970), CF_ERR_NOMEM. stats may be NULL; it is
 * filled as far as the work went. */
int cf_synth_replay(const cf_synth_replay_opts *o, cf_synth_stats *stats, char *errbuf);

#ifdef __cplusplus
}
#endif

#endif
