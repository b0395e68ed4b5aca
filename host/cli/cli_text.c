/* Text helpers the commands share: addresses and JSON strings. */
#include <arpa/inet.h>
#include <stdio.h>

#include "cli.h"

void cli_ip_str(const uint8_t *a, int version, char *out, size_t cap)
{
	if (!inet_ntop(version == 6 ? AF_INET6 : AF_INET, a, out, (socklen_t)cap))
		snprintf(out, cap, "?");
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
