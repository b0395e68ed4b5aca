/*
 * The formats registered in host/sink/sink.c; one file each.
 */
#ifndef CUFLOW_SINK_INTERNAL_H
#define CUFLOW_SINK_INTERNAL_H

#include "cuflow/sink.h"

extern const cf_sink_ops cf_sink_parquet;  /* host/sink/parquet.c */
extern const cf_sink_ops cf_sink_csv;      /* host/sink/csv.c */

#endif
