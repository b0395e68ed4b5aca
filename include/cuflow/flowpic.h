/*
 * FlowPic images (Shapira & Shavitt): per flow window, a 2-D histogram of
 * packet size (rows) against arrival time (columns). Presets reproduce
 * the official talshapira/FlowPic code and tcbench's mini-FlowPic; every
 * parameter can also be set on its own (docs/flowpic.md).
 *
 * Use: cf_flowpic_open with options and an emit callback, then
 * cf_flowpic_scan_file per capture (sessions never span files): packets
 * are grouped into sessions, each session's windows are cut, and the
 * images are binned in batches on the backend (CPU reference or CUDA,
 * same bits) and handed to the callback one by one, in session
 * first-appearance order, then window order.
 *
 * Memory: a file's TCP/UDP packets are held until its end (24 bytes each:
 * the official sessions span the whole capture); images exist only in
 * the current batch (about 64 MiB), never one dense image per flow.
 */
#ifndef CUFLOW_FLOWPIC_H
#define CUFLOW_FLOWPIC_H

#include <stddef.h>
#include <stdint.h>
#include "cuflow/scan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Pixel values. */
enum cf_flowpic_value {
	CF_FLOWPIC_COUNT = 0,  /* uint16 packet count (modulo 65536, as the official code's cast) */
	CF_FLOWPIC_CAPPED,     /* uint8 count capped at 255 */
	CF_FLOWPIC_NORM        /* float32 min(count, 255) / 255 */
};

/* How a packet's time becomes a column. */
enum cf_flowpic_time_axis {
	CF_FLOWPIC_STRETCH = 0, /* x = (t - first) / (last - first) * N, first/last of the window (official) */
	CF_FLOWPIC_FIXED_EDGES, /* numpy histogram2d on linspace(0, D, N + 1) of t - anchor (tcbench) */
	CF_FLOWPIC_FIXED_SCALE  /* x = (t - anchor) / D * N, floor */
};

/* How a packet's size becomes a row (sizes over 1500 are dropped or
 * clipped first). */
enum cf_flowpic_size_bins {
	CF_FLOWPIC_SIZE_SCALE = 0, /* min(floor(L N / 1500), N - 1), exact integers */
	CF_FLOWPIC_SIZE_EDGES,     /* numpy edges linspace(0, 1500, N + 1) (official: N = 1500) */
	CF_FLOWPIC_SIZE_FLOAT      /* (L / 1500.0) * N in double on the integer edges 0..N (tcbench) */
};


typedef struct cf_flowpic cf_flowpic;

enum cf_flowpic_direction {
	CF_FLOWPIC_UP = 0,      /* the session's first direction */
	CF_FLOWPIC_DOWN,        /* the other (bidirectional sessions only) */
	CF_FLOWPIC_BOTH,        /* both merged into one channel */
	CF_FLOWPIC_CHANNELS     /* 2 channels: up, down */
};

enum cf_flowpic_sessions {
	CF_FLOWPIC_SESSIONS_UNI = 0, /* unidirectional 5-tuple over the whole capture, no timeout (official) */
	CF_FLOWPIC_SESSIONS_BIDIR    /* bidirectional 5-tuple, cut at idle gaps over idle_timeout_s */
};

enum cf_flowpic_time_model {
	CF_FLOWPIC_TIME_DPKT = 0, /* as the official parser: dpkt's float seconds, relative time
	                             rounded to 6 decimals (Python round) */
	CF_FLOWPIC_TIME_EXACT     /* integer ns since the session's first packet, / 1e9 */
};

