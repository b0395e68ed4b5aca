/* Text helpers the commands share: addresses and JSON strings. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "common/text_fmt.h"

void cli_ip_str(const uint8_t *a, int version, char *out, size_t cap)
{
	if (!inet_ntop(version == 6 ? AF_INET6 : AF_INET, a, out, (socklen_t)cap))
		snprintf(out, cap, "?");
}

char *cli_ip_put(char *p, const uint8_t *a, int version)
{
	if (version == 4)
		return cf_fmt_ipv4(p, a);
	char s[INET6_ADDRSTRLEN];
	cli_ip_str(a, version, s, sizeof s);
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

void cli_json_str(FILE *o, const char *s)
{
	fputc('"', o);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(o, "\\%c", c);
		else if (c < 0x20)
			fprintf(o, "\\u%04x", c);
		else
			fputc(c, o);
	}
	fputc('"', o);
}
