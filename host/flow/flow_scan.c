/*
 * cf_flow_scan_file: the scan pipeline (host/scan/scan.c) with every
 * packet record also offered to a flow engine, through the pipeline's
 * per-packet hook.
 */
#include <stdio.h>
#include <string.h>

#include "cuflow/internal.h"
#include "cuflow/flow.h"

static int add_to_table(void *table, const cf_pkt *p, size_t n)
{
	return cf_flow_engine_add_batch(table, p, n);
}

int cf_flow_scan_file(const char *path, const cf_scan_opts *o, cf_flow_engine *t, cf_scan_result *res)
{
	if (!o || !t) {
		memset(res, 0, sizeof *res);
		res->error_offset = -1;
		cf_summary_clear(&res->summary);
		snprintf(res->error, sizeof res->error, "cf_flow_scan_file: no options or flow engine");
		return res->status = CF_ERR_ARG;
	}
	cf_scan_opts so = *o;
	so.on_packet = NULL;
	so.on_packets = add_to_table;
	so.on_packet_user = t;
	return cf_scan_file(path, &so, res);
}
