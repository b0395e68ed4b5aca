/* DNS and DHCP message parsers (cuflow/iot.h): bounds-checked on every
 * read, since the bytes come from the wire (fuzzed: tests/fuzz). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include "cuflow/iot.h"

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Reads the name at *off into out (lower-case, dotted; cap bytes incl. the
 * NUL, longer names cut), following compression pointers; *off moves past
 * the name as it stands in place. 0, or -1 when malformed. */
static int read_name(const uint8_t *p, size_t n, size_t *off, char *out, size_t cap)
{
	size_t at = *off, len = 0, end = 0;
	int jumped = 0, hops = 0;
	out[0] = 0;
	for (;;) {
		if (at >= n)
			return -1;
		uint8_t l = p[at];
		if (l == 0) {
			if (!jumped)
				end = at + 1;
			break;
		}
		if ((l & 0xc0) == 0xc0) {
			if (at + 1 >= n || ++hops > 64)
				return -1;
			if (!jumped)
				end = at + 2;
			jumped = 1;
			at = (size_t)(l & 0x3f) << 8 | p[at + 1];
			continue;
		}
		if (l & 0xc0)
			return -1; /* the 0x40 / 0x80 label types are obsolete */
		if (at + 1 + l > n)
			return -1;
		for (size_t i = 0; i < (size_t)l + 1; i++) {
			/* a dot before every label but the first */
			char ch = i == 0 ? '.' : (char)tolower(p[at + i]);
			if (i == 0 && len == 0)
				continue;
			if (i && (p[at + i] < 0x21 || p[at + i] > 0x7e))
				ch = '?';
			if (len + 1 < cap)
				out[len++] = ch;
		}
		at += 1 + (size_t)l;
	}
	out[len < cap ? len : cap - 1] = 0;
	*off = end;
	return 0;
}

static void add_answer(cf_dns_msg *m, size_t *alen, const char *s)
{
	size_t k = strlen(s);
	if (*alen + (*alen ? 1 : 0) + k + 1 > sizeof m->answers)
		return; /* full: whole answers only */
	if (*alen)
		m->answers[(*alen)++] = ' ';
	memcpy(m->answers + *alen, s, k + 1);
	*alen += k;
}

int cf_dns_parse(const uint8_t *p, size_t n, cf_dns_msg *m)
{
	memset(m, 0, sizeof *m);
	if (n < 12)
		return CF_ERR_CORRUPT;
	m->id = rd16(p);
	m->qr = p[2] >> 7;
	m->opcode = (p[2] >> 3) & 15;
	m->rcode = p[3] & 15;
	m->qdcount = rd16(p + 4);
	m->ancount = rd16(p + 6);
	if (!m->qdcount)
		return CF_ERR_CORRUPT;
	size_t off = 12;
	if (read_name(p, n, &off, m->qname, sizeof m->qname) < 0 || off + 4 > n)
		return CF_ERR_CORRUPT;
	m->qtype = rd16(p + off);
	m->qclass = rd16(p + off + 2);
	off += 4;
	/* the other questions (rare) are skipped */
	for (uint16_t q = 1; q < m->qdcount; q++) {
		char skip[CF_DNS_NAME_MAX + 1];
		if (read_name(p, n, &off, skip, sizeof skip) < 0 || off + 4 > n)
			return CF_OK; /* the first question stands */
		off += 4;
	}
	size_t alen = 0;
	for (uint16_t a = 0; a < m->ancount; a++) {
		char name[CF_DNS_NAME_MAX + 1], txt[CF_DNS_NAME_MAX + 1];
		if (read_name(p, n, &off, name, sizeof name) < 0 || off + 10 > n)
			break;
		uint16_t type = rd16(p + off), rdlen = rd16(p + off + 8);
		size_t rd = off + 10;
		if (rd + rdlen > n)
			break;
		if (type == 1 && rdlen == 4) {
			inet_ntop(AF_INET, p + rd, txt, sizeof txt);
			add_answer(m, &alen, txt);
		} else if (type == 28 && rdlen == 16) {
			inet_ntop(AF_INET6, p + rd, txt, sizeof txt);
			add_answer(m, &alen, txt);
		} else if (type == 5 || type == 12) { /* CNAME, PTR */
			size_t o2 = rd;
			if (read_name(p, rd + rdlen, &o2, txt, sizeof txt) == 0)
				add_answer(m, &alen, txt);
		}
		off = rd + rdlen;
	}
	return CF_OK;
}

/* Option bytes as text: printable ASCII kept, the rest '?'. */
static void opt_text(char *out, size_t cap, const uint8_t *v, size_t k)
{
	size_t j = 0;
	for (size_t i = 0; i < k && j + 1 < cap; i++)
		out[j++] = v[i] >= 0x20 && v[i] < 0x7f ? (char)v[i] : '?';
	out[j] = 0;
}

int cf_dhcp_parse(const uint8_t *p, size_t n, cf_dhcp_msg *m)
{
	memset(m, 0, sizeof *m);
	/* op, htype 1 (Ethernet), hlen 6, the fixed 236 bytes, the cookie */
	if (n < 240 || (p[0] != 1 && p[0] != 2) || p[1] != 1 || p[2] != 6 || rd16(p + 236) != 0x6382 ||
	    rd16(p + 238) != 0x5363)
		return CF_ERR_CORRUPT;
	m->op = p[0];
	memcpy(m->ciaddr, p + 12, 4);
	memcpy(m->yiaddr, p + 16, 4);
	memcpy(m->chaddr, p + 28, 6);
	for (size_t at = 240; at < n;) {
		uint8_t code = p[at];
		if (code == 255)
			break;
		if (code == 0) {
			at++;
			continue;
		}
		if (at + 2 > n || at + 2 + p[at + 1] > n)
			break; /* a cut option: what came before stands */
		size_t k = p[at + 1];
		const uint8_t *v = p + at + 2;
		if (code == 53 && k >= 1)
			m->msg_type = v[0];
		else if (code == 12)
			opt_text(m->hostname, sizeof m->hostname, v, k);
		else if (code == 60)
			opt_text(m->vendor_class, sizeof m->vendor_class, v, k);
		else if (code == 50 && k == 4)
			memcpy(m->requested, v, 4);
		at += 2 + k;
	}
	return CF_OK;
}
