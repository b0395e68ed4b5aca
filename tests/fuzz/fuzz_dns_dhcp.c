/*
 * Fuzz target: the DNS and DHCP message parsers of cuflow sessions
 * (cf_dns_parse, cf_dhcp_parse, host/iot/dns_dhcp.c), which read bytes off
 * the wire. The whole input is tried as both. Checked besides memory
 * safety: names and answers are NUL-terminated within their buffers, names
 * are lower-case printable ASCII, and the same bytes parse the same way
 * twice.
 */
#include <stdint.h>
#include <string.h>

#include "cuflow/iot.h"
#include "fuzz_common.h"

static void check_text(const char *s, size_t cap, const char *what)
{
	size_t n = strnlen(s, cap);
	if (n == cap)
		FUZZ_FAIL("%s not NUL-terminated", what);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || (s[i] >= 'A' && s[i] <= 'Z' && what[0] == 'q'))
			FUZZ_FAIL("%s has byte 0x%02x at %zu", what, (unsigned char)s[i], i);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cf_dns_msg a, b;
	int ra = cf_dns_parse(data, size, &a), rb = cf_dns_parse(data, size, &b);
	if (ra != rb || memcmp(&a, &b, sizeof a))
		FUZZ_FAIL("cf_dns_parse differs between two calls");
	if (ra != CF_OK && ra != CF_ERR_CORRUPT)
		FUZZ_FAIL("cf_dns_parse returned %d", ra);
	if (ra == CF_OK) {
		check_text(a.qname, sizeof a.qname, "qname");
		check_text(a.answers, sizeof a.answers, "answers");
	}
	cf_dhcp_msg d;
	int rd = cf_dhcp_parse(data, size, &d);
	if (rd != CF_OK && rd != CF_ERR_CORRUPT)
		FUZZ_FAIL("cf_dhcp_parse returned %d", rd);
	if (rd == CF_OK) {
		check_text(d.hostname, sizeof d.hostname, "hostname");
		check_text(d.vendor_class, sizeof d.vendor_class, "vendor_class");
	}
	return 0;
}
