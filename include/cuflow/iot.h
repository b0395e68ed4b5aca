/*
 * IoT sessions (seed 002, docs/sessions.md): one-direction sessions with
 * the device that sent them, what the traffic says about each device
 * (vendor, DHCP hostname, addresses, DNS names), and the SQLite layout the
 * seed's query runs on unchanged.
 *
 * The pieces are public on their own: the IEEE registry lookup, the
 * device-type mapping, the DNS and DHCP message parsers, and the
 * "sessions" producer (cuflow/producer.h) that uses them all.
 */
#ifndef CUFLOW_IOT_H
#define CUFLOW_IOT_H

#include <stddef.h>
#include <stdint.h>

#include "cuflow/status.h"
#include "cuflow/producer.h"
#include "cuflow/run.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ vendors */

/* The IEEE registries (MA-L 24-bit, MA-M 28-bit, MA-S and IAB 36-bit
 * prefixes) as Debian's ieee-data installs them (oui.csv, mam.csv,
 * oui36.csv, iab.csv), read at run time. */
typedef struct cf_oui_registry cf_oui_registry;

/* dir: the directory of the CSV files; NULL: $CUFLOW_IEEE_DATA, else
 * /usr/share/ieee-data. Files missing are skipped; none at all, or a file
 * that is not the registry's CSV, is an error (CF_ERR_IO / CF_ERR_CORRUPT,
 * the message names the file and line). */
int cf_oui_registry_open(const char *dir, cf_oui_registry **out, char *errbuf);
/* The organisation of the longest registered prefix of mac, or NULL (none,
 * or a locally administered or group address: see cf_mac_is_local).
 * *bits (may be NULL): 36, 28, 24, or 0. The name lives as long as r. */
const char *cf_oui_lookup(const cf_oui_registry *r, const uint8_t mac[6], int *bits);
/* Assignments loaded. */
size_t cf_oui_registry_size(const cf_oui_registry *r);
void cf_oui_registry_close(cf_oui_registry *r);

/* 1 for a locally administered unicast MAC (bit 1 of the first byte). */
static inline int cf_mac_is_local(const uint8_t mac[6]) { return (mac[0] & 3) == 2; }
/* 1 for a group (multicast or broadcast) MAC. */
static inline int cf_mac_is_group(const uint8_t mac[6]) { return mac[0] & 1; }

/* ------------------------------------------------------------ device types */

/* A user's labels: a CSV with the header `key,device_type`, key being a
 * MAC (aa:bb:cc:dd:ee:ff, '-' or no separators too), a prefix of one
 * (hex digits, 6 to 11 of them: an OUI, MA-M or MA-S block) or a
 * manufacturer's name (as the registry spells it, compared without regard
 * to case). The most specific wins: MAC, then the longest prefix, then
 * the name. A bad line is an error naming FILE:LINE. */
typedef struct cf_device_types cf_device_types;
int cf_device_types_open(const char *csv, cf_device_types **out, char *errbuf);
/* The device type of mac (manufacturer may be NULL), or NULL. */
const char *cf_device_types_lookup(const cf_device_types *t, const uint8_t mac[6], const char *manufacturer);
size_t cf_device_types_count(const cf_device_types *t);
void cf_device_types_close(cf_device_types *t);

/* ------------------------------------------------------------ DNS, DHCP */

#define CF_DNS_NAME_MAX 255
#define CF_DNS_ANSWERS_MAX 512

/* One DNS message's header, first question and answers. */
typedef struct cf_dns_msg {
	uint16_t id, qdcount, ancount;
	uint8_t qr, opcode, rcode;
	uint16_t qtype, qclass;            /* of the first question */
	char qname[CF_DNS_NAME_MAX + 1];   /* lower-case, dotted, no trailing dot; "" for the root */
	char answers[CF_DNS_ANSWERS_MAX];  /* A, AAAA, CNAME, PTR data of the answer section, space-separated
	                                      (cut at a whole answer when full) */
} cf_dns_msg;

/* Parses a DNS message (the UDP payload, or a TCP message without its
 * length prefix). Compression pointers are followed (forward and backward,
 * at most 64 hops). CF_OK, or CF_ERR_CORRUPT when the message is cut or
 * malformed, or has no question. */
int cf_dns_parse(const uint8_t *p, size_t n, cf_dns_msg *m);

/* What a DHCP (BOOTP) message says about its client. */
typedef struct cf_dhcp_msg {
	uint8_t op;           /* 1 request (client), 2 reply (server) */
	uint8_t msg_type;     /* option 53 (1 DISCOVER .. 8 INFORM), 0 when absent */
	uint8_t chaddr[6];    /* the client's MAC */
	uint8_t ciaddr[4], yiaddr[4], requested[4]; /* requested: option 50 (zeros when absent) */
	char hostname[256];   /* option 12, "" when absent (bytes outside printable ASCII as '?') */
	char vendor_class[256]; /* option 60 */
} cf_dhcp_msg;

/* Parses a BOOTP/DHCP message with an Ethernet hardware address and the
 * DHCP magic cookie. CF_OK or CF_ERR_CORRUPT. */
int cf_dhcp_parse(const uint8_t *p, size_t n, cf_dhcp_msg *m);

/* ------------------------------------------------------------ sessions */

/* "sessions": needs frames (DNS and DHCP payloads). Tables:
 *   sessions   one row per one-direction session (sessionid: a CF_COLUMN_RUN_ID)
 *   devices    one row per sending MAC per input (merged across inputs by the
 *              SQLite layout: first/last seen, packets, bytes, hostname)
 *   device_ips one row per (MAC, source IP) per input (at most 64 IPs per MAC
 *              and input; more are counted)
 *   dns        one row per DNS query (sessionid of the query's session)
 * docs/sessions.md defines every column. */
typedef struct cf_sessions_producer_config {
	double idle_timeout_s;       /* a session quiet this long ends ("idle"); default 120 */
	double active_timeout_s;     /* a session this long is cut ("active"); 0 (default): never */
	const char *ieee_dir;        /* cf_oui_registry_open's dir (NULL: the default) */
	const char *device_types;    /* a CSV for cf_device_types_open, or NULL */
	const char *default_type;    /* the type of devices the CSV does not name; NULL: none (SQL NULL) */
	double dns_timeout_s;        /* a query unanswered this long is written without answer; default 10 */
	uint32_t batch_rows;         /* rows per emitted batch (default 4096) */
} cf_sessions_producer_config;
void cf_sessions_producer_config_default(cf_sessions_producer_config *c);
const cf_producer_ops *cf_producer_sessions(void);

/* The SQLite layout of the sessions tables (cuflow/run.h CF_RUN_SQLITE):
 * keys, the merge of devices across inputs, the view
 * v_session_mnf_devicetype(sessionid, mac, manufacturer, device_type) the
 * seed's query joins, indexes. append as given. */
void cf_sessions_sqlite_layout(cf_run_sqlite *out, int append);

#ifdef __cplusplus
}
#endif

#endif
