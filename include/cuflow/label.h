/*
 * Flow labelling for training data.
 *
 * A labeler turns each finished flow into a label id (or "drop it"). Three
 * sources, one handle type:
 *  - a constant label (--label N);
 *  - a constant that the caller switches per input, e.g. the name of each
 *    input file's directory (--label-from-dir, see cf_label_dir_name);
 *  - a ground-truth CSV (cf_labeler_open_csv), in one of two formats told
 *    apart by the header:
 *
 * 1. CICFlowMeter flow CSV (CIC-IDS2017 GeneratedLabelledFlows, CSE-CIC-
 *    IDS2018): columns "Source IP", "Source Port", "Destination IP",
 *    "Destination Port", "Protocol", "Timestamp", "Label", optionally
 *    "Flow Duration" (microseconds); the short names "Src IP", "Dst IP",
 *    "Src Port", "Dst Port" work too, other columns are ignored. Each row
 *    covers [Timestamp, Timestamp + resolution + Flow Duration], where the
 *    resolution is that of the Timestamp text (60 s for "3/7/2017 8:55",
 *    1 s with seconds, finer with a fraction): the row's real start lies
 *    somewhere in that minute or second. A negative Flow Duration counts
 *    as 0. ICMP and ICMPv6 rows match on addresses alone (cuflow keys an
 *    echo flow by its identifier, CICFlowMeter writes ports 0). Timestamps,
 *    see cf_label_opts:
 *      d/m/yyyy h:mm[:ss[.frac]] [AM|PM]   (m/d/yyyy with month_first)
 *      yyyy-mm-dd[T ]hh:mm[:ss[.frac]][Z|+hh:mm|-hh:mm]  (no zone = UTC)
 *    A flow matching rows with different labels gets the label of the row
 *    whose start is nearest the flow's first packet (ties: the earlier
 *    row in the file): a flow that CICFlowMeter cut in several rows takes
 *    the label of the row that began with it.
 *
 * 2. Rules CSV (ours): header with "label" and any of src_ip, dst_ip,
 *    src_port, dst_port, protocol (or proto), start, end, in any order; a
 *    missing column is a wildcard. Fields:
 *      src_ip, dst_ip  address or CIDR prefix, IPv4 or IPv6 ("10.0.0.0/8",
 *                      "2001:db8::/32"); empty or "*": any
 *      src_port, ...   port or range "lo-hi"; empty or "*": any
 *      protocol        number or tcp/udp/icmp/icmpv6/sctp/gre; empty/"*": any
 *      start, end      epoch seconds with an optional fraction
 *                      ("1499441401.25") or ISO-8601 UTC
 *                      ("2017-07-07T15:30:01Z", fraction and +hh:mm
 *                      allowed); empty or "*": unbounded
 *    Lines starting with '#' are comments. EARLIER ROWS TAKE PRECEDENCE:
 *    a flow matching several rules gets the label of the first one in the
 *    file, so specific rules go before general ones.
 *
 * Both formats match in either orientation (the flow's source may be the
 * row's destination: packet misordering flips CICFlowMeter's direction)
 * and on time overlap: the flow's [first, last] packet times must meet
 * the row's range shifted by time_offset_ns and widened by slack_ns on
 * both sides. A flow that matches nothing gets default_label, or is
 * dropped when there is none. (cf_label_opts.match =
 * CF_LABEL_MATCH_TUPLE_DIRECTIONAL reads CICFlowMeter CSVs as netml
 * does instead: one direction, no times, the last row wins; see there.)
 *
 * CSV text: comma-separated, header names compared case-insensitively
 * with surrounding spaces trimmed (CIC headers read " Source IP"), fields
 * trimmed too; RFC 4180 quoting (quoted commas, "" for a quote, line
 * breaks inside quotes); CRLF or LF; a UTF-8 byte-order mark; rows whose
 * fields are all empty (",,,," as spreadsheet exports leave them) are
 * skipped. A malformed row fails the open with CF_ERR_CORRUPT and a message
 * "FILE:LINE: what" (the line where the row starts); a header that is
 * neither format gives CF_ERR_UNSUPPORTED.
 *
 * Speed: rows that name one host, one port and one protocol on each side
 * (every CICFlowMeter row) sit in a hash table keyed by the unordered
 * endpoint pair + protocol, each key's rows sorted by start time, so a
 * flow costs one lookup plus the rows that overlap it. Other rules are
 * checked one by one per flow, in file order.
 *
 * Label names are interned: ids 0..n-1 in order of first appearance in
 * the file, then the default label if it is new. A label that looks like
 * a number is still a name ("0" and "00" differ). Names are kept as bytes.
 *
 * A labeler is not thread-safe: cf_labeler_match updates its counters.
 */
#ifndef CUFLOW_LABEL_H
#define CUFLOW_LABEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* cf_labeler_match: the flow matched nothing and there is no default
 * label; leave it out. (Not a status code: match never does I/O.) */
