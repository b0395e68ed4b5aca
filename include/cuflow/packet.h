/*
 * Packet metadata: what the decoder extracts from one captured frame.
 *
 * cf_pkt is the record one frame decodes into. (The backends read many
 * records as a structure of arrays, cf_pkt_batch: library-internal.)
 */
#ifndef CUFLOW_PACKET_H
#define CUFLOW_PACKET_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Layers seen while decoding a frame, anywhere in the chain (outer and
 * inner headers of a tunnel both set their bits). info's per-protocol
 * counts are counts of frames with a bit set, the way tshark counts a
 * protocol that appears in frame.protocols. */
enum cf_layer {
	CF_LAYER_IPV4 = 1u << 0,
	CF_LAYER_IPV6 = 1u << 1,
	CF_LAYER_TCP = 1u << 2,
	CF_LAYER_UDP = 1u << 3,
	CF_LAYER_ICMP = 1u << 4,
	CF_LAYER_ICMPV6 = 1u << 5,
	CF_LAYER_SCTP = 1u << 6,
	CF_LAYER_OTHER_L4 = 1u << 7,  /* an IP payload that is none of the above (IGMP, ESP, OSPF, ...) */
	CF_LAYER_VLAN = 1u << 8,
	CF_LAYER_MPLS = 1u << 9,
	CF_LAYER_PPPOE = 1u << 10,
	CF_LAYER_TUNNEL = 1u << 11,   /* a tunnel was decapsulated */
	CF_LAYER_ARP = 1u << 12
};

/* Why a frame did not yield an IP 5-tuple. CF_SKIP_NONE means it did.
 * Names (cf_skip_name) are stable: they are JSON keys of `cuflow info`. */
enum cf_skip {
	CF_SKIP_NONE = 0,
	CF_SKIP_UNKNOWN_LINKTYPE,    /* link type cuflow does not decode */
	CF_SKIP_NON_IP,              /* ARP, LLDP, STP, 802.11 management, ... */
	CF_SKIP_TRUNCATED_LINK,      /* capture ends inside the link-layer header(s) */
	CF_SKIP_TRUNCATED_IP,        /* capture ends inside the IPv4/IPv6 header or its extension headers */
	CF_SKIP_TRUNCATED_TRANSPORT, /* capture ends inside the TCP/UDP/ICMP/SCTP header */
	CF_SKIP_TRUNCATED_TUNNEL,    /* capture ends inside a tunnel header */
	CF_SKIP_BAD_LINK,            /* an impossible link-layer header */
	CF_SKIP_BAD_IP,              /* bad version, header length or total length */
	CF_SKIP_BAD_TRANSPORT,       /* e.g. TCP data offset below 5 */
	CF_SKIP_NONFIRST_FRAGMENT,   /* IP fragment with offset > 0: no transport header */
	CF_SKIP_TUNNEL_DEPTH,        /* more nested encapsulations than cuflow follows */
	CF_SKIP_FILTERED,            /* rejected by the --filter BPF expression */
	CF_SKIP_COUNT
};

/* Tunnel kinds, also the bits of cf_decode_opts.decap. */
enum cf_tunnel {
	CF_TUNNEL_NONE = 0,
	CF_TUNNEL_GRE = 1,    /* GRE, including ERSPAN type I/II (tunnel id = GRE key or ERSPAN session) */
	CF_TUNNEL_IPIP = 2,   /* IPv4-in-IPv4, 6in4, 4in6, 6in6 */
	CF_TUNNEL_VXLAN = 3,  /* UDP 4789, tunnel id = VNI */
	CF_TUNNEL_GENEVE = 4, /* UDP 6081, tunnel id = VNI */
	CF_TUNNEL_GTP = 5,    /* GTP-U, UDP 2152, tunnel id = TEID */
	CF_TUNNEL_TEREDO = 6, /* UDP 3544 carrying IPv6 */
	CF_TUNNEL_CAPWAP = 7, /* CAPWAP data, UDP 5247 */
	CF_TUNNEL_TZSP = 8,   /* TZSP, UDP 37008 */
	CF_TUNNEL_COUNT
};

