/* STUB: replaced by the real decoder. */
#include <string.h>
#include "cuflow/cuflow.h"
void cf_decode_opts_default(cf_decode_opts *o) { o->decap = CF_DECAP_ALL; o->max_depth = 4; }
int cf_decode_parse_decap(const char *list, uint32_t *decap, char *errbuf) { *decap = CF_DECAP_ALL; return CF_OK; }
int cf_decode_frame(const cf_decode_opts *opts, const cf_frame *f, cf_pkt *out)
{
	memset(out, 0, sizeof *out);
	out->ts_ns = f->ts_ns; out->caplen = f->caplen; out->wirelen = f->wirelen; out->linktype = (uint16_t)f->linktype;
	out->skip = CF_SKIP_UNKNOWN_LINKTYPE;
	return out->skip;
}
const char *cf_skip_name(int s) { return "stub"; }
const char *cf_tunnel_name(int t) { return "stub"; }
