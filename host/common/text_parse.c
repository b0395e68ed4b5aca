/* Shared text-field parsing (text_parse.h). */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/text_parse.h"

int cf_parse_ip_text(const char *s, uint8_t ip[16], uint8_t *ver)
{
	memset(ip, 0, 16);
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, ip) != 1)
			return -1;
		*ver = 6;
	} else {
		if (inet_pton(AF_INET, s, ip) != 1)
			return -1;
		*ver = 4;
	}
	return 0;
}

int cf_parse_ip_proto(const char *s, uint8_t *out)
{
	static const struct {
		const char *name;
		uint8_t num;
	} names[] = {
		{"icmp", 1}, {"tcp", 6}, {"udp", 17}, {"gre", 47}, {"icmpv6", 58}, {"ipv6-icmp", 58}, {"sctp", 132},
	};
	if (*s >= '0' && *s <= '9') {
		unsigned v = 0;
		for (; *s; s++) {
			if (*s < '0' || *s > '9' || (v = v * 10 + (unsigned)(*s - '0')) > 255)
				return -1;
		}
		*out = (uint8_t)v;
		return 0;
	}
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcasecmp(s, names[i].name)) {
			*out = names[i].num;
			return 0;
		}
	return -1;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int64_t y, unsigned m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

int cf_civil_seconds(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t s, int64_t *out)
{
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, (unsigned)mo) || h < 0 || h > 23 || mi < 0 ||
	    mi > 59 || s < 0 || s > 60)
		return -1;
	*out = ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60 + s;
	return 0;
}