typedef struct cf_flowpic_opts {
	uint32_t res;            /* N (1500): images are channels x N x N */
	double window_s;         /* D (60) */
	double step_s;           /* S (60): window k starts at k S; 0: one window */
	int right_closed;        /* 1: window [kS, kS + D] (official); 0: [kS, kS + D) */
	int time_axis;           /* enum cf_flowpic_time_axis (STRETCH) */
	int anchor_first;        /* fixed time axes: 1 = column 0 at the window's first packet,
	                            0 = at the window start */
	int size_clip;           /* sizes over 1500: 1 clip to 1500, 0 drop (official) */
	int size_edges;          /* size rows: enum cf_flowpic_size_bins (SCALE: official; FLOAT: mini) */
	int value;               /* enum cf_flowpic_value (COUNT) */
	int direction;           /* enum cf_flowpic_direction (UP) */
	uint32_t min_packets;    /* a window needs more than this many packets (10) */
	double min_span_s;       /* and a first-to-last span over this (50); < 0: no rule */
	int size_frame;          /* 0: IP total length (official); 1: captured frame length */
	int sessions;            /* enum cf_flowpic_sessions (UNI) */
	double idle_timeout_s;   /* BIDIR sessions (120) */
	int ipv4_only;           /* 1: IPv6 packets are not used (official) */
	int time_model;          /* enum cf_flowpic_time_model (DPKT) */
	uint32_t max_windows;    /* per session, 0: no limit */
	/* tcbench's network augmentations (mini-FlowPic, IMC22 §3.2): after a
	 * session's own images, augment_copies more sets of its images, each
	 * from its packet times changed once with a parameter drawn from
	 * augment_seed, the file's ordinal, the session and the copy (so the
	 * same options give the same bytes). Not part of the options'
	 * identity (cf_flowpic_opts_json): the images of copy 0 are those
	 * without augmentation. */
	int augment;             /* enum cf_flowpic_augment (NONE) */
	uint32_t augment_copies; /* copies per session (0: none) */
	uint64_t augment_seed;
	/* Bounded memory. > 0: once the packets, 5-tuples and sessions held
	 * would pass this many bytes (25 a packet, 64 a key, 24 a session), the
	 * state so far and the file's later packets go to hash partitions of
	 * the session keys in unlinked temporary files in spill_dir (NULL or
	 * "": $TMPDIR, else /tmp; the string must outlive the handle), replayed
	 * one at a time at the end of the file and merged in session order: the
	 * same images, memory flat in the file's size. 0: everything stays in
	 * memory. The presets set 128 MB. Not part of the options' identity. */
	uint64_t spill_bytes;
	const char *spill_dir;
} cf_flowpic_opts;

/* The packet times t (seconds since the session's first packet) of an
 * augmented copy, its parameter p drawn uniformly:
 *   RTT    t * p, p in [0.5, 1.5]        (change RTT)
 *   SHIFT  t + p, p in [-1, 1] s         (time shift; times then outside
 *                                          the window are not counted)
 *   LOSS   packets with |t - p| <= 0.1 s dropped, p in [0, t_last]
 *                                         (packet loss around a moment of
 *                                          the session) */
enum cf_flowpic_augment {
	CF_FLOWPIC_AUGMENT_NONE = 0,
	CF_FLOWPIC_AUGMENT_RTT,
	CF_FLOWPIC_AUGMENT_SHIFT,
	CF_FLOWPIC_AUGMENT_LOSS
};
/* "rtt", "shift", "loss" (or "none") -> kind: CF_OK or CF_ERR_ARG. */
int cf_flowpic_augment_parse(const char *name, int *kind);
const char *cf_flowpic_augment_name(int kind);

/* "official" (talshapira/FlowPic) or "mini" (tcbench get_flowpic, 32 x 32,
 * 15 s). CF_OK or CF_ERR_ARG for another name. */
int cf_flowpic_preset(cf_flowpic_opts *o, const char *name);
/* Channels of an image with these options (1 or 2). */
uint32_t cf_flowpic_channels(const cf_flowpic_opts *o);
/* Bytes of one pixel for o->value (2, 1 or 4). */
size_t cf_flowpic_pixel_bytes(const cf_flowpic_opts *o);