/* cf_pkt.flags */
enum cf_pkt_flag {
	CF_PKT_TRUNCATED = 1u << 0,    /* headers complete, but fewer bytes captured than the IP length says */
	CF_PKT_FRAGMENT = 1u << 1,     /* first fragment of a fragmented IP datagram */
	CF_PKT_IP_OPTIONS = 1u << 2,   /* IPv4 options or IPv6 extension headers present */
	CF_PKT_TUNNEL_INNER = 1u << 3, /* the addresses are those of the inner packet */
	CF_PKT_SHORT_L4 = 1u << 4      /* a first fragment too short for its whole TCP/UDP/SCTP
	                                  header: ports (and TCP flags) as far as present, the rest 0 */
};

/* TCP flag bits in cf_pkt.tcp_flags: the 8 classic flags in their wire
 * positions plus NS as bit 8. */
enum cf_tcp_flag {
	CF_TCP_FIN = 0x001,
	CF_TCP_SYN = 0x002,
	CF_TCP_RST = 0x004,
	CF_TCP_PSH = 0x008,
	CF_TCP_ACK = 0x010,
	CF_TCP_URG = 0x020,
	CF_TCP_ECE = 0x040,
	CF_TCP_CWR = 0x080,
	CF_TCP_NS = 0x100
};

/* One decoded frame. Addresses are in network byte order; an IPv4 address
 * fills the first 4 bytes of src_ip/dst_ip and the rest is zero. Ports,
 * sequence numbers etc. are in host byte order. Fields of layers that are
 * absent are zero. */
typedef struct cf_pkt {
	int64_t ts_ns;        /* capture time, ns since the Unix epoch */
	uint32_t caplen;      /* bytes captured */
	uint32_t wirelen;     /* original frame length */
	uint32_t ip_len;      /* IPv4 total length, or IPv6 payload length + 40 */
	uint32_t payload_len; /* transport payload length per the headers */
	uint32_t seq, ack;    /* TCP */
	uint32_t ip_id;       /* IPv4 identification; IPv6 fragment identification */
	uint32_t tunnel_id;   /* VNI, TEID, GRE key, ERSPAN session id; 0 without tunnel */
	uint16_t linktype;    /* LINKTYPE_* of the interface */
	uint16_t layers;      /* enum cf_layer bits */
	uint16_t vlan[2];     /* outer then inner 802.1Q/802.1ad VLAN id */
	uint16_t sport, dport;/* TCP/UDP/SCTP ports; ICMP echo identifier in sport */
	uint16_t tcp_flags;   /* enum cf_tcp_flag bits */
	uint16_t window;      /* TCP window (unscaled) */
	uint16_t l3_hdr_len;  /* IP header length incl. options / extension headers */
	uint16_t l4_hdr_len;  /* transport header length */
	uint16_t l3_offset;   /* where the recorded IP header starts in the frame (with
	                         CF_PKT_TRUNCATED, caplen - l3_offset IP bytes were captured) */
	uint8_t ip_version;   /* 4, 6 or 0 */
	uint8_t proto;        /* IP protocol of the (inner) packet */
	uint8_t ttl;          /* IPv4 TTL or IPv6 hop limit */
	uint8_t vlan_count;   /* number of VLAN tags (may exceed 2; only 2 ids kept) */
	uint8_t icmp_type, icmp_code;
	uint8_t tunnel_type;  /* enum cf_tunnel of the innermost decapsulation */
	uint8_t skip;         /* enum cf_skip */
	uint8_t flags;        /* enum cf_pkt_flag */
	uint8_t mpls_count;   /* MPLS labels popped */
	uint8_t src_mac[6], dst_mac[6];
	uint8_t src_ip[16], dst_ip[16];
} cf_pkt;

/* Stable lower-case name of a skip reason ("truncated_ip", ...). */
const char *cf_skip_name(int skip);
/* Stable lower-case name of layer bit i of enum cf_layer ("ipv4", "ipv6",
 * "tcp", "udp", "icmp", "icmpv6", "sctp", "other", "vlan", "mpls",
 * "pppoe", "tunnel", "arp"), as `cuflow info` names its counts; NULL when
 * i is out of range. */
const char *cf_layer_name(int i);
/* Stable lower-case name of a tunnel kind ("gre", "vxlan", ...). */
const char *cf_tunnel_name(int tunnel);

#ifdef __cplusplus
}
#endif

#endif