#define CF_LABEL_DROP (-1)

typedef struct cf_labeler cf_labeler;

/* One finished flow. cf_flow_record has the same fields; first_ns and
 * last_ns are its bidir first/last packet times. */
typedef struct cf_label_query {
	uint8_t ip_version;             /* 4 or 6 */
	uint8_t proto;
	const uint8_t *src_ip, *dst_ip; /* 16 bytes each, network order; IPv4 in
	                                   the first 4 bytes, the rest zero */
	uint16_t src_port, dst_port;
	int64_t first_ns, last_ns;      /* first/last packet, ns since the Unix epoch (UTC) */
} cf_label_query;

/* cf_label_opts.match */
enum cf_label_match {
	CF_LABEL_MATCH_TIME = 0,             /* default: either orientation, time overlap (above) */
	CF_LABEL_MATCH_TUPLE_DIRECTIONAL = 1 /* netml 0.7.1's label_flows (cf_label_opts) */
};

typedef struct cf_label_opts {
	const char *default_label;  /* label for unmatched flows; NULL: drop them */
	int64_t time_offset_ns;     /* added to every time in the CSV before comparing;
	                               CIC-IDS2017 wrote local time (UTC-3), its pcaps
	                               are UTC: +3 h */
	int64_t slack_ns;           /* widens each row's range on both sides (clock
	                               skew, rounding); >= 0 */
	/* CICFlowMeter Timestamp date order. 0 (default): day/month/year.
	 * Evidence: CICFlowMeter prints the Timestamp with the Java pattern
	 * "dd/MM/yyyy hh:mm:ss" (BasicFlow.getTimeStamp); CIC-IDS2017 was
	 * captured 3-7 July 2017 (unb.ca/cic/datasets/ids-2017.html), so its
	 * "3/7/2017 8:55" can only be day first; the CIC-IDS2017 relabelling
	 * fixes (GintsEngelen/CNS2022_Code PR #3) write Thursday as
	 * "06/07/2017". 1: month/day/year. A month above 12 fails the open
	 * with a hint to flip this. */
	int month_first;
	/* Java's "hh" is a 12-hour clock, and the pattern has no AM/PM field,
	 * so CIC-IDS2017's 15:30 reads "3:30" (the 12-hour times, some without
	 * seconds, and the 3 h offset are ahlashkari/CICFlowMeter#173). When
	 * > 0, an hour h with 1 <= h < pm_hours_below and no AM/PM marker is
	 * read as h + 12. CIC-IDS2017 ran 9:00-17:00 local time: 8 keeps
	 * 8..12 and maps 1..7 to 13..19. 0 (default): hours as written
	 * (24-hour files such as CSE-CIC-IDS2018's "14/02/2018 08:31:01"). An
	 * explicit AM/PM always wins. */
	int pm_hours_below;
	/* CF_LABEL_MATCH_TIME (0, default): everything above.
	 * CF_LABEL_MATCH_TUPLE_DIRECTIONAL: netml 0.7.1's label_flows, which
	 * looks each flow's (src ip, dst ip, src port, dst port, protocol) up
	 * in a dict built from the CSV rows:
	 *  - the header must name Source IP, Destination IP, Source Port,
	 *    Destination Port, Protocol and Label (or the short names);
	 *    Timestamp and Flow Duration are not needed and not read, a rules
	 *    header gives CF_ERR_UNSUPPORTED;
	 *  - ports are whole numbers 0..65535 as strtod reads them ("80" and
	 *    "80.0" alike: pandas reads them so), Protocol an integer 0..255
	 *    (strtol); anything else fails the open (CF_ERR_CORRUPT, FILE:LINE);
	 *  - a row whose two addresses are not both IPv4 or both IPv6 is
	 *    skipped (netml compares the text with scapy's: it never matches);
	 *  - any Label text is a name, empty included;
	 *  - a flow matches the rows with its exact 5-tuple in its own
	 *    direction only (ports compared for ICMP too), whatever the times;
	 *    of several, the LAST row in the file wins (ambiguous counted
	 *    when their labels differ); unmatched: default_label or drop.
	 * time_offset_ns, slack_ns, month_first and pm_hours_below are not
	 * used. Other values: CF_ERR_ARG. */
	int match;
} cf_label_opts;

/* All zero: drop unmatched flows, no offset, no slack, day first,
 * 24-hour times, CF_LABEL_MATCH_TIME. */
void cf_label_opts_default(cf_label_opts *o);
/* Sets the time fields for the CIC-IDS2017 CSVs: time_offset_ns = +3 h,
 * slack_ns = 1 s, month_first = 0, pm_hours_below = 8. default_label is
 * left as it is. */
void cf_label_opts_cicids2017(cf_label_opts *o);

/* Loads a ground-truth CSV (format by header, see above); o NULL means
 * defaults. CF_OK, or CF_ERR_IO / CF_ERR_CORRUPT / CF_ERR_UNSUPPORTED /
 * CF_ERR_NOMEM / CF_ERR_ARG with a message in errbuf (may be NULL). */