typedef struct cf_flowpic_image {
	uint8_t ip_version, proto;
	uint16_t src_port, dst_port;
	uint8_t src_ip[16], dst_ip[16];   /* the session's first packet's orientation */
	uint64_t session;                 /* 0, 1, ... in first-appearance order within the file */
	uint32_t window;                  /* window index within the session */
	int64_t window_start_ns;          /* session's first packet + window * step, ns since the epoch */
	int64_t first_ns, last_ns;        /* the session's first and last packet */
	uint32_t packets;                 /* packets counted into the image */
	uint32_t augment;                 /* 0: the session's own packets; k: augmented copy k */
	double augment_param;             /* the copy's drawn parameter (0 for copy 0) */
	uint32_t channels, res;
	const void *pixels;               /* channels x res x res values, borrowed for the call */
	const uint64_t *nonzero;          /* ascending indices of the pixels that may be non-zero
	                                     (all others are 0), or NULL when not known (CUDA);
	                                     for cf_npy_writer_append_sparse */
	uint64_t n_nonzero;
} cf_flowpic_image;

/* Receives each image; a negative return stops the scan with that status. */
typedef int (*cf_flowpic_emit_fn)(void *user, const cf_flowpic_image *img);

/* backend NULL: the CPU reference. CF_OK, CF_ERR_ARG (message) or CF_ERR_NOMEM. */
int cf_flowpic_open(const cf_flowpic_opts *o, struct cf_backend *backend, cf_flowpic_emit_fn emit, void *user,
                    cf_flowpic **out, char *errbuf);
void cf_flowpic_close(cf_flowpic *h);
const char *cf_flowpic_error(const cf_flowpic *h);

/* Reads one capture (decoded with tunnels off: the outer headers), then
 * emits its images. Returns res->status, or the error that stopped the
 * images (cf_flowpic_error). The packets before damage are used. */
int cf_flowpic_scan_file(cf_flowpic *h, const char *path, const cf_scan_opts *opts, cf_scan_result *res);

/* The same in steps, for callers that run the scan themselves (the
 * "flowpic" producer): begin_file, then add with every decoded record in
 * capture order (decoded with tunnels off; add returns CF_OK or
 * CF_ERR_NOMEM, after which the file is lost), then end_file with the
 * file's scan result (its format sets the DPKT time model's rounding;
 * NULL: not a nanosecond pcap), which emits the file's images: CF_OK, or
 * the error that stopped them (cf_flowpic_error). A file that did not
 * open (res->opened 0) emits nothing. */
void cf_flowpic_begin_file(cf_flowpic *h);
int cf_flowpic_add(cf_flowpic *h, const cf_pkt *p, size_t n);
int cf_flowpic_end_file(cf_flowpic *h, const cf_scan_result *res);

/* A PNG preview of one image (libpng): log-scaled counts, size up the y
 * axis from 0 to 1500 B, time along x over the window, ticks labelled;
 * two channels as red (up) and blue (down). o gives the value type and
 * the window. CF_OK, CF_ERR_IO or CF_ERR_NOMEM (message in errbuf). */
int cf_flowpic_png_write(const char *path, const cf_flowpic_image *img, const cf_flowpic_opts *o, char *errbuf);

typedef struct cf_flowpic_counters {
	uint64_t packets;            /* records seen */
	uint64_t skipped_decode;     /* no IP 5-tuple */
	uint64_t not_used;           /* not TCP/UDP, or IPv6 with ipv4_only */
	uint64_t after_window;       /* packets after a single window (step 0) ended: not kept */
	uint64_t sessions;
	uint64_t windows;            /* windows considered */
	uint64_t windows_small;      /* dropped: too few packets */
	uint64_t windows_short;      /* dropped: span too short */
	uint64_t images;
	uint64_t entries;            /* packets placed in images' lists (a packet on a boundary of
	                                overlapping windows counts once per window) */
	uint64_t entries_outside;    /* of those, outside the image (oversize, time range) */
	uint64_t batches;
	uint64_t spill_runs;         /* hash partitions on disk (0: everything held in memory) */
} cf_flowpic_counters;
void cf_flowpic_counters_get(const cf_flowpic *h, cf_flowpic_counters *out);

#ifdef __cplusplus
}
#endif

#endif
