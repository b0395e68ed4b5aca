/*
 * cuflow: packet-capture archives to flows, features and training tensors.
 *
 * This is the umbrella header of the public C API. Every public function
 * returns an int status: CF_OK (0) on success, a negative CF_ERR_* code on
 * failure, and a positive code for a non-error condition (CF_EOF). Functions
 * that have no handle yet take a caller-supplied error buffer of
 * CF_ERRBUF_SIZE bytes; handles keep their own last-error text.
 *
 * The library never calls exit() and never prints, except where a function
 * says so. Handles are opaque; whoever opens a handle closes it, and every
 * close/free function accepts NULL.
 */
#ifndef CUFLOW_CUFLOW_H
#define CUFLOW_CUFLOW_H

#include "cuflow/status.h"
#include "cuflow/packet.h"
#include "cuflow/reader.h"
#include "cuflow/decode.h"
#include "cuflow/backend.h"
#include "cuflow/scan.h"
#include "cuflow/synth.h"
#include "cuflow/flow.h"
#include "cuflow/npy.h"
#include "cuflow/label.h"
#include "cuflow/netml.h"
#include "cuflow/flowpic.h"
#include "cuflow/table.h"
#include "cuflow/sink.h"
#include "cuflow/flow_rows.h"
#include "cuflow/flow_text.h"
#include "cuflow/run.h"
#include "cuflow/feature_rows.h"
#include "cuflow/extract_out.h"
#include "cuflow/netml_table.h"
#include "cuflow/netml_out.h"
#include "cuflow/flowpic_index.h"
#include "cuflow/flowpic_out.h"
#include "cuflow/producer.h"
#include "cuflow/producers.h"
#include "cuflow/iot.h"
#include "cuflow/dataset.h"
#include "cuflow/arrow.h"

#endif