int cf_labeler_open_csv(const char *path, const cf_label_opts *o, cf_labeler **out, char *errbuf);

/* Every flow gets label (id 0). CF_OK, CF_ERR_ARG (NULL or empty label)
 * or CF_ERR_NOMEM. */
int cf_labeler_open_constant(const char *label, cf_labeler **out, char *errbuf);

/* Constant labelers only: from now on every flow gets label, interned
 * (new names get the next id). For --label-from-dir, call it per input
 * file with cf_label_dir_name's answer; the report then counts flows per
 * directory. Returns the id, or CF_ERR_ARG (not a constant labeler, NULL
 * or empty label) / CF_ERR_NOMEM. */
int cf_labeler_set_constant(cf_labeler *l, const char *label);

/* The name of the directory that holds the file at path: "d/chat/a.pcap"
 * -> "chat". A path without a directory part, or whose directory part
 * ends in "." or "..", is resolved with realpath() ("a.pcap" in
 * /data/voip -> "voip"). CF_OK; CF_ERR_ARG when out is too small or the
 * directory has no name ("/x.pcap"); CF_ERR_IO when resolving fails. */
int cf_label_dir_name(const char *path, char *out, size_t out_size);

/* Label id (>= 0) for one finished flow, or CF_LABEL_DROP when it matched
 * nothing and there is no default label. Counts the flow in the report.
 * CF_ERR_ARG (< 0 too, so "drop") when l or q is NULL. A query that is
 * not IPv4/IPv6 matches nothing. */
int cf_labeler_match(cf_labeler *l, const cf_label_query *q);

/* Number of label names; ids are 0..count-1. */
uint32_t cf_labeler_count(const cf_labeler *l);
/* Name of id, NULL when out of range. Valid until close. */
const char *cf_labeler_name(const cf_labeler *l, uint32_t id);
/* Id of name, or -1 when not interned. */
int cf_labeler_find(const cf_labeler *l, const char *name);
/* "constant", "cicflowmeter" or "rules". */
const char *cf_labeler_format(const cf_labeler *l);
/* The CSV path given to open; NULL for constant labelers. */
const char *cf_labeler_source(const cf_labeler *l);

/* Counters since open. */
typedef struct cf_label_totals {
	uint64_t flows;      /* cf_labeler_match calls with valid arguments */
	uint64_t matched;    /* flows that matched at least one row (constant: all) */
	uint64_t ambiguous;  /* matched flows whose rows carry more than one label */
	uint64_t defaulted;  /* unmatched flows given the default label */
	uint64_t dropped;    /* unmatched flows left out */
} cf_label_totals;

typedef struct cf_label_counts {
	uint64_t matched;    /* flows that got this label from a row */
	uint64_t ambiguous;  /* of those, flows that other labels' rows matched too */
	uint64_t defaulted;  /* flows that got it as the default label */
} cf_label_counts;

/* Per data row of a CSV, in file order (index 0 = first data row). */
typedef struct cf_label_rule_counts {
	uint64_t line;       /* line of the file where the row starts */
	uint32_t label;      /* its label id */
	uint64_t matched;    /* flows it matched */
	uint64_t won;        /* flows it labelled (matched and took precedence) */
} cf_label_rule_counts;

void cf_labeler_totals(const cf_labeler *l, cf_label_totals *t);
/* CF_OK or CF_ERR_ARG (id out of range). */
int cf_labeler_label_counts(const cf_labeler *l, uint32_t id, cf_label_counts *c);
/* Data rows loaded (0 for constant labelers). */
uint32_t cf_labeler_rules(const cf_labeler *l);
/* CF_OK or CF_ERR_ARG (index out of range). */
int cf_labeler_rule_counts(const cf_labeler *l, uint32_t index, cf_label_rule_counts *c);

/* The match report as one JSON object (UTF-8; name bytes that are not
 * UTF-8 are written as \u00XX, i.e. read as Latin-1), ending in '\n':
 *   {"format": "rules", "source": "gt.csv", "default_label": "BENIGN"|null,
 *    "flows": N, "matched": N, "ambiguous": N, "unmatched": N,
 *    "defaulted": N, "dropped": N, "rows": N, "rows_matched": N,
 *    "labels": [{"id": 0, "name": "BENIGN", "matched": N, "ambiguous": N,
 *                "defaulted": N}, ...],
 *    "rules": [{"line": 2, "label": "DDoS", "matched": N, "won": N}, ...]}
 * "source" is null for constant labelers; "rules" (one entry per row) is
 * written for the rules format only, as CICFlowMeter files have ~10^5
 * rows per day (use cf_labeler_rule_counts for those). CF_OK or CF_ERR_IO. */
int cf_labeler_report_json(const cf_labeler *l, FILE *f);

void cf_labeler_close(cf_labeler *l);

#ifdef __cplusplus
}
#endif

#endif
