/*
 * Entries from a CSV (docs/windows.md §1): a header row naming ts, src_ip,
 * src_port, dst_ip, dst_port, ip_protocol, state and optionally bytes_up,
 * bytes_down (other columns ignored). ts is epoch seconds as a decimal
 * (up to 9 fractional digits, parsed exactly into ns) or ISO-8601 with an
 * offset. A bad row stops the run naming the file and line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "window_internal.h"
#include "common/csv_reader.h"
#include "common/text_parse.h"

enum { C_TS, C_SRC, C_SPORT, C_DST, C_DPORT, C_PROTO, C_STATE, C_UP, C_DOWN, C_N };
static const char *const col_names[C_N] = {"ts",          "src_ip", "src_port", "dst_ip",    "dst_port",
                                           "ip_protocol", "state",  "bytes_up", "bytes_down"};

/* Exact decimal seconds -> ns. 0 or -1. */
static int parse_decimal_ns(const char *s, int64_t *out)
{
	int neg = 0;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!isdigit((unsigned char)*s) && !(*s == '.' && isdigit((unsigned char)s[1])))
		return -1;
	__int128 v = 0;
	int digits = 0;
	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s++ - '0');
		if (++digits > 12)
			return -1;
	}
	int64_t frac = 0;
	int fd = 0;
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			if (++fd > 9)
				return -1;
			frac = frac * 10 + (*s++ - '0');
		}
		for (int i = fd; i < 9; i++)
			frac *= 10;
	}
	if (*s)
		return -1;
	v = v * 1000000000 + frac;
	if (v > CF_WINDOWS_TS_MAX)
		return -1;
	*out = (int64_t)(neg ? -v : v);
	return 0;
}

static int num(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + (*p)[i] - '0';
	}
	*p += n;
	*out = v;
	return 0;
}

/* ISO-8601 with an offset: YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM|+HHMM). */
static int parse_iso_ns(const char *s, int64_t *out)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0;
	const char *p = s;
	if (num(&p, 4, &Y) || *p++ != '-' || num(&p, 2, &M) || *p++ != '-' || num(&p, 2, &D) ||
	    (*p != 'T' && *p != ' ') || (p++, num(&p, 2, &h)) || *p++ != ':' || num(&p, 2, &m) || *p++ != ':' ||
	    num(&p, 2, &sec))
		return -1;
	int64_t frac = 0;
	if (*p == '.') {
		int fd = 0;
		p++;
		while (isdigit((unsigned char)*p)) {
			if (++fd > 9)
				return -1;
			frac = frac * 10 + (*p++ - '0');
		}
		if (!fd)
			return -1;
		for (int i = fd; i < 9; i++)
			frac *= 10;
	}
	int sign = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (num(&p, 2, &oh))
			return -1;
		if (*p == ':')
			p++;
		if (num(&p, 2, &om))
			return -1;
	} else {
		return -1; /* no offset: the local time zone would decide, so refuse */
	}
	int64_t t;
	if (*p || oh > 23 || om > 59 || cf_civil_seconds(Y, M, D, h, m, sec, &t))
		return -1;
	t -= sign * (oh * 3600 + om * 60);
	if (t > CF_WINDOWS_TS_MAX / 1000000000 - 1 || t < -(CF_WINDOWS_TS_MAX / 1000000000 - 1))
		return -1;
	*out = t * 1000000000 + frac;
	return 0;
}

static int parse_u(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int cf_windows_add_csv(cf_windows *w, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(w->err, sizeof w->err, "%s: %s", path, strerror(errno));
		return CF_ERR_IO;
	}
	csvr r;
	csvr_init(&r, f, path);
	int col[C_N];
	int st = CF_OK, rc;
	const char *why = NULL;
	for (int i = 0; i < C_N; i++)
		col[i] = -1;
	if ((rc = csvr_next(&r)) != 1) {
		why = rc == 0 ? "empty file: a header row is needed" : "unreadable header";
		goto bad;
	}
	for (uint32_t i = 0; i < r.nfld; i++)
		for (int c = 0; c < C_N; c++)
			if (col[c] < 0 && !strcmp(r.fld[i], col_names[c]))
				col[c] = (int)i;
	for (int c = 0; c < C_UP; c++)
		if (col[c] < 0) {
			snprintf(w->err, sizeof w->err, "%s:%llu: the header has no column \"%s\"", path,
			         (unsigned long long)r.rec_line, col_names[c]);
			st = CF_ERR_ARG;
			goto out;
		}
	while ((rc = csvr_next(&r)) == 1) {
		cf_window_entry e;
		memset(&e, 0, sizeof e);
		const char *fv[C_N];
		for (int c = 0; c < C_N; c++) {
			fv[c] = col[c] >= 0 && (uint32_t)col[c] < r.nfld ? r.fld[col[c]] : NULL;
			if (!fv[c] && c < C_UP) {
				why = "too few fields";
				goto bad;
			}
		}
		uint8_t v2;
		uint64_t u;
		if (parse_decimal_ns(fv[C_TS], &e.ts_ns) && parse_iso_ns(fv[C_TS], &e.ts_ns)) {
			why = "ts is neither epoch seconds (at most 9 decimals, |ts| <= 4.6e9 s) nor ISO-8601 with an offset";
			goto bad;
		}
		if (cf_parse_ip_text(fv[C_SRC], e.src_ip, &e.ip_version) || cf_parse_ip_text(fv[C_DST], e.dst_ip, &v2)) {
			why = "src_ip / dst_ip is not an IPv4 or IPv6 address";
			goto bad;
		}
		if (v2 != e.ip_version)
			e.dst_ip_version = v2;
		if (parse_u(fv[C_SPORT], 65535, &u) || (e.src_port = (uint16_t)u, parse_u(fv[C_DPORT], 65535, &u))) {
			why = "src_port / dst_port is not 0..65535";
			goto bad;
		}
		e.dst_port = (uint16_t)u;
		if (cf_parse_ip_proto(fv[C_PROTO], &e.proto)) {
			why = "ip_protocol is neither 0..255 nor a protocol name (tcp, udp, icmp, icmpv6, sctp, gre)";
			goto bad;
		}
		int s = cf_window_state_parse(fv[C_STATE], strlen(fv[C_STATE]));
		if (s < 0) {
			why = "state is not one of closed, established, reset, new, closing, connecting";
			goto bad;
		}
		e.state = (uint8_t)s;
		if ((fv[C_UP] && fv[C_UP][0] && parse_u(fv[C_UP], UINT64_MAX, &e.bytes_up)) ||
		    (fv[C_DOWN] && fv[C_DOWN][0] && parse_u(fv[C_DOWN], UINT64_MAX, &e.bytes_down))) {
			why = "bytes_up / bytes_down is not a non-negative integer";
			goto bad;
		}
		if ((st = cf_windows_add_one(w, &e, NULL)) != CF_OK)
			goto out;
	}
	if (rc < 0) {
		why = rc == -1 ? "out of memory" : rc == -2 ? "unterminated quote" : "read error";
		goto bad;
	}
	goto out;
bad:
	snprintf(w->err, sizeof w->err, "%s:%llu: %s", path, (unsigned long long)r.rec_line, why);
	st = CF_ERR_CORRUPT;
out:
	csvr_free(&r);
	fclose(f);
	return st;
}
