/* The producer registry and cf_producer_scan_file (cuflow/producer.h). */
#include <stdio.h>
#include <string.h>

#include "cuflow/producers.h"
#include "cuflow/iot.h"

typedef const cf_producer_ops *(*getter)(void);

/* Register a new producer here, once. */
static const getter builtins[] = {cf_producer_flows, cf_producer_features, cf_producer_netml, cf_producer_flowpic,
                                  cf_producer_summary, cf_producer_windows, cf_producer_sessions};

uint32_t cf_producer_count(void)
{
	return (uint32_t)(sizeof builtins / sizeof builtins[0]);
}

const cf_producer_ops *cf_producer_at(uint32_t i)
{
	return i < cf_producer_count() ? builtins[i]() : NULL;
}

const cf_producer_ops *cf_producer_find(const char *name)
{
	for (uint32_t i = 0; name && i < cf_producer_count(); i++)
		if (!strcmp(builtins[i]()->name, name))
			return builtins[i]();
	return NULL;
}

int cf_producer_scan_file(const cf_producer_ops *ops, void *state, const cf_producer_file *file,
                          const cf_scan_opts *opts, cf_scan_result *res, uint64_t *ids_used)
{
	uint64_t ids = 0;
	if (ids_used)
		*ids_used = 0;
	int st = ops->begin_file(state, file);
	if (st < 0) {
		memset(res, 0, sizeof *res);
		res->error_offset = -1;
		snprintf(res->error, sizeof res->error, "%s: %s", file->path, ops->error(state));
		return res->status = st;
	}
	cf_scan_opts so = *opts;
	if (ops->decode_opts)
		ops->decode_opts(state, &so.decode);
	so.on_packet = NULL;
	so.on_packets = ops->packets;
	so.on_packet_user = state;
	so.on_frame = ops->flags & CF_PRODUCER_NEEDS_FRAMES ? ops->frame : NULL;
	cf_scan_file(file->path, &so, res);
	st = ops->end_file(state, res, &ids);
	if (ids_used)
		*ids_used = ids;
	return res->status < 0 ? res->status : st;
}
