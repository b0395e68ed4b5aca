/*
 * Parsing of the text fields the CSV readers share (internal): the label
 * files (host/label/label.c) and cuflow windows' entries
 * (host/windows/window_csv.c).
 */
#ifndef CUFLOW_COMMON_TEXT_PARSE_H
#define CUFLOW_COMMON_TEXT_PARSE_H

#include <stdint.h>

/* An IPv4 or IPv6 address into ip[16] (zero padded), *ver 4 or 6. 0 or -1. */
int cf_parse_ip_text(const char *s, uint8_t ip[16], uint8_t *ver);
/* An IP protocol: 0..255 or a name (icmp, tcp, udp, gre, icmpv6,
 * ipv6-icmp, sctp; any case). 0 or -1. */
int cf_parse_ip_proto(const char *s, uint8_t *out);
/* Seconds since the epoch of a proleptic Gregorian date and time (any
 * year), -1 when a field is out of range (the day against its month;
 * second 60 allowed). */
int cf_civil_seconds(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s, int64_t *out);

#endif
