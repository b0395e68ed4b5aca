/* Text helpers the commands share: addresses, flow identity rows, JSON strings. */
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
	return cli_str_put(p, s);
}

char *cli_str_put(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

char *cli_flow_ident_put(char *p, const cf_flow_record *r)
{
	p = cf_fmt_u64(p, r->id);
	*p++ = ',';
	p = cli_str_put(p, cf_flow_end_name(r->end_reason));
	*p++ = ',';
	p = cli_ip_put(p, r->src_ip, r->ip_version);
	*p++ = ',';
	p = cli_ip_put(p, r->dst_ip, r->ip_version);
	const uint32_t u[6] = {r->src_port, r->dst_port, r->proto, r->ip_version, r->vlan_id, r->tunnel_id};
	for (int k = 0; k < 6; k++) {
		*p++ = ',';
		p = cf_fmt_u64(p, u[k]);
	}
	return p;
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
