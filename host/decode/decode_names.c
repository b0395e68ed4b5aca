/*
 * Decoder options, the --decap list, and the stable names of skip reasons
 * and tunnel kinds (they are JSON keys of `cuflow info`: never rename).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cuflow/cuflow.h"

static const char *const skip_names[CF_SKIP_COUNT] = {
	[CF_SKIP_NONE] = "none",
	[CF_SKIP_UNKNOWN_LINKTYPE] = "unknown_linktype",
	[CF_SKIP_NON_IP] = "non_ip",
	[CF_SKIP_TRUNCATED_LINK] = "truncated_link",
	[CF_SKIP_TRUNCATED_IP] = "truncated_ip",
	[CF_SKIP_TRUNCATED_TRANSPORT] = "truncated_transport",
	[CF_SKIP_TRUNCATED_TUNNEL] = "truncated_tunnel",
	[CF_SKIP_BAD_LINK] = "bad_link",
	[CF_SKIP_BAD_IP] = "bad_ip",
	[CF_SKIP_BAD_TRANSPORT] = "bad_transport",
	[CF_SKIP_NONFIRST_FRAGMENT] = "nonfirst_fragment",
	[CF_SKIP_TUNNEL_DEPTH] = "tunnel_depth",
	[CF_SKIP_FILTERED] = "filtered",
};

static const char *const tunnel_names[CF_TUNNEL_COUNT] = {
	[CF_TUNNEL_NONE] = "none",
	[CF_TUNNEL_GRE] = "gre",
	[CF_TUNNEL_IPIP] = "ipip",
	[CF_TUNNEL_VXLAN] = "vxlan",
	[CF_TUNNEL_GENEVE] = "geneve",
	[CF_TUNNEL_GTP] = "gtp",
	[CF_TUNNEL_TEREDO] = "teredo",
	[CF_TUNNEL_CAPWAP] = "capwap",
	[CF_TUNNEL_TZSP] = "tzsp",
};

CF_STATIC_ASSERT(CF_DECAP_ALL == (((1u << CF_TUNNEL_COUNT) - 1) & ~1u),
                 "CF_DECAP_ALL must cover every tunnel kind");

const char *cf_skip_name(int skip)
{
	if (skip < 0 || skip >= CF_SKIP_COUNT || !skip_names[skip])
		return "unknown";
	return skip_names[skip];
}

const char *cf_tunnel_name(int tunnel)
{
	if (tunnel < 0 || tunnel >= CF_TUNNEL_COUNT || !tunnel_names[tunnel])
		return "unknown";
	return tunnel_names[tunnel];
}

void cf_decode_opts_default(cf_decode_opts *o)
{
	o->decap = CF_DECAP_ALL;
	o->max_depth = 4;
}

int cf_decode_parse_decap(const char *list, uint32_t *decap, char *errbuf)
{
	static const char expected[] =
		"expected all, none or a comma list of gre, ipip, vxlan, geneve, gtp, teredo, capwap, tzsp";
	uint32_t bits = 0;
	const char *s = list, *e;
	size_t n;
	int t;

	if (!list || !decap) {
		if (errbuf)
			snprintf(errbuf, CF_ERRBUF_SIZE, "--decap: no list given");
		return CF_ERR_ARG;
	}
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strcspn(s, ",");
		n = (size_t)(e - s);
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n == 3 && !strncasecmp(s, "all", 3)) {
			bits |= CF_DECAP_ALL;
		} else if (n == 4 && !strncasecmp(s, "none", 4)) {
			/* contributes nothing */
		} else {
			for (t = CF_TUNNEL_NONE + 1; t < CF_TUNNEL_COUNT; t++)
				if (strlen(tunnel_names[t]) == n && !strncasecmp(s, tunnel_names[t], n))
					break;
			if (t == CF_TUNNEL_COUNT) {
				if (errbuf && n)
					snprintf(errbuf, CF_ERRBUF_SIZE, "--decap: unknown tunnel \"%.*s\" (%s)",
					         (int)(n > 200 ? 200 : n), s, expected);
				else if (errbuf)
					snprintf(errbuf, CF_ERRBUF_SIZE, "--decap: empty name in \"%.200s\" (%s)",
					         list, expected);
				return CF_ERR_ARG;
			}
			bits |= CF_DECAP_BIT(t);
		}
		if (!*e)
			break;
		s = e + 1;
	}
	*decap = bits;
	return CF_OK;
}

const char *cf_layer_name(int i)
{
	static const char *const names[] = {"ipv4", "ipv6", "tcp",  "udp",   "icmp",   "icmpv6", "sctp",
	                                    "other", "vlan", "mpls", "pppoe", "tunnel", "arp"};
	return i >= 0 && i < (int)(sizeof names / sizeof names[0]) ? names[i] : NULL;
}

const char *cf_format_name(int f)
{
	switch (f) {
	case CF_FORMAT_PCAP: return "pcap";
	case CF_FORMAT_PCAPNG: return "pcapng";
	case CF_FORMAT_SNOOP: return "snoop";
	case CF_FORMAT_LIBPCAP: return "libpcap";
	}
	return "unknown";
}

const char *cf_compression_name(int c)
{
	switch (c) {
	case CF_COMPRESSION_GZIP: return "gzip";
	case CF_COMPRESSION_ZSTD: return "zstd";
	case CF_COMPRESSION_LZ4: return "lz4";
	case CF_COMPRESSION_XZ: return "xz";
	}
	return "none";
}
