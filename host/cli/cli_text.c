/* Text helpers the commands share: addresses, JSON strings, CSV fields. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

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

void cli_csv_field(FILE *o, const char *v)
{
	if (!strpbrk(v, ",\"\r\n")) {
		fputs(v, o);
		return;
	}
	fputc('"', o);
	for (; *v; v++) {
		if (*v == '"')
			fputc('"', o);
		fputc(*v, o);
	}
	fputc('"', o);
}
